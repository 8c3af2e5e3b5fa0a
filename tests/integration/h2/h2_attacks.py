#!/usr/bin/python3
"""The HTTP/2 attacks of recent years against canaryd, one per command, for its tests.

  h2_attacks.py PORT rapid-reset|continuation-flood|ping-flood|settings-flood|too-many-streams
  h2_attacks.py PORT slow-reader SECONDS

Prints what the server did: "goaway <error code name>", "closed" (no GOAWAY seen), or
"survived" (the connection still answers a request afterwards), then "requests <n>" where
relevant. Never raises on the server's reaction.
"""
import socket
import struct
import sys
import time

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def read_outcome(sock, seconds=5.0):
    """Reads raw frames until GOAWAY or close; returns the outcome."""
    sock.settimeout(0.5)
    buffer = b""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return "closed"
        if not data:
            return "closed"
        buffer += data
        while len(buffer) >= 9:
            length = int.from_bytes(buffer[0:3], "big")
            if len(buffer) < 9 + length:
                break
            kind = buffer[3]
            payload = buffer[9:9 + length]
            buffer = buffer[9 + length:]
            if kind == 0x7:  # GOAWAY
                code = int.from_bytes(payload[4:8], "big")
                try:
                    name = h2.errors.ErrorCodes(code).name
                except ValueError:
                    name = str(code)
                return "goaway " + name
    return "survived"


def connect(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(PREFACE + frame(0x4, 0, 0, b""))
    return sock


def request_headers(encoder, path="/"):
    return encoder.encode([(":method", "GET"), (":path", path), (":scheme", "http"), (":authority", "a")])


def rapid_reset(port):
    sock = connect(port)
    encoder = hpack.Encoder()
    stream = 1
    sent = b""
    # Open and reset at once, far beyond any client's need.
    for _ in range(2000):
        sent += frame(0x1, 0x4 | 0x1, stream, request_headers(encoder))  # HEADERS, END_HEADERS|END_STREAM
        sent += frame(0x3, 0, stream, struct.pack(">I", 0x8))            # RST_STREAM CANCEL
        stream += 2
        if len(sent) > 32768:
            try:
                sock.sendall(sent)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent = b""
    try:
        sock.sendall(sent)
    except (BrokenPipeError, ConnectionResetError):
        pass
    print(read_outcome(sock))


def continuation_flood(port):
    sock = connect(port)
    encoder = hpack.Encoder()
    sock.sendall(frame(0x1, 0x1, 1, request_headers(encoder)))  # HEADERS without END_HEADERS
    try:
        for i in range(200):
            sock.sendall(frame(0x9, 0, 1, encoder.encode([("x-%d" % i, "y")])))  # CONTINUATION
    except (BrokenPipeError, ConnectionResetError):
        pass
    print(read_outcome(sock))


def ping_flood(port):
    sock = connect(port)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    payload = b"12345678"
    try:
        # Never reading the acknowledgements: the server must not queue them without bound.
        for _ in range(3000):
            sock.sendall(frame(0x6, 0, 0, payload) * 100)
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    print(read_outcome(sock, seconds=10))


def settings_flood(port):
    sock = connect(port)
    # One SETTINGS frame with far more entries than any peer needs.
    entries = b"".join(struct.pack(">HI", 0x3, 100) for _ in range(100))
    sock.sendall(frame(0x4, 0, 0, entries))
    print(read_outcome(sock))


def too_many_streams(port):
    """150 streams at once where the server advertised 100: the ones beyond are refused
    (RST_STREAM), the connection lives. Prints "refused <n> answered <n>"."""
    sock = connect(port)
    encoder = hpack.Encoder()
    sock.sendall(b"".join(frame(0x1, 0x4 | 0x1, 1 + 2 * i, request_headers(encoder, "/%d" % i)) for i in range(150)))
    sock.settimeout(5)
    refused, answered, buffer = 0, 0, b""
    deadline = time.time() + 20
    while refused + answered < 150 and time.time() < deadline:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        if not data:
            break
        buffer += data
        while len(buffer) >= 9:
            length = int.from_bytes(buffer[0:3], "big")
            if len(buffer) < 9 + length:
                break
            kind, flags = buffer[3], buffer[4]
            buffer = buffer[9 + length:]
            if kind == 0x3:
                refused += 1
            elif kind in (0x0, 0x1) and flags & 0x1:  # DATA or HEADERS ending a stream
                answered += 1
            elif kind == 0x4 and not flags & 0x1:
                sock.sendall(frame(0x4, 0x1, 0, b""))  # ACK the server's SETTINGS
    print("refused", refused, "answered", answered)


def slow_reader(port, seconds):
    """One GET whose response is never read (the window stays at 64 KiB); holds the
    connection open for SECONDS, then prints how many body bytes arrived."""
    sock = connect(port)
    encoder = hpack.Encoder()
    sock.sendall(frame(0x1, 0x4 | 0x1, 1, request_headers(encoder, "/big")))
    time.sleep(seconds)
    sock.settimeout(1)
    received = 0
    try:
        while True:
            data = sock.recv(1 << 20)
            if not data:
                break
            received += len(data)
    except socket.timeout:
        pass
    print("received", received)


if __name__ == "__main__":
    port = int(sys.argv[1])
    if sys.argv[2] == "slow-reader":
        slow_reader(port, float(sys.argv[3]))
    else:
        {"rapid-reset": rapid_reset, "continuation-flood": continuation_flood, "ping-flood": ping_flood,
         "settings-flood": settings_flood, "too-many-streams": too_many_streams}[sys.argv[2]](port)
