#!/usr/bin/python3
"""An HTTP/2 (h2c, prior knowledge) upstream for canaryd's tests, on python3-h2.

  h2_server.py PORT_FILE NAME [--max-streams N] [--goaway-after N] [--delay-ms MS]

Listens on a free 127.0.0.1 port and writes it to PORT_FILE. Every stream is answered
200 with the body "NAME <method> <path> <request body length>" after DELAY. With
--goaway-after N a connection sends GOAWAY (NO_ERROR, last stream = the Nth) once it has seen
N streams, answers those and closes. Writes "connections <n> streams <n>" to PORT_FILE.stats
whenever they change.
"""
import argparse
import asyncio

import h2.config
import h2.connection
import h2.events
import h2.settings

stats = {"connections": 0, "streams": 0}


def write_stats(path):
    with open(path + ".tmp", "w") as f:
        f.write("connections %d streams %d\n" % (stats["connections"], stats["streams"]))
    import os
    os.replace(path + ".tmp", path)


async def serve(reader, writer, args):
    stats["connections"] += 1
    write_stats(args.port_file + ".stats")
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
    conn.local_settings = h2.settings.Settings(client=False, initial_values={
        h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: args.max_streams})
    conn.initiate_connection()
    writer.write(conn.data_to_send())
    requests = {}
    seen = 0
    pending = set()
    goaway_last = None  # after a GOAWAY: the last stream this connection still answers

    async def answer(stream_id, method, path, body):
        if args.delay_ms:
            await asyncio.sleep(args.delay_ms / 1000)
        data = ("%s %s %s %d" % (args.name, method, path, len(body))).encode()
        try:
            conn.send_headers(stream_id, [(":status", "200"), ("content-type", "text/plain"),
                                          ("x-upstream", args.name)])
            conn.send_data(stream_id, data, end_stream=True)
            writer.write(conn.data_to_send())
            await writer.drain()
        except Exception:
            pass

    while True:
        data = await reader.read(65536)
        if not data:
            break
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                if goaway_last is not None and event.stream_id > goaway_last:
                    continue  # refused by the GOAWAY: never answered
                headers = dict((k.decode(), v.decode()) for k, v in event.headers)
                requests[event.stream_id] = [headers.get(":method"), headers.get(":path"), b""]
                seen += 1
                stats["streams"] += 1
                write_stats(args.port_file + ".stats")
                if args.goaway_after and seen == args.goaway_after and goaway_last is None:
                    # A graceful GOAWAY (RFC 9113 §6.8), written as raw bytes: streams up to this
                    # one are still answered on this connection, later ones are not.
                    goaway_last = event.stream_id
                    writer.write(b"\x00\x00\x08\x07\x00\x00\x00\x00\x00" + goaway_last.to_bytes(4, "big") + b"\x00\x00\x00\x00")
            elif isinstance(event, h2.events.DataReceived):
                if event.stream_id in requests:
                    requests[event.stream_id][2] += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                if event.stream_id not in requests:
                    continue
                method, path, body = requests.pop(event.stream_id)
                task = asyncio.ensure_future(answer(event.stream_id, method, path, body))
                pending.add(task)
                task.add_done_callback(pending.discard)
        writer.write(conn.data_to_send())
        await writer.drain()
        # After a GOAWAY the client closes once it has its answers (RFC 9113 §6.8): closing
        # here with its later frames unread would reset the connection and lose answers.
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port_file")
    parser.add_argument("name")
    parser.add_argument("--max-streams", type=int, default=100)
    parser.add_argument("--goaway-after", type=int, default=0)
    parser.add_argument("--delay-ms", type=int, default=0)
    args = parser.parse_args()
    server = await asyncio.start_server(lambda r, w: serve(r, w, args), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(port))
    import os
    os.replace(args.port_file + ".tmp", args.port_file)
    write_stats(args.port_file + ".stats")
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
