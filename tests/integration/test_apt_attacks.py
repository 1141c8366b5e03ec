"""A malicious package against issue 15's records (H5's attack pass), on a
real sandbox host with real dpkg.  Its maintainer scripts print terminal
escapes, C1 controls, bidi overrides, NUL bytes and invalid UTF-8, or 1 MiB
with no newline; its conffile list names ../ paths, a path with an escape
in it, a directory symlinked out of the host's root, and its .dpkg-dist is
a symlink out of the root; another package swaps its own conffile list for
a symlink.  What they can make the host do: put '?'-cleaned words into the
failure record (at most 2 KiB of them), and name files under the root's
/etc that it left.  What they cannot: reach the CLI's terminal raw (table
or --json), make priv read or list anything through a symlink that leaves
the root, or stop the pair answering."""
import os
import shutil
import tempfile
import unittest

import fleetcase
import harness

OUTSIDE = tempfile.mkdtemp(prefix="cr-h5-outside-")
ESCAPES = r"""#!/bin/sh
[ "$1" = configure ] || exit 0
printf 'ax: \033]0;pwned title\007 \033[1A\033[2K \302\2332J \342\200\256rtl \000nul \377\376 bad\n'
printf 'ax: the end (ERR-AX-1)\n' >&2
exit 1
"""
# Valid UTF-8, so kept as UTF-8: its C1 CSI and bidi override must still go.
C1 = r"""#!/bin/sh
printf 'ax-c1: \302\2332J \342\200\256rtl \342\201\246iso caf\303\251 (ERR-AX-C1)\n'
exit 1
"""
FLOOD = """#!/bin/sh
head -c 1048576 /dev/zero | tr '\\000' A
exit 1
"""
# Run chrootless (the sandbox's dpkg --root): $DPKG_ROOT is the host's root.
CONF = r"""#!/bin/sh
[ "$1" = configure ] || exit 0
R="$DPKG_ROOT"
mkdir -p %(out)s/dir
echo secret > %(out)s/secret
echo outside > %(out)s/dir/y.conf.dpkg-dist
ln -sfn %(out)s/secret "$R/etc/ax-conf.conf.dpkg-dist"
ln -sfn %(out)s/dir "$R/etc/ax-dir"
echo left > "$R/etc/ax$(printf '\033]0;t\007').conf.dpkg-dist"
echo left > "$R/etc/ax-real.conf.dpkg-dist"
cat >> "$R/var/lib/dpkg/info/ax-conf.conffiles" <<EOF
../../etc/ax-real.conf
/etc/../../%(out)s/dir/y.conf
/etc/ax-dir/y.conf
remove-on-upgrade /etc/ax-dir/y.conf
/etc/ax$(printf '\033]0;t\007').conf
EOF
exit 0
""" % {"out": OUTSIDE}
LIST = r"""#!/bin/sh
[ "$1" = configure ] || exit 0
R="$DPKG_ROOT"
echo /etc/ax-list.conf > %(out)s/list
echo left > "$R/etc/ax-list.conf.dpkg-dist"
rm -f "$R/var/lib/dpkg/info/ax-list.conffiles"
ln -s %(out)s/list "$R/var/lib/dpkg/info/ax-list.conffiles"
exit 0
""" % {"out": OUTSIDE}
PACKAGES = [
    ({"name": "ax-escape", "version": "1.0"}, "postinst", ESCAPES),
    ({"name": "ax-flood", "version": "1.0"}, "preinst", FLOOD),
    ({"name": "ax-c1", "version": "1.0"}, "preinst", C1),
    ({"name": "ax-conf", "version": "1.0", "files": {"etc/ax-conf.conf": "a = 1\n"}}, "postinst", CONF),
    ({"name": "ax-list", "version": "1.0"}, "postinst", LIST),
]


def build(directory):
    os.makedirs(directory)
    with tempfile.TemporaryDirectory() as tree:
        for pkg, script, text in PACKAGES:
            root = harness.deb_tree(tree, pkg)
            if pkg.get("files"):
                with open(os.path.join(root, "DEBIAN", "conffiles"), "w") as f:
                    f.write("".join("/%s\n" % rel for rel in pkg["files"]))
            harness.deb_script(root, script, text)
            harness.deb_build(root, directory, pkg)
    return harness.build_repo(directory, [])


