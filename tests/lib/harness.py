"""Integration test harness: real Redis on a free loopback port, real
celeryrootd pairs on dpkg sandbox hosts, and the built CLI.

Run with Debian's /usr/bin/python3 (python3-redis, python3-celery)."""
import atexit
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
    """Fails (never skips) the calling test: a skipped suite would look green."""
    if os.geteuid() != 0:
        raise AssertionError("integration tests start celeryrootd pairs and dpkg sandboxes, "
                             "which need root: run 'make check' as root")


def cli_path():
    return os.path.join(BUILDDIR, "celeryroot")


def daemon_path():
    return os.path.join(BUILDDIR, "celeryrootd")


# CELERYROOT_VALGRIND=1: the daemons and the CLI that the harness starts run
# under valgrind's memcheck (tools/hardening-check.sh valgrind), and so does
# the net program celeryrootd execs from the build tree.  System programs
# they exec (dpkg, apt's methods, maintainer scripts: anything under /usr,
# /bin, /sbin, /lib) run natively; priv's forked workers stay under it.
# --vgdb=no: valgrind would unlink its gdbserver FIFOs at exit, a system
# call net's seccomp allowlist ends it for.  Any error, or a definite leak, fails the test.
# CELERYROOT_VALGRIND_OPTS adds options (--gen-suppressions=all, --track-origins=yes).
VALGRIND = os.environ.get("CELERYROOT_VALGRIND", "") not in ("", "0")
VALGRIND_EXIT = 97
_valgrind_dir = None


def valgrind_prefix(log_dir, name):
    """The command prefix that runs a program under memcheck (empty when not
    asked for); each process logs to log_dir/name.vg.<pid>."""
    if not VALGRIND:
        return []
    return ["valgrind", "--tool=memcheck", "--trace-children=yes",
            "--trace-children-skip=/usr/*,/bin/*,/sbin/*,/lib/*,/lib64/*", "--vgdb=no", "--child-silent-after-fork=no",
            "--error-exitcode=%d" % VALGRIND_EXIT, "--leak-check=full",
            "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite",
            "--num-callers=30", "--suppressions=" + os.path.join(SRCDIR, "tests", "valgrind.supp"),
            "--log-file=" + os.path.join(log_dir, name + ".vg.%p")] + \
        os.environ.get("CELERYROOT_VALGRIND_OPTS", "").split()


def valgrind_reports(log_dir, name=""):
    """The memcheck logs under log_dir (of processes name*) that found errors."""
    found = []
    if not VALGRIND or not os.path.isdir(log_dir):
        return found
    for entry in sorted(os.listdir(log_dir)):
        if not entry.startswith(name) or ".vg." not in entry:
            continue
        with open(os.path.join(log_dir, entry), errors="replace") as f:
            text = f.read()
        summary = [line for line in text.splitlines() if "ERROR SUMMARY:" in line]
        if any(not line.split("ERROR SUMMARY:")[1].strip().startswith("0 errors") for line in summary):
            found.append((entry, text))
    return found


def _cli_valgrind_dir():
    global _valgrind_dir
    if _valgrind_dir is None:
        _valgrind_dir = tempfile.mkdtemp(prefix="celeryroot-vg.")
        atexit.register(shutil.rmtree, _valgrind_dir, True)
    return _valgrind_dir


# Outside any fleet too, a test's celeryroot never reads or writes root's
# own known_hosts.
if "CELERYROOT_KNOWN_HOSTS" not in os.environ:
    _kh_dir = tempfile.mkdtemp(prefix="celeryroot-kh.")
    atexit.register(shutil.rmtree, _kh_dir, True)
    os.environ["CELERYROOT_KNOWN_HOSTS"] = os.path.join(_kh_dir, "known_hosts")


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


def cli(*args, url=None, env=None, timeout=60):
    """Runs the built celeryroot; returns (rc, stdout, stderr)."""
    e = dict(os.environ)
    if url:
        e["CELERYROOT_BROKER_URL"] = url
    e.update(env or {})
    vg = valgrind_prefix(_cli_valgrind_dir(), "cli") if VALGRIND else []
    p = subprocess.run(vg + [cli_path()] + list(args), capture_output=True, text=True, env=e,
                       timeout=timeout * (4 if vg else 1))
    if vg:
        reports = valgrind_reports(_valgrind_dir, "cli")
        for name in os.listdir(_valgrind_dir):
            os.unlink(os.path.join(_valgrind_dir, name))
        if reports or p.returncode == VALGRIND_EXIT:
            raise AssertionError("valgrind: errors in celeryroot %s\n%s"
                                 % (" ".join(args), "\n".join(t for _, t in reports)))
    return p.returncode, p.stdout, p.stderr


