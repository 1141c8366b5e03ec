"""Records and audit lines signed by each host's priv (issue 12), with real
Redis, real pairs and sandboxes: every kind of answer (ping, facts, query,
list, update, clean, a change, an unchanged install, a check, a failed
change with its rollback, an answer redelivered from the change journal, a
deferral) is published with an attest that verifies with the host key the
registry carries and the one in the host's state directory, and with the
record's fields beside it as before; a record altered after signing does
not verify.  Every line of each host's audit file verifies, and the stream
holds the very same bytes, including the window summaries priv writes on
its own."""
import base64
import datetime
import json
import os
import time
import unittest

import attest
import harness

PKGS = [{"name": "at-lib", "version": "1.0"},
        {"name": "at-app", "version": "1.0", "depends": "at-lib"},
        {"name": "at-helper", "version": "1.0"},
        {"name": "at-bad", "version": "1.0", "depends": "at-helper", "preinst_fail": True},
        {"name": "at-late", "version": "1.0"}]
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def closed_window():
    """A window that opens in three days: closed now (UTC)."""
    day = DAYS[(datetime.datetime.now(datetime.timezone.utc).weekday() + 3) % 7]
    return {"window w.days": day, "window w.start": "12:00", "window w.duration": "1h", "window w.zone": "UTC",
            "window w.hosts": "app01", "cli.task_expires": 8 * 86400}


