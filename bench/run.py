#!/usr/bin/python3
"""Celeryroot benchmark (not a test; never part of `make check`).

Starts N sandbox hosts (real celeryrootd pairs on dpkg sandboxes, one private
Redis), preinstalls a small package everywhere, and times the same work done
by:
  - the celeryroot CLI (whole process): `apt query PKG --all --json` and the
    no-op `apt install PKG --all --json`;
  - plain Python Celery (Debian python3-celery): one `-P solo` worker per host
    whose task runs dpkg-query / apt-get on that sandbox, driven by a Python
    client process that sends one task per host and waits for all results;
  - Ansible ad-hoc (Debian ansible-core, connection local, forks = N) running
    the same dpkg-query;
and, host by host, a no-op install through celeryroot vs `apt-get install`
of the installed package run directly in the same sandbox.  Also the idle
RSS of one celeryrootd pair (priv + net) vs one idle Celery solo worker.

Medians over --runs after one warm-up round.  Prints a markdown table and
writes OUT/results.md, OUT/results.json and OUT/bench.png.

usage: /usr/bin/python3 bench/run.py [--sizes 5,20,50] [--runs 5] [--out bench/results]
Needs root, a built tree (./configure && make), ansible-core and gnuplot
(or python3-matplotlib); --install-tools installs the missing ones with
apt-get on this machine (tools only: apt never runs against a host under
test, only against sandbox roots)."""
import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
PYTHON = "/usr/bin/python3"
PKG = "bench-app"
PKG_VERSION = "1.0"
PACKAGES = [
    {"name": "bench-lib", "version": "1.0"},
    {"name": "bench-app", "version": PKG_VERSION, "depends": "bench-lib"},
]
CMD_TIMEOUT = 600

harness = None  # tests/lib/harness.py, imported in main() once the env is set


class BenchError(Exception):
    pass


def _interrupt(signum, _frame):
    raise KeyboardInterrupt("signal %d" % signum)


# ---------------------------------------------------------------- helpers

def timed(argv, env=None, cwd=None, timeout=CMD_TIMEOUT):
    """Runs argv to completion; returns (wall seconds, rc, stdout, stderr)."""
    t0 = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    return time.perf_counter() - t0, p.returncode, p.stdout, p.stderr


def children(pid):
    out = []
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for t in tasks:
        try:
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                out += [int(k) for k in f.read().split()]
        except OSError:
            pass
    return out


def tree(pid):
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo += children(p)
    return pids


def mem_kb(pid):
    """(VmRSS, Pss) of one process in kB."""
    rss = pss = 0
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def tree_mem_kb(pid):
    """Sum of (VmRSS, Pss) over pid and its descendants, their count, and
    the VmRSS of pid alone."""
    pids = tree(pid)
    rss = pss = 0
    for p in pids:
        r, s = mem_kb(p)
        rss += r
        pss += s
    return rss, pss, len(pids), mem_kb(pid)[0]


def median(xs):
    return statistics.median(xs) if xs else None


def tail(text, n=2000):
    text = text or ""
    return text if len(text) <= n else "..." + text[-n:]


# ---------------------------------------------------------------- one size

def add_host_lists(root):
    """--host-lists: makes a sandbox look like this machine to APT: its
    sources, its downloaded lists (copied, never linked) and its dpkg status
    (appended to the sandbox's own).  Only files are read from the machine;
    apt and dpkg never run against it."""
    for name in os.listdir("/etc/apt/sources.list.d"):
        if name.endswith((".list", ".sources")):
            shutil.copy("/etc/apt/sources.list.d/" + name,
                        os.path.join(root, "etc/apt/sources.list.d", "machine-" + name))
    if os.path.exists("/etc/apt/sources.list"):
        shutil.copy("/etc/apt/sources.list", os.path.join(root, "etc/apt/sources.list.d/machine.list"))
    lists = "/var/lib/apt/lists"
    for name in os.listdir(lists):
        path = os.path.join(lists, name)
        if os.path.isfile(path) and name != "lock":
            shutil.copy(path, os.path.join(root, "var/lib/apt/lists", name))
    with open("/var/lib/dpkg/status") as f:
        machine = f.read()
    with open(os.path.join(root, "var/lib/dpkg/status"), "a") as f:
        f.write("\n" + machine.strip("\n") + "\n")


