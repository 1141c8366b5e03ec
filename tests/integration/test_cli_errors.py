"""Bad input: exit 1, a clear message, and nothing sent to any queue."""
import unittest

import harness

BAD = [
    (["ping", "--host", "nosuch"], "unknown host 'nosuch'; known hosts: db01, web01"),
    (["ping", "--role", "nosuch"], "unknown role 'nosuch'; known roles: database, webserver"),
    (["ping", "--one-of", "nosuch"], "unknown role 'nosuch'"),
    (["ping", "--host", "Web01"], "invalid host name"),
    (["ping", "--host", "web01;rm -rf /"], "invalid host name"),
    (["ping", "--host", "$(reboot)"], "invalid host name"),
    (["ping", "--host", "-x"], "invalid host name"),
    (["ping", "--host", "w\u0435b01"], "invalid host name"),
    (["ping", "--role", "web server"], "invalid role"),
    (["ping", "--role", ""], "invalid role"),
    (["ping"], "needs a TARGET"),
    (["ping", "--all", "--timeout", "soon"], "--timeout"),
    (["ping", "--all", "extra"], "unexpected argument"),
    (["facts", "--all", "--host", "web01", "--host", "nosuch"], "unknown host 'nosuch'"),
    (["job", "not a job id"], "JOB_ID"),
    (["frobnicate"], "unknown command"),
    (["apt"], "apt needs an operation"),
    (["apt", "frobnicate", "--all"], "apt needs an operation"),
    (["apt", "install", "--all"], "usage: celeryroot apt install"),
    (["apt", "install", "nginx", "--all", "--purge"], "does not apply to 'apt install'"),
    (["apt", "remove", "nginx", "--all", "--security"], "does not apply to 'apt remove'"),
    (["apt", "clean", "nginx", "--all"], "takes no packages"),
    (["apt", "install", "nginx", "--all", "--max-age", "-1"], "--max-age"),
    (["apt", "install", "nginx", "--host", "nosuch"], "unknown host 'nosuch'"),
    (["audit", "--since", "yesterday"], "--since"),
]


class CliErrors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.fleet = harness.Fleet({"web01": ["webserver"], "db01": ["database"]})
        cls.fleet.__enter__()
        # Stop the workers so anything wrongly sent would stay in a queue.
        for p in cls.fleet.pairs.values():
            p.stop()

    @classmethod
    def tearDownClass(cls):
        cls.fleet.__exit__(None, None, None)

    def test_bad_input(self):
        r = self.fleet.redis.client()
        for args, message in BAD:
            with self.subTest(args=args):
                code, out, err = self.fleet.cli(*args)
                self.assertEqual(code, 1, (out, err))
                self.assertIn(message, err)
                self.assertEqual(len(err.strip().splitlines()), 1, err)
        queues = [k for k in r.keys("*") if k.startswith((b"host.", b"role."))]
        self.assertEqual(queues, [])
        self.assertEqual(r.zcard("celeryroot:jobs"), 0)

    def test_unknown_job(self):
        code, out, err = self.fleet.cli("job", "00000000-0000-0000-0000-000000000000")
        self.assertEqual(code, 1)
        self.assertIn("no job", err)

    def test_help_has_examples(self):
        for cmd in (["--help"], ["ping", "--help"], ["hosts", "--help"], ["job", "--help"],
                    ["apt", "--help"], ["audit", "--help"]):
            code, out, err = self.fleet.cli(*cmd)
            self.assertEqual(code, 0)
            self.assertIn("example", out)


if __name__ == "__main__":
    unittest.main()
