"""net is exec'd as its own program, celeryroot-net: it maps neither
libapt-pkg nor libstdc++ (priv does), it is confined (seccomp, no_new_privs,
its user, no capabilities, resource limits) before it reads a byte from
Redis, it cannot be started by hand with a forged hand-over, and
celeryrootd refuses a net program that others could have written."""
import fcntl
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import harness

NOBODY = pwd.getpwnam("nobody").pw_uid


def maps(pid):
    with open("/proc/%d/maps" % pid) as f:
        return f.read()


def status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def limits(pid):
    """{"Max processes": ("soft", "hard"), ...} from /proc/PID/limits."""
    out = {}
    with open("/proc/%d/limits" % pid) as f:
        for line in f.readlines()[1:]:
            name, rest = line[:26].strip(), line[26:].split()
            out[name] = (rest[0], rest[1])
    return out


NET_PROGRAM = os.path.join(harness.BUILDDIR, "celeryroot-net")


def needed(path):
    """The shared objects path names itself (DT_NEEDED)."""
    p = subprocess.run(["readelf", "-d", path], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", p.stdout)


def sanitized():
    """A --enable-sanitizers build: its runtime maps libstdc++ into every program."""
    return any(n.startswith(("libasan", "libubsan")) for n in needed(NET_PROGRAM))


def nofile_limit(nroles):
    # src/net/net_limits.c: 0-2, socketpair, syslog, command connection,
    # host queue, one per role, one spare.
    return 3 + 1 + 1 + 1 + 1 + nroles + 1


def child_of(ppid, comm):
    try:
        with open("/proc/%d/task/%d/children" % (ppid, ppid)) as f:
            kids = f.read().split()
    except OSError:
        return None
    for k in kids:
        try:
            with open("/proc/%s/comm" % k) as f:
                if f.read().strip() == comm:
                    return int(k)
        except OSError:
            pass
    return None


class RunningPair(unittest.TestCase):
    """A pair registered with a real Redis, idle."""

    @classmethod
    def setUpClass(cls):
        cls.fleet = harness.Fleet({"exec1": ["web"]})
        cls.fleet.__enter__()
        cls.pair = cls.fleet.pairs["exec1"]
        cls.net = cls.pair.net_pid()
        assert cls.net, cls.pair.log()

    @classmethod
    def tearDownClass(cls):
        cls.fleet.__exit__(None, None, None)

    def test_net_program_links_no_apt_and_no_cxx(self):
        own = needed(NET_PROGRAM)
        self.assertIn("libc.so.6", own)
        self.assertFalse([n for n in own if n.startswith(("libapt-pkg", "libstdc++"))], own)
        # It reads no configuration file, so it has no INI parser either.
        self.assertFalse([n for n in own if n.startswith("libinih")], own)
        self.assertTrue([n for n in needed(harness.daemon_path()) if n.startswith("libapt-pkg")])
        # Nor anything it loads: only a sanitizer runtime brings libstdc++.
        p = subprocess.run(["ldd", NET_PROGRAM], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("libapt-pkg", p.stdout)
        if not sanitized():
            self.assertNotIn("libstdc++", p.stdout)

    def test_net_maps_no_apt_and_no_cxx(self):
        net, priv = maps(self.net), maps(self.pair.pid)
        self.assertNotIn("libapt-pkg", net)
        if not sanitized():   # libasan itself needs libstdc++
            self.assertNotIn("libstdc++", net)
        # Sanity: the same check finds them in priv, which does APT.
        self.assertIn("libapt-pkg", priv)
        self.assertIn("libstdc++", priv)

    def test_net_runs_its_own_program(self):
        if harness.VALGRIND:
            self.skipTest("under valgrind /proc/PID/exe is memcheck")
        exe = os.readlink("/proc/%d/exe" % self.net)
        self.assertEqual(exe, os.path.join(harness.BUILDDIR, "celeryroot-net"))
        self.assertEqual(os.readlink("/proc/%d/exe" % self.pair.pid), harness.daemon_path())
        self.assertIn("(%s)" % exe, self.pair.log())
        self.assertRegex(self.pair.log(), r"confined: .*rlimits nproc 0, nofile %d, fsize 0"
                         % nofile_limit(1))

    def test_rlimits(self):
        lim = limits(self.net)
        self.assertEqual(lim["Max processes"], ("0", "0"))
        self.assertEqual(lim["Max file size"], ("0", "0"))
        n = nofile_limit(1)
        self.assertEqual(lim["Max open files"], (str(n), str(n)))
        # What an idle registered net holds: under the limit, with room for
        # a reconnect.  0-2, the socketpair, the command connection and one
        # blocking connection per queue (host and role web).
        fds = os.listdir("/proc/%d/fd" % self.net)
        self.assertEqual(len(fds), 7, fds)
        self.assertLess(len(fds), n)
        # priv is not limited like this (it forks workers and writes files).
        self.assertNotEqual(limits(self.pair.pid)["Max processes"], ("0", "0"))

    def test_net_holds_no_extra_descriptors(self):
        """Only stdio, the socketpair (fd 3) and sockets: the memfd is closed."""
        for fd in os.listdir("/proc/%d/fd" % self.net):
            target = os.readlink("/proc/%d/fd/%s" % (self.net, fd))
            if int(fd) > 2:
                self.assertTrue(target.startswith("socket:"), (fd, target))


class SilentBroker(unittest.TestCase):
    """A "Redis" that accepts and never answers: net connects and waits for
    its first reply, and by then it is already confined."""

    def setUp(self):
        harness.require_root()
        self.tmp = tempfile.mkdtemp(prefix="celeryroot-netexec.")
        self.root = harness.make_sandbox(os.path.join(self.tmp, "host"), [])
        self.config = os.path.join(self.tmp, "celeryroot.conf")
        with open(self.config, "w") as f:
            f.write("[daemon]\nheartbeat_interval = 1\n")
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.lsock.settimeout(15)
        self.proc = None

    def tearDown(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.communicate(timeout=10)
        self.lsock.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_confined_before_first_redis_read(self):
        port = self.lsock.getsockname()[1]
        self.proc = subprocess.Popen(
            [harness.daemon_path(), "--foreground", "--hostname", "silent", "--role", "web",
             "--sandbox", self.root, "--user", "nobody", "--config", self.config,
             "--broker", "redis://127.0.0.1:%d/0" % port],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        conn, _ = self.lsock.accept()
        conn.settimeout(10)
        try:
            first = conn.recv(4096)   # net's first command; it now waits for a reply
            self.assertTrue(first.startswith(b"*"), first)
            net = harness.wait_for(lambda: child_of(self.proc.pid, "celeryroot-net"), 5)
            self.assertTrue(net)
            st = status(net)
            self.assertEqual(st["Seccomp"], "2")
            self.assertEqual(st["NoNewPrivs"], "1")
            self.assertEqual(st["Uid"].split(), [str(NOBODY)] * 4)
            self.assertEqual(int(st["CapEff"], 16), 0)
            self.assertEqual(int(st["CapBnd"], 16), 0)
            lim = limits(net)
            self.assertEqual(lim["Max processes"], ("0", "0"))
            self.assertEqual(lim["Max file size"], ("0", "0"))
            self.assertEqual(lim["Max open files"], (str(nofile_limit(1)),) * 2)
            # Nothing has come back from "Redis": net has read no byte of it,
            # and it is still there, waiting.
            self.assertIsNone(self.proc.poll())
            self.assertTrue(os.path.exists("/proc/%d" % net))
        finally:
            conn.close()


class StartedByHand(unittest.TestCase):
    """celeryroot-net takes its socketpair and configuration only from
    celeryrootd: without them, or with an unsealed hand-over, it refuses."""

    NET = NET_PROGRAM

    def run_net(self, pass_fds=()):
        return subprocess.run([self.NET], pass_fds=pass_fds, capture_output=True, text=True, timeout=10)

    def test_no_descriptors(self):
        p = self.run_net()
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("not meant to be run by hand", p.stderr)

    def run_with(self, sock, boot):
        """celeryroot-net with sock as fd 3 and boot as fd 4."""
        hi_s, hi_b = fcntl.fcntl(sock, fcntl.F_DUPFD, 20), fcntl.fcntl(boot, fcntl.F_DUPFD, 20)
        try:
            return subprocess.run([self.NET], pass_fds=(3, 4, hi_s, hi_b), capture_output=True, text=True,
                                  timeout=10, preexec_fn=lambda: (os.dup2(hi_s, 3), os.dup2(hi_b, 4)))
        finally:
            os.close(hi_s)
            os.close(hi_b)

    def test_forged_handover(self):
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        unsealed = os.memfd_create("forged", os.MFD_ALLOW_SEALING)
        sealed = os.memfd_create("forged", os.MFD_ALLOW_SEALING)
        os.write(sealed, b"CRNB" * 64)
        fcntl.fcntl(sealed, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK |
                    fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE)
        plain = os.open(self.NET, os.O_RDONLY)
        try:
            for boot in (unsealed, sealed, plain):
                p = self.run_with(a.fileno(), boot)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn("sealed hand-over", p.stderr)
            # A stream socket is not celeryrootd's socketpair either.
            c, d = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            p = self.run_with(c.fileno(), sealed)
            c.close()
            d.close()
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("not meant to be run by hand", p.stderr)
            self.assertNotIn("sealed hand-over", p.stderr)
        finally:
            for fd in (unsealed, sealed, plain):
                os.close(fd)
            a.close()
            b.close()


class NetProgramChecks(unittest.TestCase):
    """celeryrootd runs only a celeryroot-net that nobody else could write:
    a build tree copied to a directory, then loosened one way at a time."""

    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.tmp = tempfile.mkdtemp(prefix="celeryroot-netprog.")
        cls.root = harness.make_sandbox(os.path.join(cls.tmp, "host"), [])
        cls.config = os.path.join(cls.tmp, "celeryroot.conf")
        with open(cls.config, "w") as f:
            f.write("[daemon]\n")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.bin = tempfile.mkdtemp(dir=self.tmp)
        os.chmod(self.bin, 0o755)
        for prog in ("celeryrootd", "celeryroot-net"):
            shutil.copy2(os.path.join(harness.BUILDDIR, prog), self.bin)
        self.net = os.path.join(self.bin, "celeryroot-net")

    def start(self):
        """(exit code, or None if it kept running; stderr)."""
        p = subprocess.Popen([os.path.join(self.bin, "celeryrootd"), "--foreground", "--hostname", "np",
                              "--sandbox", self.root, "--user", "nobody", "--config", self.config,
                              "--broker", "redis://127.0.0.1:1/0"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            _, err = p.communicate(timeout=3)
            return p.returncode, err
        except subprocess.TimeoutExpired:
            p.terminate()
            _, err = p.communicate(timeout=20)
            return None, err

    def test_sibling_is_used(self):
        rc, err = self.start()
        self.assertIsNone(rc, err)
        self.assertIn("(%s)" % self.net, err)
        self.assertRegex(err, r"net\[\d+\] net_confine: confined: .*rlimits nproc 0, nofile %d, fsize 0"
                         % nofile_limit(0))

    def test_missing(self):
        os.unlink(self.net)
        rc, err = self.start()
        self.assertEqual(rc, 1, err)
        self.assertIn(self.net, err)

    def test_group_writable(self):
        os.chmod(self.net, 0o775)
        rc, err = self.start()
        self.assertEqual(rc, 1, err)
        self.assertIn("refusing to run it as net", err)

    def test_other_owner(self):
        os.chown(self.net, NOBODY, 0)
        rc, err = self.start()
        self.assertEqual(rc, 1, err)
        self.assertIn("refusing to run it as net", err)

    def test_world_writable_directory(self):
        os.chmod(self.bin, 0o777)
        rc, err = self.start()
        self.assertEqual(rc, 1, err)
        self.assertIn("its directory is writable by others", err)


if __name__ == "__main__":
    unittest.main()
