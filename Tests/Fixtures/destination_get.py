"""Asks the Destination API for one authority with Python grpcio, as a tool outside the mesh would.

  destination_get.py HOST:PORT AUTHORITY plaintext
  destination_get.py HOST:PORT AUTHORITY tls SERVER_NAME ANCHORS_PEM [CERT_CHAIN_PEM KEY_PEM]

Prints `UPDATE <n bytes>` for the first update, or `ERROR <grpc status code>`; the request is hand-encoded (a
string in field 1), so no generated stubs are needed.
"""
import sys

import grpc


def main():
    target, authority, mode = sys.argv[1:4]
    if mode == "plaintext":
        channel = grpc.insecure_channel(target)
    else:
        server_name, anchors = sys.argv[4], open(sys.argv[5], "rb").read()
        chain = key = None
        if len(sys.argv) > 7:
            chain, key = open(sys.argv[6], "rb").read(), open(sys.argv[7], "rb").read()
        credentials = grpc.ssl_channel_credentials(root_certificates=anchors, private_key=key, certificate_chain=chain)
        channel = grpc.secure_channel(target, credentials, options=[("grpc.ssl_target_name_override", server_name)])
    encoded = authority.encode()
    request = b"\x0a" + bytes([len(encoded)]) + encoded
    call = channel.unary_stream("/swiftlet.destination.v1.Destination/Get", lambda x: x, lambda x: x)
    try:
        for update in call(request, timeout=5):
            print(f"UPDATE {len(update)}", flush=True)
            return
    except grpc.RpcError as error:
        print(f"ERROR {error.code().name} {error.details()}", flush=True)


main()
