#!/usr/bin/python3
"""TLS cost (not a test; never part of `make check`).

Starts two fleets of N sandbox hosts side by side (real celeryrootd pairs on
dpkg sandboxes, tests/lib/harness.py), one on a plain redis-server and one
on a TLS-only redis-server (certificates made with openssl, verified by
every client: chain and name), and times whole CLI processes against each,
alternating plain and TLS in every round so that both see the same machine:
  - `celeryroot ping --all --json`
  - `celeryroot apt query bench-app --all --json`
  - `celeryroot hosts --json` (one connection and one read: the handshake's
    share of a short command)
Also net's idle RSS in each fleet (TLS adds OpenSSL and its context).
Medians over --runs after one warm-up round.  Writes OUT/results.md and
OUT/results.json.

usage: /usr/bin/python3 bench/tls.py [--hosts 20] [--runs 15] [--out bench/results-tls]
Needs root and a built tree (./configure && make)."""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
PACKAGES = [{"name": "bench-lib", "version": "1.0"},
            {"name": "bench-app", "version": "1.0", "depends": "bench-lib"}]


def timed(argv, url):
    t0 = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, CELERYROOT_BROKER_URL=url))
    return time.perf_counter() - t0, p


def mem_kb(pid, field):
    """Rss or Pss from smaps_rollup (Pss shares libssl's pages out)."""
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def check(kind, p, n):
    """The answer must be complete, or the sample does not count."""
    if p.returncode != 0:
        return "rc %d: %s" % (p.returncode, p.stderr[-300:])
    doc = json.loads(p.stdout)
    if kind == "hosts":
        got = len(doc if isinstance(doc, list) else doc.get("hosts", []))
    else:
        got = len(doc["hosts"])
    return None if got == n else "%d of %d hosts answered" % (got, n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--out", default=os.path.join(HERE, "results-tls"))
    args = ap.parse_args()
    os.environ.setdefault("CELERYROOT_BUILDDIR", TOP)
    os.environ.setdefault("CELERYROOT_SRCDIR", TOP)
    sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
    import harness
    import tlsredis

    started = time.time()
    n = args.hosts
    # Different names per fleet: each fleet keeps its own known_hosts, and
    # the CLI run against one must not meet the other's keys.
    names = {k: {"%s%03d" % (k[0], i): ["bench"] for i in range(1, n + 1)} for k in ("plain", "tls")}
    pki = tlsredis.temp_pki()
    repo_dir = os.path.join(pki.dir, "repo")
    sources = [harness.build_repo(repo_dir, PACKAGES)]
    cli = harness.cli_path()
    measures = {
        "ping": [cli, "ping", "--all", "--json"],
        "query": [cli, "apt", "query", "bench-app", "--all", "--json"],
        "hosts": [cli, "hosts", "--json"],
    }
    samples = {(m, k): [] for m in measures for k in ("plain", "tls")}
    failures = []
    fleets = {"plain": harness.Fleet(names["plain"], sources=sources),
              "tls": harness.Fleet(names["tls"], sources=sources, redis_factory=lambda a: tlsredis.TLSRedis(pki))}
    try:
        for f in fleets.values():
            f.__enter__()
            dt, p = timed([cli, "apt", "update", "--all"], f.redis.url)
            if p.returncode != 0:
                raise SystemExit("apt update failed: " + p.stderr)
        for run in range(args.runs + 1):
            for m, argv in measures.items():
                order = ("plain", "tls") if run % 2 == 0 else ("tls", "plain")
                for kind in order:
                    os.environ["CELERYROOT_KNOWN_HOSTS"] = fleets[kind].known_hosts
                    dt, p = timed(argv, fleets[kind].redis.url)
                    bad = check(m, p, n)
                    if bad:
                        failures.append({"measure": m, "kind": kind, "run": run, "why": bad})
                    elif run > 0:
                        samples[(m, kind)].append(dt)
        time.sleep(3)
        rss = {k: statistics.median(mem_kb(p.net_pid(), "Rss") for p in f.pairs.values()) for k, f in fleets.items()}
        pss = {k: statistics.median(mem_kb(p.net_pid(), "Pss") for p in f.pairs.values()) for k, f in fleets.items()}
    finally:
        for f in fleets.values():
            f.__exit__(None, None, None)
        tlsredis.remove(pki)

    med = {"%s/%s" % k: statistics.median(v) if v else None for k, v in samples.items()}
    doc = {"date": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"), "hosts": n, "runs": args.runs,
           "machine": "%s, %d cores" % (platform.machine(), os.cpu_count()), "samples":
           {"%s/%s" % k: v for k, v in samples.items()}, "medians_s": med, "net_rss_kb": rss, "net_pss_kb": pss,
           "failures": failures, "seconds": round(time.time() - started, 1)}
    for fl in failures[:5]:
        sys.stderr.write("failed sample: %s\n" % fl)
    rows = [("`celeryroot ping --all --json`", "ping"), ("`celeryroot apt query bench-app --all --json`", "query"),
            ("`celeryroot hosts --json` (one connection)", "hosts")]
    lines = ["# TLS cost: plain Redis vs TLS (bench/tls.py)", "",
             "%s; %s; %d sandbox hosts per fleet, both fleets up together, plain and TLS alternating; "
             "medians of %d runs after one warm-up; whole CLI processes; %s s in all." %
             (doc["date"], doc["machine"], n, args.runs, doc["seconds"]), "",
             "| measurement (median) | plain | TLS | TLS - plain |", "|---|---:|---:|---:|"]
    for label, m in rows:
        a, b = med[m + "/plain"], med[m + "/tls"]
        if a is None or b is None:
            lines.append("| %s | %s | %s | |" % (label, a, b))
            continue
        lines.append("| %s | %.1f ms | %.1f ms | %+.1f ms |" % (label, a * 1e3, b * 1e3, (b - a) * 1e3))
    lines.append("| net idle RSS (median over the fleet) | %.1f MiB | %.1f MiB | %+.1f MiB |" %
                 (rss["plain"] / 1024, rss["tls"] / 1024, (rss["tls"] - rss["plain"]) / 1024))
    lines.append("| net idle PSS (median over the fleet) | %.1f MiB | %.1f MiB | %+.1f MiB |" %
                 (pss["plain"] / 1024, pss["tls"] / 1024, (pss["tls"] - pss["plain"]) / 1024))
    lines += ["", "Failed samples: %d%s" % (len(failures), "" if not failures else " (results.json)")]
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(doc, f, indent=1)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
