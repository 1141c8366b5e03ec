"""Integration test harness: real Redis on a free loopback port, real
celeryrootd pairs on dpkg sandbox hosts, and the built CLI.

Run with Debian's /usr/bin/python3 (python3-redis, python3-celery)."""
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import redis

BUILDDIR = os.environ.get("CELERYROOT_BUILDDIR", os.getcwd())
SRCDIR = os.environ.get("CELERYROOT_SRCDIR", BUILDDIR)
REDIS_SERVER = os.environ.get("REDIS_SERVER", "/usr/bin/redis-server")


def require_root():
    if os.geteuid() != 0:
        raise RuntimeError("integration tests start celeryrootd pairs and dpkg sandboxes: "
                           "run make check as root")


def cli_path():
    return os.path.join(BUILDDIR, "celeryroot")


def daemon_path():
    return os.path.join(BUILDDIR, "celeryrootd")


def wire_sample():
    return os.path.join(SRCDIR, "tests", "data", "task-message.json")


def wait_for(fn, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within %.1f s" % timeout)
        time.sleep(interval)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_sandbox(root, sources):
    args = [cli_path(), "sandbox", "create", root]
    for s in sources:
        args += ["--source", s]
    p = subprocess.run(args, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return root


def build_repo(directory, packages, security=False):
    """packages: dicts with name, version, depends, preinst_fail, files."""
    os.makedirs(directory, exist_ok=True)
    with tempfile.TemporaryDirectory() as build:
        for pkg in packages:
            root = os.path.join(build, "%s-%s" % (pkg["name"], pkg["version"]))
            os.makedirs(os.path.join(root, "DEBIAN"))
            control = ["Package: %s" % pkg["name"], "Version: %s" % pkg["version"],
                       "Architecture: all", "Maintainer: Celeryroot tests <t@celeryroot.invalid>"]
            if pkg.get("depends"):
                control.append("Depends: %s" % pkg["depends"])
            control.append("Description: test package %s" % pkg["name"])
            with open(os.path.join(root, "DEBIAN", "control"), "w") as f:
                f.write("\n".join(control) + "\n")
            if pkg.get("preinst_fail"):
                path = os.path.join(root, "DEBIAN", "preinst")
                with open(path, "w") as f:
                    f.write("#!/bin/sh\necho 'preinst refuses on purpose' >&2\nexit 1\n")
                os.chmod(path, 0o755)
            files = pkg.get("files") or {"usr/share/doc/%s/README" % pkg["name"]: pkg["name"] + "\n"}
            for rel, content in files.items():
                path = os.path.join(root, rel)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as f:
                    f.write(content)
            deb = os.path.join(directory, "%s_%s_all.deb" % (pkg["name"], pkg["version"]))
            subprocess.run(["dpkg-deb", "--root-owner-group", "-b", root, deb], check=True,
                           stdout=subprocess.DEVNULL)
    with open(os.path.join(directory, "Packages"), "wb") as f:
        subprocess.run(["dpkg-scanpackages", "-m", "."], cwd=directory, check=True, stdout=f,
                       stderr=subprocess.DEVNULL)
    if security:
        opts = []
        for k, v in (("Origin", "Debian"), ("Label", "Debian-Security"),
                     ("Suite", "bookworm-security"), ("Codename", "bookworm-security")):
            opts += ["-o", "APT::FTPArchive::Release::%s=%s" % (k, v)]
        with open(os.path.join(directory, "Release"), "wb") as f:
            subprocess.run(["apt-ftparchive"] + opts + ["release", "."], cwd=directory,
                           check=True, stdout=f)
    return "deb [trusted=yes] file:%s ./" % directory


class Redis:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="celeryroot-redis.")
        self.port = free_port()
        self.url = "redis://127.0.0.1:%d/0" % self.port
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--logfile", os.path.join(self.dir, "log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._ping, 10)

    def _ping(self):
        try:
            return self.client().ping()
        except redis.exceptions.ConnectionError:
            return False

    def client(self):
        return redis.Redis(host="127.0.0.1", port=self.port)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Pair:
    def __init__(self, name, roles, root, redis_url, config_path, log_path):
        self.name, self.roles, self.root = name, roles, root
        self.redis_url, self.config_path, self.log_path = redis_url, config_path, log_path
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid

    def start(self):
        args = [daemon_path(), "--foreground", "--hostname", self.name]
        for r in self.roles:
            args += ["--role", r]
        args += ["--sandbox", self.root, "--broker", self.redis_url, "--user", "nobody",
                 "--config", self.config_path]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=log)
        log.close()

    def net_pid(self):
        def find():
            try:
                kids = open("/proc/%d/task/%d/children" % (self.pid, self.pid)).read().split()
            except OSError:
                return None
            for k in kids:
                try:
                    if open("/proc/%s/comm" % k).read().strip() == "celeryroot-net":
                        return int(k)
                except OSError:
                    pass
            return None
        return wait_for(find, 5)

    def wait(self, timeout):
        return self.proc.wait(timeout)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.proc.returncode

    def kill(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            net = self.net_pid()
            os.kill(net, signal.SIGKILL)
        except (AssertionError, ProcessLookupError):
            pass
        self.proc.kill()
        self.proc.wait(10)

    def log(self):
        try:
            return open(self.log_path, errors="replace").read()
        except OSError:
            return ""


class Fleet:
    """Redis + one sandbox host and pair per entry of hosts {name: [roles]}."""

    def __init__(self, hosts, config=None, sources=None):
        self.hosts = hosts
        self.config = config or {}
        self.sources = sources or []
        self.pairs = {}
        self.redis = None
        self.tmp = None

    def __enter__(self):
        require_root()
        self.tmp = tempfile.mkdtemp(prefix="celeryroot-test.")
        try:
            self.redis = Redis()
            self.config_path = os.path.join(self.tmp, "celeryroot.conf")
            lines = ["[daemon]", "heartbeat_interval = 1"]
            lines += ["%s = %s" % kv for kv in self.config.items()]
            with open(self.config_path, "w") as f:
                f.write("\n".join(lines) + "\n")
            for name, roles in self.hosts.items():
                root = make_sandbox(os.path.join(self.tmp, "hosts", name), self.sources)
                pair = Pair(name, roles, root, self.redis.url, self.config_path,
                            os.path.join(self.tmp, name + ".log"))
                pair.start()
                self.pairs[name] = pair
            self.wait_registered(list(self.hosts))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def wait_registered(self, names, timeout=15):
        r = self.redis.client()

        def ready():
            for n in names:
                rec = r.get("celeryroot:host:" + n)
                if rec is None or json.loads(rec).get("state") != "running":
                    return False
            return True
        try:
            wait_for(ready, timeout)
        except AssertionError:
            for p in self.pairs.values():
                sys.stderr.write("--- %s ---\n%s\n" % (p.name, p.log()[-3000:]))
            raise

    def __exit__(self, *exc):
        for p in self.pairs.values():
            try:
                p.stop()
            except Exception:
                p.kill()
        if exc and exc[0] is not None:
            for p in self.pairs.values():
                sys.stderr.write("--- %s ---\n%s\n" % (p.name, p.log()[-3000:]))
        if self.redis:
            self.redis.close()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False

    def cli(self, *args, env=None, timeout=60):
        e = dict(os.environ, CELERYROOT_BROKER_URL=self.redis.url)
        e.update(env or {})
        p = subprocess.run([cli_path()] + list(args), capture_output=True, text=True, env=e,
                           timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def send_raw(self, host, task, args=None, kwargs=None, queue=None, priority_suffix=""):
        """LPUSHes an envelope built the way Python Celery builds one (to the
        priority sub-list queue + priority_suffix, as kombu does)."""
        task_id = str(uuid.uuid4())
        queue = queue or "host." + host
        body = [args or [], kwargs or {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}]
        env = {
            "body": base64.b64encode(json.dumps(body).encode()).decode(),
            "content-encoding": "utf-8", "content-type": "application/json",
            "headers": {"lang": "py", "task": task, "id": task_id, "shadow": None, "eta": None,
                        "expires": None, "group": None, "group_index": None, "retries": 0,
                        "timelimit": [None, None], "root_id": task_id, "parent_id": None,
                        "argsrepr": repr(args or []), "kwargsrepr": repr(kwargs or {}),
                        "origin": "harness", "ignore_result": False},
            "properties": {"correlation_id": task_id, "reply_to": str(uuid.uuid4()),
                           "delivery_mode": 2,
                           "delivery_info": {"exchange": "", "routing_key": queue},
                           "priority": 0, "body_encoding": "base64",
                           "delivery_tag": str(uuid.uuid4())},
        }
        self.redis.client().lpush(queue + priority_suffix, json.dumps(env))
        return task_id
