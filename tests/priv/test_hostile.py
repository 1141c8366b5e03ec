"""Hostile requests written straight to priv's socket: every one is refused,
and priv stays up and keeps answering well-formed requests."""
import json
import os
import socket
import struct
import subprocess
import tempfile
import unittest

import attest
import harness

REQ_HELLO, REQ_PING, REQ_FACTS, REQ_APT = 2, 4, 6, 8
ANS_PROGRESS, ANS_REPLY, ANS_REFUSED, ANS_AUDIT = 3, 5, 7, 9
TASK = "6c2ac3b8-8757-4c9c-9bbf-83abd8089478"


def frame(ftype, payload):
    if isinstance(payload, (dict, list)):
        payload = json.dumps(payload).encode()
    return struct.pack(">IB", len(payload) + 1, ftype) + payload


HOSTILE = {
    "oversized": frame(REQ_PING, b"x" * (80 * 1024)),
    "empty packet header only": b"\x00\x00",
    "truncated header": struct.pack(">I", 10),
    "length lies": struct.pack(">IB", 500, REQ_PING) + b"{}",
    "length zero": struct.pack(">I", 0) + b"\x04",
    "unknown type": frame(100, {"id": 1}),
    "answer type as request": frame(ANS_REPLY, {"id": 1, "data": {}}),
    "not json": frame(REQ_PING, b"\xff\xfe;rm -rf /"),
    "json array": frame(REQ_PING, [1, 2]),
    "extra key": frame(REQ_PING, {"id": 1, "job": "", "task": TASK, "cmd": "sh"}),
    "missing key": frame(REQ_PING, {"id": 1, "job": ""}),
    "id is a string": frame(REQ_PING, {"id": "1", "job": "", "task": TASK}),
    "negative id": frame(REQ_PING, {"id": -1, "job": "", "task": TASK}),
    "huge id": frame(REQ_PING, {"id": 2 ** 40, "job": "", "task": TASK}),
    "bad task id": frame(REQ_FACTS, {"id": 1, "job": "", "task": "$(reboot)"}),
    "bad job id": frame(REQ_FACTS, {"id": 1, "job": "../../etc/shadow", "task": TASK}),
    "path smuggling": frame(REQ_FACTS, {"id": 1, "job": "", "task": TASK, "root": "/"}),
    "duplicate keys": frame(REQ_PING, b'{"id": 1, "id": 2, "job": "", "task": "%s"}' % TASK.encode()),
}


def apt(op="install", pkgs=("ct-one",), **over):
    body = {"id": 11, "job": TASK, "task": TASK, "op": op, "pkgs": list(pkgs), "upgradable": False,
            "security": False, "check": True, "purge": False, "now": False, "max_age": -1}
    body.update(over)
    return frame(REQ_APT, body)


# APT requests that are well framed but must be refused: every hostile
# package spec, and every field out of its schema.
HOSTILE_APT = dict(("package %r" % bad, apt(pkgs=[bad])) for bad in harness.HOSTILE_PKGS)
HOSTILE_APT.update({
    "101 packages": apt(pkgs=["p%03d" % i for i in range(101)]),
    "operation not allowed": apt(op="shell"),
    "operation as option": apt(op="--install"),
    "install without packages": apt(pkgs=[]),
    "clean with packages": apt(op="clean"),
    "package not a string": apt(pkgs=[1]),
    "check not a boolean": apt(check="yes"),
    "max_age negative": apt(max_age=-5),
    "max_age absurd": apt(max_age=1e12),
    "root smuggled": frame(REQ_APT, dict(json.loads(apt()[5:]), root="/")),
    "apt options smuggled": frame(REQ_APT, dict(json.loads(apt()[5:]), options=["-oDebug=1"])),
})

