"""Maintenance windows are enforced by priv (issue 12): a compromised net
that sends a change straight to priv (--priv-fd, as test_hostile does)
outside every window of the host gets a signed "deferred" record and
nothing runs; dropping the deferral's conditions on the way (now, check)
is refused because the operator did not sign that; only an override the
operator signed runs, and its audit line says so."""
import datetime
import os
import sys
import tempfile
import unittest
import uuid

import attest
import harness
import privpeer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "contrib"))
import celeryroot_sign  # noqa: E402

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
JOB = "5e1c8f1a-8f7e-4c55-9c1d-0b3a1e7a2f10"


class PrivWindows(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.tmp = tempfile.TemporaryDirectory()
        trusted, keyfile = harness.trusted_key(cls.tmp.name)
        cls.key = celeryroot_sign.load_key(keyfile)
        # One window, three days from now: closed.
        day = DAYS[(datetime.datetime.now(datetime.timezone.utc).weekday() + 3) % 7]
        config = os.path.join(cls.tmp.name, "celeryroot.conf")
        with open(config, "w") as f:
            f.write("[daemon]\ntrusted_keys = %s\nrequire_signed = true\n"
                    "[window w]\ndays = %s\nstart = 12:00\nduration = 1h\nzone = UTC\nhosts = web01\n"
                    % (trusted, day))
        repo = harness.build_repo(os.path.join(cls.tmp.name, "repo"), [{"name": "pw-one", "version": "1.0"}])
        root = harness.make_sandbox(os.path.join(cls.tmp.name, "web01"), [repo])
        cls.priv = privpeer.Priv(root, config=config).start()
        ftype, body = cls.signed("update", [], {})
        assert ftype == privpeer.ANS_REPLY, body

    @classmethod
    def tearDownClass(cls):
        cls.priv.stop()
        cls.tmp.cleanup()

    @classmethod
    def signed(cls, op, pkgs, kwargs, task=None, **frame_over):
        """A request as the operator signed it, changed on the way by frame_over."""
        name = "celeryroot.apt." + op
        hdr = celeryroot_sign.sign_header(cls.key, name, [pkgs] if pkgs else [], kwargs, "host.web01", job=JOB)
        claims = dict(hdr, task=name, args=[pkgs] if pkgs else [], kwargs=kwargs)
        fields = dict({"check": bool(kwargs.get("check")), "now": bool(kwargs.get("now"))}, **frame_over)
        return cls.priv.exchange(privpeer.apt(task or str(uuid.uuid4()), op=op, pkgs=pkgs, job=JOB, sig=claims,
                                              **fields))

    def installed(self):
        with open(os.path.join(self.priv.root, "var/lib/dpkg/status")) as f:
            return "Package: pw-one\n" in f.read()

    def test_1_a_change_outside_every_window_is_deferred_by_priv(self):
        lines = len(self.priv.audit_lines())
        task = str(uuid.uuid4())
        ftype, body = self.signed("install", ["pw-one"], {}, task=task)
        self.assertEqual(ftype, privpeer.ANS_REPLY, body)
        rec = attest.verify_record(body["data"], attest.host_pub(self.priv.root), host="web01", task=task, job=JOB)
        self.assertEqual((rec["status"], rec["changed"]), ("deferred", False))
        self.assertTrue(rec["run_at"].endswith("T12:00:00Z"))
        self.assertNotIn("audit", body["data"])
        self.assertFalse(self.installed())
        self.assertEqual(len(self.priv.audit_lines()), lines)   # nothing done, nothing audited

    def test_2_a_net_that_drops_the_conditions_is_refused(self):
        for name, over in (("now added", {"now": True}), ("check added", {"check": True})):
            with self.subTest(name):
                before = len(self.priv.audit_lines())
                ftype, body = self.signed("install", ["pw-one"], {}, **over)
                self.assertEqual(ftype, privpeer.ANS_REFUSED, body)
                self.assertIn("differs from what key 'alice' signed", body["error"])
                self.assertEqual(len(self.priv.audit_lines()), before + 1)
        self.assertFalse(self.installed())

    def test_3_reads_and_checks_are_answered_outside_windows(self):
        ftype, body = self.signed("install", ["pw-one"], {"check": True})
        self.assertEqual(ftype, privpeer.ANS_REPLY, body)
        rec = attest.verify_record(body["data"], attest.host_pub(self.priv.root))
        self.assertEqual((rec["status"], rec["check"]), ("changed", True))
        ftype, body = self.signed("query", ["pw-one"], {})
        self.assertEqual(ftype, privpeer.ANS_REPLY, body)
        self.assertFalse(self.installed())

    def test_4_only_the_operators_override_runs_and_is_audited(self):
        task = str(uuid.uuid4())
        ftype, body = self.signed("install", ["pw-one"], {"now": True}, task=task)
        self.assertEqual(ftype, privpeer.ANS_REPLY, body)
        rec = attest.verify_record(body["data"], attest.host_pub(self.priv.root), task=task)
        self.assertEqual(rec["status"], "changed", rec)
        self.assertTrue(self.installed())
        line = attest.verify_line(self.priv.audit_lines()[-1], attest.host_pub(self.priv.root))
        self.assertEqual((line["task"], line["now"], line["key"], line["outcome"]), (task, True, "alice", "changed"))


if __name__ == "__main__":
    unittest.main()
