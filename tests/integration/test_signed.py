"""Signed tasks (require_signed = true) on real pairs: every unsigned,
forged, altered, expired, mis-targeted, replayed or out-of-limits message is
refused by net with a FAILURE that says why, audited in the stream, and
never reaches priv; the same task signed correctly runs, from the CLI and
from Python Celery with contrib/celeryroot_sign.py."""
import gc
import json
import os
import sys
import tempfile
import time
import unittest

import harness

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "contrib"))
import celeryroot_sign  # noqa: E402

PACKAGES = [{"name": "sg-one", "version": "1.0"}, {"name": "sg-two", "version": "1.0"}]


class Signed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.keys = tempfile.TemporaryDirectory()
        cls.trusted = os.path.join(cls.keys.name, "trusted")
        os.mkdir(cls.trusted)
        for name in ("alice", "bob", "mallory"):
            code, out, err = harness.cli("key", "generate", name, "--dir", cls.keys.name)
            assert code == 0, err
        for name in ("alice", "bob"):
            with open(os.path.join(cls.keys.name, name + ".pub")) as f:
                text = f.read()
            if name == "bob":   # bob may only query and ping, and only database hosts
                text += "operations = query ping\nroles = database\n"
            with open(os.path.join(cls.trusted, name + ".pub"), "w") as f:
                f.write(text)
        cls.key = {n: celeryroot_sign.load_key(os.path.join(cls.keys.name, n + ".key"))
                   for n in ("alice", "bob", "mallory")}
        cls.fleet = harness.Fleet({"web01": ["webserver"], "db01": ["database"]},
                                  config={"trusted_keys": cls.trusted, "require_signed": "true"},
                                  packages=PACKAGES)
        cls.fleet.__enter__()
        code, out, err = cls.fleet.cli("apt", "update", "--all", env={
            "CELERYROOT_SIGNING_KEY": os.path.join(cls.keys.name, "alice.key")})
        assert code == 0, err + out

    @classmethod
    def tearDownClass(cls):
        cls.fleet.__exit__(None, None, None)
        cls.keys.cleanup()

    # ---- helpers ---------------------------------------------------------------

    def signed_env(self, name="alice"):
        return {"CELERYROOT_SIGNING_KEY": os.path.join(self.keys.name, name + ".key")}

    def meta(self, task):
        r = self.fleet.redis.client()
        return json.loads(harness.wait_for(
            lambda: (lambda m: m if m and json.loads(m)["status"] in ("SUCCESS", "FAILURE") else None)(
                r.get("celery-task-meta-" + task)), 20))

    def status_file(self, host):
        with open(os.path.join(self.fleet.pairs[host].root, "var/lib/dpkg/status")) as f:
            return f.read()

    def priv_audit(self, host):
        path = os.path.join(self.fleet.pairs[host].root, "var/log/celeryroot/audit.log")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f]

    def stream(self):
        return [json.loads(fields[b"record"]) for _, fields in
                self.fleet.redis.client().xrange("celeryroot:audit")]

    def send(self, host, task, args, kwargs, header, group=None, task_id=None):
        return self.fleet.send_raw(host, task, args=args, kwargs=kwargs,
                                   headers={"celeryroot_sig": header} if header else None,
                                   group=group, task_id=task_id)

    def header(self, key="alice", task="celeryroot.apt.install", args=(["sg-one"],), kwargs=None,
               target="host.web01", job="", expires=None):
        return celeryroot_sign.sign_header(self.key[key], task, list(args), kwargs or {}, target,
                                           job=job, expires=expires)

    def assert_refused(self, host, task, why, key=None):
        meta = self.meta(task)
        self.assertEqual(meta["status"], "FAILURE", meta)
        self.assertEqual(meta["result"]["exc_type"], "PermissionError", meta)
        self.assertIn(why, meta["result"]["exc_message"][0])
        trail = [rec for rec in self.stream() if rec.get("task") == task]
        self.assertEqual(len(trail), 1, "refusal not audited")
        self.assertEqual(trail[0]["outcome"], "refused")
        self.assertEqual(trail[0]["by"], "net")
        if key:
            self.assertEqual(trail[0]["key"], key)
        # priv never saw it: no record of it in priv's own audit file.
        self.assertFalse([rec for rec in self.priv_audit(host) if rec.get("task") == task])

    # ---- refused ---------------------------------------------------------------

    def test_every_bad_message_is_refused_audited_and_kept_from_priv(self):
        status = self.status_file("web01")
        now = time.time()
        good = self.header()
        cases = {
            "unsigned": (None, "celeryroot.apt.install", [["sg-one"]], {}, None, "requires signed tasks"),
            "untrusted key": (self.header(key="mallory"), "celeryroot.apt.install", [["sg-one"]], {}, None,
                              "does not trust"),
            "forged as alice": (dict(self.header(key="mallory"), key="alice"), "celeryroot.apt.install",
                                [["sg-one"]], {}, None, "bad signature"),
            "altered package": (self.header(), "celeryroot.apt.install", [["sg-two"]], {}, None, "bad signature"),
            "altered task name": (self.header(task="celeryroot.apt.query"), "celeryroot.apt.install",
                                  [["sg-one"]], {}, None, "bad signature"),
            "altered kwargs": (self.header(kwargs={"check": True}), "celeryroot.apt.install", [["sg-one"]],
                               {"check": False}, None, "bad signature"),
            "altered job": (self.header(job="j-1"), "celeryroot.apt.install", [["sg-one"]], {}, "j-2",
                            "job id differs"),
            "altered expiry": (dict(good, expires=good["expires"] + 60), "celeryroot.apt.install",
                               [["sg-one"]], {}, None, "bad signature"),
            "altered target": (dict(self.header(target="host.db01"), target="host.web01"),
                               "celeryroot.apt.install", [["sg-one"]], {}, None, "bad signature"),
            "expired": (self.header(expires=now - 5), "celeryroot.apt.install", [["sg-one"]], {}, None,
                        "expired"),
            "mis-targeted": (self.header(target="host.db01"), "celeryroot.apt.install", [["sg-one"]], {},
                             None, "signed for host.db01"),
            "other role": (self.header(target="role.database"), "celeryroot.apt.install", [["sg-one"]], {},
                           None, "signed for role.database"),
            "bad header": ({"v": 1, "key": "alice"}, "celeryroot.apt.install", [["sg-one"]], {}, None,
                           "missing or invalid"),
            "operation outside key": (self.header(key="bob", target="host.db01"), "celeryroot.apt.install",
                                      [["sg-one"]], {}, None, "may not sign 'install'"),
        }
        for name, (hdr, task, args, kwargs, group, why) in cases.items():
            with self.subTest(name):
                host = "db01" if name == "operation outside key" else "web01"
                tid = self.send(host, task, args, kwargs, hdr, group=group)
                self.assert_refused(host, tid, why)
        self.assertEqual(self.status_file("web01"), status, "a refused task changed the host")

    def test_key_limited_to_roles(self):
        hdr = self.header(key="bob", task="celeryroot.ping", args=(), target="host.web01")
        tid = self.send("web01", "celeryroot.ping", [], {}, hdr)
        self.assert_refused("web01", tid, "not in its roles", key="bob")
        hdr = self.header(key="bob", task="celeryroot.ping", args=(), target="host.db01")
        self.assertEqual(self.meta(self.send("db01", "celeryroot.ping", [], {}, hdr))["status"], "SUCCESS")

    def test_replay_refused(self):
        hdr = self.header(task="celeryroot.apt.query", args=(["sg-one"],))
        tid = self.send("web01", "celeryroot.apt.query", [["sg-one"]], {}, hdr)
        self.assertEqual(self.meta(tid)["status"], "SUCCESS")
        # The very same message again (same task id), then with a new task id.
        self.fleet.redis.client().delete("celery-task-meta-" + tid)
        self.send("web01", "celeryroot.apt.query", [["sg-one"]], {}, hdr, task_id=tid)
        self.assert_refused("web01", tid, "replayed", key="alice")
        again = self.send("web01", "celeryroot.apt.query", [["sg-one"]], {}, hdr)
        self.assert_refused("web01", again, "replayed", key="alice")

    # ---- accepted --------------------------------------------------------------

    def test_cli_signs_and_the_host_runs_it(self):
        code, out, err = self.fleet.cli("apt", "install", "sg-one", "--host", "web01", "--json",
                                        env=self.signed_env())
        self.assertEqual(code, 0, err + out)
        rec = json.loads(out)["hosts"][0]
        self.assertEqual(rec["status"], "changed")
        self.assertIn("Package: sg-one", self.status_file("web01"))
        line = [a for a in self.priv_audit("web01") if a.get("operation") == "install"][-1]
        self.assertEqual(line["key"], "alice")
        self.assertEqual(line["outcome"], "changed")
        # The trail can be filtered by the key that signed.
        code, out, err = self.fleet.cli("audit", "--key", "alice", "--op", "install", "--host", "web01", "--json")
        self.assertEqual(code, 0, err)
        entries = json.loads(out)["entries"]
        self.assertTrue(entries)
        self.assertEqual({e["record"]["key"] for e in entries}, {"alice"})
        self.assertIn("changed", [e["record"]["outcome"] for e in entries])
        code, out, err = self.fleet.cli("ping", "--all", "--json", env=self.signed_env())
        self.assertEqual(code, 0, err + out)
        self.assertEqual(sorted(h["host"] for h in json.loads(out)["hosts"]), ["db01", "web01"])
        # Through a role queue the signed target is the role.
        code, out, err = self.fleet.cli("facts", "--one-of", "database", "--json", env=self.signed_env())
        self.assertEqual(code, 0, err + out)
        self.assertEqual(json.loads(out)["hosts"][0]["host"], "db01")

    def test_signed_upgrade_with_full_and_exclude_runs(self):
        # A list kwarg (exclude) signed by the CLI and checked by priv.
        code, out, err = self.fleet.cli("apt", "upgrade", "--host", "db01", "--full", "--exclude", "sg-one",
                                        "--exclude", "sg-two", "--check", "--json", env=self.signed_env())
        self.assertEqual(code, 0, err + out)
        rec = json.loads(out)["hosts"][0]
        self.assertEqual(rec["status"], "unchanged", rec)
        self.assertTrue(rec["data"]["full"])
        line = [a for a in self.priv_audit("db01") if a.get("operation") == "upgrade"][-1]
        self.assertEqual((line["key"], line["full"], line["exclude"]), ("alice", True, ["sg-one", "sg-two"]))
    def test_guard_flags_travel_signed(self):
        """Issue 15: --allow-essential and --allow-removals are signed kwargs;
        added on the way (a Redis writer, no signature over them) they are
        refused by net, and priv never sees the task."""
        code, out, err = self.fleet.cli("apt", "remove", "sg-two", "--host", "web01", "--check", "--json",
                                        "--allow-essential", "--allow-removals", env=self.signed_env())
        self.assertEqual(code, 0, err + out)
        self.assertNotEqual(json.loads(out)["hosts"][0]["status"], "failed", out)
        line = [a for a in self.priv_audit("web01") if a.get("operation") == "remove"][-1]
        self.assertEqual((line["key"], line["allow_essential"], line["allow_removals"]), ("alice", True, True))
        for flag in ("allow_essential", "allow_removals"):
            with self.subTest(flag=flag):
                hdr = self.header(task="celeryroot.apt.remove", args=(["sg-two"],), kwargs={"check": True})
                tid = self.send("web01", "celeryroot.apt.remove", [["sg-two"]], {"check": True, flag: True}, hdr)
                self.assert_refused("web01", tid, "bad signature")

    def test_cli_without_a_key_is_refused_by_the_hosts(self):
        code, out, err = self.fleet.cli("ping", "--host", "web01", "--json")
        self.assertEqual(code, 2, err + out)
        rec = json.loads(out)["hosts"][0]
        self.assertEqual(rec["status"], "failed")
        self.assertIn("requires signed tasks", rec["error"])

    def test_cli_with_a_bad_key_file_sends_nothing(self):
        bad = os.path.join(self.keys.name, "alice.pub")
        r = self.fleet.redis.client()
        jobs = r.zcard("celeryroot:jobs")
        code, out, err = self.fleet.cli("ping", "--all", env={"CELERYROOT_SIGNING_KEY": bad})
        self.assertEqual(code, 1, err + out)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("nothing was sent", err)
        self.assertEqual(r.zcard("celeryroot:jobs"), jobs)

    def test_schedule_claims_signed_in_python_are_checked_and_audited(self):
        """The "for" claim beat adds, signed by contrib/celeryroot_sign.py:
        checked with the rest by net and priv, and named in priv's audit."""
        hdr = celeryroot_sign.sign_header(self.key["alice"], "celeryroot.apt.install", [["sg-two"]], {},
                                          "host.db01", for_schedule="nightly", for_key="bob")
        forged = dict(hdr, **{"for": {"schedule": "nightly", "key": "alice"}})
        tid = self.send("db01", "celeryroot.apt.install", [["sg-two"]], {}, forged)
        self.assert_refused("db01", tid, "bad signature")
        tid = self.send("db01", "celeryroot.apt.install", [["sg-two"]], {}, hdr)
        self.assertEqual(self.meta(tid)["status"], "SUCCESS")
        line = [a for a in self.priv_audit("db01") if a.get("task") == tid]
        self.assertEqual(len(line), 1)
        self.assertEqual((line[0]["key"], line[0]["schedule"], line[0]["schedule_key"], line[0]["outcome"]),
                         ("alice", "nightly", "bob", "changed"))

    def test_python_celery_signs_with_the_contrib_helper(self):
        from celery import Celery
        app = Celery("signed", broker=self.fleet.redis.url, backend=self.fleet.redis.url)
        try:
            res = celeryroot_sign.send_signed(app, self.key["alice"], "celeryroot.apt.query",
                                              [["sg-two"]], {}, queue="host.db01")
            rec = res.get(timeout=30)
            self.assertEqual(rec["host"], "db01")
            self.assertIn("sg-two", rec["data"]["packages"])
            res = celeryroot_sign.send_signed(app, self.key["mallory"], "celeryroot.ping", [], {},
                                              queue="host.db01")
            with self.assertRaises(PermissionError):
                res.get(timeout=30)
        finally:
            # Results hold the backend's pub/sub: let them go while Redis is up.
            res = None
            gc.collect()
            app.close()