class SizeBench:
    def __init__(self, n, runs, errors, host_lists=False):
        self.n = n
        self.runs = runs
        self.host_lists = host_lists
        self.errors = errors      # shared list of dicts
        self.hostnames = ["h%03d" % i for i in range(1, n + 1)]
        self.samples = {}         # measure -> [seconds]
        self.failures = {}        # measure -> count
        self.workers = {}         # host -> Popen
        self.fleet = None
        self.extra = {}

    # -- bookkeeping
    def error(self, measure, run, what, **detail):
        rec = {"n": self.n, "measure": measure, "run": run, "what": what}
        rec.update(detail)
        self.errors.append(rec)
        sys.stderr.write("!! N=%d %s run %s: %s\n" % (self.n, measure, run, what))
        for k, v in detail.items():
            sys.stderr.write("   %s: %s\n" % (k, str(v).rstrip()[:3000]))

    def sample(self, measure, run, seconds, ok):
        if run == 0:              # the warm-up round
            return
        if ok:
            self.samples.setdefault(measure, []).append(seconds)
        else:
            self.failures[measure] = self.failures.get(measure, 0) + 1

    # -- celeryroot CLI
    def cli(self, *args):
        wall, rc, out, err = timed([harness.cli_path()] + list(args),
                                   env=dict(os.environ, CELERYROOT_BROKER_URL=self.fleet.redis.url))
        return wall, rc, out, err

    def cli_records(self, measure, run, args, expect_status, check=None, hosts=None):
        wall, rc, out, err = self.cli(*args)
        recs, ok = {}, rc == 0
        try:
            recs = {r["host"]: r for r in json.loads(out)["hosts"]}
        except (ValueError, KeyError, TypeError):
            ok = False
        bad = {h: r for h, r in recs.items()
               if r.get("status") != expect_status or (check and not check(r))}
        missing = sorted(set(hosts or self.hostnames) - set(recs))
        if not ok or bad or missing:
            self.error(measure, run, "celeryroot %s: rc %d, %d of %d hosts as expected"
                       % (" ".join(args), rc, len(recs) - len(bad), len(hosts or self.hostnames)),
                       stderr=tail(err), missing=missing[:20],
                       bad_records=json.dumps(list(bad.values())[:5], indent=1)[:3000]
                       if bad else "", stdout=tail(out) if not recs else "")
            ok = False
        return wall, ok, recs

    # -- setup
    def setup(self):
        t0 = time.monotonic()
        fleet = harness.Fleet({h: ["bench"] for h in self.hostnames},
                              config={"heartbeat_interval": 5}, packages=PACKAGES)
        try:
            fleet.__enter__()         # cleans up after itself when it fails
        except AssertionError as e:
            raise BenchError("fleet of %d did not start: %s" % (self.n, e))
        self.fleet = fleet
        self.extra["fleet_start_s"] = round(time.monotonic() - t0, 3)
        self.work = os.path.join(self.fleet.tmp, "bench")
        os.makedirs(self.work)
        self.pair_mem_fresh = [tree_mem_kb(p.pid) for p in self.fleet.pairs.values()]

        for args, status in ((["apt", "update", "--all", "--json"], "changed"),
                             (["apt", "install", PKG, "--all", "--json"], "changed")):
            wall, ok, _ = self.cli_records("setup", 0, args, status)
            if not ok:
                raise BenchError("setup failed: celeryroot %s" % " ".join(args))
            self.extra["setup " + " ".join(args[:2])] = round(wall, 3)

        if self.host_lists:
            for h in self.hostnames:
                add_host_lists(self.fleet.pairs[h].root)
            wall, ok, _ = self.cli_records("setup", 0, ["apt", "query", PKG, "--all", "--json"],
                                           "unchanged")
            if not ok:
                raise BenchError("setup failed: query after adding the machine's lists")

        # apt-get's view of each sandbox (the recipe of DESIGN §6).
        self.aptconf = {}
        for h in self.hostnames:
            path = os.path.join(self.work, "apt-%s.conf" % h)
            with open(path, "w") as f:
                f.write('Dir "%s/";\n' % self.fleet.pairs[h].root)
            self.aptconf[h] = path

        self.start_celery()
        self.write_ansible()

    def start_celery(self):
        t0 = time.monotonic()
        self.celery_url = self.fleet.redis.url.rsplit("/", 1)[0] + "/1"
        logs = os.path.join(self.work, "celery")
        os.makedirs(logs)
        for h in self.hostnames:
            env = dict(os.environ, PYTHONPATH=HERE, BENCH_BROKER=self.celery_url,
                       BENCH_SANDBOX=self.fleet.pairs[h].root, BENCH_APT_CONF=self.aptconf[h],
                       BENCH_READY=os.path.join(logs, h + ".ready"))
            log = os.path.join(logs, h + ".log")
            self.workers[h] = subprocess.Popen(
                [PYTHON, "-m", "celery", "-A", "benchapp", "worker", "-P", "solo",
                 "-Q", "host." + h, "-n", h + "@bench", "--without-gossip", "--without-mingle",
                 "--without-heartbeat", "-l", "WARNING", "--logfile", log],
                cwd=HERE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)

        def ready():
            for h, p in self.workers.items():
                if p.poll() is not None:
                    raise BenchError("celery worker for %s exited (rc %s): %s"
                                     % (h, p.returncode, tail(open(os.path.join(logs, h + ".log"),
                                                                   errors="replace").read())))
            return all(os.path.exists(os.path.join(logs, h + ".ready")) for h in self.hostnames)
        harness.wait_for(ready, 60 + 3 * self.n, interval=0.2)
        self.extra["celery_workers_start_s"] = round(time.monotonic() - t0, 3)
        self.celery_mem_fresh = [tree_mem_kb(p.pid) for p in self.workers.values()]

    def write_ansible(self):
        d = os.path.join(self.work, "ansible")
        os.makedirs(os.path.join(d, "home"))
        self.ansible_inv = os.path.join(d, "inventory.ini")
        with open(self.ansible_inv, "w") as f:
            f.write("[bench]\n")
            for h in self.hostnames:
                f.write("%s sandbox=%s\n" % (h, self.fleet.pairs[h].root))
            f.write("\n[all:vars]\nansible_connection=local\n"
                    "ansible_python_interpreter=%s\n" % PYTHON)
        cfg = os.path.join(d, "ansible.cfg")      # empty: ignore /etc/ansible/ansible.cfg
        open(cfg, "w").close()
        self.ansible_env = dict(os.environ, ANSIBLE_CONFIG=cfg,
                                ANSIBLE_HOME=os.path.join(d, "home"),
                                ANSIBLE_LOCAL_TEMP=os.path.join(d, "local-tmp"),
                                ANSIBLE_REMOTE_TEMP=os.path.join(d, "remote-tmp"),
                                ANSIBLE_NOCOLOR="1", ANSIBLE_HOST_KEY_CHECKING="False",
                                ANSIBLE_RETRY_FILES_ENABLED="False", LC_ALL="C.UTF-8")

    # -- the fleet-wide measures, one of each per round
    def m_cr_query(self, run):
        def check(r):
            p = ((r.get("data") or {}).get("packages") or {}).get(PKG) or {}
            return p.get("installed") == PKG_VERSION
        wall, ok, _ = self.cli_records("cr_query", run, ["apt", "query", PKG, "--all", "--json"],
                                       "unchanged", check)
        self.sample("cr_query", run, wall, ok)

    def m_cr_install(self, run):
        wall, ok, recs = self.cli_records("cr_install", run,
                                          ["apt", "install", PKG, "--all", "--json"], "unchanged")
        self.sample("cr_install", run, wall, ok)
        if run and ok:
            self.samples.setdefault("cr_install_fleet_record", []).extend(
                r["duration_s"] for r in recs.values())

    def celery_client(self, op, run):
        measure = "celery_" + op
        env = dict(os.environ, BENCH_BROKER=self.celery_url, BENCH_TIMEOUT="300")
        wall, rc, out, err = timed([PYTHON, os.path.join(HERE, "celery_client.py"), op, PKG]
                                   + self.hostnames, env=env)
        ok = rc == 0
        try:
            doc = json.loads(out.strip().splitlines()[-1])
            ok = ok and doc["ok"] == self.n
        except (ValueError, IndexError, KeyError):
            doc, ok = None, False
        if not ok:
            self.error(measure, run, "celery client %s: rc %d" % (op, rc), stderr=tail(err),
                       stdout=tail(out))
        elif run:
            self.samples.setdefault(measure + "_task", []).extend(doc["durations"].values())
            # per run, the slowest send -> task start, and first task end -> all results in
            self.samples.setdefault(measure + "_delivery_max", []).append(
                max(doc["delivery"].values()))
            self.samples.setdefault(measure + "_collect_max", []).append(
                max(doc["result"].values()))
        self.sample(measure, run, wall, ok)

    def m_celery_query(self, run):
        self.celery_client("query", run)

    def m_celery_install(self, run):
        self.celery_client("install", run)

    def m_ansible_query(self, run):
        cmd = "dpkg-query --admindir={{ sandbox }}/var/lib/dpkg -W %s" % PKG
        wall, rc, out, err = timed(["ansible", "all", "-i", self.ansible_inv, "-f", str(self.n),
                                    "-c", "local", "-m", "command", "-a", cmd],
                                   env=self.ansible_env)
        good = sum(1 for line in out.splitlines()
                   if " | CHANGED | rc=0" in line or " | SUCCESS | rc=0" in line)
        ok = rc == 0 and good == self.n
        if not ok:
            self.error("ansible_query", run, "ansible: rc %d, %d of %d hosts ok" % (rc, good, self.n),
                       stderr=tail(err), stdout=tail(out))
        self.sample("ansible_query", run, wall, ok)

    # -- per host, one host at a time
    def per_host(self, run):
        for h in self.hostnames:
            root = self.fleet.pairs[h].root
            wall, ok, recs = self.cli_records("host_cr_install", run,
                                              ["apt", "install", PKG, "--host", h, "--json"],
                                              "unchanged", hosts=[h])
            if ok and h not in recs:
                ok = False
            self.sample("host_cr_install_cli", run, wall, ok)
            self.sample("host_cr_install_record", run, recs[h]["duration_s"] if ok else None, ok)

            env = dict(os.environ, APT_CONFIG=self.aptconf[h], LC_ALL="C",
                       DEBIAN_FRONTEND="noninteractive")
            wall, rc, out, err = timed(["apt-get", "install", "-y", "-q",
                                        "-o", "DPkg::Options::=--root=" + root,
                                        "-o", "DPkg::Options::=--force-script-chrootless",
                                        "-o", "DPkg::Options::=--force-confdef",
                                        "-o", "DPkg::Options::=--force-confold", PKG], env=env)
            ok = rc == 0 and "is already the newest version" in out
            if not ok:
                self.error("host_aptget_install", run, "apt-get install on %s: rc %d" % (h, rc),
                           stderr=tail(err), stdout=tail(out))
            self.sample("host_aptget_install", run, wall, ok)

            wall, rc, out, err = timed(["dpkg-query", "--admindir=%s/var/lib/dpkg" % root,
                                        "-W", PKG])
            ok = rc == 0 and out.split() == [PKG, PKG_VERSION]
            if not ok:
                self.error("host_dpkg_query", run, "dpkg-query on %s: rc %d" % (h, rc),
                           stderr=tail(err), stdout=tail(out))
            self.sample("host_dpkg_query", run, wall, ok)

    def measure_memory(self):
        time.sleep(3)   # let everything go idle
        pairs = [tree_mem_kb(p.pid) for p in self.fleet.pairs.values()]
        workers = [tree_mem_kb(p.pid) for p in self.workers.values()]
        for name, vals in (("rss_pair", pairs), ("rss_celery", workers),
                           ("rss_pair_fresh", self.pair_mem_fresh),
                           ("rss_celery_fresh", self.celery_mem_fresh)):
            self.samples[name] = [v[0] / 1024.0 for v in vals]
            self.samples[name.replace("rss", "pss")] = [v[1] / 1024.0 for v in vals]
        self.samples["rss_pair_priv_only"] = [v[3] / 1024.0 for v in pairs]
        self.samples["rss_pair_net_only"] = [(v[0] - v[3]) / 1024.0 for v in pairs]
        self.extra["processes_per_pair"] = sorted(set(v[2] for v in pairs))
        self.extra["processes_per_celery_worker"] = sorted(set(v[2] for v in workers))

    def check_daemons(self):
        """Pairs that died or logged errors during the benchmark."""
        for name, pair in self.fleet.pairs.items():
            if pair.proc.poll() is not None:
                self.error("daemons", None, "pair %s exited with %s" % (name, pair.proc.returncode),
                           log=tail(pair.log(), 3000))
        worst = [(name, [line for line in pair.log().splitlines()
                         if " error" in line.lower() or "warning" in line.lower()])
                 for name, pair in self.fleet.pairs.items()]
        worst = [(n, lines) for n, lines in worst if lines]
        if worst:
            self.extra["daemon_log_warnings"] = {n: lines[:5] for n, lines in worst[:5]}

    def health(self):
        """Stops this size early when the broker or a pair died (the error is kept)."""
        if self.fleet.redis.proc.poll() is not None:
            raise BenchError("redis-server exited with %s" % self.fleet.redis.proc.returncode)
        dead = [n for n, p in self.fleet.pairs.items() if p.proc.poll() is not None]
        if dead:
            pair = self.fleet.pairs[dead[0]]
            raise BenchError("%d pair(s) exited (%s...); %s exited with %s, log:\n%s"
                             % (len(dead), ", ".join(dead[:5]), dead[0], pair.proc.returncode,
                                tail(pair.log(), 3000)))
        dead = [n for n, p in self.workers.items() if p.poll() is not None]
        if dead:
            raise BenchError("celery worker(s) exited: %s" % ", ".join(dead[:5]))

    # -- the whole thing
    def run(self):
        measures = [self.m_cr_query, self.m_cr_install, self.m_celery_query,
                    self.m_celery_install, self.m_ansible_query]
        try:
            self.setup()
            for run in range(self.runs + 1):
                label = "warm-up" if run == 0 else "run %d/%d" % (run, self.runs)
                sys.stderr.write("N=%d fleet-wide %s\n" % (self.n, label))
                for m in measures:
                    self.health()
                    m(run)
            for run in range(self.runs + 1):
                sys.stderr.write("N=%d per host %s\n" % (self.n, "warm-up" if run == 0 else
                                                          "run %d/%d" % (run, self.runs)))
                self.health()
                self.per_host(run)
            self.measure_memory()
            self.check_daemons()
        except BenchError as e:
            self.error("setup", None, str(e))
        finally:
            self.stop()
        return {"medians": {k: median(v) for k, v in self.samples.items()},
                "counts": {k: len(v) for k, v in self.samples.items()},
                "failures": self.failures, "extra": self.extra,
                "samples": {k: [round(x, 6) for x in v] for k, v in self.samples.items()}}

    def stop(self):
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)   # a second Ctrl-C: still clean up
        try:
            self._stop()
        finally:
            signal.signal(signal.SIGINT, old)

    def _stop(self):
        for p in self.workers.values():
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 15
        for p in self.workers.values():
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        if self.fleet is not None:
            self.fleet.__exit__(None, None, None)