# Issue 15's fields, from a compromised net (H5's attack pass): an exclude
# list too long, of non-strings, duplicated, with versions or control bytes;
# the guards and --conffile as anything but a boolean; a hold of no package,
# of 101, or of a name that is not a Debian package name.
HOSTILE_APT.update({
    "exclude of 5000 names": apt(op="upgrade", pkgs=[], exclude=["p%04d" % i for i in range(5000)]),
    "exclude of 33 names": apt(op="upgrade", pkgs=[], exclude=["p%02d" % i for i in range(33)]),
    "exclude empty": apt(op="upgrade", pkgs=[], exclude=[]),
    "exclude not a list": apt(op="upgrade", pkgs=[], exclude="ct-one"),
    "exclude of a number": apt(op="upgrade", pkgs=[], exclude=[7]),
    "exclude of null": apt(op="upgrade", pkgs=[], exclude=[None]),
    "exclude duplicated": apt(op="upgrade", pkgs=[], exclude=["ct-one", "ct-one"]),
    "exclude duplicated by arch": apt(op="upgrade", pkgs=[], exclude=["ct-one:amd64", "ct-one:amd64"]),
    "exclude with a version": apt(op="upgrade", pkgs=[], exclude=["ct-one=1.0"]),
    "exclude with an escape": apt(op="upgrade", pkgs=[], exclude=["ct\x1b]0;x\x07"]),
    "exclude with a NUL": apt(op="upgrade", pkgs=[], exclude=["ct\x00one"]),
    "exclude as an option": apt(op="upgrade", pkgs=[], exclude=["-oAPT::Get::Trivial-Only=0"]),
    "exclude on install": apt(exclude=["ct-two"]),
    "full on install": apt(full=True),
    "full a string": apt(op="upgrade", pkgs=[], full="true"),
    "conffile_new a string": apt(conffile_new="new"),
    "conffile_new a number": apt(conffile_new=1),
    "conffile_new on remove": apt(op="remove", conffile_new=True),
    "allow_essential a number": apt(op="remove", allow_essential=1),
    "allow_removals null": apt(op="remove", allow_removals=None),
    "allow_removals a list": apt(op="remove", allow_removals=[True]),
    "allow_essential on hold": apt(op="hold", allow_essential=True),
    "hold of no package": apt(op="hold", pkgs=[]),
    "unhold of no package": apt(op="unhold", pkgs=[]),
    "hold of 101 packages": apt(op="hold", pkgs=["p%03d" % i for i in range(101)]),
    "hold of a path": apt(op="hold", pkgs=["../../etc/shadow"]),
    "hold of an option": apt(op="hold", pkgs=["--selected-only"]),
    "hold of a shell word": apt(op="hold", pkgs=["nginx;reboot"]),
    "hold of an escape": apt(op="unhold", pkgs=["ng\x1b[2Jinx"]),
    "hold with conffile_new": apt(op="hold", conffile_new=True),
})


