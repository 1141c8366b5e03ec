"""Debian's `celery beat`, configured with contrib/celerybeat_celeryroot.py,
schedules celeryroot tasks onto host queues and the daemons run them —
also on hosts that require signed tasks, signed by the module's hook."""
import json
import os
import subprocess
import tempfile
import time
import unittest

import harness

CONTRIB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "contrib")
SCHEDULE = {
    "ping-web01": {"task": "celeryroot.ping", "schedule": 1.0, "options": {"queue": "host.web01", "expires": 30}},
    "facts-web01": {"task": "celeryroot.facts", "schedule": 1.5, "options": {"queue": "host.web01", "expires": 30}},
}


class CeleryBeat(unittest.TestCase):
    def run_beat(self, fleet, tmp, env=None):
        path = os.path.join(tmp, "schedule.json")
        with open(path, "w") as f:
            json.dump(SCHEDULE, f)
        full = dict(os.environ, CELERYROOT_BROKER_URL=fleet.redis.url, CELERYROOT_BEAT_SCHEDULE_JSON=path,
                    **(env or {}))
        return subprocess.Popen(["/usr/bin/python3", "-m", "celery", "-A", "celerybeat_celeryroot", "beat",
                                 "-s", os.path.join(tmp, "beat-state"), "--loglevel", "INFO"],
                                cwd=CONTRIB, env=full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def results(self, fleet):
        r = fleet.redis.client()
        out = []
        for key in r.keys("celery-task-meta-*"):
            meta = json.loads(r.get(key))
            if meta["status"] in ("SUCCESS", "FAILURE"):
                out.append(meta)
        return out

    def drive(self, config=None, env=None):
        with tempfile.TemporaryDirectory() as tmp, harness.Fleet({"web01": ["webserver"]}, config=config) as fleet:
            beat = self.run_beat(fleet, tmp, env)
            try:
                def enough():
                    done = [m for m in self.results(fleet) if m["status"] == "SUCCESS"]
                    facts = [m for m in done if "kernel" in (m["result"].get("data") or {})]
                    return len(facts) >= 2 and len(done) - len(facts) >= 2
                harness.wait_for(enough, 40)
            finally:
                beat.terminate()
                _, err = beat.communicate(timeout=20)
            done = self.results(fleet)
            self.assertTrue(done, err.decode()[-2000:])
            for meta in done:
                self.assertEqual(meta["status"], "SUCCESS", meta)
                self.assertEqual(meta["result"]["host"], "web01")
            kinds = {("kernel" in m["result"]["data"]) for m in done}
            self.assertEqual(kinds, {True, False}, "both the ping and the facts entries ran")

    def test_celery_beat_drives_a_daemon(self):
        harness.require_root()
        self.drive()

    def test_celery_beat_signs_for_hosts_that_require_it(self):
        harness.require_root()
        with tempfile.TemporaryDirectory() as keys:
            trusted, keyfile = harness.trusted_key(keys, "beat")
            self.drive(config={"trusted_keys": trusted, "require_signed": "true"},
                       env={"CELERYROOT_SIGNING_KEY": keyfile})


if __name__ == "__main__":
    unittest.main()