# ---------------------------------------------------------------- output

ROWS = [
    ("cr_query", "celeryroot `apt query PKG --all --json`, whole process", "s"),
    ("celery_query", "Python Celery client, dpkg-query task on every host (-P solo workers)", "s"),
    ("ansible_query", "Ansible ad-hoc `command: dpkg-query` (local, forks = N)", "s"),
    ("cr_install", "celeryroot `apt install PKG --all --json` (no-op), whole process", "s"),
    ("celery_install", "Python Celery client, `apt-get install` task on every host (no-op)", "s"),
    ("cr_install_fleet_record", "  celeryroot no-op install: record `duration_s` per host, in the --all run", "s"),
    ("celery_install_task", "  Celery no-op install: apt-get time per host inside the task, in the fleet run", "s"),
    ("host_cr_install_record", "per host, one at a time: celeryroot no-op install, record `duration_s`", "s"),
    ("host_cr_install_cli", "per host, one at a time: `celeryroot apt install PKG --host H --json`, whole process", "s"),
    ("host_aptget_install", "per host, one at a time: `apt-get install -y PKG` (installed) in the sandbox", "s"),
    ("host_dpkg_query", "per host, one at a time: `dpkg-query -W PKG` in the sandbox", "s"),
    ("rss_pair", "idle RSS of one celeryrootd pair (priv + net), after the runs", "MiB"),
    ("rss_pair_priv_only", "  of which priv", "MiB"),
    ("rss_pair_net_only", "  of which net", "MiB"),
    ("rss_celery", "idle RSS of one Celery `-P solo` worker, after the runs", "MiB"),
    ("pss_pair", "  idle PSS of one celeryrootd pair (priv + net)", "MiB"),
    ("pss_celery", "  idle PSS of one Celery `-P solo` worker", "MiB"),
]


