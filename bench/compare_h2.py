#!/usr/bin/env python3
"""HTTP/2 clients: canaryd vs HAProxy vs NGINX, each at its defaults (only the worker count
set), h2c by prior knowledge, the same 90/10 split to the same nginx backends (HTTP/1.1
upstreams, as compare.py), load from h2load at 1 and 100 concurrent streams per connection,
interleaved rounds. Prints req/s, the proxy's absolute CPU per request and the backend's CPU
per request (the validity check: the backend does the same work behind every proxy, or the
round is marked INVALID), and canaryd's CPU ratio to HAProxy in the same rounds.

  python3 bench/compare_h2.py --canaryd build-release/canaryd [--rounds 3] [--duration 8]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (the HTTP/1.1 bench: processes, backends, CPU accounting)

CONNECTIONS = 4


def run_h2load(port, streams, seconds):
    out = subprocess.run(["h2load", "-t1", f"-c{CONNECTIONS}", f"-m{streams}", f"-D{seconds}", "--warm-up-time=1",
                          f"http://127.0.0.1:{port}/"], capture_output=True, text=True).stdout
    done = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed", out)
    rps = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    mean = re.search(r"time for request:\s+\S+\s+\S+\s+(\S+)", out)
    if not done or not rps:
        raise RuntimeError("h2load output not understood:\n" + out)
    return {"requests": int(done.group(4)), "failed": int(done.group(5)), "rps": float(rps.group(1)),
            "mean_us": compare.parse_duration_us(mean.group(1)) if mean else None}


def start_haproxy_h2(workdir, port, stable_port, canary_port, threads):
    conf = os.path.join(workdir, "haproxy-h2.cfg")
    with open(conf, "w") as f:
        f.write(f"""global
    nbthread {threads}
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option http-keep-alive
    http-reuse always
frontend front
    bind 127.0.0.1:{port} proto h2
    default_backend back
backend back
    balance roundrobin
    server stable 127.0.0.1:{stable_port} weight 90
    server canary 127.0.0.1:{canary_port} weight 10
""")
    return compare.Process("haproxy", ["haproxy", "-f", conf, "-db"], port, workdir)


def start_nginx_h2(workdir, port, stable_port, canary_port, threads):
    conf = compare.nginx_conf(workdir, "proxy-h2", f"""
    upstream back {{
        server 127.0.0.1:{stable_port} weight=9;
        server 127.0.0.1:{canary_port} weight=1;
        keepalive 256;
    }}
    server {{
        listen 127.0.0.1:{port} http2;
        location / {{
            proxy_pass http://back;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}""", workers=threads)
    return compare.Process("nginx", ["nginx", "-c", conf, "-p", workdir], port, workdir)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--canaryd", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default="bench/results/compare-h2.json")
    args = parser.parse_args()
    starters = {
        "canaryd": lambda w, p, s, c: compare.start_canaryd(args.canaryd, w, p, s, c, args.threads),
        "haproxy": lambda w, p, s, c: start_haproxy_h2(w, p, s, c, args.threads),
        "nginx": lambda w, p, s, c: start_nginx_h2(w, p, s, c, args.threads),
    }
    results = {name: {1: [], 100: []} for name in starters}
    with tempfile.TemporaryDirectory() as workdir:
        stable_port, canary_port = compare.free_port(), compare.free_port()
        backend = compare.start_backends(workdir, stable_port, canary_port)
        try:
            for round_index in range(args.rounds):
                for name, start in starters.items():  # interleaved: each round visits every proxy
                    port = compare.free_port()
                    proc = start(workdir, port, stable_port, canary_port)
                    try:
                        run_h2load(port, 10, 1)  # warm-up
                        for streams in (1, 100):
                            proxy_before, backend_before = compare.cpu_ticks(proc.pid), compare.cpu_ticks(backend.pid)
                            r = run_h2load(port, streams, args.duration)
                            proxy_ticks = compare.cpu_ticks(proc.pid) - proxy_before
                            backend_ticks = compare.cpu_ticks(backend.pid) - backend_before
                            r["proxy_cpu_us_per_request"] = proxy_ticks / compare.HZ * 1e6 / max(1, r["requests"])
                            r["backend_cpu_us_per_request"] = backend_ticks / compare.HZ * 1e6 / max(1, r["requests"])
                            results[name][streams].append(r)
                            print(f"round {round_index + 1} {name:8} m={streams:3}: {r['rps']:9.0f} req/s, "
                                  f"{r['proxy_cpu_us_per_request']:6.1f} us CPU/req, backend "
                                  f"{r['backend_cpu_us_per_request']:5.1f} us/req, failed {r['failed']}", flush=True)
                    finally:
                        proc.stop()
        finally:
            backend.stop()

    def median(values):
        values = sorted(values)
        return values[len(values) // 2]

    print(f"\nHTTP/2 clients (h2c), {CONNECTIONS} connections, 90/10 split, HTTP/1.1 upstreams; medians of "
          f"{args.rounds} interleaved rounds of {args.duration} s; threads {args.threads}")
    print(f"{'streams/conn':>12} {'proxy':8} {'req/s':>9} {'CPU us/req':>11} {'x HAProxy':>10} {'backend us/req':>15} {'valid':>6}")
    summary = {}
    for streams in (1, 100):
        hap_cpu = median([r["proxy_cpu_us_per_request"] for r in results["haproxy"][streams]])
        hap_backend = median([r["backend_cpu_us_per_request"] for r in results["haproxy"][streams]])
        for name in starters:
            rows = results[name][streams]
            cpu = median([r["proxy_cpu_us_per_request"] for r in rows])
            backend_cpu = median([r["backend_cpu_us_per_request"] for r in rows])
            valid = backend_cpu <= hap_backend * 1.10
            summary[f"{name}-m{streams}"] = {"rps": median([r["rps"] for r in rows]), "cpu_us_per_request": cpu,
                                             "backend_cpu_us_per_request": backend_cpu, "cpu_ratio_to_haproxy": cpu / hap_cpu,
                                             "valid": valid, "rounds": rows}
            print(f"{streams:>12} {name:8} {median([r['rps'] for r in rows]):9.0f} {cpu:11.1f} {cpu / hap_cpu:9.2f}x "
                  f"{backend_cpu:15.1f} {'yes' if valid else 'INVALID':>6}")
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
