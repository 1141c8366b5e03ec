"""celeryroot audit: the trail of what each host's root helper did or
refused, read back from the Redis stream, filtered by host and time, and
the same records in each host's own audit file."""
import json
import os
import unittest

import harness

PKGS = [{"name": "au-lib", "version": "1.0"},
        {"name": "au-app", "version": "1.0", "depends": "au-lib"},
        {"name": "au-helper", "version": "1.0"},
        {"name": "au-bad", "version": "1.0", "depends": "au-helper", "preinst_fail": True}]


class Audit(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.fleet = harness.Fleet({"web01": ["webserver"], "db01": ["database"]}, packages=PKGS)
        cls.fleet.__enter__()
        cls.fleet.cli("apt", "update", "--all")
        code, out, err = cls.fleet.cli("apt", "install", "au-app", "--all")
        assert code == 0, out + err
        code, out, err = cls.fleet.cli("apt", "install", "au-bad", "--host", "db01")
        assert code == 2, out + err
        cls.refused = cls.fleet.send_raw("web01", "celeryroot.apt.install", args=[["ok"]], kwargs={"x": 1})
        harness.wait_for(lambda: cls.fleet.redis.client().get("celery-task-meta-" + cls.refused), 20)

    @classmethod
    def tearDownClass(cls):
        cls.fleet.__exit__(None, None, None)

    def audit(self, *args, rc=0):
        code, out, err = self.fleet.cli("audit", *args, "--json")
        self.assertEqual(code, rc, err + out)
        return json.loads(out)["entries"] if rc == 0 else err

    def test_entries_name_hosts_operations_and_outcomes(self):
        entries = self.audit()
        outcomes = [(e["host"], e["record"]["operation"], e["record"]["outcome"]) for e in entries]
        self.assertIn(("web01", "install", "changed"), outcomes)
        self.assertIn(("db01", "install", "changed"), outcomes)
        self.assertIn(("db01", "install", "failed"), outcomes)
        failed = [e["record"] for e in entries if e["record"]["outcome"] == "failed"][0]
        self.assertEqual(failed["packages"], ["au-bad"])
        self.assertEqual(failed["rollback"]["removed"], ["au-helper"])
        refused = [e["record"] for e in entries if e["record"].get("task") == self.refused]
        self.assertEqual(refused[0]["outcome"], "refused")
        ids = [e["id"] for e in entries]
        self.assertEqual(ids, sorted(ids, key=lambda i: tuple(map(int, i.split("-")))))

    def test_host_and_time_filters(self):
        db = self.audit("--host", "db01")
        self.assertTrue(db)
        self.assertEqual({e["host"] for e in db}, {"db01"})
        self.assertEqual(len(self.audit("--since", "1h")), len(self.audit()))
        self.assertEqual(self.audit("--since", "2099-01-01"), [])
        self.assertEqual(len(self.audit("--limit", "1")), 1)
        code, out, err = self.fleet.cli("audit", "--host", "web01")
        self.assertEqual(code, 0, err)
        self.assertIn("OUTCOME", out)
        self.assertIn("au-app", out)

    def test_bad_arguments(self):
        for args in (["--since", "yesterday"], ["--since", "5x"], ["--limit", "0"], ["--host", "Bad Host"],
                     ["--host"], ["extra"]):
            with self.subTest(args=args):
                err = self.audit(*args, rc=1)
                self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_the_host_file_has_the_same_records(self):
        path = os.path.join(self.fleet.pairs["db01"].root, "var/log/celeryroot/audit.log")
        with open(path) as f:
            lines = [json.loads(line) for line in f]
        stream = [e["record"] for e in self.audit("--host", "db01")]
        self.assertEqual(lines, stream)


if __name__ == "__main__":
    unittest.main()
