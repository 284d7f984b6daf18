"""An independent codec for tap's messages: Python protobuf classes (and gRPC stubs) generated here, at test time,
from proto/swiftlet/tap/v1/tap.proto with grpcio-tools.

  tap_codec.py decode TapEvent      < hex lines   -> one JSON object per line (field names as in the .proto)
  tap_codec.py encode ObserveRequest '<json>'     -> the message's bytes, hex
"""
import importlib
import json
import os
import sys
import tempfile

import grpc_tools
from grpc_tools import protoc
from google.protobuf import json_format


def load():
    """The generated modules: (tap_pb2, tap_pb2_grpc)."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto")
    out = tempfile.mkdtemp(prefix="tap-codec-")
    includes = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    status = protoc.main(["protoc", f"-I{root}", f"-I{includes}", f"--python_out={out}", f"--grpc_python_out={out}",
                          "swiftlet/tap/v1/tap.proto"])
    if status != 0:
        sys.exit(f"protoc failed: {status}")
    sys.path.insert(0, out)
    return importlib.import_module("swiftlet.tap.v1.tap_pb2"), importlib.import_module("swiftlet.tap.v1.tap_pb2_grpc")


def to_json(message):
    return json.dumps(json_format.MessageToDict(message, preserving_proto_field_name=True), sort_keys=True)


if __name__ == "__main__":
    tap, _ = load()
    mode, name = sys.argv[1], sys.argv[2]
    if mode == "decode":
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            decoded = getattr(tap, name)()
            decoded.ParseFromString(bytes.fromhex(line))
            print(to_json(decoded), flush=True)
    elif mode == "encode":
        print(json_format.Parse(sys.argv[3], getattr(tap, name)()).SerializeToString().hex())
    else:
        sys.exit(f"unknown mode {mode}")
