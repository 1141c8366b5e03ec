"""Holds (issue 15) on real pairs and dpkg sandboxes: 'apt hold' sets dpkg's
selection to hold through libapt-pkg (what apt-mark runs), idempotently,
audited, and --check changes nothing; 'apt query' shows it; 'apt upgrade'
leaves a held package as it is (named or not) while upgrading the rest; a
remove of a held package and an install of a package that needs it changed
(a newer version, or removed for a conflict)
are refused naming it; 'apt unhold' releases it and the next upgrade
upgrades it.  Like apt-mark, a package apt knows but that is not installed
may be held (and its install is then refused)."""
import os
import subprocess
import unittest

import attest
import fleetcase
import harness

PACKAGES = [{"name": "hd-lib", "version": "1.0"}, {"name": "hd-lib", "version": "2.0"},
            {"name": "hd-free", "version": "1.0"}, {"name": "hd-free", "version": "2.0"},
            {"name": "hd-app", "version": "1.0", "depends": "hd-lib (>= 2.0)"},
            {"name": "hd-later", "version": "1.0"}, {"name": "hd-chk", "version": "1.0"},
            {"name": "hd-rival", "version": "1.0", "conflicts": "hd-lib"}]


class AptHolds(fleetcase.FleetCase):
    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp()
        cls.start_fleet({"web01": ["webserver"]}, sources=[harness.build_repo(os.path.join(tmp, "repo"), PACKAGES)])

    def dpkg(self, pkg, fmt):
        p = subprocess.run(["dpkg-query", "--admindir=%s/var/lib/dpkg" % self.fleet.pairs["web01"].root,
                            "-W", "-f=" + fmt, pkg], capture_output=True, text=True)
        return p.stdout if p.returncode == 0 else None

    def version(self, pkg):
        out = self.dpkg(pkg, "${db:Status-Status} ${Version}")
        return out.split()[1] if out and out.startswith("installed ") else None

    def selection(self, pkg):
        return self.dpkg(pkg, "${db:Status-Want}")

    def audit_lines(self, op):
        root = self.fleet.pairs["web01"].root
        with open(os.path.join(root, "var/log/celeryroot/audit.log"), "rb") as f:
            lines = [attest.verify_line(l, attest.host_pub(root)) for l in f.read().splitlines()]
        return [l for l in lines if l["operation"] == op]

    def test_hold_upgrade_unhold_upgrade(self):
        self.run_json("apt", "install", "hd-lib=1.0", "hd-free=1.0", "--host", "web01")
        rec = self.run_json("apt", "hold", "hd-lib", "--host", "web01")["web01"]
        self.assertEqual(rec["status"], "changed", rec)
        self.assertEqual(rec["changes"], {"hd-lib": {"old": "install", "new": "hold"}})
        self.assertEqual(self.selection("hd-lib"), "hold")
        # Idempotent: held already, nothing done, and audited as such.
        rec = self.run_json("apt", "hold", "hd-lib", "--host", "web01")["web01"]
        self.assertEqual((rec["status"], rec["changes"]), ("unchanged", {}), rec)
        self.assertIn("already held: hd-lib", rec["reason"])
        lines = self.audit_lines("hold")
        self.assertEqual([(l["outcome"], l["packages"], l["changes"]) for l in lines[-2:]],
                         [("changed", ["hd-lib"], {"hd-lib": {"old": "install", "new": "hold"}}),
                          ("unchanged", ["hd-lib"], {})])
        # query shows it, in --json and in the table.
        q = self.run_json("apt", "query", "hd-lib", "hd-free", "--host", "web01")["web01"]["data"]["packages"]
        self.assertEqual((q["hd-lib"]["held"], q["hd-lib"]["selection"]), (True, "hold"))
        self.assertEqual((q["hd-free"]["held"], q["hd-free"]["selection"]), (False, "install"))
        code, out, err = self.fleet.cli("apt", "query", "hd-lib", "--host", "web01")
        self.assertEqual(code, 0, err)
        self.assertIn("1.0 -> 2.0 [held]", out)
        # upgrade: everything but the held one.
        rec = self.run_json("apt", "upgrade", "--host", "web01")["web01"]
        self.assertEqual(rec["status"], "changed", rec)
        self.assertEqual(rec["changes"], {"hd-free": {"old": "1.0", "new": "2.0"}})
        self.assertEqual((self.version("hd-lib"), self.version("hd-free")), ("1.0", "2.0"))
        # Named to upgrade: left too (apt keeps a hold when upgrading).
        rec = self.run_json("apt", "upgrade", "hd-lib", "--host", "web01")["web01"]
        self.assertEqual((rec["status"], rec["changes"]), ("unchanged", {}), rec)
        # Removed, or asked for at another version: refused, naming it.
        for args in (["remove", "hd-lib"], ["install", "hd-lib=2.0"]):
            with self.subTest(args=args):
                rec = self.run_json("apt", *args, "--host", "web01", rc=2)["web01"]
                self.assertEqual(rec["status"], "failed")
                self.assertIn("hd-lib, held (dpkg selection hold)", rec["error"])
                self.assertIn("apt unhold", rec["error"])
                self.assertEqual(rec["data"]["refused_by"], "held")
        # One that would need it removed (a conflict): refused the same way.
        rec = self.run_json("apt", "install", "hd-rival", "--host", "web01", "--allow-removals", rc=2)["web01"]
        self.assertIn("hd-lib", rec["error"])
        self.assertIn("held (dpkg selection hold)", rec["error"])
        self.assertEqual(rec["data"]["refused_by"], "held")
        self.assertEqual((self.version("hd-lib"), self.version("hd-rival")), ("1.0", None))
        rec = self.run_json("apt", "install", "hd-app", "--host", "web01", rc=2)["web01"]
        self.assertIn("hd-lib is held (dpkg selection hold)", rec["error"])
        self.assertEqual(rec["data"]["refused_by"], "held")
        # One that would need it removed (a conflict): refused the same way.
        rec = self.run_json("apt", "install", "hd-rival", "--host", "web01", "--allow-removals", rc=2)["web01"]
        self.assertIn("hd-lib", rec["error"])
        self.assertIn("held (dpkg selection hold)", rec["error"])
        self.assertEqual(rec["data"]["refused_by"], "held")
        self.assertEqual((self.version("hd-lib"), self.version("hd-rival")), ("1.0", None))
        self.assertEqual((self.version("hd-lib"), self.version("hd-app")), ("1.0", None))
        # unhold, and the next upgrade takes it.
        rec = self.run_json("apt", "unhold", "hd-lib", "--host", "web01")["web01"]
        self.assertEqual(rec["changes"], {"hd-lib": {"old": "hold", "new": "install"}})
        self.assertEqual(self.selection("hd-lib"), "install")
        rec = self.run_json("apt", "unhold", "hd-lib", "--host", "web01")["web01"]
        self.assertEqual(rec["status"], "unchanged", rec)
        rec = self.run_json("apt", "upgrade", "--host", "web01")["web01"]
        self.assertEqual(rec["changes"], {"hd-lib": {"old": "1.0", "new": "2.0"}})
        self.assertEqual(self.audit_lines("unhold")[-2]["outcome"], "changed")

    def test_check_mode_changes_nothing(self):
        self.run_json("apt", "install", "hd-chk", "--host", "web01")
        rec = self.run_json("apt", "hold", "hd-chk", "--host", "web01", "--check")["web01"]
        self.assertEqual(rec["changes"], {"hd-chk": {"old": "install", "new": "hold"}})
        self.assertTrue(rec["check"])
        self.assertEqual(self.selection("hd-chk"), "install")
        self.assertTrue(self.audit_lines("hold")[-1]["check"])

    def test_a_package_not_installed_may_be_held_like_apt_mark(self):
        rec = self.run_json("apt", "hold", "hd-later", "--host", "web01")["web01"]
        self.assertEqual(rec["status"], "changed", rec)
        self.assertEqual(rec["data"]["not_installed"], ["hd-later"])
        self.assertEqual(self.selection("hd-later"), "hold")
        rec = self.run_json("apt", "install", "hd-later", "--host", "web01", rc=2)["web01"]
        self.assertIn("hd-later, held", rec["error"])
        self.assertIsNone(self.version("hd-later"))
        self.run_json("apt", "unhold", "hd-later", "--host", "web01")
        rec = self.run_json("apt", "install", "hd-later", "--host", "web01")["web01"]
        self.assertEqual(rec["changes"], {"hd-later": {"old": None, "new": "1.0"}})

    def test_unknown_packages_and_versions_are_refused(self):
        rec = self.run_json("apt", "hold", "hd-nosuch", "--host", "web01", rc=2)["web01"]
        self.assertIn("unknown package 'hd-nosuch'", rec["error"])
        code, out, err = self.fleet.cli("apt", "hold", "hd-lib=1.0", "--host", "web01")
        self.assertEqual(code, 1, out + err)
        self.assertIn("apt hold takes package names, not versions", err)
        code, out, err = self.fleet.cli("apt", "hold", "hd-lib", "--host", "web01", "--allow-removals")
        self.assertEqual(code, 1, out + err)
        self.assertIn("--allow-removals does not apply to 'apt hold'", err)


if __name__ == "__main__":
    unittest.main()