def fmt(value, unit):
    if value is None:
        return "—"
    if unit == "MiB":
        return "%.1f MiB" % value
    if value < 0.01:
        return "%.1f ms" % (value * 1e3)
    if value < 1:
        return "%.0f ms" % (value * 1e3)
    return "%.2f s" % value


def markdown(results, sizes, runs):
    head = "| measurement (median) | " + " | ".join("N = %d" % n for n in sizes) + " |"
    lines = [head, "|---|" + "---:|" * len(sizes)]
    for key, label, unit in ROWS:
        cells = []
        for n in sizes:
            r = results.get(n)
            if r is None:
                cells.append("—")
                continue
            cell = fmt(r["medians"].get(key), unit)
            failed = r["failures"].get(key) or (
                r["failures"].get("host_cr_install_cli") if key.startswith("host_cr") else 0)
            if failed:
                cell += " (%d failed)" % failed
            cells.append(cell)
        lines.append("| %s | %s |" % (label, " | ".join(cells)))
    return "\n".join(lines) + "\n"


def machine():
    def first(path, prefix):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith(prefix):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return "?"
    os_name = "?"
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    versions = {}
    p = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\n", "python3-celery",
                        "python3-kombu", "ansible-core", "redis-server", "apt", "dpkg"],
                       capture_output=True, text=True)
    for line in p.stdout.splitlines():
        name, _, ver = line.partition(" ")
        versions[name] = ver
    try:
        mem = "%.0f GiB" % (int(first("/proc/meminfo", "MemTotal").split()[0]) / 1048576.0)
    except ValueError:
        mem = "?"
    return {"cpu": first("/proc/cpuinfo", "model name"), "cores": os.cpu_count(),
            "memory": mem, "os": os_name, "kernel": platform.release(), "versions": versions}


