#!/usr/bin/env python3
"""Clients that hold a proxy's connections, for its timeout and memory tests.

  slow_clients.py trickle PORT N INTERVAL MAX   N connections send a request line, then one header byte every
                                                INTERVAL seconds; prints "CLOSED <n> <seconds>" once the proxy closed
                                                them (or MAX seconds passed), then the first answer any got.
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
    else:
        hold(int(sys.argv[2]), int(sys.argv[3]))
