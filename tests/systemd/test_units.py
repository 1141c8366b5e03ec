"""The systemd units, sysusers.d and tmpfiles.d files in systemd/: each
unit passes 'systemd-analyze verify' (which also checks that ExecStart's
program exists, so the check runs on copies naming the built programs),
its exposure under 'systemd-analyze security --offline=true' stays at or
below the figure SECURITY.md gives, the users and directories come out as
intended, and 'make install' puts everything, with the configured paths,
under DESTDIR."""
import os
import re
import subprocess
import tempfile
import unittest

import harness

ANALYZE = "/usr/bin/systemd-analyze"
SYSTEMD = os.path.join(harness.SRCDIR, "systemd")
# The figures in SECURITY.md, "systemd units" (and in the units' comments).
EXPOSURE = {"celeryrootd.service": 4.4, "celeryroot-beat.service": 2.0}
PROGRAMS = {"/usr/local/sbin/celeryrootd": harness.daemon_path(), "/usr/local/bin/celeryroot": harness.cli_path()}


def unit_text(name, edit=None):
    """The unit from systemd/, naming the built programs, edited by edit."""
    with open(os.path.join(SYSTEMD, name)) as f:
        text = f.read()
    for installed, built in PROGRAMS.items():
        text = text.replace(installed + " ", built + " ")
    return edit(text) if edit else text


