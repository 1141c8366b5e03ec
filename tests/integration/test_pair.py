"""The pair itself: net really is unprivileged and confined, priv is root,
and each half goes away cleanly when the other does."""
import json
import os
import signal
import time
import unittest

import harness


def status_fields(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.strip()
    return fields


class Pair(unittest.TestCase):
    def setUp(self):
        harness.require_root()
        self.fleet = harness.Fleet({"web01": ["webserver"]})
        self.fleet.__enter__()
        self.pair = self.fleet.pairs["web01"]

    def tearDown(self):
        self.fleet.__exit__(None, None, None)

    def test_net_is_unprivileged_and_confined(self):
        net = status_fields(self.pair.net_pid())
        self.assertEqual(net["Uid"].split(), ["65534"] * 4)
        self.assertEqual(net["Gid"].split(), ["65534"] * 4)
        self.assertEqual(net["Groups"], "")
        self.assertEqual(int(net["CapEff"], 16), 0)
        self.assertEqual(int(net["CapPrm"], 16), 0)
        self.assertEqual(int(net["CapBnd"], 16), 0)
        self.assertEqual(net["NoNewPrivs"], "1")
        self.assertEqual(net["Seccomp"], "2")
        priv = status_fields(self.pair.pid)
        self.assertEqual(priv["Uid"].split()[0], "0")
        self.assertEqual(priv["Seccomp"], "2")   # the denylist
        with open("/proc/%d/comm" % self.pair.pid) as f:
            self.assertEqual(f.read().strip(), "celeryroot-priv")

    def test_sigterm_stops_both_and_marks_host_stopped(self):
        net = self.pair.net_pid()
        rc = self.pair.stop()
        self.assertEqual(rc, 0, self.pair.log())
        self.assertFalse(os.path.exists("/proc/%d" % net))
        rec = json.loads(self.fleet.redis.client().get("celeryroot:host:web01"))
        self.assertEqual(rec["state"], "stopped")

    def test_priv_exits_when_net_dies(self):
        os.kill(self.pair.net_pid(), signal.SIGKILL)
        rc = self.pair.wait(10)
        self.assertNotEqual(rc, 0)   # abnormal: systemd restarts the pair

    def test_net_exits_when_priv_dies(self):
        net = self.pair.net_pid()
        os.kill(self.pair.pid, signal.SIGKILL)
        self.pair.wait(10)
        harness.wait_for(lambda: not os.path.exists("/proc/%d" % net) or
                         open("/proc/%d/stat" % net).read().split()[2] == "Z", 10)

    def test_sigterm_during_a_task_finishes_it(self):
        r = self.fleet.redis.client()
        job = self.fleet.send_raw("web01", "celeryroot.ping", kwargs={"hold": 30})
        harness.wait_for(lambda: b"STARTED" in (r.get("celery-task-meta-" + job) or b""), 20)
        self.assertEqual(self.pair.stop(), 0, self.pair.log())
        meta = json.loads(r.get("celery-task-meta-" + job))
        self.assertEqual(meta["status"], "SUCCESS")
        self.assertEqual(r.llen("celeryroot:taken:web01"), 0)


if __name__ == "__main__":
    unittest.main()
