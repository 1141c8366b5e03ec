"""APT changes on real sandbox hosts through real libapt-pkg and dpkg:
install, version pins, upgrade, remove, purge, autoremove, clean, check mode
predicting exactly what the real run does, rollback of a failed install,
repair of an interrupted dpkg, the dpkg lock, serialised changes, queries
during a long install, security upgrades, the audit trail, hostile input and
the Python Celery peer.  Each test uses its own packages (or its own host),
so the tests do not depend on each other's order."""
import fcntl
import gc
import json
import os
import subprocess
import threading
import time
import unittest

import fleetcase
import harness
from celery import Celery

MAIN = [
    {"name": "ct-lib", "version": "1.0"},
    {"name": "ct-app", "version": "1.0", "depends": "ct-lib"},
    {"name": "ct-app", "version": "1.1", "depends": "ct-lib"},
    {"name": "ct-dep", "version": "1.0"},
    {"name": "ct-top", "version": "1.0", "depends": "ct-dep"},
    {"name": "ct-conf", "version": "1.0", "files": {"etc/ct-conf.conf": "setting = 1\n"}},
    {"name": "ct-badlib", "version": "1.0"},
    {"name": "ct-bad", "version": "1.0", "depends": "ct-badlib", "preinst_fail": True},
    {"name": "ct-old", "version": "1.0"},
    {"name": "ct-old", "version": "2.0", "depends": "ct-badlib", "preinst_fail": True},
    {"name": "ct-cfg", "version": "1.0"},
    {"name": "ct-cfg", "version": "2.0", "postinst_fail": True},
    {"name": "ct-slow", "version": "1.0", "preinst_sleep": 4},
    {"name": "ct-one", "version": "1.0"},
    {"name": "ct-two", "version": "1.0"},
    {"name": "ct-sec", "version": "1.0"},
    {"name": "ct-up", "version": "1.0"},
    {"name": "ct-up", "version": "1.1"},
    {"name": "ct-half", "version": "1.0"},
    {"name": "ct-peer", "version": "1.0"},
]
SECURITY = [{"name": "ct-sec", "version": "1.1"}]