def plot(results, sizes, out_png, workdir):
    keys = [k for k, _, _ in ROWS]
    dat = os.path.join(workdir, "bench.dat")
    with open(dat, "w") as f:
        f.write("# N " + " ".join(keys) + "\n")
        for n in sizes:
            med = results.get(n, {}).get("medians", {})
            f.write("%d %s\n" % (n, " ".join("NaN" if med.get(k) is None else repr(med[k])
                                              for k in keys)))
    col = {k: i + 2 for i, k in enumerate(keys)}
    panels = [
        ("Fleet-wide query, whole client process (s)", True,
         [("cr_query", "celeryroot apt query --all"), ("celery_query", "Python Celery (dpkg-query)"),
          ("ansible_query", "Ansible ad-hoc (dpkg-query)")]),
        ("Fleet-wide no-op install, whole client process (s)", True,
         [("cr_install", "celeryroot apt install --all"),
          ("celery_install", "Python Celery (apt-get install)")]),
        ("Per host no-op install, one host at a time (s)", True,
         [("host_cr_install_record", "celeryroot record duration_s"),
          ("host_cr_install_cli", "celeryroot --host H, whole process"),
          ("host_aptget_install", "apt-get install, direct"),
          ("host_dpkg_query", "dpkg-query, direct")]),
        ("Idle memory per host agent (MiB)", False,
         [("rss_pair", "celeryrootd pair RSS"), ("rss_celery", "Celery solo worker RSS"),
          ("pss_pair", "celeryrootd pair PSS"), ("pss_celery", "Celery solo worker PSS")]),
    ]
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        plt = None
    if plt is not None:
        fig, axes = plt.subplots(2, 2, figsize=(14, 10))
        for ax, (title, logy, series) in zip(axes.flat, panels):
            for key, label in series:
                ys = [results.get(n, {}).get("medians", {}).get(key) for n in sizes]
                pts = [(n, y) for n, y in zip(sizes, ys) if y is not None]
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
            ax.set_title(title)
            ax.set_xlabel("hosts (N)")
            ax.set_xticks(sizes)
            if logy:
                ax.set_yscale("log")
            else:   # headroom above the lines for the legend
                ax.set_ylim(0, max([y for n in sizes for k, _ in series
                                    for y in [results.get(n, {}).get("medians", {}).get(k)]
                                    if y is not None] + [1]) * 1.6)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8, loc="upper left")
        fig.suptitle("Celeryroot benchmark (medians)")
        fig.tight_layout()
        fig.savefig(out_png, dpi=100)
        plt.close(fig)
        return "matplotlib"
    if shutil.which("gnuplot") is None:
        raise BenchError("no plotting tool: apt-get install -y gnuplot-nox (or python3-matplotlib)")
    script = ["set terminal pngcairo noenhanced size 1400,1000 font 'sans,10'",
              "set output '%s'" % out_png, "set datafile missing 'NaN'",
              "set multiplot layout 2,2 title 'Celeryroot benchmark (medians)'",
              "set xlabel 'hosts (N)'", "set key top left font ',8'", "set grid",
              "set xtics (%s)" % ", ".join(str(n) for n in sizes),
              "set xrange [0:%d]" % int(max(sizes) * 1.1)]
    for title, logy, series in panels:
        script.append("set title '%s'" % title)
        if logy:
            script.append("set logscale y")
        else:   # headroom above the lines for the key
            top = max([results.get(n, {}).get("medians", {}).get(k) or 0
                       for n in sizes for k, _ in series] + [1])
            script.append("unset logscale y; set yrange [0:%g]" % (top * 1.6))
        script.append("plot " + ", ".join("'%s' using 1:%d with linespoints lw 2 pt 7 title '%s'"
                                          % (dat, col[k], label) for k, label in series))
        if not logy:
            script.append("set yrange [*:*]")
    script.append("unset multiplot")
    p = subprocess.run(["gnuplot"], input="\n".join(script) + "\n", capture_output=True, text=True)
    if p.returncode != 0:
        raise BenchError("gnuplot failed: " + p.stderr)
    return "gnuplot"


