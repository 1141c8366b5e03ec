"""Maintenance windows, enforced by the daemons on a controllable clock
(CELERYROOT_TEST_CLOCK).  The fleet's clock starts 25 s before
2026-03-29T01:00:00Z, the moment Europe/Berlin springs forward:

  web01  window sat 23:00 + 3h UTC         open (it opened Saturday, across midnight)
  db01   window * 02:30 + 1h Europe/Berlin closed; 02:30 does not exist that night,
                                           so it opens at 03:00 CEST = 01:00:00Z
  app01  window mon-fri 22:00 + 1h UTC     closed until Monday 2026-03-30T22:00Z

The tests run in order (the db01 deferral must be sent before 01:00Z on the
fleet's clock and then watched until it runs)."""
import json
import os
import subprocess
import time
import unittest

import harness

OPENING = 1774746000          # 2026-03-29T01:00:00Z
LEAD = 60 if harness.VALGRIND else 25   # fake seconds before it when the fleet starts

PACKAGES = [
    {"name": "win-a", "version": "1.0"},
    {"name": "win-b", "version": "1.0"},
    {"name": "win-c", "version": "1.0"},
    {"name": "win-d", "version": "1.0"},
]

CONFIG = {
    "window web.days": "sat", "window web.start": "23:00", "window web.duration": "3h",
    "window web.zone": "UTC", "window web.roles": "webserver",
    "window db.days": "*", "window db.start": "02:30", "window db.duration": "1h",
    "window db.zone": "Europe/Berlin", "window db.hosts": "db01",
    "window app.days": "mon-fri", "window app.start": "22:00", "window app.duration": "1h",
    "window app.zone": "UTC", "window app.roles": "application",
    "cli.task_expires": 7 * 86400,     # app01's window opens 45 h later (fake)
}


