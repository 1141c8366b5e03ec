"""priv checks signed requests again, on the claims net forwards: a request
whose signature would pass in net but which is altered on the socketpair
(what a compromised net would do) is refused and audited, as are unsigned
and replayed requests; a faithful one is answered."""
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

import attest
import harness

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "contrib"))
import celeryroot_sign  # noqa: E402

REQ_PING, REQ_APT = 4, 8
ANS_REPLY, ANS_REFUSED = 5, 7
JOB = "0f0e6f1c-3c55-4a55-9a53-0d6b3b0f2f11"


def frame(ftype, body):
    payload = json.dumps(body).encode()
    return struct.pack(">IB", len(payload) + 1, ftype) + payload


class SignedPriv(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.tmp = tempfile.TemporaryDirectory()
        trusted, keyfile = harness.trusted_key(cls.tmp.name)
        cls.key = celeryroot_sign.load_key(keyfile)
        config = os.path.join(cls.tmp.name, "celeryroot.conf")
        with open(config, "w") as f:
            f.write("[daemon]\ntrusted_keys = %s\nrequire_signed = true\nroles = webserver\n" % trusted)
        cls.root = os.path.join(cls.tmp.name, "host")
        harness.make_sandbox(cls.root, [])
        cls.config = config
        cls.start()

    @classmethod
    def start(cls):
        cls.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        os.set_inheritable(theirs.fileno(), True)
        cls.proc = subprocess.Popen(
            [harness.daemon_path(), "--foreground", "--hostname", "web01", "--sandbox", cls.root,
             "--config", cls.config, "--priv-fd", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stderr=subprocess.PIPE)
        theirs.close()
        cls.sock.settimeout(20)

    @classmethod
    def stop(cls):
        cls.sock.close()
        cls.proc.wait(10)
        cls.proc.stderr.close()

    @classmethod
    def tearDownClass(cls):
        cls.stop()
        cls.tmp.cleanup()

    def exchange(self, data):
        self.sock.send(data)
        while True:
            answer = self.sock.recv(70000)
            length, ftype = struct.unpack(">IB", answer[:5])
            if ftype != 9:   # ANS_AUDIT: a window's summary line, sent on priv's own
                return ftype, json.loads(answer[5:])

    def audit(self):
        path = os.path.join(self.root, "var/log/celeryroot/audit.log")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f]

    def claims(self, task="celeryroot.apt.query", args=(["sg-one"],), kwargs=None, target="host.web01",
               job=JOB, expires=None):
        hdr = celeryroot_sign.sign_header(self.key, task, list(args), kwargs or {}, target, job=job,
                                          expires=expires)
        return dict(hdr, task=task, args=list(args), kwargs=kwargs or {})

    def apt(self, op="query", pkgs=("sg-one",), sig=None, job=JOB, task=None, **over):
        body = {"id": 21, "job": job, "task": task or str(uuid.uuid4()), "op": op, "pkgs": list(pkgs),
                "upgradable": False, "security": False, "check": False, "purge": False, "now": False, "max_age": -1}
        body.update(over)
        if sig is not None:
            body["sig"] = sig
        return frame(REQ_APT, body)

    def answered(self, data, task):
        ftype, body = self.exchange(data)
        self.assertEqual(ftype, ANS_REPLY, body)
        rec = attest.verify_record(body["data"], attest.host_pub(self.root), host="web01", task=task, job=JOB)
        self.assertIn("sg-one", rec["data"]["packages"])

    def replay_refused(self, claims):
        before = len(self.audit())
        ftype, body = self.exchange(self.apt(sig=claims))
        self.assertEqual(ftype, ANS_REFUSED, body)
        self.assertIn("replayed", body["error"])
        lines = self.audit()
        self.assertEqual(len(lines), before + 1)
        self.assertEqual((lines[-1]["outcome"], lines[-1]["key"]), ("refused", "alice"))
        self.assertIn("replayed", lines[-1]["error"])

    def test_faithful_request_answered_then_replay_refused(self):
        claims, task = self.claims(), str(uuid.uuid4())
        self.answered(self.apt(sig=claims, task=task), task)
        # The same signed request as another task: a replay.
        self.replay_refused(claims)
        # The same task delivered again (net died before its result was
        # written): answered again, from the same nonce.
        self.answered(self.apt(sig=claims, task=task), task)

    def test_nonces_outlive_a_restart_of_priv(self):
        claims, task = self.claims(), str(uuid.uuid4())
        self.answered(self.apt(sig=claims, task=task), task)
        path = os.path.join(self.root, "var/lib/celeryroot/nonces")
        st = os.stat(path)
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (0, 0o600))
        with open(path) as f:
            self.assertIn("%s alice %s %s\n" % (claims["expires"], claims["nonce"], task), f.read())
        type(self).stop()
        type(self).start()
        self.replay_refused(claims)
        self.answered(self.apt(sig=claims, task=task), task)

    def test_altered_on_the_socketpair_refused_and_audited(self):
        install = lambda **kw: self.claims(task="celeryroot.apt.install", kwargs={"check": True}, **kw)
        upgrade = lambda **kw: self.claims(task="celeryroot.apt.upgrade", args=([],),
                                           kwargs={"check": True, "exclude": ["sg-one"]}, **kw)
        cases = {
            "other package": (self.apt("install", ["sg-two"], sig=install(), check=True), "differs"),
            "check mode dropped": (self.apt("install", sig=install(), check=False), "differs"),
            "other operation": (self.apt("remove", sig=install(), check=True), "differs"),
            "purge added": (self.apt("remove", sig=self.claims(task="celeryroot.apt.remove"), purge=True),
                            "differs"),
            "other job": (self.apt("install", sig=install(), check=True, job=str(uuid.uuid4())), "differs"),
            "downgrade allowed on the way": (self.apt("install", sig=install(), check=True, allow_downgrade=True),
                                             "differs"),
            "exclude dropped on the way": (self.apt("upgrade", [], sig=upgrade(), check=True), "differs"),
            "full added on the way": (self.apt("upgrade", [], sig=upgrade(), check=True, exclude=["sg-one"],
                                               full=True), "differs"),
            "other exclude": (self.apt("upgrade", [], sig=upgrade(), check=True, exclude=["sg-two"]), "differs"),
            "essential allowed on the way": (self.apt("remove", sig=self.claims(task="celeryroot.apt.remove"),
                                                      allow_essential=True), "differs"),
            "removals allowed on the way": (self.apt("remove", sig=self.claims(task="celeryroot.apt.remove"),
                                                     allow_removals=True), "differs"),
            "new conffiles on the way": (self.apt("install", sig=install(), check=True, conffile_new=True),
                                         "differs"),
            "new conffiles dropped": (self.apt("install", check=True, sig=self.claims(
                task="celeryroot.apt.install", kwargs={"check": True, "conffile_new": True})), "differs"),
            "claims altered": (self.apt("install", ["sg-two"], sig=dict(install(), args=[["sg-two"]]),
                                        check=True), "bad signature"),
            "ping for an install signature": (frame(REQ_PING, {"id": 22, "job": JOB, "task": str(uuid.uuid4()),
                                                               "sig": install()}), "differs"),
            "other host": (self.apt(sig=self.claims(target="host.db01")), "not for this host"),
            "a role this host has not": (self.apt(sig=self.claims(target="role.database")), "not for this host"),
            "expired": (self.apt(sig=self.claims(expires=time.time() - 1)), "expired"),
            "unsigned": (self.apt(), "unsigned"),
        }
        with open(os.path.join(self.root, "var/lib/dpkg/status")) as f:
            status = f.read()
        for name, (data, why) in cases.items():
            with self.subTest(name):
                before = len(self.audit())
                ftype, body = self.exchange(data)
                self.assertEqual(ftype, ANS_REFUSED, body)
                self.assertIn(why, body["error"])
                lines = self.audit()
                self.assertEqual(len(lines), before + 1)
                self.assertEqual(lines[-1]["outcome"], "refused")
                if name != "unsigned":
                    self.assertEqual(lines[-1]["key"], "alice")
        with open(os.path.join(self.root, "var/lib/dpkg/status")) as f:
            self.assertEqual(f.read(), status)
        self.assertIsNone(self.proc.poll())

    def test_role_target_answered(self):
        ftype, body = self.exchange(self.apt(sig=self.claims(target="role.webserver")))
        self.assertEqual(ftype, ANS_REPLY, body)


if __name__ == "__main__":
    unittest.main()
