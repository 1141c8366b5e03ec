"""A signed task runs at most once per host, ever (issue 12, item 3c): priv
keeps every nonce it accepted in a root-only file until it expires, so
after the pair restarts (which a compromised net can force) and with the
nonce key deleted from Redis (which a daemon of the host may do), the same
signed message sent again under another task id is refused by priv, which
audits it, and the refusal's signed line reaches the stream."""
import json
import os
import sys
import tempfile
import unittest

import attest
import harness

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "contrib"))
import celeryroot_sign  # noqa: E402


class ReplayAfterRestart(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.keys = tempfile.TemporaryDirectory()
        trusted, keyfile = harness.trusted_key(cls.keys.name)
        cls.key = celeryroot_sign.load_key(keyfile)
        cls.fleet = harness.Fleet({"web01": ["webserver"]}, config={"trusted_keys": trusted,
                                                                     "require_signed": "true"},
                                  packages=[{"name": "rp-one", "version": "1.0"}])
        cls.fleet.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.fleet.__exit__(None, None, None)
        cls.keys.cleanup()

    def meta(self, task):
        r = self.fleet.redis.client()

        def final():
            raw = r.get("celery-task-meta-" + task)
            m = json.loads(raw) if raw else None
            return m if m and m["status"] in ("SUCCESS", "FAILURE") else None
        return harness.wait_for(final, 60)

    def send(self, header, task, args, task_id=None):
        return self.fleet.send_raw("web01", task, args=args, headers={"celeryroot_sig": header}, task_id=task_id)

    def test_replayed_after_a_restart_and_a_nonce_reset(self):
        r = self.fleet.redis.client()
        hdr = celeryroot_sign.sign_header(self.key, "celeryroot.apt.update", [], {}, "host.web01")
        first = self.send(hdr, "celeryroot.apt.update", [])
        meta = self.meta(first)
        self.assertEqual(meta["status"], "SUCCESS", meta)
        attest.verify_record(meta["result"], attest.registry_key(r, "web01"), host="web01", task=first)

        pair = self.fleet.pairs["web01"]
        self.assertEqual(pair.stop(), 0, pair.log()[-2000:])
        pair.start()
        self.fleet.wait_registered(["web01"])
        self.assertIn("nonce file: 1 signed request(s) still within their lifetime", pair.log())
        nonce_keys = r.keys("celeryroot:nonce:host.web01:alice:" + hdr["nonce"])
        self.assertEqual(len(nonce_keys), 1)
        r.delete(*nonce_keys)

        replay = self.send(hdr, "celeryroot.apt.update", [])
        meta = self.meta(replay)
        self.assertEqual(meta["status"], "FAILURE", meta)
        self.assertEqual(meta["result"]["exc_type"], "PermissionError")
        self.assertIn("replayed request refused", meta["result"]["exc_message"][0])
        self.assertIn("another task", meta["result"]["exc_message"][0])
        # priv refused it (net let it through: Redis had forgotten the
        # nonce) and audited it, and its signed line is the stream's copy.
        path = os.path.join(pair.root, "var/log/celeryroot/audit.log")
        with open(path, "rb") as f:
            lines = [l for l in f.read().splitlines() if replay.encode() in l]
        self.assertEqual(len(lines), 1)
        line = attest.verify_line(lines[0], attest.host_pub(pair.root))
        self.assertEqual((line["outcome"], line["key"], line["task"]), ("refused", "alice", replay))
        stream = [f[b"record"] for _, f in r.xrange("celeryroot:audit") if replay.encode() in f[b"record"]]
        self.assertEqual(stream, lines)

        # The first task itself, delivered again (same task id): answered
        # again, from the same nonce, as a redelivery is.
        r.delete(*r.keys("celeryroot:nonce:host.web01:alice:" + hdr["nonce"]))
        r.delete("celery-task-meta-" + first)
        self.send(hdr, "celeryroot.apt.update", [], task_id=first)
        meta = self.meta(first)
        self.assertEqual(meta["status"], "SUCCESS", meta)


if __name__ == "__main__":
    unittest.main()
