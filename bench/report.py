"""Turns a bench/run into bench/results.json, or prints results.json as a table.

    python3 bench/report.py RESULTS.jsonl ORDERS.log ORDERS.err RSS_KIB WASM_BYTES COMMAND [COMPARED]
    python3 bench/report.py --table bench/results.json
"""
import json
import platform
import statistics
import sys
import time

TARGETS = {  # issue 12, at concurrency 32: (min ratio to hello, max p99 ms)
    "health": (0.9, None),
    "create-1-item": (0.25, 50.0),
    "create-5-items": (0.12, 80.0),
    "create-1-item@pg": (0.25, 50.0),
    "create-5-items@pg": (0.12, 80.0),
    # The same targets judged on real Spin (issue 18), against its hello.
    "health@spin": (0.9, None),
    "create-1-item@spin": (0.25, 50.0),
    "create-5-items@spin": (0.12, 80.0),
    "create-1-item@spin-pg": (0.25, 50.0),
    "create-5-items@spin-pg": (0.12, 80.0),
}
# No collapse: at 128 connections at least this share of the best
# throughput at any lower concurrency, with no errors or timeouts.
NO_COLLAPSE = (128, 0.9, ["create-1-item", "create-5-items", "create-1-item@pg", "create-5-items@pg",
                          "create-1-item@spin", "create-5-items@spin",
                          "create-1-item@spin-pg", "create-5-items@spin-pg"])


# Issue 21, on real Spin at 32 connections: creates' p99 at most this (ms).
TAIL_TARGETS = {"create-1-item@spin": 100.0, "create-1-item@spin-pg": 50.0}
# Issue 21: a create's host CPU at most this many times hello's, on real Spin.
CPU_TARGET = ("create-1-item@spin", "hello@spin", 10.0)
# The floor (bench/floor) beside the create it is the floor of, and the
# hello of the same runtime: (create, floor, hello).
FLOORS = [("create-1-item", "floor", "hello"),
          ("create-1-item@spin", "floor@spin", "hello@spin"),
          ("create-1-item@spin-pg", "floor@spin-pg", "hello@spin")]


def runtime(scenario):
    """The runtime that served a scenario: real Spin for `…@spin…`,
    gunicorn for the Django comparison point (no hello of its own)."""
    if scenario.endswith("@django"):
        return "django"
    return "spin" if "@spin" in scenario else "spin-host"