def install_tools():
    missing = []
    if shutil.which("ansible") is None:
        missing.append("ansible-core")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        if shutil.which("gnuplot") is None:
            missing.append("gnuplot-nox")
    if missing:
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends"] + missing, check=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def main():
    global harness
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="5,20,50", help="host counts, comma-separated (5,20,50)")
    ap.add_argument("--runs", type=int, default=5, help="measured runs after one warm-up (5)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="results directory")
    ap.add_argument("--builddir", default=TOP, help="where celeryroot and celeryrootd were built")
    ap.add_argument("--host-lists", action="store_true",
                    help="copy this machine's APT sources, lists and dpkg status into every "
                         "sandbox (a realistic package universe instead of 2 packages)")
    ap.add_argument("--replot", action="store_true",
                    help="only rewrite OUT/results.md and OUT/bench.png from OUT/results.json")
    ap.add_argument("--install-tools", action="store_true",
                    help="apt-get install ansible-core / gnuplot-nox on this machine if missing")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if not sizes or min(sizes) < 1 or args.runs < 1:
        ap.error("--sizes needs positive integers and --runs at least 1")

    if args.replot:
        with open(os.path.join(args.out, "results.json")) as f:
            return write_outputs(json.load(f), args.out)
    if os.geteuid() != 0:
        sys.exit("run.py starts celeryrootd pairs on dpkg sandboxes: run it as root")
    if args.install_tools:
        install_tools()
    if shutil.which("ansible") is None:
        sys.exit("ansible not found: apt-get install -y ansible-core (or pass --install-tools)")
    for b in ("celeryroot", "celeryrootd"):
        if not os.access(os.path.join(args.builddir, b), os.X_OK):
            sys.exit("%s/%s not built: autoreconf -fi && ./configure && make" % (args.builddir, b))

    os.environ["CELERYROOT_BUILDDIR"] = os.path.abspath(args.builddir)
    os.environ["CELERYROOT_SRCDIR"] = TOP
    sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
    import harness as h
    harness = h

    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _interrupt)

    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.monotonic()
    results, errors = {}, []
    try:
        for n in sizes:
            sys.stderr.write("== N = %d\n" % n)
            t = time.monotonic()
            results[n] = SizeBench(n, args.runs, errors, args.host_lists).run()
            results[n]["extra"]["wall_s"] = round(time.monotonic() - t, 1)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: cleaned up, nothing written\n")
        return 130

    info = machine()
    os.makedirs(args.out, exist_ok=True)
    doc = {"date": started.isoformat(timespec="seconds"), "sizes": sizes, "runs": args.runs,
           "host_lists": args.host_lists,
           "machine": info, "total_wall_s": round(time.monotonic() - t0, 1),
           "results": {str(n): r for n, r in results.items()}, "errors": errors}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    return write_outputs(doc, args.out)


