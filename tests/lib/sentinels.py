"""A Redis master, one replica and three real redis-sentinel processes on
free loopback ports, tuned so that a failover takes a few seconds
(down-after-milliseconds 1000, failover-timeout 3000).  With pki (a
tlsredis.PKI) every one of them speaks only TLS, as README's production
layout has it: port 0, tls-port, tls-replication yes, tls-auth-clients yes,
certificates from pki's CA (IP SAN 127.0.0.1)."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import redis

from harness import REDIS_SERVER, Fleet, cli, free_port, wait_for

REDIS_SENTINEL = os.environ.get("REDIS_SENTINEL", "/usr/bin/redis-sentinel")
MASTER_NAME = "crmaster"


def tls_kwargs(pki):
    """redis-py's arguments for a TLS client with pki's client certificate."""
    if pki is None:
        return {}
    return {"ssl": True, "ssl_ca_certs": pki.ca, "ssl_certfile": pki.client[0], "ssl_keyfile": pki.client[1]}


class Node:
    """One redis-server (master or replica) in dir/name."""

    def __init__(self, root, name, replicaof=None, pki=None, aclfile=None):
        self.pki, self.aclfile = pki, aclfile
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.start(replicaof)

    def start(self, replicaof=None):
        """(Re)starts on the same port, empty (as a replica: synced from replicaof)."""
        ports = ["--port", str(self.port)]
        if self.pki:
            ports = ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", self.pki.server[0],
                     "--tls-key-file", self.pki.server[1], "--tls-ca-cert-file", self.pki.ca,
                     "--tls-auth-clients", "yes", "--tls-replication", "yes"]
        args = [REDIS_SERVER, *ports, "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", self.dir, "--logfile", os.path.join(self.dir, "log")]
        if replicaof:
            args += ["--replicaof", "127.0.0.1", str(replicaof)]
        if self.aclfile:   # ACLs are not replicated: each node, and each restart, loads the file
            args += ["--aclfile", self.aclfile]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._ping, 10)

    def client(self):
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5, **tls_kwargs(self.pki))

    def _ping(self):
        try:
            return self.client().ping()
        except redis.exceptions.RedisError:
            return False

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


class Sentinels:
    """master + replica + 3 sentinels; url is kombu's sentinel:// form."""

    def __init__(self, nsentinels=3, down_after_ms=1000, failover_timeout_ms=3000, pki=None, acl=None):
        """acl: the lines of an ACL file every node loads (README's users.acl)."""
        self.pki = pki
        self.root = tempfile.mkdtemp(prefix="celeryroot-sentinel.")
        aclfile = None
        if acl:
            aclfile = os.path.join(self.root, "users.acl")
            with open(aclfile, "w") as f:
                f.writelines(line + "\n" for line in acl)
        self.nodes, self.sentinels = [], []
        try:
            self.nodes.append(Node(self.root, "master", pki=pki, aclfile=aclfile))
            self.nodes.append(Node(self.root, "replica", replicaof=self.nodes[0].port, pki=pki,
                                   aclfile=aclfile))
            wait_for(self._replica_synced, 15)
            for i in range(nsentinels):
                self.sentinels.append(self._sentinel(i, down_after_ms, failover_timeout_ms))
            wait_for(lambda: all(self._knows_replica(p) for p, _ in self.sentinels), 15)
        except BaseException:
            self.close()
            raise
        self.url = ";".join("sentinel://127.0.0.1:%d" % p for p, _ in self.sentinels) + \
            "?master_name=" + MASTER_NAME

    def _sentinel(self, i, down_after_ms, failover_timeout_ms):
        port = free_port()
        d = os.path.join(self.root, "sentinel%d" % i)
        os.makedirs(d)
        conf = os.path.join(d, "sentinel.conf")
        with open(conf, "w") as f:
            if self.pki:
                f.write("port 0\ntls-port %d\ntls-cert-file %s\ntls-key-file %s\ntls-ca-cert-file %s\n"
                        "tls-auth-clients yes\ntls-replication yes\n"
                        % (port, self.pki.server[0], self.pki.server[1], self.pki.ca))
            else:
                f.write("port %d\n" % port)
            f.write("bind 127.0.0.1\ndir %s\nlogfile %s\n" % (d, os.path.join(d, "log")))
            f.write("sentinel monitor %s 127.0.0.1 %d 2\n" % (MASTER_NAME, self.nodes[0].port))
            f.write("sentinel down-after-milliseconds %s %d\n" % (MASTER_NAME, down_after_ms))
            f.write("sentinel failover-timeout %s %d\n" % (MASTER_NAME, failover_timeout_ms))
            f.write("sentinel parallel-syncs %s 1\n" % MASTER_NAME)
        proc = subprocess.Popen([REDIS_SENTINEL, conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: proc.poll() is not None or self._sentinel_ping(port), 10)
        if proc.poll() is not None:
            raise AssertionError("redis-sentinel did not start: " + open(os.path.join(d, "log")).read()[-1500:])
        return port, proc

    def _sentinel_ping(self, port):
        try:
            return self._sentinel_client(port).ping()
        except redis.exceptions.RedisError:
            return False

    def _sentinel_client(self, port):
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, decode_responses=True,
                           **tls_kwargs(self.pki))

    def _replica_synced(self):
        info = self.nodes[0].client().info("replication")
        return info.get("connected_slaves") == 1 and info.get("slave0", {}).get("state") == "online"

    def _knows_replica(self, port):
        try:
            return len(self._sentinel_client(port).execute_command("SENTINEL", "replicas", MASTER_NAME)) >= 1
        except redis.exceptions.RedisError:
            return False

    def master_port(self):
        """The master's port as the first sentinel that answers says."""
        for port, proc in self.sentinels:
            if proc.poll() is not None:
                continue
            try:
                addr = self._sentinel_client(port).execute_command(
                    "SENTINEL", "get-master-addr-by-name", MASTER_NAME)
                return int(addr[1])
            except redis.exceptions.RedisError:
                continue
        return None

    def master(self):
        port = self.master_port()
        return next(n for n in self.nodes if n.port == port)

    def client(self):
        """A client to the current master."""
        return self.master().client()

    def sync(self, timeout=5):
        """Waits until every replica has what the master has (WAIT)."""
        return self.client().execute_command("WAIT", len(self.nodes) - 1, int(timeout * 1000))

    def synced(self, timeout=30):
        """Until every replica has confirmed what the master has: a trial that
        kills the master must not measure Redis's asynchronous replication
        (a replica still in its first sync, promoted with an empty dataset)."""
        want = len(self.nodes) - 1
        return wait_for(lambda: self.sync(timeout=1) >= want, timeout, interval=0.1)

    def kill_master(self):
        """kill -9 the master; returns the killed node."""
        node = self.master()
        node.kill()
        return node

    def wait_failover(self, old_port, timeout=30):
        """Until the sentinels name another master and it says so itself."""
        def promoted():
            port = self.master_port()
            if port is None or port == old_port:
                return False
            try:
                role = self.master().client().execute_command("ROLE")
            except redis.exceptions.RedisError:
                return False
            return role[0] in (b"master", "master")
        return wait_for(promoted, timeout, interval=0.1)

    def revive(self, node, timeout=30):
        """Brings a killed node back as a replica of the current master and
        waits until it is in sync and every sentinel counts it as up."""
        node.start(replicaof=self.master_port())
        master = self.master()

        def ready():
            info = master.client().info("replication")
            if info.get("connected_slaves", 0) < len(self.nodes) - 1:
                return False
            for port, _ in self.sentinels:
                reps = self._sentinel_client(port).execute_command("SENTINEL", "replicas", MASTER_NAME)
                flags = [dict(zip(r[::2], r[1::2])).get("flags", "") for r in reps]
                if any("down" in f or "disconnected" in f for f in flags):
                    return False
            return True
        wait_for(ready, timeout, interval=0.2)

    def stop_sentinels(self):
        for _, proc in self.sentinels:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)

    def close(self):
        self.stop_sentinels()
        for n in self.nodes:
            n.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class SentinelBroker(Sentinels):
    """A harness.Fleet broker (Fleet(..., broker=SentinelBroker)): the pairs
    and the CLI get the sentinel:// URL; client() is the current master."""

    def client(self):
        return redis.Redis(host="127.0.0.1", port=self.master_port(), decode_responses=False,
                           **tls_kwargs(self.pki))


