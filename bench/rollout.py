#!/usr/bin/python3
"""What a rollout costs over a plain fan-out (a benchmark, not a test: it
asserts nothing about speed).  Starts N sandbox hosts (real celeryrootd
pairs, one private Redis, signing on) and times whole CLI processes:

  plain    celeryroot apt install PKG --all --json
  rollout  celeryroot apt install PKG --all --batch 100% --json
           (one wave: the plan and every envelope stored first, then the
           wave pushed under WATCH, results polled by the driver)

each for a no-op install (every host answers "unchanged") and for a real
install of a package new on every host (a fresh package per run), medians
over --runs.

usage: /usr/bin/python3 bench/rollout.py [--builddir DIR] [--hosts 20] [--runs 7]
Needs root and a built tree."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)


def timed(cli, url, *args, rc=0):
    e = dict(os.environ, CELERYROOT_BROKER_URL=url)
    t0 = time.monotonic()
    p = subprocess.run([cli] + list(args), capture_output=True, text=True, env=e, timeout=300)
    took = time.monotonic() - t0
    if p.returncode != rc:
        raise SystemExit("%s failed (%d): %s" % (" ".join(args), p.returncode, p.stdout[-500:] + p.stderr[-500:]))
    return took, json.loads(p.stdout)


def check(doc, hosts, status):
    got = {r["host"]: r["status"] for r in doc["hosts"]}
    if got != {h: status for h in hosts}:
        raise SystemExit("unexpected records: %s" % got)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", default=TOP)
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--runs", type=int, default=7)
    a = ap.parse_args()
    os.environ["CELERYROOT_BUILDDIR"] = os.path.abspath(a.builddir)
    os.environ.setdefault("CELERYROOT_SRCDIR", TOP)
    sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
    import harness
    cli = os.path.join(os.environ["CELERYROOT_BUILDDIR"], "celeryroot")
    hosts = {"h%03d" % i: ["bench"] for i in range(1, a.hosts + 1)}
    fresh = ["bench-p%d-%s" % (i, kind) for i in range(a.runs + 1) for kind in ("plain", "rollout")]
    packages = [{"name": "bench-app", "version": "1.0"}] + [{"name": n, "version": "1.0"} for n in fresh]
    keys = tempfile.TemporaryDirectory()
    trusted, key = harness.trusted_key(keys.name)
    os.environ["CELERYROOT_SIGNING_KEY"] = key
    samples = {"plain no-op": [], "rollout no-op": [], "plain install": [], "rollout install": []}
    with harness.Fleet(hosts, packages=packages,
                       config={"trusted_keys": trusted, "require_signed": "true"}) as fleet:
        url = fleet.redis.url
        timed(cli, url, "apt", "update", "--all", "--json")
        timed(cli, url, "apt", "install", "bench-app", "--all", "--json")
        for run in range(a.runs + 1):   # run 0 warms up
            for kind, extra in (("plain", []), ("rollout", ["--batch", "100%"])):
                t, doc = timed(cli, url, "apt", "install", "bench-app", "--all", "--json", *extra)
                check(doc, hosts, "unchanged")
                if run:
                    samples[kind + " no-op"].append(t)
                t, doc = timed(cli, url, "apt", "install", "bench-p%d-%s" % (run, kind), "--all", "--json", *extra)
                check(doc, hosts, "changed")
                if run:
                    samples[kind + " install"].append(t)
    keys.cleanup()
    print("%d hosts, %d runs, signing on; whole CLI processes, median (min..max) in seconds" % (a.hosts, a.runs))
    for name, v in samples.items():
        print("  %-16s %.3f  (%.3f..%.3f)" % (name, statistics.median(v), min(v), max(v)))
    for what in ("no-op", "install"):
        d = statistics.median(samples["rollout " + what]) - statistics.median(samples["plain " + what])
        print("  rollout overhead, %s: %+.3f s" % (what, d))


if __name__ == "__main__":
    main()