class Windows(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.clock = "%d:%f:1" % (OPENING - LEAD, time.time())
        os.environ["CELERYROOT_TEST_CLOCK"] = cls.clock
        cls.fleet = harness.Fleet({"web01": ["webserver"], "db01": ["database"], "app01": ["application"]},
                                  config=CONFIG, packages=PACKAGES)
        cls.fleet.__enter__()
        code, out, err = cls.fleet.cli("apt", "update", "--all")   # read-only: runs outside windows too
        assert code == 0, out + err

    @classmethod
    def tearDownClass(cls):
        os.environ.pop("CELERYROOT_TEST_CLOCK", None)
        cls.fleet.__exit__(None, None, None)

    def run_json(self, *args, config=True):
        extra = ["--config", self.fleet.config_path] if config else []
        code, out, err = self.fleet.cli(*args, "--json", *extra)
        try:
            return code, json.loads(out), err
        except ValueError:
            self.fail("not JSON (exit %d): %s %s" % (code, out, err))

    def host(self, doc, name):
        return [h for h in doc["hosts"] if h["host"] == name][0]

    def installed(self, host, pkg):
        status = os.path.join(self.fleet.pairs[host].root, "var/lib/dpkg/status")
        with open(status) as f:
            return ("Package: %s\nStatus: install ok installed" % pkg) in f.read()

    def audit(self, host):
        path = os.path.join(self.fleet.pairs[host].root, "var/log/celeryroot/audit.log")
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def test_1_deferred_to_an_opening_moved_by_dst_then_run(self):
        code, doc, err = self.run_json("apt", "install", "win-a", "--host", "db01")
        self.assertEqual(code, 3, (doc, err))
        rec = self.host(doc, "db01")
        self.assertEqual(rec["status"], "deferred", rec)
        self.assertEqual(rec["run_at"], "2026-03-29T01:00:00Z")
        self.assertFalse(self.installed("db01", "win-a"))
        # The window opens on the fleet's clock; the task then really runs.
        def ran():
            code, again, err = self.run_json("job", doc["job"])
            return self.host(again, "db01")["status"] == "changed"
        harness.wait_for(ran, LEAD + 20, interval=0.5)
        self.assertTrue(self.installed("db01", "win-a"))

    def test_2_inside_a_window_across_midnight_runs(self):
        code, doc, err = self.run_json("apt", "install", "win-b", "--host", "web01")
        self.assertEqual(code, 0, err)
        self.assertEqual(self.host(doc, "web01")["status"], "changed")

    def test_3_outside_deferred_to_the_next_weekday_opening(self):
        code, doc, err = self.run_json("apt", "remove", "win-c", "--role", "application")
        self.assertEqual(code, 3, (doc, err))
        rec = self.host(doc, "app01")
        self.assertEqual((rec["status"], rec["run_at"]), ("deferred", "2026-03-30T22:00:00Z"))
        r = self.fleet.redis.client()
        self.assertEqual(r.zcard("celeryroot:deferred:app01"), 1)
        self.assertEqual(int(r.zrange("celeryroot:deferred:app01", 0, -1, withscores=True)[0][1]),
                         1774908000)

    def test_3b_a_deferral_past_the_tasks_expiry_is_refused(self):
        code, doc, err = self.run_json("apt", "remove", "win-c", "--host", "app01", config=False)
        self.assertEqual(code, 2, (doc, err))
        rec = self.host(doc, "app01")
        self.assertIn("after the task expires", rec["error"])
        self.assertIn("--now", rec["error"])

    def test_4_read_only_and_check_mode_ignore_windows(self):
        for args in (["apt", "query", "win-c"], ["apt", "install", "win-c", "--check"], ["facts"],
                     ["apt", "list", "--upgradable"]):
            with self.subTest(args=args):
                code, doc, err = self.run_json(*args, "--host", "app01")
                self.assertEqual(code, 0, err)
                self.assertNotEqual(self.host(doc, "app01")["status"], "deferred")

    def test_5_now_overrides_and_is_audited(self):
        code, doc, err = self.run_json("apt", "install", "win-d", "--host", "app01", "--now")
        self.assertEqual(code, 0, err)
        self.assertEqual(self.host(doc, "app01")["status"], "changed")
        self.assertTrue(self.installed("app01", "win-d"))
        line = [a for a in self.audit("app01") if a.get("packages") == ["win-d"]][-1]
        self.assertTrue(line["now"])
        self.assertEqual(line["outcome"], "changed")
        code, out, err = self.fleet.cli("audit", "--host", "app01", "--json")
        self.assertEqual(code, 0, err)
        records = [e["record"] for e in json.loads(out)["entries"]]
        self.assertTrue(any(r.get("outcome") == "window override" for r in records), records)

    def test_6_windows_lists_each_hosts_windows_and_next_opening(self):
        code, doc, err = self.run_json("windows")
        self.assertEqual(code, 0, err)
        hosts = {h["host"]: h for h in doc["hosts"]}
        self.assertEqual(sorted(hosts), ["app01", "db01", "web01"])
        app = hosts["app01"]["windows"][0]
        self.assertEqual((app["name"], app["open"], app["next_open_utc"]), ("app", False, "Mon 2026-03-30 22:00 UTC"))
        self.assertEqual(app["next_open"], "Mon 2026-03-30 22:00 UTC")
        self.assertTrue(hosts["web01"]["windows"][0]["open"])

    def test_7_a_bad_window_stops_the_daemon_at_start(self):
        bad = os.path.join(self.fleet.tmp, "bad.conf")
        with open(bad, "w") as f:
            f.write("[window x]\ndays = someday\nstart = 22:00\nduration = 1h\nzone = UTC\nroles = webserver\n")
        p = subprocess.run([harness.daemon_path(), "--foreground", "--hostname", "bad01", "--role", "webserver",
                            "--sandbox", self.fleet.pairs["web01"].root, "--broker", self.fleet.redis.url,
                            "--user", "nobody", "--config", bad], capture_output=True, text=True, timeout=20)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("days", p.stderr)
        self.assertIn("[window x]", p.stderr)


if __name__ == "__main__":
    unittest.main()
