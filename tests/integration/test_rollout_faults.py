"""Rollout drivers killed at random moments and raced (fault trials: once
in 'make check', CELERYROOT_FAULT_TRIALS times in 'make check-faults').
Each trial rolls a fresh package out to six real pairs in waves of two:

* the CLI driving it is SIGKILLed at a random moment (while storing, while
  sending a wave, while waiting on one, in a pause), then
  'celeryroot job ID --resume' finishes it: every host ran its task exactly
  once (counted in its audit log), whatever the moment;
* two '--resume' CLIs start at once on a detached rollout: one drives, the
  other waits for the lease or finds the rollout done; every host ran its
  task exactly once.

Prints FIGURE lines: where the kills landed (wave reached) and how long
the resumes took."""
import json
import os
import random
import signal
import statistics
import subprocess
import tempfile
import threading
import time

import fleetcase
import harness
import test_rollout

HOSTS = ["f%02d" % i for i in range(1, 7)]
TRIALS = harness.fault_trials()
KILLED = ["ro-kill-%d" % i for i in range(TRIALS)]
RACED = ["ro-race-%d" % i for i in range(TRIALS)]


class RolloutFaults(fleetcase.FleetCase):
    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp()
        test_rollout.PACKAGES = KILLED + RACED
        source = test_rollout.build_repo(os.path.join(tmp, "repo"))
        cls.start_fleet({h: ["web"] for h in HOSTS}, sources=[source])

    def installed(self, host, pkg):
        p = subprocess.run(["dpkg-query", "--admindir=" + self.fleet.pairs[host].root + "/var/lib/dpkg",
                            "-W", "-f", "${Status}", pkg], capture_output=True, text=True)
        return p.returncode == 0 and p.stdout == "install ok installed"

    def redis(self):
        return self.fleet.redis.client()

    def job_of(self, pkg):
        for job in self.redis().zrevrange("celeryroot:jobs", 0, 50):
            rec = json.loads(self.redis().get(b"celeryroot:job:" + job) or "null")
            if rec and rec["args"] == [[pkg]]:
                return job.decode()
        return None

    def executions(self, host, job):
        path = os.path.join(self.fleet.pairs[host].root, "var/log/celeryroot/audit.log")
        ids = {t["task_id"] for t in json.loads(self.redis().get("celeryroot:job:" + job))["tasks"]
               if t["host"] == host}
        if not os.path.exists(path):
            return 0
        with open(path) as f:
            return sum(1 for line in f if line.strip() and json.loads(line).get("task") in ids)

    def assert_once_everywhere(self, job, pkg):
        for h in HOSTS:
            self.assertTrue(self.installed(h, pkg), h)
            self.assertEqual(self.executions(h, job), 1, h)
        self.assertEqual(sum(self.redis().llen("host." + h) for h in HOSTS), 0)

    def test_driver_killed_at_random_then_resumed(self):
        reached, resume_s = [], []
        rnd = random.Random(int(os.environ.get("CELERYROOT_FAULT_SEED", time.time())))
        for pkg in KILLED:
            cli = subprocess.Popen([harness.cli_path(), "apt", "install", pkg, "--all", "--batch", "2",
                                    "--pause", "0.5", "--wave-timeout", "60"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   env=dict(os.environ, CELERYROOT_BROKER_URL=self.fleet.redis.url))
            time.sleep(rnd.uniform(0.05, 3.0))
            cli.send_signal(signal.SIGKILL)
            cli.wait()
            job = self.job_of(pkg)
            if job is None:   # killed before the rollout was stored: nothing was sent
                self.assertFalse(any(self.installed(h, pkg) for h in HOSTS))
                reached.append(-1)
                continue
            st = json.loads(self.redis().get("celeryroot:rollout:%s:state" % job))
            reached.append(st["next"])
            t0 = time.monotonic()
            code, out, err = self.fleet.cli("job", job, "--resume", "--json", timeout=120)
            resume_s.append(time.monotonic() - t0)
            self.assertEqual(code, 0, out + err)
            self.assertEqual(json.loads(out)["rollout"]["status"], "done")
            self.assert_once_everywhere(job, pkg)
        harness.figure("rollout driver SIGKILLed then resumed", TRIALS,
                       waves_sent_at_kill=",".join(map(str, reached)),
                       resume_median_s=statistics.median(resume_s) if resume_s else 0.0)

    def test_two_resumes_at_once_send_each_wave_once(self):
        for pkg in RACED:
            code, out, err = self.fleet.cli("apt", "install", pkg, "--all", "--batch", "2", "--detach")
            self.assertEqual(code, 0, out + err)
            job = out.strip()
            results = []

            def resume():
                results.append(self.fleet.cli("job", job, "--resume", "--json", timeout=120))
            threads = [threading.Thread(target=resume) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            codes = sorted(code for code, _, _ in results)
            # One drove it to the end (0); the other waited for its lease and
            # then found it done (0), or gave up on the lease while it ran (3).
            self.assertIn(codes, ([0, 0], [0, 3]), results)
            self.assert_once_everywhere(job, pkg)
            self.redis().srem("celeryroot:rollouts:active", job)
        harness.figure("rollout two resumes at once", TRIALS, sent_twice=0)


if __name__ == "__main__":
    import unittest
    unittest.main()