class AptAttacks(fleetcase.FleetCase):
    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp()
        cls.start_fleet({"web01": ["web"]}, sources=[build(os.path.join(tmp, "repo"))])

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(OUTSIDE, ignore_errors=True)

    def inert(self, text):
        """No byte a terminal acts on but newlines: no C0, DEL, C1 or bidi override."""
        data = text.encode("utf-8", "surrogateescape")
        for i, b in enumerate(data):
            self.assertFalse((b < 0x20 and b != 0x0a) or b == 0x7f, "control 0x%02x: %r" % (b, data[i - 40:i + 40]))
        self.assertNotIn(b"\xc2\x9b", data)
        self.assertNotIn("\u202e", data.decode("utf-8", "replace"))

    def table(self, job):
        """`celeryroot job JOB`, table and --json, checked inert; the table."""
        code, out, err = self.fleet.cli("job", job, env={"LC_ALL": "C.UTF-8"})
        self.inert(out + err)
        code, js, err = self.fleet.cli("job", job, "--json", env={"LC_ALL": "C.UTF-8"})
        self.inert(js + err)
        self.assertTrue(all(ord(ch) < 0x80 for ch in js), "non-ASCII in --json")
        return out

    def alive(self):
        rec = self.run_json("ping", "--host", "web01")["web01"]
        self.assertIn(rec["status"], ("ok", "unchanged"), rec)

    def test_script_escapes_reach_the_record_cleaned_and_the_terminal_inert(self):
        rec = self.run_json("apt", "install", "ax-escape", "--host", "web01", rc=2)["web01"]
        self.assertEqual(rec["status"], "failed", rec)
        out = rec["data"]["script_output"]
        self.assertIn("ERR-AX-1", out)
        self.assertIn("pwned title", out)
        # Every control, C1 and bidi character is a '?'; invalid UTF-8 leaves ASCII only.
        self.inert(out)
        self.assertTrue(all(ord(ch) < 0x80 for ch in out), repr(out))
        self.assertIn("ax: ?]0;pwned title? ?[1A?[2K ?2J ?rtl ?nul ?? bad", out)
        self.inert(rec["error"])
        table = self.table(rec["job"])
        self.assertIn("ERR-AX-1", table)
        self.alive()

    def test_c1_controls_and_bidi_overrides_in_valid_utf8(self):
        rec = self.run_json("apt", "install", "ax-c1", "--host", "web01", rc=2)["web01"]
        self.assertEqual(rec["data"]["script_output"], "ax-c1: ?2J ?rtl ?iso caf\u00e9 (ERR-AX-C1)")
        self.inert(rec["error"])
        self.assertIn("caf\u00e9 (ERR-AX-C1)", self.table(rec["job"]))

    def test_a_megabyte_without_newline_is_cut_to_its_end(self):
        rec = self.run_json("apt", "install", "ax-flood", "--host", "web01", rc=2)["web01"]
        self.assertEqual(rec["status"], "failed", rec)
        out = rec["data"]["script_output"]
        self.assertLessEqual(len(out), 2048)
        self.assertGreater(len(out), 100, repr(out) + repr(rec["error"][:300]))
        self.assertTrue(out.startswith("...AAA"), out[:80])
        self.assertEqual(set(out[3:]), {"A"})   # the script's words alone, dpkg's report left out
        self.assertLess(len(rec["error"]), 4096)
        self.table(rec["job"])
        self.assertEqual(os.path.getsize(os.path.join(self.fleet.pairs["web01"].root,
                                                      "var/lib/celeryroot/dpkg-output")), 0)
        self.alive()

    def test_conffile_list_cannot_lead_priv_out_of_the_root(self):
        rec = self.run_json("apt", "install", "ax-conf", "--host", "web01")["web01"]
        self.assertEqual(rec["status"], "changed", rec)
        left = rec["data"]["conffiles_left"]
        # Listed: the file with an escape in its name (under /etc, regular, new).
        # Not: the symlinked .dpkg-dist, the ../ paths, the file reached
        # through /etc/ax-dir (a symlink out of the root).
        self.assertEqual(left, ["/etc/ax\x1b]0;t\x07.conf.dpkg-dist"])
        self.assertTrue(os.path.exists(os.path.join(self.fleet.pairs["web01"].root, "etc/ax-dir/y.conf.dpkg-dist")))
        table = self.table(rec["job"])
        self.assertIn("conffile left: /etc/ax\\x1b]0;t\\x07.conf.dpkg-dist", table)
        self.alive()

    def test_a_conffile_list_swapped_for_a_symlink_is_not_read(self):
        rec = self.run_json("apt", "install", "ax-list", "--host", "web01")["web01"]
        self.assertEqual(rec["status"], "changed", rec)
        self.assertTrue(os.path.islink(os.path.join(self.fleet.pairs["web01"].root,
                                                    "var/lib/dpkg/info/ax-list.conffiles")))
        self.assertEqual(rec["data"]["conffiles_left"], [])


if __name__ == "__main__":
    unittest.main()
