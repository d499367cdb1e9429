#!/usr/bin/env python3
"""Each kind of request on real Spin, before and after a change, in one run.

For every request kind (a bare hello component as the baseline, health,
create, list-20, get, cancel) on SQLite and on PostgreSQL, the host CPU of
Spin's serving process per request, the throughput and the p99, for the
component built from the working tree ("after") and, with COMPARE_REV, from
that commit ("before"), both served by the same Spin at once. Rounds
alternate before and after, so a machine that drifts weighs on both alike;
the table shows each pair's medians and the after/before ratio.

    SPIN_BIN=../shared/spin/spin COMPARE_REV=HEAD~3 python3 bench/kinds.py
    DURATION=5 CONCURRENCY="1 32" ROUNDS=3 BACKENDS="sqlite postgres" \\
        KINDS="hello health create list get cancel" ...

Writes bench/kinds.json (every run) and prints the table (again with
`python3 bench/kinds.py --table bench/kinds.json`). Needs wrk (Debian: wrk)
and, for PostgreSQL, Debian's postgresql server binaries.
"""
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DURATION = int(os.environ.get("DURATION", "5"))
CONCURRENCY = [int(c) for c in os.environ.get("CONCURRENCY", "1 32").split()]
ROUNDS = int(os.environ.get("ROUNDS", "3"))
BACKENDS = os.environ.get("BACKENDS", "sqlite postgres").split()
KINDS = os.environ.get("KINDS", "hello health create list get cancel").split()
COMPARE_REV = os.environ.get("COMPARE_REV", "")
SPIN_BIN = os.path.abspath(os.environ.get("SPIN_BIN") or shutil.which("spin") or "")
KEY = "bench-signing-key-of-at-least-32-bytes"
ONE_ITEM = '{"items": [{"product_id": 1, "quantity": 1}]}'
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

processes = []


def sh(*args, **kwargs):
    return subprocess.run(args, check=True, cwd=kwargs.pop("cwd", ROOT), **kwargs)


def start(args, env=None, **kwargs):
    process = subprocess.Popen(args, env={**os.environ, **(env or {})}, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True, **kwargs)
    processes.append(process)
    return process


def stop_all():
    for process in processes:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def wait_for(url):
    for _ in range(600):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.05)
    sys.exit(f"not up: {url}")


