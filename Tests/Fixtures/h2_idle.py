#!/usr/bin/env python3
"""An HTTP/2 client that opens a connection and sends no request.

  h2_idle.py PORT hold       connects (preface + SETTINGS), prints CONNECTED, then CLOSED when the server closes
  h2_idle.py PORT halfclose  connects, closes its sending side (FIN), prints CLOSED if the server then closes
                             within 10 s, TIMEOUT otherwise
"""
import socket, sys

port, mode = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
print("CONNECTED", flush=True)
if mode == "halfclose":
    s.shutdown(socket.SHUT_WR)
s.settimeout(10 if mode == "halfclose" else None)
try:
    while s.recv(65536):
        pass
    print("CLOSED", flush=True)
except socket.timeout:
    print("TIMEOUT", flush=True)
