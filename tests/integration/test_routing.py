"""Three real pairs on sandbox hosts: registry, fan-out and every TARGET form."""
import json
import unittest

import harness


class Routing(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.fleet = harness.Fleet({"web01": ["webserver"], "web02": ["webserver", "edge"],
                                   "db01": ["database"]})
        cls.fleet.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.fleet.__exit__(None, None, None)

    def run_json(self, *args, rc=0):
        code, out, err = self.fleet.cli(*args, "--json")
        self.assertEqual(code, rc, err)
        return json.loads(out)

    def answered(self, doc):
        return sorted(r["host"] for r in doc["hosts"] if r["status"] == "unchanged")

    def test_hosts_lists_all_with_roles(self):
        doc = self.run_json("hosts")
        hosts = {h["hostname"]: h for h in doc["hosts"]}
        self.assertEqual(sorted(hosts), ["db01", "web01", "web02"])
        self.assertEqual(hosts["web02"]["roles"], ["webserver", "edge"])
        self.assertTrue(all(h["online"] for h in hosts.values()))
        self.assertTrue(all(h["os"] for h in hosts.values()), hosts)

    def test_ping_role_answers_from_exactly_that_role(self):
        doc = self.run_json("ping", "--role", "webserver")
        self.assertEqual(doc["operation"], "ping")
        self.assertEqual(self.answered(doc), ["web01", "web02"])
        for rec in doc["hosts"]:
            for key in ("host", "status", "changed", "changes", "error", "rollback", "duration_s"):
                self.assertIn(key, rec)
            self.assertFalse(rec["changed"])
            self.assertEqual(rec["data"]["host"], rec["host"])
            self.assertIn("webserver", rec["data"]["roles"])

    def test_ping_host_and_all(self):
        self.assertEqual(self.answered(self.run_json("ping", "--host", "db01")), ["db01"])
        self.assertEqual(self.answered(self.run_json("ping", "--all")), ["db01", "web01", "web02"])
        # Union of a role and a host, each host once.
        doc = self.run_json("ping", "--role", "edge", "--host", "web02", "--host", "db01")
        self.assertEqual([r["host"] for r in doc["hosts"]], ["db01", "web02"])

    def test_one_of_goes_through_the_role_queue(self):
        doc = self.run_json("ping", "--one-of", "webserver")
        self.assertEqual(len(doc["hosts"]), 1)
        self.assertIn(doc["hosts"][0]["host"], ("web01", "web02"))
        self.assertEqual(doc["hosts"][0]["status"], "unchanged")

    def test_facts_read_from_the_sandbox_root(self):
        doc = self.run_json("facts", "--role", "database")
        rec = doc["hosts"][0]
        self.assertEqual(rec["host"], "db01")
        data = rec["data"]
        self.assertEqual(data["installed_packages"], 0)
        self.assertTrue(data["os_pretty"])
        self.assertTrue(data["kernel"])
        self.assertGreater(data["uptime_s"], 0)
        self.assertIsNone(data["apt_lists_age_s"])   # never updated

    def test_job_is_kept_and_rereadable(self):
        code, out, err = self.fleet.cli("ping", "--all", "--no-wait")
        self.assertEqual(code, 0, err)
        job = out.strip()
        doc = self.run_json("job", job, "--wait", "--timeout", "20")
        self.assertEqual(doc["job"], job)
        self.assertEqual(self.answered(doc), ["db01", "web01", "web02"])
        jobs = self.run_json("jobs")["jobs"]
        self.assertIn(job, [j["job"] for j in jobs])
        ttl = self.fleet.redis.client().ttl("celeryroot:job:" + job)
        self.assertGreater(ttl, 29 * 86400)

    def test_table_output_for_people(self):
        code, out, err = self.fleet.cli("ping", "--all")
        self.assertEqual(code, 0, err)
        self.assertIn("HOST", out.splitlines()[0])
        self.assertIn("3 hosts: 3 unchanged", out)


if __name__ == "__main__":
    unittest.main()
