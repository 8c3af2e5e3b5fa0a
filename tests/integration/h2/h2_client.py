#!/usr/bin/python3
"""A small HTTP/2 client over one h2c connection (prior knowledge), for canaryd's tests.

  h2_client.py PORT STREAMS [--pause-after K --resume-file PATH] [--big-first BYTES]

Sends STREAMS GET / requests one after another on ONE connection and prints, per stream,
"<index> <status> <body>". With --pause-after K it prints "paused" after stream K and waits
until PATH exists (the test changes something meanwhile), then goes on, still on the same
connection. With --big-first the first stream carries an x-big field of BYTES bytes.
"""
import argparse
import os
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("streams", type=int)
    parser.add_argument("--pause-after", type=int, default=-1)
    parser.add_argument("--resume-file", default="")
    parser.add_argument("--big-first", type=int, default=0)
    parser.add_argument("--concurrent", action="store_true",
                        help="open every stream at once, then read the answers")
    args = parser.parse_args()

    sock = socket.create_connection(("127.0.0.1", args.port), timeout=10)
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    if args.concurrent:
        return concurrent(sock, conn, args.streams)
    for index in range(args.streams):
        stream = conn.get_next_available_stream_id()
        fields = [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "a")]
        if index == 0 and args.big_first:
            fields.append(("x-big", "h" * args.big_first))
        conn.send_headers(stream, fields, end_stream=True)
        sock.sendall(conn.data_to_send())
        status, body, done = None, b"", False
        while not done:
            data = sock.recv(65536)
            if not data:
                print("closed", flush=True)
                return 1
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream:
                    status = dict(event.headers).get(b":status", b"?").decode()
                elif isinstance(event, h2.events.DataReceived) and event.stream_id == stream:
                    body += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, stream)
                elif isinstance(event, h2.events.StreamEnded) and event.stream_id == stream:
                    done = True
                elif isinstance(event, h2.events.StreamReset) and event.stream_id == stream:
                    status, done = "reset", True
            sock.sendall(conn.data_to_send())
        print(index, status, body.decode(errors="replace").strip(), flush=True)
        if index + 1 == args.pause_after:
            print("paused", flush=True)
            deadline = time.time() + 30
            while not os.path.exists(args.resume_file) and time.time() < deadline:
                time.sleep(0.01)
    conn.close_connection()
    sock.sendall(conn.data_to_send())
    sock.close()
    return 0


def concurrent(sock, conn, count):
    streams = {}
    for index in range(count):
        stream = conn.get_next_available_stream_id()
        conn.send_headers(stream, [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "a")],
                          end_stream=True)
        streams[stream] = [index, None, b""]
    sock.sendall(conn.data_to_send())
    done = set()
    while len(done) < count:
        data = sock.recv(65536)
        if not data:
            break
        for event in conn.receive_data(data):
            entry = streams.get(getattr(event, "stream_id", None))
            if isinstance(event, h2.events.ResponseReceived) and entry:
                entry[1] = dict(event.headers).get(b":status", b"?").decode()
            elif isinstance(event, h2.events.DataReceived) and entry:
                entry[2] += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded) and entry:
                done.add(event.stream_id)
            elif isinstance(event, h2.events.StreamReset) and entry:
                entry[1] = "reset"
                done.add(event.stream_id)
        sock.sendall(conn.data_to_send())
    for stream in sorted(streams):
        index, status, body = streams[stream]
        print(index, status or "none", body.decode(errors="replace").strip(), flush=True)
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
