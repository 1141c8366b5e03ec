"""priv's dispatch table carries the policy (src/priv/priv_dispatch.c),
enforced before any handler runs, as a compromised net finds it when it
speaks to priv directly: HELLO may come once (a repeat is refused, logged
and audited); where signing is required an unsigned change is refused and
audited, as is an unsigned read (every task must be signed there), while
HELLO, which is no task, is served; where it is not required a read is
answered unsigned and counted, not written, and a change (CHANGES, from the
operation table) goes through the change queue, whose worker writes its
audit line."""
import datetime
import json
import os
import tempfile
import unittest

import attest
import harness
import privpeer

TASK = "6c2ac3b8-8757-4c9c-9bbf-83abd8089478"
TASK2 = "0f0e6f1c-3c55-4a55-9a53-0d6b3b0f2f11"
TASK3 = "3b1c7c52-6f0e-4a55-9a53-0d6b3b0f2f12"
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Dispatch(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.trusted = os.path.join(cls.tmp.name, "trusted")
        os.mkdir(cls.trusted)
        code, _, err = harness.cli("key", "generate", "alice", "--dir", cls.tmp.name)
        assert code == 0, err
        os.rename(os.path.join(cls.tmp.name, "alice.pub"), os.path.join(cls.trusted, "alice.pub"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def priv(self, name, require_signed):
        root = harness.make_sandbox(os.path.join(self.tmp.name, name), [])
        config = os.path.join(self.tmp.name, name + ".conf")
        with open(config, "w") as f:
            f.write("[daemon]\ntrusted_keys = %s\nrequire_signed = %s\n" %
                    (self.trusted, "true" if require_signed else "false"))
        priv = privpeer.Priv(root, config=config, hostname=name).start()
        self.addCleanup(priv.stop)
        return priv

    def lines(self, priv):
        pk = attest.host_pub(priv.root)
        return [attest.verify_line(line, pk) for line in priv.audit_lines()]

    def refused(self, priv, data, reason):
        """Refused with reason, logged, and one more signed audit line
        saying so; returns that line."""
        before = len(priv.audit_lines())
        ftype, body = priv.exchange(data)
        self.assertEqual(ftype, privpeer.ANS_REFUSED, body)
        self.assertIn(reason, body["error"])
        lines = self.lines(priv)
        self.assertEqual(len(lines), before + 1, lines)
        self.assertEqual(lines[-1]["outcome"], "refused")
        self.assertIn(reason, lines[-1]["error"])
        harness.wait_for(lambda: reason in priv.log(), 10)
        self.assertIn("refused request", priv.log())
        return lines[-1]

    def test_repeated_hello_refused(self):
        priv = self.priv("hello", require_signed=False)
        ftype, body = priv.hello()
        self.assertEqual(ftype, privpeer.ANS_REPLY, body)
        self.assertIn("host_key", body["data"])
        line = self.refused(priv, privpeer.frame(privpeer.REQ_HELLO, {"id": 2}), "repeated HELLO refused")
        self.assertEqual(line["type"], "HELLO")
        # Refused again, and priv goes on serving the rest.
        self.refused(priv, privpeer.frame(privpeer.REQ_HELLO, {"id": 3}), "repeated HELLO refused")
        ftype, body = priv.exchange(privpeer.frame(privpeer.REQ_PING, {"id": 4, "job": "", "task": TASK}))
        self.assertEqual(ftype, privpeer.ANS_REPLY, body)

    def test_unsigned_refused_where_signing_is_required(self):
        priv = self.priv("signed", require_signed=True)
        # HELLO is no task: served unsigned.
        ftype, body = priv.hello()
        self.assertEqual(ftype, privpeer.ANS_REPLY, body)
        change = self.refused(priv, privpeer.apt(TASK, op="install", pkgs=["x1"]),
                              "unsigned APT refused: this host requires signed tasks")
        self.assertEqual((change["task"], change["operation"]), (TASK, "install"))
        clean = self.refused(priv, privpeer.apt(TASK2, op="clean", pkgs=[]),
                             "unsigned APT refused: this host requires signed tasks")
        self.assertEqual(clean["operation"], "clean")
        # Every task must be signed on such a host, reads too (README).
        read = self.refused(priv, privpeer.apt(TASK3, op="query", pkgs=["x1"]),
                            "unsigned APT refused: this host requires signed tasks")
        self.assertEqual(read["operation"], "query")
        self.refused(priv, privpeer.frame(privpeer.REQ_PING, {"id": 5, "job": "", "task": TASK}),
                     "unsigned PING refused")

    def test_unsigned_read_and_change_where_signing_is_not_required(self):
        priv = self.priv("open", require_signed=False)
        # A read: answered at once, no line of its own (counted per window).
        ftype, body = priv.exchange(privpeer.apt(TASK, op="query", pkgs=["x1"]))
        self.assertEqual(ftype, privpeer.ANS_REPLY, body)
        self.assertEqual(self.lines(priv), [])
        # A change (CHANGES, from the operation table): through the change
        # queue; the worker answers and writes the change's audit line.
        ftype, body = priv.exchange(privpeer.apt(TASK2, op="clean", pkgs=[]))
        self.assertEqual(ftype, privpeer.ANS_REPLY, body)
        rec = json.loads(body["data"]["attest"]["payload"])
        self.assertEqual(rec["task"], TASK2)
        harness.wait_for(lambda: any(line.get("task") == TASK2 for line in self.lines(priv)), 30)
        line = [line for line in self.lines(priv) if line.get("task") == TASK2][-1]
        self.assertEqual(line["operation"], "clean")
        self.assertIn(line["outcome"], ("changed", "unchanged"))
        # Still no line for the read.
        self.assertEqual([line for line in self.lines(priv) if line.get("task") == TASK], [])

    def test_change_outside_windows_is_deferred_by_the_table(self):
        """A windowed operation (install) is deferred outside the windows;
        one that is not (clean) runs now.  Both from the operation table."""
        root = harness.make_sandbox(os.path.join(self.tmp.name, "win"), [])
        config = os.path.join(self.tmp.name, "win.conf")
        # One window, three days from now: closed.
        day = DAYS[(datetime.datetime.now(datetime.timezone.utc).weekday() + 3) % 7]
        with open(config, "w") as f:
            f.write("[window w]\ndays = %s\nstart = 12:00\nduration = 1h\nzone = UTC\nhosts = win\n" % day)
        priv = privpeer.Priv(root, config=config, hostname="win").start()
        self.addCleanup(priv.stop)
        ftype, body = priv.exchange(privpeer.apt(TASK, op="install", pkgs=["x1"]))
        self.assertEqual(ftype, privpeer.ANS_REPLY, body)
        self.assertEqual(json.loads(body["data"]["attest"]["payload"])["status"], "deferred")
        ftype, body = priv.exchange(privpeer.apt(TASK2, op="clean", pkgs=[]))
        self.assertEqual(ftype, privpeer.ANS_REPLY, body)
        self.assertNotEqual(json.loads(body["data"]["attest"]["payload"])["status"], "deferred")


if __name__ == "__main__":
    unittest.main()
