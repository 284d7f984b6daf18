#!/usr/bin/env python3
"""A gRPC server and client for the traffic-policy tests (Python grpcio, generic handlers, raw bytes).

server NAME [--port P]   methods of test.Echo: Unary and Other answer "NAME:<request>", Slow answers after 2 s.
                         Prints "LISTENING <port>"; GET-free: /_stats is not gRPC, so the count is printed on
                         request by the Stats method ("requests=N").
client TARGET AUTHORITY METHOD N [--timeout SECONDS]
                         N calls of /test.Echo/METHOD through TARGET (host:port) with :authority AUTHORITY; prints
                         "RESULT ok=<n> by=<NAME>:<n>,... codes=<StatusCode>:<n>,... max_ms=<slowest call>"
"""
import argparse, sys, threading, time
from collections import Counter
from concurrent import futures
import grpc

identity = lambda x: x


def serve(name, port):
    count = [0]
    lock = threading.Lock()

    def counted(handler):
        def wrapped(request, context):
            with lock:
                count[0] += 1
            return handler(request, context)
        return wrapped

    def answer(request, context):
        return name.encode() + b":" + request

    def slow(request, context):
        time.sleep(2)
        return name.encode() + b":slow"

    def stats(request, context):
        with lock:
            return b"requests=%d" % count[0]

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(counted(answer), identity, identity),
        "Other": grpc.unary_unary_rpc_method_handler(counted(answer), identity, identity),
        "Slow": grpc.unary_unary_rpc_method_handler(counted(slow), identity, identity),
        "Stats": grpc.unary_unary_rpc_method_handler(stats, identity, identity),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Echo", handlers),))
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print("LISTENING", bound, flush=True)
    server.wait_for_termination()


def client(target, authority, method, n, timeout):
    channel = grpc.insecure_channel(target, options=[("grpc.default_authority", authority)])
    grpc.channel_ready_future(channel).result(timeout=10)
    call = channel.unary_unary(f"/test.Echo/{method}", identity, identity)
    by, codes = Counter(), Counter()
    slowest = 0.0
    for i in range(n):
        started = time.monotonic()
        try:
            reply = call(f"m{i}".encode(), timeout=timeout)
            by[reply.split(b":")[0].decode()] += 1
            codes["OK"] += 1
        except grpc.RpcError as error:
            codes[error.code().name] += 1
        slowest = max(slowest, (time.monotonic() - started) * 1000)
    fmt = lambda c: ",".join(f"{k}:{v}" for k, v in sorted(c.items())) or "-"
    print(f"RESULT ok={codes['OK']} by={fmt(by)} codes={fmt(codes)} max_ms={slowest:.1f}", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        parser = argparse.ArgumentParser()
        parser.add_argument("mode")
        parser.add_argument("name")
        parser.add_argument("--port", type=int, default=0)
        args = parser.parse_args()
        serve(args.name, args.port)
    else:
        parser = argparse.ArgumentParser()
        parser.add_argument("mode")
        parser.add_argument("target")
        parser.add_argument("authority")
        parser.add_argument("method")
        parser.add_argument("n", type=int)
        parser.add_argument("--timeout", type=float, default=10)
        args = parser.parse_args()
        client(args.target, args.authority, args.method, args.n, args.timeout)
