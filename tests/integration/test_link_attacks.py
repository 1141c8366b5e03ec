"""Attacks on the broker link of issue 14 (docs/SECURITY.md "The broker
link"): hostile sentinels (plain and TLS) and hostile TLS servers, against
the real CLI and a real daemon, with real redis-servers as rogue masters.
Each case says what the attacker controls and what must hold:

- a sentinel's reply (wrong types, a huge array header, deep nesting, a
  slow-loris byte at a time, RESP garbage, escape sequences) ends in one
  bounded, printable error line, never a hang, a crash or gigabytes;
- without TLS, whoever answers on a sentinel's port can name a rogue master
  and is followed: a documented limit (SECURITY.md says what to do);
- with TLS on, the rogue master needs a certificate for its address from
  the configured CA: a wrong-name certificate, a plain server and a plain
  sentinel are refused, never spoken to in clear text;
- a certificate for the right address but only for client use is refused;
- a TLS server that stalls mid-record or closes with an alert is bounded;
- a master moved to a port outside net's Landlock rules gets a clear line
  and a back-off, not a crash loop;
- the CLI never prints the password, in text or --json."""
import os
import re
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

import harness
import tlsredis


def master_reply(port, host="127.0.0.1"):
    """SENTINEL get-master-addr-by-name's answer naming host:port."""
    h, p = host.encode(), str(port).encode()
    return b"*2\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(h), h, len(p), p)


class Hostile:
    """A server on loopback that answers each command with reply (bytes),
    or with slowloris: one byte of an unfinished reply every 0.3 s.  ctx: an
    ssl.SSLContext to speak TLS with; raw(sock) replaces the TLS answer with
    bytes written under TLS by the test (a stalled record, an alert)."""

    def __init__(self, reply=b"", slowloris=False, ctx=None, raw=None):
        self.reply, self.slowloris, self.ctx, self.raw = reply, slowloris, ctx, raw
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        conn.settimeout(5)
        try:
            if self.ctx is not None:
                conn = self.ctx.wrap_socket(conn, server_side=True)
            if self.raw is not None:
                self.raw(conn)
                return
            while not self.stop.is_set() and conn.recv(4096):
                if not self.slowloris:
                    conn.sendall(self.reply)
                    continue
                conn.sendall(b"*2\r\n")
                while not self.stop.is_set():
                    conn.sendall(b"$")
                    time.sleep(0.3)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def close(self):
        self.stop.set()
        self.sock.close()
        self.thread.join(5)


