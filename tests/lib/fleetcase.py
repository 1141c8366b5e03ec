"""A class of tests that share one fleet of real pairs over one Redis,
started once for the class in a temporary directory that tests can build
repositories in, with every host's APT lists updated, and stopped after the
last test.  Run with Debian's /usr/bin/python3."""
import json
import tempfile
import unittest

import harness


class FleetCase(unittest.TestCase):
    tmp = None
    fleet = None

    @classmethod
    def make_tmp(cls):
        """The class's temporary directory (as root: the pairs need it)."""
        harness.require_root()
        cls.tmp = tempfile.TemporaryDirectory()
        return cls.tmp.name

    @classmethod
    def start_fleet(cls, hosts, update=True, **kw):
        """harness.Fleet(hosts, **kw), entered; then 'apt update --all'."""
        cls.fleet = harness.Fleet(hosts, **kw)
        cls.fleet.__enter__()
        if update:
            cls.update_all()
        return cls.fleet

    @classmethod
    def update_all(cls):
        code, out, err = cls.fleet.cli("apt", "update", "--all")
        assert code == 0, out + err

    @classmethod
    def tearDownClass(cls):
        if cls.fleet is not None:
            cls.fleet.__exit__(None, None, None)
        if cls.tmp is not None:
            cls.tmp.cleanup()

    def run_json(self, *args, rc=0):
        """The CLI with --json, expecting exit code rc: {host: record}."""
        code, out, err = self.fleet.cli(*args, "--json", timeout=120)
        self.assertEqual(code, rc, out + err)
        return {r["host"]: r for r in json.loads(out)["hosts"]}
