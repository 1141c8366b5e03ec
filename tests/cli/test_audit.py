"""celeryroot audit: the trail of what each host's root helper did or
refused, read back from the Redis stream, filtered by host and time, and
the same records in each host's own audit file."""
import json
import os
import tempfile
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
        code, out, err = cls.fleet.cli("apt", "remove", "au-app", "--host", "db01", "--check")
        assert code == 0, out + err
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

    def test_operation_package_until_and_file_filters(self):
        installs = self.audit("--op", "install")
        self.assertTrue(installs)
        # priv's records and net's refusals alike name the operation "install".
        self.assertEqual({e["record"]["operation"] for e in installs}, {"install"})
        self.assertEqual({e["record"].get("by", "priv") for e in installs}, {"priv", "net"})
        bad = self.audit("--package", "au-bad")
        self.assertEqual([(e["host"], e["record"]["outcome"]) for e in bad], [("db01", "failed")])
        self.assertEqual(self.audit("--until", "2000-01-01"), [])
        self.assertEqual(self.audit("--key", "nobody"), [])
        path = os.path.join(self.fleet.pairs["db01"].root, "var/log/celeryroot/audit.log")
        from_file = [e["record"] for e in self.audit("--file", path, "--op", "remove")]
        self.assertEqual([r["operation"] for r in from_file], ["remove"])
        self.assertTrue(from_file[0]["check"])

    def verify(self, path, rc, *more):
        code, out, err = self.fleet.cli("audit", "--verify", "--file", path, *more, "--json")
        self.assertEqual(code, rc, err + out)
        return json.loads(out)

    def test_verify_a_real_log(self):
        """A real pair's log and stream: intact and checked against the host
        key when priv signs (host.pub in its state directory); else its
        chain holds and the signatures are said not checked (exit 3)."""
        root = self.fleet.pairs["db01"].root
        path = os.path.join(root, "var/log/celeryroot/audit.log")
        with open(path) as f:
            n = len(f.readlines())
        self.assertGreaterEqual(n, 3)
        if os.path.exists(os.path.join(root, "var/lib/celeryroot/host.pub")):
            res = self.verify(path, 0, "--host", "db01")
            self.assertTrue(res["intact"])
            self.assertEqual(res["signed_lines"], n)
            self.assertTrue(res["stream_checked"])
            self.assertEqual(res["overlap"], n)
        else:
            res = self.verify(path, 3, "--host", "db01")
            self.assertFalse(res["intact"])
            self.assertEqual(res["problems"], [])
            self.assertIn("no key for db01", " ".join(res["unchecked"]))
        self.assertEqual((res["lines"], res["last_seq"]), (n, n))

    def test_verify_detects_chain_tampering(self):
        """Tampering is exit 2 with its line: an edited line fails its own
        signature (priv signs every line with the host key) before the next
        line's prev hash; moved, deleted and inserted lines break the chain.
        Cut or edited last lines, forged lines and the stream's side are in
        test_audit_verify.py."""
        src = os.path.join(self.fleet.pairs["db01"].root, "var/log/celeryroot/audit.log")
        with open(src, "rb") as f:
            lines = f.read().splitlines(keepends=True)
        self.assertGreaterEqual(len(lines), 3)
        edited = bytearray(lines[1])
        edited[edited.index(b'"host":"db01"') + 8] = ord("x")   # db01 -> dx01
        cases = {
            "a byte edited in line 2": (lines[:1] + [bytes(edited)] + lines[2:], 2, "signature does not verify"),
            "line 2 deleted": (lines[:1] + lines[2:], 2, "prev hash"),
            # Line 1 now seq 2 reads as a log whose start was rotated away; seq 1 after it breaks.
            "lines 1 and 2 swapped": ([lines[1], lines[0]] + lines[2:], 2, "prev hash"),
            "a line inserted": (lines[:1] + [lines[0]] + lines[1:], 2, "prev hash"),
            "the last line torn": (lines[:-1] + [lines[-1][:20]], len(lines), "incomplete"),
        }
        with tempfile.TemporaryDirectory() as tmp:
            for name, (content, line, why) in cases.items():
                with self.subTest(name):
                    path = os.path.join(tmp, "audit.log")
                    with open(path, "wb") as f:
                        f.writelines(content)
                    res = self.verify(path, 2)
                    self.assertFalse(res["intact"])
                    self.assertIn(why, res["error"])
                    self.assertEqual(res["line"], line)

    def test_bad_arguments(self):
        for args in (["--since", "yesterday"], ["--since", "5x"], ["--limit", "0"], ["--host", "Bad Host"],
                     ["--host"], ["extra"], ["--until", "soon"], ["--key", "Bad Key"], ["--op"]):
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
