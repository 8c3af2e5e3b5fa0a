#!/usr/bin/env python3
"""canaryd, HAProxy and NGINX side by side on the same machine, in one run.

Started by bench/compare.sh (which installs and builds what it needs). Every proxy runs
one worker thread in front of the same two backends (one single-process nginx answering
`return 200` as "stable" and "canary"), with the same 90/10 split and upstream keep-alive.
Rounds are interleaved (A B C, B C A, C A B, ...) so that drift on a shared machine hits
everyone alike. Per target and round: requests/s and p50/p99 latency from wrk at 64 and 8
connections, the proxy's CPU microseconds per request (user+sys from /proc/PID/stat before
and after, divided by the requests wrk counted), the backend's CPU per request as a
control, RSS idle / under load / with 2,000 idle keep-alive connections. It prints a table
of medians (with min-max) and ratios to HAProxy computed round by round, and writes every
raw figure as JSON. It reports; it asserts nothing.
"""

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HZ = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid):
    """utime + stime of a whole process (all threads), in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_port(port, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def parse_duration_us(text):
    value = float(re.match(r"[\d.]+", text).group(0))
    unit = text[len(re.match(r"[\d.]+", text).group(0)):]
    return value * {"us": 1, "ms": 1e3, "s": 1e6, "m": 60e6}[unit]


def run_wrk(port, connections, seconds):
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, check=True).stdout
    result = {
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_us": parse_duration_us(re.search(r"\s50%\s+(\S+)", out).group(1)),
        "p99_us": parse_duration_us(re.search(r"\s99%\s+(\S+)", out).group(1)),
        "errors": 0,
    }
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if non2xx:
        result["errors"] += int(non2xx.group(1))
    if socket_errors:
        result["errors"] += sum(int(g) for g in socket_errors.groups())
    return result


class Process:
    def __init__(self, name, argv, port, workdir):
        self.name = name
        self.log = open(os.path.join(workdir, f"{name}.log"), "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(port)
        self.pid = self.proc.pid

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def nginx_conf(workdir, name, servers):
    """A single-process, foreground nginx with one worker and the given server blocks."""
    conf = os.path.join(workdir, f"{name}-nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""
master_process off;
daemon off;
worker_processes 1;
worker_rlimit_nofile 20000;
pid {workdir}/{name}.pid;
error_log {workdir}/{name}-error.log;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
{servers}
}}
""")
    return conf


def start_backends(workdir, stable_port, canary_port):
    conf = nginx_conf(workdir, "backend", f"""
    server {{ listen 127.0.0.1:{stable_port}; location / {{ return 200 "stable\\n"; }} }}
    server {{ listen 127.0.0.1:{canary_port}; location / {{ return 200 "canary\\n"; }} }}""")
    p = Process("backend", ["nginx", "-c", conf, "-p", workdir], stable_port, workdir)
    wait_port(canary_port)
    return p


def start_canaryd(binary, workdir, port, stable_port, canary_port):
    conf = os.path.join(workdir, "canaryd.yaml")
    with open(conf, "w") as f:
        f.write(f"""threads: 1
listeners:
  - address: 127.0.0.1:{port}
admin:
  address: 127.0.0.1:{free_port()}
routes:
  - name: bench
    stable: {{version: v1, endpoints: [127.0.0.1:{stable_port}]}}
    canary: {{version: v2, endpoints: [127.0.0.1:{canary_port}]}}
    canary_weight: 10
""")
    return Process("canaryd", [binary, "--config", conf], port, workdir)


def start_haproxy(workdir, port, stable_port, canary_port):
    conf = os.path.join(workdir, "haproxy.cfg")
    with open(conf, "w") as f:
        f.write(f"""global
    nbthread 1
    maxconn 16000
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
    option http-keep-alive
    http-reuse always
frontend front
    bind 127.0.0.1:{port}
    default_backend back
backend back
    balance roundrobin
    server stable 127.0.0.1:{stable_port} weight 90
    server canary 127.0.0.1:{canary_port} weight 10
""")
    return Process("haproxy", ["haproxy", "-f", conf, "-db"], port, workdir)


def start_nginx_proxy(workdir, port, stable_port, canary_port):
    conf = nginx_conf(workdir, "proxy", f"""
    upstream back {{
        server 127.0.0.1:{stable_port} weight=9;
        server 127.0.0.1:{canary_port} weight=1;
        keepalive 256;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://back;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}""")
    return Process("nginx", ["nginx", "-c", conf, "-p", workdir], port, workdir)


