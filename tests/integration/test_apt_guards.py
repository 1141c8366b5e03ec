"""The guards (issue 15) on real pairs and dpkg sandboxes, each overridable
only by its signed flag: removing an Essential: yes or Priority: required
package needs --allow-essential; a change whose plan removes packages the
task did not name (a remove taking a reverse dependency, an install pulling
a conflict) needs --allow-removals, and the record (--check's included)
lists them; autoremove is exempt.  A refusal is a failed record whose error
names the flag, audited, and nothing changes on the host."""
import os
import subprocess
import unittest

import attest
import fleetcase
import harness

PACKAGES = [{"name": "gd-ess", "version": "1.0", "essential": "yes"},
            {"name": "gd-req", "version": "1.0", "priority": "required"},
            {"name": "gd-base", "version": "1.0"},
            {"name": "gd-top", "version": "1.0", "depends": "gd-base"},
            {"name": "gd-a", "version": "1.0"},
            {"name": "gd-b", "version": "1.0", "conflicts": "gd-a"},
            {"name": "gd-leaf", "version": "1.0"},
            {"name": "gd-user", "version": "1.0", "depends": "gd-leaf"}]


class AptGuards(fleetcase.FleetCase):
    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp()
        cls.start_fleet({"web01": ["webserver"]}, sources=[harness.build_repo(os.path.join(tmp, "repo"), PACKAGES)])

    def version(self, pkg):
        p = subprocess.run(["dpkg-query", "--admindir=%s/var/lib/dpkg" % self.fleet.pairs["web01"].root,
                            "-W", "-f=${db:Status-Status} ${Version}", pkg], capture_output=True, text=True)
        return p.stdout.split()[1] if p.stdout.startswith("installed ") else None

    def last_audit(self, op):
        root = self.fleet.pairs["web01"].root
        with open(os.path.join(root, "var/log/celeryroot/audit.log"), "rb") as f:
            lines = [attest.verify_line(l, attest.host_pub(root)) for l in f.read().splitlines()]
        return [l for l in lines if l["operation"] == op][-1]

    def refused(self, args, by, flag):
        rec = self.run_json("apt", *args, "--host", "web01", rc=2)["web01"]
        self.assertEqual(rec["status"], "failed", rec)
        self.assertEqual(rec["data"]["refused_by"], by)
        self.assertIn("send it with %s" % flag, rec["error"])
        self.assertEqual("\n" in rec["error"], False)
        self.assertFalse(rec["changed"])
        return rec

    def test_essential_and_required_need_allow_essential(self):
        for pkg, why in (("gd-ess", "gd-ess (Essential: yes)"), ("gd-req", "gd-req (Priority: required)")):
            with self.subTest(pkg=pkg):
                self.run_json("apt", "install", pkg, "--host", "web01")
                for check in ([], ["--check"]):
                    rec = self.refused(["remove", pkg, *check], "essential", "--allow-essential")
                    self.assertIn("would remove %s" % why, rec["error"])
                    self.assertEqual(self.version(pkg), "1.0")
                line = self.last_audit("remove")
                self.assertEqual((line["outcome"], line["refused_by"]), ("failed", "essential"))
                rec = self.run_json("apt", "remove", pkg, "--host", "web01", "--allow-essential")["web01"]
                self.assertEqual(rec["changes"], {pkg: {"old": "1.0", "new": None}}, rec)
                self.assertIsNone(self.version(pkg))
                line = self.last_audit("remove")
                self.assertEqual((line["outcome"], line["allow_essential"]), ("changed", True))

    def test_a_remove_that_takes_reverse_dependencies_needs_allow_removals(self):
        self.run_json("apt", "install", "gd-top", "--host", "web01")
        rec = self.refused(["remove", "gd-base", "--check"], "removals", "--allow-removals")
        self.assertIn("would also remove gd-top, which the task did not name", rec["error"])
        self.assertEqual(rec["data"]["unnamed_removals"], ["gd-top"])
        rec = self.refused(["remove", "gd-base"], "removals", "--allow-removals")
        self.assertEqual(rec["data"]["unnamed_removals"], ["gd-top"])
        self.assertEqual((self.version("gd-base"), self.version("gd-top")), ("1.0", "1.0"))
        # The check with the flag lists them and would do it.
        rec = self.run_json("apt", "remove", "gd-base", "--host", "web01", "--check", "--allow-removals")["web01"]
        self.assertEqual(rec["data"]["unnamed_removals"], ["gd-top"])
        self.assertEqual(sorted(rec["changes"]), ["gd-base", "gd-top"])
        rec = self.run_json("apt", "remove", "gd-base", "--host", "web01", "--allow-removals")["web01"]
        self.assertEqual(rec["changes"], {"gd-base": {"old": "1.0", "new": None},
                                          "gd-top": {"old": "1.0", "new": None}}, rec)
        self.assertEqual(self.last_audit("remove")["allow_removals"], True)

    def test_an_install_that_removes_a_conflict_needs_allow_removals(self):
        self.run_json("apt", "install", "gd-a", "--host", "web01")
        for check in ([], ["--check"]):
            rec = self.refused(["install", "gd-b", *check], "removals", "--allow-removals")
            self.assertEqual(rec["data"]["unnamed_removals"], ["gd-a"])
        self.assertEqual((self.version("gd-a"), self.version("gd-b")), ("1.0", None))
        rec = self.run_json("apt", "install", "gd-b", "--host", "web01", "--allow-removals")["web01"]
        self.assertEqual(rec["changes"], {"gd-a": {"old": "1.0", "new": None}, "gd-b": {"old": None, "new": "1.0"}})

    def test_autoremove_is_exempt(self):
        self.run_json("apt", "install", "gd-user", "--host", "web01")
        self.run_json("apt", "remove", "gd-user", "--host", "web01")
        rec = self.run_json("apt", "autoremove", "--host", "web01")["web01"]
        self.assertEqual(rec["changes"], {"gd-leaf": {"old": "1.0", "new": None}}, rec)
        self.assertNotIn("unnamed_removals", rec["data"])

    def test_the_flags_go_where_they_apply(self):
        for args, flag in ((["apt", "clean", "--host", "web01", "--allow-essential"], "--allow-essential"),
                           (["apt", "autoremove", "--host", "web01", "--allow-removals"], "--allow-removals")):
            with self.subTest(args=args):
                code, out, err = self.fleet.cli(*args)
                self.assertEqual(code, 1, out + err)
                self.assertIn("%s does not apply to 'apt %s'" % (flag, args[1]), err)


if __name__ == "__main__":
    unittest.main()
