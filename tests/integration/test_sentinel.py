"""Redis Sentinel with real servers: a master, a replica and three
redis-sentinel processes (tests/lib/sentinels.py).  Pairs and the CLI reach
the broker by kombu's sentinel:// URL; the master is killed with SIGKILL
while tasks are queued and in flight; bad sentinel answers give one-line
errors.  The failover trial repeats harness.fault_trials() times and logs
a FIGURE line (make check-faults: 10 trials)."""
import json
import os
import re
import signal
import socket
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

import harness
import sentinels


def done_counts(fleet, ids):
    counts = dict.fromkeys(ids, 0)
    pat = re.compile(r"task ([0-9a-f-]{36}) \(celeryroot\.ping\) done")
    for p in fleet.pairs.values():
        for m in pat.finditer(p.log()):
            if m.group(1) in counts:
                counts[m.group(1)] += 1
    return counts


class FakeSentinel:
    """A TCP server on loopback that answers every command with one fixed
    RESP reply: a sentinel gone wrong or hostile."""

    def __init__(self, reply):
        self.reply = reply
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    while conn.recv(4096):
                        conn.sendall(self.reply)
                except OSError:
                    pass

    def close(self):
        self.sock.close()


class SentinelErrors(unittest.TestCase):
    """No pairs needed: the CLI's answers to bad URLs and bad sentinels."""

    def one_line_error(self, url, *want):
        code, out, err = harness.cli("ping", "--all", "--timeout", "2", url=url, timeout=30)
        self.assertNotEqual(code, 0, out + err)
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, err)
        for w in want:
            self.assertIn(w, lines[0])
        return lines[0]

    def test_url_errors(self):
        self.one_line_error("sentinel://127.0.0.1:1", "master_name")
        self.one_line_error("sentinel://127.0.0.1:1;redis://127.0.0.1:2?master_name=m", "sentinel://")
        self.one_line_error("sentinel://127.0.0.1:1?master_name=a%20b", "master_name must be")
        self.one_line_error("sentinel://127.0.0.1:1?db=2", "only option")
        self.one_line_error(";".join(["sentinel://127.0.0.1:%d" % (i + 1) for i in range(9)]) +
                            "?master_name=m", "at most 8")

    def test_all_sentinels_down(self):
        url = "sentinel://127.0.0.1:%d;sentinel://127.0.0.1:%d?master_name=m" % (
            harness.free_port(), harness.free_port())
        self.one_line_error(url, "no master 'm' found via 2 sentinel(s)", "cannot be reached")

    def test_hostile_answers(self):
        cases = [
            (b"*2\r\n$14\r\nevil.example;x\r\n$4\r\n6379\r\n", "malformed answer"),   # a name, not an address
            (b"*2\r\n$9\r\n127.0.0.1\r\n$5\r\n99999\r\n", "malformed answer"),        # port out of range
            (b"*2\r\n$7\r\n0.0.0.0\r\n$4\r\n6379\r\n", "malformed answer"),          # "any"
            (b"*2\r\n$9\r\n127.0.0.1\r\n$5\r\n-6379\r\n", "malformed answer"),
            (b"*3\r\n$9\r\n127.0.0.1\r\n$4\r\n6379\r\n$1\r\nx\r\n", "malformed answer"),
            (b"+OK\r\n", "malformed answer"),
            (b"-ERR unknown command\r\n", "malformed answer"),
            (b"*-1\r\n", "knows no master named 'm'"),
        ]
        for reply, want in cases:
            fake = FakeSentinel(reply)
            try:
                self.one_line_error("sentinel://127.0.0.1:%d?master_name=m" % fake.port, want)
            finally:
                fake.close()

    def test_unknown_master_name(self):
        with sentinels.Sentinels(nsentinels=1) as s:
            url = s.url.replace("master_name=" + sentinels.MASTER_NAME, "master_name=nosuch")
            self.one_line_error(url, "knows no master named 'nosuch'", "check master_name")


