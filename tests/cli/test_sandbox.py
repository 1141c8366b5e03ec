"""`celeryroot sandbox create` makes a host root that real apt and dpkg use,
without touching this machine's own packages."""
import hashlib
import os
import subprocess
import tempfile
import unittest

import harness


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Sandbox(unittest.TestCase):
    def setUp(self):
        harness.require_root()
        self.tmp = tempfile.TemporaryDirectory()
        self.repo = harness.build_repo(os.path.join(self.tmp.name, "repo"),
                                       [{"name": "celeryroot-test-a", "version": "1.0"}])
        self.root = os.path.join(self.tmp.name, "host")

    def tearDown(self):
        self.tmp.cleanup()

    def create(self, *args):
        return subprocess.run([harness.cli_path(), "sandbox", "create"] + list(args),
                              capture_output=True, text=True)

    def apt_get(self, *args):
        conf = os.path.join(self.tmp.name, "apt.conf")
        with open(conf, "w") as f:
            f.write('Dir "%s/";\n' % self.root)
        r = self.root
        env = dict(os.environ, APT_CONFIG=conf, LC_ALL="C", DEBIAN_FRONTEND="noninteractive")
        cmd = ["apt-get", "-q", "-o", "Dir::State::status=%s/var/lib/dpkg/status" % r,
               "-o", "APT::Sandbox::User=root", "-o", "DPkg::Options::=--root=%s" % r,
               "-o", "DPkg::Options::=--force-script-chrootless",
               "-o", "DPkg::Options::=--log=%s/var/log/dpkg.log" % r] + list(args)
        return subprocess.run(cmd, capture_output=True, text=True, env=env)

    def test_layout_and_real_apt_inside(self):
        host_status = digest("/var/lib/dpkg/status")
        p = self.create(self.root, "--source", self.repo)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "sandbox %s created (sources: 1)\n" % self.root)
        for d in ("etc/apt/apt.conf.d", "etc/apt/preferences.d", "etc/apt/sources.list.d",
                  "etc/apt/trusted.gpg.d", "var/lib/dpkg/info", "var/lib/dpkg/updates",
                  "var/lib/dpkg/triggers", "var/lib/apt/lists/partial",
                  "var/cache/apt/archives/partial", "var/log/celeryroot", "var/log/apt"):
            self.assertTrue(os.path.isdir(os.path.join(self.root, d)), d)
        for f in ("var/lib/dpkg/status", "var/lib/dpkg/available"):
            self.assertEqual(os.path.getsize(os.path.join(self.root, f)), 0, f)
        self.assertTrue(os.path.isfile(os.path.join(self.root, "etc/celeryroot-sandbox")))
        self.assertEqual(digest(os.path.join(self.root, "etc/os-release")), digest("/etc/os-release"))
        with open(os.path.join(self.root, "etc/apt/sources.list")) as f:
            self.assertEqual(f.read(), self.repo + "\n")
        p = self.apt_get("update")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        p = self.apt_get("install", "-y", "celeryroot-test-a")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        q = subprocess.run(["dpkg-query", "--admindir=%s/var/lib/dpkg" % self.root, "-W",
                            "-f=${Status} ${Version}", "celeryroot-test-a"],
                           capture_output=True, text=True)
        self.assertEqual(q.stdout, "install ok installed 1.0")
        self.assertTrue(os.path.exists(os.path.join(self.root, "usr/share/doc/celeryroot-test-a/README")))
        self.assertEqual(digest("/var/lib/dpkg/status"), host_status)
        # Re-running changes nothing and keeps the dpkg database; without
        # --source the sources stay as they are.
        for args in ([self.root, "--source", self.repo], [self.root]):
            p = self.create(*args)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, "sandbox %s unchanged (sources: 1)\n" % self.root)
        with open(os.path.join(self.root, "var/lib/dpkg/status")) as f:
            self.assertIn("install ok installed", f.read())
        with open(os.path.join(self.root, "etc/apt/sources.list")) as f:
            self.assertEqual(f.read(), self.repo + "\n")

    def test_sources_and_os_release_replaced_on_request(self):
        osr = os.path.join(self.tmp.name, "os-release")
        with open(osr, "w") as f:
            f.write('PRETTY_NAME="Test OS 1"\nID=testos\n')
        p = self.create(self.root, "--os-release", osr)
        self.assertEqual(p.stdout, "sandbox %s created (sources: 0)\n" % self.root, p.stderr)
        with open(os.path.join(self.root, "etc/os-release")) as f:
            self.assertIn("Test OS 1", f.read())
        second = "deb-src [trusted=yes] file:/nonexistent ./"
        p = self.create(self.root, "--source", self.repo, "--source", second)
        self.assertEqual(p.stdout, "sandbox %s updated (sources: 2)\n" % self.root, p.stderr)
        with open(os.path.join(self.root, "etc/apt/sources.list")) as f:
            self.assertEqual(f.read(), self.repo + "\n" + second + "\n")
        with open(os.path.join(self.root, "etc/os-release")) as f:
            self.assertIn("Test OS 1", f.read())   # kept: no --os-release this time

    def test_refusals(self):
        for args, message in (
            (["/"], "absolute path other than /"),
            (["/tmp/.."], "absolute path other than /"),
            ([self.root, "--os-release", "/nonexistent/os-release"], "cannot read --os-release"),
            (["relative/dir"], "absolute path"),
            ([self.root, "--source", "deb file:/x ./\ndeb http://evil/ ./"], "invalid --source"),
            ([self.root, "--source", "rm -rf /"], "invalid --source"),
            ([self.root, "--source", "deb file:/x ./\x1b[2J"], "invalid --source"),
            ([self.root, "--source", "deb file:/" + "x" * 600 + " ./"], "invalid --source"),
            ([self.root, "--os-release", "/dev/null"], "not a regular file"),
            ([], "needs one DIR"),
        ):
            with self.subTest(args=args):
                p = self.create(*args)
                self.assertEqual(p.returncode, 1)
                self.assertIn(message, p.stderr)
                self.assertEqual(len(p.stderr.strip().splitlines()), 1)
        os.makedirs(os.path.join(self.tmp.name, "busy"))
        open(os.path.join(self.tmp.name, "busy", "file"), "w").close()
        p = self.create(os.path.join(self.tmp.name, "busy"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("neither empty nor a sandbox", p.stderr)
        self.assertEqual(os.listdir(os.path.join(self.tmp.name, "busy")), ["file"])
        self.assertFalse(os.path.exists(self.root))   # nothing made by any refusal

    def test_needs_root(self):
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            harness.cli_path(), "sandbox", "create", "/tmp/celeryroot-never"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn("must run as root", p.stderr)
        self.assertFalse(os.path.exists("/tmp/celeryroot-never"))


if __name__ == "__main__":
    unittest.main()
