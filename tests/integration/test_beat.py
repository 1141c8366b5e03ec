"""celeryroot beat on a real Redis with real hosts, on a fast test clock
(CELERYROOT_TEST_CLOCK: 30 s of schedule time per real second, so an
every-minute schedule fires every 2 s).  Two beats run, each as its own
Redis ACL user from 'celeryroot acl --beat'; each fire time is claimed
once (celeryroot:beat:fired:NAME:TIME, whose value becomes the job id), and
every claimed time has exactly one job, answered by every host.  Killing
the leader hands over within the documented bound (lease 10 s + a tick),
and the fire time missed meanwhile runs once, late."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import harness

SPEED = 30
LEASE_S = 10
TICK_S = 0.5


class Beat(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.users = {}

        def prepare(r):
            code, out, err = harness.cli("acl", "--beat", "b1", "--beat", "b2", "--json", "--broker", r.url)
            assert code == 0, err
            import shlex
            for u in json.loads(out)["users"]:
                r.client().execute_command(*shlex.split(u["rule"]))
                cls.users[u["user"]] = u["url"]
            return {}

        # The operator's key, which beat trusts to sign runtime schedules.
        cls.keys = tempfile.TemporaryDirectory()
        code, out, err = harness.cli("key", "generate", "alice", "--dir", cls.keys.name)
        assert code == 0, err
        cls.beat_keys = os.path.join(cls.keys.name, "beat-trusted")
        os.mkdir(cls.beat_keys)
        shutil.copy(os.path.join(cls.keys.name, "alice.pub"), cls.beat_keys)
        cls.fleet = harness.Fleet({"web01": ["webserver"], "db01": ["database"]}, prepare=prepare,
                                  config={"beat.trusted_keys": cls.beat_keys})
        cls.fleet.__enter__()
        cls.real0 = time.time()
        cls.fake0 = 1795132800 - 1          # 2026-11-21T00:00:00Z, one second before a minute
        cls.beats = []

    @classmethod
    def tearDownClass(cls):
        for p, log in cls.beats:
            if p.poll() is None:
                p.terminate()
                p.wait(10)
            log.close()
        cls.fleet.__exit__(None, None, None)
        cls.keys.cleanup()

    def fake_now(self):
        return self.fake0 + (time.time() - self.real0) * SPEED

    def start_beat(self, user):
        env = dict(os.environ, CELERYROOT_TEST_CLOCK="%d:%f:%d" % (self.fake0, self.real0, SPEED),
                   CELERYROOT_BROKER_URL=self.users["celeryroot-beat-" + user])
        log = open(os.path.join(self.fleet.tmp, "beat-%s.log" % user), "w+")
        vg = harness.valgrind_prefix(self.fleet.tmp, "beat-" + user)
        p = subprocess.Popen(vg + [harness.cli_path(), "beat", "--config", self.fleet.config_path],
                             stdout=log, stderr=log, env=env)
        self.beats.append((p, log))
        return p

    def fired(self):
        """{fire time: value} of every claimed fire time of 'every'."""
        r = self.fleet.redis.client()
        out = {}
        for k in r.keys("celeryroot:beat:fired:every:*"):
            out[int(k.decode().rsplit(":", 1)[1])] = r.get(k).decode()
        return out

    def jobs_from_schedule(self):
        r = self.fleet.redis.client()
        jobs = {}
        for k in r.keys("celeryroot:job:*"):
            rec = json.loads(r.get(k))
            if rec.get("origin") == "schedule:every":
                jobs[k.decode().split(":")[-1]] = rec
        return jobs

    def leader(self):
        v = self.fleet.redis.client().get("celeryroot:beat:leader")
        return v.decode() if v else None

    def test_two_beats_one_job_per_fire_time_and_takeover(self):
        code, out, err = self.fleet.cli("schedule", "add", "every", "--config", self.fleet.config_path,
                                        "--cron", "* * * * *", "--all", "--", "ping",
                                        env={"CELERYROOT_SIGNING_KEY": os.path.join(self.keys.name, "alice.key")})
        self.assertEqual(code, 0, err)
        b1 = self.start_beat("b1")
        harness.wait_for(self.leader, 5)
        b2 = self.start_beat("b2")
        # Several fire times with both running.
        harness.wait_for(lambda: len(self.fired()) >= 4, 20, interval=0.2)
        holder = self.leader()
        victim = b1 if holder.split(":")[1] == str(b1.pid) else b2
        other = b2 if victim is b1 else b1
        victim.send_signal(signal.SIGKILL)
        victim.wait(5)
        killed_real = time.time()
        before = max(self.fired())
        # One read of the lease per look: it can lapse between two reads.
        harness.wait_for(lambda: (lead := self.leader()) and lead.split(":")[1] == str(other.pid),
                         LEASE_S + 2 * TICK_S + 3, interval=0.1)
        takeover = time.time() - killed_real
        sys.stderr.write("takeover after the leader was killed: %.2f s\n" % takeover)
        self.assertLessEqual(takeover, LEASE_S + 2 * TICK_S + 1)
        taken_fake = self.fake_now()
        harness.wait_for(lambda: len([t for t in self.fired() if t > taken_fake]) >= 2, 20, interval=0.2)
        # Stopped (it resigns), so that what follows sees a finished record.
        other.terminate()
        self.assertEqual(other.wait(15), 0)
        self.assertIsNone(self.leader())

        fired = self.fired()
        times = sorted(fired)
        # The first fire time after the kill was due while nobody led, and ran
        # once, late; before the kill and after the takeover, every minute.
        late = [t for t in times if before < t <= taken_fake]
        self.assertEqual(len(late), 1, (before, taken_fake, times))
        for a, b in zip(times, times[1:]):
            self.assertEqual(b % 60, 0)
            if not (a == before):
                self.assertEqual(b - a, 60, times)
        # One job per fire time, each answered by every host.
        harness.wait_for(lambda: all(len(v) == 36 for v in self.fired().values()), 10, interval=0.2)
        fired = self.fired()
        jobs = self.jobs_from_schedule()
        self.assertEqual(len(set(fired.values())), len(fired))
        self.assertEqual(sorted(jobs), sorted(fired.values()))
        for job in list(fired.values())[:3]:
            code, out, err = self.fleet.cli("job", job, "--wait", "--json", "--timeout", "20")
            self.assertEqual(code, 0, err)
            self.assertEqual(sorted(h["host"] for h in json.loads(out)["hosts"]), ["db01", "web01"])
        # schedule list shows the last run, its job and outcome.
        code, out, err = self.fleet.cli("schedule", "list", "--json", "--config", self.fleet.config_path)
        self.assertEqual(code, 0, err)
        last = json.loads(out)["schedules"][0]["last"]
        self.assertIn(last["job"], fired.values())
        # Neither beat was denied anything by Redis.
        log = self.fleet.redis.client().execute_command("ACL", "LOG")
        self.assertEqual(log, [], log)


if __name__ == "__main__":
    unittest.main()
