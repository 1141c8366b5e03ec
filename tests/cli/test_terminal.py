"""Terminal injection: strings that hosts and Redis writers control reach
the CLI's output made inert.  A host whose os-release PRETTY_NAME carries
OSC 0 (window title) and OSC 52 (clipboard) sequences, a forged result, an
XADDed audit record, a window name, a job record and apt's progress text
full of escapes: the bytes the CLI prints hold no ESC, C1 or other control
byte but its own newlines (and, on a terminal, its own line-drawing
sequences), and table columns stay aligned by what is shown."""
import json
import os
import pty
import re
import select
import subprocess
import time
import unicodedata
import unittest
import uuid

import harness

OSC_TITLE = "\x1b]0;pwned title\x07"
OSC_CLIP = "\x1b]52;c;cm0gLXJmIH4K\x1b\\"
CSI_UP = "\x1b[1A\x1b[2K"
C1_CSI = "\u009b2J"
BIDI = "\u202e"
EVIL = OSC_TITLE + "Debian " + OSC_CLIP + CSI_UP + C1_CSI + BIDI + "\nfake row\r"
WIDE = "\u65e5\u672c\u8a9e Linux caf\u00e9"   # 2-column characters and an accented one


def inert(testcase, data, allow=()):
    """No byte a terminal would act on, other than newlines and the
    sequences listed in allow (regexes over bytes)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    for pattern in allow:
        data = re.sub(pattern, b"", data)
    for i, b in enumerate(data):
        if b == 0x0a:
            continue
        testcase.assertFalse(b < 0x20 or b == 0x7f, "control byte 0x%02x at %d: %r" % (b, i, data[max(0, i - 40):i + 40]))
        testcase.assertFalse(b == 0xc2 and i + 1 < len(data) and 0x80 <= data[i + 1] <= 0x9f,
                             "C1 control at %d: %r" % (i, data[max(0, i - 40):i + 40]))
    testcase.assertNotIn("\u009b", data.decode("utf-8", "replace"))
    testcase.assertNotIn(BIDI, data.decode("utf-8", "replace"))


def columns(text):
    """Display width, as a UTF-8 terminal shows it."""
    w = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return w


class Terminal(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.fleet = harness.Fleet({"web01": ["webserver"], "db01": ["database"], "evil": ["webserver"]})
        cls.fleet.__enter__()
        # The hosts' own os-release, then the pairs restarted so that the
        # registry carries it too.
        for host, pretty in (("evil", EVIL), ("db01", WIDE)):
            # os-release is line-based: everything but the newline goes in raw.
            with open(os.path.join(cls.fleet.pairs[host].root, "etc", "os-release"), "wb") as f:
                f.write(b'ID=debian\nPRETTY_NAME="' + pretty.replace("\n", " ").encode() + b'"\n')
            cls.fleet.pairs[host].stop()
            cls.fleet.pairs[host].start()
        cls.fleet.wait_registered(["evil", "db01"])
        cls.env = {"LC_ALL": "C.UTF-8"}

    @classmethod
    def tearDownClass(cls):
        cls.fleet.__exit__(None, None, None)

    def run_cli(self, *args, rc=None):
        code, out, err = self.fleet.cli(*args, env=self.env)
        if rc is not None:
            self.assertEqual(code, rc, out + err)
        inert(self, out)
        inert(self, err)
        return out, err

    # ---- hosts' own words ------------------------------------------------------

    def test_facts_with_escapes_in_os_release(self):
        out, _ = self.run_cli("facts", "--all", rc=0)
        self.assertIn("\\x1b]0;pwned", out)            # shown, escaped
        rows = [line for line in out.splitlines() if line.split(" ")[0] in ("web01", "db01", "evil")]
        self.assertEqual(len(rows), 3, out)
        kernel = os.uname().release[:20]
        # The kernel column starts at the same screen column on every row,
        # whatever the OS column held (escapes, wide characters).
        starts = {columns(row[:row.index(kernel)]) for row in rows}
        self.assertEqual(len(starts), 1, out)
        out, _ = self.run_cli("facts", "--all", "--json", rc=0)
        self.assertTrue(all(b < 0x80 for b in out.encode()), "non-ASCII byte in --json output")
        recs = {h["host"]: h for h in json.loads(out)["hosts"]}
        # Still what the host said (os-release's quoting aside), for scripts to judge.
        self.assertTrue(recs["evil"]["data"]["os_pretty"].startswith(OSC_TITLE + "Debian \x1b]52;c;"))
        self.assertEqual(recs["db01"]["data"]["os_pretty"], WIDE)

    def test_hosts_listing(self):
        out, _ = self.run_cli("hosts", rc=0)
        self.assertIn("evil", out)
        self.run_cli("hosts", "--json", rc=0)

    # ---- Redis writers' words ----------------------------------------------------

    def forge_job(self, host, meta_result, status="SUCCESS", target=None):
        r = self.fleet.redis.client()
        job, task = str(uuid.uuid4()), str(uuid.uuid4())
        r.set("celeryroot:job:" + job, json.dumps({
            "job": job, "operation": "ping", "task": "celeryroot.ping", "args": [], "kwargs": {},
            "target": target or "--host " + host, "requested_by": "x", "origin": "cli",
            "created": "2026-01-01T00:00:00Z", "created_ts": time.time(), "expires": "2099-01-01T00:00:00Z",
            "tasks": [{"host": host, "queue": "host." + host, "task_id": task}]}))
        r.zadd("celeryroot:jobs", {job: time.time()})
        r.set("celery-task-meta-" + task, json.dumps({
            "status": status, "result": meta_result, "traceback": None, "children": [],
            "date_done": "2026-01-01T00:00:00", "task_id": task}))
        return job

    def test_forged_result_and_failure(self):
        job = self.forge_job("web01", {"host": "web01", "status": "unchanged", "changed": False, "changes": {},
                                       "error": "all good" + CSI_UP + "\x1b[32mweb02  unchanged" + OSC_CLIP,
                                       "rollback": None, "duration_s": 0.1,
                                       "data": {"roles": ["web" + OSC_TITLE], "version": BIDI + "9"}})
        # web01 signs its results: a result it did not sign is shown as
        # forged, and none of its words reach the screen.
        out, _ = self.run_cli("job", job, rc=2)
        self.assertIn("forged", out)
        self.assertNotIn("pwned", out)
        self.run_cli("job", job, "--json", rc=2)
        job = self.forge_job("web01", {"exc_type": "PermissionError" + OSC_TITLE,
                                       "exc_message": ["refused\n" + CSI_UP + "web01  changed"]},
                             status="FAILURE")
        out, _ = self.run_cli("job", job, rc=2)
        self.assertIn("failed", out)
        self.assertIn("refused\\n", out)

    def test_jobs_listing(self):
        self.forge_job("db01", {"host": "db01", "status": "unchanged"}, target="--all" + OSC_TITLE + CSI_UP)
        out, _ = self.run_cli("jobs", rc=0)
        self.assertIn("\\x1b", out)
        self.run_cli("jobs", "--json", rc=0)

    def test_xadded_audit_record(self):
        r = self.fleet.redis.client()
        rec = {"time": "2026-01-01T00:00:00.000Z" + CSI_UP, "host": "web01", "operation": "install" + OSC_TITLE,
               "packages": ["nginx" + OSC_CLIP, "\u65e5\u672c"], "outcome": "changed" + C1_CSI,
               "error": "boom\n" + CSI_UP + "fake line", "changes": {"x\x1b[31m": {"old": None, "new": "1\x07"}}}
        r.xadd("celeryroot:audit", {"host": "web01", "record": json.dumps(rec)})
        r.xadd("celeryroot:audit", {"host": "web01", "record": json.dumps(dict(rec, packages=["plain"]))})
        out, _ = self.run_cli("audit", rc=0)
        self.assertIn("nginx\\x1b]52", out)
        rows = [line for line in out.splitlines() if "fake line" in line]
        self.assertEqual(len(rows), 2, out)
        # OUTCOME starts at one screen column on both rows: the packages
        # column (wide characters in one) is padded by what is shown.
        starts = {columns(row[:row.index("FORGED")]) for row in rows}   # unsigned: shown as forged
        self.assertEqual(len(starts), 1, out)
        self.run_cli("audit", "--json", rc=0)

    def test_window_names(self):
        # On a host of its own: web01's heartbeat rewrites its windows every
        # second, which would race with what the test planted.
        r = self.fleet.redis.client()
        rec = json.loads(r.get("celeryroot:host:web01"))
        rec.update(hostname="ghostwin", last_seen=time.time() + 30)
        r.set("celeryroot:host:ghostwin", json.dumps(rec), ex=60)
        r.sadd("celeryroot:hosts", "ghostwin")
        self.addCleanup(r.srem, "celeryroot:hosts", "ghostwin")
        r.set("celeryroot:host-windows:ghostwin", json.dumps([
            {"name": "nightly" + OSC_TITLE + CSI_UP, "days": "*", "start": "02:00", "duration": "1h", "zone": "UTC"}]))
        out, _ = self.run_cli("windows", rc=0)
        self.assertIn("nightly\\x1b", out)
        self.run_cli("windows", "--json", rc=0)

    # ---- progress on a terminal --------------------------------------------------

    def test_progress_text_on_a_terminal(self):
        """Under a pseudo-terminal the CLI draws live lines with its own
        sequences (erase line, cursor up); a PROGRESS result's text full of
        escapes is drawn inert among them."""
        r = self.fleet.redis.client()
        # A host whose heartbeat is fresh and that never answers.
        rec = json.loads(r.get("celeryroot:host:web01"))
        rec.update(hostname="ghost", last_seen=time.time() + 30)
        r.set("celeryroot:host:ghost", json.dumps(rec), ex=60)
        r.sadd("celeryroot:hosts", "ghost")
        before = set(r.zrange("celeryroot:jobs", 0, -1))
        master, slave = pty.openpty()
        env = dict(os.environ, CELERYROOT_BROKER_URL=self.fleet.redis.url, LC_ALL="C.UTF-8")
        p = subprocess.Popen([harness.cli_path(), "ping", "--host", "ghost", "--timeout", "6"],
                             stdin=slave, stdout=slave, stderr=slave, env=env)
        os.close(slave)
        try:
            job = harness.wait_for(lambda: (set(r.zrange("celeryroot:jobs", 0, -1)) - before or {None}).pop(), 10)
            task = json.loads(r.get(b"celeryroot:job:" + job))["tasks"][0]["task_id"]
            meta = json.dumps({"status": "PROGRESS", "task_id": task, "result": {
                "host": "ghost", "percent": 40, "package": "pkg" + OSC_TITLE,
                "text": "Unpacking" + OSC_CLIP + CSI_UP + "\u009b2J done" + BIDI}})
            r.set("celery-task-meta-" + task, meta)
            out = b""
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                r.publish("celery-task-meta-" + task, meta)
                ready, _, _ = select.select([master], [], [], 0.3)
                if ready:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:
                        break
                    if not chunk:
                        break
                    out += chunk
                if p.poll() is not None and not ready:
                    break
            p.wait(10)
        finally:
            os.close(master)
            r.delete("celeryroot:host:ghost")
            r.srem("celeryroot:hosts", "ghost")
        self.assertIn(b"Unpacking\\x1b]52", out)          # the progress line was drawn
        self.assertIn(b"\x1b[2K", out)                      # with the CLI's own sequences
        # The pty turns "\n" into "\r\n"; the CLI's own: erase line, N lines up.
        inert(self, out.replace(b"\r\n", b"\n"), allow=(rb"\x1b\[2K", rb"\x1b\[\d+A"))


if __name__ == "__main__":
    unittest.main()
