"""Exit 4 only when nothing was sent.  The faults are placed exactly with
Redis itself: a raw connection pipelines a blocking pop of one of the job's
queues followed by a stall (DEBUG SLEEP), a pause of every client (CLIENT
PAUSE) or a kill of every other client (CLIENT KILL), so they happen the
moment the CLI's EXEC has pushed the tasks; CLIENT PAUSE WRITE holds the
transaction before it runs.  The jobs go to 400 registered hosts that do not
run (the 400-host case: many channels to subscribe to, under a slow broker);
they are registered offline, so that the CLI is done as soon as it has
subscribed and read the results, except where it must be killed while
waiting.

Each case is repeated harness.fault_trials() times; one FIGURE line each."""
import json
import subprocess
import time
import unittest

import clifault
import harness

HOSTS = 400
TIMEOUT = "12"
SHORT_TIMEOUT = "6"


class SendFaults(unittest.TestCase):
    def setUp(self):
        harness.require_root()
        self.redis = harness.Redis(appendonly=True)
        self.r = self.redis.client()
        clifault.fake_hosts(self.r, HOSTS, online=False)

    def tearDown(self):
        self.redis.close()

    def cli(self, *args, timeout=120):
        return harness.cli(*args, url=self.redis.url, timeout=timeout)

    def jobs(self):
        return self.r.zrange("celeryroot:jobs", 0, -1)

    def job_exists(self, job):
        return self.r.exists("celeryroot:job:" + job) == 1

    def sent_then(self, *after):
        """Runs 'ping --all' with `after` pipelined behind a pop of one of
        its queues: (exit code, stdout, stderr, what the pop got)."""
        pipe = clifault.RawPipeline(self.redis.port, ["BRPOP", "host.fake000", "0"], *after)
        try:
            code, out, err = self.cli("ping", "--all", "--timeout", TIMEOUT)
            popped = pipe.read_some(5)
        finally:
            pipe.close()
        return code, out, err, popped

    def check_reported(self, code, out, err, popped):
        """Sent: exit 3 (no host answers), every host queued, the job id printed
        and stored.  (job id, what is wrong)."""
        jobs = self.jobs()
        job = jobs[-1].decode() if jobs else "(none)"
        wrong = []
        if b"celeryroot.ping" not in popped:
            wrong.append("the fault did not come after EXEC ran")
        if len(jobs) != 1 or not self.job_exists(job):
            wrong.append("the job is not stored")
        if code != 3:
            wrong.append("exit %d" % code)
        if "%d hosts: %d queued   (job %s)" % (HOSTS, HOSTS, job) not in out or \
                "celeryroot job %s --wait" % job not in out:
            wrong.append("the job id and how to follow it are not printed")
        return job, wrong

    def repeat(self, name, expected, trial):
        """Runs trial() fault_trials() times, each on an empty job list;
        trial returns (exit code, what is wrong).  One FIGURE line, then
        every trial must have been right."""
        trials = harness.fault_trials()
        wrong_exit = exit4_after_send = 0
        problems = []
        for i in range(trials):
            self.r.delete("celeryroot:jobs")
            code, wrong, sent = trial()
            wrong_exit += code != expected
            exit4_after_send += code == 4 and sent
            problems += ["trial %d: %s" % (i + 1, w) for w in wrong]
        harness.figure(name, trials, wrong_exit=wrong_exit, exit4_after_send=exit4_after_send)
        self.assertEqual(problems, [])

    def test_broker_stalls_before_confirming_the_job(self):
        # DEBUG SLEEP runs before Redis writes the EXEC reply: the CLI hears
        # nothing for 4 s, longer than its command timeout of 3 s.
        def trial():
            code, out, err, popped = self.sent_then(["DEBUG", "SLEEP", "4"])
            job, wrong = self.check_reported(code, out, err, popped)
            return code, [w + ": " + err for w in wrong], True
        self.repeat("cli broker stalls before confirming a job", 3, trial)

    def test_broker_too_busy_to_confirm_subscriptions(self):
        # Every client paused for 5 s right after EXEC: the 400 SUBSCRIBE
        # confirmations come 5 s late.
        def trial():
            code, out, err, popped = self.sent_then(["CLIENT", "PAUSE", "5000", "ALL"])
            job, wrong = self.check_reported(code, out, err, popped)
            return code, [w + ": " + err for w in wrong], True
        self.repeat("cli broker too busy to confirm subscriptions", 3, trial)

    def test_connection_lost_after_exec_ran(self):
        # EXEC ran, and its reply is thrown away with the connection.
        def trial():
            code, out, err, popped = self.sent_then(["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"])
            job, wrong = self.check_reported(code, out, err, popped)
            for said in ("lost the broker connection while sending job %s" % job,
                         "cannot know yet whether it was sent", "job %s was sent: the broker has it" % job):
                if said not in err:
                    wrong.append("stderr does not say '%s'" % said)
            return code, [w + ": " + err for w in wrong], True
        self.repeat("cli connection lost after exec ran", 3, trial)

    def test_broker_killed_before_exec_ran(self):
        # Writes paused: the transaction waits, unrun, when Redis is killed.
        # The restarted Redis (with its AOF) has no such job: exit 4 is right.
        def trial():
            self.r.execute_command("CLIENT", "PAUSE", "30000", "WRITE")
            cli = clifault.BackgroundCli(self.redis.url, "ping", "--all", "--timeout", TIMEOUT)
            try:
                harness.wait_for(lambda: " flags=xb " in self.r.execute_command("CLIENT", "LIST").decode(), 20)
                self.redis.stop()
                time.sleep(1)
                self.redis.start()
                self.r = self.redis.client()
                code, out, err, _ = cli.finish(120)
            finally:
                cli.kill()
            wrong = []
            if self.jobs() != []:
                wrong.append("a job is stored")
            if self.r.scard("celeryroot:hosts") != HOSTS:
                wrong.append("the AOF lost the registry")
            for said in ("cannot know yet whether it was sent", "does not exist on the broker: nothing was sent"):
                if said not in err:
                    wrong.append("stderr does not say '%s'" % said)
            return code, [w + ": " + err for w in wrong] + (["exit %d: %s" % (code, err)] if code != 4 else []), False
        self.repeat("cli broker killed before exec ran", 4, trial)

    def test_broker_killed_between_send_and_wait(self):
        # Killed as soon as the job is visible: whatever the CLI was doing,
        # the job was sent, so not 4.  Redis comes back (with its AOF).
        clifault.fake_hosts(self.r, HOSTS, online=True)   # the CLI waits for them

        def trial():
            cli = clifault.BackgroundCli(self.redis.url, "ping", "--all", "--timeout", SHORT_TIMEOUT)
            try:
                harness.wait_for(lambda: self.r.zcard("celeryroot:jobs") == 1, 20, interval=0.001)
                self.redis.stop()
                time.sleep(2)
                self.redis.start()
                self.r = self.redis.client()
                code, out, err, _ = cli.finish(120)
            finally:
                cli.kill()
            job = self.jobs()[0].decode() if self.jobs() else "(none)"
            wrong = ["exit %d" % code] if code != 3 else []
            if "(job %s)" % job not in out:
                wrong.append("the job id is not printed")
            if "lost the broker connection" not in err:
                wrong.append("stderr does not say the connection was lost")
            return code, [w + ": " + err for w in wrong], True
        self.repeat("cli broker killed between send and wait", 3, trial)

    def test_broker_down_before_sending(self):
        self.redis.stop()
        code, out, err = self.cli("ping", "--all")
        self.assertEqual(code, 4, err)
        self.assertIn("cannot reach the broker", err)
        self.redis.start()
        self.r = self.redis.client()
        self.assertEqual(self.jobs(), [])


if __name__ == "__main__":
    unittest.main()
