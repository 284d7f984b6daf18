#!/usr/bin/env python3
"""A WebSocket client: handshake through the proxy, send masked text frames, expect them echoed."""
import base64, os, socket, sys

host, port = sys.argv[1], int(sys.argv[2])
sock = socket.create_connection((host, port), timeout=10)
key = base64.b64encode(os.urandom(16)).decode()
sock.sendall((f"GET /ws HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
head = b""
while b"\r\n\r\n" not in head:
    piece = sock.recv(1)
    if not piece:
        sys.exit("closed during handshake")
    head += piece
status = head.split(b"\r\n")[0]
if b" 101 " not in status + b" ":
    sys.exit(f"no 101: {status!r}")

def send(text):
    payload = text.encode()
    mask = os.urandom(4)
    frame = bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(frame)

def receive():
    header = sock.recv(2, socket.MSG_WAITALL)
    length = header[1] & 0x7F
    return sock.recv(length, socket.MSG_WAITALL).decode()

for message in ["hello", "through", "the mesh"]:
    send(message)
    echoed = receive()
    if echoed != message:
        sys.exit(f"echo mismatch: {echoed!r} != {message!r}")
sock.sendall(bytes([0x88, 0x80]) + os.urandom(4))
print("ECHOED 3")
