"""TLS to Redis in tests: a throw-away PKI made with the openssl command, and a
redis-server that speaks only TLS (--port 0 --tls-port P)."""
import os
import shutil
import subprocess
import tempfile

import redis

import harness

CA_CONF = """[ca]
default_ca = ca_here
[ca_here]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = anything
copy_extensions = copy
unique_subject = no
[anything]
commonName = supplied
"""


def _openssl(*args, cwd=None):
    p = subprocess.run(["openssl"] + list(args), capture_output=True, text=True, cwd=cwd)
    if p.returncode != 0:
        raise AssertionError("openssl %s: %s" % (" ".join(args), p.stderr))


class PKI:
    """A CA with server and client certificates in directory d:
    ca (ca.pem), other_ca (other-ca.pem, signed none of ours),
    server.pem/.key (SAN IP 127.0.0.1 and DNS localhost),
    wrongname.pem/.key (DNS other.example only), expired.pem/.key (2020),
    client.pem/.key (signed by ca), rogue-client.pem/.key (by other_ca)."""

    def __init__(self, d):
        self.dir = d
        os.makedirs(d, exist_ok=True)
        for name in ("ca", "other-ca"):
            _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", self.path(name + ".key"), "-out", self.path(name + ".pem"),
                     "-days", "30", "-subj", "/CN=celeryroot test " + name)
        self.server = self.leaf("server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost")
        self.wrongname = self.leaf("wrongname", "ca", "subjectAltName=DNS:other.example")
        self.expired = self.leaf("expired", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                                 dates=("20200101000000Z", "20210101000000Z"))
        self.client = self.leaf("client", "ca", "extendedKeyUsage=clientAuth")
        self.rogue_client = self.leaf("rogue-client", "other-ca", "extendedKeyUsage=clientAuth")
        self.ca = self.path("ca.pem")
        self.other_ca = self.path("other-ca.pem")
        # The key is root's alone, as on a real host: only celeryrootd reads it.
        for name in os.listdir(d):
            if name.endswith(".key"):
                os.chmod(self.path(name), 0o600)

    def path(self, name):
        return os.path.join(self.dir, name)

    def leaf(self, name, ca, ext, dates=None):
        """(cert, key) for name signed by ca; ext: one extension or a tuple
        of them; dates fixes the validity."""
        key, csr, cert = self.path(name + ".key"), self.path(name + ".csr"), self.path(name + ".pem")
        exts = [a for e in ((ext,) if isinstance(ext, str) else ext) for a in ("-addext", e)]
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                 "-out", csr, "-subj", "/CN=" + name, *exts)
        cadir = self.path(ca + ".db")
        os.makedirs(cadir, exist_ok=True)
        if not os.path.exists(os.path.join(cadir, "index.txt")):
            open(os.path.join(cadir, "index.txt"), "w").close()
            with open(os.path.join(cadir, "serial"), "w") as f:
                f.write("%02X\n" % (16 + len(os.listdir(self.dir))))
        conf = os.path.join(cadir, "ca.conf")
        with open(conf, "w") as f:
            f.write(CA_CONF.format(dir=cadir))
        when = ["-startdate", dates[0], "-enddate", dates[1]] if dates else ["-days", "30"]
        _openssl("ca", "-batch", "-config", conf, "-cert", self.path(ca + ".pem"), "-keyfile",
                 self.path(ca + ".key"), "-in", csr, "-out", cert, "-notext", *when)
        return cert, key


class TLSRedis(harness.Redis):
    """harness.Redis on a TLS-only port.  cert: (cert, key) the server shows;
    auth_clients: demand a client certificate signed by pki.ca.  url is a
    rediss:// URL with kombu's ssl_ca_certs (the name checked: 127.0.0.1)."""

    def __init__(self, pki, cert=None, auth_clients=False, appendonly=False):
        self.pki = pki
        self.cert = cert or pki.server
        self.auth_clients = auth_clients
        super().__init__(appendonly=appendonly)

    def _launch(self):
        self.url = "rediss://127.0.0.1:%d/0?ssl_ca_certs=%s" % (self.port, self.pki.ca)
        if self.auth_clients:
            self.url += "&ssl_certfile=%s&ssl_keyfile=%s" % self.pki.client
        self.proc = subprocess.Popen(
            [harness.REDIS_SERVER, "--port", "0", "--tls-port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "yes" if self.appendonly else "no",
             "--tls-cert-file", self.cert[0], "--tls-key-file", self.cert[1],
             "--tls-ca-cert-file", self.pki.ca, "--tls-auth-clients", "yes" if self.auth_clients else "no",
             "--protected-mode", "yes", "--dir", self.dir, "--enable-debug-command", "local",
             "--logfile", os.path.join(self.dir, "log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            harness.wait_for(lambda: self.proc.poll() is not None or self._ping(), 10)
        except AssertionError:
            pass
        if self._ping():
            return True
        self.stop()
        return False

    def _ping(self):
        try:
            return self.client().ping()
        except (redis.exceptions.ConnectionError, OSError):
            return False

    def client(self):
        # The harness's own look at the data: certificate checked against
        # our CA, though not the name (the expired/wrong-name servers too).
        kw = {}
        if self.auth_clients:
            kw = {"ssl_certfile": self.pki.client[0], "ssl_keyfile": self.pki.client[1]}
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=False, ssl=True,
                           ssl_ca_certs=self.pki.ca, ssl_cert_reqs="none", socket_timeout=10, **kw)


def temp_pki():
    d = tempfile.mkdtemp(prefix="celeryroot-pki.")
    return PKI(d)


def remove(pki):
    shutil.rmtree(pki.dir, ignore_errors=True)
