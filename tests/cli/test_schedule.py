"""celeryroot schedule: add, list, enable, disable, remove and run-now on a
real Redis with real hosts; config-file schedules listed beside runtime
ones; every kind of bad input refused with exit 1 and nothing stored."""
import json
import os
import unittest

import harness

CONFIG = {
    "schedule lists.cron": "0 */6 * * *", "schedule lists.tz": "Europe/Berlin",
    "schedule lists.target": "--all", "schedule lists.command": "apt update --max-age 3600",
}


class Schedule(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.fleet = harness.Fleet({"web01": ["webserver"], "db01": ["database"]}, config=CONFIG)
        cls.fleet.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.fleet.__exit__(None, None, None)

    def cli(self, *args):
        """--config goes before the operation after '--' (add NAME ... --)."""
        args = list(args)
        at = 3 if len(args) > 2 and args[1] == "add" else len(args)
        return self.fleet.cli(*(args[:at] + ["--config", self.fleet.config_path] + args[at:]))

    def stored(self):
        r = self.fleet.redis.client()
        return sorted(k.decode() for k in r.keys("celeryroot:schedule:*"))

    def listing(self):
        code, out, err = self.cli("schedule", "list", "--json")
        self.assertEqual(code, 0, err)
        return {s["name"]: s for s in json.loads(out)["schedules"]}

    def test_add_list_disable_enable_remove(self):
        code, out, err = self.cli("schedule", "add", "sec", "--cron", "30 2 * * *", "--tz", "America/New_York",
                                  "--role", "webserver", "--", "apt", "upgrade", "--security")
        self.assertEqual(code, 0, err)
        self.assertIn("schedule sec added", out)
        s = self.listing()
        self.assertEqual((s["sec"]["source"], s["lists"]["source"]), ("runtime", "config"))
        self.assertEqual(s["sec"]["operation"], "apt.upgrade")
        self.assertRegex(s["sec"]["next"], r"^20\d\d-\d\d-\d\d 02:30 E[SD]T$")
        self.assertRegex(s["sec"]["next_utc"], r"^20\d\d-\d\d-\d\d 0[67]:30 UTC$")
        self.assertIsNone(s["sec"]["last"])
        code, out, err = self.cli("schedule", "list")
        self.assertEqual(code, 0, err)
        self.assertIn("sec", out)
        self.assertIn("NEXT (ZONE / UTC)", out)
        self.assertEqual(self.cli("schedule", "disable", "sec")[0], 0)
        s = self.listing()
        self.assertFalse(s["sec"]["enabled"])
        self.assertIsNone(s["sec"]["next"])
        self.assertEqual(self.cli("schedule", "enable", "sec")[0], 0)
        self.assertTrue(self.listing()["sec"]["enabled"])
        # A second add of the same name is refused; config entries are read-only.
        code, out, err = self.cli("schedule", "add", "sec", "--cron", "* * * * *", "--all", "--", "ping")
        self.assertEqual(code, 1)
        code, out, err = self.cli("schedule", "remove", "lists")
        self.assertEqual(code, 1)
        self.assertIn("config", err)
        self.assertEqual(self.cli("schedule", "remove", "sec")[0], 0)
        self.assertNotIn("sec", self.listing())
        self.assertEqual(self.cli("schedule", "remove", "sec")[0], 1)

    def test_run_now_sends_an_ordinary_job_with_the_schedules_origin(self):
        code, out, err = self.cli("schedule", "add", "pinger", "--cron", "0 0 1 1 *", "--all", "--", "ping")
        self.assertEqual(code, 0, err)
        code, out, err = self.cli("schedule", "run-now", "pinger")
        self.assertEqual(code, 0, err)
        job = out.split("job ")[1].split()[0]
        code, out, err = self.fleet.cli("job", job, "--wait", "--json")
        self.assertEqual(code, 0, err)
        doc = json.loads(out)
        self.assertEqual(sorted(h["host"] for h in doc["hosts"]), ["db01", "web01"])
        rec = json.loads(self.fleet.redis.client().get("celeryroot:job:" + job))
        self.assertEqual(rec["origin"], "schedule:pinger")
        last = self.listing()["pinger"]["last"]
        self.assertEqual(last["job"], job)
        self.cli("schedule", "remove", "pinger")

    def test_targets_are_resolved_when_the_schedule_runs(self):
        code, out, err = self.cli("schedule", "add", "webs", "--cron", "0 0 1 1 *", "--role", "webserver", "--",
                                  "ping")
        self.assertEqual(code, 0, err)
        # A host joins the role after the schedule was added (its registry
        # entry only: it is offline, so its task waits in its queue).
        r = self.fleet.redis.client()
        rec = json.loads(r.get("celeryroot:host:web01"))
        rec["hostname"] = "web02"
        r.set("celeryroot:host:web02", json.dumps(rec), ex=60)
        r.sadd("celeryroot:hosts", "web02")
        try:
            code, out, err = self.cli("schedule", "run-now", "webs")
            self.assertEqual(code, 0, err)
            job = out.split("job ")[1].split()[0]
            code, out, err = self.fleet.cli("job", job, "--json")
            self.assertEqual(sorted(h["host"] for h in json.loads(out)["hosts"]), ["web01", "web02"])
            self.assertEqual(r.llen("host.web02"), 1)
        finally:
            r.delete("celeryroot:host:web02", "host.web02")
            r.srem("celeryroot:hosts", "web02")
            self.cli("schedule", "remove", "webs")

    def test_bad_input_exit_1_nothing_stored(self):
        before = self.stored()
        cases = [
            (["--cron", "61 * * * *", "--all", "--", "ping"], "minute"),
            (["--cron", "* * * *", "--all", "--", "ping"], "field"),
            (["--cron", "0 0 30 2 *", "--all", "--", "ping"], ""),
            (["--cron", "0 0 * * *", "--tz", "Mars/Olympus", "--all", "--", "ping"], "zone"),
            (["--cron", "0 0 * * *", "--tz", "../../etc/passwd", "--all", "--", "ping"], "zone"),
            (["--cron", "0 0 * * *", "--host", "nosuchhost", "--", "ping"], "nosuchhost"),
            (["--cron", "0 0 * * *", "--role", "nosuchrole", "--", "ping"], "nosuchrole"),
            (["--cron", "0 0 * * *", "--all", "--", "reboot"], "reboot"),
            (["--cron", "0 0 * * *", "--all", "--", "apt", "install"], "PKG"),
            (["--cron", "0 0 * * *", "--all", "--", "apt", "install", "-rf"], ""),
            (["--cron", "0 0 * * *", "--all", "--", "apt", "install", "$(id)"], ""),
            (["--cron", "0 0 * * *", "--all", "--", "apt", "upgrade", "--bogus"], "bogus"),
            (["--cron", "0 0 * * *", "--", "ping"], "TARGET"),
            (["--all", "--", "ping"], "--cron"),
            (["--cron", "0 0 * * *", "--all"], "--"),
        ]
        for args, word in cases:
            with self.subTest(args=args):
                code, out, err = self.cli("schedule", "add", "bad", *args)
                self.assertEqual(code, 1, out + err)
                self.assertIn(word, err)
                self.assertEqual(len(err.strip().splitlines()), 1, err)
        for name in ("Bad Name", "../x", "-x", "a" * 80):
            with self.subTest(name=name):
                code, out, err = self.cli("schedule", "add", name, "--cron", "0 0 * * *", "--all", "--", "ping")
                self.assertEqual(code, 1, out + err)
        self.assertEqual(self.stored(), before)
        self.assertEqual(self.cli("schedule", "run-now", "nosuch")[0], 1)
        self.assertEqual(self.cli("schedule", "frobnicate")[0], 1)

    def test_a_bad_config_schedule_is_refused_by_beat_at_start(self):
        bad = os.path.join(self.fleet.tmp, "bad-schedule.conf")
        with open(bad, "w") as f:
            f.write("[schedule broken]\ncron = 0 25 * * *\ntarget = --all\ncommand = ping\n")
        code, out, err = harness.cli("beat", "--config", bad, url=self.fleet.redis.url, timeout=20)
        self.assertEqual(code, 1, out + err)
        self.assertIn("broken", err)
        self.assertIn("hour", err)


if __name__ == "__main__":
    unittest.main()
