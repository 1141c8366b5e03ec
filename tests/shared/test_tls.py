"""TLS to the broker, refusals first: the CLI (src/shared/rtls.c under
rconn.c, the same path net and beat use) against real TLS-only
redis-servers and certificates made with openssl for each run.  Plain is
refused, a rediss:// URL never falls back to clear text, a wrong CA, an
expired or a wrong-name certificate is refused, ssl_cert_reqs=none is an
explicit and logged opt-out, mutual TLS, bad files stop everything before
a connection is made, and hostile TLS servers are bounded."""
import json
import os
import shlex
import socket
import ssl
import subprocess
import threading
import time
import unittest

import harness
import tlsredis


def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    return s, s.getsockname()[1]


def accepted_any(s):
    s.settimeout(0.2)
    try:
        c, _ = s.accept()
        c.close()
        return True
    except socket.timeout:
        return False


class TLSRefusals(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = tlsredis.temp_pki()
        cls.tls = tlsredis.TLSRedis(cls.pki)
        cls.mtls = tlsredis.TLSRedis(cls.pki, auth_clients=True)
        cls.wrongname = tlsredis.TLSRedis(cls.pki, cert=cls.pki.wrongname)
        cls.expired = tlsredis.TLSRedis(cls.pki, cert=cls.pki.expired)
        cls.plain = harness.Redis()

    @classmethod
    def tearDownClass(cls):
        for r in (cls.tls, cls.mtls, cls.wrongname, cls.expired, cls.plain):
            r.close()
        tlsredis.remove(cls.pki)

    def hosts(self, url, config=None):
        """celeryroot hosts against url; config: [broker] lines."""
        args = ["hosts"]
        if config is not None:
            path = os.path.join(self.pki.dir, "cli.conf")
            with open(path, "w") as f:
                f.write("[broker]\n" + "".join("%s = %s\n" % kv for kv in config.items()))
            args += ["--config", path]
        return harness.cli(*args, url=url, timeout=30)

    def url(self, r, query="", host="127.0.0.1", scheme="rediss"):
        return "%s://%s:%d/0%s" % (scheme, host, r.port, query)

    def assertRefused(self, res, *words):
        code, out, err = res
        self.assertNotEqual(code, 0, out)
        for w in words:
            self.assertIn(w, err)
        self.assertEqual(err.count("\n"), 1, "one line: " + err)

    def test_verified_connection_works(self):
        code, out, err = self.hosts(self.tls.url)
        self.assertEqual(code, 0, err)
        self.assertIn("no hosts have registered", out)
        self.assertNotIn("warning", err)
        # kombu's names for the values, and the host checked by DNS name.
        ca = "?ssl_ca_certs=%s&ssl_cert_reqs=CERT_REQUIRED" % self.pki.ca
        self.assertEqual(self.hosts(self.url(self.tls, ca, host="localhost"))[0], 0)

    def test_plain_client_to_tls_port_refused(self):
        self.assertRefused(self.hosts(self.url(self.tls, scheme="redis")), "cannot read")

    def test_rediss_to_plain_port_never_falls_back(self):
        r = self.plain.client()
        before = r.info("stats")["total_commands_processed"]
        res = self.hosts(self.url(self.plain, "?ssl_ca_certs=" + self.pki.ca).replace("//", "//:s3cret@", 1))
        self.assertRefused(res, "TLS handshake with the broker")
        # Only our own INFO reached the plain server: no AUTH, no command.
        self.assertEqual(r.info("stats")["total_commands_processed"], before + 1)
        self.assertNotIn("cmdstat_auth", r.info("commandstats"))

    def test_wrong_ca_refused(self):
        res = self.hosts(self.url(self.tls, "?ssl_ca_certs=" + self.pki.other_ca))
        self.assertRefused(res, "certificate for '127.0.0.1' was refused", "ssl_ca_certs")
        # The system bundle (no ssl_ca_certs) does not know our test CA either.
        self.assertRefused(self.hosts(self.url(self.tls)), "was refused")

    def test_expired_refused(self):
        self.assertRefused(self.hosts(self.expired.url), "certificate has expired")

    def test_wrong_name_refused(self):
        self.assertRefused(self.hosts(self.wrongname.url), "IP address mismatch")
        q = "?ssl_ca_certs=" + self.pki.ca
        self.assertRefused(self.hosts(self.url(self.wrongname, q, host="localhost")), "hostname mismatch")

    def test_cert_reqs_none_is_a_logged_opt_out(self):
        for value in ("none", "CERT_NONE"):
            code, out, err = self.hosts(self.url(self.wrongname, "?ssl_cert_reqs=" + value))
            self.assertEqual(code, 0, err)
            self.assertIn("warning: ssl_cert_reqs=none", err)

    def test_mutual_tls(self):
        code, out, err = self.hosts(self.mtls.url)
        self.assertEqual(code, 0, err)
        ca = "?ssl_ca_certs=" + self.pki.ca
        rogue = ca + "&ssl_certfile=%s&ssl_keyfile=%s" % self.pki.rogue_client
        for query in (ca, rogue):
            # TLS 1.3: the server's refusal comes during the handshake or,
            # once the client has finished its part, as a hang-up at the
            # first read; either way it says TLS and the client certificate.
            res = self.hosts(self.url(self.mtls, query))
            self.assertRefused(res, "TLS")
            self.assertRegex(res[2], r"TLS handshake with the broker failed: .*ssl_certfile|"
                                     r"TLS: (the broker hung up before answering|tlsv1[0-9]? alert [a-z ]+) "
                                     r"\(does it take our ssl_certfile\?\)")

    def test_config_keys_and_url_precedence(self):
        # [broker] ssl = true turns TLS on for a redis:// URL; the config
        # names the CA and the client certificate.
        conf = {"ssl": "true", "ssl_ca_certs": self.pki.ca, "ssl_certfile": self.pki.client[0],
                "ssl_keyfile": self.pki.client[1]}
        code, out, err = self.hosts(self.url(self.mtls, scheme="redis"), conf)
        self.assertEqual(code, 0, err)
        # The URL's query wins over the config, key by key.
        wrong = dict(conf, ssl_ca_certs=self.pki.other_ca)
        self.assertRefused(self.hosts(self.url(self.mtls, scheme="redis"), wrong), "was refused")
        self.assertEqual(self.hosts(self.url(self.mtls, "?ssl_ca_certs=" + self.pki.ca), wrong)[0], 0)
        # Without ssl = true the same config leaves a redis:// URL in clear text.
        self.assertRefused(self.hosts(self.url(self.mtls, scheme="redis"), dict(conf, ssl="false")), "cannot read")

    def test_bad_files_stop_before_connecting(self):
        s, port = listener()
        try:
            base = "rediss://127.0.0.1:%d/0" % port
            missing = os.path.join(self.pki.dir, "missing.pem")
            cases = [("?ssl_ca_certs=" + missing, ["ssl_ca_certs " + missing, "No such file"]),
                     ("?ssl_ca_certs=" + self.pki.ca + "&ssl_certfile=" + self.pki.client[0] +
                      "&ssl_keyfile=" + self.pki.server[1], ["ssl_keyfile " + self.pki.server[1], "matching"]),
                     ("?ssl_ca_certs=" + self.pki.client[1], ["holds no PEM certificate"]),
                     ("?ssl_ca_certs=" + self.pki.dir, ["not a regular PEM file"]),
                     ("?ssl_cert_reqs=maybe", ["ssl_cert_reqs='maybe'"]),
                     ("?ssl_ca_certs=relative.pem", ["absolute path"]),
                     ("?ssl_verify=no", ["unknown parameter 'ssl_verify'"])]
            for query, words in cases:
                with self.subTest(query=query):
                    self.assertRefused(self.hosts(base + query), *words)
                    self.assertFalse(accepted_any(s), "connected despite a bad TLS setting")
            # ssl_* on a clear-text URL is a mistake, not a hint.
            self.assertRefused(self.hosts(self.url(self.tls, "?ssl_ca_certs=" + self.pki.ca, scheme="redis")),
                               "not rediss://")
        finally:
            s.close()

    def test_acl_urls_keep_tls(self):
        code, out, err = harness.cli("acl", "--operator", "alice", "--json", "--broker", self.tls.url)
        self.assertEqual(code, 0, err)
        url = json.loads(out)["users"][0]["url"]
        self.assertRegex(url, r"^rediss://celeryroot-operator-alice:[0-9a-f]+@127\.0\.0\.1:%d/0\?ssl_ca_certs=%s$"
                         % (self.tls.port, self.pki.ca))
        # That URL, with the user made, works over TLS as that user.
        self.tls.client().execute_command(*shlex.split(json.loads(out)["users"][0]["rule"]))
        self.assertEqual(self.hosts(url)[0], 0)

    def test_daemon_refuses_bad_files_before_net_starts(self):
        harness.require_root()
        missing = os.path.join(self.pki.dir, "nope.key")
        url = self.tls.url + "&ssl_certfile=%s&ssl_keyfile=%s" % (self.pki.client[0], missing)
        with open(os.path.join(self.pki.dir, "empty.conf"), "w"):
            pass
        root = harness.make_sandbox(os.path.join(self.pki.dir, "host"), [])
        p = subprocess.run([harness.daemon_path(), "--foreground", "--hostname", "tls01", "--sandbox", root,
                            "--broker", url, "--user", "nobody", "--config", os.path.join(self.pki.dir, "empty.conf")],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("ssl_keyfile " + missing, p.stderr)
        self.assertNotIn("started", p.stderr)
        self.assertEqual(self.tls.client().info("clients")["connected_clients"], 1)   # ourselves

    def test_silent_server_handshake_is_bounded(self):
        s, port = listener()   # accepts (the kernel's backlog) and never answers
        try:
            t0 = time.monotonic()
            self.assertRefused(self.hosts("rediss://127.0.0.1:%d/0?ssl_ca_certs=%s" % (port, self.pki.ca)),
                               "timed out")
            self.assertLess(time.monotonic() - t0, 15)
        finally:
            s.close()

    def test_garbage_after_handshake(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*self.pki.server)
        s, port = listener()
        stop = threading.Event()

        def serve():
            s.settimeout(0.2)
            while not stop.is_set():
                try:
                    c, _ = s.accept()
                except (socket.timeout, OSError):
                    continue
                try:
                    t = ctx.wrap_socket(c, server_side=True)
                    t.sendall(b"\x00\xffnot redis at all\r\n" * 4)
                    time.sleep(0.5)
                    t.close()
                except (ssl.SSLError, OSError):
                    c.close()

        th = threading.Thread(target=serve, daemon=True)
        th.start()
        try:
            t0 = time.monotonic()
            self.assertRefused(self.hosts("rediss://127.0.0.1:%d/0?ssl_ca_certs=%s" % (port, self.pki.ca)),
                               "Protocol error")
            self.assertLess(time.monotonic() - t0, 10)
        finally:
            stop.set()
            th.join(5)
            s.close()


if __name__ == "__main__":
    unittest.main()