class SentinelAttacks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="celeryroot-attack.")
        cls.pki = tlsredis.PKI(os.path.join(cls.tmp, "pki"))

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["rm", "-rf", cls.tmp])

    def cli(self, url, config=""):
        path = os.path.join(self.tmp, "cli.conf")
        with open(path, "w") as f:
            f.write("[broker]\n" + config)
        t0 = time.monotonic()
        code, out, err = harness.cli("hosts", "--timeout", "2", "--config", path, url=url, timeout=60)
        return code, out, err, time.monotonic() - t0

    def refused(self, url, *want, config=""):
        code, out, err, took = self.cli(url, config)
        self.assertGreater(code, 0, out + err)             # an exit, not a signal
        self.assertLess(took, 20, err)
        self.assertEqual(err.count("\n"), 1, "one line: " + err)
        self.assertTrue(all(0x20 <= ord(ch) < 0x7f for ch in err.rstrip("\n")), repr(err))
        for w in want:
            self.assertIn(w, err)
        return err

    def sentinel_url(self, port):
        return "sentinel://127.0.0.1:%d?master_name=m" % port

    def test_hostile_sentinel_replies_are_bounded(self):
        cases = [
            (b"*2147483647\r\n", "more than 4194304 array elements"),     # 16 GiB calloc in hiredis 0.14
            (b"*4000000\r\n" + b"*4000000\r\n" * 3, "array elements"),     # nested: budget per reply
            (b"*1\r\n" * 64, "nested multi bulk"),
            (b"$2147483000\r\n" + b"x" * 65536, "did not answer"),         # a bulk that never ends
            (b"*-7\r\n", "out of range"),
            (b"\x00\xff\r\n", "Protocol error"),
            (b":12\r\n", "malformed answer"),
            (b"*2\r\n:1\r\n:2\r\n", "malformed answer"),
            (b"*2\r\n$9\r\n127.0.0.1\r\n*1\r\n:6379\r\n", "malformed answer"),
            (b"-ERR \x1b]0;owned\x07\x1b[2J\x9b31m\r\n", "malformed answer"),  # terminal escapes
        ]
        for reply, want in cases:
            with self.subTest(reply=reply[:24]):
                fake = Hostile(reply)
                try:
                    self.refused(self.sentinel_url(fake.port), want)
                finally:
                    fake.close()

    def test_slowloris_sentinel_is_bounded(self):
        fakes = [Hostile(slowloris=True) for _ in range(3)]
        try:
            url = ";".join("sentinel://127.0.0.1:%d" % f.port for f in fakes) + "?master_name=m"
            err = self.refused(url, "via 3 sentinel(s)", "no reply from the broker in time")
        finally:
            for f in fakes:
                f.close()
        self.assertIn("no master 'm'", err)

    def test_daemon_log_gets_no_escape_sequences(self):
        harness.require_root()
        fake = Hostile(b"-ERR \x1b]0;owned\x07\x1b[2Jgone\r\n")
        root = harness.make_sandbox(os.path.join(self.tmp, "host"), [])
        log = os.path.join(self.tmp, "daemon.log")
        conf = os.path.join(self.tmp, "empty.conf")
        open(conf, "w").close()
        with open(log, "w") as f:
            p = subprocess.Popen([harness.daemon_path(), "--foreground", "--hostname", "atk01", "--sandbox", root,
                                  "--broker", self.sentinel_url(fake.port), "--user", "nobody", "--config", conf],
                                 stdout=f, stderr=subprocess.STDOUT)
        try:
            harness.wait_for(lambda: "malformed answer" in open(log, errors="replace").read(), 20)
        finally:
            p.terminate()
            p.wait(20)
            fake.close()
        with open(log, "rb") as f:
            text = f.read()
        self.assertIn(b"ERR ?]0;owned??[2Jgone", text)
        self.assertNotIn(b"\x1b", text)
        self.assertNotIn(b"\x07", text)

    def test_master_moved_outside_landlock_ports(self):
        """A sentinel that, after net started, names a master on a port net
        did not learn at start: Landlock refuses the connect; net says so
        in one line that says what to do, keeps backing off, is not
        restarted and never reaches the new port."""
        harness.require_root()
        a, b = harness.Redis(), harness.Redis()
        fake = Hostile(master_reply(a.port))
        root = harness.make_sandbox(os.path.join(self.tmp, "host2"), [])
        conf = os.path.join(self.tmp, "empty2.conf")
        open(conf, "w").close()
        log = os.path.join(self.tmp, "moved.log")
        with open(log, "w") as f:
            p = subprocess.Popen([harness.daemon_path(), "--foreground", "--hostname", "atk02", "--sandbox", root,
                                  "--broker", self.sentinel_url(fake.port), "--user", "nobody", "--config", conf],
                                 stdout=f, stderr=subprocess.STDOUT)
        try:
            harness.wait_for(lambda: a.client().sismember("celeryroot:hosts", "atk02"), 20)
            cb = b.client()   # one connection for our own looks at b
            before = cb.info("stats")["total_connections_received"]
            fake.reply = master_reply(b.port)
            a.client().execute_command("CLIENT", "KILL", "TYPE", "normal")
            said = "names 127.0.0.1:%d as master, a port this host's policy does not let us connect to" % b.port
            harness.wait_for(lambda: open(log).read().count(said) >= 3, 30)
            self.assertIsNone(p.poll())
        finally:
            p.terminate()
            p.wait(20)
            fake.close()
        text = open(log).read()
        a.close()
        self.assertFalse(cb.sismember("celeryroot:hosts", "atk02"))
        self.assertEqual(cb.info("stats")["total_connections_received"], before)   # net never got there
        b.close()
        self.assertIn("TCP connect only to ports %d,%d" % (fake.port, a.port), text)
        self.assertEqual(len(re.findall(r"net\[(\d+)\]", text) and set(re.findall(r"net\[(\d+)\]", text))), 1,
                         "net was restarted: " + text[-2000:])
        self.assertIn("restart celeryrootd if the master really moved there", text)

    def test_rogue_master_without_tls_is_followed(self):
        """The documented limit: a plain sentinel port is trusted."""
        rogue = harness.Redis()
        fake = Hostile(master_reply(rogue.port))
        try:
            before = rogue.client().info("stats")["total_connections_received"]
            code, out, err, _ = self.cli(self.sentinel_url(fake.port))
            self.assertEqual(code, 0, err)
            self.assertGreater(rogue.client().info("stats")["total_connections_received"], before)
        finally:
            fake.close()
            rogue.close()

    def tls_sentinel(self, reply):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*self.pki.server)
        return Hostile(reply, ctx=ctx)

    def test_tls_refuses_a_rogue_master(self):
        tls = "ssl = yes\nssl_ca_certs = %s\n" % self.pki.ca
        good = tlsredis.TLSRedis(self.pki)
        wrongname = tlsredis.TLSRedis(self.pki, cert=self.pki.wrongname)
        plain = harness.Redis()
        fakes = []
        try:
            fakes.append(self.tls_sentinel(master_reply(good.port)))
            code, _, err, _ = self.cli(self.sentinel_url(fakes[-1].port), tls)
            self.assertEqual(code, 0, err)                                   # the honest path works
            fakes.append(self.tls_sentinel(master_reply(wrongname.port)))
            self.refused(self.sentinel_url(fakes[-1].port), "certificate", config=tls)
            before = plain.client().info("stats")["total_commands_processed"]
            fakes.append(self.tls_sentinel(master_reply(plain.port)))
            self.refused(self.sentinel_url(fakes[-1].port), "127.0.0.1:%d" % plain.port, config=tls)
            # Never a Redis command in clear text to the plain master.
            self.assertEqual(plain.client().info("stats")["total_commands_processed"], before + 1)
            fakes.append(Hostile(master_reply(good.port)))                   # a plain sentinel port
            self.refused(self.sentinel_url(fakes[-1].port), "sentinel", config=tls)
        finally:
            for f in fakes:
                f.close()
            for r in (good, wrongname, plain):
                r.close()

    def test_certificate_for_client_use_only_is_refused(self):
        """The right address and CA, but the extended key usage of a client
        certificate: OpenSSL's purpose check (ssl_server) must refuse it."""
        cert = self.pki.leaf("clientonly", "ca", ("subjectAltName=IP:127.0.0.1", "extendedKeyUsage=clientAuth"))
        server = tlsredis.TLSRedis(self.pki, cert=cert)
        try:
            self.refused("rediss://127.0.0.1:%d/0?ssl_ca_certs=%s" % (server.port, self.pki.ca), "certificate")
        finally:
            server.close()

    def tls_raw(self, write):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*self.pki.server)
        return Hostile(ctx=ctx, raw=write)

    def test_tls_stall_mid_record_and_alert_are_bounded(self):
        def stall(conn):
            conn.recv(4096)
            # A record header announcing 16 KiB, then 10 bytes and silence.
            raw = socket.socket(fileno=os.dup(conn.fileno()))
            raw.sendall(b"\x17\x03\x03\x40\x00" + b"\x00" * 10)
            time.sleep(8)
            raw.close()

        def alert(conn):
            conn.recv(4096)
            conn.unwrap()          # close_notify: an orderly TLS close mid-command

        for write, want in ((stall, "no reply from the broker in time"), (alert, "")):
            fake = self.tls_raw(write)
            try:
                self.refused("rediss://127.0.0.1:%d/0?ssl_ca_certs=%s" % (fake.port, self.pki.ca), want)
            finally:
                fake.close()


