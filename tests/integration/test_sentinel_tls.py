"""README's production Redis layout, as written: a TLS-only master and
replica (tls-replication yes) and three TLS-only redis-sentinels, all with
certificates from one test CA and demanding client certificates.  The
pairs and the CLI read the [broker] block copied out of README.md (only
paths, ports and the master's name substituted), so README stays true.
The master is SIGKILLed under load (harness.fault_trials() times, FIGURE
line); a sentinel with another CA's certificate and a clear-text sentinel
are refused by name and never trusted for the master's address."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

import harness
import sentinels
import tlsredis
import test_sentinel
from test_sentinel import FakeSentinel, done_counts

class TLSFakeSentinel(FakeSentinel):
    """FakeSentinel behind TLS with cert (cert, key): from another CA, it is a
    sentinel that must not be believed."""

    def __init__(self, reply, cert):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(*cert)
        self.asked = 0
        super().__init__(reply)

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                with self.ctx.wrap_socket(conn, server_side=True) as t:
                    t.settimeout(2)
                    while t.recv(4096):
                        self.asked += 1
                        t.sendall(self.reply)
            except (OSError, ssl.SSLError):
                pass


class Decoy:
    """A listening socket that counts who connects: where a bad sentinel says the master is."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def reply(self):
        return b"*2\r\n$9\r\n127.0.0.1\r\n$%d\r\n%d\r\n" % (len(str(self.port)), self.port)

    def close(self):
        self.sock.close()


def write_config(path, conf):
    with open(path, "w") as f:
        f.write("[broker]\n")
        f.writelines("%s = %s\n" % kv for kv in conf.items())


