#!/usr/bin/env python3
"""Sends N requests through a proxy on keep-alive connections and counts what came back.

Arguments: PORT AUTHORITY PATH N [--method M] [--header NAME:VALUE ...] [--body-bytes B] [--connections C] [--rate R]
(--rate: requests a second in all, spread evenly; unpaced without it)
Prints one line: "RESULT total=N ok=<2xx> elapsed_ms=<ms> status=200:n,500:n by=<x-served-by>:n,...
 error=<swiftlet-proxy-error prefix>:n,... max_ms=<slowest request> p50_ms=… p95_ms=… p99_ms=…" (the quantiles of the
answered requests' latencies: the smallest with at least that share of them at or below it) — and FAILURE lines for
transport errors.
"""
import argparse, hashlib, http.client, os, threading, time
from collections import Counter

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("authority")
parser.add_argument("path")
parser.add_argument("count", type=int)
parser.add_argument("--method", default="GET")
parser.add_argument("--header", action="append", default=[])
parser.add_argument("--body-bytes", type=int, default=0)
parser.add_argument("--connections", type=int, default=4)
parser.add_argument("--rate", type=float, default=0)
args = parser.parse_args()

body = os.urandom(args.body_bytes) if args.body_bytes else None
headers = {"Host": args.authority}
for pair in args.header:
    name, value = pair.split(":", 1)
    headers[name] = value
statuses, served, errors, transport = Counter(), Counter(), Counter(), Counter()
lock = threading.Lock()
slowest = [0.0]
latencies = []
digest = hashlib.sha256(body).hexdigest() if body else None
mismatched = [0]


def worker(n):
    connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
    interval = args.connections / args.rate if args.rate else 0
    due = time.monotonic()
    for _ in range(n):
        if interval:
            due += interval
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        started = time.monotonic()
        try:
            connection.request(args.method, args.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except Exception as error:
            with lock:
                transport[type(error).__name__] += 1
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
            continue
        took = (time.monotonic() - started) * 1000
        with lock:
            statuses[response.status] += 1
            served[response.getheader("x-served-by", "-")] += 1
            error = response.getheader("swiftlet-proxy-error")
            if error:
                errors[error.split(":")[0]] += 1
            slowest[0] = max(slowest[0], took)
            latencies.append(took)
            if digest and response.status == 200 and args.path == "/digest" and digest.encode() not in data:
                mismatched[0] += 1
    connection.close()


started = time.monotonic()
threads = []
per = args.count // args.connections
for index in range(args.connections):
    n = per + (1 if index < args.count % args.connections else 0)
    thread = threading.Thread(target=worker, args=(n,))
    thread.start()
    threads.append(thread)
for thread in threads:
    thread.join()
elapsed = (time.monotonic() - started) * 1000
ok = sum(n for status, n in statuses.items() if 200 <= status < 300)
latencies.sort()
quantile = lambda q: latencies[max(-(-int(q * 1000) * len(latencies) // 1000) - 1, 0)] if latencies else 0.0
fmt = lambda counter: ",".join(f"{k}:{v}" for k, v in sorted(counter.items(), key=lambda kv: str(kv[0]))) or "-"
print(
    f"RESULT total={args.count} ok={ok} elapsed_ms={elapsed:.0f} status={fmt(statuses)} by={fmt(served)} "
    f"error={fmt(errors)} transport={fmt(transport)} max_ms={slowest[0]:.1f} digest_mismatch={mismatched[0]} "
    f"p50_ms={quantile(0.5):.2f} p95_ms={quantile(0.95):.2f} p99_ms={quantile(0.99):.2f}",
    flush=True,
)
