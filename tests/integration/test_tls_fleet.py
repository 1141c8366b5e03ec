"""Everything in the README over TLS: real pairs, the CLI, beat and Debian's
Python Celery against a redis-server that speaks only TLS and demands a
client certificate (mutual TLS), with certificates made by openssl.  The
pairs take the CA from the URL and their client certificate and key from
[broker] in their config; the key is root's alone, read by celeryrootd and
handed to net in memory."""
import base64
import json
import os
import subprocess
import time
import unittest
import uuid

import fleetcase
import harness
import tlsredis
from celery import Celery

PACKAGES = [{"name": "tls-app", "version": "1.0"}, {"name": "tls-app", "version": "1.1"}]


def envelope(task_id, queue, body_size=0):
    body = base64.b64encode(json.dumps([[], {"pad": "x" * body_size}, {}]).encode()).decode()
    return json.dumps({"body": body, "content-encoding": "utf-8", "content-type": "application/json",
                       "headers": {"lang": "py", "task": "celeryroot.ping", "id": task_id, "root_id": task_id,
                                   "retries": 0, "timelimit": [None, None]},
                       "properties": {"correlation_id": task_id, "delivery_mode": 2,
                                      "delivery_info": {"exchange": "", "routing_key": queue},
                                      "priority": 0, "body_encoding": "base64",
                                      "delivery_tag": str(uuid.uuid4())}})


