#!/usr/bin/env python3
"""Steady HTTP/1.1 load through a proxy, for discovery tests.

  load.py [HOST:]PORT AUTHORITY [PATH] [CONNECTIONS]

Each connection sends requests one after another (keep-alive) to HOST:PORT (127.0.0.1 by default) with
`Host: AUTHORITY`, until
stdin closes. Every 100 ms it prints `STATS ok=<n> failed=<n> by=<port>:<n>,...`, counting answers by their
`x-served-by` header; any status other than 200, or a connection error, is a failure (and is printed).
"""
import http.client, sys, threading, time

host, _, port = sys.argv[1].rpartition(":")
host, port, authority = host or "127.0.0.1", int(port), sys.argv[2]
path = sys.argv[3] if len(sys.argv) > 3 else "/"
connections = int(sys.argv[4]) if len(sys.argv) > 4 else 4
lock = threading.Lock()
ok, failed, by = 0, 0, {}
stop = threading.Event()

def worker():
    global ok, failed
    conn = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, port, timeout=10)
            conn.request("GET", path, headers={"Host": authority})
            response = conn.getresponse()
            response.read()
            served = response.getheader("x-served-by", "?")
            with lock:
                if response.status == 200:
                    ok += 1
                    by[served] = by.get(served, 0) + 1
                else:
                    failed += 1
                    print(f"FAILURE status={response.status} error={response.getheader('swiftlet-proxy-error')}", flush=True)
            if response.getheader("connection", "").lower() == "close":
                conn.close(); conn = None
        except Exception as error:
            with lock:
                failed += 1
            print(f"FAILURE {error!r}", flush=True)
            try:
                conn.close()
            except Exception:
                pass
            conn = None

threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
for t in threads:
    t.start()

def report():
    while not stop.is_set():
        with lock:
            counts = ",".join(f"{k}:{v}" for k, v in sorted(by.items()))
            print(f"STATS ok={ok} failed={failed} by={counts}", flush=True)
        time.sleep(0.1)

threading.Thread(target=report, daemon=True).start()
sys.stdin.read()
stop.set()
for t in threads:
    t.join(timeout=15)
with lock:
    counts = ",".join(f"{k}:{v}" for k, v in sorted(by.items()))
    print(f"FINAL ok={ok} failed={failed} by={counts}", flush=True)
