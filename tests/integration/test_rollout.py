"""Rollouts on ten real pairs and sandboxes: waves, a canary, a failure
budget in counts and percentages that counts unreachable hosts, skipped
hosts, exit code 5, check mode, 'job ID' on a rollout, --abort, and a CLI
SIGKILLed mid-rollout then --resume finishing exactly the remaining hosts,
once.  Hosts h02 and h05 carry a marker file that makes the preinst of
every ro-* package fail there (the script sees the sandbox root as
$DPKG_ROOT); each test installs its own package."""
import json
import os
import shlex
import signal
import subprocess
import tempfile
import time
import unittest

import fleetcase
import harness

HOSTS = ["h%02d" % i for i in range(1, 11)]
FAILING = {"h02", "h05"}
MARKER = "etc/celeryroot-test-preinst-fails"
PACKAGES = ["ro-count", "ro-pct", "ro-canary", "ro-check", "ro-ok", "ro-resume", "ro-abort", "ro-signed",
            "ro-beat", "ro-forged", "ro-sched", "ro-int"]
PREINST = "#!/bin/sh\nif [ -e \"$DPKG_ROOT/%s\" ]; then echo 'preinst refuses on this host' >&2; exit 1; fi\nexit 0\n"


def build_repo(directory):
    os.makedirs(directory, exist_ok=True)
    with tempfile.TemporaryDirectory() as build:
        for name in PACKAGES:
            pkg = {"name": name, "version": "1.0"}
            root = harness.deb_tree(build, pkg)
            harness.deb_script(root, "preinst", PREINST % MARKER)
            harness.deb_build(root, directory, pkg)
    with open(os.path.join(directory, "Packages"), "wb") as f:
        subprocess.run(["dpkg-scanpackages", "-m", "."], cwd=directory, check=True, stdout=f,
                       stderr=subprocess.DEVNULL)
    return "deb [trusted=yes] file:%s ./" % directory


