"""'celeryroot job ID' for a task a host started and has not finished: it
says how long it has been running while the host is online, and that it was
interrupted (and runs again when the host returns) once the host is gone,
never "timeout 0.000s".  The JSON record keeps status "timeout" (contract)
and adds running, since, running_s, host_state, interrupted, redelivery."""
import json
import time
import unittest

import clifault
import harness


def one_record(out):
    doc = json.loads(out)
    assert len(doc["hosts"]) == 1, doc
    return doc["hosts"][0]


class JobRunning(unittest.TestCase):
    def setUp(self):
        harness.require_root()
        self.fleet = harness.Fleet({"web01": ["webserver"], "db01": ["database"]})
        self.fleet.__enter__()
        self.r = self.fleet.redis.client()

    def tearDown(self):
        self.fleet.__exit__(None, None, None)

    def started(self, task_id):
        harness.wait_for(lambda: clifault.meta_status(self.r, task_id) == "STARTED", 30)

    def test_running_then_interrupted(self):
        job, task = clifault.send_job(self.fleet, "web01", kwargs={"hold": 120})
        self.started(task)
        time.sleep(1.2)   # so that "running for" has a second to show

        code, out, err = self.fleet.cli("job", job, "--json")
        self.assertEqual(code, 3, err)
        rec = one_record(out)
        self.assertEqual(rec["status"], "timeout")
        self.assertIs(rec["running"], True)
        self.assertEqual(rec["host_state"], "online")
        self.assertNotIn("interrupted", rec)
        self.assertNotIn("redelivery", rec)
        self.assertGreaterEqual(rec["running_s"], 1.0)
        self.assertEqual(rec["duration_s"], rec["running_s"])
        self.assertRegex(rec["since"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
        # The daemon says when it started the task; "since" is that time.
        started = json.loads(self.r.get("celery-task-meta-" + task))["result"]["started"]
        self.assertEqual(rec["since"][:19], started[:19])

        code, out, err = self.fleet.cli("job", job)
        self.assertEqual(code, 3, err)
        row = [l for l in out.splitlines() if l.startswith("web01")][0]
        self.assertRegex(row, r"timeout\s+\d+\.\d{3}s  running for \d+s$")
        self.assertNotIn(" 0.000s", row)

        # The host dies under the task: nothing acks it, nothing heartbeats.
        self.fleet.pairs["web01"].kill()
        harness.wait_for(lambda: json.loads(self.fleet.cli("job", job, "--json")[1])["hosts"][0]
                         .get("host_state") == "offline", 30, interval=0.5)
        code, out, err = self.fleet.cli("job", job, "--json")
        self.assertEqual(code, 3, err)
        rec = one_record(out)
        self.assertEqual(rec["status"], "timeout")
        self.assertIs(rec["running"], True)
        self.assertIs(rec["interrupted"], True)
        self.assertEqual(rec["redelivery"], "when web01 returns")
        code, out, err = self.fleet.cli("job", job)
        self.assertIn("interrupted: web01 went offline while running it; it runs again when web01 returns", out)

        # A host that says it stopped is "stopped", and interrupted as well.
        host = json.loads(self.r.get("celeryroot:host:web01"))
        host["state"] = "stopped"
        self.r.set("celeryroot:host:web01", json.dumps(host))
        rec = one_record(self.fleet.cli("job", job, "--json")[1])
        self.assertEqual(rec["host_state"], "stopped")
        self.assertIs(rec["interrupted"], True)

    def test_waiting_for_a_running_task_reports_it_running(self):
        job, task = clifault.send_job(self.fleet, "db01", kwargs={"hold": 120})
        self.started(task)
        code, out, err = self.fleet.cli("job", job, "--wait", "--timeout", "2", "--json")
        self.assertEqual(code, 3, err)
        rec = one_record(out)
        self.assertEqual(rec["status"], "timeout")
        self.assertEqual(rec["host_state"], "online")
        self.assertGreaterEqual(rec["running_s"], 2.0)

    def test_never_started_on_an_offline_host_is_queued_offline(self):
        self.fleet.pairs["db01"].stop()
        job, task = clifault.send_job(self.fleet, "db01")
        code, out, err = self.fleet.cli("job", job, "--json")
        self.assertEqual(code, 3, err)
        rec = one_record(out)
        self.assertEqual(rec["status"], "queued")
        self.assertIs(rec["offline"], True)
        self.assertNotIn("running", rec)
        code, out, err = self.fleet.cli("job", job)
        self.assertIn("host offline: the task waits in its queue", out)


if __name__ == "__main__":
    unittest.main()
