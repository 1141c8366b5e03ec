"""priv's audit log is bounded and stays verifiable (issue 12, item 7): a
compromised net sending 100,000 hostile frames straight to priv makes it
write a bounded number of bytes (the first refusals of each window one by
one, the rest counted into one signed summary line), and a size cap with
rotation keeps seq, prev and every signature continuous across the files."""
import hashlib
import json
import os
import tempfile
import time
import unittest

import attest
import harness
import privpeer

TASK = "6c2ac3b8-8757-4c9c-9bbf-83abd8089478"
GENESIS = "0" * 64
REFUSALS_PER_WINDOW = 20
LINE_MAX = 2048          # a refusal line: its reason is bounded by the frame's error field


def chain(paths, pk):
    """Every line of the files (oldest first), checked as one chain whose
    first line starts where a rotated-away file ended; returns the lines."""
    lines, prev_hash, prev_seq = [], None, None
    for path in paths:
        with open(path, "rb") as f:
            raw = f.read()
        assert raw.endswith(b"\n"), path
        for line in raw.split(b"\n")[:-1]:
            rec = attest.verify_line(line, pk)
            if prev_hash is not None:
                assert rec["prev"] == prev_hash, "chain broken at seq %d in %s" % (rec["seq"], path)
                assert rec["seq"] == prev_seq + 1, "seq %d after %d in %s" % (rec["seq"], prev_seq, path)
            prev_hash, prev_seq = hashlib.sha256(line).hexdigest(), rec["seq"]
            lines.append(rec)
    return lines


class AuditBounds(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def host(self, name, config=None):
        root = harness.make_sandbox(os.path.join(self.tmp.name, name), [])
        path = "/dev/null"
        if config:
            path = os.path.join(self.tmp.name, name + ".conf")
            with open(path, "w") as f:
                f.write(config)
        return privpeer.Priv(root, config=path, hostname=name)

    def test_a_flood_of_hostile_frames_writes_a_bounded_amount(self):
        frames = 2000 if harness.VALGRIND else 100000
        priv = self.host("flood").start()
        hostile = [
            # audited: APT requests the decoder refuses
            privpeer.apt(TASK, pkgs=["$(reboot)"]),
            privpeer.apt(TASK, op="shell"),
            privpeer.frame(privpeer.REQ_APT, b'{"id": 3, "op": "install", "cmd": "sh"}'),
            # not audited (no request to speak of): logged at a bounded rate
            privpeer.frame(privpeer.REQ_PING, b"\xff\xfe;rm -rf /"),
            privpeer.frame(100, {"id": 1}),
        ]
        audited = sum(1 for i in range(frames) if i % len(hostile) < 3)
        size = lambda p: os.path.getsize(p) if os.path.exists(p) else 0
        started = time.monotonic()
        for i in range(frames):
            ftype, body = priv.exchange(hostile[i % len(hostile)])
            self.assertEqual(ftype, privpeer.ANS_REFUSED, body)
        seconds = time.monotonic() - started
        written, logged = size(priv.audit_path()), size(priv.log_path)
        windows = int(seconds // 60) + 1
        # Per window: the first refusals one by one, and one summary line.
        self.assertLessEqual(written, windows * (REFUSALS_PER_WINDOW + 1) * LINE_MAX, (written, seconds))
        self.assertLessEqual(logged, windows * 40 * 1024, logged)
        ftype, body = priv.exchange(privpeer.frame(privpeer.REQ_PING, {"id": 7, "job": "", "task": TASK}))
        self.assertEqual(ftype, privpeer.ANS_REPLY)
        # Stopping ends the window: its summary counts every refusal not written.
        self.assertEqual(priv.stop(), 0)
        lines = chain([priv.audit_path()], attest.host_pub(priv.root))
        full = [l for l in lines if l["outcome"] == "refused" and "coalesced" not in l]
        summaries = [l for l in lines if "coalesced" in l]
        self.assertLessEqual(len(full), windows * REFUSALS_PER_WINDOW)
        self.assertEqual(len(full) + sum(s["coalesced"] for s in summaries), audited)
        self.assertEqual(sum(s["types"].get("APT", 0) for s in summaries), audited - len(full))
        self.assertIn("counted, not written one by one", summaries[-1]["error"])
        reads = [l for l in lines if l.get("operation") == "reads"]
        self.assertEqual((reads[-1]["reads"], reads[-1]["keys"]), ({"ping": 1}, {"-": 1}))
        harness.figure("hostile frames to priv", 1, frames=frames, audited_refusals=audited,
                       audit_bytes=size(priv.audit_path()), audit_lines=len(lines), log_bytes=logged,
                       seconds=seconds)

    def test_changes_past_the_budget_are_refused_and_audited(self):
        """A compromised net asking for change after change: past the window's
        budget (audit_changes_per_minute) priv refuses them, each refusal
        audited (and coalesced like any other), so the log's history cannot
        be rotated away by a flood of no-op changes."""
        priv = self.host("budget", "[daemon]\naudit_changes_per_minute = 3\n").start()
        answers = []
        for i in range(6):
            task = "6c2ac3b8-8757-4c9c-9bbf-83abd80894%02d" % i
            answers.append(priv.exchange(privpeer.apt(task, op="remove", pkgs=["not-installed-here"], check=True)))
        kinds = [ftype for ftype, _ in answers]
        self.assertEqual(kinds, [privpeer.ANS_REPLY] * 3 + [privpeer.ANS_REFUSED] * 3, answers)
        self.assertIn("more than 3 changes in 60 s", answers[-1][1]["error"])
        self.assertEqual(priv.stop(), 0)
        lines = chain([priv.audit_path()], attest.host_pub(priv.root))
        refused = [l for l in lines if l["outcome"] == "refused"]
        self.assertEqual(len(refused), 3, lines)
        self.assertTrue(all("audit budget" in l["error"] for l in refused))

    def test_rotation_keeps_the_chain_and_the_signatures(self):
        priv = self.host("rotated", "[daemon]\naudit_max_size = 4096\naudit_keep = 3\n").start()
        replies = []
        for i in range(40):
            ftype, body = priv.exchange(privpeer.apt("t-%d" % i, pkgs=["ct-x%d" % i], check=True))
            self.assertEqual(ftype, privpeer.ANS_REPLY, body)
            replies.append(body["data"]["audit"])
        self.assertEqual(priv.stop(), 0)
        base = priv.audit_path()
        paths = [base + ".3", base + ".2", base + ".1", base]
        for p in paths:
            self.assertTrue(os.path.exists(p), p)
            self.assertLessEqual(os.path.getsize(p), 4096, p)
        self.assertFalse(os.path.exists(base + ".4"))
        lines = chain(paths, attest.host_pub(priv.root))
        # The oldest kept file starts where a rotated-away one ended.
        self.assertNotEqual(lines[0]["prev"], GENESIS)
        self.assertEqual(lines[-1]["seq"], 40)
        self.assertEqual([l["task"] for l in lines], ["t-%d" % i for i in range(40 - len(lines), 40)])
        # What went to net with each answer is the line in the file.
        self.assertEqual(replies[-len(lines):], lines)
        # And priv goes on from there after a restart.
        priv.start()
        ftype, body = priv.exchange(privpeer.apt("t-40", pkgs=["ct-y"], check=True))
        self.assertEqual(ftype, privpeer.ANS_REPLY, body)
        self.assertEqual(priv.stop(), 0)
        more = chain(paths, attest.host_pub(priv.root))
        self.assertEqual(more[-1]["seq"], 41)
        self.assertEqual(more[-1]["task"], "t-40")


if __name__ == "__main__":
    unittest.main()
