"""What celeryrootd reads as root before it starts is checked like sshd
checks its files: a config writable by others or owned by another user, a
world-readable config holding the broker password, and a trusted_keys
directory or key that others could write are refused with the chmod or
chown that fixes them.  A host that trusts any key requires signatures
unless its config says require_signed = false."""
import json
import os
import pwd
import subprocess
import tempfile
import unittest

import harness


class Files(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.tmp = tempfile.mkdtemp(prefix="celeryroot-files.")
        cls.root = harness.make_sandbox(os.path.join(cls.tmp, "host"), [])
        cls.keys = os.path.join(cls.tmp, "keys")
        os.mkdir(cls.keys, 0o700)
        code, out, err = harness.cli("key", "generate", "alice", "--dir", cls.keys)
        assert code == 0, err

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["rm", "-rf", cls.tmp])

    def write_config(self, text, mode=0o644, owner=0):
        path = os.path.join(self.tmp, "celeryroot.conf")
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        os.chown(path, owner, 0)
        return path

    def start(self, config, broker="redis://127.0.0.1:1/0"):
        """celeryrootd with config; (exit code or None if it kept running, stderr)."""
        p = subprocess.Popen([harness.daemon_path(), "--foreground", "--hostname", "files", "--sandbox", self.root,
                              "--user", "nobody", "--config", config, "--broker", broker],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = p.communicate(timeout=3)
            return p.returncode, err
        except subprocess.TimeoutExpired:
            p.terminate()
            out, err = p.communicate(timeout=10)
            return None, err

    def test_config_modes(self):
        nobody = pwd.getpwnam("nobody").pw_uid
        cases = [
            (0o664, 0, "[daemon]\nroles = web\n", "run 'chmod go-w"),
            (0o646, 0, "[daemon]\nroles = web\n", "run 'chmod go-w"),
            (0o644, nobody, "[daemon]\nroles = web\n", "run 'chown root"),
            (0o644, 0, "[broker]\npassword = s3cret\n", "holds the broker password and is readable by everyone"),
            (0o644, 0, "[broker]\nurl = redis://u:s3cret@127.0.0.1:6379/0\n", "run 'chmod o-r"),
        ]
        for mode, owner, text, expect in cases:
            with self.subTest(mode=oct(mode), owner=owner, text=text):
                code, err = self.start(self.write_config(text, mode, owner))
                self.assertEqual(code, 1, err)
                self.assertIn(expect, err)
                self.assertEqual(len(err.strip().splitlines()), 1, err)
        # The same password in a 640 file: the daemon starts (and keeps trying the broker).
        code, err = self.start(self.write_config("[broker]\npassword = s3cret\n", 0o640))
        self.assertIsNone(code, err)

    def keys_config(self, extra=""):
        return self.write_config("[daemon]\ntrusted_keys = %s\n%s" % (self.trusted, extra))

    def make_trusted(self, dir_mode=0o755, key_mode=0o644):
        self.trusted = os.path.join(self.tmp, "trusted-%o-%o" % (dir_mode, key_mode))
        os.makedirs(self.trusted, exist_ok=True)
        path = os.path.join(self.trusted, "alice.pub")
        with open(os.path.join(self.keys, "alice.pub")) as src, open(path, "w") as dst:
            dst.write(src.read())
        os.chmod(path, key_mode)
        os.chmod(self.trusted, dir_mode)
        return path

    def test_trusted_keys_modes(self):
        for dir_mode, key_mode, expect in ((0o777, 0o644, "directory"), (0o1777, 0o644, "directory"),
                                           (0o775, 0o644, "directory"), (0o755, 0o666, "trusted key"),
                                           (0o755, 0o664, "trusted key")):
            with self.subTest(dir_mode=oct(dir_mode), key_mode=oct(key_mode)):
                self.make_trusted(dir_mode, key_mode)
                code, err = self.start(self.keys_config())
                self.assertEqual(code, 1, err)
                self.assertIn(expect, err)
                self.assertIn("writable by group or others", err)
        self.make_trusted(0o755, 0o644)
        code, err = self.start(self.keys_config())
        self.assertIsNone(code, err)

    def test_a_trusted_key_means_signatures_are_required(self):
        self.make_trusted()
        conf = self.keys_config("roles = web\n")
        with harness.Fleet({"signedhost": ["web"]}, config={"trusted_keys": self.trusted}) as fleet:
            code, out, err = fleet.cli("ping", "--host", "signedhost", "--json")
            self.assertEqual(code, 2, out)
            rec = json.loads(out)["hosts"][0]
            self.assertIn("unsigned task refused", rec["error"])
            self.assertIn("unsigned tasks are refused", fleet.pairs["signedhost"].log())
            code, out, err = fleet.cli("ping", "--host", "signedhost", "--json",
                                       env={"CELERYROOT_SIGNING_KEY": os.path.join(self.keys, "alice.key")})
            self.assertEqual(code, 0, err + out)
        self.assertTrue(os.path.exists(conf))
        # Saying so explicitly still allows unsigned tasks, and the log says so.
        with harness.Fleet({"plainhost": ["web"]},
                           config={"trusted_keys": self.trusted, "require_signed": "false"}) as fleet:
            code, out, err = fleet.cli("ping", "--host", "plainhost", "--json")
            self.assertEqual(code, 0, err + out)
            self.assertIn("accepted (require_signed = false)", fleet.pairs["plainhost"].log())


if __name__ == "__main__":
    unittest.main()
