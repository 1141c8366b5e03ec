"""A full disk at every step of an install: the sandbox host lives on its
own small tmpfs, which is filled to ten levels, from "the change journal
does not fit" through "the .deb does not fit" (a copy: source, so apt
copies it to archives/) and "its files do not fit" to "only dpkg's own
database writes fail" (just below what the install needs, found first by
bisection).  At each level ct-big is installed:

- every record is truthful: "failed" whenever dpkg could not finish (never
  "changed" or "unchanged" with dpkg --audit complaining), with the
  rollback's and the verification's verdicts when dpkg was left halfway,
  and changes that match what dpkg got as far as (dpkg can report an error
  and still have installed it);
  "changed" only with ct-big installed and dpkg clean; no journal, no
  change ("no space left for the change journal under ...");
- after the space is freed, a retry installs it and reports "changed" with
  the right version (or "unchanged" when it was there already), and dpkg
  --audit is clean.

apt's binary cache files are kept in memory for this host (its
apt.conf.d): they would otherwise be the first thing to fail, and the test
is about dpkg.  Runs harness.fault_trials() times over the ten levels and
prints one FIGURE line."""
import json
import os
import subprocess
import tempfile
import unittest

import dpkgfaults as df
import harness

HOST = "e-full"
BLOB = 256 * 1024
TMPFS = "6m"
PAGE = 4096


