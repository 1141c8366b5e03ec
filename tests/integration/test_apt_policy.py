"""APT's refusals, copied by priv (issue 12, item 6), on real repositories:
a package from an [allow-insecure=yes] source with an unsigned Release
(which apt-get -y refuses) is refused before dpkg runs, check mode too,
unless the host's config says allow_unauthenticated = true; a version
below the installed one is refused unless the task says --allow-downgrade
(a signed kwarg).  Both end as failed records with a clear error and an
audit line; [trusted=yes] sources keep working."""
import os
import subprocess
import unittest

import attest
import fleetcase
import harness

TRUSTED = [{"name": "pol-ok", "version": "1.0"},
           {"name": "pol-down", "version": "1.0"}, {"name": "pol-down", "version": "2.0"}]
UNSIGNED = [{"name": "pol-evil", "version": "1.0"}]


def unsigned_repo(directory, packages):
    """A repository with a Release file and no signature, as a source apt
    may read only with [allow-insecure=yes]."""
    harness.build_repo(directory, packages)
    with open(os.path.join(directory, "Release"), "wb") as f:
        subprocess.run(["apt-ftparchive", "release", "."], cwd=directory, check=True, stdout=f)
    return "deb [allow-insecure=yes] file:%s ./" % directory


class AptPolicy(fleetcase.FleetCase):
    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp()
        sources = [harness.build_repo(os.path.join(tmp, "trusted"), TRUSTED),
                   unsigned_repo(os.path.join(tmp, "unsigned"), UNSIGNED)]
        cls.start_fleet({"web01": ["webserver"]}, update=False, sources=sources)
        # A second host whose owner allows unauthenticated archives.
        loose = os.path.join(cls.fleet.tmp, "loose.conf")
        with open(cls.fleet.config_path) as f, open(loose, "w") as g:
            g.write(f.read().replace("[daemon]\n", "[daemon]\nallow_unauthenticated = true\n", 1))
        root = harness.make_sandbox(os.path.join(cls.fleet.tmp, "hosts", "web02"), sources)
        pair = harness.Pair("web02", ["webserver"], root, cls.fleet.redis.url, loose,
                            os.path.join(cls.fleet.tmp, "web02.log"))
        pair.start()
        cls.fleet.pairs["web02"] = pair
        cls.fleet.wait_registered(["web01", "web02"])
        cls.update_all()

    def version(self, host, pkg):
        p = subprocess.run(["dpkg-query", "--admindir=%s/var/lib/dpkg" % self.fleet.pairs[host].root,
                            "-W", "-f=${Status} ${Version}", pkg], capture_output=True, text=True)
        return p.stdout.split()[-1] if p.stdout.startswith("install ok installed") else None

    def last_audit(self, host, pkg):
        root = self.fleet.pairs[host].root
        with open(os.path.join(root, "var/log/celeryroot/audit.log"), "rb") as f:
            lines = [l for l in f.read().splitlines() if ('"%s' % pkg).encode() in l]
        return attest.verify_line(lines[-1], attest.host_pub(root))

    def test_unauthenticated_archives_are_refused(self):
        for check in ([], ["--check"]):
            with self.subTest(check=check):
                rec = self.run_json("apt", "install", "pol-evil", "--host", "web01", *check, rc=2)["web01"]
                self.assertEqual(rec["status"], "failed")
                self.assertIn("pol-evil 1.0 would be installed from archives apt cannot authenticate", rec["error"])
                self.assertIn("allow_unauthenticated = true", rec["error"])
                self.assertFalse(rec["changed"])
                self.assertIsNone(self.version("web01", "pol-evil"))
                line = self.last_audit("web01", "pol-evil")
                self.assertEqual((line["outcome"], line["refused_by"], line["check"]),
                                 ("failed", "unauthenticated", bool(check)))

    def test_a_host_that_allows_them_installs_and_says_so(self):
        rec = self.run_json("apt", "install", "pol-evil", "--host", "web02")["web02"]
        self.assertEqual(rec["status"], "changed", rec)
        self.assertEqual(rec["data"]["unauthenticated"], "pol-evil 1.0")
        self.assertEqual(self.version("web02", "pol-evil"), "1.0")
        line = self.last_audit("web02", "pol-evil")
        self.assertEqual((line["outcome"], line["unauthenticated"]), ("changed", "pol-evil 1.0"))

    def test_trusted_sources_still_install(self):
        rec = self.run_json("apt", "install", "pol-ok", "--host", "web01")["web01"]
        self.assertEqual(rec["status"], "changed", rec)
        self.assertNotIn("unauthenticated", rec["data"])

    def test_a_downgrade_needs_allow_downgrade(self):
        self.run_json("apt", "install", "pol-down=2.0", "--host", "web01")
        rec = self.run_json("apt", "install", "pol-down=1.0", "--host", "web01", rc=2)["web01"]
        self.assertEqual(rec["status"], "failed")
        self.assertIn("would downgrade pol-down 2.0 -> 1.0", rec["error"])
        self.assertIn("--allow-downgrade", rec["error"])
        self.assertEqual(self.version("web01", "pol-down"), "2.0")
        line = self.last_audit("web01", "pol-down=1.0")
        self.assertEqual((line["outcome"], line["refused_by"]), ("failed", "downgrade"))
        # The plan still says what it would have done.
        self.assertEqual([(a["package"], a["action"]) for a in rec["data"]["plan"]], [("pol-down", "downgrade")])
        rec = self.run_json("apt", "install", "pol-down=1.0", "--host", "web01", "--allow-downgrade")["web01"]
        self.assertEqual(rec["status"], "changed", rec)
        self.assertEqual(rec["changes"], {"pol-down": {"old": "2.0", "new": "1.0"}})
        self.assertEqual(self.version("web01", "pol-down"), "1.0")
        line = self.last_audit("web01", "pol-down=1.0")
        self.assertEqual((line["outcome"], line["allow_downgrade"]), ("changed", True))

    def test_allow_downgrade_is_for_install_only(self):
        for args in (["apt", "remove", "pol-ok", "--host", "web01", "--allow-downgrade"],
                     ["apt", "upgrade", "--host", "web01", "--allow-downgrade"]):
            with self.subTest(args=args):
                code, out, err = self.fleet.cli(*args)
                self.assertEqual(code, 1, out + err)
                self.assertIn("--allow-downgrade applies to 'apt install' only", err)


if __name__ == "__main__":
    unittest.main()
