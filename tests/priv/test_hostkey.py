"""priv's host key (issue 12): created at the first start in the host root's
state directory, loaded at every later start, announced in HELLO; a key
file others could read, that is not root's or that is not a key stops priv
with a one-line reason; a missing or stale host.pub is written again."""
import base64
import os
import tempfile
import unittest

import attest
import harness
import privpeer


class HostKey(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def host(self, name):
        root = os.path.join(self.tmp.name, name)
        harness.make_sandbox(root, [])
        return root

    def state(self, root, name):
        return os.path.join(root, "var/lib/celeryroot", name)

    def hello_key(self, root):
        priv = privpeer.Priv(root).start()
        try:
            ftype, body = priv.hello()
            self.assertEqual(ftype, privpeer.ANS_REPLY, body)
            return base64.b64decode(body["data"]["host_key"], validate=True)
        finally:
            self.assertEqual(priv.stop(), 0, priv.log())

    def refused_start(self, root, why):
        """priv exits 1 before serving, its last log line naming why."""
        priv = privpeer.Priv(root, log_path=os.path.join(self.tmp.name, "refused.log"))
        if os.path.exists(priv.log_path):
            os.unlink(priv.log_path)
        priv.start()
        rc = priv.proc.wait(30)
        priv.stop()
        lines = priv.log().strip().splitlines()
        self.assertEqual(rc, 1, priv.log())
        self.assertIn("cannot use the host key", lines[-1])
        self.assertIn(why, lines[-1])
        return lines[-1]

    def test_created_once_then_loaded(self):
        root = self.host("fresh")
        self.assertFalse(os.path.exists(self.state(root, "host.key")))
        pk = self.hello_key(root)
        self.assertEqual(len(pk), 32)
        key, pub = os.stat(self.state(root, "host.key")), os.stat(self.state(root, "host.pub"))
        self.assertEqual((key.st_uid, key.st_mode & 0o777), (0, 0o600))
        self.assertEqual((pub.st_uid, pub.st_mode & 0o777), (0, 0o644))
        self.assertEqual(attest.host_pub(root), pk)
        with open(self.state(root, "host.key")) as f:
            self.assertIn("id = host\nsecret = ", f.read())
        # The next start loads the same key.
        self.assertEqual(self.hello_key(root), pk)
        self.assertIn("(loaded)", open(os.path.join(self.tmp.name, "web01.priv.log")).read())

    def test_a_key_others_could_read_stops_priv(self):
        root = self.host("readable")
        self.hello_key(root)
        path = self.state(root, "host.key")
        os.chmod(path, 0o640)
        self.assertIn("chmod 600 " + path, self.refused_start(root, "readable by others"))
        os.chmod(path, 0o600)
        os.chown(path, 65534, 65534)
        self.assertIn("chown root " + path, self.refused_start(root, "belongs to uid 65534"))

    def test_a_key_that_is_no_key_stops_priv(self):
        root = self.host("garbage")
        self.hello_key(root)
        path = self.state(root, "host.key")
        for content in ("id = host\nsecret = AAAA\n", "id = alice\nsecret = %s\n" %
                        base64.b64encode(b"\x01" * 64).decode(), "\x00\x01binary"):
            with self.subTest(content=content[:20]):
                with open(path, "w") as f:
                    f.write(content)
                self.refused_start(root, "host.key")
        # Half of one key and half of another: not the pair it claims to be.
        with open(path, "w") as f:
            f.write("id = host\nsecret = %s\n" % base64.b64encode(b"\x01" * 32 + b"\x02" * 32).decode())
        self.refused_start(root, "not a celeryroot host key")
        os.unlink(path)
        os.symlink("/etc/passwd", path)
        self.refused_start(root, "cannot read")

    def test_host_pub_is_written_again(self):
        root = self.host("pub")
        pk = self.hello_key(root)
        os.unlink(self.state(root, "host.pub"))
        self.assertEqual(self.hello_key(root), pk)
        self.assertEqual(attest.host_pub(root), pk)
        # A stale copy (someone else's public key) is replaced too.
        with open(self.state(root, "host.pub"), "w") as f:
            f.write("id = host\npublic = %s\n" % base64.b64encode(b"\x07" * 32).decode())
        self.assertEqual(self.hello_key(root), pk)
        self.assertEqual(attest.host_pub(root), pk)

    def test_a_long_list_fits_its_frame_once_signed(self):
        """The signed payload repeats the record as an escaped string: a
        list of thousands of installed packages is cut to fit one frame,
        and still arrives signed (not refused as too big)."""
        root = self.host("many")
        with open(os.path.join(root, "var/lib/dpkg/status"), "w") as f:
            for i in range(4000):
                f.write("Package: a-package-with-a-rather-long-name-%04d\nStatus: install ok installed\n"
                        "Priority: optional\nSection: misc\nMaintainer: T <t@celeryroot.invalid>\n"
                        "Architecture: all\nVersion: 1.0-1+build.with.a.long.version.%04d\n"
                        "Description: test\n\n" % (i, i))
        priv = privpeer.Priv(root).start()
        try:
            task = "7d1c2a52-40c4-4f6e-9a44-4bb0b0a8c8a3"
            ftype, body = priv.exchange(privpeer.apt(task, op="list", pkgs=[]))
            self.assertEqual(ftype, privpeer.ANS_REPLY, body)
            rec = attest.verify_record(body["data"], attest.host_pub(root), host="web01", task=task)
            self.assertTrue(rec["data"]["truncated"])
            self.assertEqual(rec["data"]["total"], 4000)
            self.assertGreater(len(rec["data"]["packages"]), 100)
        finally:
            self.assertEqual(priv.stop(), 0, priv.log())


if __name__ == "__main__":
    unittest.main()
