"""Conffiles on upgrade (issue 15), with real dpkg on sandbox hosts: a
package whose new version changes its conffile, modified locally before the
upgrade.  By default the local file stays and the package's version is left
beside it as .dpkg-dist; with --conffile new (a signed kwarg) the package's
replaces it and the local one is kept as .dpkg-old.  Either way the record
(and the audit line) lists the file dpkg left behind, and only files this
change left: an older .dpkg-dist of another package is not listed."""
import os
import unittest

import attest
import fleetcase
import harness

CONF = "etc/cf-demo.conf"
PACKAGES = [
    {"name": "cf-demo", "version": "1.0", "files": {CONF: "setting = 1\n"}},
    {"name": "cf-demo", "version": "2.0", "files": {CONF: "setting = 2\n"}},
    {"name": "cf-plain", "version": "1.0", "files": {"etc/cf-plain.conf": "plain = 1\n"}},
    {"name": "cf-plain", "version": "2.0", "files": {"etc/cf-plain.conf": "plain = 2\n"}},
]
LOCAL = "setting = local\n"


class AptConffiles(fleetcase.FleetCase):
    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp()
        sources = [harness.build_repo(os.path.join(tmp, "repo"), PACKAGES)]
        cls.start_fleet({"keep01": ["cf"], "new01": ["cf"], "plain01": ["cf"]}, sources=sources)

    def path(self, host, rel):
        return os.path.join(self.fleet.pairs[host].root, rel)

    def read(self, host, rel):
        with open(self.path(host, rel)) as f:
            return f.read()

    def install_modified(self, host):
        """cf-demo 1.0 installed, its conffile then edited by the admin."""
        rec = self.run_json("apt", "install", "cf-demo=1.0", "--host", host)[host]
        self.assertEqual(rec["status"], "changed", rec)
        self.assertEqual(rec["data"]["conffiles_left"], [])
        with open(self.path(host, CONF), "w") as f:
            f.write(LOCAL)

    def last_audit(self, host):
        root = self.fleet.pairs[host].root
        with open(os.path.join(root, "var/log/celeryroot/audit.log"), "rb") as f:
            lines = [l for l in f.read().splitlines() if b'"cf-' in l]
        return attest.verify_line(lines[-1], attest.host_pub(root))

    def test_keep_is_the_default_and_lists_the_dpkg_dist(self):
        self.install_modified("keep01")
        rec = self.run_json("apt", "upgrade", "cf-demo", "--host", "keep01")["keep01"]
        self.assertEqual(rec["status"], "changed", rec)
        self.assertEqual(rec["changes"], {"cf-demo": {"old": "1.0", "new": "2.0"}})
        self.assertEqual(self.read("keep01", CONF), LOCAL)
        self.assertEqual(self.read("keep01", CONF + ".dpkg-dist"), "setting = 2\n")
        self.assertFalse(os.path.exists(self.path("keep01", CONF + ".dpkg-old")))
        self.assertEqual(rec["data"]["conffiles_left"], ["/etc/cf-demo.conf.dpkg-dist"])
        line = self.last_audit("keep01")
        self.assertEqual(line["conffiles_left"], ["/etc/cf-demo.conf.dpkg-dist"])
        self.assertNotIn("conffile", line)
        code, out, err = self.fleet.cli("job", rec["job"])   # the table says it too
        self.assertEqual(code, 0, out + err)
        self.assertIn("conffile left: /etc/cf-demo.conf.dpkg-dist\n", out)

    def test_new_takes_the_package_file_and_keeps_the_local_as_dpkg_old(self):
        self.install_modified("new01")
        rec = self.run_json("apt", "upgrade", "cf-demo", "--host", "new01", "--conffile", "new")["new01"]
        self.assertEqual(rec["status"], "changed", rec)
        self.assertEqual(self.read("new01", CONF), "setting = 2\n")
        self.assertEqual(self.read("new01", CONF + ".dpkg-old"), LOCAL)
        self.assertFalse(os.path.exists(self.path("new01", CONF + ".dpkg-dist")))
        self.assertEqual(rec["data"]["conffiles_left"], ["/etc/cf-demo.conf.dpkg-old"])
        line = self.last_audit("new01")
        self.assertEqual((line["conffile"], line["conffiles_left"]), ("new", ["/etc/cf-demo.conf.dpkg-old"]))

    def test_only_what_this_change_left_is_listed(self):
        # An unmodified conffile is simply replaced: nothing left behind, and
        # a .dpkg-dist an earlier change left beside another package's
        # conffile is not this change's.
        host = "plain01"
        self.assertEqual(self.run_json("apt", "install", "cf-plain=1.0", "cf-demo=1.0", "--host", host)[host]["status"],
                         "changed")
        with open(self.path(host, CONF + ".dpkg-dist"), "w") as f:
            f.write("left by someone else\n")
        rec = self.run_json("apt", "upgrade", "cf-plain", "--host", host, "--conffile", "keep")[host]
        self.assertEqual(rec["changes"], {"cf-plain": {"old": "1.0", "new": "2.0"}})
        self.assertEqual(self.read(host, "etc/cf-plain.conf"), "plain = 2\n")
        self.assertEqual(rec["data"]["conffiles_left"], [])
        self.assertNotIn("conffiles_left", self.last_audit(host))

    def test_bad_values_and_operations_are_refused_before_sending(self):
        for args, word in ((["upgrade", "--conffile", "theirs"], "keep (the local file stays"),
                           (["upgrade", "--conffile"], "keep (the local file stays"),
                           (["remove", "cf-demo", "--conffile", "new"], "applies to 'apt install' and 'apt upgrade'"),
                           (["autoremove", "--conffile=keep"], "applies to 'apt install' and 'apt upgrade'")):
            with self.subTest(args=args):
                code, out, err = self.fleet.cli("apt", *args, "--host", "keep01")
                self.assertEqual(code, 1, out + err)   # usage
                self.assertIn(word, err)


if __name__ == "__main__":
    unittest.main()
