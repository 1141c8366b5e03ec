"""Failure records carry the cause (issue 15): when a maintainer script
fails, the record's error (and the audit line's) ends with what the script
itself printed, on stdout and stderr, after dpkg's own "subprocess ...
returned error exit status 1" -- its last lines only (at most 20, from the
last 2 KiB), control bytes cleaned, dpkg's own lines left out.  dpkg's output goes to a file under
priv's state directory, not to the journal."""
import os
import tempfile
import unittest

import attest
import fleetcase
import harness

PREINST = """#!/bin/sh
echo "se-pre: checking the frobnicator"
echo "se-pre: cannot find /srv/frob (ERR-PRE-4711)" >&2
exit 1
"""
POSTINST = """#!/bin/sh
[ "$1" = configure ] || exit 0
echo "se-post: \\033[31mred\\033[0m\\tand a bell\\a"
echo "se-post: database schema too new (ERR-POST-0815)" >&2
exit 1
"""
# A script that talks a lot before failing: only the end is kept.
CHATTY = """#!/bin/sh
i=0
while [ $i -lt 500 ]; do echo "se-chatty: line $i"; i=$((i+1)); done
echo "se-chatty: the last word (ERR-CHATTY-9)" >&2
exit 1
"""
# Not UTF-8 (a Latin-1 e-acute): the record keeps the text, as ASCII.
LATIN1 = """#!/bin/sh
printf 'se-latin: caf\\351 closed (ERR-LATIN-1)\\n'
exit 1
"""
PACKAGES = [
    ({"name": "se-pre", "version": "1.0"}, "preinst", PREINST),
    ({"name": "se-post", "version": "1.0"}, "postinst", POSTINST),
    ({"name": "se-chatty", "version": "1.0"}, "preinst", CHATTY),
    ({"name": "se-latin", "version": "1.0"}, "preinst", LATIN1),
    ({"name": "se-fine", "version": "1.0"}, None, None),
]


def build(directory):
    os.makedirs(directory)
    with tempfile.TemporaryDirectory() as tree:
        for pkg, script, text in PACKAGES:
            root = harness.deb_tree(tree, pkg)
            if script:
                harness.deb_script(root, script, text)
            harness.deb_build(root, directory, pkg)
    return harness.build_repo(directory, [])


class AptScriptErrors(fleetcase.FleetCase):
    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp()
        cls.start_fleet({"web01": ["web"]}, sources=[build(os.path.join(tmp, "repo"))])

    def root(self):
        return self.fleet.pairs["web01"].root

    def failed(self, pkg):
        rec = self.run_json("apt", "install", pkg, "--host", "web01", rc=2)["web01"]
        self.assertEqual(rec["status"], "failed", rec)
        return rec

    def audit_error(self, pkg):
        root = self.root()
        with open(os.path.join(root, "var/log/celeryroot/audit.log"), "rb") as f:
            lines = [l for l in f.read().splitlines() if ('"%s"' % pkg).encode() in l]
        return attest.verify_line(lines[-1], attest.host_pub(root))["error"]

    def test_a_failing_preinst_says_its_own_words(self):
        rec = self.failed("se-pre")
        err = rec["error"]
        self.assertIn("returned error exit status 1", err)   # dpkg's words stay
        self.assertIn("se-pre: checking the frobnicator", err)   # stdout
        self.assertIn("se-pre: cannot find /srv/frob (ERR-PRE-4711)", err)   # stderr
        self.assertLess(err.index("returned error exit status"), err.index("ERR-PRE-4711"))
        # Exactly the script's words: dpkg's progress and its own report of
        # the failure (which the error has already) are left out.
        self.assertEqual(rec["data"]["script_output"],
                         "se-pre: checking the frobnicator | se-pre: cannot find /srv/frob (ERR-PRE-4711)")
        self.assertIn("ERR-PRE-4711", self.audit_error("se-pre"))
        self.assertTrue(rec["rollback"]["ok"], rec)
        # What the error says already is not said twice; a progress line
        # overwritten with "\r" shows as a terminal shows it.
        self.assertNotIn("Errors were encountered", err)
        self.assertEqual(err.count("returned error exit status 1"), 1, err)
        self.assertNotIn("(Reading database ... (Reading", err)

    def test_a_failing_postinst_cleaned_of_control_bytes(self):
        rec = self.failed("se-post")
        err = rec["error"]
        self.assertIn("se-post: database schema too new (ERR-POST-0815)", err)
        self.assertIn("se-post: ?[31mred?[0m and a bell?", err)
        self.assertEqual(rec["data"]["script_output"], "se-post: ?[31mred?[0m and a bell? | "
                         "se-post: database schema too new (ERR-POST-0815)")
        self.assertFalse(any(ord(ch) < 0x20 for ch in err), repr(err))

    def test_output_that_is_not_utf8_still_reaches_the_record(self):
        rec = self.failed("se-latin")
        self.assertEqual(rec["data"]["script_output"], "se-latin: caf? closed (ERR-LATIN-1)")
        self.assertIn("ERR-LATIN-1", rec["error"])
        self.assertIn("ERR-LATIN-1", self.audit_error("se-latin"))

    def test_only_the_end_of_a_long_output_is_kept(self):
        out = self.failed("se-chatty")["data"]["script_output"]
        self.assertIn("se-chatty: the last word (ERR-CHATTY-9)", out)
        self.assertIn("se-chatty: line 499", out)
        self.assertNotIn("se-chatty: line 480 ", out + " ")   # more than 20 lines back
        self.assertLessEqual(len(out.split(" | ")), 20)
        self.assertLessEqual(len(out), 2048 + 3 * 20)

    def test_the_output_is_not_in_the_journal_and_a_success_has_none(self):
        rec = self.run_json("apt", "install", "se-fine", "--host", "web01")["web01"]
        self.assertEqual(rec["status"], "changed", rec)
        self.assertNotIn("script_output", rec["data"])
        self.failed("se-pre")
        with open(self.fleet.pairs["web01"].log_path, errors="replace") as f:
            log = f.read()
        self.assertNotIn("se-pre: checking the frobnicator", log)
        self.assertNotIn("Unpacking se-fine", log)
        # The file it went to is emptied after each change.
        self.assertEqual(os.path.getsize(os.path.join(self.root(), "var/lib/celeryroot/dpkg-output")), 0)


if __name__ == "__main__":
    unittest.main()
