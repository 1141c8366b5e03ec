"""Where the broker credentials come from, and what the logs say about them,
with a real Redis ACL user and real pairs: [broker] password_file (root's,
mode 600, refused otherwise with the chmod/chown that fixes it), the log
lines of net's link (which broker, which user, which mode, why it failed;
never the password), the warning when $CELERYROOT_BROKER_URL overrides the
daemon's config, and the separate default config files of the daemon and
the CLI (tried in a mount namespace whose /etc is an overlay, so the host's
/etc is never touched)."""
import os
import pwd
import re
import subprocess
import tempfile
import unittest

import harness

SECRET = "pw-from-file-7d1e"


class Credentials(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.tmp = tempfile.mkdtemp(prefix="celeryroot-cred.")
        cls.root = harness.make_sandbox(os.path.join(cls.tmp, "host"), [])
        cls.redis = harness.Redis()
        cls.redis.client().execute_command("ACL", "SETUSER", "cr", "on", ">" + SECRET, "~*", "&*", "+@all")
        cls.url = cls.redis.url                                   # no credentials in it
        cls.pwfile = cls.write("pw", SECRET + "\n", 0o600)

    @classmethod
    def tearDownClass(cls):
        cls.redis.close()
        subprocess.run(["rm", "-rf", cls.tmp])

    @classmethod
    def write(cls, name, text, mode=0o600, owner=0):
        path = os.path.join(cls.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        os.chown(path, owner, 0)
        return path

    def setUp(self):
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                p.communicate(timeout=20)

    def daemon(self, config, name, broker=None, env=None, prefix=()):
        args = list(prefix) + [harness.daemon_path(), "--foreground", "--hostname", name, "--sandbox", self.root,
                               "--user", "nobody"]
        args += ["--config", config] if config else []
        args += ["--broker", broker] if broker else []
        e = {k: v for k, v in os.environ.items() if not k.startswith("CELERYROOT_")}
        e.update(env or {})
        log = open(os.path.join(self.tmp, name + ".log"), "w+")
        with log:
            p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=e, text=True)
        self.procs.append(p)
        return p, log.name

    @staticmethod
    def text(path):
        with open(path, errors="replace") as f:
            return f.read()

    def registered(self, name):
        return self.redis.client().sismember("celeryroot:hosts", name)

    def test_password_file_and_link_log_lines(self):
        config = self.write("pwfile.conf", "[broker]\nusername = cr\npassword_file = %s\n" % self.pwfile, 0o644)
        p, log = self.daemon(config, "cred01", broker=self.url)
        harness.wait_for(lambda: self.registered("cred01"), 20)
        shown = "redis://cr:***@127.0.0.1:%d/0 as user cr, plain" % self.redis.port
        harness.wait_for(lambda: "connected to the broker " + shown in self.text(log), 10)
        # The link dropped: why, where, and back again, one line each.
        self.redis.client().execute_command("CLIENT", "KILL", "USER", "cr")
        harness.wait_for(lambda: re.search(r"connected to the broker %s after [0-9.]+ s" % re.escape(shown),
                                           self.text(log)), 20)
        text = self.text(log)
        self.assertRegex(text, r"broker link down: .+; reconnecting with backoff \(broker %s\)" % re.escape(shown))
        self.assertNotIn(SECRET, text)
        self.assertEqual(p.poll(), None, text)

    def test_refused_credentials_say_why_and_where(self):
        wrong = self.write("wrong", "not-the-password\n", 0o600)
        config = self.write("wrong.conf", "[broker]\nusername = cr\npassword_file = %s\n" % wrong, 0o644)
        p, log = self.daemon(config, "cred02", broker=self.url)
        shown = "(broker redis://cr:***@127.0.0.1:%d/0 as user cr, plain)" % self.redis.port
        harness.wait_for(lambda: "broker link down" in self.text(log), 20)
        text = self.text(log)
        self.assertRegex(text, r"broker link down: the broker refused our credentials.*" + re.escape(shown))
        self.assertNotIn("not-the-password", text)

    def test_password_file_modes_refused(self):
        nobody = pwd.getpwnam("nobody").pw_uid
        for mode, owner, expect in ((0o640, 0, "run 'chmod 600 "), (0o604, 0, "run 'chmod 600 "),
                                    (0o600, nobody, "run 'chown root ")):
            with self.subTest(mode=oct(mode), owner=owner):
                pw = self.write("pw-%o-%d" % (mode, owner), SECRET + "\n", mode, owner)
                config = self.write("modes.conf", "[broker]\nusername = cr\npassword_file = %s\n" % pw, 0o644)
                p, log = self.daemon(config, "cred03", broker=self.url)
                self.assertEqual(p.wait(10), 1)
                err = self.text(log)
                self.assertIn(expect + pw, err)
                self.assertEqual(len(err.strip().splitlines()), 1, err)
                self.assertNotIn(SECRET, err)
        config = self.write("both.conf", "[broker]\npassword = x\npassword_file = %s\n" % self.pwfile, 0o600)
        p, log = self.daemon(config, "cred03", broker=self.url)
        self.assertEqual(p.wait(10), 1)
        self.assertIn("both.conf:3: password and password_file are both set in [broker]", self.text(log))

    def test_environment_override_is_logged(self):
        config = self.write("env.conf", "[broker]\nurl = redis://other:cfg-secret@127.0.0.1:1/0\n", 0o600)
        env_url = "redis://cr:%s@127.0.0.1:%d/0" % (SECRET, self.redis.port)
        p, log = self.daemon(config, "cred04", env={"CELERYROOT_BROKER_URL": env_url})
        harness.wait_for(lambda: self.registered("cred04"), 20)
        text = self.text(log)
        self.assertIn("warning: $CELERYROOT_BROKER_URL (redis://cr:***@127.0.0.1:%d/0) overrides the broker url of "
                      "%s (redis://other:***@127.0.0.1:1/0)" % (self.redis.port, config), text)
        self.assertNotIn(SECRET, text)
        self.assertNotIn("cfg-secret", text)
        # --broker is the operator's own choice on the command line: no warning.
        p2, log2 = self.daemon(config, "cred05", broker=env_url, env={"CELERYROOT_BROKER_URL": env_url})
        harness.wait_for(lambda: self.registered("cred05"), 20)
        self.assertNotIn("overrides", self.text(log2))

    def test_password_never_in_ps_environ_or_client_list(self):
        """Attack (issue 14): the password given on the command line and in
        the environment is not on celeryrootd's command line (ps), not in
        net's command line or environment, not in Redis's CLIENT LIST, and
        net is not dumpable (its /proc files are root's)."""
        env_url = "redis://cr:%s@127.0.0.1:%d/0" % (SECRET, self.redis.port)
        p, log = self.daemon(None, "cred07", broker=env_url, env={"CELERYROOT_BROKER_URL": env_url})
        harness.wait_for(lambda: self.registered("cred07"), 20)

        def net_pid():
            with open("/proc/%d/task/%d/children" % (p.pid, p.pid)) as f:
                for k in f.read().split():
                    with open("/proc/%s/comm" % k) as c:
                        if c.read().strip() == "celeryroot-net":
                            return int(k)
            return None
        harness.wait_for(lambda: net_pid() is not None, 10)
        net = net_pid()
        for path in ("/proc/%d/cmdline" % p.pid, "/proc/%d/cmdline" % net, "/proc/%d/environ" % net):
            with open(path, "rb") as f:
                self.assertNotIn(SECRET.encode(), f.read(), path)
        with open("/proc/%d/cmdline" % p.pid, "rb") as f:
            self.assertIn(b"redis://cr:***@127.0.0.1", f.read())   # still says which broker
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        self.assertNotIn(SECRET, ps)
        self.assertNotEqual(os.stat("/proc/%d" % net).st_uid, 0)          # net runs unprivileged...
        self.assertEqual(os.stat("/proc/%d/environ" % net).st_uid, 0)     # ...and is not dumpable
        clients = self.redis.client().execute_command("CLIENT", "LIST")
        self.assertIn(b"user=cr", clients)
        self.assertNotIn(SECRET.encode(), clients)
        self.assertNotIn(SECRET, self.text(log))

    def test_shipped_daemon_example_with_a_password_file(self):
        with open(os.path.join(harness.SRCDIR, "contrib", "celeryrootd.conf.example")) as f:
            text = f.read()
        for old, new in (("url = redis://127.0.0.1:6379/0", "url = " + self.url),
                         ("; username = celeryroot-daemon-web01", "username = cr"),
                         ("; password_file = /etc/celeryroot/redis-password", "password_file = " + self.pwfile)):
            self.assertEqual(text.count(old), 1, old)
            text = text.replace(old, new)
        p, log = self.daemon(self.write("example.conf", text, 0o600), "cred06")
        harness.wait_for(lambda: self.registered("cred06"), 20)
        self.assertIn("as user cr, plain", self.text(log))

    def test_beat_says_which_broker_and_user(self):
        config = self.write("beat.conf", "[broker]\nurl = redis://127.0.0.1:1/0\nusername = cr\npassword_file = %s\n"
                            % self.pwfile, 0o600)
        e = {k: v for k, v in os.environ.items() if not k.startswith("CELERYROOT_")}
        p = subprocess.Popen([harness.cli_path(), "beat", "--config", config], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env=e)
        self.procs.append(p)
        shown = "redis://cr:***@127.0.0.1:1/0 as user cr, plain"
        try:
            out, _ = p.communicate(timeout=2)
        except subprocess.TimeoutExpired:
            p.terminate()
            out, _ = p.communicate(timeout=20)
        self.assertIn("on %s with the schedules of %s" % (shown, config), out)
        self.assertIn("cannot reach the broker at 127.0.0.1:1: Connection refused", out)
        self.assertIn("retrying (broker %s)" % shown, out)
        self.assertNotIn(SECRET, out)

    # ---- default files, in a private /etc ----------------------------------

    def etc_ns(self, files):
        """A command prefix that runs its command with /etc overlaid, holding
        files ({name under /etc/celeryroot: (text, mode)}), in its own mount
        namespace: the real /etc stays as it is."""
        stage = tempfile.mkdtemp(dir=self.tmp)
        os.mkdir(os.path.join(stage, "etc"), 0o755)
        for name, (text, mode) in files.items():
            path = os.path.join(stage, "etc", name)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, mode)
        script = ('set -e; mount -t tmpfs t "$1"; mkdir "$1/u" "$1/w"; '
                  'mount -t overlay overlay -o lowerdir=/etc,upperdir="$1/u",workdir="$1/w" /etc; '
                  'mkdir -p /etc/celeryroot; cp -a "$2/etc/." /etc/celeryroot/; shift 2; exec "$@"')
        mnt = tempfile.mkdtemp(dir=self.tmp)
        return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", mnt, stage]

    def test_daemon_reads_celeryrootd_conf(self):
        prefix = self.etc_ns({"celeryrootd.conf": ("[daemon]\nhostname = cred-d\n[broker]\nurl = %s\n" % self.url, 0o600),
                              "celeryroot.conf": ("[daemon]\nhostname = cred-cli\n", 0o644)})
        p, log = self.daemon_default(prefix, "d")
        harness.wait_for(lambda: self.registered("cred-d"), 20)
        self.assertNotIn("rename", self.text(log))
        self.assertFalse(self.registered("cred-cli"))

    def test_daemon_falls_back_to_celeryroot_conf_with_a_warning(self):
        prefix = self.etc_ns({"celeryroot.conf": ("[daemon]\nhostname = cred-old\n[broker]\nurl = %s\n" % self.url,
                                                  0o600)})
        p, log = self.daemon_default(prefix, "old")
        harness.wait_for(lambda: self.registered("cred-old"), 20)
        self.assertIn("warning: /etc/celeryroot/celeryrootd.conf is missing, reading /etc/celeryroot/celeryroot.conf "
                      "instead: rename it ('mv /etc/celeryroot/celeryroot.conf /etc/celeryroot/celeryrootd.conf')",
                      self.text(log))

    def daemon_default(self, prefix, tag):
        """celeryrootd with no --config and no --hostname (the config names it)."""
        args = list(prefix) + [harness.daemon_path(), "--foreground", "--sandbox", self.root, "--user", "nobody"]
        e = {k: v for k, v in os.environ.items() if not k.startswith("CELERYROOT_")}
        log = open(os.path.join(self.tmp, "default-%s.log" % tag), "w+")
        with log:
            p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=e, text=True)
        self.procs.append(p)
        return p, log.name

    def test_cli_never_reads_the_daemons_file(self):
        daemon_conf = "[broker]\nurl = redis://cr:%s@127.0.0.1:%d/0\n" % (SECRET, self.redis.port)
        home = tempfile.mkdtemp(dir=self.tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CELERYROOT_") and k != "XDG_CONFIG_HOME"}
        env["HOME"] = home

        def hosts(files, **extra):
            e = dict(env, **extra)
            p = subprocess.run(self.etc_ns(files) + [harness.cli_path(), "hosts"], capture_output=True, text=True,
                               env=e, timeout=60)
            return p.returncode, p.stderr

        # Only the daemon's file: the CLI does not log in with its password.
        code, err = hosts({"celeryrootd.conf": (daemon_conf, 0o600),
                           "celeryroot.conf": ("[broker]\nurl = redis://127.0.0.1:1/0\n", 0o644)})
        self.assertEqual(code, 4, err)
        self.assertIn("cannot reach the broker at 127.0.0.1:1", err)
        self.assertIn("[broker redis://127.0.0.1:1/0 as user default, plain; config /etc/celeryroot/celeryroot.conf]",
                      err)
        self.assertNotIn(SECRET, err)
        # The operator's own file wins over /etc's ...
        os.makedirs(os.path.join(home, ".config", "celeryroot"))
        own = os.path.join(home, ".config", "celeryroot", "celeryroot.conf")
        with open(own, "w") as f:
            f.write("[broker]\nurl = redis://127.0.0.1:2/0\n")
        code, err = hosts({"celeryroot.conf": ("[broker]\nurl = redis://127.0.0.1:1/0\n", 0o644)})
        self.assertIn("127.0.0.1:2/0 as user default, plain; config %s]" % own, err)
        # ... $CELERYROOT_CONFIG over both (and it must exist) ...
        named = self.write("named.conf", "[broker]\nurl = redis://127.0.0.1:3/0\n", 0o644)
        code, err = hosts({}, CELERYROOT_CONFIG=named)
        self.assertIn("config %s]" % named, err)
        code, err = hosts({}, CELERYROOT_CONFIG=named + ".missing")
        self.assertEqual(code, 4, err)   # as any config the CLI cannot use: nothing sent
        self.assertIn("cannot read %s.missing" % named, err)
        # ... and an operator's own password_file (group-readable is fine, world-readable is not).
        pw = self.write("op-pw", SECRET + "\n", 0o640)
        with open(own, "w") as f:
            f.write("[broker]\nurl = %s\nusername = cr\npassword_file = %s\n" % (self.url, pw))
        code, err = hosts({})
        self.assertEqual(code, 0, err)
        os.chmod(pw, 0o644)
        code, err = hosts({})
        self.assertEqual(code, 4, err)
        self.assertIn("run 'chmod 600 %s'" % pw, err)


if __name__ == "__main__":
    unittest.main()
