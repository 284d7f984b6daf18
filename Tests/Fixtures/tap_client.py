"""A tap client with grpcio: `tap_client.py HOST:PORT '<ObserveRequest as JSON>' [--stop-reading-after N]`.

Prints `EVENT <json>` per TapEvent as it arrives, then `END <grpc status code name> <details>`. With
--stop-reading-after it reads N events and then stops reading (the stream stays open) until its stdin closes: a
consumer that fell behind.
"""
import sys

import grpc
from google.protobuf import json_format

from tap_codec import load, to_json

tap, tap_grpc = load()
target, request_json = sys.argv[1], sys.argv[2]
stop_after = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--stop-reading-after" else None
request = json_format.Parse(request_json, tap.ObserveRequest())
channel = grpc.insecure_channel(target)
stub = tap_grpc.TapStub(channel)
print("OPEN", flush=True)
try:
    read = 0
    for event in stub.Observe(request):
        print("EVENT " + to_json(event), flush=True)
        read += 1
        if stop_after is not None and read >= stop_after:
            print("STOPPED", flush=True)
            sys.stdin.read()
            sys.exit(0)
    print("END OK", flush=True)
except grpc.RpcError as error:
    print(f"END {error.code().name} {error.details()}", flush=True)