class Attest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        os.environ["CELERYROOT_TEST_AUDIT_WINDOW"] = "2"
        cls.fleet = harness.Fleet({"web01": ["webserver"], "db01": ["database"], "app01": ["application"]},
                                  packages=PKGS, config=closed_window())
        cls.fleet.__enter__()
        code, out, err = cls.fleet.cli("apt", "update", "--all", "--json")
        assert code == 0, out + err

    @classmethod
    def tearDownClass(cls):
        os.environ.pop("CELERYROOT_TEST_AUDIT_WINDOW", None)
        cls.fleet.__exit__(None, None, None)

    def redis(self):
        return self.fleet.redis.client()

    def keys(self, host):
        """The host key from the registry (HELLO's) and from host.pub: the same."""
        reg = attest.registry_key(self.redis(), host)
        self.assertEqual(reg, attest.host_pub(self.fleet.pairs[host].root))
        return reg

    def run_job(self, *args, rc=0):
        code, out, err = self.fleet.cli(*args, "--json", "--config", self.fleet.config_path, timeout=120)
        self.assertEqual(code, rc, out + err)
        return json.loads(out)

    def results(self, doc):
        """{host: (task id, raw Celery result)} of a job, from Redis."""
        job = json.loads(self.redis().get("celeryroot:job:" + doc["job"]))
        out = {}
        for t in job["tasks"]:
            meta = json.loads(self.redis().get("celery-task-meta-" + t["task_id"]))
            out[t["host"]] = (t["task_id"], meta)
        return out

    def check_signed(self, doc, host, status):
        """The host's result verifies, is about its task and job, and its
        fields are beside the attest as they always were."""
        task_id, meta = self.results(doc)[host]
        rec = attest.verify_record(meta["result"], self.keys(host), host=host, task=task_id, job=doc["job"])
        if status is not None:
            self.assertEqual(rec["status"], status, rec)
        for key, value in rec.items():
            self.assertEqual(meta["result"][key], value, key)
        self.assertIsInstance(meta["result"]["duration_s"], float)
        shown = [h for h in doc["hosts"] if h["host"] == host][0]
        for key in ("status", "changed", "changes", "error", "rollback"):
            self.assertEqual(shown[key], rec[key], key)
        # Altered after signing (a Redis writer's edit of the payload): forged.
        forged = dict(meta["result"], attest=dict(meta["result"]["attest"]))
        forged["attest"]["payload"] = forged["attest"]["payload"].replace('"status":"%s"' % rec["status"],
                                                                          '"status":"unchanged"')
        if rec["status"] != "unchanged":
            with self.assertRaises(attest.Forged):
                attest.verify_record(forged, self.keys(host))
        # Signed by another host's key: forged too.
        other = "db01" if host != "db01" else "web01"
        with self.assertRaises(attest.Forged):
            attest.verify_record(meta["result"], self.keys(other))
        return rec, meta

    def test_every_kind_of_answer_is_signed(self):
        kinds = [
            (("ping", "--host", "web01"), "web01", "unchanged", 0),
            (("facts", "--host", "web01"), "web01", "unchanged", 0),
            (("apt", "query", "at-app", "--host", "web01"), "web01", "unchanged", 0),
            (("apt", "list", "--host", "web01"), "web01", "unchanged", 0),
            (("apt", "update", "--host", "web01"), "web01", "changed", 0),
            (("apt", "install", "at-app", "--host", "web01", "--check"), "web01", "changed", 0),
            (("apt", "install", "at-app", "--host", "web01"), "web01", "changed", 0),
            (("apt", "install", "at-app", "--host", "web01"), "web01", "unchanged", 0),
            (("apt", "install", "at-bad", "--host", "db01"), "db01", "failed", 2),
            (("apt", "clean", "--host", "db01"), "db01", None, 0),
        ]
        for args, host, status, rc in kinds:
            with self.subTest(args=args):
                rec, meta = self.check_signed(self.run_job(*args, rc=rc), host, status)
                if args[0] == "ping":
                    self.assertEqual(rec["data"]["host"], "web01")
                if "at-bad" in args:
                    self.assertEqual(rec["rollback"]["removed"], ["at-helper"])

    def test_a_deferral_is_signed_by_priv(self):
        doc = self.run_job("apt", "install", "at-late", "--host", "app01", rc=3)
        rec, meta = self.check_signed(doc, "app01", "deferred")
        self.assertEqual(meta["status"], "DEFERRED")
        self.assertTrue(rec["run_at"].endswith("T12:00:00Z"))
        self.assertEqual(self.redis().zcard("celeryroot:deferred:app01"), 1)

    def test_a_redelivered_answer_is_signed_again(self):
        doc = self.run_job("apt", "install", "at-lib", "--host", "db01")
        task_id, first = self.results(doc)["db01"]
        # The same task delivered again (as after a crash before its result
        # was written): priv answers from its change journal.
        self.redis().delete("celery-task-meta-" + task_id)
        self.fleet.send_raw("db01", "celeryroot.apt.install", args=[["at-lib"]], task_id=task_id, group=doc["job"])
        def final():
            raw = self.redis().get("celery-task-meta-" + task_id)
            meta = json.loads(raw) if raw else None
            return meta if meta and meta["status"] not in ("STARTED", "PROGRESS") else None
        meta = harness.wait_for(final, 60)
        self.assertEqual(meta["status"], "SUCCESS", meta)
        rec = attest.verify_record(meta["result"], self.keys("db01"), host="db01", task=task_id, job=doc["job"])
        self.assertTrue(rec["redelivered"])
        self.assertEqual(rec["changes"], attest.verify_record(first["result"], self.keys("db01"))["changes"])

    def stream(self, host):
        return [fields[b"record"] for _, fields in self.redis().xrange("celeryroot:audit")
                if fields[b"host"] == host.encode()]

    def test_audit_lines_are_signed_and_the_stream_holds_the_same_bytes(self):
        self.run_job("apt", "install", "at-app", "--host", "db01")
        self.run_job("ping", "--host", "db01")
        pk = self.keys("db01")
        path = os.path.join(self.fleet.pairs["db01"].root, "var/log/celeryroot/audit.log")

        def summary_in_stream():
            return any(b'"operation":"reads"' in r for r in self.stream("db01"))
        # The ping's window (2 s in this test) ends with a summary line that
        # priv sends to net on its own.
        harness.wait_for(summary_in_stream, 30, interval=0.2)
        with open(path, "rb") as f:
            lines = f.read().splitlines()
        stream = [r for r in self.stream("db01") if b'"seq":' in r]
        self.assertTrue(lines)
        for line in lines:
            attest.verify_line(line, pk)
        # Every line of priv's that reached the stream is the file's line, byte for byte.
        self.assertEqual(set(stream) - set(lines), set())
        reads = [l for l in lines if b'"operation":"reads"' in l]
        self.assertIn(reads[0], stream)
        self.assertEqual(json.loads(reads[0])["reads"], {"ping": 1})


if __name__ == "__main__":
    unittest.main()
