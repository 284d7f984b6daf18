"""A tap client with grpcio: `tap_client.py HOST:PORT '<ObserveRequest as JSON>' [--stop-reading-after N]
[--tls CA LEAF CHAIN KEY SERVER_NAME] [--quiet]` (mTLS: the anchors, our certificate, its chain and key, and the proxy's
identity as the server name).

Prints `EVENT <json>` per TapEvent as it arrives, then `END <grpc status code name> <details>`. With
--stop-reading-after it reads N events and then stops reading (the stream stays open) until its stdin closes: a
consumer that fell behind. With --quiet it prints no events, only `READ <n>` every thousand (a consumer
that costs its own core little).
"""
import sys

import grpc
from google.protobuf import json_format

from tap_codec import load, to_json

tap, tap_grpc = load()
target, request_json = sys.argv[1], sys.argv[2]
options = sys.argv[3:]
stop_after = None
tls = None
quiet = False
while options:
    if options[0] == "--stop-reading-after":
        stop_after, options = int(options[1]), options[2:]
    elif options[0] == "--quiet":
        quiet, options = True, options[1:]
    elif options[0] == "--tls":
        tls, options = options[1:6], options[6:]
    else:
        sys.exit(f"unknown option {options[0]}")
request = json_format.Parse(request_json, tap.ObserveRequest())
if tls:
    ca, leaf, chain, key, server_name = tls
    read = lambda path: open(path, "rb").read()
    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(ca), private_key=read(key), certificate_chain=read(leaf) + read(chain))
    channel = grpc.secure_channel(target, credentials, options=[("grpc.ssl_target_name_override", server_name)])
else:
    channel = grpc.insecure_channel(target)
stub = tap_grpc.TapStub(channel)
print("OPEN", flush=True)
try:
    read = 0
    for event in stub.Observe(request):
        read += 1
        if not quiet:
            print("EVENT " + to_json(event), flush=True)
        elif read % 1000 == 0:
            print(f"READ {read}", flush=True)
        if stop_after is not None and read >= stop_after:
            print("STOPPED", flush=True)
            sys.stdin.read()
            sys.exit(0)
    print("END OK", flush=True)
except grpc.RpcError as error:
    print(f"END {error.code().name} {error.details()}", flush=True)
