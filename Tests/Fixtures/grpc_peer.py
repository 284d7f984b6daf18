#!/usr/bin/env python3
"""A gRPC server and client (Python grpcio, generic handlers, raw bytes: no generated code needed).

server [port]                 -> prints LISTENING <port>
client <target> <scenario>    -> unary | server-stream | bidi | fail; prints OK on success
"""
import sys
from concurrent import futures
import grpc

def identity(x):
    return x

def unary(request, context):
    return b"echo:" + request

def server_stream(request, context):
    for i in range(int(request.decode())):
        yield f"item-{i}".encode()

def bidi(requests, context):
    for request in requests:
        yield request.upper()

def fail(request, context):
    context.abort(grpc.StatusCode.UNAVAILABLE, "deliberately unavailable")

def serve(port):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary, identity, identity),
        "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream, identity, identity),
        "Bidi": grpc.stream_stream_rpc_method_handler(bidi, identity, identity),
        "Fail": grpc.unary_unary_rpc_method_handler(fail, identity, identity),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Echo", handlers),))
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print("LISTENING", bound, flush=True)
    server.wait_for_termination()

def client(target, scenario):
    channel = grpc.insecure_channel(target, options=[("grpc.default_authority", "grpc.test:50051")])
    grpc.channel_ready_future(channel).result(timeout=10)
    if scenario == "unary":
        call = channel.unary_unary("/test.Echo/Unary", identity, identity)
        for i in range(20):
            assert call(f"m{i}".encode(), timeout=10) == f"echo:m{i}".encode()
    elif scenario == "server-stream":
        call = channel.unary_stream("/test.Echo/ServerStream", identity, identity)
        items = list(call(b"500", timeout=20))
        assert items == [f"item-{i}".encode() for i in range(500)], len(items)
    elif scenario == "bidi":
        call = channel.stream_stream("/test.Echo/Bidi", identity, identity)
        sent = [f"word{i}".encode() for i in range(200)]
        got = list(call(iter(sent), timeout=20))
        assert got == [s.upper() for s in sent], len(got)
    elif scenario == "fail":
        call = channel.unary_unary("/test.Echo/Fail", identity, identity)
        try:
            call(b"x", timeout=10)
            sys.exit("expected UNAVAILABLE")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNAVAILABLE, error.code()
            assert error.details() == "deliberately unavailable", error.details()
    print("OK", scenario)

if __name__ == "__main__":
    if sys.argv[1] == "server":
        serve(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    else:
        client(sys.argv[2], sys.argv[3])