class Rollout(fleetcase.FleetCase):
    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp()
        source = build_repo(os.path.join(tmp, "repo"))
        # Signing on, as in production: every task and every plan is signed
        # by alice, whom the hosts trust (and the CLI, by its own key).
        trusted, key = harness.trusted_key(tmp)
        cls._key_was = os.environ.get("CELERYROOT_SIGNING_KEY")
        os.environ["CELERYROOT_SIGNING_KEY"] = key
        cls.users = {}

        def prepare(r):
            # Redis users as 'celeryroot acl' makes them, for the beat test.
            code, out, err = harness.cli("acl", "--beat", "b1", "--beat", "b2", "--operator", "op", "--json",
                                         "--broker", r.url)
            assert code == 0, err
            for u in json.loads(out)["users"]:
                r.client().execute_command(*shlex.split(u["rule"]))
                cls.users[u["user"]] = u["url"]
            return {}

        cls.start_fleet({h: ["web"] for h in HOSTS}, sources=[source], prepare=prepare,
                        config={"trusted_keys": trusted, "require_signed": "true"})
        for h in FAILING:
            with open(os.path.join(cls.fleet.pairs[h].root, MARKER), "w") as f:
                f.write("fail\n")

    @classmethod
    def tearDownClass(cls):
        if cls._key_was is None:
            os.environ.pop("CELERYROOT_SIGNING_KEY", None)
        else:
            os.environ["CELERYROOT_SIGNING_KEY"] = cls._key_was
        super().tearDownClass()

    # ---- helpers ----------------------------------------------------------

    def installed(self, host, pkg):
        p = subprocess.run(["dpkg-query", "--admindir=" + self.fleet.pairs[host].root + "/var/lib/dpkg",
                            "-W", "-f", "${Status}", pkg], capture_output=True, text=True)
        return p.returncode == 0 and p.stdout == "install ok installed"

    def rollout(self, *args, rc):
        code, out, err = self.fleet.cli("apt", "install", *args, "--json", timeout=180)
        self.assertEqual(code, rc, out + err)
        doc = json.loads(out)
        return doc, {r["host"]: r for r in doc["hosts"]}, err

    def redis(self):
        return self.fleet.redis.client()

    def state(self, job):
        return json.loads(self.redis().get("celeryroot:rollout:%s:state" % job))

    def executions(self, host, job):
        """How many times host ran a task of job: its audit log's lines
        (one per run, with its outcome) naming the job's task for host."""
        path = os.path.join(self.fleet.pairs[host].root, "var/log/celeryroot/audit.log")
        ids = {t["task_id"] for t in json.loads(self.redis().get("celeryroot:job:" + job))["tasks"]
               if t["host"] == host}
        with open(path) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        return sum(1 for a in lines if a.get("task") in ids)

    def assert_skipped(self, hosts, pkg, why):
        for h, rec in hosts.items():
            if rec["status"] == "skipped":
                self.assertIn(why, rec["error"], h)
                self.assertFalse(self.installed(h, pkg), h)

    # ---- tests ------------------------------------------------------------

    def test_budget_in_hosts_stops_at_the_second_wave(self):
        doc, hosts, err = self.rollout("ro-count", "--all", "--batch", "3", "--max-failures", "1",
                                       "--wave-timeout", "60", rc=5)
        ro = doc["rollout"]
        self.assertEqual([w["hosts"] for w in ro["waves"]],
                         [HOSTS[0:3], HOSTS[3:6], HOSTS[6:9], HOSTS[9:10]])
        self.assertEqual(ro["status"], "stopped")
        self.assertIn("the failure budget is spent: 2 of 6 hosts sent to failed", ro["reason"])
        self.assertEqual({f["host"]: f["wave"] for f in ro["failures"]}, {"h02": 1, "h05": 2})
        self.assertEqual({h for h, r in hosts.items() if r["status"] == "skipped"}, set(HOSTS[6:]))
        self.assertEqual({h for h, r in hosts.items() if r["status"] == "failed"}, FAILING)
        self.assertEqual({h for h, r in hosts.items() if r["status"] == "changed"}, {"h01", "h03", "h04", "h06"})
        self.assertIn("pre-installation script", hosts["h05"]["counted"])
        self.assert_skipped(hosts, "ro-count", "the failure budget is spent")
        for h in ("h01", "h03", "h04", "h06"):
            self.assertTrue(self.installed(h, "ro-count"), h)
        self.assertIn("wave 2/4 closed", err)
        self.assertNotIn("wave 3/4 sent", err)
        # 'job ID' shows the same rollout afterwards, with the same exit code.
        code, out, _ = self.fleet.cli("job", doc["job"])
        self.assertEqual(code, 5, out)
        self.assertIn("rollout: stopped: the failure budget is spent", out)
        self.assertIn("h05 (wave 2): failed:", out)
        self.assertIn("skipped", out)

    def test_percentages_and_an_unreachable_host_count(self):
        pair = self.fleet.pairs["h04"]
        pair.stop()
        try:
            t0 = time.monotonic()
            # 40% of 10 is waves of 4; 10% of 10 is a budget of 1: h02 failed
            # and h04 (stopped: its task waits in its queue) unreachable is 2.
            doc, hosts, _ = self.rollout("ro-pct", "--all", "--batch", "40%", "--max-failures", "10%",
                                         "--wave-timeout", "6", rc=5)
            took = time.monotonic() - t0
        finally:
            pair.start()
            self.fleet.wait_registered(["h04"])
        ro = doc["rollout"]
        self.assertEqual([len(w["hosts"]) for w in ro["waves"]], [4, 4, 2])
        self.assertEqual(ro["max_failures"], 1)
        reasons = {f["host"]: f["reason"] for f in ro["failures"]}
        self.assertEqual(set(reasons), {"h02", "h04"})
        self.assertTrue(reasons["h04"].startswith("unreachable: no answer within the wave timeout (6 s)"),
                        reasons["h04"])
        self.assertGreaterEqual(took, 6)
        self.assertEqual({h for h, r in hosts.items() if r["status"] == "skipped"}, set(HOSTS[4:]))
        self.assert_skipped(hosts, "ro-pct", "the failure budget is spent: 2 of 4")
        # Sent is sent: h04's task waited in its queue and runs on its return.
        harness.wait_for(lambda: self.installed("h04", "ro-pct"), 60)

    def test_canary_failure_stops_everything(self):
        doc, hosts, _ = self.rollout("ro-canary", "--all", "--canary", "2", "--batch", "4",
                                     "--max-failures", "50%", rc=5)
        ro = doc["rollout"]
        self.assertEqual(ro["waves"][0]["hosts"], ["h01", "h02"])
        self.assertTrue(ro["waves"][0]["canary"])
        self.assertEqual(ro["reason"], "the canary failed")
        self.assertEqual(hosts["h01"]["status"], "changed")
        self.assertEqual(hosts["h02"]["status"], "failed")
        self.assertEqual({h for h, r in hosts.items() if r["status"] == "skipped"}, set(HOSTS[2:]))
        self.assert_skipped(hosts, "ro-canary", "the canary failed")

    def test_check_mode_rolls_out_checks(self):
        doc, hosts, _ = self.rollout("ro-check", "--all", "--check", "--batch", "5", rc=0)
        self.assertEqual(doc["rollout"]["status"], "done")
        self.assertEqual(len(doc["rollout"]["waves"]), 2)
        for h, rec in hosts.items():
            self.assertEqual(rec["status"], "changed", h)
            self.assertTrue(rec["check"], h)
            self.assertFalse(self.installed(h, "ro-check"), h)

    def test_all_waves_with_pauses_then_done(self):
        hosts_ok = [h for h in HOSTS if h not in FAILING]
        args = ["ro-ok"] + sum((["--host", h] for h in hosts_ok), [])
        doc, hosts, _ = self.rollout(*args, "--batch", "3", "--pause", "1", rc=0)
        ro = doc["rollout"]
        self.assertEqual(ro["status"], "done")
        self.assertEqual(ro["failed"], 0)
        waves = ro["waves"]
        self.assertEqual(len(waves), 3)
        for prev, nxt in zip(waves, waves[1:]):
            self.assertGreaterEqual(nxt["sent"] - prev["closed"], 1.0)
        self.assertEqual({r["status"] for r in hosts.values()}, {"changed"})
        code, out, _ = self.fleet.cli("jobs", "--json")
        listed = {j["job"]: j for j in json.loads(out)["jobs"]}
        self.assertEqual(listed[doc["job"]]["hosts"], 8)

    def test_abort_between_waves(self):
        cli = subprocess.Popen([harness.cli_path(), "apt", "install", "ro-abort", "--all", "--batch", "3",
                                "--max-failures", "5", "--pause", "30", "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, CELERYROOT_BROKER_URL=self.fleet.redis.url))
        try:
            job = harness.wait_for(lambda: self.active_job("ro-abort"), 30)
            harness.wait_for(lambda: self.state(job)["waves"][0]["closed"] > 0, 60)
            code, out, err = self.fleet.cli("job", job, "--abort")
            self.assertEqual(code, 0, out + err)
            out, err = cli.communicate(timeout=30)
        finally:
            if cli.poll() is None:
                cli.kill()
                cli.wait()
        self.assertEqual(cli.returncode, 5, out + err)
        doc = json.loads(out)
        self.assertEqual(doc["rollout"]["status"], "aborted")
        hosts = {r["host"]: r for r in doc["hosts"]}
        self.assertEqual({h for h, r in hosts.items() if r["status"] == "skipped"}, set(HOSTS[3:]))
        self.assert_skipped(hosts, "ro-abort", "aborted by")

    def test_ctrl_c_leaves_the_rollout_to_resume_or_abort(self):
        cli = subprocess.Popen([harness.cli_path(), "apt", "install", "ro-int", "--host", "h01", "--host", "h03",
                                "--batch", "1", "--pause", "30"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, CELERYROOT_BROKER_URL=self.fleet.redis.url))
        try:
            job = harness.wait_for(lambda: self.active_job("ro-int"), 30)
            harness.wait_for(lambda: self.state(job)["waves"][0]["closed"] > 0, 60)
            cli.send_signal(signal.SIGINT)
            out, err = cli.communicate(timeout=10)
        finally:
            if cli.poll() is None:
                cli.kill()
                cli.wait()
        self.assertEqual(cli.returncode, 3, out + err)
        self.assertIn("stopped driving rollout %s; it waits in Redis" % job, err)
        self.assertEqual((self.state(job)["next"], self.state(job)["status"]), (1, "running"))
        self.assertIsNone(self.redis().get("celeryroot:rollout:%s:driver" % job))   # no lease left to wait for
        code, out, err = self.fleet.cli("job", job)
        self.assertEqual(code, 3, out + err)
        self.assertIn("next: wave 2 of 2, due at", out)
        code, out, err = self.fleet.cli("job", job, "--abort")
        self.assertEqual(code, 0, out + err)
        code, out, err = self.fleet.cli("jobs", "--json")
        listed = {j["job"]: j for j in json.loads(out)["jobs"]}
        self.assertEqual(listed[job]["status"], {"changed": 1, "skipped": 1})
        self.assertFalse(self.installed("h03", "ro-int"))

    def active_job(self, pkg):
        for job in self.redis().zrevrange("celeryroot:jobs", 0, 20):
            rec = json.loads(self.redis().get(b"celeryroot:job:" + job) or "null")
            if rec and rec["args"] == [[pkg]]:
                return job.decode()
        return None

    def test_cli_killed_in_a_pause_then_resume_sends_the_rest_once(self):
        cli = subprocess.Popen([harness.cli_path(), "apt", "install", "ro-resume", "--all", "--batch", "4",
                                "--max-failures", "5", "--pause", "4"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=dict(os.environ, CELERYROOT_BROKER_URL=self.fleet.redis.url))
        try:
            job = harness.wait_for(lambda: self.active_job("ro-resume"), 30)
            harness.wait_for(lambda: self.state(job)["waves"][0]["closed"] > 0, 60)
        finally:
            cli.send_signal(signal.SIGKILL)
            cli.wait()
        st = self.state(job)
        self.assertEqual((st["next"], st["status"]), (1, "running"))
        for h in HOSTS[4:]:
            self.assertFalse(self.installed(h, "ro-resume"), h)
        code, out, err = self.fleet.cli("job", job, "--resume", "--json", timeout=120)
        self.assertEqual(code, 2, out + err)   # done; h02 and h05 failed within the budget
        doc = json.loads(out)
        self.assertEqual(doc["rollout"]["status"], "done")
        self.assertEqual({f["host"] for f in doc["rollout"]["failures"]}, FAILING)
        for h in HOSTS:
            self.assertEqual(self.installed(h, "ro-resume"), h not in FAILING, h)
            self.assertEqual(self.executions(h, job), 1, h)
        # A second resume finds nothing to send.
        code, out, err = self.fleet.cli("job", job, "--resume", "--json")
        self.assertEqual(code, 2, out + err)
        for h in HOSTS:
            self.assertEqual(self.executions(h, job), 1, h)
        self.assertEqual(sum(self.redis().llen("host." + h) for h in HOSTS), 0)

    def test_forged_widening_of_a_stored_plan_is_refused(self):
        code, out, err = self.fleet.cli("apt", "install", "ro-signed", "--host", "h01", "--host", "h03",
                                        "--host", "h04", "--canary", "1", "--detach")
        self.assertEqual(code, 0, out + err)
        job = out.strip()
        key = "celeryroot:rollout:" + job
        signed = self.redis().get(key)
        plan = json.loads(signed)
        self.assertEqual([len(w) for w in plan["waves"]], [1, 2])
        self.assertEqual(plan["key"], "alice")
        extra = dict(plan["waves"][1][0], host="h06", queue="host.h06")
        forgeries = {
            "budget raised": dict(plan, max_failures=9),
            "host added": dict(plan, waves=[plan["waves"][0], plan["waves"][1] + [extra]]),
            "canary dropped": dict(plan, canary=0, waves=[plan["waves"][0] + plan["waves"][1]]),
        }
        for what, forged in forgeries.items():
            self.redis().set(key, json.dumps(forged), keepttl=True)
            code, out, err = self.fleet.cli("job", job, "--resume")
            self.assertEqual(code, 1, what + out + err)
            self.assertIn("does not match its signature", err, what)
        unsigned = dict(plan)
        del unsigned["sig"]
        self.redis().set(key, json.dumps(unsigned), keepttl=True)
        code, out, err = self.fleet.cli("job", job, "--resume")
        self.assertEqual(code, 1, out + err)
        self.assertIn("not signed", err)
        # Nothing was sent by any of them.
        self.assertEqual(self.state(job)["next"], 0)
        self.assertEqual(sum(self.redis().llen("host." + h) for h in HOSTS), 0)
        for h in HOSTS:
            self.assertFalse(self.installed(h, "ro-signed"), h)
        # The plan as signed is driven to the end by a resume (the detached
        # rollout's driver).
        self.redis().set(key, signed, keepttl=True)
        code, out, err = self.fleet.cli("job", job, "--resume", "--json", timeout=120)
        self.assertEqual(code, 0, out + err)
        self.assertEqual({h for h in HOSTS if self.installed(h, "ro-signed")}, {"h01", "h03", "h04"})

    def start_beat(self, name):
        log = open(os.path.join(self.fleet.tmp, "beat-%s.log" % name), "w+")
        p = subprocess.Popen([harness.cli_path(), "beat", "--config", self.fleet.config_path],
                             stdout=log, stderr=log,
                             env=dict(os.environ, CELERYROOT_BROKER_URL=self.users["celeryroot-beat-" + name]))
        return p, log

    def beat_log(self, log):
        log.flush()
        log.seek(0)
        return log.read()

    def test_beat_drives_detached_rollouts_through_a_leader_kill(self):
        # A forged detached rollout (its budget raised in Redis) that beat must leave alone.
        self.redis().execute_command("ACL", "LOG", "RESET")
        op = {"CELERYROOT_BROKER_URL": self.users["celeryroot-operator-op"]}
        code, out, err = self.fleet.cli("apt", "install", "ro-forged", "--host", "h01", "--host", "h03",
                                        "--detach", env=op)
        self.assertEqual(code, 0, out + err)
        forged = out.strip()
        key = "celeryroot:rollout:" + forged
        self.redis().set(key, json.dumps(dict(json.loads(self.redis().get(key)), max_failures=9)),
                         keepttl=True)
        beats = [self.start_beat("b1")]
        try:
            harness.wait_for(lambda: self.redis().get("celeryroot:beat:leader"), 30)
            code, out, err = self.fleet.cli("apt", "install", "ro-beat", "--all", "--batch", "3",
                                            "--max-failures", "5", "--pause", "3", "--detach", env=op)
            self.assertEqual(code, 0, out + err)
            job = out.strip()
            # The leader dies in the pause after the first wave; a second beat
            # takes over once the leader's lease runs out.
            harness.wait_for(lambda: self.state(job)["waves"][0]["closed"] > 0, 60)
            beats[0][0].send_signal(signal.SIGKILL)
            beats[0][0].wait()
            self.assertEqual(self.state(job)["status"], "running")
            beats.append(self.start_beat("b2"))
            harness.wait_for(lambda: self.state(job)["status"] != "running", 120, interval=0.5)
            st = self.state(job)
            self.assertEqual(st["status"], "done")
            self.assertEqual({f["host"] for f in st["failures"]}, FAILING)
            for h in HOSTS:
                self.assertEqual(self.installed(h, "ro-beat"), h not in FAILING, h)
                self.assertEqual(self.executions(h, job), 1, h)
            harness.wait_for(lambda: not self.redis().sismember("celeryroot:rollouts:active", job), 10)
            log2 = self.beat_log(beats[1][1])
            self.assertIn("rollout %s finished: done" % job, log2)
            # The forged one: refused by both beats, nothing sent.
            self.assertIn("rollout %s is not driven: its plan does not match its signature" % forged, log2)
            self.assertEqual(self.state(forged)["next"], 0)
            self.assertFalse(self.installed("h01", "ro-forged"))
            code, out, _ = self.fleet.cli("job", job, env=op)
            self.assertEqual(code, 2, out)   # done; h02 and h05 failed within the budget
            self.assertIn("rollout: done", out)
            # Neither beat nor the operator was denied anything by Redis.
            log = self.redis().execute_command("ACL", "LOG")
            self.assertEqual(log, [], log)
        finally:
            for p, log in beats:
                if p.poll() is None:
                    p.terminate()
                    p.wait(10)
                log.close()
            self.redis().srem("celeryroot:rollouts:active", forged)

    def test_a_schedule_with_rollout_options_stores_a_detached_rollout(self):
        code, out, err = self.fleet.cli("schedule", "add", "ro-sched", "--cron", "0 3 1 1 *", "--host", "h01",
                                        "--host", "h03", "--host", "h04", "--", "apt", "install",
                                        "--canary", "1", "--batch", "2", "--pause", "1", "ro-sched")
        self.assertEqual(code, 0, out + err)
        code, out, err = self.fleet.cli("schedule", "run-now", "ro-sched")
        self.assertEqual(code, 0, out + err)
        job = out.split("job ")[1].split()[0]
        self.assertTrue(self.redis().sismember("celeryroot:rollouts:active", job))
        plan = json.loads(self.redis().get("celeryroot:rollout:" + job))
        self.assertEqual([[t["host"] for t in w] for w in plan["waves"]], [["h01"], ["h03", "h04"]])
        self.assertEqual(plan["pause_ms"], 1000)
        # Nothing is sent until a driver (beat, or a resume) takes it.
        self.assertFalse(self.installed("h01", "ro-sched"))
        code, out, err = self.fleet.cli("job", job, "--resume", "--json", timeout=120)
        self.assertEqual(code, 0, out + err)
        self.assertEqual({h for h in HOSTS if self.installed(h, "ro-sched")}, {"h01", "h03", "h04"})
        self.fleet.cli("schedule", "remove", "ro-sched")
        self.redis().srem("celeryroot:rollouts:active", job)

    def test_rollout_options_refused_on_reads_and_bad_values(self):
        for args, words in ((["apt", "query", "ro-ok", "--all", "--batch", "2"], "changes only"),
                            (["apt", "install", "ro-ok", "--all", "--batch", "0"], "--batch"),
                            (["apt", "install", "ro-ok", "--all", "--max-failures", "101%"], "--max-failures"),
                            (["ping", "--all", "--canary", "1"], "rollout options"),
                            (["apt", "install", "ro-ok", "--all", "--resume"], "--resume"),
                            (["schedule", "add", "x", "--cron", "0 3 * * *", "--all", "--", "apt", "install",
                              "ro-ok", "--abort"], "--abort")):
            code, out, err = self.fleet.cli(*args)
            self.assertEqual(code, 1, args)
            self.assertIn(words, err, args)
        code, out, err = self.fleet.cli("ping", "--host", "h01", "--no-wait")
        self.assertEqual(code, 0, err)
        code, _, err = self.fleet.cli("job", out.strip(), "--resume")
        self.assertEqual(code, 1, err)
        self.assertIn("is not a rollout", err)


if __name__ == "__main__":
    unittest.main()