def cpu_seconds(pid):
    """User and system time of a process and all its threads."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def serving_pid(parent):
    """`spin up` serves from a child process (`spin trigger http`)."""
    for _ in range(200):
        children = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True).stdout.split()
        if children:
            return int(children[0])
        time.sleep(0.05)
    return parent


def request(method, url, token, body=None):
    data = body.encode() if body else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if body:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as reply:
        return json.loads(reply.read() or b"null")


def wrk(url, concurrency, script, env):
    threads = 1 if concurrency < 2 else 2
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{DURATION}s", "--latency", "-s", script, url],
        env={**os.environ, **env}, capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def build(work):
    sh("cargo", "build", "-q", "--release", "--target", "wasm32-wasip2",
       "-p", "order-service", "-p", "hello-component")
    sh("cargo", "build", "-q", "--profile", "host-release", "-p", "demo-catalog")
    components = {"after": f"{ROOT}/target/wasm32-wasip2/release/order_service.wasm"}
    manifests = {"after": f"{ROOT}/spin.toml"}
    if COMPARE_REV:
        tree = f"{work}/before"
        sh("git", "worktree", "add", "-q", "--detach", tree, COMPARE_REV)
        sh("cargo", "build", "-q", "--release", "--target", "wasm32-wasip2",
           "--manifest-path", f"{tree}/Cargo.toml", "-p", "order-service",
           env={**os.environ, "CARGO_TARGET_DIR": f"{ROOT}/target/compare"})
        components["before"] = f"{ROOT}/target/compare/wasm32-wasip2/release/order_service.wasm"
        manifests["before"] = f"{tree}/spin.toml"
    for variant, source in components.items():
        text = open(manifests[variant]).read()
        lines = [f'source = "{source}"' if l.startswith("source = ") else l for l in text.splitlines()]
        open(f"{work}/{variant}.toml", "w").write("\n".join(lines) + "\n")
        print(f"{variant}: {os.path.getsize(source)} bytes", file=sys.stderr)
    return list(components)


def start_postgres(work):
    pg_bin = sorted(p for p in os.listdir("/usr/lib/postgresql"))[-1]
    pg_bin = f"/usr/lib/postgresql/{pg_bin}/bin"
    data = f"{work}/pg"
    os.makedirs(data)
    as_postgres = ["setpriv", "--reuid", "postgres", "--regid", "postgres", "--init-groups", "--"] \
        if os.getuid() == 0 else []
    if os.getuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        os.chmod(work, 0o755)
    sh(*as_postgres, f"{pg_bin}/initdb", "-D", f"{data}/data", "-A", "trust", "-U", "postgres",
       "--no-sync", stdout=subprocess.DEVNULL)
    # Durable like the SQLite backend: fsync and synchronous_commit stay on.
    start([*as_postgres, f"{pg_bin}/postgres", "-D", f"{data}/data", "-p", "19110",
           "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={data}",
           "-c", "max_connections=400"])
    for _ in range(200):
        if subprocess.run(["psql", "-X", "-q", "-d", "postgres://postgres@127.0.0.1:19110/postgres",
                           "-c", "SELECT 1"], capture_output=True).returncode == 0:
            return
        time.sleep(0.1)
    sys.exit("PostgreSQL did not start")


def main():
    if not os.access(SPIN_BIN, os.X_OK):
        sys.exit("set SPIN_BIN (or put spin on the PATH)")
    if not shutil.which("wrk"):
        sys.exit("wrk is required: apt-get install wrk")
    work = tempfile.mkdtemp()
    try:
        run_all(work)
    finally:
        stop_all()
        if COMPARE_REV:
            subprocess.run(["git", "worktree", "remove", "--force", f"{work}/before"], cwd=ROOT)
        shutil.rmtree(work, ignore_errors=True)


def run_all(work):
    variants = build(work)
    seed = [{"id": i, "name": f"p{i}", "price": "19.99", "is_active": True, "in_stock": 10**15}
            for i in range(1, 6)]
    json.dump(seed, open(f"{work}/seed.json", "w"))
    start([f"{ROOT}/target/host-release/demo-catalog", "--listen", "127.0.0.1:19101",
           "--seed", f"{work}/seed.json", "--jwt-signing-key", KEY])
    token = subprocess.run([f"{ROOT}/target/host-release/mint-token", "--jwt-signing-key", KEY,
                            "--user-id", "42", "--lifetime-seconds", "7200"],
                           capture_output=True, text=True, check=True).stdout.strip()
    if "postgres" in BACKENDS:
        start_postgres(work)
    env = {"XDG_CACHE_HOME": f"{work}/cache", "SPIN_VARIABLE_JWT_SIGNING_KEY": KEY,
           "SPIN_VARIABLE_CATALOG_URL": "http://127.0.0.1:19101"}
    instances = {}  # (variant, backend) → (base url, serving pid)
    port = 19120

    def spin_up(name, manifest, extra):
        nonlocal port
        port += 1
        open(f"{work}/rc-{port}.toml", "w").write(
            f'[sqlite_database.default]\ntype = "spin"\npath = "{work}/{name}.db"\n')
        parent = start([SPIN_BIN, "up", "--listen", f"127.0.0.1:{port}", "--from", manifest,
                        "--runtime-config-file", f"{work}/rc-{port}.toml", "--quiet",
                        "--log-dir", f"{work}/logs-{port}", "--state-dir", f"{work}/state-{port}"],
                       env={**env, **extra})
        return f"http://127.0.0.1:{port}", parent

    hello = spin_up("hello", f"{ROOT}/bench/hello/spin.toml", {})
    for variant in variants:
        for backend in BACKENDS:
            extra = {}
            if backend == "postgres":
                database = f"orders_{variant}"
                sh("psql", "-X", "-q", "-d", "postgres://postgres@127.0.0.1:19110/postgres",
                   "-c", f"CREATE DATABASE {database}")
                extra = {"SPIN_VARIABLE_DATABASE_URL": f"postgres://postgres@127.0.0.1:19110/{database}",
                         "SPIN_VARIABLE_DATABASE_HOST": "postgres://127.0.0.1:19110"}
            instances[(variant, backend)] = spin_up(f"{variant}-{backend}", f"{work}/{variant}.toml", extra)
    wait_for(hello[0] + "/")
    hello = (hello[0], serving_pid(hello[1].pid))
    for key, (base, parent) in list(instances.items()):
        wait_for(base + "/orders/health/")
        instances[key] = (base, serving_pid(parent.pid))
    print(subprocess.run([SPIN_BIN, "--version"], capture_output=True, text=True).stdout.strip(),
          file=sys.stderr)

    # Orders to list and read (and the database migrated).
    got = {}
    for key, (base, _) in instances.items():
        for _ in range(40):
            created = request("POST", f"{base}/orders/orders/", token, ONE_ITEM)
        got[key] = created["id"]

    cancel_lua = f"{work}/cancel.lua"
    open(cancel_lua, "w").write(CANCEL_LUA)
    results = []

    def measure(kind, key, base, pid, concurrency):
        script, url, extra = f"{ROOT}/bench/wrk.lua", base, {"TOKEN": token}
        if kind == "health":
            url = f"{base}/orders/health/"
        elif kind == "create":
            url, extra = f"{base}/orders/orders/", {**extra, "METHOD": "POST", "BODY": ONE_ITEM}
        elif kind == "list":
            url = f"{base}/orders/orders/?limit=20"
        elif kind == "get":
            url = f"{base}/orders/orders/{got[key]}/"
        elif kind == "cancel":
            # Fresh CREATED orders to cancel, one each: made by creates at the
            # same concurrency for longer than the cancels will take.
            first = request("GET", f"{base}/orders/orders/?limit=1", token)["results"][0]["id"] + 1
            subprocess.run(["wrk", "-t2", f"-c{max(concurrency, 2)}", f"-d{DURATION * 2}s", "-s",
                            f"{ROOT}/bench/wrk.lua", f"{base}/orders/orders/"],
                           env={**os.environ, "TOKEN": token, "METHOD": "POST", "BODY": ONE_ITEM},
                           capture_output=True, check=True)
            script, url = cancel_lua, base
            extra = {**extra, "FIRST_ID": str(first)}
        before = cpu_seconds(pid)
        result = wrk(url, concurrency, script, extra)
        cpu_us = (cpu_seconds(pid) - before) * 1e6 / max(result["requests"], 1)
        results.append({"kind": kind, "variant": key[0], "backend": key[1],
                        "concurrency": concurrency, "host_cpu_us": round(cpu_us, 1), **result})
        print(f"  {kind:7} {key[0]:6} {key[1]:8} c={concurrency:<4} cpu/req {cpu_us:8.1f} µs "
              f"{result['rps']:8.1f}/s p99 {result['p99_ms']:8.2f} ms errors {result['errors']}",
              file=sys.stderr)

    for round_number in range(ROUNDS):
        print(f"round {round_number + 1} of {ROUNDS}", file=sys.stderr)
        for concurrency in CONCURRENCY:
            for kind in KINDS:
                if kind == "hello":
                    measure("hello", ("-", "-"), hello[0] + "/", hello[1], concurrency)
                    continue
                order = variants if round_number % 2 == 0 else list(reversed(variants))
                for backend in BACKENDS:
                    for variant in order:
                        base, pid = instances[(variant, backend)]
                        measure(kind, (variant, backend), base, pid, concurrency)
    json.dump({"command": " ".join(f"{k}={os.environ[k]!r}" for k in
                                   ["COMPARE_REV", "DURATION", "CONCURRENCY", "ROUNDS", "BACKENDS", "KINDS"]
                                   if k in os.environ),
               "spin": SPIN_BIN, "runs": results},
              open(f"{ROOT}/bench/kinds.json", "w"), indent=1)
    print(table(results))


def table(results):
    """Medians per kind, backend, concurrency and variant, and the median
    of each round's after ÷ before (the two measured back to back, so a
    machine that drifts during the run weighs on both alike)."""
    groups = {}
    for index, run in enumerate(results):
        run = {**run, "index": index}
        groups.setdefault((run["kind"], run["backend"], run["concurrency"], run["variant"]), []).append(run)
    hello = {c: statistics.median(r["host_cpu_us"] for r in runs)
             for (kind, _, c, _), runs in groups.items() if kind == "hello"}
    lines = ["| kind | backend | conc | variant | req/s | CPU µs/req | ÷ hello | p99 ms | after ÷ before (CPU, per round) |",
             "|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for (kind, backend, c, variant), runs in sorted(groups.items()):
        cpu = statistics.median(r["host_cpu_us"] for r in runs)
        rps = statistics.median(r["rps"] for r in runs)
        p99 = statistics.median(r["p99_ms"] for r in runs)
        ratio = ""
        before = groups.get((kind, backend, c, "before"))
        if variant == "after" and before:
            pairs = [a["host_cpu_us"] / b["host_cpu_us"] for a, b in zip(runs, before)]
            ratio = f"{statistics.median(pairs):.2f} ({', '.join(f'{p:.2f}' for p in pairs)})"
        per_hello = f"{cpu / hello[c]:.2f}" if hello.get(c) else ""
        lines.append(f"| {kind} | {backend} | {c} | {variant} | {rps:.0f} | {cpu:.0f} | {per_hello} | "
                     f"{p99:.1f} | {ratio} |")
    return "\n".join(lines)


if len(sys.argv) > 2 and sys.argv[1] == "--table":
    print(table(json.load(open(sys.argv[2]))["runs"]))
    sys.exit(0)


# Each thread cancels its own run of ids from FIRST_ID: thread t takes
# FIRST_ID + t, + t + threads, … (two threads, as wrk is run here).
CANCEL_LUA = r'''
local first = tonumber(os.getenv("FIRST_ID"))
local token = os.getenv("TOKEN")
local threads_made = 0
setup = function(thread)
  thread:set("offset", threads_made)
  threads_made = threads_made + 1
end
init = function(args)
  next_id = first + offset
end
request = function()
  local id = next_id
  next_id = next_id + 2
  return wrk.format("POST", "/orders/orders/" .. id .. "/cancel/",
    {["Authorization"] = "Bearer " .. token})
end
done = function(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'RESULT {"requests":%d,"seconds":%.2f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"errors":%d}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.connect + e.read + e.write + e.status + e.timeout))
end
'''

if __name__ == "__main__":
    main()
