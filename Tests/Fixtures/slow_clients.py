#!/usr/bin/env python3
"""Clients that hold a proxy's connections, for its timeout and memory tests.

  slow_clients.py trickle PORT N INTERVAL MAX   N connections send a request line, then one header byte every
                                                INTERVAL seconds; prints "CLOSED <n> <seconds>" once the proxy closed
                                                them (or MAX seconds passed), then the first answer any got.
  slow_clients.py preface PORT N MAX            N connections send HTTP/2's preface and SETTINGS, then nothing; prints
                                                "CLOSED <n> <seconds>" once the proxy closed them (or MAX seconds
                                                passed), and "GOAWAY <n>": how many got a GOAWAY first.
  slow_clients.py hold PORT N                   N connections opened at once and left idle; prints "HOLDING <n>",
                                                waits for a line on stdin, closes them all and prints "CLOSED".
"""
import selectors, socket, sys, time

def trickle(port, count, interval, limit):
    conns = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.setblocking(False)
        s.sendall(b"GET / HTTP/1.1\r\nHost: slow\r\n")
        conns.append(s)
    start = time.time()
    open_ = set(range(count))
    answer = b""
    while open_ and time.time() - start < limit:
        for i in list(open_):
            s = conns[i]
            try:
                data = s.recv(65536)
                if data:
                    answer = answer or data
                    continue
                open_.discard(i)
                continue
            except BlockingIOError:
                pass
            except OSError:
                open_.discard(i)
                continue
            try:
                s.send(b"x")
            except OSError:
                open_.discard(i)
        time.sleep(interval)
    print(f"CLOSED {count - len(open_)} {time.time() - start:.1f}", flush=True)
    print(answer.decode("latin-1").split("\r\n")[0] if answer else "NO ANSWER", flush=True)
    for s in conns:
        s.close()

def preface(port, count, limit):
    conns = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        s.setblocking(False)
        conns.append(s)
    start = time.time()
    open_ = set(range(count))
    received = [b""] * count
    while open_ and time.time() - start < limit:
        for i in list(open_):
            try:
                data = conns[i].recv(65536)
                if data:
                    received[i] += data
                    continue
                open_.discard(i)
            except BlockingIOError:
                pass
            except OSError:
                open_.discard(i)
        time.sleep(0.05)
    print(f"CLOSED {count - len(open_)} {time.time() - start:.1f}", flush=True)
    print(f"GOAWAY {sum(1 for data in received if goaway(data))}", flush=True)
    for s in conns:
        s.close()

def goaway(data):
    """Whether the frames in `data` (the server's, from its SETTINGS on) include a GOAWAY."""
    offset = 0
    while offset + 9 <= len(data):
        length = int.from_bytes(data[offset:offset + 3], "big")
        if data[offset + 3] == 0x7:
            return True
        offset += 9 + length
    return False

def hold(port, count):
    conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
    print(f"HOLDING {len(conns)}", flush=True)
    sys.stdin.readline()
    for s in conns:
        s.close()
    print("CLOSED", flush=True)
    sys.stdin.readline()

if __name__ == "__main__":
    if sys.argv[1] == "trickle":
        trickle(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
    elif sys.argv[1] == "preface":
        preface(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    else:
        hold(int(sys.argv[2]), int(sys.argv[3]))