def trusted_key(directory, name="alice"):
    """An operator key made by 'celeryroot key generate NAME' in directory,
    its public half moved into directory/trusted (what a daemon's
    trusted_keys names).  Returns (the trusted directory, NAME.key's path)."""
    trusted = os.path.join(directory, "trusted")
    os.makedirs(trusted, exist_ok=True)
    code, out, err = cli("key", "generate", name, "--dir", directory)
    assert code == 0, err
    os.rename(os.path.join(directory, name + ".pub"), os.path.join(trusted, name + ".pub"))
    return trusted, os.path.join(directory, name + ".key")


def wait_registered(redis_, hosts, timeout=15):
    """Waits until every host is in the registry set with a running record."""
    r = redis_.client()

    def ready():
        members = r.smembers("celeryroot:hosts")
        for h in hosts:
            rec = r.get("celeryroot:host:" + h)
            if h.encode() not in members or rec is None or \
                    json.loads(rec).get("state") != "running":
                return False
        return True
    wait_for(ready, timeout)


def processes_mentioning(text):
    """Pids whose command line contains text (a temp dir: our strays)."""
    found = []
    needle = text.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                if needle in f.read():
                    found.append(int(entry))
        except OSError:
            pass
    return found


def kill_strays(text):
    for pid in processes_mentioning(text):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def make_sandbox(root, sources):
    args = [cli_path(), "sandbox", "create", root]
    for s in sources:
        args += ["--source", s]
    p = subprocess.run(args, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return root


def deb_tree(build, pkg, kind="test"):
    """The tree of pkg's .deb under build: DEBIAN/control (name, version,
    depends) and pkg's files ({path: content}, a README when it has none).
    Returns the tree's root."""
    root = os.path.join(build, "%s-%s" % (pkg["name"], pkg["version"]))
    os.makedirs(os.path.join(root, "DEBIAN"))
    control = ["Package: %s" % pkg["name"], "Version: %s" % pkg["version"],
               "Architecture: all", "Maintainer: Celeryroot tests <t@celeryroot.invalid>"]
    if pkg.get("depends"):
        control.append("Depends: %s" % pkg["depends"])
    # More relations, as control lines: {"Conflicts": "pkg"}.
    for field, value in (pkg.get("control") or {}).items():
        control.append("%s: %s" % (field, value))
    # Issue 15's guards and holds: conflicts, Essential, Priority.
    for key, field in (("conflicts", "Conflicts"), ("essential", "Essential"), ("priority", "Priority")):
        if pkg.get(key):
            control.append("%s: %s" % (field, pkg[key]))
    control.append("Description: %s package %s" % (kind, pkg["name"]))
    with open(os.path.join(root, "DEBIAN", "control"), "w") as f:
        f.write("\n".join(control) + "\n")
    files = pkg.get("files") or {"usr/share/doc/%s/README" % pkg["name"]: pkg["name"] + "\n"}
    for rel, content in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(content)
    return root


def deb_script(root, name, text):
    """A maintainer script (preinst, postinst...) of the tree at root."""
    path = os.path.join(root, "DEBIAN", name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)


def deb_build(root, directory, pkg, *opts):
    """The .deb of the tree at root, into directory, as NAME_VERSION_all.deb."""
    deb = os.path.join(directory, "%s_%s_all.deb" % (pkg["name"], pkg["version"]))
    subprocess.run(["dpkg-deb", "--root-owner-group"] + list(opts) + ["-b", root, deb], check=True,
                   stdout=subprocess.DEVNULL)


def _phase(index, packages):
    """Ubuntu's archive says Phased-Update-Percentage in the index, not in the .deb."""
    with open(index) as f:
        stanzas = [s.strip("\n") for s in f.read().split("\n\n") if s.strip()]
    for p in packages:
        head = "Package: %s\nVersion: %s\n" % (p["name"], p["version"])
        if "phased" in p:
            stanzas = [s + "\nPhased-Update-Percentage: %d" % p["phased"] if s.startswith(head) else s
                       for s in stanzas]
    with open(index, "w") as f:
        f.write("\n\n".join(stanzas) + "\n")


def build_repo(directory, packages, security=False):
    """packages: dicts with name, version, depends, control ({field: value}), preinst_fail,
    postinst_fail, preinst_sleep (seconds), files ({path: content}; those under etc/ become
    conffiles), phased (the index's Phased-Update-Percentage for that version)."""
    os.makedirs(directory, exist_ok=True)
    with tempfile.TemporaryDirectory() as build:
        for pkg in packages:
            root = deb_tree(build, pkg)
            if pkg.get("preinst_sleep"):
                deb_script(root, "preinst", "#!/bin/sh\nsleep %s\n" % pkg["preinst_sleep"])
            elif pkg.get("preinst_fail"):
                deb_script(root, "preinst", "#!/bin/sh\necho 'preinst refuses on purpose' >&2\nexit 1\n")
            if pkg.get("postinst_fail"):
                deb_script(root, "postinst", "#!/bin/sh\n[ \"$1\" = configure ] || exit 0\n"
                           "echo 'postinst refuses on purpose' >&2\nexit 1\n")
            conffiles = [rel for rel in pkg.get("files") or {} if rel.startswith("etc/")]
            if conffiles:
                with open(os.path.join(root, "DEBIAN", "conffiles"), "w") as f:
                    f.write("".join("/%s\n" % rel for rel in conffiles))
            deb_build(root, directory, pkg)
    with open(os.path.join(directory, "Packages"), "wb") as f:
        subprocess.run(["dpkg-scanpackages", "-m", "."], cwd=directory, check=True, stdout=f,
                       stderr=subprocess.DEVNULL)
    if any("phased" in p for p in packages):
        _phase(os.path.join(directory, "Packages"), packages)
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
    """A private redis-server on a free loopback port, in its own temp dir.
    appendonly=True keeps its data across stop/start (an AOF written with
    appendfsync always, as a broker that must not lose jobs would be run);
    by default it comes back empty."""

    def __init__(self, appendonly=False):
        self.appendonly = appendonly
        self.dir = tempfile.mkdtemp(prefix="celeryroot-redis.")
        self.proc = None
        for attempt in range(5):   # the free port can be taken before we bind it
            self.port = free_port()
            self.url = "redis://127.0.0.1:%d/0" % self.port
            if self._launch():
                return
        log = self._log()
        shutil.rmtree(self.dir, ignore_errors=True)
        raise AssertionError("redis-server did not start: " + log)

    def _launch(self):
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""] +
            (["--appendonly", "yes", "--appendfsync", "always"] if self.appendonly else ["--appendonly", "no"]) +
            ["--protected-mode", "yes", "--dir", self.dir,
             "--enable-debug-command", "local",
             "--logfile", os.path.join(self.dir, "log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: self.proc.poll() is not None or self._ping(), 10)
        except AssertionError:
            pass
        if self._ping():
            return True
        self.stop()
        return False

    def start(self):
        """(Re)starts on the same port and url, empty unless appendonly."""
        if not self._launch():
            raise AssertionError("redis-server did not restart on port %d: %s"
                                 % (self.port, self._log()))

    def restart(self):
        self.stop()
        self.start()

    def _log(self):
        try:
            return open(os.path.join(self.dir, "log"), errors="replace").read()[-2000:]
        except OSError:
            return "(no log)"

    def _ping(self):
        try:
            return self.client().ping()
        except redis.exceptions.ConnectionError:
            return False

    def client(self):
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=False)

    def stop(self):
        """SIGKILL: nothing is saved beyond what the append-only file holds."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def terminate(self):
        """SIGTERM: Redis's own clean shutdown."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)

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
        vg = valgrind_prefix(os.path.dirname(self.log_path), self.name)
        args = vg + [daemon_path(), "--foreground", "--hostname", self.name]
        for r in self.roles:
            args += ["--role", r]
        args += ["--sandbox", self.root, "--broker", self.redis_url, "--user", "nobody",
                 "--config", self.config_path]
        # Through a pipe (cat appends it to the log), as under systemd: with
        # stdout or stderr a regular file, net could not take RLIMIT_FSIZE 0.
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._relay = subprocess.Popen(["cat"], stdin=self.proc.stdout, stdout=log)
        self.proc.stdout.close()
        log.close()

    def _drain(self):
        """Waits for the log relay to write what the pair said last (a
        process the pair left behind may keep the pipe open: not for ever)."""
        relay = getattr(self, "_relay", None)
        if relay is None:
            return
        try:
            relay.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self._relay = None

    def _find_net(self):
        try:
            with open("/proc/%d/task/%d/children" % (self.pid, self.pid)) as f:
                kids = f.read().split()
        except OSError:
            return None
        for k in kids:
            try:
                with open("/proc/%s/comm" % k) as f:
                    if f.read().strip() == "celeryroot-net":
                        return int(k)
            except OSError:
                pass
        return None

    def net_pid(self):
        """The unprivileged child (waits up to 5 s for it to appear)."""
        return wait_for(self._find_net, 5)

    def wait(self, timeout):
        return self.proc.wait(timeout)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()
            rc = self.proc.returncode
        self._drain()
        return rc

    def kill(self):
        """SIGKILL to net, then priv: nothing gets to clean up or ack."""
        if self.proc is None or self.proc.poll() is not None:
            return
        net = self._find_net()
        if net:
            try:
                os.kill(net, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.kill()
        self.proc.wait(10)
        self._drain()

    def log(self):
        if self.proc is not None and self.proc.poll() is not None:
            self._drain()
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


class Fleet:
    """Redis + one sandbox host and pair per entry of hosts {name: [roles]}."""

    def __init__(self, hosts, config=None, sources=None, packages=None, security=False, prepare=None,
                 appendonly=False, redis_factory=None, broker=None):
        """config: overrides, "key" for [daemon] or "section.key"; packages:
        build_repo dicts for a repository in the fleet's temp dir, added to
        sources; prepare(redis) runs before any pair starts and may return
        {host: broker URL} for pairs that log in as their own user;
        appendonly: the Redis keeps its data across a restart;
        redis_factory(appendonly): another broker (tlsredis.TLSRedis);
        broker: a factory for something else in the Redis's place (with
        url, client() and close(): sentinels.SentinelBroker)."""
        self.broker = broker
        self.appendonly = appendonly
        self.redis_factory = redis_factory or (lambda appendonly: Redis(appendonly=appendonly))
        self.hosts = hosts
        self.config = config or {}
        self.sources = list(sources or [])
        self.packages = packages
        self.security = security
        self.prepare = prepare
        self.pairs = {}
        self.redis = None
        self.tmp = None

    def write_config(self):
        sections = {"daemon": {"heartbeat_interval": 1}}
        for key, value in self.config.items():
            section, _, name = key.rpartition(".")
            sections.setdefault(section or "daemon", {})[name] = value
        self.config_path = os.path.join(self.tmp, "celeryroot.conf")
        with open(self.config_path, "w") as f:
            for section, items in sections.items():
                f.write("[%s]\n" % section)
                f.writelines("%s = %s\n" % kv for kv in items.items())

    def __enter__(self):
        require_root()
        self.tmp = tempfile.mkdtemp(prefix="celeryroot-test.")
        # Each fleet's hosts make new host keys: the CLI keeps what it learns
        # of them in the fleet's own known_hosts (for every celeryroot the
        # test starts while the fleet runs), never in root's.
        self.known_hosts = os.path.join(self.tmp, "known_hosts")
        self._known_hosts_was = os.environ.get("CELERYROOT_KNOWN_HOSTS")
        os.environ["CELERYROOT_KNOWN_HOSTS"] = self.known_hosts
        try:
            self.redis = self.broker() if self.broker else self.redis_factory(self.appendonly)
            urls = (self.prepare(self.redis) if self.prepare else None) or {}
            self.write_config()
            if self.packages:
                self.repo = os.path.join(self.tmp, "repo")
                self.sources.append(build_repo(self.repo, self.packages, self.security))
            for name, roles in self.hosts.items():
                root = make_sandbox(os.path.join(self.tmp, "hosts", name), self.sources)
                pair = Pair(name, roles, root, urls.get(name, self.redis.url), self.config_path,
                            os.path.join(self.tmp, name + ".log"))
                pair.start()
                self.pairs[name] = pair
            self.wait_registered(list(self.hosts))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def wait_registered(self, names, timeout=15):
        try:
            wait_registered(self.redis, names, timeout)
        except AssertionError:
            for p in self.pairs.values():
                sys.stderr.write("--- %s ---\n%s\n" % (p.name, p.log()[-3000:]))
            raise

    def __exit__(self, *exc):
        if getattr(self, "_known_hosts_was", None) is not None:
            os.environ["CELERYROOT_KNOWN_HOSTS"] = self._known_hosts_was
        else:
            os.environ.pop("CELERYROOT_KNOWN_HOSTS", None)
        for p in self.pairs.values():
            try:
                p.stop()
            except Exception:
                p.kill()
        if exc and exc[0] is not None:
            for p in self.pairs.values():
                sys.stderr.write("--- %s ---\n%s\n" % (p.name, p.log()[-3000:]))
        # In a sanitizer build, a report in any daemon's log fails the test;
        # under valgrind, so does any memcheck error of priv, net or a worker.
        reports = [p.name for p in self.pairs.values()
                   if any(m in p.log() for m in ("ERROR: AddressSanitizer", "runtime error:"))]
        vg_reports = valgrind_reports(self.tmp) if self.tmp else []
        if self.redis:
            self.redis.close()
        if self.tmp:
            # Anything still naming our temp dir (an orphaned net, a dpkg) goes too.
            kill_strays(self.tmp)
            for name in reports:
                sys.stderr.write("--- sanitizer report from %s ---\n%s\n" % (name, self.pairs[name].log()[-6000:]))
            for entry, text in vg_reports:
                sys.stderr.write("--- valgrind report %s ---\n%s\n" % (entry, text[-12000:]))
            shutil.rmtree(self.tmp, ignore_errors=True)
        if reports and not (exc and exc[0] is not None):
            raise AssertionError("sanitizer reports in the logs of " + ", ".join(reports))
        if vg_reports and not (exc and exc[0] is not None):
            raise AssertionError("valgrind errors in " + ", ".join(e for e, _ in vg_reports))
        return False

    def cli(self, *args, env=None, timeout=60):
        return cli(*args, url=self.redis.url, env=env, timeout=timeout)

    def send_raw(self, host, task, args=None, kwargs=None, queue=None, priority_suffix="",
                 headers=None, group=None, task_id=None):
        """LPUSHes an envelope built the way Python Celery builds one (to the
        priority sub-list queue + priority_suffix, as kombu does); headers
        are added to the message's headers."""
        task_id = task_id or str(uuid.uuid4())
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
        env["headers"]["group"] = group
        env["headers"].update(headers or {})
        self.redis.client().lpush(queue + priority_suffix, json.dumps(env))
        return task_id


# Package arguments that every layer must refuse (CLI, net, priv): option
# injection, shell syntax, spaces, upper case, look-alike unicode, empty,
# too long, paths, patterns.
HOSTILE_PKGS = [
    "-oAPT::Get::Force=1", "--allow-downgrades", "--allow-unauthenticated", "-y",
    "nginx;rm -rf /", "$(reboot)", "`id`", "nginx&&reboot", "nginx|true", "nginx>out",
    "nginx curl", "nginx\t", "nginx\n", "Nginx", "ng\u0456nx", "\uff4e\uff47\uff49\uff4e\uff58",
    "", "a", "x" * 200, "nginx:", "nginx=", "nginx=abc", "nginx=1.0;id", "nginx:amd64:x",
    "../../etc/passwd", "/etc/shadow", "*", "nginx*",
]


def fault_trials(default=1):
    """How many times a fault test repeats its fault: 1 in 'make check',
    more in 'make check-faults' (CELERYROOT_FAULT_TRIALS)."""
    try:
        return max(1, int(os.environ.get("CELERYROOT_FAULT_TRIALS", default)))
    except ValueError:
        return default


def figure(fault, trials, **counts):
    """One line of the figures 'make check-faults' collects from the logs:
    FIGURE <fault> trials=N key=value ..."""
    parts = ["FIGURE", fault.replace(" ", "_"), "trials=%d" % trials]
    parts += ["%s=%s" % (k, ("%.3f" % v) if isinstance(v, float) else v) for k, v in counts.items()]
    line = " ".join(parts)
    # On a line of its own: unittest's progress dots go to the same log
    # without a newline, and check-faults greps for lines starting FIGURE.
    sys.stderr.flush()
    print("\n" + line, flush=True)
    return line
