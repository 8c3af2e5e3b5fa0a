#!/usr/bin/env python3
"""canaryd, HAProxy and NGINX side by side on the same machine, in one run.

Started by bench/compare.sh (which installs and builds what it needs). Every proxy runs
`--threads` worker threads (canaryd `threads`, HAProxy `nbthread`, NGINX `worker_processes`)
at its defaults otherwise, in front of the same two backends (one single-process nginx
answering `return 200` as "stable" and "canary"), with the same 90/10 split and upstream
keep-alive. Rounds are interleaved (A B C, B C A, C A B, ...) so that drift on a shared
machine hits everyone alike. Per target and round: requests/s and p50/p99 latency from wrk
at each of `--connections`, the proxy's CPU microseconds per request (user+sys of the
process and its children from /proc before and after, divided by the requests wrk counted),
the backend's CPU per request as a validity control, RSS idle / under load / with
`--idle-connections` idle keep-alive connections. It prints a table of medians (with
min-max) and ratios to HAProxy computed round by round, and writes every raw figure as
JSON. It reports; it asserts nothing.
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


def process_tree(pid):
    """`pid` and its descendants (NGINX's workers are children of its master)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    tree, frontier = [pid], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        tree += children
        frontier = children
    return tree


def cpu_ticks(pid):
    """utime + stime of a process and its children (all threads), in clock ticks."""
    total = 0
    for p in process_tree(pid):
        with open(f"/proc/{p}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total


def rss_kib(pid):
    total = 0
    for p in process_tree(pid):
        with open(f"/proc/{p}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


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


WRK_THREADS = 1


def run_wrk(port, connections, seconds):
    out = subprocess.run(
        ["wrk", f"-t{min(WRK_THREADS, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency", f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, check=True).stdout
    result = {
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_us": parse_duration_us(re.search(r"\s50%\s+(\S+)", out).group(1)),
        "p99_us": parse_duration_us(re.search(r"\s99%\s+(\S+)", out).group(1)),
        "errors": 0,
        # Which errors: non-2xx answers are the proxy's doing; wrk's timeouts (2 s) at
        # thousands of connections are the tail of a saturated box, for every proxy alike.
        "error_kinds": {"non2xx": 0, "connect": 0, "read": 0, "write": 0, "timeout": 0},
    }
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if non2xx:
        result["error_kinds"]["non2xx"] = int(non2xx.group(1))
    if socket_errors:
        for kind, count in zip(("connect", "read", "write", "timeout"), socket_errors.groups()):
            result["error_kinds"][kind] = int(count)
    result["errors"] = sum(result["error_kinds"].values())
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


def nginx_conf(workdir, name, servers, workers=1):
    """A foreground nginx with the given server blocks: one process for one worker, else a
    master with `workers` worker processes."""
    conf = os.path.join(workdir, f"{name}-nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""
master_process {"off" if workers == 1 else "on"};
daemon off;
worker_processes {workers};
worker_rlimit_nofile 20000;
pid {workdir}/{name}.pid;
error_log {workdir}/{name}-error.log;
events {{ worker_connections 19500; }}
http {{
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
{servers}
}}
""")
    return conf


def start_backends(workdir, stable_port, canary_port):
    # backlog=4096 (the kernel's somaxconn): with thousands of clients starting at once every
    # proxy opens thousands of upstream connections in one burst; at nginx's default 511 the
    # backend's accept queue overflows, the kernel drops SYNs and retransmits them after 1 s —
    # exactly canaryd's default connect timeout (SPEC §2), while HAProxy here waits 5 s. The
    # backend is the bench's, not a proxy under test, so it gets a queue that holds the burst.
    conf = nginx_conf(workdir, "backend", f"""
    server {{ listen 127.0.0.1:{stable_port} backlog=4096; location / {{ return 200 "stable\\n"; }} }}
    server {{ listen 127.0.0.1:{canary_port} backlog=4096; location / {{ return 200 "canary\\n"; }} }}""")
    p = Process("backend", ["nginx", "-c", conf, "-p", workdir], stable_port, workdir)
    wait_port(canary_port)
    return p


def start_canaryd(binary, workdir, port, stable_port, canary_port, threads):
    conf = os.path.join(workdir, "canaryd.yaml")
    with open(conf, "w") as f:
        f.write(f"""threads: {threads}
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


def start_haproxy(workdir, port, stable_port, canary_port, threads):
    conf = os.path.join(workdir, "haproxy.cfg")
    with open(conf, "w") as f:
        f.write(f"""global
    nbthread {threads}
    maxconn 9950
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


def start_nginx_proxy(workdir, port, stable_port, canary_port, threads):
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
    }}""", workers=threads)
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


def measure(proc, backend, port, seconds, idle_count, connection_counts):
    result = {}
    run_wrk(port, 16, 2)  # warm-up: pools, allocator, caches
    time.sleep(0.3)
    result["rss_idle_kib"] = rss_kib(proc.pid)
    for connections in connection_counts:
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
    global WRK_THREADS
    parser = argparse.ArgumentParser()
    parser.add_argument("--canaryd", required=True)
    parser.add_argument("--stream-rss")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1,
                        help="worker threads of every proxy (and wrk threads); everything else at its defaults")
    parser.add_argument("--connections", default="64,8", help="wrk connection counts, comma-separated")
    parser.add_argument("--idle-connections", type=int, default=9000)
    parser.add_argument("--json", default="bench/results/compare.json")
    parser.add_argument("--only", default="canaryd,haproxy,nginx")
    parser.add_argument("--variant", action="append", default=[],
                        help="NAME=PATH: another canaryd binary measured in the same rounds (before/after figures)")
    args = parser.parse_args()
    WRK_THREADS = args.threads
    counts = [int(c) for c in args.connections.split(",")]

    workdir = tempfile.mkdtemp(prefix="canaryd-compare-")
    stable_port, canary_port = free_port(), free_port()
    backend = start_backends(workdir, stable_port, canary_port)
    n = args.threads
    starters = {
        "canaryd": lambda p: start_canaryd(args.canaryd, workdir, p, stable_port, canary_port, n),
        "haproxy": lambda p: start_haproxy(workdir, p, stable_port, canary_port, n),
        "nginx": lambda p: start_nginx_proxy(workdir, p, stable_port, canary_port, n),
    }
    targets = [t for t in ("canaryd", "haproxy", "nginx") if t in args.only.split(",")]
    for variant in args.variant:
        name, path = variant.split("=", 1)
        starters[name] = (lambda binary: lambda p: start_canaryd(binary, workdir, p, stable_port, canary_port, n))(path)
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
                    m = measure(proc, backend, port, args.duration, args.idle_connections, counts)
                finally:
                    proc.stop()
                m["round"] = round_index + 1
                raw[target].append(m)
                first = f"c{counts[0]}"
                print(f"  {target:8s} {first} {m[first]['rps']:9.0f} req/s  "
                      f"{m[first]['proxy_cpu_us_per_request']:6.2f} us CPU/req", file=sys.stderr, flush=True)
    finally:
        backend.stop()

    stream = None
    if args.stream_rss and "canaryd" in targets:
        stream = subprocess.run([args.stream_rss, "--canaryd", args.canaryd, "--mib", "1024"],
                                capture_output=True, text=True).stdout

    # The table: medians over rounds, [min-max], "!" where the spread passes 25 %.
    rows = []
    for c in counts:
        k = f"c{c}"
        rows += [
            (f"req/s, {c} conns", lambda m, k=k: m[k]["rps"], 0),
            (f"p50 ms, {c} conns", lambda m, k=k: m[k]["p50_us"] / 1000, 3),
            (f"p99 ms, {c} conns", lambda m, k=k: m[k]["p99_us"] / 1000, 3),
            (f"proxy CPU us/req, {c}", lambda m, k=k: m[k]["proxy_cpu_us_per_request"], 2),
            (f"backend CPU us/req, {c}", lambda m, k=k: m[k]["backend_cpu_us_per_request"], 2),
        ]
    rows += [
        ("RSS idle KiB", lambda m: m["rss_idle_kib"], 0),
        (f"RSS under load KiB, {counts[0]}", lambda m: m[f"c{counts[0]}"]["rss_load_kib"], 0),
        (f"RSS {args.idle_connections} idle conns KiB", lambda m: m["rss_idle_connections_kib"], 0),
        ("KiB per idle connection", lambda m: m["kib_per_idle_connection"], 2),
        ("errors (non-2xx, socket)", lambda m: sum(m[f"c{c}"]["errors"] for c in counts), 0),
    ]
    rows += [(f"  of which {kind}", lambda m, kind=kind: sum(m[f"c{c}"]["error_kinds"][kind] for c in counts), 0)
             for kind in ("non2xx", "connect", "read", "write", "timeout")]
    width = 30
    print(f"\nthreads: {args.threads} per proxy")
    print(f"{'':{width}}" + "".join(f"{t:>24}" for t in targets))
    for label, get, digits in rows:
        print(f"{label:{width}}" + "".join(f"{fmt_range([get(m) for m in raw[t]], digits):>24}" for t in targets))

    summary = {}
    validity = {}
    if "haproxy" in targets:
        print("\nratios to HAProxy, computed round by round (median [min-max]):")
        for t in targets:
            if t == "haproxy":
                continue
            summary[t] = {}
            for c in counts:
                k = f"c{c}"
                def ratio(field):
                    return [a[k][field] / b[k][field] for a, b in zip(raw[t], raw["haproxy"])]
                summary[t][k] = {"cpu_per_request": ratio("proxy_cpu_us_per_request"), "rps": ratio("rps"),
                                 "p99": ratio("p99_us"), "backend_cpu_per_request": ratio("backend_cpu_us_per_request")}
                r = summary[t][k]
                print(f"  {t:8s} c={c:<5} CPU/req {fmt_range(r['cpu_per_request'], 2)}   req/s {fmt_range(r['rps'], 2)}   "
                      f"p99 {fmt_range(r['p99'], 2)}   backend CPU/req {fmt_range(r['backend_cpu_per_request'], 2)}")
            # The backend does identical work per request behind every proxy: when it pays
            # more behind one of them (reconnections, extra bytes), that proxy's figures are
            # not comparable. This box's noise floor is about 9 %.
            worst = max(statistics.median(summary[t][f"c{c}"]["backend_cpu_per_request"]) for c in counts)
            validity[t] = worst <= 1.10
            print(f"  {'':8s} {'valid' if validity[t] else 'INVALID'}: the backend's CPU/request behind {t} is "
                  f"{worst:.2f}x its CPU/request behind HAProxy at worst (limit 1.10)")
        if "canaryd" in summary:
            parts = []
            for c in counts:
                k = f"c{c}"
                absolute = statistics.median([m[k]["proxy_cpu_us_per_request"] for m in raw["canaryd"]])
                parts.append(f"{statistics.median(summary['canaryd'][k]['cpu_per_request']):.2f}x at c={c} "
                             f"({absolute:.1f} us)")
            print(f"\nheadline (canaryd at its defaults, threads: {args.threads}): CPU/request "
                  + ", ".join(parts) + " of HAProxy's"
                  + ("" if validity.get("canaryd", True) else "  [run INVALID: see the backend check]"))
    if stream:
        print("\n" + stream.rstrip())

    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "rounds": args.rounds,
                   "duration_s": args.duration, "threads": args.threads, "connections": counts,
                   "idle_connections": args.idle_connections, "raw": raw,
                   "ratios_to_haproxy": summary, "valid": validity,
                   "stream_rss": stream}, f, indent=2)
    print(f"\nraw results: {args.json}")


if __name__ == "__main__":
    main()
