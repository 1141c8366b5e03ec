"""celeryroot schedule: add, list, enable, disable, remove and run-now on a
real Redis with real hosts; config-file schedules listed beside runtime
ones; every kind of bad input refused with exit 1 and nothing stored.
Runtime schedules are signed by the operator's key, and what beat would
make of each (trusted, unsigned, bad signature, key not trusted by beat,
outside its key's limits) is listed; enable, disable and run-now refuse a
stored definition that does not check out."""
import json
import os
import tempfile
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
        cls.keys = tempfile.TemporaryDirectory()
        cls.beat_keys = os.path.join(cls.keys.name, "beat-trusted")
        os.mkdir(cls.beat_keys, 0o755)
        for name in ("alice", "bob", "mallory"):
            code, out, err = harness.cli("key", "generate", name, "--dir", cls.keys.name)
            assert code == 0, err
        for name, limits in (("alice", ""), ("bob", "operations = ping\n")):
            with open(os.path.join(cls.keys.name, name + ".pub")) as f, \
                    open(os.path.join(cls.beat_keys, name + ".pub"), "w") as g:
                g.write(f.read() + limits)
        cls.fleet = harness.Fleet({"web01": ["webserver"], "db01": ["database"]},
                                  config=dict(CONFIG, **{"beat.trusted_keys": cls.beat_keys}))
        cls.fleet.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.fleet.__exit__(None, None, None)
        cls.keys.cleanup()

    def key(self, name):
        return {"CELERYROOT_SIGNING_KEY": os.path.join(self.keys.name, name + ".key")}

    def cli(self, *args, signer="alice"):
        """--config goes before the operation after '--' (add NAME ... --)."""
        args = list(args)
        at = 3 if len(args) > 2 and args[1] == "add" else len(args)
        return self.fleet.cli(*(args[:at] + ["--config", self.fleet.config_path] + args[at:]),
                              env=self.key(signer) if signer else {"CELERYROOT_SIGNING_KEY": ""})

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

    def test_options_after_the_packages_of_a_scheduled_operation(self):
        # As on the command line: an option may follow the packages (once
        # refused as an invalid package: the "+" of schedule add's own parse
        # stayed in glibc's getopt).
        code, out, err = self.cli("schedule", "add", "purger", "--cron", "0 3 * * *", "--all", "--",
                                  "apt", "remove", "telnet", "--purge")
        self.assertEqual(code, 0, err)
        self.assertEqual(self.listing()["purger"]["operation"], "apt.remove")
        self.assertEqual(self.cli("schedule", "remove", "purger")[0], 0)

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
        # Signed by whoever ran it, for the schedule alice signed.
        self.assertEqual((rec["key"], rec["schedule"], rec["schedule_key"]), ("alice", "pinger", "alice"))
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

    # ---- signatures -----------------------------------------------------------------

    def stored_def(self, name):
        return json.loads(self.fleet.redis.client().get("celeryroot:schedule:" + name))

    def test_runtime_schedules_are_signed_and_judged(self):
        code, out, err = self.cli("schedule", "add", "signed", "--cron", "0 3 * * *", "--all", "--", "ping")
        self.assertEqual(code, 0, err)
        self.assertIn("signed by alice", out)
        stored = self.stored_def("signed")
        self.assertEqual(stored["key"], "alice")
        self.assertEqual(len(stored["sig"]), 88)
        s = self.listing()
        self.assertEqual((s["signed"]["signed_by"], s["signed"]["trust"]), ("alice", "trusted"))
        self.assertEqual(s["lists"]["trust"], "config")
        self.assertIsNotNone(s["signed"]["next"])
        # Without a key nothing is stored, changed or run.
        for args in (["add", "nokey", "--cron", "0 3 * * *", "--all", "--", "ping"], ["disable", "signed"],
                     ["enable", "signed"], ["remove", "signed"], ["run-now", "signed"]):
            with self.subTest(args=args):
                code, out, err = self.cli("schedule", *args, signer=None)
                self.assertEqual(code, 1, out + err)
                self.assertIn("needs your signing key", err)
                self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertNotIn("nokey", self.listing())
        self.assertEqual(self.stored_def("signed"), stored)
        # Disable and enable sign again.
        self.assertEqual(self.cli("schedule", "disable", "signed", signer="bob")[0], 0)
        stored2 = self.stored_def("signed")
        self.assertEqual((stored2["key"], stored2["enabled"]), ("bob", False))
        self.assertEqual(self.listing()["signed"]["trust"], "trusted")
        self.cli("schedule", "remove", "signed")

    def test_what_beat_would_not_fire(self):
        r = self.fleet.redis.client()
        self.assertEqual(self.cli("schedule", "add", "good", "--cron", "0 3 * * *", "--host", "web01", "--", "ping")[0], 0)
        good = self.stored_def("good")
        # Altered in Redis: the command now installs something.
        evil = dict(good, name="altered", command=["apt", "install", "evilpkg"])
        r.set("celeryroot:schedule:altered", json.dumps(evil))
        unsigned = {k: v for k, v in evil.items() if k not in ("key", "sig", "signed_at")}
        r.set("celeryroot:schedule:unsigned", json.dumps(dict(unsigned, name="unsigned")))
        r.sadd("celeryroot:schedules", "altered", "unsigned")
        code, out, err = self.cli("schedule", "add", "mallorys", "--cron", "0 3 * * *", "--all", "--", "ping",
                                  signer="mallory")
        self.assertEqual(code, 0, err)
        self.assertIn("beat will not fire schedule mallorys as it stands: key not trusted by beat", err)
        code, out, err = self.cli("schedule", "add", "bobs", "--cron", "0 3 * * *", "--all", "--", "apt", "update",
                                  signer="bob")
        self.assertEqual(code, 0, err)
        self.assertIn("outside its key's limits", err)
        s = self.listing()
        self.assertEqual({n: s[n]["trust"] for n in ("good", "altered", "unsigned", "mallorys", "bobs")},
                         {"good": "trusted", "altered": "bad signature", "unsigned": "unsigned",
                          "mallorys": "key not trusted by beat", "bobs": "outside its key's limits"})
        self.assertIsNone(s["altered"]["next"])
        code, out, err = self.cli("schedule", "list")
        self.assertRegex(out, r"altered .* alice: bad signature")
        # A stored definition that does not check out is neither re-signed nor run.
        jobs = r.zcard("celeryroot:jobs")
        for verb in ("enable", "disable", "run-now"):
            for name in ("altered", "unsigned"):
                with self.subTest(verb=verb, name=name):
                    code, out, err = self.cli("schedule", verb, name)
                    self.assertEqual(code, 1, out + err)
                    self.assertIn("remove it and add it again", err)
        self.assertEqual(r.zcard("celeryroot:jobs"), jobs)
        self.assertEqual(json.loads(r.get("celeryroot:schedule:altered")), evil)
        # mallory may still run her own (she signs what is sent), not alice's altered one.
        self.assertEqual(self.cli("schedule", "run-now", "mallorys", signer="mallory")[0], 0)
        for name in ("good", "altered", "unsigned", "mallorys", "bobs"):
            self.cli("schedule", "remove", name)

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
