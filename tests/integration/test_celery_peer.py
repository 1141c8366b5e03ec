"""Debian's python3-celery as the real peer: it drives our workers, and reads
the results our CLI's tasks produce."""
import base64
import datetime
import json
import subprocess
import unittest
import uuid

import harness
from celery import Celery
from celery.exceptions import NotRegistered, TaskRevokedError


class CeleryPeer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.fleet = harness.Fleet({"web01": ["webserver"], "db01": ["database"]})
        cls.fleet.__enter__()
        url = cls.fleet.redis.url
        cls.app = Celery("peer", broker=url, backend=url)
        cls.app.conf.update(task_serializer="json", result_serializer="json",
                            accept_content=["json"], broker_connection_retry_on_startup=False)

    @classmethod
    def tearDownClass(cls):
        cls.app.close()
        cls.fleet.__exit__(None, None, None)

    def test_send_task_to_host_queue(self):
        res = self.app.send_task("celeryroot.ping", queue="host.web01")
        rec = res.get(timeout=20)
        self.assertEqual(rec["host"], "web01")
        self.assertEqual(rec["status"], "unchanged")
        self.assertEqual(rec["data"]["roles"], ["webserver"])
        self.assertEqual(res.state, "SUCCESS")

    def test_send_task_to_role_queue(self):
        rec = self.app.send_task("celeryroot.facts", queue="role.database").get(timeout=20)
        self.assertEqual(rec["host"], "db01")
        self.assertIn("installed_packages", rec["data"])

    def test_cli_task_read_with_asyncresult(self):
        code, out, err = self.fleet.cli("ping", "--host", "db01", "--json")
        self.assertEqual(code, 0, err)
        doc = json.loads(out)
        job = self.fleet.redis.client().get("celeryroot:job:" + doc["job"])
        task_id = json.loads(job)["tasks"][0]["task_id"]
        res = self.app.AsyncResult(task_id)
        self.assertEqual(res.state, "SUCCESS")
        self.assertEqual(res.get(timeout=5)["host"], "db01")

    def test_priority_sub_lists_are_consumed(self):
        # kombu puts priority 9 on "host.web01\x06\x169"; the worker must serve it.
        task_id = self.fleet.send_raw("web01", "celeryroot.ping", priority_suffix="\x06\x169")
        meta = harness.wait_for(lambda: b"SUCCESS" in (self.fleet.redis.client().get("celery-task-meta-" + task_id) or b""), 20)
        self.assertTrue(meta)
        res = self.app.send_task("celeryroot.ping", queue="host.db01", priority=6)
        self.assertEqual(res.get(timeout=20)["host"], "db01")

    def test_unknown_task_is_a_failure_not_a_crash(self):
        res = self.app.send_task("celeryroot.no.such.task", queue="host.web01")
        with self.assertRaises(NotRegistered):
            res.get(timeout=20)
        self.assertEqual(self.app.send_task("celeryroot.ping", queue="host.web01").get(timeout=20)["host"], "web01")

    def test_expired_task_is_not_run(self):
        past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
        res = self.app.send_task("celeryroot.ping", queue="host.db01", expires=past)
        with self.assertRaises(TaskRevokedError):
            res.get(timeout=20)

    def test_bad_arguments_refused(self):
        res = self.app.send_task("celeryroot.ping", queue="host.web01", kwargs={"hold": "x; rm -rf /"})
        with self.assertRaises(ValueError):
            res.get(timeout=20)

    def test_non_json_messages_refused(self):
        r = self.fleet.redis.client()
        r.lpush("host.web01", b"\x80\x04not json at all")
        task_id = str(uuid.uuid4())
        env = json.loads(open(harness.wire_sample()).read())
        env["headers"]["id"] = task_id
        env["headers"]["task"] = "celeryroot.ping"
        env["content-type"] = "application/x-python-serialize"
        env["body"] = base64.b64encode(b"\x80\x04K\x01.").decode()
        r.lpush("host.web01", json.dumps(env))
        meta = harness.wait_for(lambda: r.get("celery-task-meta-" + task_id), 20)
        meta = json.loads(meta)
        self.assertEqual(meta["status"], "FAILURE")
        self.assertEqual(meta["result"]["exc_type"], "ValueError")
        # The worker is still there and nothing is left behind.
        self.assertEqual(self.app.send_task("celeryroot.ping", queue="host.web01").get(timeout=20)["host"], "web01")
        self.assertEqual(r.llen("host.web01"), 0)
        # The result and the removal from the taken list are one transaction.
        self.assertEqual(r.llen("celeryroot:taken:web01"), 0)


if __name__ == "__main__":
    unittest.main()
