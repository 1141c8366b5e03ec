#!/usr/bin/python3
"""priv's memory at rest on a real host's package lists (a benchmark, not a
test: it asserts nothing).  Starts one celeryrootd pair on a sandbox host
carrying this machine's APT lists and dpkg status (copied: apt and dpkg
never run against the machine itself), with `[daemon] apt_cache_idle`
(default 30 s), and in one run measures:

  - VmRSS and Private_Dirty (/proc/PID/smaps_rollup) of net, priv and the
    pair: fresh, with the cache open (3 s after the last hot query: what the
    pair kept at rest before priv gave its cache back), and after a quiet
    period (--quiet, 60 s) without a request;
  - the whole-process time of `celeryroot apt query bench-app --host H
    --json`: the first query after each quiet period (priv reopens the
    cache) and the median of --hot back-to-back queries (cache open).

With --idle -1 the key is not written, for a build from before it (which
keeps its cache open): `--builddir OLD --idle -1` gives the figures to
compare with.  `--ab OLD` instead times hot queries only, alternating
between a pair of the build in OLD and one of --builddir (each queried with
its own CLI), both on the same lists, so that the two medians share the
machine's noise.

usage: /usr/bin/python3 bench/mem_idle.py [--builddir DIR] [--idle 30] [--quiet 60] [--cycles 3] [--hot 15]
                                          [--ab OLD_BUILDDIR] [--out FILE]
Needs root and a built tree (./configure && make)."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
PKG = "bench-app"
PACKAGES = [{"name": "bench-lib", "version": "1.0"},
            {"name": "bench-app", "version": "1.0", "depends": "bench-lib"}]


def proc_kib(pid):
    """(VmRSS, Private_Dirty) of pid in KiB."""
    rss = dirty = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Private_Dirty:"):
                dirty = int(line.split()[1])
    return rss, dirty


def pair_mem(pair):
    """{net, priv, total: {rss_mib, private_dirty_mib}} of one pair."""
    out = {}
    for name, pid in (("priv", pair.pid), ("net", pair.net_pid())):
        rss, dirty = proc_kib(pid)
        out[name] = {"rss_mib": round(rss / 1024, 1), "private_dirty_mib": round(dirty / 1024, 1)}
    out["total"] = {k: round(out["priv"][k] + out["net"][k], 1) for k in out["priv"]}
    return out


def query(fleet, host):
    """Whole-process seconds of one query, checked."""
    t0 = time.monotonic()
    rc, out, err = fleet.cli("apt", "query", PKG, "--host", host, "--json")
    took = time.monotonic() - t0
    if rc != 0 or '"1.0"' not in out:
        raise SystemExit("query failed (%d): %s" % (rc, (out + err)[-800:]))
    return took


def run(a, harness, add_host_lists):
    res = {"config": {"apt_cache_idle_s": a.idle, "quiet_s": a.quiet, "cycles": a.cycles, "hot": a.hot}}
    config = {"heartbeat_interval": 5}
    if a.idle >= 0:
        config["apt_cache_idle"] = a.idle
    with harness.Fleet({"h001": ["bench"]}, config=config, packages=PACKAGES) as fleet:
        pair = fleet.pairs["h001"]
        res["fresh"] = pair_mem(pair)
        for args in (["apt", "update", "--all", "--json"], ["apt", "install", PKG, "--all", "--json"]):
            rc, out, err = fleet.cli(*args, timeout=300)
            if rc != 0:
                raise SystemExit("setup failed: %s: %s" % (" ".join(args), (out + err)[-800:]))
        add_host_lists(pair.root)
        res["first_query_real_lists_s"] = round(query(fleet, "h001"), 3)   # builds pkgcache.bin
        hot = [query(fleet, "h001") for _ in range(a.hot)]
        res["hot_query_median_s"] = round(statistics.median(hot), 3)
        res["hot_query_samples_s"] = [round(x, 3) for x in hot]
        time.sleep(3)
        res["cache_open"] = pair_mem(pair)
        after_idle = []
        for cycle in range(a.cycles):
            time.sleep(a.quiet if cycle == 0 else max(a.idle, 0) + 3)
            if cycle == 0:
                res["after_quiet"] = pair_mem(pair)
            after_idle.append(query(fleet, "h001"))
        res["first_query_after_idle_s"] = [round(x, 3) for x in after_idle]
        res["first_query_after_idle_median_s"] = round(statistics.median(after_idle), 3)
        res["releases_logged"] = pair.log().count("gave the APT cache back")
        with open(os.path.join(pair.root, "var/lib/dpkg/status")) as f:
            res["dpkg_status_packages"] = f.read().count("\nPackage: ") + 1
    return res


def real_lists_fleet(harness, add_host_lists, host, builddir, config):
    """A started one-pair fleet of builddir's programs on this machine's lists."""
    harness.BUILDDIR = builddir
    fleet = harness.Fleet({host: ["bench"]}, config=config, packages=PACKAGES)
    fleet.__enter__()
    for args in (["apt", "update", "--all", "--json"], ["apt", "install", PKG, "--all", "--json"]):
        rc, out, err = fleet.cli(*args, timeout=300)
        if rc != 0:
            fleet.__exit__(None, None, None)
            raise SystemExit("setup failed: %s: %s" % (" ".join(args), (out + err)[-800:]))
    add_host_lists(fleet.pairs[host].root)
    query(fleet, host)   # builds pkgcache.bin
    return fleet


def run_ab(a, harness, add_host_lists):
    """Hot queries, alternating between the old build's pair and this one's."""
    builds = {"old": os.path.abspath(a.ab), "new": os.path.abspath(a.builddir)}
    fleets = {}
    try:
        # Two host names: the CLI's known_hosts is the last fleet's, for both.
        fleets["old"] = real_lists_fleet(harness, add_host_lists, "old", builds["old"], {"heartbeat_interval": 5})
        fleets["new"] = real_lists_fleet(harness, add_host_lists, "new", builds["new"],
                                         {"heartbeat_interval": 5, "apt_cache_idle": a.idle})
        times = {"old": [], "new": []}
        for _ in range(a.hot):
            for name in ("old", "new"):
                harness.BUILDDIR = builds[name]
                times[name].append(query(fleets[name], name))
        return {"builds": builds, "hot": a.hot,
                "hot_query_median_s": {k: round(statistics.median(v), 4) for k, v in times.items()},
                "hot_query_samples_s": {k: [round(x, 4) for x in v] for k, v in times.items()}}
    finally:
        for name, fleet in fleets.items():
            harness.BUILDDIR = builds[name]
            fleet.__exit__(None, None, None)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--builddir", default=TOP)
    ap.add_argument("--idle", type=int, default=30, help="[daemon] apt_cache_idle, seconds (30; -1: not set)")
    ap.add_argument("--quiet", type=int, default=60, help="seconds without a request before measuring (60)")
    ap.add_argument("--cycles", type=int, default=3, help="quiet periods, each followed by a timed query (3)")
    ap.add_argument("--hot", type=int, default=15, help="back-to-back queries for the hot median (15)")
    ap.add_argument("--ab", metavar="OLD_BUILDDIR", help="only hot queries, alternating with this build's pair")
    ap.add_argument("--out", help="also write the results here (JSON)")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("mem_idle.py starts a celeryrootd pair on a dpkg sandbox: run it as root")
    os.environ["CELERYROOT_BUILDDIR"] = os.path.abspath(a.builddir)
    os.environ["CELERYROOT_SRCDIR"] = TOP
    sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
    sys.path.insert(0, HERE)
    import harness
    from run import add_host_lists
    res = run_ab(a, harness, add_host_lists) if a.ab else run(a, harness, add_host_lists)
    text = json.dumps(res, indent=1)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