class CliNeverShowsThePassword(unittest.TestCase):
    """The password of $CELERYROOT_BROKER_URL in no CLI output, text or
    --json, whether the login works, is refused or no sentinel answers."""

    def test_outputs(self):
        secret = "zz-cli-secret-91"
        r = harness.Redis()
        try:
            r.client().execute_command("ACL", "SETUSER", "op", "on", ">" + secret, "~*", "&*", "+@all")
            urls = ["redis://op:%s@127.0.0.1:%d/0" % (secret, r.port),
                    "redis://op:%sX@127.0.0.1:%d/0" % (secret, r.port),
                    "sentinel://op:%s@127.0.0.1:%d?master_name=m" % (secret, harness.free_port())]
            commands = [["hosts"], ["hosts", "--json"], ["ping", "--all", "--json", "--timeout", "1"],
                        ["jobs", "--json"], ["audit", "--json"]]
            codes = set()
            for url in urls:
                for args in commands:
                    code, out, err = harness.cli(*args, url=url, timeout=30)
                    codes.add(code)
                    self.assertNotIn(secret, out + err, "%s with %s" % (" ".join(args), url))
            self.assertIn(0, codes)        # the good URL really logged in
            self.assertIn(4, codes)        # and the others really failed
        finally:
            r.close()


if __name__ == "__main__":
    unittest.main()