# README's production layout ("A production Redis layout"): its [broker]
# block read from README.md, so the tests and bench/reconnect.py --tls keep it true.
SRCDIR = os.environ.get("CELERYROOT_SRCDIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
README = os.path.join(SRCDIR, "README.md")
USER = "celeryroot-daemon-web01"
PASSWORD = "s3ntinel-tls-test-pw"


def readme_broker_block():
    """The [broker] block of README's "A production Redis layout" as {key: value}."""
    with open(README) as f:
        text = f.read()
    section = text[text.index("## A production Redis layout"):]
    block = re.search(r"```\n\[broker\]\n(.*?)```", section, re.S).group(1)
    return dict(line.split(" = ", 1) for line in block.splitlines() if line.strip())


def layout_config(pki, ports, password_file):
    """README's block with our sentinels' ports, paths and master's name."""
    conf = readme_broker_block()
    names = re.findall(r"sentinel://(redis\d):26379", conf["url"])
    if len(names) != len(ports):
        raise AssertionError("README's layout names %d sentinels, the test runs %d" % (len(names), len(ports)))
    for name, port in zip(names, ports):
        conf["url"] = conf["url"].replace("%s:26379" % name, "127.0.0.1:%d" % port)
    subst = {"/etc/celeryroot/tls/ca.crt": pki.ca, "/etc/celeryroot/tls/web01.crt": pki.client[0],
             "/etc/celeryroot/tls/web01.key": pki.client[1], "/etc/celeryroot/redis-password": password_file,
             "mymaster": MASTER_NAME}
    return {k: subst.get(v, v) for k, v in conf.items()}


class TLSSentinelBroker(SentinelBroker):
    """SentinelBroker over TLS (pki set once per test class), with the
    README layout's ACL user in an ACL file every node loads, also when
    revived empty (ACLs do not replicate)."""
    pki = None

    def __init__(self):
        super().__init__(pki=self.pki, acl=["user default on nopass ~* &* +@all",
                                            "user %s on >%s ~* &* +@all" % (USER, PASSWORD)])
        self.password_file = os.path.join(self.root, "redis-password")
        with open(self.password_file, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(self.password_file, 0o600)
        self.config = layout_config(self.pki, [p for p, _ in self.sentinels], self.password_file)
        self.url = self.config["url"]


class LayoutFleet(Fleet):
    """Fleet on TLSSentinelBroker: pairs and CLI configured by the
    [broker] block from README (the CLI by the config file alone)."""

    def __init__(self, hosts, **kw):
        super().__init__(hosts, broker=self._broker, **kw)

    def _broker(self):
        b = TLSSentinelBroker()
        self.config.update({"broker." + k: v for k, v in b.config.items()})
        return b

    def cli(self, *args, env=None, timeout=60):
        e = {"CELERYROOT_CONFIG": self.config_path, "CELERYROOT_BROKER_URL": ""}
        e.update(env or {})
        return cli(*args, env=e, timeout=timeout)