def run_on_copy(name, args, edit=None):
    """Runs systemd-analyze args on a copy of unit name in a temp dir."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(unit_text(name, edit))
        return subprocess.run([ANALYZE] + args + [path], capture_output=True, text=True, cwd=d)


def exposure(name, edit=None):
    p = run_on_copy(name, ["security", "--offline=true", "--no-pager"], edit)
    m = re.search(r"Overall exposure level for %s: (\d+\.\d+)" % re.escape(name), p.stdout)
    assert m, "no exposure figure for %s: %s %s" % (name, p.stdout[-500:], p.stderr)
    return float(m.group(1))


def strip_hardening(text):
    keep = ("[", "Description", "Documentation", "After", "Wants", "Type", "ExecStart", "Restart",
            "User", "Group", "WantedBy", "KillMode", "TimeoutStopSec")
    return "\n".join(l for l in text.splitlines() if not l or l.startswith("#") or l.startswith(keep)) + "\n"


class Units(unittest.TestCase):
    def test_systemd_analyze_available(self):
        self.assertTrue(os.access(ANALYZE, os.X_OK), "systemd-analyze missing: install 'systemd' (tools/deps.sh)")

    def test_units_name_the_default_prefix_programs(self):
        for name, program in (("celeryrootd.service", "/usr/local/sbin/celeryrootd"),
                              ("celeryroot-beat.service", "/usr/local/bin/celeryroot")):
            with open(os.path.join(SYSTEMD, name)) as f:
                text = f.read()
            self.assertRegex(text, r"(?m)^ExecStart=%s " % re.escape(program))
            self.assertNotEqual(unit_text(name), text, "the copy must name the built program")

    def test_verify_passes_without_a_warning(self):
        for name in EXPOSURE:
            with self.subTest(unit=name):
                p = run_on_copy(name, ["verify"])
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stderr.strip(), "", "systemd-analyze verify warns")

    def test_verify_catches_a_broken_unit(self):
        missing = run_on_copy("celeryrootd.service", ["verify"],
                              lambda t: t.replace(harness.daemon_path() + " ", "/nonexistent/celeryrootd "))
        self.assertNotEqual(missing.returncode, 0)
        self.assertIn("/nonexistent/celeryrootd", missing.stderr)
        typo = run_on_copy("celeryroot-beat.service", ["verify"],
                           lambda t: t.replace("ProtectHome=yes", "ProtectHome=yes\nProtectEverything=yes"))
        self.assertIn("Unknown key 'ProtectEverything'", typo.stderr)

    def test_exposure_within_documented_figures(self):
        for name, limit in EXPOSURE.items():
            with self.subTest(unit=name):
                self.assertLessEqual(exposure(name), limit)

    def test_exposure_check_can_fail(self):
        # The same units without their hardening score far worse: the
        # figure really comes from the options.
        self.assertGreater(exposure("celeryroot-beat.service", strip_hardening), 2.0)
        self.assertGreater(exposure("celeryrootd.service", strip_hardening), 7.0)

    def test_units_keep_what_dpkg_needs(self):
        with open(os.path.join(SYSTEMD, "celeryrootd.service")) as f:
            opts = dict(l.split("=", 1) for l in f.read().splitlines() if "=" in l and not l.startswith("#"))
        # setuid programs, JIT in maintainer scripts, /usr, /boot and /dev must stay usable
        for key in ("NoNewPrivileges", "RestrictSUIDSGID", "MemoryDenyWriteExecute", "ProtectSystem",
                    "PrivateDevices", "ProtectKernelModules", "ProtectKernelTunables", "DynamicUser", "User"):
            self.assertIn(opts.get(key, "no"), ("no",), key)
        self.assertEqual(opts["KillMode"], "process")
        self.assertEqual(opts["SystemCallErrorNumber"], "EPERM")
        self.assertEqual(opts["AppArmorProfile"], "-celeryrootd")


class UsersAndDirectories(unittest.TestCase):
    def test_sysusers_makes_the_users_the_units_and_daemon_use(self):
        with tempfile.TemporaryDirectory() as root:
            os.mkdir(os.path.join(root, "etc"))
            p = subprocess.run(["systemd-sysusers", "--root=" + root, os.path.join(SYSTEMD, "celeryroot.sysusers")],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(os.path.join(root, "etc", "passwd")) as f:
                users = {l.split(":")[0]: l.strip().split(":") for l in f}
        with open(os.path.join(SYSTEMD, "celeryroot-beat.service")) as f:
            beat_user = re.search(r"(?m)^User=(\S+)", f.read()).group(1)
        with open(os.path.join(harness.SRCDIR, "src", "shared", "crconfig.c")) as f:
            net_user = re.search(r'cr_copy_str\(c->user, sizeof\(c->user\), "([^"]+)"\)', f.read()).group(1)
        self.assertEqual(sorted(users), sorted({beat_user, net_user}))
        for name, fields in users.items():
            self.assertNotEqual(fields[2], "0", name)
            self.assertEqual(fields[6], "/usr/sbin/nologin", name)

    def test_tmpfiles_creates_the_directories(self):
        with tempfile.TemporaryDirectory() as root:
            p = subprocess.run(["systemd-tmpfiles", "--root=" + root, "--create",
                                os.path.join(SYSTEMD, "celeryroot.tmpfiles")], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            modes = {d: oct(os.stat(os.path.join(root, d)).st_mode & 0o7777)
                     for d in ("etc/celeryroot", "etc/celeryroot/trusted-keys", "var/log/celeryroot",
                               "var/lib/celeryroot")}
        self.assertEqual(modes, {"etc/celeryroot": "0o755", "etc/celeryroot/trusted-keys": "0o755",
                                 "var/log/celeryroot": "0o750", "var/lib/celeryroot": "0o700"})


class Install(unittest.TestCase):
    def make(self, *args):
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
        return subprocess.run(["make", "-s", "-C", harness.BUILDDIR] + list(args), capture_output=True,
                              text=True, env=env)

    def test_make_install_with_destdir(self):
        p = self.make("print-install-dirs")
        self.assertEqual(p.returncode, 0, p.stderr)
        dirs = dict(l.split("=", 1) for l in p.stdout.split())
        with tempfile.TemporaryDirectory() as dest:
            p = self.make("install", "DESTDIR=" + dest)
            self.assertEqual(p.returncode, 0, p.stderr)
            at = lambda d, name: os.path.join(dest + dirs[d], name)
            for unit, program in (("celeryrootd.service", dirs["sbindir"] + "/celeryrootd"),
                                  ("celeryroot-beat.service", dirs["bindir"] + "/celeryroot")):
                with open(at("systemdsystemunitdir", unit)) as f:
                    self.assertRegex(f.read(), r"(?m)^ExecStart=%s " % re.escape(program))
            # net's own program, where celeryrootd looks for it (NET_PROGRAM)
            self.assertTrue(os.access(at("pkglibexecdir", "celeryroot-net"), os.X_OK))
            for d, name, src in (("sysusersdir", "celeryroot.conf", "systemd/celeryroot.sysusers"),
                                 ("tmpfilesdir", "celeryroot.conf", "systemd/celeryroot.tmpfiles"),
                                 ("apparmordir", "celeryrootd", "apparmor/celeryrootd"),
                                 ("apparmordir", "celeryroot-net", "apparmor/celeryroot-net")):
                with open(at(d, name)) as f, open(os.path.join(harness.SRCDIR, src)) as g:
                    self.assertEqual(f.read(), g.read(), name)
            p = self.make("uninstall", "DESTDIR=" + dest)
            self.assertEqual(p.returncode, 0, p.stderr)
            left = [os.path.join(r, f) for r, _, files in os.walk(dest) for f in files]
            self.assertEqual(left, [])


if __name__ == "__main__":
    unittest.main()
