#!/usr/bin/env python3
"""A small HTTP/1.1 upstream for the proxy's tests.

GET  /bytes/N      streams N bytes (chunked unless ?length is given)
POST /count        reads the body in pieces and answers with its length and sha256
GET  /hang         never answers
GET  /ws           WebSocket echo (RFC 6455) after a 101
GET  /headers      answers with the request headers as text
GET  /close-next   answers, then meets the next request on the same connection with a close and no answer
                   (a keep-alive connection the server dropped just as the proxy reused it)
GET  /delay/MS     answers after MS milliseconds
GET  /status/N     answers with status N
GET|POST /fail-once/KEY   the first request for KEY gets a 503, later ones "ok /fail-once/KEY <body length>"
anything else      200 "ok <path>"
Every answer carries `x-served-by: <port>`.
Arguments: [port [address]]. Prints "LISTENING <port>" once bound.
"""
import base64, hashlib, socketserver, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = b"x" * 65536
FAILED = set()
FAILED_LOCK = threading.Lock()

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def dropped(self):
        if getattr(self, "close_next", False):
            self.close_connection = True
            return True
        return False

    def do_GET(self):
        if self.dropped():
            return
        path = self.path.split("?")[0]
        if path == "/close-next":
            self.close_next = True
        if path.startswith("/delay/"):
            time.sleep(int(path.split("/")[2]) / 1000)
            self.reply(200, b"ok\n")
            return
        if path.startswith("/status/"):
            self.reply(int(path.split("/")[2]), b"status\n")
            return
        if path.startswith("/bytes/"):
            total = int(path.split("/")[2])
            self.send_response(200)
            with_length = "length" in self.path
            if with_length:
                self.send_header("Content-Length", str(total))
            else:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            left = total
            while left > 0:
                piece = CHUNK[: min(left, len(CHUNK))]
                if with_length:
                    self.wfile.write(piece)
                else:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                left -= len(piece)
            if not with_length:
                self.wfile.write(b"0\r\n\r\n")
            return
        if path.startswith("/fail-once/"):
            return self.fail_once(b"")
        if path == "/hang":
            time.sleep(3600)
            return
        if path == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket()
        if path == "/headers":
            body = "".join(f"{k.lower()}: {v}\n" for k, v in self.headers.items()).encode()
            return self.reply(200, body)
        self.reply(200, b"ok " + path.encode())

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "1234")
        self.end_headers()

    def do_POST(self):
        if self.dropped():
            return
        if self.path.startswith("/fail-once/"):
            return self.fail_once(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        digest = hashlib.sha256()
        count = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                left = size
                while left:
                    data = self.rfile.read(min(left, 1 << 20))
                    digest.update(data); count += len(data); left -= len(data)
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left:
                data = self.rfile.read(min(left, 1 << 20))
                if not data:
                    break
                digest.update(data); count += len(data); left -= len(data)
        self.reply(200, f"{count} {digest.hexdigest()}\n".encode())

    def fail_once(self, body):
        with FAILED_LOCK:
            first = self.path not in FAILED
            FAILED.add(self.path)
        if first:
            return self.reply(503, b"failing once\n")
        self.reply(200, f"ok {self.path} {len(body)}".encode())

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("x-served-by", str(self.server.server_address[1]))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def websocket(self):
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        while True:
            header = self.rfile.read(2)
            if len(header) < 2:
                return
            opcode = header[0] & 0x0F
            length = header[1] & 0x7F
            if length == 126:
                length = int.from_bytes(self.rfile.read(2), "big")
            elif length == 127:
                length = int.from_bytes(self.rfile.read(8), "big")
            mask = self.rfile.read(4) if header[1] & 0x80 else b"\0\0\0\0"
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
            if opcode == 8:
                self.wfile.write(bytes([0x88, 0]))
                self.wfile.flush()
                return
            out = bytes([0x80 | opcode])
            if len(payload) < 126:
                out += bytes([len(payload)])
            else:
                out += bytes([126]) + len(payload).to_bytes(2, "big")
            self.wfile.write(out + payload)
            self.wfile.flush()

class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512

server = Server((sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Handler)
print("LISTENING", server.server_address[1], flush=True)
server.serve_forever()
