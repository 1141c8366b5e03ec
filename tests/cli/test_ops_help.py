"""The CLI reads the operation table (src/shared/ops.c): 'celeryroot apt
--help', 'celeryroot --help', the parser's list of operations and a new key
file's ';operations =' name exactly its operations, in its order.  The
table's rows are read from README.md's task table, which
tests/shared/test_ops.c checks against ops.c row for row.  'celeryroot acl'
grants by key and command, never by operation: its rules name none, so a
new operation needs no ACL change."""
import os
import re
import tempfile
import unittest

import harness


def readme_ops():
    """[(name, task, apt)] from README.md's operation table, in order."""
    with open(os.path.join(harness.SRCDIR, "README.md")) as f:
        text = f.read()
    block = text.split("<!-- operation table")[1].split("<!-- end of operation table")[0]
    rows = []
    for line in block.splitlines():
        m = re.match(r"^\| `(celeryroot\.[a-z.]+)` \| `(apt )?([a-z]+)` \|", line)
        if m:
            rows.append((m.group(3), m.group(1), bool(m.group(2))))
    return rows


class OpsHelp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ops = readme_ops()
        cls.apt = [name for name, _, apt in cls.ops if apt]
        cls.tasks = [name for name, _, apt in cls.ops if not apt]

    def test_readme_table_read(self):
        self.assertEqual(len(self.ops), 12)   # issue 15: hold, unhold
        self.assertIn(("install", "celeryroot.apt.install", True), self.ops)
        self.assertIn(("ping", "celeryroot.ping", False), self.ops)

    def test_apt_help_lists_exactly_the_table(self):
        code, out, err = harness.cli("apt", "--help")
        self.assertEqual(code, 0, err)
        section = out.split("operations:\n")[1].split("\n\n")[0]
        # An operation's line starts at column 2; its continuations further in.
        listed = [line.split()[0] for line in section.splitlines() if re.match(r"^  [a-z]", line)]
        self.assertEqual(listed, self.apt)

    def test_main_help_lists_the_table(self):
        code, out, err = harness.cli("--help")
        self.assertEqual(code, 0, err)
        self.assertIn("  apt %s\n" % "|".join(self.apt), out)
        for name in self.tasks:
            self.assertRegex(out, r"\n  %s TARGET +\S" % name)

    def test_parser_names_the_table(self):
        code, out, err = harness.cli("apt", "frobnicate", "--all")
        self.assertEqual(code, 1)
        self.assertIn("apt needs an operation: %s or %s " % (", ".join(self.apt[:-1]), self.apt[-1]), err)
        for name in self.apt:
            code, out, err = harness.cli("apt", name, "--help")
            self.assertEqual(code, 0, (name, err))

    def test_key_template_names_the_table(self):
        with tempfile.TemporaryDirectory() as d:
            code, out, err = harness.cli("key", "generate", "op", "--dir", d)
            self.assertEqual(code, 0, err)
            with open(os.path.join(d, "op.pub")) as f:
                pub = f.read()
        self.assertIn(";operations = %s\n" % " ".join(name for name, _, _ in self.ops), pub)

    def test_acl_names_no_operation(self):
        code, out, err = harness.cli("acl", "--daemon", "web01=webserver", "--operator", "alice", "--beat", "b1")
        self.assertEqual(code, 0, err)
        self.assertIn("ACL SETUSER", out)
        for _, task, _ in self.ops:
            self.assertNotIn(task, out)


if __name__ == "__main__":
    unittest.main()