def write_outputs(doc, out):
    """results.md and bench.png from a results.json document; prints the table."""
    sizes, info, errors = doc["sizes"], doc["machine"], doc["errors"]
    results = {int(n): r for n, r in doc["results"].items()}
    started = datetime.datetime.fromisoformat(doc["date"])
    if doc.get("host_lists"):
        universe = ("this machine's APT sources and lists (Debian %s main, -updates, -security) and "
                    "its dpkg status added to the 2-package bench repository (--host-lists)"
                    % info["os"].split("(")[-1].rstrip(")"))
    else:
        universe = "the 2-package bench repository only (bench-app, bench-lib); dpkg status " \
                   "holds just those two"
    table = markdown(results, sizes, doc["runs"])
    plotter = plot(results, sizes, os.path.join(out, "bench.png"), out)
    os.unlink(os.path.join(out, "bench.dat"))

    md = ["# Celeryroot benchmark results", "",
          "%s UTC; %s, %d cores, %s RAM; %s, kernel %s." % (
              started.strftime("%Y-%m-%d %H:%M"), info["cpu"], info["cores"], info["memory"],
              info["os"], info["kernel"]),
          "Versions: %s." % ", ".join("%s %s" % kv for kv in sorted(info["versions"].items())),
          "Medians of %d runs after one warm-up; package `%s` (+ one dependency) installed on "
          "every sandbox host; plot by %s (`bench.png`); whole benchmark %.0f s."
          % (doc["runs"], PKG, plotter, doc["total_wall_s"]), "",
          "Package universe of each sandbox: %s." % universe, "",
          table]
    if errors:
        md += ["## Failures", ""]
        for e in errors[:50]:
            md.append("- N=%d %s run %s: %s" % (e["n"], e["measure"], e["run"], e["what"]))
        md.append("")
        md.append("Details in results.json (`errors`).")
        md.append("")
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(md))
    print(table)
    if errors:
        print("%d failures: see %s" % (len(errors), os.path.join(out, "results.md")))
    return 1 if errors else 0

if __name__ == "__main__":
    sys.exit(main())