def idle_connections_rss(pid, port, count):
    """RSS before and after `count` idle keep-alive connections, each of which served one
    request, one connection at a time (what idle keep-alive clients look like: the memory
    measured is what a connection holds while idle, not the transient peak of `count`
    simultaneous requests). The baseline is taken right before, after the load phases, so
    memory the allocator kept from them is not counted as the connections' own."""
    sockets = []
    try:
        time.sleep(0.3)
        before = rss_kib(pid)
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port))
            s.settimeout(5)
            s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    raise RuntimeError("connection closed before the response")
                data += chunk
            sockets.append(s)
        time.sleep(0.5)
        return before, rss_kib(pid)
    finally:
        for s in sockets:
            s.close()


def measure(proc, backend, port, seconds, idle_count):
    result = {}
    run_wrk(port, 16, 2)  # warm-up: pools, allocator, caches
    time.sleep(0.3)
    result["rss_idle_kib"] = rss_kib(proc.pid)
    for connections in (64, 8):
        peak = [0]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], rss_kib(proc.pid))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample)
        proxy_before, backend_before = cpu_ticks(proc.pid), cpu_ticks(backend.pid)
        sampler.start()
        wrk = run_wrk(port, connections, seconds)
        done.set()
        sampler.join()
        proxy_ticks = cpu_ticks(proc.pid) - proxy_before
        backend_ticks = cpu_ticks(backend.pid) - backend_before
        wrk["proxy_cpu_us_per_request"] = proxy_ticks / HZ * 1e6 / wrk["requests"]
        wrk["backend_cpu_us_per_request"] = backend_ticks / HZ * 1e6 / wrk["requests"]
        wrk["proxy_to_backend_cpu"] = proxy_ticks / max(1, backend_ticks)
        wrk["rss_load_kib"] = peak[0]
        result[f"c{connections}"] = wrk
    before, with_idle = idle_connections_rss(proc.pid, port, idle_count)
    result["rss_before_idle_connections_kib"] = before
    result["rss_idle_connections_kib"] = with_idle
    result["kib_per_idle_connection"] = (with_idle - before) / idle_count
    return result