def build(results_path, log_path, err_path, rss_kib, wasm_bytes, command, compared=""):
    runs = [json.loads(line) for line in open(results_path)]
    # Per-phase means of each create run, keyed by the run's tag (request id).
    by_tag = {}
    for line in open(log_path):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("path") == "/orders/orders/" and entry.get("status") == 201:
            tag = by_tag.setdefault(entry.get("request_id", ""), {"duration_ms": []})
            tag["duration_ms"].append(entry["duration_ms"])
            for name, ms in entry.get("phases", {}).items():
                tag.setdefault(name, []).append(ms)
    breakdown = {
        tag: {"requests": len(values["duration_ms"]),
              **{name: round(statistics.mean(v), 3) for name, v in sorted(values.items())}}
        for tag, values in sorted(by_tag.items()) if tag.startswith("create")
    }
    instantiate_us = []
    prepare_us = {}  # statement's first words → CPU µs to prepare it, each time
    for line in open(err_path):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("spin_host") == "instantiate":
            instantiate_us.append(entry["us"])
        elif entry.get("spin_host") == "sqlite_prepare":
            prepare_us.setdefault(entry["statement"], []).append(entry["cpu_us"])
    # Every request's connection is new (Spin's model): each compiles its
    # statements again, its first statement on a table parsing the schema
    # too; a write retried after a busy wait finds it compiled (µs). So the
    # figure that counts is the total, per request of the kind that runs it.
    served = lambda *names: sum(r["result"]["requests"] for r in runs if r["scenario"] in names)
    per = {"INSERT INTO stock_intents": ("create", served("create-1-item", "create-5-items")),
           "INSERT INTO order_submissions": ("create", served("create-1-item", "create-5-items")),
           "SELECT id, user_id,": ("list", served("list-20")),
           "SELECT order_id, product_id,": ("list", served("list-20"))}
    sqlite_prepare = []
    for head, v in sorted(prepare_us.items(), key=lambda kv: -sum(kv[1]))[:8]:
        kind, requests = per.get(head, (None, 0))
        sqlite_prepare.append({
            "statement": head, "count": len(v), "total_cpu_s": round(sum(v) / 1e6, 2),
            "median_cpu_us": statistics.median(v),
            **({f"cpu_us_per_{kind}": round(sum(v) / requests)} if requests else {}),
        })
    # Each runtime's figures against its own hello, from the same run.
    hello = {(runtime(r["scenario"]), r["concurrency"]): r["result"]["rps"] for r in runs
             if r["scenario"] in ("hello", "hello@spin")}
    for r in runs:
        r["runtime"] = runtime(r["scenario"])
        base = hello.get((r["runtime"], r["concurrency"]))
        r["ratio_to_hello"] = round(r["result"]["rps"] / base, 3) if base else None
    checks = []
    for scenario, (min_ratio, max_p99) in TARGETS.items():
        run = next((r for r in runs if r["scenario"] == scenario and r["concurrency"] == 32), None)
        if run is None:
            continue
        ok = run["ratio_to_hello"] >= min_ratio and run["result"]["errors"] == 0
        if max_p99 is not None:
            ok = ok and run["result"]["p99_ms"] <= max_p99
        checks.append({"scenario": scenario, "concurrency": 32, "min_ratio": min_ratio,
                       "max_p99_ms": max_p99, "ratio": run["ratio_to_hello"],
                       "p99_ms": run["result"]["p99_ms"], "errors": run["result"]["errors"], "met": ok})
    top, share, scenarios = NO_COLLAPSE
    for scenario in scenarios:
        mine = {r["concurrency"]: r["result"] for r in runs if r["scenario"] == scenario}
        lower = [res["rps"] for c, res in mine.items() if c < top]
        if top not in mine or not lower:
            continue
        at_top = mine[top]
        ratio = round(at_top["rps"] / max(lower), 3)
        checks.append({"scenario": f"{scenario} no collapse", "concurrency": top, "min_share_of_best": share,
                       "share": ratio, "errors": at_top["errors"],
                       "met": ratio >= share and at_top["errors"] == 0})
    for scenario, max_p99 in TAIL_TARGETS.items():
        run = next((r for r in runs if r["scenario"] == scenario and r["concurrency"] == 32), None)
        if run is not None:
            checks.append({"scenario": f"{scenario} tail", "concurrency": 32, "max_p99_ms": max_p99,
                           "p99_ms": run["result"]["p99_ms"], "errors": run["result"]["errors"],
                           "met": run["result"]["p99_ms"] <= max_p99 and run["result"]["errors"] == 0})
    # Host CPU per request: each create beside its floor and its hello.
    cpu_of = {(r["scenario"], r["concurrency"]): r["host_cpu_us"] for r in runs if r.get("host_cpu_us")}
    floors = []
    for create, floor, hello_name in FLOORS:
        for c in sorted({r["concurrency"] for r in runs}):
            mine, low, base = (cpu_of.get((n, c)) for n in (create, floor, hello_name))
            if mine and low and base:
                floors.append({"scenario": create, "concurrency": c, "cpu_us": mine, "floor_cpu_us": low,
                               "hello_cpu_us": base, "create_over_hello": round(mine / base, 1),
                               "floor_over_hello": round(low / base, 1),
                               "create_over_floor": round(mine / low, 2)})
    create, hello_name, most = CPU_TARGET
    for c in sorted({r["concurrency"] for r in runs}):
        mine, base = cpu_of.get((create, c)), cpu_of.get((hello_name, c))
        if mine and base:
            checks.append({"scenario": f"{create} CPU", "concurrency": c, "max_times_hello": most,
                           "times_hello": round(mine / base, 1), "met": mine <= most * base})
    rss_mib = int(rss_kib) / 1024
    checks.append({"scenario": "host peak RSS", "max_mib": 64, "mib": round(rss_mib, 1), "met": rss_mib <= 64})
    spin_rss = __import__("os").environ.get("SPIN_PEAK_RSS_KIB")
    spin_rss_mib = round(int(spin_rss) / 1024, 1) if spin_rss else None
    wasm_mib = int(wasm_bytes) / 2**20
    checks.append({"scenario": ".wasm size", "max_mib": 1.5, "mib": round(wasm_mib, 3), "met": wasm_mib <= 1.5})
    # Each create beside its compared twin: medians over the rounds.
    pairs = []
    algorithms = sorted({r["scenario"] for r in runs
                         if r["scenario"].startswith("create-1-item@")
                         and r["scenario"].split("@")[1][:2] in ("RS", "PS", "ES", "Ed")})
    # A key-pair algorithm's creates beside HS256's; its JWKS host's beside
    # the same algorithm with the key configured (JWKS=1).
    twin_of = lambda a: a[:-len("-jwks")] if a.endswith("-jwks") else "create-1-item"
    for scenario, twin in [(a, twin_of(a)) for a in algorithms] + [
                           ("create-1-item", "create-1-item@compare"),
                           ("create-5-items", "create-5-items@compare"),
                           ("create-1-item@pg", "create-1-item@pg-compare"),
                           ("create-5-items@pg", "create-5-items@pg-compare"),
                           ("create-1-item@spin", "create-1-item@spin-compare"),
                           ("create-5-items@spin", "create-5-items@spin-compare")]:
        for c in sorted({r["concurrency"] for r in runs}):
            mine = [r for r in runs if r["scenario"] == scenario and r["concurrency"] == c]
            theirs = [r for r in runs if r["scenario"] == twin and r["concurrency"] == c]
            if not mine or not theirs:
                continue
            median = lambda rs, key: statistics.median(key(r) for r in rs)
            rps = lambda r: r["result"]["rps"]
            cpu = lambda r: r["host_cpu_us"] or 0
            p99 = lambda r: r["result"]["p99_ms"]
            pairs.append({
                "scenario": scenario, "concurrency": c, "rounds": min(len(mine), len(theirs)),
                "rps": round(median(mine, rps)), "rps_compare": round(median(theirs, rps)),
                "rps_ratio": round(median(mine, rps) / median(theirs, rps), 3),
                "cpu_us": round(median(mine, cpu)), "cpu_us_compare": round(median(theirs, cpu)),
                "cpu_ratio": round(median(mine, cpu) / max(median(theirs, cpu), 1), 3),
                "p99_ms": round(median(mine, p99), 1), "p99_ms_compare": round(median(theirs, p99), 1),
            })
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores, {platform.platform()}",
        "command": command,
        "compared_with": compared or None,
        "runs": runs,
        "create_breakdown_ms": breakdown,
        "instantiate_us": {
            "requests": len(instantiate_us),
            "median": statistics.median(instantiate_us) if instantiate_us else None,
            "p90": sorted(instantiate_us)[int(len(instantiate_us) * 0.9)] if instantiate_us else None,
        },
        "host_peak_rss_mib": round(rss_mib, 1),
        "spin_peak_rss_mib": spin_rss_mib,
        "wasm_bytes": int(wasm_bytes),
        "targets": checks,
        "compare_pairs": pairs,
        "floors": floors,
        "sqlite_prepare_cpu_us": sqlite_prepare,
    }


