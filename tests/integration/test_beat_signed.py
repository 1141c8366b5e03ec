"""Issue 12, item 1: beat must not sign whatever Redis says.

The hosts require signed tasks and trust only beat's key; beat fires
runtime schedules only when a key in its own trusted keys signed them.
Everyone works as the Redis ACL user 'celeryroot acl' gives them: eve is an
operator with no key (her ACL may write celeryroot:schedule:*), alice an
operator beat trusts, bob one beat trusts for pings only.  Beat runs on a
fast test clock (30 s of schedule time per second); a config-file schedule
that pings every minute shows how far beat has got.

eve's 'schedule add ... -- apt install evilpkg' is refused; written into
Redis by hand (unsigned), signed with a key beat does not trust, copied from
alice's signed schedule with another command, signed by bob beyond his
limits, or an older definition of alice's put back: none fires, each
refusal is logged once, and evilpkg is never installed.  alice's schedule
fires, and the host's audit record names both beat's key and alice's."""
import json
import os
import shlex
import shutil
import subprocess
import tempfile
import time
import unittest

import harness
import redis

SPEED = 30
PKGS = [{"name": "evilpkg", "version": "1.0"}, {"name": "goodpkg", "version": "1.0"}]


class BeatSigned(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.keys = tempfile.mkdtemp(prefix="celeryroot-keys.")
        for name in ("alice", "bob", "mallory", "beat"):
            code, out, err = harness.cli("key", "generate", name, "--dir", cls.keys)
            assert code == 0, err
        cls.host_keys = cls.trusted_dir("host-trusted", {"beat": ""})
        cls.beat_keys = cls.trusted_dir("beat-trusted", {"alice": "", "bob": "operations = ping\n"})
        cls.users = {}

        def prepare(r):
            code, out, err = harness.cli("acl", "--daemon", "web01=webserver", "--operator", "eve", "--operator",
                                         "alice", "--operator", "bob", "--beat", "b1", "--json", "--broker", r.url)
            assert code == 0, err
            for u in json.loads(out)["users"]:
                r.client().execute_command(*shlex.split(u["rule"]))
                cls.users[u["user"].split("-", 2)[2]] = u["url"]
            return {"web01": cls.users["web01"]}

        config = {"trusted_keys": cls.host_keys, "require_signed": "true", "beat.trusted_keys": cls.beat_keys,
                  "schedule tick.cron": "* * * * *", "schedule tick.target": "--host web01",
                  "schedule tick.command": "ping"}
        cls.fleet = harness.Fleet({"web01": ["webserver"]}, config=config, packages=PKGS, prepare=prepare)
        cls.fleet.__enter__()
        cls.r = cls.fleet.redis.client()
        code, out, err = cls.as_user("alice", "apt", "update", "--all", key="beat")
        assert code == 0, out + err
        cls.beat = None

    @classmethod
    def tearDownClass(cls):
        if cls.beat:
            cls.beat[0].terminate()
            cls.beat[0].wait(15)
            cls.beat[1].close()
        cls.fleet.__exit__(None, None, None)
        shutil.rmtree(cls.keys, ignore_errors=True)

    @classmethod
    def trusted_dir(cls, name, keys):
        d = os.path.join(cls.keys, name)
        os.mkdir(d, 0o755)
        for key, limits in keys.items():
            with open(os.path.join(cls.keys, key + ".pub")) as f, open(os.path.join(d, key + ".pub"), "w") as g:
                g.write(f.read() + limits)
        return d

    @classmethod
    def as_user(cls, user, *args, key=None):
        """celeryroot as Redis user user, signing with key (None: no key)."""
        env = {"CELERYROOT_SIGNING_KEY": os.path.join(cls.keys, key + ".key") if key else ""}
        return harness.cli(*args, url=cls.users[user], env=env)

    def add(self, user, name, command, key=None, target=("--host", "web01")):
        return self.as_user(user, "schedule", "add", name, "--config", self.fleet.config_path, "--cron", "* * * * *",
                            *target, "--", *command, key=key)

    def fired(self, name):
        return sorted(int(k.decode().rsplit(":", 1)[1]) for k in self.r.keys("celeryroot:beat:fired:%s:*" % name))

    def wait_ticks(self, n):
        """Until the config schedule 'tick' fires n more times: beat has been
        through as many fire times."""
        start = len(self.fired("tick"))
        harness.wait_for(lambda: len(self.fired("tick")) >= start + n, 30, interval=0.2)

    def start_beat(self, start=1795132800 - 1):
        real0 = time.time()
        env = dict(os.environ, CELERYROOT_TEST_CLOCK="%d:%f:%d" % (start, real0, SPEED),
                   CELERYROOT_BROKER_URL=self.users["b1"],
                   CELERYROOT_SIGNING_KEY=os.path.join(self.keys, "beat.key"))
        log = open(os.path.join(self.fleet.tmp, "beat.log"), "w+")
        p = subprocess.Popen(harness.valgrind_prefix(self.fleet.tmp, "beat") +
                             [harness.cli_path(), "beat", "--config", self.fleet.config_path],
                             stdout=log, stderr=log, env=env)
        type(self).beat = (p, log)

    def beat_log(self):
        with open(os.path.join(self.fleet.tmp, "beat.log")) as f:
            return f.read()

    def installed(self, pkg):
        p = subprocess.run(["dpkg-query", "--admindir=" + os.path.join(self.fleet.pairs["web01"].root, "var/lib/dpkg"),
                            "-W", "-f=${Status}", pkg], capture_output=True, text=True)
        return p.returncode == 0 and "installed" in p.stdout and "not-installed" not in p.stdout

    def audit_lines(self):
        with open(os.path.join(self.fleet.pairs["web01"].root, "var/log/celeryroot/audit.log")) as f:
            return [json.loads(line) for line in f]

    def test_only_schedules_signed_by_keys_beat_trusts_fire(self):
        eve = redis.Redis.from_url(self.users["eve"])
        # eve, with no key: the CLI refuses ...
        code, out, err = self.add("eve", "evil", ["apt", "install", "evilpkg"])
        self.assertEqual(code, 1, out + err)
        self.assertIn("needs your signing key", err)
        # ... so she writes it into Redis herself, as her ACL allows.
        evil = {"name": "evil", "cron": "* * * * *", "tz": "UTC", "target": "--host web01",
                "command": ["apt", "install", "evilpkg"], "enabled": True, "source": "runtime"}
        eve.set("celeryroot:schedule:evil", json.dumps(evil))
        eve.sadd("celeryroot:schedules", "evil")
        # With a key beat does not trust.
        code, out, err = self.add("eve", "evil2", ["apt", "install", "evilpkg"], key="mallory")
        self.assertEqual(code, 0, out + err)
        # bob beyond his limits (pings only).
        code, out, err = self.add("bob", "bobs", ["apt", "install", "evilpkg"], key="bob")
        self.assertEqual(code, 0, out + err)
        # alice's honest schedule, and eve's copy of it with another command.
        code, out, err = self.add("alice", "good", ["apt", "install", "goodpkg"], key="alice")
        self.assertEqual(code, 0, out + err)
        good_v1 = json.loads(self.r.get("celeryroot:schedule:good"))
        eve.set("celeryroot:schedule:evil3", json.dumps(dict(good_v1, name="evil3")))
        eve.set("celeryroot:schedule:good-copy", json.dumps(dict(good_v1, name="good-copy",
                                                                 command=["apt", "install", "evilpkg"])))
        eve.set("celeryroot:schedule:hijack", json.dumps(dict(good_v1, command=["apt", "install", "evilpkg"])))
        eve.sadd("celeryroot:schedules", "evil3", "good-copy", "hijack")
        code, out, err = self.as_user("eve", "schedule", "list", "--json", "--config", self.fleet.config_path)
        self.assertEqual(code, 0, err)
        self.assertIn("skipping stored schedule hijack: it is named 'good' inside", err)
        trust = {s["name"]: s["trust"] for s in json.loads(out)["schedules"]}
        self.assertEqual(trust, {"tick": "config", "evil": "unsigned", "evil2": "key not trusted by beat",
                                 "bobs": "outside its key's limits", "good": "trusted", "evil3": "bad signature",
                                 "good-copy": "bad signature"})

        self.start_beat()
        harness.wait_for(lambda: self.fired("good"), 30, interval=0.2)
        harness.wait_for(lambda: self.installed("goodpkg"), 60, interval=0.2)
        self.wait_ticks(3)
        for name in ("evil", "evil2", "bobs", "evil3", "good-copy"):
            self.assertEqual(self.fired(name), [], name)
        self.assertFalse(self.installed("evilpkg"))
        self.assertFalse([k for k in self.r.keys("celeryroot:job:*")
                          if json.loads(self.r.get(k))["origin"] not in ("schedule:good", "schedule:tick", "cli")])
        log = self.beat_log()
        for name, why in (("evil", "unsigned"), ("evil2", "key not trusted by beat, signed as mallory"),
                          ("bobs", "outside its key's limits, signed as bob"),
                          ("evil3", "bad signature, signed as alice"), ("good-copy", "bad signature, signed as alice")):
            self.assertEqual(log.count("schedule %s is not fired: %s" % (name, why)), 1, log)

        # alice's ran, signed by beat, for alice's schedule: the host's audit
        # record, the stream's copy and the job record name both keys.
        lines = [a for a in self.audit_lines() if a.get("operation") == "install" and a.get("outcome") == "changed"]
        self.assertTrue(lines)
        self.assertEqual({(a["key"], a.get("schedule"), a.get("schedule_key")) for a in lines},
                         {("beat", "good", "alice")})
        self.assertEqual([a["packages"] for a in lines][0], ["goodpkg"])
        stream = [json.loads(f[b"record"]) for _, f in self.r.xrange("celeryroot:audit")]
        self.assertIn(("beat", "good", "alice"), {(a.get("key"), a.get("schedule"), a.get("schedule_key"))
                                                  for a in stream if a.get("operation") == "install"})
        job = self.r.get("celeryroot:beat:fired:good:%d" % self.fired("good")[0]).decode()
        rec = json.loads(self.r.get("celeryroot:job:" + job))
        self.assertEqual((rec["key"], rec["schedule"], rec["schedule_key"]), ("beat", "good", "alice"))
        # A config-file schedule is trusted as the file is: no schedule key.
        job = self.r.get("celeryroot:beat:fired:tick:%d" % self.fired("tick")[0]).decode()
        rec = json.loads(self.r.get("celeryroot:job:" + job))
        self.assertEqual((rec["key"], rec["schedule"], rec.get("schedule_key")), ("beat", "tick", None))

        # alice disables it (signed again, later); eve puts the enabled
        # definition back: beat, which saw the newer one, refuses it.
        while int(time.time()) <= good_v1["signed_at"]:
            time.sleep(0.05)   # signed_at counts whole seconds
        code, out, err = self.as_user("alice", "schedule", "disable", "good", "--config", self.fleet.config_path,
                                      key="alice")
        self.assertEqual(code, 0, out + err)
        self.wait_ticks(2)
        before = self.fired("good")
        eve.set("celeryroot:schedule:good", json.dumps(good_v1))
        self.wait_ticks(3)
        self.assertEqual(self.fired("good"), before)
        self.assertEqual(self.beat_log().count("schedule good is not fired: older than one beat saw, signed as alice"),
                         1, self.beat_log())
        # A restarted beat (or a second one) is not fed it either: the newest
        # definition seen is kept where only beats may write, not eve.
        self.assertEqual(json.loads(self.r.get("celeryroot:schedule:good"))["signed_at"], good_v1["signed_at"])
        self.assertGreater(int(self.r.get("celeryroot:beat:seen:good")), good_v1["signed_at"])
        with self.assertRaises(redis.exceptions.NoPermissionError):
            eve.set("celeryroot:beat:seen:good", "0")
        type(self).beat[0].terminate()
        type(self).beat[0].wait(15)
        type(self).beat[1].close()
        self.start_beat(start=max(self.fired("tick")) + 60)
        self.wait_ticks(3)
        self.assertEqual(self.fired("good"), before)
        self.assertEqual(self.beat_log().count("schedule good is not fired: older than one beat saw, signed as alice"),
                         1, self.beat_log())
        # Nobody was refused by Redis along the way but eve where it counts.
        self.assertFalse(self.installed("evilpkg"))


if __name__ == "__main__":
    unittest.main()