class AptChange(fleetcase.FleetCase):
    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp()
        cls.repo = os.path.join(tmp, "main")
        sources = [harness.build_repo(cls.repo, MAIN),
                   harness.build_repo(os.path.join(tmp, "security"), SECURITY, security=True)]
        hosts = {"web01": ["webserver"], "web02": ["webserver"], "db01": ["database"],
                 "app01": ["application"]}
        cls.start_fleet(hosts, sources=sources, config={"lock_timeout": 3})

    # ---- helpers ----------------------------------------------------------

    def root(self, host):
        return self.fleet.pairs[host].root

    def status_bytes(self, host):
        with open(os.path.join(self.root(host), "var/lib/dpkg/status"), "rb") as f:
            return f.read()

    def dpkg(self, host, pkg):
        """(status, version) as dpkg-query sees them, or None."""
        p = subprocess.run(["dpkg-query", "--admindir=" + self.root(host) + "/var/lib/dpkg", "-W",
                            "-f", "${Status}|${Version}", pkg], capture_output=True, text=True)
        if p.returncode != 0:
            return None
        status, version = p.stdout.split("|")
        return status, version

    def installed(self, host, pkg):
        d = self.dpkg(host, pkg)
        return d[1] if d and d[0] == "install ok installed" else None

    def assert_audit_clean(self, host):
        p = subprocess.run(["dpkg", "--admindir=" + self.root(host) + "/var/lib/dpkg", "--audit"],
                           capture_output=True, text=True)
        self.assertEqual((p.returncode, p.stdout), (0, ""), p.stderr)

    def audit_lines(self, host):
        path = os.path.join(self.root(host), "var/log/celeryroot/audit.log")
        with open(path) as f:
            return [json.loads(line) for line in f]

    def check_then_real(self, *args, rc=0):
        """Runs args with --check, then for real; check must change nothing
        and predict exactly the real changes.  Returns the real records."""
        hosts = list(self.fleet.pairs)
        before = {h: self.status_bytes(h) for h in hosts}
        check = self.run_json(*args, "--check", rc=rc)
        for h in hosts:
            self.assertEqual(self.status_bytes(h), before[h], "check mode changed " + h)
        for rec in check.values():
            self.assertTrue(rec["check"])
        real = self.run_json(*args, rc=rc)
        self.assertEqual(set(real), set(check))
        for host, rec in real.items():
            self.assertEqual(rec["changes"], check[host]["changes"], host)
            self.assertEqual(rec["status"], check[host]["status"], host)
            self.assertFalse(rec["check"])
        return real

    # ---- install, pins, upgrade --------------------------------------------

    def test_install_on_a_role_then_again_unchanged(self):
        real = self.check_then_real("apt", "install", "ct-app", "--role", "webserver")
        self.assertEqual(set(real), {"web01", "web02"})
        for host, rec in real.items():
            self.assertEqual(rec["status"], "changed")
            self.assertEqual(rec["changes"], {"ct-app": {"old": None, "new": "1.1"},
                                              "ct-lib": {"old": None, "new": "1.0"}})
            self.assertEqual(self.installed(host, "ct-app"), "1.1")
            self.assertEqual(self.installed(host, "ct-lib"), "1.0")
            self.assertTrue(rec["data"]["verified"])
            self.assertIn("cache_age_s", rec["data"])
            self.assertFalse(rec["data"]["refreshed"])
        self.assertIsNone(self.dpkg("db01", "ct-app"))
        again = self.run_json("apt", "install", "ct-app", "--role", "webserver")
        for rec in again.values():
            self.assertEqual(rec["status"], "unchanged")
            self.assertEqual(rec["changes"], {})
            self.assertIn("already installed: ct-app 1.1", rec["reason"])
            self.assertNotIn("plan", rec["data"])   # answered from dpkg status

    def test_version_pin_then_upgrade(self):
        real = self.check_then_real("apt", "install", "ct-up=1.0", "--host", "db01")
        self.assertEqual(real["db01"]["changes"], {"ct-up": {"old": None, "new": "1.0"}})
        self.assertEqual(self.installed("db01", "ct-up"), "1.0")
        same = self.run_json("apt", "install", "ct-up=1.0", "--host", "db01")
        self.assertEqual(same["db01"]["status"], "unchanged")
        real = self.check_then_real("apt", "upgrade", "ct-up", "--host", "db01")
        self.assertEqual(real["db01"]["changes"], {"ct-up": {"old": "1.0", "new": "1.1"}})
        self.assertEqual(self.installed("db01", "ct-up"), "1.1")
        done = self.run_json("apt", "upgrade", "ct-up", "--host", "db01")
        self.assertEqual(done["db01"]["status"], "unchanged")

    def test_unavailable_version_fails_without_changing_anything(self):
        before = self.status_bytes("app01")
        rec = self.run_json("apt", "install", "ct-one=9.9", "--host", "app01", rc=2)["app01"]
        self.assertEqual(rec["status"], "failed")
        self.assertIn("not available", rec["error"])
        self.assertIsNone(rec["rollback"])
        self.assertEqual(self.status_bytes("app01"), before)
        rec = self.run_json("apt", "install", "ct-nosuch", "--host", "app01", rc=2)["app01"]
        self.assertIn("unknown package", rec["error"])

    # ---- remove, purge, autoremove, clean ------------------------------------

    def test_remove_then_purge(self):
        self.run_json("apt", "install", "ct-conf", "--host", "app01")
        conf = os.path.join(self.root("app01"), "etc/ct-conf.conf")
        self.assertTrue(os.path.exists(conf))
        real = self.check_then_real("apt", "remove", "ct-conf", "--host", "app01")
        self.assertEqual(real["app01"]["changes"], {"ct-conf": {"old": "1.0", "new": None}})
        self.assertEqual(self.dpkg("app01", "ct-conf")[0], "deinstall ok config-files")
        self.assertTrue(os.path.exists(conf))
        real = self.check_then_real("apt", "remove", "--purge", "ct-conf", "--host", "app01")
        self.assertEqual(real["app01"]["changes"], {"ct-conf": {"old": None, "new": None, "config": "purged"}})
        self.assertFalse(os.path.exists(conf))
        self.assertNotEqual((self.dpkg("app01", "ct-conf") or ("",))[0], "deinstall ok config-files")
        gone = self.run_json("apt", "remove", "--purge", "ct-conf", "--host", "app01")
        self.assertEqual(gone["app01"]["status"], "unchanged")
        self.assertIn("not installed", gone["app01"]["reason"])

    def test_autoremove_removes_an_orphaned_dependency(self):
        self.run_json("apt", "install", "ct-top", "--host", "db01")
        self.assertEqual(self.installed("db01", "ct-dep"), "1.0")
        self.run_json("apt", "remove", "ct-top", "--host", "db01")
        self.assertEqual(self.installed("db01", "ct-dep"), "1.0")
        real = self.check_then_real("apt", "autoremove", "--host", "db01")
        self.assertEqual(real["db01"]["changes"], {"ct-dep": {"old": "1.0", "new": None}})
        self.assertIsNone(self.installed("db01", "ct-dep"))
        again = self.run_json("apt", "autoremove", "--host", "db01")
        self.assertEqual(again["db01"]["status"], "unchanged")

    def test_clean_empties_the_archives_cache(self):
        fake = os.path.join(self.root("app01"), "var/cache/apt/archives/ct-fake_1.0_all.deb")
        with open(fake, "w") as f:
            f.write("not really a package\n")
        rec = self.run_json("apt", "clean", "--host", "app01")["app01"]
        self.assertEqual(rec["status"], "changed")
        self.assertGreaterEqual(rec["data"]["files_removed"], 1)
        self.assertFalse(os.path.exists(fake))
        rec = self.run_json("apt", "clean", "--host", "app01")["app01"]
        self.assertEqual(rec["status"], "unchanged")

    # ---- failure, rollback, repair -------------------------------------------

    def test_failing_install_is_rolled_back(self):
        before = self.status_bytes("web02")
        check = self.run_json("apt", "install", "ct-bad", "--host", "web02", "--check")["web02"]
        self.assertEqual(check["changes"], {"ct-bad": {"old": None, "new": "1.0"},
                                            "ct-badlib": {"old": None, "new": "1.0"}})
        self.assertEqual(self.status_bytes("web02"), before)
        rec = self.run_json("apt", "install", "ct-bad", "--host", "web02", rc=2)["web02"]
        self.assertEqual(rec["status"], "failed")
        self.assertIn("pre-installation script", rec["error"])
        self.assertIn("pre-installation script", rec["data"]["dpkg_error"])
        self.assertEqual(rec["rollback"]["removed"], ["ct-badlib"])
        self.assertEqual(rec["rollback"]["restored"], {})
        self.assertTrue(rec["rollback"]["ok"])
        self.assertEqual(rec["changes"], {})
        self.assertIsNone(self.installed("web02", "ct-badlib"))
        self.assertIsNone(self.installed("web02", "ct-bad"))
        self.assert_audit_clean("web02")
        last = self.audit_lines("web02")[-1]
        self.assertEqual((last["operation"], last["outcome"], last["packages"]), ("install", "failed", ["ct-bad"]))
        self.assertEqual(last["rollback"]["removed"], ["ct-badlib"])

    def test_failing_upgrade_restores_the_old_version(self):
        self.run_json("apt", "install", "ct-old=1.0", "--host", "web01")
        rec = self.run_json("apt", "upgrade", "ct-old", "--host", "web01", rc=2)["web01"]
        self.assertEqual(rec["status"], "failed")
        self.assertTrue(rec["rollback"]["ok"], rec)
        self.assertIn("ct-badlib", rec["rollback"]["removed"])
        self.assertEqual(self.installed("web01", "ct-old"), "1.0")
        self.assertIsNone(self.installed("web01", "ct-badlib"))
        self.assert_audit_clean("web01")

    def test_failing_configure_reinstalls_the_replaced_version(self):
        self.run_json("apt", "install", "ct-cfg=1.0", "--host", "web02")
        rec = self.run_json("apt", "upgrade", "ct-cfg", "--host", "web02", rc=2)["web02"]
        self.assertEqual(rec["status"], "failed")
        self.assertIn("post-installation", rec["data"]["dpkg_error"])
        self.assertEqual(rec["rollback"]["restored"], {"ct-cfg": "1.0"})
        self.assertTrue(rec["rollback"]["ok"], rec)
        self.assertEqual(rec["changes"], {})
        self.assertEqual(self.installed("web02", "ct-cfg"), "1.0")
        self.assert_audit_clean("web02")

    def test_interrupted_dpkg_is_repaired_first(self):
        deb = os.path.join(self.repo, "ct-half_1.0_all.deb")
        subprocess.run(["dpkg", "--root=" + self.root("app01"), "--force-script-chrootless",
                        "--log=/dev/null", "--unpack", deb], check=True, capture_output=True)
        self.assertEqual(self.dpkg("app01", "ct-half")[0], "install ok unpacked")
        rec = self.run_json("apt", "install", "ct-two", "--host", "app01")["app01"]
        self.assertEqual(rec["status"], "changed")
        fixed = {"old": "1.0", "new": "1.0", "state": {"old": "unpacked", "new": "installed"}}
        self.assertEqual(rec["repaired"], {"ran": ["dpkg --configure -a"], "ok": True,
                                                   "changes": {"ct-half": fixed}})
        # The record's changes count from before the repair.
        self.assertEqual(rec["changes"], {"ct-half": fixed, "ct-two": {"old": None, "new": "1.0"}})
        self.assertEqual(self.installed("app01", "ct-half"), "1.0")
        self.assert_audit_clean("app01")

    # ---- locks and concurrency -----------------------------------------------

    def test_held_lock_is_waited_for_then_fails_clearly(self):
        path = os.path.join(self.root("web02"), "var/lib/dpkg/lock-frontend")
        with open(path, "a+") as f:
            fcntl.lockf(f, fcntl.LOCK_EX)
            # A check changes nothing and needs no lock: it answers (had it
            # waited, it would have failed after the 3 s bound).
            check = self.run_json("apt", "install", "ct-one", "--host", "web02", "--check")["web02"]
            self.assertEqual(check["changes"], {"ct-one": {"old": None, "new": "1.0"}})
            rec = self.run_json("apt", "install", "ct-one", "--host", "web02", rc=2)["web02"]
        self.assertEqual(rec["status"], "failed")
        self.assertIn("lock", rec["error"])
        self.assertIn(str(os.getpid()), rec["error"])   # the holder is named
        self.assertGreaterEqual(rec["duration_s"], 2.5)  # it waited for the bound (3 s)
        self.assertIsNone(self.installed("web02", "ct-one"))
        rec = self.run_json("apt", "install", "ct-one", "--host", "web02")["web02"]
        self.assertEqual(rec["status"], "changed")

    def test_two_concurrent_installs_on_one_host_both_succeed(self):
        results = {}

        def install(pkg):
            results[pkg] = self.fleet.cli("apt", "install", pkg, "--host", "web01", "--json", timeout=120)

        threads = [threading.Thread(target=install, args=(p,)) for p in ("ct-one", "ct-two")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for pkg, (code, out, err) in results.items():
            self.assertEqual(code, 0, err + out)
            rec = json.loads(out)["hosts"][0]
            self.assertEqual(rec["status"], "changed")
            self.assertEqual(rec["changes"], {pkg: {"old": None, "new": "1.0"}})
        self.assertEqual(self.installed("web01", "ct-one"), "1.0")
        self.assertEqual(self.installed("web01", "ct-two"), "1.0")

    def test_query_answers_during_a_long_install(self):
        code, out, err = self.fleet.cli("apt", "install", "ct-slow", "--host", "db01", "--no-wait")
        self.assertEqual(code, 0, err)
        job = out.strip().split()[-1]
        r = self.fleet.redis.client()
        task = json.loads(r.get("celeryroot:job:" + job))["tasks"][0]["task_id"]
        # The install is under way, and says how far it got ...
        meta = json.loads(harness.wait_for(
            lambda: (lambda m: m if m and json.loads(m)["status"] == "PROGRESS" else None)(
                r.get("celery-task-meta-" + task)), 20))
        self.assertEqual(meta["result"]["host"], "db01")
        self.assertGreaterEqual(meta["result"]["percent"], 0)
        self.assertLess(meta["result"]["percent"], 100)
        rec = self.run_json("apt", "query", "ct-slow", "--host", "db01")["db01"]
        # ... and the query was answered before it finished.
        meta = json.loads(r.get("celery-task-meta-" + task))
        self.assertNotEqual(meta["status"], "SUCCESS")
        self.assertEqual(rec["status"], "unchanged")
        self.assertIn("ct-slow", rec["data"]["packages"])
        done = self.run_json("job", job, "--wait")["db01"]
        self.assertEqual(done["status"], "changed")
        self.assertEqual(self.installed("db01", "ct-slow"), "1.0")

    # ---- security --------------------------------------------------------------

    def test_security_upgrade_takes_only_the_security_package(self):
        self.run_json("apt", "install", "ct-sec=1.0", "ct-up=1.0", "--host", "app01")
        listing = self.run_json("apt", "list", "--upgradable", "--security", "--host", "app01")["app01"]
        self.assertEqual([p["name"] for p in listing["data"]["packages"]], ["ct-sec"])
        real = self.check_then_real("apt", "upgrade", "--security", "--host", "app01")
        self.assertEqual(real["app01"]["changes"], {"ct-sec": {"old": "1.0", "new": "1.1"}})
        self.assertEqual(self.installed("app01", "ct-up"), "1.0")
        rest = self.run_json("apt", "upgrade", "--host", "app01", "--check")["app01"]
        self.assertEqual(rest["changes"], {"ct-up": {"old": "1.0", "new": "1.1"}})

    # ---- hostile input -----------------------------------------------------------

    def test_hostile_packages_refused_by_the_cli_for_every_change(self):
        r = self.fleet.redis.client()
        jobs = r.zcard("celeryroot:jobs")
        self.assertGreaterEqual(len(harness.HOSTILE_PKGS), 20)
        for op in ("install", "remove", "upgrade"):
            for bad in harness.HOSTILE_PKGS:
                with self.subTest(op=op, bad=bad):
                    code, out, err = self.fleet.cli("apt", op, bad, "--all")
                    self.assertEqual(code, 1, (out, err))
                    self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertEqual(r.zcard("celeryroot:jobs"), jobs)
        for q in r.keys("host.*") + r.keys("role.*"):
            self.assertEqual(r.llen(q), 0, q)

    def test_hostile_packages_refused_by_net(self):
        r = self.fleet.redis.client()
        before = len(self.audit_lines("app01")) if os.path.exists(
            os.path.join(self.root("app01"), "var/log/celeryroot/audit.log")) else 0
        for bad in harness.HOSTILE_PKGS:
            with self.subTest(bad=bad):
                task = self.fleet.send_raw("app01", "celeryroot.apt.install", args=[[bad]])
                meta = json.loads(harness.wait_for(lambda: r.get("celery-task-meta-" + task), 20))
                self.assertEqual(meta["status"], "FAILURE")
                self.assertEqual(meta["result"]["exc_type"], "ValueError")
        for kwargs in ({"purge": "yes"}, {"max_age": -1}, {"shell": "id"}, {"check": 1}):
            with self.subTest(kwargs=kwargs):
                task = self.fleet.send_raw("app01", "celeryroot.apt.install", args=[["ct-one"]], kwargs=kwargs)
                meta = json.loads(harness.wait_for(lambda: r.get("celery-task-meta-" + task), 20))
                self.assertEqual(meta["status"], "FAILURE")
        after = len(self.audit_lines("app01")) if os.path.exists(
            os.path.join(self.root("app01"), "var/log/celeryroot/audit.log")) else 0
        self.assertEqual(after, before, "a refused task reached priv")

    # ---- the Python Celery peer ---------------------------------------------------

    def test_python_celery_peer_installs_and_queries(self):
        url = self.fleet.redis.url
        app = Celery("peer", broker=url, backend=url)
        app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"])
        results = []

        def call(task, **kw):
            results.append(app.send_task(task, queue="host.web02", **kw))
            return results[-1].get(timeout=60)

        try:
            rec = call("celeryroot.apt.install", args=[["ct-peer"]], kwargs={"check": True})
            self.assertEqual((rec["status"], rec["check"]), ("changed", True))
            self.assertIsNone(self.dpkg("web02", "ct-peer"))
            rec = call("celeryroot.apt.install", args=[["ct-peer"]])
            self.assertEqual(rec["changes"], {"ct-peer": {"old": None, "new": "1.0"}})
            rec = call("celeryroot.apt.query", args=[["ct-peer"]])
            self.assertEqual(rec["data"]["packages"]["ct-peer"]["installed"], "1.0")
        finally:
            # Let the results go while Redis is still there to say goodbye to.
            results.clear()
            gc.collect()
            app.close()


if __name__ == "__main__":
    unittest.main()