class Hostile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = os.path.join(cls.tmp.name, "host")
        harness.make_sandbox(cls.root, [])
        cls.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        os.set_inheritable(theirs.fileno(), True)
        cls.proc = subprocess.Popen(
            harness.valgrind_prefix(cls.tmp.name, "priv") +
            [harness.daemon_path(), "--foreground", "--hostname", "hostile", "--sandbox", cls.root,
             "--config", "/dev/null", "--priv-fd", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stderr=subprocess.DEVNULL,
            env=dict(os.environ, CELERYROOT_TEST_AUDIT_WINDOW="2"))
        theirs.close()
        cls.sock.settimeout(20)

    @classmethod
    def tearDownClass(cls):
        cls.sock.close()
        cls.proc.wait(30 if harness.VALGRIND else 10)
        reports = harness.valgrind_reports(cls.tmp.name)
        cls.tmp.cleanup()
        if reports:
            raise AssertionError("valgrind errors in priv:\n" + "\n".join(t for _, t in reports))

    def exchange(self, data):
        self.sock.send(data)
        while True:
            answer = self.sock.recv(70000)
            length, ftype = struct.unpack(">IB", answer[:5])
            self.assertEqual(length, len(answer) - 4)
            if ftype != ANS_AUDIT:   # a window's summary line, sent on priv's own
                return ftype, json.loads(answer[5:])

    def test_each_hostile_request_is_refused_and_priv_stays_up(self):
        for name, data in HOSTILE.items():
            with self.subTest(name):
                ftype, body = self.exchange(data)
                self.assertEqual(ftype, ANS_REFUSED, body)
                self.assertTrue(body["error"])
                self.assertIsNone(self.proc.poll())
                ftype, body = self.exchange(frame(REQ_PING, {"id": 7, "job": "", "task": TASK}))
                self.assertEqual(ftype, ANS_REPLY, body)
                self.assertEqual(body["id"], 7)

    def audit_path(self):
        return os.path.join(self.root, "var/log/celeryroot/audit.log")

    def audit(self):
        if not os.path.exists(self.audit_path()):
            return []
        with open(self.audit_path()) as f:
            return [json.loads(line) for line in f]

    def test_hostile_apt_requests_are_refused_and_audited(self):
        """Each is refused and on the record: written one by one while the
        window's budget lasts (the refusal carries its signed line, for
        net's stream), then counted into the window's summary line."""
        self.assertGreaterEqual(len(harness.HOSTILE_PKGS), 20)
        pk = attest.host_pub(self.root)
        start, written = len(self.audit()), 0
        for name, data in HOSTILE_APT.items():
            with self.subTest(name):
                before = len(self.audit())
                ftype, body = self.exchange(data)
                self.assertEqual(ftype, ANS_REFUSED, body)
                self.assertIsNone(self.proc.poll())
                lines = self.audit()
                if "audit" in body:
                    written += 1
                    self.assertEqual(len(lines), before + 1, name)
                    self.assertEqual(lines[-1], body["audit"])
                    self.assertEqual(lines[-1]["outcome"], "refused")
                    self.assertIn("APT", lines[-1]["error"])
                    with open(self.audit_path(), "rb") as f:
                        attest.verify_line(f.read().splitlines()[-1], pk)
                else:
                    self.assertEqual(len(lines), before, name)
        self.assertGreater(written, 0)
        # The window (2 s here, a minute by default) ends with its summary.
        def summed():
            lines = self.audit()[start:]
            full = [l for l in lines if l["outcome"] == "refused" and "coalesced" not in l]
            return len(full) + sum(l.get("coalesced", 0) for l in lines) == len(HOSTILE_APT)
        harness.wait_for(summed, 30)
        # Nothing was acted on: dpkg's database is as empty as it started.
        with open(os.path.join(self.root, "var/lib/dpkg/status")) as f:
            self.assertEqual(f.read().strip(), "")

    def test_well_formed_apt_query_answered(self):
        ftype, body = self.exchange(apt(op="query", pkgs=["ct-one"]))
        self.assertEqual(ftype, ANS_REPLY, body)
        rec = attest.verify_record(body["data"], attest.host_pub(self.root), host="hostile", task=TASK)
        self.assertFalse(rec["data"]["packages"]["ct-one"]["known"])

    def test_issue15_fields_well_formed_are_answered(self):
        """The controls of the issue 15 refusals above: the same fields in
        bounds get an answer, so those refusals are the fields' own."""
        names = ["p%02d" % i for i in range(32)]
        ftype, body = self.exchange(apt(op="upgrade", pkgs=[], exclude=names, full=True, allow_removals=True))
        self.assertEqual(ftype, ANS_REPLY, body)
        ftype, body = self.exchange(apt(op="hold", pkgs=["ct-one"]))
        self.assertEqual(ftype, ANS_REPLY, body)
        rec = attest.verify_record(body["data"], attest.host_pub(self.root), host="hostile", task=TASK, job=TASK)
        self.assertIn("unknown package 'ct-one'", rec["error"])

    def test_well_formed_facts_answered(self):
        ftype, body = self.exchange(frame(REQ_FACTS, {"id": 9, "job": TASK, "task": TASK}))
        self.assertEqual(ftype, ANS_REPLY)
        rec = attest.verify_record(body["data"], attest.host_pub(self.root), host="hostile", task=TASK, job=TASK)
        self.assertEqual(rec["data"]["installed_packages"], 0)


if __name__ == "__main__":
    unittest.main()
