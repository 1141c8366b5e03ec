"""Names along the trust boundary (docs/DESIGN.md §10): every symbol a
side's objects export carries that side's prefix: net_ for src/net (the
unprivileged program), priv_ for src/priv (root), cr_ for src/shared (linked
into both), so a call site says which process its callee runs in.  Reads
the built objects with nm; a new function without its prefix fails here."""
import glob
import os
import subprocess
import tempfile
import unittest

import harness

SIDES = {"net": "net_", "priv": "priv_", "shared": "cr_"}


def objects(side):
    # per-test copies (tests_..._test_x-file.o) repeat the same code
    return [o for o in glob.glob(os.path.join(harness.BUILDDIR, "src", side, "*.o"))
            if "-" not in os.path.basename(o)]


def exported(objs):
    out = subprocess.run(["nm", "-g", "--defined-only"] + objs, capture_output=True,
                         text=True, check=True).stdout
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        # _Z: C++ mangled (the shim's namespace); __: the implementation's
        # (ASan's __odr_asan.* indicators, for one)
        if len(parts) == 3 and parts[1] in "TDBR" and not parts[2].startswith(("_Z", "__")):
            syms.add(parts[2])
    return syms - {"main"}


class Prefixes(unittest.TestCase):
    def test_each_side_prefixes_what_it_exports(self):
        for side, prefix in SIDES.items():
            with self.subTest(side=side):
                objs = objects(side)
                self.assertGreater(len(objs), 3, "no objects built for src/%s" % side)
                syms = exported(objs)
                self.assertGreater(len(syms), 10)
                self.assertEqual(sorted(s for s in syms if not s.startswith(prefix)), [],
                                 "src/%s exports symbols without %s" % (side, prefix))

    def test_an_unprefixed_function_is_seen(self):
        # the check can fail: an object exporting one prefixed and one bare
        # function, and a static one that is nobody's business
        with tempfile.TemporaryDirectory() as d:
            src, obj = os.path.join(d, "x.c"), os.path.join(d, "x.o")
            with open(src, "w") as f:
                f.write("int net_ok(void){return 1;}\nint audit_flush(void){return 2;}\n"
                        "static int helper(void){return 3;}\nint net_uses(void){return helper();}\n")
            subprocess.run(["cc", "-c", "-o", obj, src], check=True)
            self.assertEqual(sorted(exported([obj])), ["audit_flush", "net_ok", "net_uses"])


if __name__ == "__main__":
    unittest.main()
