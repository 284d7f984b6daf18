#!/usr/bin/env python3
"""TCP peers for the opaque relay tests.

echo:   reads until the client half-closes, then writes everything back reversed and closes (needs half-close).
banner: speaks first: sends "BANNER\n" on accept, then echoes lines.
Prints "LISTENING <port>".
"""
import socket, sys, threading

mode = sys.argv[1]
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 0))
listener.listen(64)
print("LISTENING", listener.getsockname()[1], flush=True)

def serve(conn):
    with conn:
        if mode == "banner":
            conn.sendall(b"BANNER\n")
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(data)
        data = bytearray()
        while True:
            piece = conn.recv(65536)
            if not piece:
                break
            data += piece
        conn.sendall(bytes(reversed(data)))

while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
