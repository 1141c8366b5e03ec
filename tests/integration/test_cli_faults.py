"""The CLI waiting through broker faults: Redis restarted under a wait is said
on stderr ("lost the broker connection", then "reconnected"), the CLI keeps
following until its own timeout and reports the host's real result; Redis
down for longer than the timeout ends the wait at the timeout (never
earlier) with exit 3, the job id, and the reason on stderr.

Each fault is repeated harness.fault_trials() times; one FIGURE line each."""
import json
import statistics
import time
import unittest

import clifault
import harness

HOLD = 9          # seconds each ping holds: the restart happens inside it
DOWN = 2.5        # seconds Redis stays down


def heartbeat_since(client, host, since):
    """The host has written its registry record since `since` (wall time):
    its daemon is connected to this Redis again."""
    raw = client.get("celeryroot:host:" + host)
    return raw is not None and json.loads(raw)["last_seen"] > since


class WaitThroughRestarts(unittest.TestCase):
    def setUp(self):
        harness.require_root()
        # appendonly: the restarted Redis still has the job, the STARTED meta
        # and the registry, as a production broker with persistence would.
        self.fleet = harness.Fleet({"web01": ["webserver"]}, appendonly=True)
        self.fleet.__enter__()
        self.r = self.fleet.redis.client()

    def tearDown(self):
        self.fleet.__exit__(None, None, None)

    def daemon_back(self):
        """Redis up, and the daemon connected to it again, before a task is
        sent: a task pushed while the daemon is still reconnecting is the
        daemon's fault case, not the CLI's."""
        if not self.fleet.redis._ping():
            self.fleet.redis.start()
            self.r = self.fleet.redis.client()
        since = time.time()
        harness.wait_for(lambda: heartbeat_since(self.r, "web01", since), 60, interval=0.1)

    def restart_once(self):
        """One job followed with 'job ID --wait' while Redis restarts under
        it: (exit code, final status, said lost, said reconnected, seconds
        from Redis being back to the CLI saying so, stderr)."""
        self.daemon_back()
        job, task = clifault.send_job(self.fleet, "web01", kwargs={"hold": HOLD})
        harness.wait_for(lambda: clifault.meta_status(self.r, task) == "STARTED", 30)
        cli = clifault.BackgroundCli(self.fleet.redis.url, "job", job, "--wait", "--timeout", "60", "--json")
        try:
            # The CLI is following (subscribed) before the fault.
            harness.wait_for(lambda: self.r.execute_command("PUBSUB", "NUMSUB", "celery-task-meta-" + task)[1] == 1,
                             20)
            self.fleet.redis.stop()
            time.sleep(DOWN)
            self.fleet.redis.start()
            back = time.monotonic()
            self.r = self.fleet.redis.client()
            code, out, err, _ = cli.finish(HOLD + 60)
        finally:
            cli.kill()
        lost = cli.first_line("lost the broker connection")
        again = cli.first_line("reconnected after")
        status = json.loads(out)["hosts"][0]["status"] if out.strip() else None
        return code, status, lost is not None, again is not None, (again[0] - back) if again else None, err

    def test_redis_restart_during_wait(self):
        trials = harness.fault_trials()
        correct = wrong_exit = lost_said = back_said = 0
        delays = []
        for i in range(trials):
            code, status, lost, again, delay, err = self.restart_once()
            correct += status == "unchanged" and code == 0
            wrong_exit += code != 0
            lost_said += lost
            back_said += again
            if delay is not None:
                delays.append(delay)
            self.assertEqual((code, status), (0, "unchanged"), err)
            self.assertTrue(lost and again, err)
            harness.wait_for(lambda: self.r.hlen("unacked") == 0, 30)
        harness.figure("cli redis restart during wait", trials, correct=correct, wrong_exit=wrong_exit,
                       lost_said=lost_said, reconnected_said=back_said,
                       reconnect_after_back_s_max=max(delays) if delays else -1.0,
                       reconnect_after_back_s_mean=statistics.mean(delays) if delays else -1.0)

    def test_redis_down_longer_than_the_timeout(self):
        trials = harness.fault_trials()
        wrong_exit = early = no_id = silent = 0
        timeout = 6
        for i in range(trials):
            self.daemon_back()
            job, task = clifault.send_job(self.fleet, "web01", kwargs={"hold": 30})
            harness.wait_for(lambda: clifault.meta_status(self.r, task) == "STARTED", 30)
            cli = clifault.BackgroundCli(self.fleet.redis.url, "job", job, "--wait", "--timeout", str(timeout))
            try:
                harness.wait_for(lambda: self.r.execute_command("PUBSUB", "NUMSUB", "celery-task-meta-" + task)[1] == 1,
                                 20)
                self.fleet.redis.stop()
                code, out, err, ran = cli.finish(timeout + 60)
            finally:
                cli.kill()
            wrong_exit += code != 3
            early += ran < timeout - 0.5
            no_id += job not in out
            silent += "lost the broker connection" not in err or "before the broker connection was back" not in err
            self.assertEqual(code, 3, err)
            # It waited for its own timeout, not for a connection timeout.
            self.assertGreaterEqual(ran, timeout - 0.5, err)
            self.assertIn("job %s" % job, out)
            self.assertIn("lost the broker connection", err)
            self.assertIn("before the broker connection was back", err)
            self.assertIn("celeryroot job %s --wait" % job, err)
            row = [l for l in out.splitlines() if l.startswith("web01")][0]
            self.assertIn("timeout", row)
        harness.figure("cli redis down past the timeout", trials, wrong_exit=wrong_exit, ended_early=early,
                       job_id_missing=no_id, reason_missing=silent)


class AptThroughRestart(unittest.TestCase):
    """The CLI sends an apt install itself and waits; Redis restarts while
    the package's preinst runs: the CLI reports it changed."""

    def test_apt_install_survives_a_restart(self):
        harness.require_root()
        packages = [{"name": "slowpkg", "version": "1.0", "preinst_sleep": 8}]
        with harness.Fleet({"web01": ["webserver"]}, packages=packages, appendonly=True) as fleet:
            r = fleet.redis.client()
            code, out, err = fleet.cli("apt", "update", "--all")
            self.assertEqual(code, 0, err)
            cli = clifault.BackgroundCli(fleet.redis.url, "apt", "install", "slowpkg", "--host", "web01",
                                         "--timeout", "120", "--json")
            try:
                harness.wait_for(lambda: any(b"PROGRESS" in (r.get(k) or b"") or b"STARTED" in (r.get(k) or b"")
                                             for k in r.keys("celery-task-meta-*")), 60)
                fleet.redis.stop()
                time.sleep(DOWN)
                fleet.redis.start()
                code, out, err, _ = cli.finish(180)
            finally:
                cli.kill()
            self.assertEqual(code, 0, err)
            rec = json.loads(out)["hosts"][0]
            self.assertEqual(rec["status"], "changed", out)
            self.assertEqual(rec["changes"]["slowpkg"]["new"], "1.0")
            self.assertIn("lost the broker connection", err)
            self.assertIn("reconnected after", err)


if __name__ == "__main__":
    unittest.main()
