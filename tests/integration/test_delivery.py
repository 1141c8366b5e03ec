"""At-least-once delivery: offline hosts keep their tasks, a killed pair's
task is taken back as soon as the pair starts again, and a dead broker is a
clear error, not a hang."""
import json
import os
import time
import unittest

import harness


class Delivery(unittest.TestCase):
    def setUp(self):
        harness.require_root()
        self.fleet = harness.Fleet({"web01": ["webserver"], "db01": ["database"]})
        self.fleet.__enter__()

    def tearDown(self):
        self.fleet.__exit__(None, None, None)

    def test_stopped_pair_is_queued_then_answers(self):
        self.fleet.pairs["db01"].stop()
        code, out, err = self.fleet.cli("ping", "--all", "--timeout", "3", "--json")
        self.assertEqual(code, 3, err)
        doc = json.loads(out)
        status = {r["host"]: r["status"] for r in doc["hosts"]}
        self.assertEqual(status, {"db01": "queued", "web01": "unchanged"})
        self.assertEqual(self.fleet.redis.client().llen("host.db01"), 1)
        self.fleet.pairs["db01"].start()
        code, out, err = self.fleet.cli("job", doc["job"], "--wait", "--timeout", "20", "--json")
        self.assertEqual(code, 0, err)
        status = {r["host"]: r["status"] for r in json.loads(out)["hosts"]}
        self.assertEqual(status, {"db01": "unchanged", "web01": "unchanged"})

    def test_killed_pair_task_is_redelivered_once(self):
        r = self.fleet.redis.client()
        ps = r.pubsub()
        code, out, err = self.fleet.cli("ping", "--host", "web01", "--no-wait")
        self.assertEqual(code, 0, err)
        # That first job is answered and acked before the second starts, so
        # that the kill leaves only the second one unacked (under valgrind
        # the first can still be in hand otherwise).
        code, _, err = self.fleet.cli("job", out.strip(), "--wait", "--timeout", "20")
        self.assertEqual(code, 0, err)
        harness.wait_for(lambda: r.llen("celeryroot:taken:web01") == 0, 10)
        # A second job whose task holds for 2 s, long enough to kill the pair under it.
        job = self.fleet.send_raw("web01", "celeryroot.ping", kwargs={"hold": 2})
        ps.subscribe("celery-task-meta-" + job)
        harness.wait_for(lambda: (r.get("celery-task-meta-" + job) or b"").find(b"STARTED") >= 0, 20)
        self.fleet.pairs["web01"].kill()
        # The message is in the host's own taken list, nowhere else.
        self.assertEqual(r.llen("celeryroot:taken:web01"), 1)
        self.assertEqual(r.llen("host.web01"), 0)
        self.assertIsNone(r.get("celery-task-meta-" + job + "-never"))
        self.fleet.pairs["web01"].start()
        meta = harness.wait_for(lambda: b"SUCCESS" in (r.get("celery-task-meta-" + job) or b"") and r.get("celery-task-meta-" + job), 30)
        self.assertEqual(json.loads(meta)["result"]["host"], "web01")
        time.sleep(3)   # nothing runs it again
        successes = 0
        while True:
            m = ps.get_message(timeout=0.1)
            if m is None:
                break
            if m["type"] == "message" and b'"SUCCESS"' in m["data"]:
                successes += 1
        self.assertEqual(successes, 1)
        self.assertEqual(r.llen("celeryroot:taken:web01"), 0)
        self.assertEqual(r.llen("host.web01"), 0)
        # Nothing of kombu's shared bookkeeping is used.
        self.assertFalse(r.exists("unacked", "unacked_index", "unacked_mutex"))

    def test_heartbeat_continues_during_a_long_task(self):
        r = self.fleet.redis.client()
        job = self.fleet.send_raw("db01", "celeryroot.ping", kwargs={"hold": 4})
        harness.wait_for(lambda: b"STARTED" in (r.get("celery-task-meta-" + job) or b""), 20)
        first = json.loads(r.get("celeryroot:host:db01"))["last_seen"]
        time.sleep(2.5)
        second = json.loads(r.get("celeryroot:host:db01"))["last_seen"]
        self.assertGreater(second, first + 1)
        self.assertIn(b"STARTED", r.get("celery-task-meta-" + job))   # still running

    def test_broker_down_is_a_clear_error(self):
        self.fleet.redis.stop()
        t0 = time.monotonic()
        code, out, err = self.fleet.cli("ping", "--all")
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(code, 4)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("broker", err)
        # The daemons keep trying and come back when Redis does: this Redis
        # restarts empty, so they must register again by themselves.
        self.fleet.redis.start()
        self.fleet.wait_registered(["web01", "db01"], timeout=40)
        code, out, err = self.fleet.cli("ping", "--all", "--timeout", "30", "--json")
        self.assertEqual(code, 0, err)


if __name__ == "__main__":
    unittest.main()
