"""docs/DESIGN.md is the design document the code cites as "DESIGN §N".
Every such reference in src/ and tests/ must name a section that exists, the
document's own "§N" cross-references too, and the sections must be numbered
1..N once each, so that a renumbering cannot leave references pointing at
the wrong topic unnoticed.  The source files DESIGN.md names (`src/net/...`,
or a bare `commit.c` in a table) must exist, so that a renamed file cannot
leave the document pointing at nothing.  Makefile.am must name only tools
that exist (it once named a tools/fuzz.sh that was not there)."""
import fnmatch
import os
import re
import unittest

import harness

DESIGN = os.path.join(harness.SRCDIR, "docs", "DESIGN.md")
SCANNED = ("src", "tests")
TEXT_EXT = (".c", ".h", ".cc", ".py", ".dict", ".sh", ".txt", ".md", ".am")
# "DESIGN §5", also when a comment wraps between the two ("DESIGN\n * §5").
REF = re.compile(r"DESIGN(?:[ \t]|\n[ \t]*(?:\*|#|//)?[ \t]*)*§[ \t]*(\S*)")
SECTION = re.compile(r"^## (\d+)\. \S", re.M)


def sections(text):
    return [int(n) for n in SECTION.findall(text)]


def references(text):
    """(line, what follows the §) for each DESIGN reference in text."""
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in REF.finditer(text)]


def bad_references(text, known):
    """The references of text that are not a number naming a known section."""
    out = []
    for line, what in references(text):
        num = re.match(r"\d+", what)
        if num is None or int(num.group(0)) not in known:
            out.append((line, what))
    return out


def source_files():
    for top in SCANNED:
        for d, dirs, files in os.walk(os.path.join(harness.SRCDIR, top)):
            dirs[:] = [x for x in dirs if not x.startswith(".") and x != "__pycache__" and x != "corpus"]
            for name in files:
                path = os.path.join(d, name)
                # This file quotes bad references on purpose.
                if name.endswith(TEXT_EXT) and os.path.abspath(path) != os.path.abspath(__file__):
                    yield path


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


# `src/net/net_consumer.c`, `commit.c`, `apt_shim_*.cc`: a file the document names.
NAMED_FILE = re.compile(r"`([A-Za-z0-9_./*-]+\.(?:c|h|cc|sh|py))`")


def tree_files():
    out = []
    for top in ("src", "tests", "tools", "contrib", "bench"):
        for d, dirs, files in os.walk(os.path.join(harness.SRCDIR, top)):
            out += [os.path.relpath(os.path.join(d, f), harness.SRCDIR) for f in files]
    return out


def missing_files(text, files):
    """The files text names that match nothing in files (paths relative to
    the top; a bare name or a glob matches by base name)."""
    names = {os.path.basename(f) for f in files}
    out = []
    for named in NAMED_FILE.findall(text):
        pool = files if "/" in named else names
        if not fnmatch.filter(pool, named):
            out.append(named)
    return out


class DesignRefs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.design = read(DESIGN)
        cls.known = set(sections(cls.design))

    def test_sections_numbered_once_in_order(self):
        nums = sections(self.design)
        self.assertGreaterEqual(len(nums), 10, "docs/DESIGN.md lost its numbered sections")
        self.assertEqual(nums, list(range(1, len(nums) + 1)), "sections must be numbered 1..N once each")

    def test_every_reference_names_a_section(self):
        bad, total = [], 0
        for path in source_files():
            text = read(path)
            total += len(references(text))
            rel = os.path.relpath(path, harness.SRCDIR)
            bad += ["%s:%d: DESIGN §%s" % (rel, line, what) for line, what in bad_references(text, self.known)]
        # The scan itself must find the references the code is known to make.
        self.assertGreaterEqual(total, 20, "the scan found almost no DESIGN references: is it broken?")
        self.assertEqual(bad, [], "references to sections docs/DESIGN.md does not have (it has %s):\n%s"
                         % (sorted(self.known), "\n".join(bad)))

    def test_design_cross_references(self):
        bad = [n for n in re.findall(r"§(\d+)", self.design) if int(n) not in self.known]
        self.assertEqual(bad, [], "docs/DESIGN.md refers to sections it does not have")

    def test_checker_catches_bad_references(self):
        """The checker itself: a missing section, a wrapped comment and a
        reference without a number are all caught; a good one is not."""
        known = {1, 2, 3}
        self.assertEqual(bad_references("/* x (DESIGN §3) */", known), [])
        self.assertEqual(bad_references("/* x (DESIGN §12) */", known), [(1, "12)")])
        self.assertEqual(bad_references("/* a\n * DESIGN\n * §7, b */", known), [(2, "7,")])
        self.assertEqual(bad_references("# DESIGN § and more", known), [(1, "and")])

    def test_named_files_exist(self):
        files = tree_files()
        self.assertGreaterEqual(len(NAMED_FILE.findall(self.design)), 20, "the scan found almost no file names")
        self.assertEqual(missing_files(self.design, files), [], "docs/DESIGN.md names files the tree does not have")
        # The checker itself: a renamed file is caught, globs and bare names match.
        self.assertEqual(missing_files("`src/net/worker.c` `commit.c` `apt_shim_*.cc` `nope.c`", files),
                         ["src/net/worker.c", "nope.c"])

    def test_makefile_names_existing_tools(self):
        text = read(os.path.join(harness.SRCDIR, "Makefile.am"))
        tools = set(re.findall(r"tools/[A-Za-z0-9_.-]+\.sh", text))
        self.assertIn("tools/hardening-check.sh", tools, "Makefile.am should say what runs the fuzzers")
        missing = sorted(t for t in tools if not os.path.isfile(os.path.join(harness.SRCDIR, t)))
        self.assertEqual(missing, [], "Makefile.am names tools that do not exist")


if __name__ == "__main__":
    unittest.main()
