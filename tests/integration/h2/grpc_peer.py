#!/usr/bin/python3
"""gRPC servers and clients for canaryd's tests, on Debian's python3-grpcio (no protobuf:
messages are raw bytes through generic handlers).

  grpc_peer.py server PORT_FILE NAME [--fail-every N] [--delay-ms MS] [--tls CERT KEY]
  grpc_peer.py client PORT unary COUNT [--user USER] [--timeout S]
  grpc_peer.py client PORT stream
  grpc_peer.py client PORT bidi
  grpc_peer.py client PORT until-unavailable SECONDS

Server methods (service canaryd.Test): Echo (unary: "NAME:<request>"), Stream (server
streaming: five messages "NAME:<i>"), Bidi (each message echoed as "NAME:<message>"). Every
call gets initial metadata x-served-by: NAME and trailing metadata x-trailer: NAME; the
request's x-user-id is echoed as x-user-seen. With --fail-every N, every Nth Echo call ends
with UNAVAILABLE ("injected").

Clients print one line per call: "<status name> <response or ->", then for stream and bidi
"trailer <value>".
"""
import argparse
import os
import sys
import threading
import time
from concurrent import futures

import grpc


def serve(args):
    lock = threading.Lock()
    count = [0]

    def metadata(context):
        seen = dict(context.invocation_metadata()).get("x-user-id", "-")
        context.send_initial_metadata((("x-served-by", args.name), ("x-user-seen", seen)))
        context.set_trailing_metadata((("x-trailer", args.name),))

    def echo(request, context):
        metadata(context)
        if args.delay_ms:
            time.sleep(args.delay_ms / 1000)
        with lock:
            count[0] += 1
            n = count[0]
        if args.fail_every and n % args.fail_every == 0:
            context.abort(grpc.StatusCode.UNAVAILABLE, "injected")
        return args.name.encode() + b":" + request

    def stream(request, context):
        metadata(context)
        for i in range(5):
            yield ("%s:%d" % (args.name, i)).encode()

    def bidi(requests, context):
        metadata(context)
        for message in requests:
            yield args.name.encode() + b":" + message

    handler = grpc.method_handlers_generic_handler("canaryd.Test", {
        "Echo": grpc.unary_unary_rpc_method_handler(echo),
        "Stream": grpc.unary_stream_rpc_method_handler(stream),
        "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
    })
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    server.add_generic_rpc_handlers((handler,))
    if args.tls:
        with open(args.tls[0], "rb") as c, open(args.tls[1], "rb") as k:
            credentials = grpc.ssl_server_credentials(((k.read(), c.read()),))
        port = server.add_secure_port("127.0.0.1:0", credentials)  # h2 by ALPN only
    else:
        port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(port))
    os.replace(args.port_file + ".tmp", args.port_file)
    server.wait_for_termination()


def client(args):
    channel = grpc.insecure_channel("127.0.0.1:%d" % args.port)  # one HTTP/2 connection
    metadata = (("x-user-id", args.user),) if args.user else ()
    if args.mode in ("unary", "until-unavailable"):
        echo = channel.unary_unary("/canaryd.Test/Echo")
        deadline = time.time() + (float(args.count) if args.mode == "until-unavailable" else 1e9)
        calls = int(args.count) if args.mode == "unary" else 1 << 30
        for i in range(calls):
            try:
                response, call = echo.with_call(b"m%d" % i, metadata=metadata, timeout=args.timeout)
                served = dict(call.initial_metadata()).get("x-served-by", "?")
                user = dict(call.initial_metadata()).get("x-user-seen", "?")
                trailer = dict(call.trailing_metadata()).get("x-trailer", "?")
                print("OK", response.decode(), served, user, trailer, flush=True)
            except grpc.RpcError as e:
                print(e.code().name, (e.details() or "-").replace(" ", "_"), flush=True)
                if args.mode == "until-unavailable" and e.code() == grpc.StatusCode.UNAVAILABLE:
                    pass
            if args.mode == "until-unavailable" and time.time() > deadline:
                break
            if args.pace_ms:
                time.sleep(args.pace_ms / 1000)
    elif args.mode == "stream":
        call = channel.unary_stream("/canaryd.Test/Stream")(b"go", metadata=metadata, timeout=args.timeout)
        for message in call:
            print("OK", message.decode(), flush=True)
        print("trailer", dict(call.trailing_metadata()).get("x-trailer", "?"), call.code().name, flush=True)
    elif args.mode == "bidi":
        call = channel.stream_stream("/canaryd.Test/Bidi")(iter([b"a", b"b", b"c"]), metadata=metadata,
                                                           timeout=args.timeout)
        for message in call:
            print("OK", message.decode(), flush=True)
        print("trailer", dict(call.trailing_metadata()).get("x-trailer", "?"), call.code().name, flush=True)
    channel.close()


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="role", required=True)
    s = sub.add_parser("server")
    s.add_argument("port_file")
    s.add_argument("name")
    s.add_argument("--fail-every", type=int, default=0)
    s.add_argument("--delay-ms", type=int, default=0)
    s.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    c = sub.add_parser("client")
    c.add_argument("port", type=int)
    c.add_argument("mode", choices=["unary", "stream", "bidi", "until-unavailable"])
    c.add_argument("count", nargs="?", default="1")
    c.add_argument("--user", default="")
    c.add_argument("--timeout", type=float, default=10)
    c.add_argument("--pace-ms", type=int, default=0)
    args = parser.parse_args()
    return serve(args) if args.role == "server" else client(args)


if __name__ == "__main__":
    sys.exit(main() or 0)
