"""Fault helpers for the dpkg truth tests (tests/integration/test_dpkg_faults*.py):
packages whose maintainer scripts block where the test says, so that a kill
lands in a known dpkg phase; killing a pair's whole process tree at once, as
a power cut would; and reading back what dpkg, the audit log and the result
say.  Run with Debian's /usr/bin/python3."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import harness

# Every maintainer script of a fault package runs this.  It blocks while
# $DPKG_ROOT/block/<package>.<script>.<argument> exists (DPKG_ROOT is the
# sandbox: priv runs dpkg with --root and --force-script-chrootless), after
# saying so in $DPKG_ROOT/in/<same>; otherwise it does nothing.
BLOCKING_SCRIPT = r"""#!/bin/sh
P=${0##*[./]}
K="${DPKG_MAINTSCRIPT_PACKAGE}.${P}.${1}"
if [ -e "$DPKG_ROOT/block/$K" ]; then
    : > "$DPKG_ROOT/in/$K"
    while [ -e "$DPKG_ROOT/block/$K" ]; do sleep 0.1; done
fi
exit 0
"""


def build_debs(directory, packages):
    """packages: dicts with name, version, and optionally depends, scripts
    (names of maintainer scripts that run BLOCKING_SCRIPT), triggers (the
    DEBIAN/triggers text), files ({path: content}), size (bytes of random
    data in usr/share/<name>/blob, so that the .deb is that big).  The .debs
    go into directory; index it with harness.build_repo(directory, [])."""
    os.makedirs(directory, exist_ok=True)
    with tempfile.TemporaryDirectory() as build:
        for pkg in packages:
            root = harness.deb_tree(build, pkg, "fault test")
            for script in pkg.get("scripts", ()):
                harness.deb_script(root, script, BLOCKING_SCRIPT)
            if pkg.get("triggers"):
                with open(os.path.join(root, "DEBIAN", "triggers"), "w") as f:
                    f.write(pkg["triggers"])
            if pkg.get("size"):
                path = os.path.join(root, "usr", "share", pkg["name"], "blob")
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.write(os.urandom(pkg["size"]))
            harness.deb_build(root, directory, pkg, "-Znone")


# ---- blocking a script -----------------------------------------------------

def block(root, key):
    """key: "<package>.<script>.<argument>", e.g. "ct-pre.preinst.install"."""
    for d in ("block", "in"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    open(os.path.join(root, "block", key), "w").close()


def unblock(root, key):
    for d in ("block", "in"):
        try:
            os.unlink(os.path.join(root, d, key))
        except FileNotFoundError:
            pass


def wait_blocked(root, key, timeout=60):
    harness.wait_for(lambda: os.path.exists(os.path.join(root, "in", key)), timeout)


# ---- processes ---------------------------------------------------------------

def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def tree(pid):
    """pid and every descendant, found by walking /proc children."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p in found:
            continue
        found.append(p)
        todo.extend(children(p))
    return found


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def kill_tree(pair):
    """SIGKILL for the pair's whole tree at once (priv, net, the change
    worker, dpkg, the maintainer script, its sleep), as a power cut would
    stop them: everything is stopped first, so that nothing runs on between
    two kills, and what names the sandbox is included (a process that left
    the tree).  Returns the pids killed."""
    pids = set()
    for _ in range(5):   # until nothing new appears
        found = set(tree(pair.pid)) | set(harness.processes_mentioning(pair.root))
        for p in found - pids:
            try:
                os.kill(p, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        if found <= pids:
            break
        pids |= found
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    pair.proc.wait(10)
    harness.wait_for(lambda: not any(alive(p) for p in pids), 20)
    return sorted(pids)


# ---- what dpkg, the audit log and Redis say ------------------------------------

def dpkg_query(root, pkg):
    """(status, version) as dpkg-query sees them, or None."""
    p = subprocess.run(["dpkg-query", "--admindir=" + root + "/var/lib/dpkg", "-W",
                        "-f", "${Status}|${Version}", pkg], capture_output=True, text=True)
    if p.returncode != 0 or "|" not in p.stdout:
        return None
    status, version = p.stdout.split("|")
    return status, version


def absent(root, pkg):
    """Not installed and no configuration left (dpkg may keep a
    "not-installed" entry, e.g. after a failed install)."""
    q = dpkg_query(root, pkg)
    return q is None or q[0].endswith(" not-installed")


def dpkg_audit(root):
    """What dpkg --audit says ("" when all is well)."""
    p = subprocess.run(["dpkg", "--admindir=" + root + "/var/lib/dpkg", "--audit"],
                       capture_output=True, text=True)
    return p.stdout + p.stderr


def audit_lines(root, task=None):
    path = os.path.join(root, "var/log/celeryroot/audit.log")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    return [a for a in lines if task is None or a.get("task") == task]


def submit(fleet, *args):
    """Sends a CLI job without waiting; returns (job id, task id of its one task)."""
    code, out, err = fleet.cli(*args, "--no-wait")
    assert code == 0, err + out
    job = out.strip().split()[-1]
    tasks = json.loads(fleet.redis.client().get("celeryroot:job:" + job))["tasks"]
    return job, tasks[0]["task_id"]


def result(fleet, task, timeout=180):
    """The task's final record (waits for SUCCESS)."""
    r = fleet.redis.client()

    def done():
        meta = r.get("celery-task-meta-" + task)
        if meta and json.loads(meta)["status"] in ("SUCCESS", "FAILURE"):
            return json.loads(meta)
        return None
    meta = harness.wait_for(done, timeout, interval=0.2)
    assert meta["status"] == "SUCCESS", meta
    return meta["result"]


def elapsed_since(t0):
    return time.monotonic() - t0


def figure(fault, trials, **counts):
    """harness.figure on a line of its own: unittest's progress dot for the
    test before (on stderr, no newline) would otherwise start the line, and
    'make check-faults' collects lines that begin with FIGURE."""
    sys.stderr.flush()
    return harness.figure(fault, trials, **counts)


# A killed pair's task comes back as soon as the pair starts again (net takes
# back what its host had taken); the dpkg lock wait is short, for the tests.
# Trials make changes faster than a host ever should: priv's audit budget
# (300 changes a minute by default) is raised for them.
FAULT_CONFIG = {"lock_timeout": 5, "audit_changes_per_minute": 100000}


def cli_json(fleet, *args, rc=None, timeout=120):
    """Runs a CLI job to the end; returns its one host record."""
    code, out, err = fleet.cli(*args, "--json", timeout=timeout)
    assert rc is None or code == rc, (code, out, err)
    return json.loads(out)["hosts"][0]


def purge(fleet, host, *pkgs):
    """Back to a clean host between trials: the packages gone, dpkg clean."""
    rec = cli_json(fleet, "apt", "remove", "--purge", *pkgs, "--host", host)
    assert rec["status"] in ("changed", "unchanged"), rec
    root = fleet.pairs[host].root
    assert all(absent(root, p) for p in pkgs), rec
    assert dpkg_audit(root) == "", dpkg_audit(root)


def record_problems(root, rec, task, want_changes, pkgs):
    """What is untrue in a record that should say the change happened:
    [] when the record, dpkg and the audit log agree."""
    problems = []
    if rec["status"] != "changed":
        problems.append("status %s (error: %s)" % (rec["status"], rec.get("error")))
    if rec.get("changes") != want_changes:
        problems.append("changes %s, want %s" % (json.dumps(rec.get("changes")), json.dumps(want_changes)))
    for p in pkgs:
        if dpkg_query(root, p) is None or dpkg_query(root, p)[0] != "install ok installed":
            problems.append("dpkg says %s: %s" % (p, dpkg_query(root, p)))
    audit = dpkg_audit(root)
    if audit:
        problems.append("dpkg --audit: " + audit.strip().splitlines()[0])
    lines = [(a["outcome"], a.get("changes")) for a in audit_lines(root, task)]
    if lines != [("changed", want_changes)]:
        problems.append("audit lines for the task: %s" % json.dumps(lines))
    return problems


def misreport(root, rec):
    """A record that says the host is fine (changed/unchanged) while dpkg
    --audit complains, or that says unchanged after a change."""
    return rec["status"] in ("changed", "unchanged") and (dpkg_audit(root) != "" or rec["status"] == "unchanged")
