"""net's own faults, with real Redis and real pairs: a stop request in every
state (idle, reconnecting, refused by the broker), either half of the pair
dying, floods of garbage, messages too big, and a broker that accepts and
drops every connection.  Logs stay bounded, nothing hangs, nothing is lost.

Each fault repeats harness.fault_trials() times and logs a FIGURE line."""
import base64
import json
import os
import signal
import time
import unittest
import uuid

import harness
import netfaults


def envelope(task_id, body_size=0):
    body = base64.b64encode(json.dumps([[], {"pad": "x" * body_size}, {}]).encode()).decode()
    return json.dumps({"body": body, "content-encoding": "utf-8", "content-type": "application/json",
                       "headers": {"lang": "py", "task": "celeryroot.ping", "id": task_id, "root_id": task_id,
                                   "retries": 0, "timelimit": [None, None]},
                       "properties": {"correlation_id": task_id, "delivery_mode": 2,
                                      "delivery_info": {"exchange": "", "routing_key": "host.h1"},
                                      "priority": 0, "body_encoding": "base64",
                                      "delivery_tag": str(uuid.uuid4())}})


class Stops(unittest.TestCase):
    def setUp(self):
        harness.require_root()
        self.fleet = harness.Fleet({"h1": ["web"]})
        self.fleet.__enter__()
        self.pair = self.fleet.pairs["h1"]

    def tearDown(self):
        self.fleet.__exit__(None, None, None)

    def stop_time(self):
        self.pair.proc.terminate()
        return netfaults.wait_exit(self.pair.proc, 20)

    def restart(self, url=None):
        if url:
            self.pair.redis_url = url
        self.pair.start()

    def test_stop_in_every_state(self):
        trials = harness.fault_trials()
        worst = {"idle": 0.0, "reconnecting": 0.0, "refused": 0.0}
        admin = self.fleet.redis.client()
        admin.execute_command("ACL", "SETUSER", "refused", "on", ">pw", "-@all")
        refused_url = "redis://refused:pw@127.0.0.1:%d/0" % self.fleet.redis.port
        for _ in range(trials):
            # idle
            self.fleet.wait_registered(["h1"])
            took = self.stop_time()
            self.assertIsNotNone(took)
            worst["idle"] = max(worst["idle"], took)
            # reconnecting: the broker is gone
            self.fleet.redis.stop()
            before = self.pair.log().count("broker link down")
            self.restart()
            harness.wait_for(lambda: self.pair.log().count("broker link down") > before, 20)
            took = self.stop_time()
            self.assertIsNotNone(took, "the pair did not stop while reconnecting")
            worst["reconnecting"] = max(worst["reconnecting"], took)
            self.fleet.redis.start()
            admin = self.fleet.redis.client()
            admin.execute_command("ACL", "SETUSER", "refused", "on", ">pw", "-@all")
            # refused: the broker takes the password and refuses every command
            before = self.pair.log().count("NOPERM")
            self.restart(refused_url)
            harness.wait_for(lambda: self.pair.log().count("NOPERM") > before, 20)
            time.sleep(3)   # several refused attempts
            took = self.stop_time()
            self.assertIsNotNone(took, "the pair did not stop while refused")
            worst["refused"] = max(worst["refused"], took)
            self.restart(self.fleet.redis.url)
        harness.figure("SIGTERM to priv, pair exit", trials, idle_max_s=worst["idle"],
                       reconnecting_max_s=worst["reconnecting"], refused_max_s=worst["refused"])
        for state, t in worst.items():
            self.assertLessEqual(t, 2.0, "stop took %.2f s when %s" % (t, state))
        # Refused over and over: one line per change of reason, not one per try.
        self.assertLessEqual(self.pair.log().count("broker link down: NOPERM"), trials * 2)

    def test_either_half_dying_ends_the_other(self):
        trials = harness.fault_trials()
        net_gone, priv_gone = [], []
        for _ in range(trials):
            self.fleet.wait_registered(["h1"])
            net = self.pair.net_pid()
            os.kill(self.pair.pid, signal.SIGKILL)      # priv
            took = netfaults.wait_pid_gone(net, 10)
            self.assertIsNotNone(took, "net outlived priv")
            net_gone.append(took)
            self.pair.proc.wait(5)
            self.restart()
            self.fleet.wait_registered(["h1"])
            os.kill(self.pair.net_pid(), signal.SIGKILL)
            took = netfaults.wait_exit(self.pair.proc, 10)
            self.assertIsNotNone(took, "priv outlived net")
            priv_gone.append(took)
            self.restart()
        harness.figure("one half of the pair killed", trials, net_after_priv_max_s=max(net_gone),
                       priv_after_net_max_s=max(priv_gone))
        self.assertLessEqual(max(net_gone), 2.0)
        self.assertLessEqual(max(priv_gone), 2.0)


