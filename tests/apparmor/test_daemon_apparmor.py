"""celeryrootd and [daemon] apparmor on this host.  Where AppArmor is not
enabled (this machine: no AppArmor in the kernel), "auto" and "off" run
the pair as usual and say nothing about it, and "require" refuses to start.
Where it is enabled, "auto" names the profile net ended up in or warns."""
import ctypes
import json
import os
import subprocess
import tempfile
import unittest

import harness


def apparmor_enabled():
    """What libapparmor's aa_is_enabled() says, as net and priv ask it."""
    return ctypes.CDLL("libapparmor.so.1").aa_is_enabled() == 1


class DaemonAppArmor(unittest.TestCase):
    def setUp(self):
        harness.require_root()

    def start_and_ping(self, mode):
        with harness.Fleet({"web01": ["webserver"]}, config={"apparmor": mode}) as fleet:
            # ping answers from net and priv; facts has priv open APT's cache
            for op in ("ping", "facts"):
                code, out, err = fleet.cli(op, "--host", "web01", "--json")
                self.assertEqual(code, 0, err)
                host = json.loads(out)["hosts"][0]
                self.assertEqual((host["host"], host["status"]), ("web01", "unchanged"), out)
            return fleet.pairs["web01"].log()

    def test_auto_runs_the_pair(self):
        log = self.start_and_ping("auto")
        if not apparmor_enabled():
            self.assertNotIn("apparmor", log.lower(), "nothing to say where AppArmor is absent")
        else:
            self.assertTrue("confined by AppArmor profile" in log or
                            "warning: AppArmor is enabled" in log, log)

    def test_off_runs_the_pair_without_a_word(self):
        self.assertNotIn("apparmor", self.start_and_ping("off").lower())

    def test_require_refuses_to_run_unconfined(self):
        # Started by hand from the build tree, priv is not in its profile
        # (no path attachment matches, no systemd to ask for it) and net's
        # profile is not loaded: "require" cannot be met either way.
        with tempfile.TemporaryDirectory() as tmp:
            root = harness.make_sandbox(os.path.join(tmp, "host"), [])
            config = os.path.join(tmp, "celeryroot.conf")
            with open(config, "w") as f:
                f.write("[daemon]\napparmor = require\n")
            p = subprocess.run([harness.daemon_path(), "--foreground", "--hostname", "web01", "--sandbox", root,
                                "--user", "nobody", "--config", config, "--broker", "redis://127.0.0.1:1/0"],
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("apparmor = require", p.stderr)
        if not apparmor_enabled():
            self.assertIn("AppArmor is not enabled", p.stderr)

    def test_bad_mode_is_a_config_error(self):
        with tempfile.TemporaryDirectory() as tmp:
            config = os.path.join(tmp, "celeryroot.conf")
            with open(config, "w") as f:
                f.write("[daemon]\napparmor = enforce\n")
            p = subprocess.run([harness.daemon_path(), "--foreground", "--config", config],
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn("apparmor = 'enforce': use auto, require or off", p.stderr)


if __name__ == "__main__":
    unittest.main()
