#!/usr/bin/env python3
"""An HTTP/1.1 upstream for the traffic-policy tests: it fails, hangs and counts on command.

Arguments: NAME [--port P] [--fail-rate F] [--status S] [--delay MS] [--delays MS,MS,...]
  NAME         said in every answer (`x-served-by: NAME`, body "NAME <method> <path>")
  --fail-rate  a fraction of requests answered 500 (drawn at random)
  --status     every request answered with this status (overrides --fail-rate)
  --delay      every answer waits MS milliseconds first
  --delays     the n-th request waits the n-th of these (cycled; overrides --delay): N requests in a row, for N
               the list's length, wait exactly the list — a known latency distribution

GET  /_stats             "requests=N" (requests served other than /_stats and /_control), never failed
POST /_control?fail-rate=F&status=S&delay=MS   changes the behaviour (omitted keys keep theirs; status=0 clears)
POST /digest             answers "NAME <length> <sha256 of the body>"
GET  /headers            answers with the request line and headers as text
Prints "LISTENING <port>" once bound.
"""
import argparse, hashlib, random, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

parser = argparse.ArgumentParser()
parser.add_argument("name")
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--fail-rate", type=float, default=0.0)
parser.add_argument("--status", type=int, default=0)
parser.add_argument("--delay", type=int, default=0)
parser.add_argument("--delays", type=lambda text: [float(ms) for ms in text.split(",")], default=[])
args = parser.parse_args()

state = {"fail_rate": args.fail_rate, "status": args.status, "delay": args.delay, "requests": 0}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One write per response (headers and body together), sent at once: no Nagle and delayed-ACK stalls.
    wbufsize = 65536
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-served-by", args.name)
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        length = int(self.headers.get("Content-Length", "0") or "0")
        return self.rfile.read(length) if length else b""

    def handle_any(self):
        url = urlsplit(self.path)
        data = self.body()
        if url.path == "/_stats":
            with lock:
                return self.reply(200, b"requests=%d\n" % state["requests"])
        if url.path == "/_control":
            query = parse_qs(url.query)
            with lock:
                if "fail-rate" in query:
                    state["fail_rate"] = float(query["fail-rate"][0])
                if "status" in query:
                    state["status"] = int(query["status"][0])
                if "delay" in query:
                    state["delay"] = int(query["delay"][0])
            return self.reply(200, b"ok\n")
        with lock:
            state["requests"] += 1
            status, fail_rate, delay = state["status"], state["fail_rate"], state["delay"]
            if args.delays:
                delay = args.delays[(state["requests"] - 1) % len(args.delays)]
        if delay:
            time.sleep(delay / 1000)
        if status:
            return self.reply(status, b"%s %d\n" % (args.name.encode(), status))
        if fail_rate and random.random() < fail_rate:
            return self.reply(500, b"%s failed\n" % args.name.encode())
        if url.path == "/digest":
            return self.reply(200, b"%s %d %s\n" % (args.name.encode(), len(data), hashlib.sha256(data).hexdigest().encode()))
        if url.path == "/headers":
            text = f"{self.command} {self.path}\n" + "".join(f"{k.lower()}: {v}\n" for k, v in self.headers.items())
            return self.reply(200, text.encode())
        self.reply(200, f"{args.name} {self.command} {self.path}\n".encode())

    do_GET = do_POST = do_PUT = do_DELETE = handle_any


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
server.daemon_threads = True
print("LISTENING %d" % server.server_address[1], flush=True)
server.serve_forever()
