#!/usr/bin/python3
"""What signing results costs (a benchmark, not a test: it asserts nothing
about speed).  Starts N sandbox hosts (real celeryrootd pairs, one private
Redis) from the build in BUILDDIR and times whole CLI processes:
`celeryroot ping --all --json` and `celeryroot apt query bench-app --all
--json`, medians over --runs after a warm-up.  Run it once with a build
from before host keys and once with one after; with host keys every record
is signed by priv and verified by the CLI.

usage: /usr/bin/python3 bench/signing.py [--builddir DIR] [--hosts 20] [--runs 15]
Needs root and a built tree."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)


def timed(cli, url, env, *args):
    e = dict(os.environ, CELERYROOT_BROKER_URL=url, **env)
    t0 = time.monotonic()
    p = subprocess.run([cli] + list(args), capture_output=True, text=True, env=e, timeout=120)
    took = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit("%s failed (%d): %s" % (" ".join(args), p.returncode, p.stdout[-500:] + p.stderr[-500:]))
    return took, json.loads(p.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", default=TOP)
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--runs", type=int, default=15)
    a = ap.parse_args()
    os.environ["CELERYROOT_BUILDDIR"] = os.path.abspath(a.builddir)
    os.environ.setdefault("CELERYROOT_SRCDIR", TOP)
    sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
    import harness
    cli = os.path.join(os.environ["CELERYROOT_BUILDDIR"], "celeryroot")
    hosts = {"h%03d" % i: ["bench"] for i in range(1, a.hosts + 1)}
    packages = [{"name": "bench-lib", "version": "1.0"},
                {"name": "bench-app", "version": "1.0", "depends": "bench-lib"}]
    with harness.Fleet(hosts, packages=packages) as fleet:
        env = {"CELERYROOT_KNOWN_HOSTS": os.path.join(fleet.tmp, "known_hosts")}
        timed(cli, fleet.redis.url, env, "apt", "update", "--all", "--json")
        out = {}
        for name, args in (("ping --all", ["ping", "--all", "--json"]),
                           ("apt query --all", ["apt", "query", "bench-app", "--all", "--json"])):
            timed(cli, fleet.redis.url, env, *args)   # warm-up (and known_hosts learnt)
            samples = []
            for _ in range(a.runs):
                took, doc = timed(cli, fleet.redis.url, env, *args)
                assert len(doc["hosts"]) == a.hosts, doc
                samples.append(took)
            assert not any(r.get("forged") for r in doc["hosts"]), doc
            out[name] = {"median_ms": round(statistics.median(samples) * 1000, 1),
                         "p90_ms": round(sorted(samples)[int(len(samples) * 0.9) - 1] * 1000, 1)}
        print(json.dumps({"builddir": os.environ["CELERYROOT_BUILDDIR"], "hosts": a.hosts, "runs": a.runs,
                          "results": out}, indent=2))


if __name__ == "__main__":
    main()
