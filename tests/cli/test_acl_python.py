"""README's Redis ACL command and its Python Celery example, run as written
(both taken from README.md): the rules go into a real Redis through
'grep -v ^# | redis-cli', the pairs log in as their own users, the default
user is turned off, and the example's send_task/get calls work as the
'--python' user with Redis's ACL LOG empty.  What that user must not do
(take tasks, forge results, touch the registry) is denied."""
import os
import re
import shlex
import subprocess
import unittest

import harness
import redis

README = os.path.join(harness.SRCDIR, "README.md")
EXAMPLE_URL = 'url = "redis://127.0.0.1:6379/0"'


def readme_section(title):
    with open(README) as f:
        text = f.read()
    start = text.index("\n" + title + "\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else len(text)]


def readme_acl_command():
    """The '$ celeryroot acl ...' line of "Redis ACLs", and the pipe it names."""
    section = readme_section("### Redis ACLs")
    line = re.search(r"^\$ (celeryroot acl .*)$", section, re.M).group(1)
    pipe = re.search(r"`(\| grep -v '\^#' \| redis-cli)`", section).group(1)
    return shlex.split(line), pipe


def readme_python_example():
    section = readme_section("## From Python Celery")
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


class AclPython(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        args, pipe = readme_acl_command()
        assert args[:2] == ["celeryroot", "acl"] and "--python" in args, args
        cls.urls = {}

        def prepare(r):
            code, out, err = harness.cli(*args[1:], url=r.url)
            assert code == 0, err
            # README's pipe, into this Redis (redis-cli's -p: the test's port).
            subprocess.run("%s -p %d" % (pipe.lstrip("| "), r.port), shell=True, input=out, text=True,
                           check=True, capture_output=True)
            for kind, name, url in re.findall(r"^# (\w+) ([\w.-]+)[^:]*: broker URL (\S+)$", out, re.M):
                cls.urls[(kind, name)] = url
            admin = r.client()
            admin.execute_command("ACL", "SETUSER", "test-admin", "on", ">test-admin", "~*", "&*", "+@all")
            return {"web01": cls.urls[("daemon", "web01")], "db01": cls.urls[("daemon", "db01")]}

        cls.fleet = harness.Fleet({"web01": ["webserver"], "db01": ["database"]}, prepare=prepare,
                                  packages=[{"name": "nginx", "version": "1.0"}])
        cls.fleet.__enter__()
        cls.admin = redis.Redis(port=cls.fleet.redis.port, username="test-admin", password="test-admin")
        code, out, err = harness.cli("apt", "update", "--all", url=cls.urls[("operator", "alice")])
        assert code == 0, err + out
        cls.admin.execute_command("ACL", "SETUSER", "default", "off")   # README: "then turn the default user off"
        cls.python_url = cls.urls[("python", "ops")]

    @classmethod
    def tearDownClass(cls):
        cls.admin.execute_command("ACL", "SETUSER", "default", "on")
        cls.fleet.__exit__(None, None, None)

    def test_readme_example_runs_as_the_python_user(self):
        code = readme_python_example()
        self.assertEqual(code.count(EXAMPLE_URL), 1, "README's example no longer sets %s" % EXAMPLE_URL)
        code = code.replace(EXAMPLE_URL, "url = %r" % self.python_url)
        self.admin.execute_command("ACL", "LOG", "RESET")
        p = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 3, p.stdout)
        self.assertIn("'host': 'web01'", lines[0])
        self.assertIn("'installed_packages'", lines[1])
        self.assertIn("'check': True", lines[2])
        # nginx 1.0 is there to install: a plan, no failure.
        self.assertIn("'status': 'changed'", lines[2])
        self.assertIn("'changes': {'nginx': {'new': '1.0', 'old': None}}", lines[2])
        self.assertIn("'error': None", lines[2])
        self.assertEqual(self.admin.execute_command("ACL", "LOG"), [])
        for name, pair in self.fleet.pairs.items():
            self.assertNotIn("NOPERM", pair.log(), name)

    def test_python_user_cannot_take_tasks_or_forge_results(self):
        c = redis.Redis.from_url(self.python_url)
        denied = [("LMOVE", "host.web01", "x", "RIGHT", "LEFT"), ("RPOP", "host.web01"), ("BRPOP", "host.web01", "1"),
                  ("LRANGE", "host.web01", "0", "-1"), ("GET", "host.web01"), ("DEL", "host.web01"),
                  ("SETEX", "celery-task-meta-x", "9", "{}"), ("DEL", "celery-task-meta-x"),
                  ("PUBLISH", "celery-task-meta-x", "{}"), ("SMEMBERS", "celeryroot:hosts"),
                  ("SET", "celeryroot:host:web01", "{}"), ("HSET", "unacked", "t", "x"),
                  ("SADD", "celeryroot:hosts", "evil"), ("LPUSH", "celeryroot:taken:web01", "{}"),
                  ("SADD", "_kombu.binding.celery", "x"), ("FLUSHALL",), ("KEYS", "*"), ("CONFIG", "GET", "*")]
        for cmd in denied:
            with self.subTest(cmd=cmd):
                with self.assertRaises(redis.exceptions.NoPermissionError):
                    c.execute_command(*cmd)


if __name__ == "__main__":
    unittest.main()