class BadSentinels(unittest.TestCase):
    """The CLI with README's [broker] block against sentinels it must refuse."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="celeryroot-stls.")
        cls.pki = tlsredis.PKI(os.path.join(cls.tmp, "pki"))
        cls.rogue = cls.pki.leaf("rogue-server", "other-ca", "subjectAltName=IP:127.0.0.1")
        cls.pwfile = os.path.join(cls.tmp, "pw")
        with open(cls.pwfile, "w") as f:
            f.write(sentinels.PASSWORD + "\n")
        os.chmod(cls.pwfile, 0o600)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)   # the PKI and the config files

    def cli_error(self, ports, decoy):
        path = os.path.join(self.tmp, "c%d.conf" % ports[0])
        conf = sentinels.layout_config(self.pki, ports, self.pwfile)
        write_config(path, conf)
        code, out, err = harness.cli("ping", "--all", "--timeout", "2", env={"CELERYROOT_CONFIG": path},
                                     timeout=30)
        self.assertNotEqual(code, 0, out + err)
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, err)
        self.assertEqual(decoy.connections, 0, "a refused sentinel's master address was dialled")
        return lines[0]

    def test_sentinel_from_another_ca_is_refused_by_name(self):
        decoy = Decoy()
        fakes = [TLSFakeSentinel(decoy.reply(), self.rogue) for _ in range(3)]
        try:
            line = self.cli_error([f.port for f in fakes], decoy)
            self.assertIn("sentinel 127.0.0.1:%d not trusted" % fakes[-1].port, line)
            self.assertIn("certificate", line)
            self.assertIn("ssl_ca_certs", line)
            self.assertEqual(sum(f.asked for f in fakes), 0, "a command reached an untrusted sentinel")
        finally:
            decoy.close()
            for f in fakes:
                f.close()

    def test_clear_text_sentinel_is_refused_when_ssl_is_on(self):
        decoy = Decoy()
        fakes = [FakeSentinel(decoy.reply()) for _ in range(3)]
        try:
            line = self.cli_error([f.port for f in fakes], decoy)
            self.assertIn("sentinel 127.0.0.1:%d not trusted" % fakes[-1].port, line)
            self.assertIn("TLS handshake", line)
        finally:
            decoy.close()
            for f in fakes:
                f.close()


class TLSPKI:
    """One PKI per test class (openssl takes a while), for sentinels.TLSSentinelBroker."""

    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.tmp = tempfile.mkdtemp(prefix="celeryroot-stls.")
        sentinels.TLSSentinelBroker.pki = tlsredis.PKI(os.path.join(cls.tmp, "pki"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)   # the PKI


class SentinelTLSFleet(TLSPKI, unittest.TestCase):
    def setUp(self):
        self.fleet = sentinels.LayoutFleet({"h1": ["web"], "h2": ["web"]},
                                           packages=[{"name": "stls-app", "version": "1.0"}])
        self.fleet.__enter__()
        self.s = self.fleet.redis

    def tearDown(self):
        self.fleet.__exit__(None, None, None)

    def cli(self, *args, timeout=60):
        return self.fleet.cli(*args, timeout=timeout)

    def test_readme_layout(self):
        code, out, err = self.cli("ping", "--all", "--json")
        self.assertEqual(code, 0, out + err)
        self.assertEqual(sorted(r["host"] for r in json.loads(out)["hosts"]), ["h1", "h2"])
        self.assertNotIn("warning", err)
        log = self.fleet.pairs["h1"].log()
        self.assertIn("master '%s' at 127.0.0.1:%d (found via 3 sentinel(s))"
                      % (sentinels.MASTER_NAME, self.s.master_port()), log)
        self.assertIn("as user %s, Sentinel master %s via 3 sentinels, TLS verify on"
                      % (sentinels.USER, sentinels.MASTER_NAME), log)
        self.untrusted_sentinel_first()
        code, out, err = self.cli("apt", "update", "--all")
        self.assertEqual(code, 0, out + err)
        code, out, err = self.cli("apt", "query", "stls-app", "--all", "--json")
        self.assertEqual(code, 0, out + err)
        code, out, err = self.cli("apt", "install", "stls-app", "--host", "h1", "--json", timeout=120)
        self.assertEqual(code, 0, out + err)
        p = subprocess.run(["dpkg-query", "--admindir=" + self.fleet.pairs["h1"].root + "/var/lib/dpkg",
                            "-W", "-f", "${Status}|${Version}", "stls-app"], capture_output=True, text=True)
        self.assertEqual(p.stdout, "install ok installed|1.0")

    def test_replica_without_the_acl_file_is_named(self):
        """A replica that lost the users (ACL DELUSER: as if it had not loaded
        the ACL file) promoted: the refusal names it and says what to fix;
        ACL LOAD there and ping --all answers again."""
        replica = next(n for n in self.s.nodes if n.port != self.s.master_port())
        replica.client().execute_command("ACL", "DELUSER", sentinels.USER)
        old = self.s.kill_master()
        self.s.wait_failover(old.port)
        code, out, err = self.cli("ping", "--all", "--timeout", "3")
        self.assertNotEqual(code, 0, out + err)
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, err)
        self.assertIn("127.0.0.1:%d, named master by sentinel" % replica.port, lines[0])
        self.assertIn("same ACL file", lines[0])
        replica.client().execute_command("ACL", "LOAD")
        harness.wait_for(lambda: self.cli("ping", "--all", "--timeout", "3")[0] == 0, 60, interval=0.5)

    def untrusted_sentinel_first(self):
        """A sentinel with another CA's certificate first in the URL, naming a
        decoy as master: passed over for the real ones, the decoy never dialled."""
        pki = sentinels.TLSSentinelBroker.pki
        rogue_cert = pki.leaf("rogue-sentinel", "other-ca", "subjectAltName=IP:127.0.0.1")
        decoy = Decoy()
        rogue = TLSFakeSentinel(decoy.reply(), rogue_cert)
        try:
            conf = dict(self.s.config, url="sentinel://127.0.0.1:%d;%s" % (rogue.port, self.s.config["url"]))
            path = os.path.join(self.fleet.tmp, "rogue-first.conf")
            write_config(path, conf)
            code, out, err = harness.cli("ping", "--all", env={"CELERYROOT_CONFIG": path,
                                                              "CELERYROOT_BROKER_URL": ""})
            self.assertEqual(code, 0, out + err)
            self.assertEqual((decoy.connections, rogue.asked), (0, 0))
        finally:
            rogue.close()
            decoy.close()

    def failover_trial(self, n):
        """Tasks queued and in flight, master SIGKILLed: (seconds until ping
        --all answers, lost, duplicated, stuck)."""
        ids = [self.fleet.send_raw("h1" if i % 2 == 0 else "h2", "celeryroot.ping") for i in range(n)]
        self.s.synced()   # the trial measures us, not Redis's asynchronous replication
        r = self.s.client()
        harness.wait_for(lambda: r.llen("host.h1") + r.llen("host.h2") < n * 3 // 4, 60, interval=0.01)
        t0 = time.monotonic()
        old = self.s.kill_master()
        self.s.wait_failover(old.port)
        answered = None
        while time.monotonic() - t0 < 60:
            code, out, err = self.cli("ping", "--all", "--timeout", "3")
            if code == 0:
                answered = time.monotonic() - t0
                break
            time.sleep(0.2)
        r = self.s.client()
        keys = ["celery-task-meta-" + i for i in ids]
        try:
            harness.wait_for(lambda: all(v is not None and b'"SUCCESS"' in v for v in r.mget(keys)), 60,
                             interval=0.5)
        except AssertionError:
            pass
        lost = sum(1 for v in r.mget(keys) if v is None or b'"SUCCESS"' not in v)
        dup = sum(c - 1 for c in done_counts(self.fleet, ids).values() if c > 1)
        stuck = sum(r.llen(k) for k in ("celeryroot:taken:h1", "celeryroot:taken:h2", "host.h1", "host.h2"))
        self.s.revive(old)
        return answered, lost, dup, stuck

    def test_master_killed_over_tls(self):
        trials, n = harness.fault_trials(), 200
        times, lost, dup, stuck = [], 0, 0, 0
        for _ in range(trials):
            answered, l, d, s = self.failover_trial(n)
            self.assertIsNotNone(answered, "ping --all did not answer within 60 s of the failover")
            times.append(answered)
            lost, dup, stuck = lost + l, dup + d, stuck + s
        times.sort()
        harness.figure("sentinel failover over TLS, master SIGKILL under %d tasks" % n, trials,
                       tasks=n * trials, lost=lost, duplicated=dup, stuck=stuck,
                       ping_all_median_s=times[len(times) // 2], ping_all_max_s=times[-1])
        self.assertEqual(lost, 0)
        self.assertEqual(stuck, 0)
        for p in self.fleet.pairs.values():
            self.assertIn("(found via 3 sentinel(s)) after", p.log())


class ChangeAcrossFailoverTLS(TLSPKI, test_sentinel.ChangeAcrossFailover):
    """test_sentinel's unreplicated change, answered from priv's journal, over TLS."""

    def fleet(self, **kw):
        return sentinels.LayoutFleet({"h1": ["web"]}, **kw)


if __name__ == "__main__":
    unittest.main()
