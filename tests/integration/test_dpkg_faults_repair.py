"""The repair of an interrupted dpkg run, for a task that is not the one
that was cut short (a dpkg or apt-get killed by someone else):

- it waits for a foreign lock holder up to lock_timeout and then fails,
  naming the holder (it used to fail at once without a name); when the
  holder lets go within the bound, the repair and the change go through;
- a package left half-installed with the reinstreq flag is never taken for
  installed: a new install of it repairs it and says what changed;
- one that no archive has any more is removed (dpkg --remove
  --force-remove-reinstreq), and the record says so.

The interrupted states are made by a dpkg this test runs on the sandbox
itself and kills; each case runs harness.fault_trials() times and prints
one FIGURE line."""
import json
import os
import subprocess
import time
import unittest

import dpkgfaults as df
import fleetcase
import harness

LOCK_TIMEOUT = 3
PACKAGES = [
    {"name": "ct-half", "version": "1.0"},
    {"name": "ct-one", "version": "1.0"},
    {"name": "ct-cut", "version": "1.0", "scripts": ["preinst"]},
]
# In no repository: built beside it.
LOCAL = [{"name": "ct-local", "version": "1.0", "scripts": ["preinst"]}]

HOLDER = r"""
import fcntl, sys
held = [open(p, "a+") for p in sys.argv[1:]]
for f in held:
    fcntl.lockf(f, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


class Repair(fleetcase.FleetCase):
    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp()
        cls.repo = os.path.join(tmp, "repo")
        cls.local = os.path.join(tmp, "local")
        df.build_debs(cls.repo, PACKAGES)
        df.build_debs(cls.local, LOCAL)
        config = dict(df.FAULT_CONFIG, lock_timeout=LOCK_TIMEOUT)
        cls.start_fleet({"r-lock": [], "r-half": [], "r-gone": []},
                        sources=[harness.build_repo(cls.repo, [])], config=config)

    # ---- interrupted states, made by hand --------------------------------------

    def dpkg(self, host, *args, **kw):
        root = self.fleet.pairs[host].root
        return subprocess.Popen(["dpkg", "--root=" + root, "--force-script-chrootless",
                                 "--log=" + root + "/var/log/dpkg.log"] + list(args), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, **kw)

    def unpacked(self, host, pkg):
        """pkg unpacked, not configured (dpkg --unpack)."""
        self.assertEqual(self.dpkg(host, "--unpack", os.path.join(self.repo, pkg + "_1.0_all.deb")).wait(), 0)
        self.assertEqual(df.dpkg_query(self.fleet.pairs[host].root, pkg)[0], "install ok unpacked")

    def cut_in_preinst(self, host, deb, pkg):
        """dpkg -i deb killed in pkg's preinst: half-installed, reinstreq."""
        root = self.fleet.pairs[host].root
        key = pkg + ".preinst.install"
        df.block(root, key)
        proc = self.dpkg(host, "-i", deb)
        df.wait_blocked(root, key)
        victims = df.tree(proc.pid)
        for p in victims:   # dpkg and its preinst (both ours), at once
            os.kill(p, 9)
        proc.wait(10)
        df.unblock(root, key)
        harness.wait_for(lambda: not any(df.alive(p) for p in victims), 20)
        self.assertEqual(df.dpkg_query(root, pkg)[0], "install reinstreq half-installed")

    def holder(self, host):
        root = self.fleet.pairs[host].root
        h = subprocess.Popen(["/usr/bin/python3", "-c", HOLDER, root + "/var/lib/dpkg/lock-frontend",
                              root + "/var/lib/dpkg/lock"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.assertEqual(h.stdout.readline().strip(), "held")
        return h

    @staticmethod
    def let_go(h):
        h.stdin.close()
        h.wait(10)

    # ---- the cases ------------------------------------------------------------------

    def test_foreign_lock_holder_and_an_interrupted_dpkg(self):
        host = "r-lock"
        root = self.fleet.pairs[host].root
        r = self.fleet.redis.client()
        trials, failures, waits, named = harness.fault_trials(), [], [], 0
        for i in range(trials):
            df.purge(self.fleet, host, "ct-half", "ct-one")
            self.unpacked(host, "ct-half")
            # The holder stays past the bound: the change waits for it, then
            # fails naming it, and nothing changed.
            h = self.holder(host)
            try:
                rec = df.cli_json(self.fleet, "apt", "install", "ct-one", "--host", host)
            finally:
                self.let_go(h)
            waits.append(rec["duration_s"])
            named += "process %d (python3)" % h.pid in (rec["error"] or "")
            if rec["status"] != "failed" or "gave up waiting for the dpkg lock" not in (rec["error"] or "") or \
                    "process %d (python3)" % h.pid not in rec["error"]:
                failures.append("trial %d: held past the bound: %s %s" % (i + 1, rec["status"], rec["error"]))
            if rec["duration_s"] < LOCK_TIMEOUT - 0.5:
                failures.append("trial %d: gave up after %.3f s, before the %d s bound"
                                % (i + 1, rec["duration_s"], LOCK_TIMEOUT))
            if rec["changes"] != {} or (rec["repaired"] or {}).get("ok") is not False:
                failures.append("trial %d: %s" % (i + 1, json.dumps(rec)))
            if df.dpkg_query(root, "ct-half")[0] != "install ok unpacked" or df.dpkg_query(root, "ct-one"):
                failures.append("trial %d: the host changed although the record says failed" % (i + 1))
            # The holder lets go within the bound: repair and change go through.
            h = self.holder(host)
            job, task = df.submit(self.fleet, "apt", "install", "ct-one", "--host", host)
            try:
                harness.wait_for(lambda: b"waiting for the dpkg lock" in (r.get("celery-task-meta-" + task) or b""),
                                 30)
            finally:
                self.let_go(h)
            rec = df.result(self.fleet, task)
            fixed = {"old": "1.0", "new": "1.0", "state": {"old": "unpacked", "new": "installed"}}
            want = {"ct-half": fixed, "ct-one": {"old": None, "new": "1.0"}}
            failures += ["trial %d: %s" % (i + 1, p)
                         for p in df.record_problems(root, rec, task, want, ["ct-half", "ct-one"])]
            if rec["repaired"] != {"ran": ["dpkg --configure -a"], "ok": True, "changes": {"ct-half": fixed}}:
                failures.append("trial %d: repaired %s" % (i + 1, json.dumps(rec["repaired"])))
        df.figure("foreign_lock_with_interrupted_dpkg", trials,
                       truthful=trials - len({f.split(":")[0] for f in failures}),
                       waited_min_s=min(waits), named_holder=named)
        self.assertEqual(failures, [])

    def test_reinstreq_is_never_taken_for_installed(self):
        host = "r-half"
        root = self.fleet.pairs[host].root
        trials, failures = harness.fault_trials(), []
        for i in range(trials):
            df.purge(self.fleet, host, "ct-cut")
            self.cut_in_preinst(host, os.path.join(self.repo, "ct-cut_1.0_all.deb"), "ct-cut")
            job, task = df.submit(self.fleet, "apt", "install", "ct-cut", "--host", host)
            rec = df.result(self.fleet, task)
            want = {"ct-cut": {"old": "1.0", "new": "1.0", "state": {"old": "reinstreq", "new": "installed"}}}
            failures += ["trial %d: %s" % (i + 1, p) for p in df.record_problems(root, rec, task, want, ["ct-cut"])]
            ran = (rec.get("repaired") or {}).get("ran")
            if ran != ["dpkg --configure -a", "reinstall ct-cut 1.0 (libapt-pkg)"]:
                failures.append("trial %d: repair ran %s" % (i + 1, ran))
            again = df.cli_json(self.fleet, "apt", "install", "ct-cut", "--host", host)
            if (again["status"], again["changes"]) != ("unchanged", {}):
                failures.append("trial %d: then %s %s" % (i + 1, again["status"], again["changes"]))
        df.figure("reinstreq_then_install", trials, truthful=trials - len({f.split(":")[0] for f in failures}),
                       said_unchanged=sum("status unchanged" in f for f in failures))
        self.assertEqual(failures, [])

    def test_reinstreq_without_an_archive_is_removed(self):
        host = "r-gone"
        root = self.fleet.pairs[host].root
        trials, failures = harness.fault_trials(), []
        for i in range(trials):
            df.purge(self.fleet, host, "ct-one")
            self.cut_in_preinst(host, os.path.join(self.local, "ct-local_1.0_all.deb"), "ct-local")
            rec = df.cli_json(self.fleet, "apt", "install", "ct-one", "--host", host)
            gone = {"old": "1.0", "new": None, "state": {"old": "reinstreq", "new": "not-installed"}}
            want = {"ct-local": gone, "ct-one": {"old": None, "new": "1.0"}}
            if rec["status"] != "changed" or rec["changes"] != want:
                failures.append("trial %d: %s %s" % (i + 1, rec["status"], json.dumps(rec["changes"])))
            ran = (rec.get("repaired") or {}).get("ran") or []
            if "dpkg --remove --force-remove-reinstreq ct-local" not in ran:
                failures.append("trial %d: repair ran %s" % (i + 1, ran))
            if not df.absent(root, "ct-local") or df.dpkg_audit(root):
                failures.append("trial %d: left %s" % (i + 1, df.dpkg_query(root, "ct-local")))
        df.figure("reinstreq_without_archive", trials, truthful=trials - len({f.split(":")[0] for f in failures}))
        self.assertEqual(failures, [])


if __name__ == "__main__":
    unittest.main()