class FullDisk(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.tmp = tempfile.TemporaryDirectory()
        repo = os.path.join(cls.tmp.name, "repo")
        df.build_debs(repo, [{"name": "ct-big", "version": "1.0", "size": BLOB}])
        source = harness.build_repo(repo, []).replace(" file:", " copy:")
        cls.mount = None

        def mount_host(redis):
            # Before the sandbox is made: the whole host root is on the tmpfs.
            cls.mount = os.path.join(cls.fleet.tmp, "hosts", HOST)
            os.makedirs(cls.mount)
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + TMPFS + ",mode=0755", "tmpfs", cls.mount],
                           check=True)
        cls.fleet = harness.Fleet({HOST: []}, sources=[source], config=df.FAULT_CONFIG, prepare=mount_host)
        try:
            cls.fleet.__enter__()
            pair = cls.fleet.pairs[HOST]
            with open(os.path.join(pair.root, "etc/apt/apt.conf.d/90celeryroot-test-nocache"), "w") as f:
                f.write('Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n')
            pair.stop()   # apt reads its configuration once per process
            pair.start()
            cls.fleet.wait_registered([HOST])
            code, out, err = cls.fleet.cli("apt", "update", "--all")
            assert code == 0, out + err
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.fleet.__exit__(None, None, None)
        if cls.mount:
            subprocess.run(["umount", cls.mount], check=False)
            os.rmdir(cls.mount)
        cls.tmp.cleanup()

    # ---- space ---------------------------------------------------------------

    def free(self):
        st = os.statvfs(self.mount)
        return st.f_bavail * st.f_frsize

    def fill(self, left):
        """Leaves `left` bytes free (to the page)."""
        path = os.path.join(self.mount, "fill")
        size = self.free() - left
        if size > 0:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                os.posix_fallocate(fd, 0, size)
            finally:
                os.close(fd)
        return path

    def unfill(self):
        path = os.path.join(self.mount, "fill")
        if os.path.exists(path):
            os.unlink(path)

    def install(self, left=None):
        if left is not None:
            self.fill(left)
        try:
            return df.cli_json(self.fleet, "apt", "install", "ct-big", "--host", HOST)
        finally:
            self.unfill()

    def reset(self):
        df.purge(self.fleet, HOST, "ct-big")
        rec = df.cli_json(self.fleet, "apt", "clean", "--host", HOST)
        self.assertIn(rec["status"], ("changed", "unchanged"), rec)

    def least_space_that_installs(self):
        """Bisection over the free space (pages) an install needs, peak included."""
        lo, hi = 0, 4 * BLOB // PAGE
        self.assertEqual(self.install(hi * PAGE)["status"], "changed")
        self.reset()
        while hi - lo > 1:
            mid = (lo + hi) // 2
            ok = self.install(mid * PAGE)["status"] == "changed"
            self.reset()
            lo, hi = (lo, mid) if ok else (mid, hi)
        return hi * PAGE

    # ---- the levels ----------------------------------------------------------------

    def judge(self, left, rec, root):
        """Problems with one level's record ([] when it is truthful)."""
        audit = df.dpkg_audit(root)
        state = df.dpkg_query(root, "ct-big")
        where = "%d bytes free: %s" % (left, rec["status"])
        if rec["status"] == "changed":
            ok = rec["changes"] == {"ct-big": {"old": None, "new": "1.0"}} and not audit and \
                state == ("install ok installed", "1.0")
            return [] if ok else ["%s but %s, dpkg %s, audit %r" % (where, json.dumps(rec["changes"]), state, audit)]
        if rec["status"] != "failed" or not rec.get("error"):
            return ["%s (%s), dpkg %s, audit %r" % (where, rec.get("error"), state, audit)]
        problems = []
        # A failure still says what changed: whatever dpkg got as far as.
        said = (rec.get("changes") or {}).get("ct-big")
        if df.absent(root, "ct-big") != (said is None or said.get("new") is None):
            problems.append("%s, dpkg %s, but changes say %s" % (where, state, json.dumps(said)))
        if audit:   # dpkg was left halfway: the record says what was tried and that it did not hold
            if not isinstance(rec.get("rollback"), dict) or rec["rollback"].get("ok") is not False:
                problems.append("%s, dpkg halfway, rollback %s" % (where, json.dumps(rec.get("rollback"))))
            if (rec["data"].get("verify") or {}).get("ok") is not False:
                problems.append("%s, dpkg halfway, verify %s" % (where, json.dumps(rec["data"].get("verify"))))
        return problems

    def test_full_disk_at_ten_levels(self):
        root = self.fleet.pairs[HOST].root
        need = self.least_space_that_installs()
        levels = [0, 2 * PAGE, need // 3, 2 * need // 3] + [need - k * PAGE for k in (6, 5, 4, 3, 2, 1)]
        trials = harness.fault_trials()
        failures, outcomes = [], {"failed": 0, "changed": 0, "unchanged": 0}
        halfway = misreports = retried = 0
        for trial in range(trials):
            for left in levels:
                rec = self.install(left)
                print("%7d bytes free: %-9s dpkg %s; %s" % (left, rec["status"], df.dpkg_query(root, "ct-big"),
                                                           (rec.get("error") or "")[:160]), flush=True)
                outcomes[rec["status"]] = outcomes.get(rec["status"], 0) + 1
                halfway += bool(df.dpkg_audit(root))
                misreports += df.misreport(root, rec)
                failures += ["trial %d, %s" % (trial + 1, p) for p in self.judge(left, rec, root)]
                if left == 0 and "no space left for the change journal under" not in (rec.get("error") or ""):
                    failures.append("no room at all, but not refused for the journal: %s" % rec.get("error"))
                # Space again: a retry installs it, truthfully (dpkg may have
                # finished although it reported an error: then it is there).
                whole = df.dpkg_query(root, "ct-big") == ("install ok installed", "1.0") and not df.dpkg_audit(root)
                again = self.install()
                want_status = "unchanged" if whole else "changed"
                if again["status"] != want_status or (want_status == "changed" and
                                                      (again["changes"].get("ct-big") or {}).get("new") != "1.0") \
                        or df.dpkg_query(root, "ct-big") != ("install ok installed", "1.0") or df.dpkg_audit(root):
                    failures.append("retry after %d bytes free: %s %s (%s)" % (left, again["status"],
                                                                               json.dumps(again["changes"]),
                                                                               again.get("error")))
                else:
                    retried += 1
                self.reset()
        df.figure("enospc_install", trials, levels=len(levels), need_bytes=need, failed=outcomes["failed"],
                       changed=outcomes["changed"], left_halfway=halfway, misreports=misreports,
                       retries_ok=retried)
        self.assertEqual(failures, [])
        self.assertEqual(misreports, 0)
        # The levels just below the need reach dpkg's own writes: at least
        # one of them leaves dpkg halfway, which is the case this is about.
        self.assertGreater(halfway, 0)


if __name__ == "__main__":
    unittest.main()