def table(path):
    report = json.load(open(path))
    print(f"{report['date']} — {report['machine']}")
    print(f"reproduce: {report['command']}")
    if report.get("compared_with"):
        print(f"@compare = the component built from {report['compared_with']}")
    print()
    print("| scenario | runtime | conc | req/s | × hello | p50 ms | p90 ms | p99 ms | errors | host CPU µs/req |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in report["runs"]:
        x = r["result"]
        ratio = "" if r["ratio_to_hello"] is None else f"{r['ratio_to_hello']:.2f}"
        cpu = "" if r.get("host_cpu_us") is None else f"{r['host_cpu_us']:.0f}"
        print(f"| {r['scenario']} | {r.get('runtime', 'spin-host')} | {r['concurrency']} | {x['rps']:.0f} | {ratio} | {x['p50_ms']:.2f} "
              f"| {x['p90_ms']:.2f} | {x['p99_ms']:.2f} | {x['errors']} | {cpu} |")
    print("\nmean ms per create inside the component (duration_ms = the whole request):")
    for tag, b in report["create_breakdown_ms"].items():
        print(f"  {tag}: " + ", ".join(f"{k} {v}" for k, v in b.items()))
    i = report["instantiate_us"]
    print(f"instantiation per request: median {i['median']} µs, p90 {i['p90']} µs ({i['requests']} requests)")
    print(f"host peak RSS {report['host_peak_rss_mib']} MiB (spin-host, SQLite); "
          f"real Spin {report.get('spin_peak_rss_mib')} MiB; .wasm {report['wasm_bytes']} bytes\n")
    if report.get("sqlite_prepare_cpu_us"):
        print("SQLite statements prepared by spin-host (SQLite instance, all scenarios; a new "
              "connection per request, so each request compiles again, its first statement "
              "parsing the schema):")
        for p in report["sqlite_prepare_cpu_us"]:
            each = "".join(f", {v} µs per {k[len('cpu_us_per_'):]}" for k, v in p.items()
                           if k.startswith("cpu_us_per_"))
            print(f"  {p['statement']}: {p['count']} times, {p['total_cpu_s']} s CPU in all, "
                  f"median {p['median_cpu_us']} µs{each}")
        print()
    if report.get("floors"):
        print("host CPU µs per request: each create beside its floor (bench/floor: the same "
              "Catalog calls and two durable writes, no logic) and its runtime's hello:")
        print("| create | conc | create | floor | hello | create ÷ hello | floor ÷ hello | create ÷ floor |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for f in report["floors"]:
            print(f"| {f['scenario']} | {f['concurrency']} | {f['cpu_us']:.0f} | {f['floor_cpu_us']:.0f} "
                  f"| {f['hello_cpu_us']:.0f} | {f['create_over_hello']} | {f['floor_over_hello']} "
                  f"| {f['create_over_floor']} |")
        print()
    for t in report["targets"]:
        print(("MET   " if t["met"] else "MISSED") + " " + json.dumps(t))
    if report.get("compare_pairs"):
        print("\nmedians over the rounds, each scenario vs its twin (@compare, or HS256's "
              "create-1-item for create-1-item@<algorithm>, @<algorithm> for @<algorithm>-jwks); ratios scenario / twin:")
        print("| scenario | conc | rounds | req/s | @compare | ratio | CPU µs/req | @compare | ratio "
              "| p99 ms | @compare |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for p in report["compare_pairs"]:
            print(f"| {p['scenario']} | {p['concurrency']} | {p['rounds']} | {p['rps']} | {p['rps_compare']} "
                  f"| {p['rps_ratio']:.2f} | {p['cpu_us']} | {p['cpu_us_compare']} | {p['cpu_ratio']:.2f} "
                  f"| {p.get('p99_ms', '')} | {p.get('p99_ms_compare', '')} |")


if __name__ == "__main__":
    if sys.argv[1] == "--table":
        table(sys.argv[2])
    else:
        print(json.dumps(build(*sys.argv[1:]), indent=2))
