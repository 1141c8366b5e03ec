"""Results are shown as a host's outcome only when that host signed them.

Stand-in hosts (registry records with a host key; their answers built and
signed with PyNaCl exactly as issue 12 fixes the format) take the tasks
the real CLI pushes through a real Redis; real pairs answer alongside.
Forged, unsigned, replayed, mis-addressed and re-keyed results are shown
failed and "forged" and make the exit code 2; honest ones pass; known_hosts
learns keys on first use, refuses a changed key loudly, and 'hosts trust'
and 'hosts forget' change it.  Run without CELERYROOT_UNSIGNED_HOSTS (the
rule itself), except where that switch is the subject."""
import json
import os
import stat
import subprocess
import threading
import unittest

import harness
import hostsig


def altered(h, task, job):
    """Signed as failed, its payload then rewritten to say unchanged."""
    res = hostsig.attest(h.key, hostsig.record(h.name, task, job, status="failed"))
    res["attest"]["payload"] = hostsig.canonical(hostsig.record(h.name, task, job))
    res["status"] = "unchanged"
    return res


class Verify(unittest.TestCase):
    maxDiff = None
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.fleet = harness.Fleet({"web01": ["webserver"]})
        cls.fleet.__enter__()
        cls.r = cls.fleet.redis.client()

    @classmethod
    def tearDownClass(cls):
        cls.fleet.__exit__(None, None, None)

    def setUp(self):
        self.kh = os.path.join(self.fleet.tmp, "kh-" + self.id().rsplit(".", 1)[1])
        self.env = {"CELERYROOT_KNOWN_HOSTS": self.kh, "CELERYROOT_UNSIGNED_HOSTS": ""}
        self.hosts = []

    def tearDown(self):
        for h in self.hosts:
            h.forget()

    def host(self, name, roles=("signers",), **kw):
        h = hostsig.SigningHost(self.r, name, roles, **kw)
        self.hosts.append(h)
        return h

    def cli(self, *args, env=None):
        return self.fleet.cli(*args, env=dict(self.env, **(env or {})))

    def ask(self, args, respond, env=None):
        """Runs 'celeryroot ARGS --json' while respond(task_id, job_id) answers
        as the host; (exit code, the one record, stderr)."""
        p = subprocess.Popen([harness.cli_path()] + list(args) + ["--json", "--timeout", "20"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, CELERYROOT_BROKER_URL=self.fleet.redis.url,
                                      **dict(self.env, **(env or {}))))
        errors = []

        def serve():
            try:
                respond()
            except Exception as e:   # reported below, not lost in the thread
                errors.append(e)
        t = threading.Thread(target=serve)
        t.start()
        out, err = p.communicate(timeout=60)
        t.join(30)
        if errors:
            raise errors[0]
        doc = json.loads(out)
        self.assertEqual(len(doc["hosts"]), 1, out)
        return p.returncode, doc["hosts"][0], err, doc["job"]

    def known(self):
        with open(self.kh) as f:
            return [line.split() for line in f if line.strip() and not line.startswith("#")]

    # ---- honest ------------------------------------------------------------------

    def test_signed_result_is_shown_and_key_learnt_on_first_use(self):
        h = self.host("sig01")

        def respond():
            task, job, name, _, _ = h.take()
            self.assertEqual(name, "celeryroot.ping")
            rec = hostsig.record("sig01", task, job, data={"roles": ["signers"], "version": "0.9"})
            h.answer(task, hostsig.attest(h.key, rec, duration=0.5))
        code, rec, err, job = self.ask(["ping", "--host", "sig01"], respond)
        self.assertEqual(code, 0, err)
        self.assertEqual(rec["status"], "unchanged")
        self.assertEqual(rec["host"], "sig01")
        self.assertEqual(rec["duration_s"], 0.5)
        self.assertNotIn("forged", rec)
        self.assertNotIn("attest", rec)
        self.assertIn("sig01: new host, key %s recorded" % h.key.fingerprint, err)
        self.assertEqual(self.known(), [["sig01", "ed25519", h.key.b64]])
        self.assertEqual(stat.S_IMODE(os.stat(self.kh).st_mode), 0o600)
        # Read back later, checked again.
        code, out, err = self.cli("job", job, "--json")
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out)["hosts"][0]["status"], "unchanged")
        # A second run says nothing new.
        code, rec, err, _ = self.ask(["ping", "--host", "sig01"], lambda: (lambda t: h.answer(
            t[0], hostsig.attest(h.key, hostsig.record("sig01", t[0], t[1]))))(h.take()))
        self.assertEqual((code, err), (0, ""))

    def test_the_payload_is_the_record_not_the_fields_around_it(self):
        h = self.host("sig02")

        def respond():
            task, job, _, _, _ = h.take()
            res = hostsig.attest(h.key, hostsig.record("sig02", task, job, status="failed", error="dpkg said no"))
            res.update(status="changed", changed=True, error=None)   # what a Redis writer says around it
            h.answer(task, res)
        code, rec, err, _ = self.ask(["ping", "--host", "sig02"], respond)
        self.assertEqual(code, 2, err)
        self.assertEqual((rec["status"], rec["changed"], rec["error"]), ("failed", False, "dpkg said no"))

    def test_signed_deferral(self):
        h = self.host("sig03")

        def respond():
            task, job, _, _, _ = h.take()
            rec = hostsig.record("sig03", task, job, status="deferred", run_at="2026-11-23T02:00:00Z",
                                 reason="outside its maintenance windows")
            h.answer(task, hostsig.attest(h.key, rec), state="DEFERRED")
        code, rec, err, _ = self.ask(["ping", "--host", "sig03"], respond)
        self.assertEqual(code, 3, err)
        self.assertEqual(rec["status"], "deferred")
        self.assertEqual(rec["run_at"], "2026-11-23T02:00:00Z")

    def test_one_of_is_checked_with_the_key_of_the_host_that_answered(self):
        a = self.host("sig04", roles=("pool",))
        b = self.host("sig05", roles=("pool",))
        for signer, claimed, ok in ((a, "sig04", True), (a, "sig05", False)):
            with self.subTest(signer=signer.name, claimed=claimed):
                def respond():
                    task, job, _, _, _ = a.take(queue="role.pool")
                    res = hostsig.attest(signer.key, hostsig.record(claimed, task, job))
                    a.answer(task, res)
                code, rec, err, _ = self.ask(["ping", "--one-of", "pool"], respond)
                self.assertEqual(code, 0 if ok else 2, err)
                self.assertEqual(rec.get("forged", False), not ok, rec)
                if ok:
                    self.assertEqual(rec["host"], "sig04")
        self.assertEqual(b.name, "sig05")

    # ---- forged ------------------------------------------------------------------

    def forged_case(self, name, make, why):
        h = self.host(name)

        def respond():
            task, job, _, _, _ = h.take()
            h.answer(task, make(h, task, job))
        code, rec, err, job = self.ask(["ping", "--host", name], respond)
        self.assertEqual(code, 2, err)
        self.assertEqual(rec["status"], "failed")
        self.assertTrue(rec["forged"])
        self.assertIn("not shown as %s's outcome" % name, rec["error"])
        self.assertIn(why, rec["error"])
        return job

    def test_forged_results_are_failed(self):
        other = hostsig.HostKey()
        cases = {
            "unsigned": (lambda h, t, j: hostsig.record(h.name, t, j), "carries no attest"),
            "another key": (lambda h, t, j: hostsig.attest(other, hostsig.record(h.name, t, j)), "bad signature"),
            "payload altered": (altered, "bad signature"),
            "another task's result": (lambda h, t, j: hostsig.attest(h.key, hostsig.record(h.name, "t-old", j)),
                                      "another task"),
            "another job": (lambda h, t, j: hostsig.attest(h.key, hostsig.record(h.name, t, "j-old")),
                            "another task"),
            "another host's name": (lambda h, t, j: hostsig.attest(h.key, hostsig.record("web01", t, j)),
                                    "for host 'web01'"),
            "no status": (lambda h, t, j: hostsig.attest(h.key, {"host": h.name, "task": t, "job": j}) | {
                "status": "unchanged"}, "not a result record"),
            "old version": (lambda h, t, j: hostsig.attest(h.key, hostsig.record(h.name, t, j)) | {
                "attest": {"v": 2, "alg": "ed25519", "payload": "{}", "sig": ""}}, "version"),
        }
        for i, (name, (make, why)) in enumerate(cases.items()):
            with self.subTest(name):
                job = self.forged_case("forge%02d" % i, make, why)
        # 'jobs' counts the last one failed too.
        code, out, err = self.cli("jobs", "--json")
        self.assertEqual(code, 0, err)
        listed = {j["job"]: j["status"] for j in json.loads(out)["jobs"]}
        self.assertEqual(listed[job], {"failed": 1})

    def test_host_without_a_key_is_unsigned_and_failed(self):
        h = self.host("nokey01", publish_key=False)

        def respond():
            task, job, _, _, _ = h.take()
            h.answer(task, hostsig.record("nokey01", task, job))
        code, rec, err, _ = self.ask(["ping", "--host", "nokey01"], respond)
        self.assertEqual(code, 2, err)
        self.assertTrue(rec["forged"])
        self.assertIn("unsigned: nokey01 publishes no host key", rec["error"])
        # The switch for daemons older than host keys shows it, marked.
        code, rec, err, _ = self.ask(["ping", "--host", "nokey01"], respond,
                                     env={"CELERYROOT_UNSIGNED_HOSTS": "accept"})
        self.assertEqual(code, 0, err)
        self.assertEqual((rec["status"], rec["unsigned"]), ("unchanged", True))
        # ... but never for a host whose key is known.
        k = self.host("sig06")
        self.ask(["ping", "--host", "sig06"], lambda: (lambda t: k.answer(
            t[0], hostsig.attest(k.key, hostsig.record("sig06", t[0], t[1]))))(k.take()))
        code, rec, err, _ = self.ask(["ping", "--host", "sig06"], lambda: (lambda t: k.answer(
            t[0], hostsig.record("sig06", t[0], t[1])))(k.take()), env={"CELERYROOT_UNSIGNED_HOSTS": "accept"})
        self.assertEqual(code, 2, err)
        self.assertTrue(rec["forged"])

    def test_failure_results_are_failed(self):
        h = self.host("sig07")

        def respond():
            task, _, _, _, _ = h.take()
            h.answer(task, {"exc_type": "PermissionError", "exc_message": ["refused: \x1b[32mok"]}, state="FAILURE")
        code, rec, err, _ = self.ask(["ping", "--host", "sig07"], respond)
        self.assertEqual(code, 2, err)
        self.assertEqual(rec["status"], "failed")
        self.assertIn("PermissionError: refused", rec["error"])

    # ---- known_hosts ---------------------------------------------------------------

    def test_changed_key_is_refused_loudly_until_trusted(self):
        h = self.host("sig08")
        new = hostsig.HostKey()

        def respond_with(key):
            def respond():
                task, job, _, _, _ = h.take()
                h.answer(task, hostsig.attest(key, hostsig.record("sig08", task, job)))
            return respond
        self.assertEqual(self.ask(["ping", "--host", "sig08"], respond_with(h.key))[0], 0)
        # The registry now gives another key (a reinstall, or an impostor).
        h.register(key_b64=new.b64)
        code, rec, err, _ = self.ask(["ping", "--host", "sig08"], respond_with(new))
        self.assertEqual(code, 2, err)
        self.assertTrue(rec["forged"])
        self.assertIn("bad signature", rec["error"])
        self.assertIn("THE HOST KEY OF sig08 HAS CHANGED", err)
        self.assertIn(h.key.fingerprint, err)
        self.assertIn(new.fingerprint, err)
        self.assertIn("celeryroot hosts trust sig08", err)
        self.assertEqual(self.known(), [["sig08", "ed25519", h.key.b64]])   # never adopted
        code, out, err = self.cli("hosts", "--json")
        self.assertEqual(code, 0, err)
        view = {x["hostname"]: x for x in json.loads(out)["hosts"]}["sig08"]
        self.assertEqual((view["key_state"], view["fingerprint"], view["known_fingerprint"]),
                         ("changed", new.fingerprint, h.key.fingerprint))
        code, out, err = self.cli("hosts")
        self.assertRegex(out, r"sig08 .* CHANGED +%s" % new.fingerprint.replace("+", r"\+"))
        # Checked, and accepted: from then on the new key is the host's.
        code, out, err = self.cli("hosts", "trust", "sig08")
        self.assertEqual(code, 0, err)
        self.assertIn("now trusting key %s (replaces %s)" % (new.fingerprint, h.key.fingerprint), out)
        code, rec, err, _ = self.ask(["ping", "--host", "sig08"], respond_with(new))
        self.assertEqual((code, err), (0, ""))
        code, out, err = self.cli("hosts", "forget", "sig08")
        self.assertEqual(code, 0, err)
        self.assertEqual(self.known(), [])
        view = {x["hostname"]: x for x in json.loads(self.cli("hosts", "--json")[1])["hosts"]}["sig08"]
        self.assertEqual(view["key_state"], "new")

    def test_trust_a_key_from_a_file_and_bad_requests(self):
        h = self.host("sig09")
        pub = h.key.pub_file(os.path.join(self.fleet.tmp, "sig09-host.pub"))
        code, out, err = self.cli("hosts", "trust", "sig09", "--key", pub)
        self.assertEqual(code, 0, err)
        self.assertEqual(self.known(), [["sig09", "ed25519", h.key.b64]])
        code, out, err = self.cli("key", "fingerprint", pub)
        self.assertEqual((code, out.split()[0]), (0, h.key.fingerprint))
        nokey = self.host("nokey02", publish_key=False)
        for args, word in ((["hosts", "trust"], "HOST"), (["hosts", "trust", "Bad Host"], "invalid host"),
                           (["hosts", "trust", "nokey02"], "no host key"),
                           (["hosts", "trust", "a", "b", "--key", pub], "exactly one HOST")):
            with self.subTest(args=args):
                code, out, err = self.cli(*args)
                self.assertEqual(code, 1, out + err)
                self.assertIn(word, err)
        self.assertEqual(nokey.name, "nokey02")
        self.assertEqual(self.known(), [["sig09", "ed25519", h.key.b64]])

    def test_known_hosts_others_can_write_is_not_used(self):
        h = self.host("sig10")
        with open(self.kh, "w") as f:
            f.write("sig10 ed25519 %s\n" % h.key.b64)
        os.chmod(self.kh, 0o666)

        def respond():
            task, job, _, _, _ = h.take()
            h.answer(task, hostsig.attest(h.key, hostsig.record("sig10", task, job)))
        code, rec, err, _ = self.ask(["ping", "--host", "sig10"], respond)
        self.assertEqual(code, 2, err)
        self.assertIn("chmod 600", rec["error"])
        code, out, err = self.cli("hosts")
        self.assertEqual(code, 1)
        self.assertIn("writable by group or others", err)
        os.chmod(self.kh, 0o600)
        with open(self.kh, "a") as f:
            f.write("sig10 ed25519 %s\n" % hostsig.HostKey().b64)
        code, out, err = self.cli("hosts")
        self.assertEqual(code, 1)
        self.assertIn("listed again with another key", err)

    def test_python_helper_verifies_the_same_way(self):
        """contrib/celeryroot_sign.verify_result, for Python Celery users."""
        import sys
        sys.path.insert(0, os.path.join(harness.SRCDIR, "contrib"))
        import celeryroot_sign
        key = hostsig.HostKey()
        good = hostsig.attest(key, hostsig.record("py01", "t-1", "j-1"), duration=0.5)
        rec = celeryroot_sign.verify_result(good, key.b64, "py01", "t-1", "j-1")
        self.assertEqual((rec["status"], rec["duration_s"]), ("unchanged", 0.5))
        for bad in (hostsig.record("py01", "t-1", "j-1"), altered(type("H", (), {"key": key, "name": "py01"}),
                                                                   "t-1", "j-1"),
                    hostsig.attest(hostsig.HostKey(), hostsig.record("py01", "t-1", "j-1"))):
            with self.assertRaises(celeryroot_sign.ForgedResult):
                celeryroot_sign.verify_result(bad, key.b64, "py01", "t-1", "j-1")
        with self.assertRaises(celeryroot_sign.ForgedResult):
            celeryroot_sign.verify_result(good, key.b64, "py01", "t-2", "j-1")

    # ---- real daemons ---------------------------------------------------------------

    def test_real_daemon(self):
        """A real pair's result: verified when its daemon publishes a host key
        (priv signs), else unsigned and failed, as the rule says."""
        signs = "host_key" in json.loads(self.r.get("celeryroot:host:web01"))
        code, out, err = self.cli("ping", "--host", "web01", "--json")
        rec = json.loads(out)["hosts"][0]
        if signs:
            self.assertEqual((code, rec["status"]), (0, "unchanged"), err)
            self.assertNotIn("forged", rec)
            self.assertEqual(self.known()[0][0], "web01")
        else:
            self.assertEqual((code, rec["status"]), (2, "failed"), err)
            self.assertIn("unsigned: web01 publishes no host key", rec["error"])
        code, out, err = self.cli("ping", "--host", "web01", "--json", env={"CELERYROOT_UNSIGNED_HOSTS": "accept"})
        self.assertEqual(code, 0, err)


if __name__ == "__main__":
    unittest.main()