class TLSFleet(fleetcase.FleetCase):
    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp()
        cls.pki = tlsredis.PKI(os.path.join(tmp, "pki"))

        def pair_urls(r):
            ca_only = "rediss://127.0.0.1:%d/0?ssl_ca_certs=%s" % (r.port, cls.pki.ca)
            return {"web01": ca_only, "db01": ca_only}

        config = {"broker.ssl_certfile": cls.pki.client[0], "broker.ssl_keyfile": cls.pki.client[1],
                  "schedule tlsping.cron": "* * * * *", "schedule tlsping.tz": "UTC",
                  "schedule tlsping.target": "--all", "schedule tlsping.command": "ping"}
        sources = [harness.build_repo(os.path.join(tmp, "repo"), PACKAGES)]
        cls.start_fleet({"web01": ["webserver"], "db01": ["database"]}, sources=sources, config=config,
                        prepare=pair_urls, appendonly=True,
                        redis_factory=lambda a: tlsredis.TLSRedis(cls.pki, auth_clients=True, appendonly=a))

    def test_readme_commands_over_tls(self):
        hosts = self.run_json("ping", "--all")
        self.assertEqual(sorted(hosts), ["db01", "web01"])
        code, out, err = self.fleet.cli("hosts")
        self.assertEqual(code, 0, err)
        self.assertIn("web01", out)
        self.assertIn("db01", out)
        q = self.run_json("apt", "query", "tls-app", "--all")
        self.assertEqual(set(q), {"web01", "db01"})
        check = self.run_json("apt", "install", "tls-app", "--host", "web01", "--check")
        self.assertEqual(check["web01"]["status"], "changed", check)
        code, out, err = self.fleet.cli("apt", "install", "tls-app", "--host", "web01", "--json", timeout=120)
        self.assertEqual(code, 0, out + err)
        doc = json.loads(out)
        p = subprocess.run(["dpkg-query", "--admindir=" + self.fleet.pairs["web01"].root + "/var/lib/dpkg",
                            "-W", "-f", "${Status}|${Version}", "tls-app"], capture_output=True, text=True)
        self.assertEqual(p.stdout, "install ok installed|1.1")
        code, out, err = self.fleet.cli("job", doc["job"], "--json")
        self.assertEqual(code, 0, err)
        self.assertIn("web01", out)

    def test_pairs_log_their_tls_mode_and_net_opens_no_pem(self):
        for name, pair in self.fleet.pairs.items():
            self.assertIn("TLS: certificate checked against " + self.pki.ca, pair.log())
            self.assertIn("client certificate " + self.pki.client[0], pair.log())
            net = pair.net_pid()
            targets = [os.readlink("/proc/%d/fd/%s" % (net, fd)) for fd in os.listdir("/proc/%d/fd" % net)]
            self.assertFalse([t for t in targets if self.pki.dir in t], targets)
        # The key is root's alone: net (nobody) could not have read it itself.
        st = os.stat(self.pki.client[1])
        self.assertEqual((st.st_uid, st.st_mode & 0o077), (0, 0))

    def test_beat_over_tls(self):
        env = dict(os.environ, CELERYROOT_BROKER_URL=self.fleet.redis.url,
                   CELERYROOT_TEST_CLOCK="%d:%f:%d" % (1795132800 - 1, time.time(), 30))
        log = open(os.path.join(self.fleet.tmp, "beat.log"), "w+")
        beat = subprocess.Popen([harness.cli_path(), "beat", "--config", self.fleet.config_path],
                                stdout=log, stderr=log, env=env)
        try:
            r = self.fleet.redis.client()
            fired = harness.wait_for(lambda: r.keys("celeryroot:beat:fired:tlsping:*"), 20, interval=0.2)
            job = r.get(fired[0]).decode()
            code, out, err = self.fleet.cli("job", job, "--wait", "--timeout", "20", "--json")
            self.assertEqual(code, 0, out + err)
            self.assertEqual(sorted(h["host"] for h in json.loads(out)["hosts"]), ["db01", "web01"])
        finally:
            beat.terminate()
            beat.wait(10)
            log.seek(0)
            text = log.read()
            log.close()
        # No TLS failure (their lines start "TLS: "); the start line names the mode.
        self.assertNotIn("TLS: ", text, text)
        self.assertIn("TLS verify on", text)

    def test_python_celery_over_rediss(self):
        # kombu's own parameters, as a Celery app would carry them.
        url = "rediss://127.0.0.1:%d/0?ssl_cert_reqs=required&ssl_ca_certs=%s&ssl_certfile=%s&ssl_keyfile=%s" % (
            (self.fleet.redis.port, self.pki.ca) + self.pki.client)
        app = Celery("tlspeer", broker=url, backend=url)
        app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"],
                        broker_connection_retry_on_startup=False)
        try:
            rec = app.send_task("celeryroot.ping", queue="host.db01").get(timeout=20)
            self.assertEqual(rec["host"], "db01")
            self.assertEqual(rec["status"], "unchanged")
        finally:
            app.close()

    def test_reconnects_over_tls_after_a_redis_restart(self):
        # A new handshake from inside net's sandbox (no file, seccomp): the
        # context built before confinement is all it needs.
        nets = {n: p.net_pid() for n, p in self.fleet.pairs.items()}
        self.fleet.redis.restart()
        harness.wait_for(lambda: self.fleet.cli("ping", "--all", "--timeout", "5")[0] == 0, 60, interval=0.5)
        self.assertEqual({n: p.net_pid() for n, p in self.fleet.pairs.items()}, nets, "net was restarted")
        for pair in self.fleet.pairs.values():
            self.assertRegex(pair.log(), r"connected to the broker rediss://127\.0\.0\.1:\d+/0 as user \S+, TLS verify on after")

    def test_oversize_reply_still_bounded(self):
        # 20 MiB through TLS: over what net reads at all (16 MiB), so it is
        # discarded with a line in the log and the host goes on.
        r = self.fleet.redis.client()
        big = str(uuid.uuid4())
        r.lpush("host.web01", envelope(big, "host.web01", 20 * 1024 * 1024))
        pair = self.fleet.pairs["web01"]
        harness.wait_for(lambda: "discarded a message larger than 16 MiB" in pair.log(), 60)
        self.assertIsNone(r.get("celery-task-meta-" + big))
        hosts = self.run_json("ping", "--host", "web01")
        self.assertEqual(hosts["web01"]["status"], "unchanged")


if __name__ == "__main__":
    unittest.main()
