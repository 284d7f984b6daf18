#!/usr/bin/env python3
"""The Gateway API conformance suite's echo backend, as the mesh cases use it, translated to local mode.

  mesh_echo.py POD NAMESPACE [--port P]

Every request is answered 200 with JSON saying who served it and what it saw: {"pod", "namespace", "path", "host",
"method", "headers"} (the suite's `Backend`/`Namespace` expectations read `pod` and `namespace`).

The retry simulation of the conformance retry tests: a request with `uuid=U` and `succeedAfter=N` in its query fails
the first N times it comes with that uuid — answered with `responseCode` when given, else its connection is reset
(what HTTPRouteRetryConnectionError sends) — and succeeds after.

Prints "LISTENING <port>" once bound.
"""
import argparse, json, socket, struct, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

parser = argparse.ArgumentParser()
parser.add_argument("pod")
parser.add_argument("namespace")
parser.add_argument("--port", type=int, default=0)
args = parser.parse_args()
seen = {}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if "succeedAfter" in query and "uuid" in query:
            with lock:
                count = seen.get(query["uuid"], 0) + 1
                seen[query["uuid"]] = count
            if count <= int(query["succeedAfter"]):
                if "responseCode" in query:
                    body = b"failing as asked\n"
                    self.send_response(int(query["responseCode"]))
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                # A reset, not a close: SO_LINGER with a zero timeout sends RST.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                return
        body = json.dumps({"pod": args.pod, "namespace": args.namespace, "path": self.path, "host": self.headers.get("Host", ""),
                           "method": self.command, "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
server.daemon_threads = True
print(f"LISTENING {server.server_address[1]}", flush=True)
server.serve_forever()
