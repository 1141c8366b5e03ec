"""The read side of APT on real sandbox hosts: update with --max-age, query
as a host x package matrix, list; hostile package arguments refused by the
CLI and by net before anything reaches priv."""
import json
import os
import subprocess
import tempfile
import time
import unittest

import harness

HOSTILE = harness.HOSTILE_PKGS


class AptRead(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.tmp = tempfile.TemporaryDirectory()
        repo = os.path.join(cls.tmp.name, "repo")
        source = harness.build_repo(repo, [
            {"name": "celeryroot-t-lib", "version": "1.0"},
            {"name": "celeryroot-t-app", "version": "1.0", "depends": "celeryroot-t-lib"},
            {"name": "celeryroot-t-app", "version": "1.1", "depends": "celeryroot-t-lib"},
        ])
        cls.repo = repo
        cls.fleet = harness.Fleet({"web01": ["webserver"], "db01": ["database"]}, sources=[source])
        cls.fleet.__enter__()
        # web01 has app 1.0 (and its library) installed, straight with dpkg.
        root = cls.fleet.pairs["web01"].root
        for deb in ("celeryroot-t-lib_1.0_all.deb", "celeryroot-t-app_1.0_all.deb"):
            subprocess.run(["dpkg", "--root=" + root, "--force-script-chrootless", "--log=/dev/null",
                            "-i", os.path.join(repo, deb)], check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        cls.fleet.__exit__(None, None, None)
        cls.tmp.cleanup()

    def run_json(self, *args, rc=0):
        code, out, err = self.fleet.cli(*args, "--json")
        self.assertEqual(code, rc, err + out)
        return {r["host"]: r for r in json.loads(out)["hosts"]}

    def test_1_update_then_max_age_skips(self):
        recs = self.run_json("apt", "update", "--all")
        for rec in recs.values():
            self.assertEqual(rec["status"], "changed")
            self.assertTrue(rec["data"]["refreshed"])
            self.assertLess(rec["data"]["cache_age_s"], 60)
        recs = self.run_json("apt", "update", "--all", "--max-age", "3600")
        for rec in recs.values():
            self.assertEqual(rec["status"], "unchanged")
            self.assertFalse(rec["data"]["refreshed"])
        lists = os.path.join(self.fleet.pairs["db01"].root, "var/lib/apt/lists")
        self.assertTrue(any(f.endswith("Packages") for f in os.listdir(lists)))
        # Make db01's lists two hours old: a one-hour max age refreshes them there only.
        old = time.time() - 7200
        root = self.fleet.pairs["db01"].root
        for d in ("var/lib/apt/lists", "var/lib/apt/periodic"):
            for f in os.listdir(os.path.join(root, d)):
                path = os.path.join(root, d, f)
                if os.path.isfile(path):
                    os.utime(path, (old, old))
        recs = self.run_json("apt", "update", "--all", "--max-age", "3600")
        self.assertTrue(recs["db01"]["data"]["refreshed"])
        self.assertEqual(recs["db01"]["status"], "changed")
        self.assertFalse(recs["web01"]["data"]["refreshed"])
        self.assertLess(recs["db01"]["data"]["cache_age_s"], 60)

    def test_2_query_matrix(self):
        recs = self.run_json("apt", "query", "celeryroot-t-app", "celeryroot-t-nosuch", "--all")
        web = recs["web01"]["data"]["packages"]
        self.assertEqual(web["celeryroot-t-app"]["installed"], "1.0")
        self.assertEqual(web["celeryroot-t-app"]["candidate"], "1.1")
        self.assertTrue(web["celeryroot-t-app"]["upgradable"])
        self.assertFalse(web["celeryroot-t-nosuch"]["known"])
        db = recs["db01"]["data"]["packages"]
        self.assertIsNone(db["celeryroot-t-app"]["installed"])
        self.assertEqual(db["celeryroot-t-app"]["candidate"], "1.1")
        code, out, err = self.fleet.cli("apt", "query", "celeryroot-t-app", "--all")
        self.assertEqual(code, 0, err)
        self.assertIn("1.0 -> 1.1", out)
        self.assertIn("- (1.1 available)", out)

    def test_3_list_upgradable(self):
        recs = self.run_json("apt", "list", "--host", "web01", "--upgradable")
        names = [p["name"] for p in recs["web01"]["data"]["packages"]]
        self.assertEqual(names, ["celeryroot-t-app"])
        recs = self.run_json("apt", "list", "--host", "web01")
        names = [p["name"] for p in recs["web01"]["data"]["packages"]]
        self.assertEqual(names, ["celeryroot-t-app", "celeryroot-t-lib"])

    def test_hostile_packages_refused_by_the_cli(self):
        r = self.fleet.redis.client()
        before = r.zcard("celeryroot:jobs")
        for bad in HOSTILE:
            with self.subTest(bad=bad):
                code, out, err = self.fleet.cli("apt", "query", bad, "--all")
                self.assertEqual(code, 1, (out, err))
                self.assertEqual(len(err.strip().splitlines()), 1, err)
        code, out, err = self.fleet.cli("apt", "query", *["p%03d" % i for i in range(101)], "--all")
        self.assertEqual(code, 1)
        self.assertIn("at most 100", err)
        self.assertEqual(r.zcard("celeryroot:jobs"), before)

    def test_hostile_packages_refused_by_net(self):
        r = self.fleet.redis.client()
        tasks = []
        for bad in HOSTILE + [["p%03d" % i for i in range(101)], [1], {"a": 1}]:
            with self.subTest(bad=bad):
                args = [bad] if isinstance(bad, list) else [[bad]]
                task = self.fleet.send_raw("db01", "celeryroot.apt.query", args=args)
                tasks.append(task)
                meta = json.loads(harness.wait_for(
                    lambda: r.get("celery-task-meta-" + task), 20))
                self.assertEqual(meta["status"], "FAILURE")
                self.assertEqual(meta["result"]["exc_type"], "ValueError")
        # None of them reached priv: priv logs every APT request it serves.
        log = self.fleet.pairs["db01"].log()
        for task in tasks:
            self.assertNotIn("for task " + task, log)


if __name__ == "__main__":
    unittest.main()