def fmt_range(values, digits=1):
    med = statistics.median(values)
    lo, hi = min(values), max(values)
    spread = (hi - lo) / med if med else 0
    flag = " !" if spread > 0.25 else ""
    return f"{med:.{digits}f} [{lo:.{digits}f}-{hi:.{digits}f}]{flag}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--canaryd", required=True)
    parser.add_argument("--stream-rss")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--idle-connections", type=int, default=10000)
    parser.add_argument("--json", default="bench/results/compare.json")
    parser.add_argument("--only", default="canaryd,haproxy,nginx")
    parser.add_argument("--variant", action="append", default=[],
                        help="NAME=PATH: another canaryd binary measured in the same rounds (before/after figures)")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="canaryd-compare-")
    stable_port, canary_port = free_port(), free_port()
    backend = start_backends(workdir, stable_port, canary_port)
    starters = {
        "canaryd": lambda p: start_canaryd(args.canaryd, workdir, p, stable_port, canary_port),
        "haproxy": lambda p: start_haproxy(workdir, p, stable_port, canary_port),
        "nginx": lambda p: start_nginx_proxy(workdir, p, stable_port, canary_port),
    }
    targets = [t for t in ("canaryd", "haproxy", "nginx") if t in args.only.split(",")]
    for variant in args.variant:
        name, path = variant.split("=", 1)
        starters[name] = (lambda binary: lambda p: start_canaryd(binary, workdir, p, stable_port, canary_port))(path)
        targets.append(name)
    raw = {t: [] for t in targets}
    try:
        for round_index in range(args.rounds):
            order = targets[round_index % len(targets):] + targets[:round_index % len(targets)]
            print(f"round {round_index + 1}/{args.rounds}: {' '.join(order)}", file=sys.stderr, flush=True)
            for target in order:
                port = free_port()
                proc = starters[target](port)
                try:
                    m = measure(proc, backend, port, args.duration, args.idle_connections)
                finally:
                    proc.stop()
                m["round"] = round_index + 1
                raw[target].append(m)
                print(f"  {target:8s} c64 {m['c64']['rps']:9.0f} req/s  "
                      f"{m['c64']['proxy_cpu_us_per_request']:6.2f} us CPU/req", file=sys.stderr, flush=True)
    finally:
        backend.stop()

    stream = None
    if args.stream_rss and "canaryd" in targets:
        stream = subprocess.run([args.stream_rss, "--canaryd", args.canaryd, "--mib", "1024"],
                                capture_output=True, text=True).stdout

    # The table: medians over rounds, [min-max], "!" where the spread passes 25 %.
    rows = [
        ("req/s, 64 conns", lambda m: m["c64"]["rps"], 0),
        ("p50 ms, 64 conns", lambda m: m["c64"]["p50_us"] / 1000, 3),
        ("p99 ms, 64 conns", lambda m: m["c64"]["p99_us"] / 1000, 3),
        ("req/s, 8 conns", lambda m: m["c8"]["rps"], 0),
        ("p50 ms, 8 conns", lambda m: m["c8"]["p50_us"] / 1000, 3),
        ("p99 ms, 8 conns", lambda m: m["c8"]["p99_us"] / 1000, 3),
        ("proxy CPU us/req, 64", lambda m: m["c64"]["proxy_cpu_us_per_request"], 2),
        ("proxy CPU us/req, 8", lambda m: m["c8"]["proxy_cpu_us_per_request"], 2),
        ("backend CPU us/req, 64", lambda m: m["c64"]["backend_cpu_us_per_request"], 2),
        ("backend CPU us/req, 8", lambda m: m["c8"]["backend_cpu_us_per_request"], 2),
        ("proxy / backend CPU, 64", lambda m: m["c64"]["proxy_to_backend_cpu"], 2),
        ("RSS idle KiB", lambda m: m["rss_idle_kib"], 0),
        ("RSS under load KiB", lambda m: m["c64"]["rss_load_kib"], 0),
        (f"RSS {args.idle_connections} idle conns KiB", lambda m: m["rss_idle_connections_kib"], 0),
        ("KiB per idle connection", lambda m: m["kib_per_idle_connection"], 1),
        ("errors (non-2xx, socket)", lambda m: m["c64"]["errors"] + m["c8"]["errors"], 0),
    ]
    width = 30
    print(f"\n{'':{width}}" + "".join(f"{t:>24}" for t in targets))
    for label, get, digits in rows:
        print(f"{label:{width}}" + "".join(f"{fmt_range([get(m) for m in raw[t]], digits):>24}" for t in targets))

    summary = {}
    validity = {}
    if "haproxy" in targets:
        print("\nratios to HAProxy, computed round by round (median [min-max]):")
        for t in targets:
            if t == "haproxy":
                continue
            def ratio(get):
                return [get(a) / get(b) for a, b in zip(raw[t], raw["haproxy"])]
            cpu = ratio(lambda m: m["c64"]["proxy_cpu_us_per_request"])
            cpu8 = ratio(lambda m: m["c8"]["proxy_cpu_us_per_request"])
            rps = ratio(lambda m: m["c64"]["rps"])
            rps8 = ratio(lambda m: m["c8"]["rps"])
            p99 = ratio(lambda m: m["c64"]["p99_us"])
            p99_8 = ratio(lambda m: m["c8"]["p99_us"])
            backend = ratio(lambda m: m["c64"]["backend_cpu_us_per_request"])
            backend8 = ratio(lambda m: m["c8"]["backend_cpu_us_per_request"])
            summary[t] = {"cpu_per_request_c64": cpu, "cpu_per_request_c8": cpu8, "rps_c64": rps, "rps_c8": rps8,
                          "p99_c64": p99, "p99_c8": p99_8, "backend_cpu_c64": backend, "backend_cpu_c8": backend8}
            print(f"  {t:8s} CPU/req c64 {fmt_range(cpu, 2)}   CPU/req c8 {fmt_range(cpu8, 2)}   "
                  f"req/s c64 {fmt_range(rps, 2)}   req/s c8 {fmt_range(rps8, 2)}   "
                  f"p99 c64 {fmt_range(p99, 2)}   p99 c8 {fmt_range(p99_8, 2)}")
            # The backend does identical work per request behind every proxy: when it pays
            # more behind one of them (reconnections, extra bytes), that proxy's figures are
            # not comparable. This box's noise floor is about 9 %.
            worst = max(statistics.median(backend), statistics.median(backend8))
            validity[t] = worst <= 1.10
            print(f"  {'':8s} backend CPU/req vs HAProxy's: c64 {fmt_range(backend, 2)}   c8 {fmt_range(backend8, 2)}   "
                  + ("valid" if validity[t] else "INVALID: the backend works more than 10 % harder behind " + t))
        if "canaryd" in summary:
            s = summary["canaryd"]
            med = lambda key: statistics.median([m[key[0]][key[1]] for m in raw["canaryd"]])
            print(f"\nheadline (canaryd at its defaults, threads: 1): CPU/request "
                  f"{statistics.median(s['cpu_per_request_c64']):.2f}x HAProxy's at c=64 "
                  f"({med(('c64', 'proxy_cpu_us_per_request')):.1f} us), "
                  f"{statistics.median(s['cpu_per_request_c8']):.2f}x at c=8 "
                  f"({med(('c8', 'proxy_cpu_us_per_request')):.1f} us)"
                  + ("" if validity.get("canaryd", True) else "  [run INVALID: see the backend check]"))
    if stream:
        print("\n" + stream.rstrip())

    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "rounds": args.rounds,
                   "duration_s": args.duration, "idle_connections": args.idle_connections, "raw": raw,
                   "ratios_to_haproxy": summary, "valid": validity,
                   "stream_rss": stream}, f, indent=2)
    print(f"\nraw results: {args.json}")


if __name__ == "__main__":
    main()
