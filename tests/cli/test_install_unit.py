"""celeryroot install-unit: writes the units, sysusers.d and tmpfiles.d
files and AppArmor profiles it was built with under --root, leaves
identical files alone, refuses to overwrite a different one (writing
nothing) unless --force, and rejects bad arguments before writing."""
import json
import os
import tempfile
import unittest

import harness

B, S = harness.BUILDDIR, harness.SRCDIR
# path under the root -> the file it must equal (units with this build's paths)
EXPECTED = {
    "etc/systemd/system/celeryrootd.service": os.path.join(B, "gen", "celeryrootd.service"),
    "etc/systemd/system/celeryroot-beat.service": os.path.join(B, "gen", "celeryroot-beat.service"),
    "etc/sysusers.d/celeryroot.conf": os.path.join(S, "systemd", "celeryroot.sysusers"),
    "etc/tmpfiles.d/celeryroot.conf": os.path.join(S, "systemd", "celeryroot.tmpfiles"),
    "etc/apparmor.d/celeryrootd": os.path.join(S, "apparmor", "celeryrootd"),
    "etc/apparmor.d/celeryroot-net": os.path.join(S, "apparmor", "celeryroot-net"),
}


def read(path):
    with open(path, "rb") as f:
        return f.read()


class InstallUnit(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def run_cli(self, *args):
        return harness.cli("install-unit", *args)

    def install(self, *args):
        code, out, err = self.run_cli("--root", self.root, "--json", *args)
        self.assertEqual(code, 0, err)
        return json.loads(out)

    def states(self, result):
        return {os.path.relpath(f["path"], self.root): f["state"] for f in result["files"]}

    def test_writes_every_file_as_built(self):
        result = self.install()
        self.assertEqual(self.states(result), {p: "written" for p in EXPECTED})
        for rel, src in EXPECTED.items():
            path = os.path.join(self.root, rel)
            self.assertEqual(read(path), read(src), rel)
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o644, rel)
        self.assertIn("systemctl daemon-reload", result["next"])
        self.assertIn("systemctl enable --now celeryrootd", result["next"])
        self.assertEqual(sorted(os.listdir(os.path.join(self.root, "etc", "apparmor.d"))),
                         ["celeryroot-net", "celeryrootd"], "no temporary file left behind")

    def test_the_installed_unit_names_the_configured_daemon(self):
        self.install()
        with open(os.path.join(self.root, "etc/systemd/system/celeryrootd.service")) as f:
            unit = f.read()
        exec_start = [l for l in unit.splitlines() if l.startswith("ExecStart=")]
        self.assertEqual(len(exec_start), 1)
        self.assertTrue(exec_start[0].split("=", 1)[1].split()[0].endswith("/celeryrootd"), exec_start)

    def test_rerun_leaves_identical_files_alone(self):
        self.install()
        path = os.path.join(self.root, "etc/apparmor.d/celeryrootd")
        os.utime(path, (1000000000, 1000000000))
        result = self.install()
        self.assertEqual(self.states(result), {p: "unchanged" for p in EXPECTED})
        self.assertEqual(os.stat(path).st_mtime, 1000000000)

    def test_differing_file_is_refused_and_nothing_written(self):
        self.install()
        changed = os.path.join(self.root, "etc/systemd/system/celeryrootd.service")
        removed = os.path.join(self.root, "etc/apparmor.d/celeryroot-net")
        with open(changed, "a") as f:
            f.write("# local change\n")
        os.unlink(removed)
        code, out, err = self.run_cli("--root", self.root)
        self.assertEqual(code, 1)
        self.assertIn(changed, err)
        self.assertIn("--force", err)
        self.assertEqual(out, "")
        self.assertTrue(read(changed).endswith(b"# local change\n"))
        self.assertFalse(os.path.exists(removed), "refused, yet wrote another file")
        states = self.states(self.install("--force"))
        self.assertEqual(states["etc/systemd/system/celeryrootd.service"], "replaced")
        self.assertEqual(states["etc/apparmor.d/celeryroot-net"], "written")
        self.assertEqual(read(changed), read(EXPECTED["etc/systemd/system/celeryrootd.service"]))

    def test_a_masked_unit_is_not_silently_unmasked(self):
        unit = os.path.join(self.root, "etc/systemd/system/celeryroot-beat.service")
        os.makedirs(os.path.dirname(unit))
        os.symlink("/dev/null", unit)
        code, out, err = self.run_cli("--root", self.root)
        self.assertEqual(code, 1)
        self.assertIn(unit, err)
        self.assertEqual(os.readlink(unit), "/dev/null")
        self.assertEqual(self.states(self.install("--force"))["etc/systemd/system/celeryroot-beat.service"],
                         "replaced")
        self.assertFalse(os.path.islink(unit))

    def test_text_output_lists_files_and_next_commands(self):
        code, out, err = self.run_cli("--root", self.root)
        self.assertEqual(code, 0, err)
        for rel in EXPECTED:
            self.assertIn("written   " + os.path.join(self.root, rel), out)
        for command in ("systemctl daemon-reload", "systemd-sysusers celeryroot.conf",
                        "systemd-tmpfiles --create celeryroot.conf",
                        "apparmor_parser -r /etc/apparmor.d/celeryrootd /etc/apparmor.d/celeryroot-net",
                        "$EDITOR /etc/celeryroot/celeryrootd.conf",
                        "systemctl enable --now celeryrootd"):
            self.assertIn(command, out)

    def test_bad_arguments_exit_1_and_write_nothing(self):
        afile = os.path.join(self.root, "a-file")
        with open(afile, "w"):
            pass
        cases = {
            ("--root",): "needs a value",
            ("--root", self.root, "--bogus"): "unknown option '--bogus'",
            ("--root", self.root, "extra"): "takes no argument",
            ("--root", os.path.join(self.root, "missing")): "is not a directory",
            ("--root", afile): "is not a directory",
            ("--root", ""): "is not a directory",
        }
        for args, message in cases.items():
            with self.subTest(args=args):
                code, out, err = self.run_cli(*args)
                self.assertEqual(code, 1)
                self.assertIn(message, err)
                self.assertEqual(out, "")
        self.assertEqual(os.listdir(self.root), ["a-file"])

    def test_help(self):
        code, out, err = self.run_cli("--help")
        self.assertEqual(code, 0)
        self.assertIn("usage: celeryroot install-unit", out)
        self.assertIn("examples:", out)
        code, out, err = harness.cli("--help")
        self.assertIn("install-unit", out)


if __name__ == "__main__":
    unittest.main()