class OneOfCopied(unittest.TestCase):
    """A --one-of task copied by a Redis writer into the queues of two hosts
    of its role runs on one of them only: the nonce names the host that took
    it, and another host's taking is a replay there."""

    def test_copies_run_once(self):
        harness.require_root()
        with tempfile.TemporaryDirectory() as keys:
            trusted, keyfile = harness.trusted_key(keys)
            key = celeryroot_sign.load_key(keyfile)
            with harness.Fleet({"w1": ["web"], "w2": ["web"]}, config={"trusted_keys": trusted}) as fleet:
                hdr = celeryroot_sign.sign_header(key, "celeryroot.ping", [], {}, "role.web")
                tid = fleet.send_raw("w1", "celeryroot.ping", headers={"celeryroot_sig": hdr})
                fleet.send_raw("w2", "celeryroot.ping", headers={"celeryroot_sig": hdr}, task_id=tid)

                def outcomes():
                    done = sum(p.log().count("task %s (celeryroot.ping) done" % tid) for p in fleet.pairs.values())
                    refused = sum(p.log().count("task %s (celeryroot.ping) refused: replayed" % tid)
                                  for p in fleet.pairs.values())
                    return (done, refused) if done + refused == 2 else None
                self.assertEqual(harness.wait_for(outcomes, 30), (1, 1))


if __name__ == "__main__":
    unittest.main()
