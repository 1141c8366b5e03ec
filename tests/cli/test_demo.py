"""The embedded default: `celeryroot demo` runs its private fleet, tours it,
and leaves nothing behind."""
import glob
import os
import re
import signal
import subprocess
import time
import unittest

import harness


def demo_processes(directory="celeryroot-demo."):
    found = []
    for comm in glob.glob("/proc/[0-9]*/comm"):
        try:
            with open(comm) as f:
                name = f.read().strip()
            with open(comm[:-4] + "cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if name.startswith("celeryroot-") and directory.encode() in cmdline:
            found.append(int(comm.split("/")[2]))
    return found


class Demo(unittest.TestCase):
    def setUp(self):
        harness.require_root()

    def test_demo_tours_and_cleans_up(self):
        p = subprocess.run([harness.cli_path(), "demo"], capture_output=True, text=True, timeout=180)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        for host in ("webserver01", "dbserver01", "appserver01"):
            self.assertIn(host, p.stdout)
        self.assertIn("$ celeryroot ping --all", p.stdout)
        self.assertIn("3 hosts: 3 unchanged", p.stdout)
        self.assertIn("$ celeryroot facts --role webserver", p.stdout)
        # The package part of the tour: each step's own output, in order.
        steps = p.stdout.split("\n$ celeryroot ")
        def step(prefix):
            found = [s for s in steps if s.startswith(prefix)]
            self.assertTrue(found, "no step " + prefix)
            return found
        first, again = step("apt install celeryroot-demo-hello --role webserver")
        self.assertRegex(first, r"webserver01\s+changed .*celeryroot-demo-hello\s+- -> 1\.0")
        self.assertRegex(again, r"webserver01\s+unchanged .*already installed: celeryroot-demo-hello 1\.0")
        query = step("apt query")[0]
        self.assertRegex(query, r"webserver01\s+1\.0\s+- \(1\.1 available\)")
        self.assertRegex(query, r"dbserver01\s+- \(1\.0 available\)")
        check = step("apt remove celeryroot-demo-hello --role webserver --check")[0]
        self.assertIn("would: celeryroot-demo-hello", check)
        # The shipped windows and schedules (contrib/celeryroot.conf.example).
        windows = step("windows")[0]
        self.assertRegex(windows, r"appserver01\s+application-nights\s+mon-fri\s+01:00 2h")
        self.assertRegex(windows, r"dbserver01\s+database-sunday\s+sun\s+03:00 2h")
        self.assertIn("webserver01      (no window", windows)
        schedules = step("schedule list --config")[0]
        for name in ("lists-daily", "security-web-nightly", "security-db-weekly", "autoremove-weekly",
                     "clean-weekly"):
            self.assertIn(name, schedules)
        deferred = step("apt install celeryroot-demo-tools --host dbserver01")[0]
        self.assertRegex(deferred, r"dbserver01\s+(deferred .*runs at 20\d\d-\d\d-\d\dT03:00:00Z|changed)")
        broken = step("apt install celeryroot-demo-broken --host appserver01 --now")[0]
        self.assertRegex(broken, r"appserver01\s+failed .*pre-installation script")
        self.assertIn('rollback ok: removed ["celeryroot-demo-helper"]', broken)
        audit = step("audit")[0]
        self.assertRegex(audit, r"appserver01\s+install\s+celeryroot-demo-broken\s+failed")
        # Its own directory (named in a step) is gone; other demos on this
        # machine are not this test's business.
        own = re.search(r"--config (/tmp/celeryroot-demo\.\w+)/celeryroot\.conf", p.stdout)
        self.assertIsNotNone(own, p.stdout)
        self.assertFalse(os.path.exists(own.group(1)))
        self.assertEqual(demo_processes(own.group(1)), [])

    def test_keep_leaves_a_usable_fleet(self):
        p = subprocess.run([harness.cli_path(), "demo", "--keep"], capture_output=True, text=True, timeout=180)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        m = re.search(r"export CELERYROOT_BROKER_URL=(redis://\S+)", p.stdout)
        self.assertIsNotNone(m, p.stdout)
        key = re.search(r"export CELERYROOT_SIGNING_KEY=(\S+)", p.stdout)
        self.assertIsNotNone(key, p.stdout)
        kill = re.search(r"kill ([0-9 ]+)", p.stdout)
        tmp = re.search(r"rm -rf (/tmp/celeryroot-demo\.\S+)", p.stdout)
        try:
            env = dict(os.environ, CELERYROOT_BROKER_URL=m.group(1))
            # Unsigned: every demo host refuses it (they trust the demo's key).
            q = subprocess.run([harness.cli_path(), "ping", "--all"], capture_output=True, text=True,
                               env=env, timeout=60)
            self.assertEqual(q.returncode, 2, q.stdout + q.stderr)
            self.assertEqual(q.stdout.count("unsigned task refused"), 3, q.stdout)
            env["CELERYROOT_SIGNING_KEY"] = key.group(1)
            q = subprocess.run([harness.cli_path(), "ping", "--all"], capture_output=True, text=True,
                               env=env, timeout=60)
            self.assertEqual(q.returncode, 0, q.stderr)
            self.assertIn("3 hosts: 3 unchanged", q.stdout)
        finally:
            for pid in (kill.group(1).split() if kill else []):
                try:
                    os.kill(int(pid), signal.SIGTERM)
                except ProcessLookupError:
                    pass
            time.sleep(1)
            if tmp:
                subprocess.run(["rm", "-rf", tmp.group(1)])


if __name__ == "__main__":
    unittest.main()