class SentinelFleet(unittest.TestCase):
    def setUp(self):
        harness.require_root()
        self.fleet = harness.Fleet({"h1": ["web"], "h2": ["web"]}, broker=sentinels.SentinelBroker)
        self.fleet.__enter__()
        self.s = self.fleet.redis

    def tearDown(self):
        self.fleet.__exit__(None, None, None)

    def test_pair_and_cli_via_sentinel(self):
        code, out, err = self.fleet.cli("ping", "--all", "--json")
        self.assertEqual(code, 0, out + err)
        self.assertEqual(sorted(r["host"] for r in json.loads(out)["hosts"]), ["h1", "h2"])
        self.assertNotIn("warning", err)   # the replica confirmed the job
        log = self.fleet.pairs["h1"].log()
        self.assertIn("master '%s' at 127.0.0.1:%d (found via 3 sentinel(s))"
                      % (sentinels.MASTER_NAME, self.s.master_port()), log)
        self.assertIn("Sentinel, master '%s' via 3 sentinel(s)" % sentinels.MASTER_NAME, log)

    def test_unconfirmed_replication_is_said(self):
        """A replica that does not confirm (stopped): the job is sent, with a warning."""
        replica = next(n for n in self.s.nodes if n.port != self.s.master_port())
        replica.proc.send_signal(19)   # SIGSTOP
        try:
            code, out, err = self.fleet.cli("ping", "--all", "--no-wait")
        finally:
            replica.proc.send_signal(18)   # SIGCONT
        self.assertEqual(code, 0, out + err)
        self.assertIn("0 of its 1 replica(s) confirmed it", err)
        self.assertIn("celeryroot job %s" % out.strip(), err)

    def failover_trial(self, n):
        """Tasks queued and in flight, then the master SIGKILLed: (seconds
        until ping --all answers, lost, duplicated, stuck)."""
        ids = [self.fleet.send_raw("h1" if i % 2 == 0 else "h2", "celeryroot.ping") for i in range(n)]
        self.s.synced()   # what is queued is on the replica: the trial measures us, not Redis's async replication
        r = self.s.client()
        harness.wait_for(lambda: r.llen("host.h1") + r.llen("host.h2") < n * 3 // 4, 60, interval=0.01)
        t0 = time.monotonic()
        old = self.s.kill_master()
        self.s.wait_failover(old.port)
        answered = None
        while time.monotonic() - t0 < 60:
            code, out, err = self.fleet.cli("ping", "--all", "--timeout", "3")
            if code == 0:
                answered = time.monotonic() - t0
                break
            time.sleep(0.2)
        r = self.s.client()
        keys = ["celery-task-meta-" + i for i in ids]

        def settled():
            return all(v is not None and b'"SUCCESS"' in v for v in r.mget(keys))
        try:
            harness.wait_for(settled, 60, interval=0.5)
        except AssertionError:
            pass
        lost = sum(1 for v in r.mget(keys) if v is None or b'"SUCCESS"' not in v)
        dup = sum(c - 1 for c in done_counts(self.fleet, ids).values() if c > 1)
        stuck = r.llen("celeryroot:taken:h1") + r.llen("celeryroot:taken:h2") + \
            r.llen("host.h1") + r.llen("host.h2")
        self.s.revive(old)
        return answered, lost, dup, stuck

    def test_master_killed_with_tasks_queued_and_in_flight(self):
        trials = harness.fault_trials()
        n = 400
        times, lost, dup, stuck = [], 0, 0, 0
        for _ in range(trials):
            answered, l, d, s = self.failover_trial(n)
            self.assertIsNotNone(answered, "ping --all did not answer within 60 s of the failover")
            times.append(answered)
            lost, dup, stuck = lost + l, dup + d, stuck + s
        times.sort()
        harness.figure("sentinel failover, master SIGKILL under %d tasks" % n, trials, tasks=n * trials,
                       lost=lost, duplicated=dup, stuck=stuck, ping_all_median_s=times[len(times) // 2],
                       ping_all_max_s=times[-1])
        self.assertEqual(lost, 0)
        self.assertEqual(stuck, 0)
        for p in self.fleet.pairs.values():
            self.assertIn("(found via 3 sentinel(s)) after", p.log())


class ChangeAcrossFailover(unittest.TestCase):
    """The case asynchronous replication makes: a change made and answered
    on the master, the answer never replicated, the master killed.  The new
    master still has the task taken: the host takes it back and priv
    answers from its change journal instead of making the change again."""

    def fleet(self, **kw):
        """The fleet under test (test_sentinel_tls: the same over TLS)."""
        return harness.Fleet({"h1": ["web"]}, broker=sentinels.SentinelBroker, **kw)

    def test_unreplicated_answer_is_redelivered_from_the_journal(self):
        harness.require_root()
        with self.fleet(packages=[{"name": "sent-app", "version": "1.0"}]) as f:
            s = f.redis
            code, out, err = f.cli("apt", "update", "--all")
            self.assertEqual(code, 0, out + err)
            replica = next(n for n in s.nodes if n.port != s.master_port())
            r = s.client()
            before = set(r.scan_iter("celery-task-meta-*"))
            net = f.pairs["h1"].net_pid()
            os.kill(net, signal.SIGSTOP)   # the task is taken (BLMOVE), not yet run
            try:
                code, out, err = f.cli("apt", "install", "sent-app", "--host", "h1", "--no-wait", "--json")
                self.assertEqual(code, 0, out + err)   # the replica confirmed the task (WAIT)
                job = json.loads(out)["job"]
                harness.wait_for(lambda: r.llen("celeryroot:taken:h1") == 1, 10, interval=0.01)
                s.sync()
                # Nothing written from now on reaches the replica: it is stopped,
                # and 64 MiB queued first fill the socket buffers, so what
                # follows stays in the master's memory and dies with it.
                replica.proc.send_signal(signal.SIGSTOP)
                r.set("celeryroot-test:ballast", b"x" * (64 << 20))
            finally:
                os.kill(net, signal.SIGCONT)
            try:
                def answered():
                    return any(b'"SUCCESS"' in (r.get(k) or b"")
                               for k in set(r.scan_iter("celery-task-meta-*")) - before)
                harness.wait_for(answered, 60, interval=0.01)
                old = s.kill_master()
            finally:
                replica.proc.send_signal(signal.SIGCONT)
            s.wait_failover(old.port)
            code, out, err = f.cli("job", job, "--wait", "--timeout", "60", "--json")
            self.assertEqual(code, 0, out + err)
            rec = json.loads(out)["hosts"][0]
            self.assertEqual(rec["status"], "changed", rec)
            # net logs "done" after the answer is committed: the CLI can see
            # the answer a moment before the line is written.
            harness.wait_for(lambda: f.pairs["h1"].log().count("(celeryroot.apt.install) done") >= 2, 10,
                             interval=0.05)
            log = f.pairs["h1"].log()
            self.assertIn("found via 3 sentinel(s)) after", log)
            self.assertEqual(log.count("(celeryroot.apt.install) done"), 2, log[-3000:])
            self.assertTrue(rec.get("redelivered"), rec)   # answered from priv's journal
            # dpkg ran once: its own log (its output goes to priv's state
            # directory, not to the pair's log).
            with open(os.path.join(f.pairs["h1"].root, "var/log/dpkg.log")) as g:
                dpkg_log = g.read()
            self.assertEqual(dpkg_log.count(" configure sent-app:"), 1, dpkg_log)


class BeatAcrossFailover(unittest.TestCase):
    """beat (on a fast test clock: an every-minute schedule fires every
    2 s) finds the new master after the old one is killed and keeps firing."""

    def test_beat_keeps_firing(self):
        harness.require_root()
        keys = tempfile.TemporaryDirectory()
        self.addCleanup(keys.cleanup)
        code, out, err = harness.cli("key", "generate", "alice", "--dir", keys.name)
        self.assertEqual(code, 0, err)
        trusted = os.path.join(keys.name, "beat-trusted")
        os.mkdir(trusted)
        shutil.copy(os.path.join(keys.name, "alice.pub"), trusted)
        with harness.Fleet({"h1": ["web"]}, broker=sentinels.SentinelBroker,
                           config={"beat.trusted_keys": trusted}) as f:
            code, out, err = f.cli("schedule", "add", "every", "--config", f.config_path,
                                   "--cron", "* * * * *", "--all", "--", "ping",
                                   env={"CELERYROOT_SIGNING_KEY": os.path.join(keys.name, "alice.key")})
            self.assertEqual(code, 0, out + err)
            real0, fake0 = time.time(), 1795132800 - 1
            env = dict(os.environ, CELERYROOT_TEST_CLOCK="%d:%f:30" % (fake0, real0),
                       CELERYROOT_BROKER_URL=f.redis.url)
            log = open(os.path.join(f.tmp, "beat.log"), "w+")
            beat = subprocess.Popen([harness.cli_path(), "beat", "--config", f.config_path],
                                    stdout=log, stderr=log, env=env)
            try:
                def fired():
                    return len(list(f.redis.client().scan_iter("celeryroot:beat:fired:every:*")))
                harness.wait_for(lambda: fired() >= 2, 20, interval=0.2)
                old = f.redis.kill_master()
                f.redis.wait_failover(old.port)
                after = fired()   # what the new master has (replicated)
                harness.wait_for(lambda: fired() >= after + 2, 40, interval=0.2)
            finally:
                beat.terminate()
                beat.wait(10)
                log.seek(0)
                text = log.read()
                log.close()
            self.assertIn("lost the broker; reconnecting", text)


if __name__ == "__main__":
    unittest.main()
