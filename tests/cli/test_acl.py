"""celeryroot acl: rules applied to a real Redis.  Each program works as its
own ACL user — daemons register, consume and answer, the CLI sends and
reads, beat keeps its lease and schedules — and each forbidden command or
key is denied (NOPERM)."""
import json
import shlex
import unittest

import harness
import redis

FORBIDDEN = [("FLUSHALL",), ("FLUSHDB",), ("CONFIG", "GET", "*"), ("KEYS", "*"), ("DEBUG", "SLEEP", "0"),
             ("ACL", "LIST"), ("SCRIPT", "FLUSH"), ("MODULE", "LIST"), ("CLIENT", "LIST"), ("SAVE",),
             ("MONITOR",), ("SWAPDB", "0", "1"), ("MIGRATE", "h", "1", "k", "0", "1")]


class Acl(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.users = {}

        def prepare(r):
            code, out, err = harness.cli("acl", "--daemon", "web01=webserver", "--daemon", "db01=database",
                                         "--operator", "alice", "--beat", "b1", "--json", "--broker", r.url)
            assert code == 0, err
            admin = r.client()
            for u in json.loads(out)["users"]:
                words = shlex.split(u["rule"])
                admin.execute_command(*words)
                cls.users[u["user"]] = u
            return {"web01": cls.users["celeryroot-daemon-web01"]["url"],
                    "db01": cls.users["celeryroot-daemon-db01"]["url"]}

        cls.fleet = harness.Fleet({"web01": ["webserver"], "db01": ["database"]},
                                  prepare=prepare)
        cls.fleet.__enter__()
        cls.operator = cls.users["celeryroot-operator-alice"]["url"]

    @classmethod
    def tearDownClass(cls):
        cls.fleet.__exit__(None, None, None)

    def client(self, user):
        return redis.Redis.from_url(self.users[user]["url"])

    def op(self, *args):
        return harness.cli(*args, url=self.operator)

    def test_rules_start_from_nothing(self):
        for u in self.users.values():
            self.assertIn(" reset on >", u["rule"])
            self.assertIn("resetchannels -@all", u["rule"])
            self.assertNotIn("allkeys", u["rule"])
            self.assertNotIn("+@", u["rule"])

    def test_daemons_and_operator_work_as_their_users(self):
        code, out, err = self.op("hosts", "--json")
        self.assertEqual(code, 0, err)
        self.assertEqual(sorted(h["hostname"] for h in json.loads(out)["hosts"]), ["db01", "web01"])
        for args in (["ping", "--all"], ["facts", "--role", "database"], ["apt", "query", "nothing-here", "--all"],
                     ["ping", "--one-of", "webserver"]):
            with self.subTest(args=args):
                code, out, err = self.op(*args, "--json")
                self.assertEqual(code, 0, err + out)
                job = json.loads(out)["job"]
        code, out, err = self.op("jobs", "--json")
        self.assertEqual(code, 0, err)
        code, out, err = self.op("job", job, "--json")
        self.assertEqual(code, 0, err)
        code, out, err = self.op("audit", "--json")
        self.assertEqual(code, 0, err)
        for name, pair in self.fleet.pairs.items():
            self.assertNotIn("NOPERM", pair.log(), name)
            self.assertNotIn("refused", pair.log(), name)

    def test_each_forbidden_command_is_denied(self):
        for user in self.users:
            c = self.client(user)
            for cmd in FORBIDDEN:
                with self.subTest(user=user, cmd=cmd[0]):
                    with self.assertRaises(redis.exceptions.NoPermissionError):
                        c.execute_command(*cmd)

    def test_keys_outside_each_users_patterns_are_denied(self):
        web = self.client("celeryroot-daemon-web01")
        cases = [
            (web, ("LMOVE", "host.db01", "celeryroot:taken:web01", "RIGHT", "LEFT")),   # another host's queue
            (web, ("LMOVE", "role.database", "celeryroot:taken:web01", "RIGHT", "LEFT")),  # a role it lacks
            (web, ("LMOVE", "host.web010", "celeryroot:taken:web01", "RIGHT", "LEFT")),   # a name that starts the same
            (web, ("BLMOVE", "host.web01.evil", "celeryroot:taken:web01", "RIGHT", "LEFT", "1")),
            (web, ("LMOVE", "host.web01", "celeryroot:taken:db01", "RIGHT", "LEFT")),     # another host's taken list
            (web, ("LPUSH", "celeryroot:taken:db01", "{}")),           # planting a task in it
            (web, ("LINDEX", "celeryroot:taken:db01", "0")),
            (web, ("BRPOP", "host.web01", "1")),                       # kombu's pop: not used, not allowed
            (web, ("HSET", "unacked", "t", "[{}, \"\", \"host.db01\"]")),  # kombu's shared bookkeeping
            (web, ("ZADD", "unacked_index", "1", "t")),
            (web, ("SET", "unacked_mutex", "x")),
            (web, ("SET", "celeryroot:host:db01", "{}")),              # another host's registry entry
            (web, ("SET", "celeryroot:job:x", "{}")),                  # jobs are the operators'
            (web, ("SET", "celeryroot:hosts", "x")),                   # would stop every heartbeat
            (web, ("DEL", "celeryroot:hosts")),
            (web, ("RPUSH", "host.db01", "{}")),                       # another host's queue
            (web, ("RPUSH", "role.database", "{}")),
            (web, ("GET", "celery-task-meta-x")),                      # results: write only
            (web, ("DEL", "celeryroot:audit")),
            (web, ("EVAL", "return 1", "0")),                          # no Lua at all
            (web, ("SET", "celeryroot:nonce:host.db01:alice:00", "x")),   # another host's nonces
            (web, ("SET", "celeryroot:nonce:role.database:alice:00", "x")),   # a role it lacks
            (web, ("SET", "celeryroot:nonce:x", "x")),
            (self.client("celeryroot-operator-alice"), ("LMOVE", "host.web01", "x", "RIGHT", "LEFT")),  # push only
            (self.client("celeryroot-operator-alice"), ("LPUSH", "celeryroot:taken:web01", "{}")),
            (self.client("celeryroot-operator-alice"), ("HSET", "unacked", "t", "x")),
            (self.client("celeryroot-operator-alice"), ("GET", "host.web01")),             # cannot read queues
            (self.client("celeryroot-operator-alice"), ("SET", "celeryroot:host:web01", "{}")),  # nor forge the registry
            (self.client("celeryroot-operator-alice"), ("SETEX", "celery-task-meta-x", "9", "{}")),  # nor results
            (self.client("celeryroot-operator-alice"), ("XADD", "celeryroot:audit", "*", "a", "b")),
            (self.client("celeryroot-operator-alice"), ("SET", "celeryroot:nonce:alice:00", "x")),
            (self.client("celeryroot-beat-b1"), ("XREVRANGE", "celeryroot:audit", "+", "-")),
            (self.client("celeryroot-beat-b1"), ("SET", "celeryroot:host:web01", "{}")),
        ]
        for c, cmd in cases:
            with self.subTest(cmd=cmd):
                with self.assertRaises(redis.exceptions.NoPermissionError):
                    c.execute_command(*cmd)

    def test_daemon_writes_its_own_nonces(self):
        web = self.client("celeryroot-daemon-web01")
        self.assertTrue(web.set("celeryroot:nonce:host.web01:alice:00", "web01:t", nx=True, ex=60))
        self.assertTrue(web.set("celeryroot:nonce:role.webserver:alice:00", "web01:t", nx=True, ex=60))

    def test_beat_can_keep_its_lease_and_schedules(self):
        b = self.client("celeryroot-beat-b1")
        self.assertTrue(b.set("celeryroot:beat:leader", "b1", nx=True, px=10000))
        with b.pipeline(transaction=True) as p:
            p.watch("celeryroot:beat:leader")
            self.assertEqual(p.get("celeryroot:beat:leader"), b"b1")
            p.multi()
            p.pexpire("celeryroot:beat:leader", 10000)
            self.assertEqual(p.execute(), [True])
        self.assertTrue(b.set("celeryroot:beat:fired:x:1", "b1", nx=True, ex=60))
        self.assertEqual(b.hsetnx("celeryroot:schedule-state:x", "baseline", "1"), 1)
        self.assertEqual(b.smembers("celeryroot:schedules"), set())
        b.delete("celeryroot:beat:leader")
        # It can push to a queue (one no daemon here consumes) ...
        self.assertEqual(b.lpush("host.nobody-here", "{}"), 1)
        self.fleet.redis.client().delete("host.nobody-here")


if __name__ == "__main__":
    unittest.main()
