"""What listing kept-back packages costs an upgrade (issue 15): the
duration of `apt upgrade --check` on one sandbox host, as its record says
(priv's planning, the trials included), with N packages that a safe upgrade
must keep back because their new version conflicts with an installed
package (each costs a trial depcache, capped at 16 per request), against N
plain upgrades.  Sandbox lists are small; on a real host each trial is a
depcache over the host's whole package set (DESIGN §7).

  sudo CELERYROOT_BUILDDIR=$PWD /usr/bin/python3 bench/upgrade_kept.py [--out FILE]
"""
import argparse
import json
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
import harness  # noqa: E402

SIZES = (0, 4, 16, 32)
RUNS = 5


def packages(n):
    out = []
    for i in range(n):
        out += [{"name": "bk-rm%02d" % i, "version": "1.0"},
                {"name": "bk-kept%02d" % i, "version": "1.0"},
                {"name": "bk-kept%02d" % i, "version": "2.0", "control": {"Conflicts": "bk-rm%02d" % i}},
                {"name": "bk-up%02d" % i, "version": "1.0"}, {"name": "bk-up%02d" % i, "version": "2.0"}]
    return out


def measure(fleet, host, args):
    times = []
    for _ in range(RUNS):
        code, out, err = fleet.cli("apt", "upgrade", "--host", host, "--check", "--json", *args)
        assert code == 0, out + err
        times.append(json.loads(out)["hosts"][0]["duration_s"])
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    opts = ap.parse_args()
    harness.require_root()
    rows = []
    tmp = tempfile.mkdtemp()
    src = [harness.build_repo(os.path.join(tmp, "main"), packages(max(SIZES)))]
    with harness.Fleet({"bench01": ["bench"]}, sources=src) as fleet:
        code, out, err = fleet.cli("apt", "update", "--all")
        assert code == 0, out + err
        names = ["bk-%s%02d=1.0" % (k, i) for i in range(max(SIZES)) for k in ("rm", "kept", "up")]
        for i in range(0, len(names), 90):
            code, out, err = fleet.cli("apt", "install", *names[i:i + 90], "--all")
            assert code == 0, out + err
        every = ["bk-kept%02d" % i for i in range(max(SIZES))]
        for n in SIZES:
            # The packages beyond n are excluded: kept back without a trial.
            excl = [a for name in every[n:] for a in ("--exclude", name)]
            rows.append({"kept_with_trial": n, "median_s": measure(fleet, "bench01", excl)})
    base = rows[0]["median_s"]
    lines = ["| packages kept back by a conflict | `upgrade --check` (median of %d) | over none |" % RUNS,
             "|---|---|---|"]
    lines += ["| %d | %.3f s | %+.3f s |" % (r["kept_with_trial"], r["median_s"], r["median_s"] - base) for r in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if opts.out:
        with open(opts.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