class Floods(unittest.TestCase):
    def setUp(self):
        harness.require_root()
        self.fleet = harness.Fleet({"h1": ["web"]})
        self.fleet.__enter__()
        self.pair = self.fleet.pairs["h1"]
        self.r = self.fleet.redis.client()

    def tearDown(self):
        self.fleet.__exit__(None, None, None)

    def drained(self):
        return self.r.llen("host.h1") == 0 and self.r.llen("celeryroot:taken:h1") == 0

    def test_garbage_flood_is_counted_not_logged_line_by_line(self):
        n = 10000 if harness.fault_trials() == 1 else 100000
        lines_before = len(self.pair.log().splitlines())
        t0 = time.monotonic()
        with self.r.pipeline(transaction=False) as p:
            for i in range(n):
                p.lpush("host.h1", "garbage %d" % i)
                if i % 5000 == 4999:
                    p.execute()
            p.execute()
        harness.wait_for(self.drained, 300, interval=0.5)
        took = time.monotonic() - t0
        time.sleep(harness.wait_for(lambda: 1, 1))
        lines = len(self.pair.log().splitlines()) - lines_before
        code, out, err = self.fleet.cli("ping", "--host", "h1", "--json")
        harness.figure("garbage flood", 1, messages=n, log_lines=lines, seconds=took)
        self.assertEqual(code, 0, err)
        self.assertLess(lines, 60, "refusals flooded the log")

    def test_too_big_is_answered_or_discarded(self):
        # Over the 1 MiB a task may be: refused, and the sender hears why.
        tid = str(uuid.uuid4())
        self.r.lpush("host.h1", envelope(tid, 2 * 1024 * 1024))
        meta = harness.wait_for(lambda: self.r.get("celery-task-meta-" + tid), 30)
        meta = json.loads(meta)
        self.assertEqual(meta["status"], "FAILURE")
        self.assertIn("larger than the 1048576 bytes", meta["result"]["exc_message"][0])
        # Over what net reads at all (16 MiB): discarded with a line in the
        # log; the host goes on.
        big = str(uuid.uuid4())
        self.r.lpush("host.h1", envelope(big, 20 * 1024 * 1024))
        harness.wait_for(lambda: "discarded a message larger than 16 MiB" in self.pair.log(), 60)
        harness.wait_for(self.drained, 30)
        self.assertIsNone(self.r.get("celery-task-meta-" + big))
        code, out, err = self.fleet.cli("ping", "--host", "h1", "--json")
        self.assertEqual(code, 0, err)


class BackendDown(netfaults.ProxiedCase):
    """A proxy whose backend is gone: every connection accepted, then closed."""

    def test_backoff_and_one_line_per_state(self):
        before_lines = self.pair.log().count("broker link down")
        self.proxy.refuse()
        self.proxy.reset()
        accepted0 = self.proxy.accepted
        time.sleep(20)
        attempts = self.proxy.accepted - accepted0
        lines = self.pair.log().count("broker link down") - before_lines
        connected = self.pair.log().count("connected to the broker")
        self.proxy.heal()
        harness.wait_for(lambda: self.pair.log().count("connected to the broker") > connected, 60)
        code, out, err = self.fleet.cli("ping", "--host", "h1", "--json", "--timeout", "60")
        harness.figure("proxy with its backend down, 20 s", 1, connection_attempts=attempts, log_lines=lines)
        self.assertEqual(code, 0, err + out + self.pair.log()[-3000:])
        # 0.5 s doubling to 30 s (with jitter): about 6 attempts in 20 s, not 160.
        self.assertLessEqual(attempts, 12)
        self.assertLessEqual(lines, 4)
        self.assertIn("connected to the broker", self.pair.log())


if __name__ == "__main__":
    unittest.main()
