"""celeryroot audit --verify against the host key: audit logs (with their
rotated files) and stream copies signed with PyNaCl exactly as priv signs
them (issue 12's format), on a real Redis where the attacker is a daemon's
ACL user from 'celeryroot acl' (it may XADD to the stream, and trim it).

The issue's cases: the last line cut and a copy of the new last line
XADDed; 10,000 filler entries; a forged {"seq": 999999}; and an untouched
log with a healthy stream, which is intact.  Besides: forged or unsigned
lines whose chain was recomputed, rotation kept verifiable across files,
stream records the host signed twice, and 'not checked' (no key, no
broker, nothing signed in the stream) never being a success."""
import json
import os
import shlex
import shutil
import tempfile
import unittest

import harness
import hostsig
import redis

HOST = "web01"


def objs(first, n, **extra):
    """n audit objects, unicode and reals among their fields."""
    out = []
    for i in range(first, first + n):
        o = hostsig.audit_obj(HOST, i, **extra)
        if i % 3 == 0:
            o["error"] = "dpkg: \u00e9chec \u65e5\u672c \U0001F600 \x07"
            o["outcome"] = "failed"
        if i % 4 == 0:
            o["took_s"] = 0.1 * i
        out.append(o)
    return out


class AuditVerify(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_root()
        cls.redis = harness.Redis()
        cls.admin = cls.redis.client()
        code, out, err = harness.cli("acl", "--daemon", HOST + "=webserver", "--operator", "alice", "--json",
                                     "--broker", cls.redis.url)
        assert code == 0, err
        cls.urls = {}
        for u in json.loads(out)["users"]:
            cls.admin.execute_command(*shlex.split(u["rule"]))
            cls.urls[u["kind"]] = u["url"]
        # What a stolen daemon password can do to the stream.
        cls.daemon = redis.Redis.from_url(cls.urls["daemon"])

    @classmethod
    def tearDownClass(cls):
        cls.redis.close()

    def setUp(self):
        self.admin.delete("celeryroot:audit")
        self.tmp = tempfile.mkdtemp(prefix="celeryroot-av.")
        self.root = os.path.join(self.tmp, "hosts", HOST)
        self.log = os.path.join(self.root, "var/log/celeryroot/audit.log")
        os.makedirs(os.path.dirname(self.log))
        os.makedirs(os.path.join(self.root, "var/lib/celeryroot"))
        self.key = hostsig.HostKey()
        self.key.pub_file(os.path.join(self.root, "var/lib/celeryroot/host.pub"))
        self.kh = os.path.join(self.tmp, "known_hosts")
        self.env = {"CELERYROOT_KNOWN_HOSTS": self.kh, "CELERYROOT_UNSIGNED_HOSTS": ""}

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- helpers ---------------------------------------------------------------------

    def write(self, path, lines, torn=None):
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(line + "\n" for line in lines)
            if torn:
                f.write(torn)

    def history(self, n=12, rotated=(3, 4), key=None):
        """n signed lines: the oldest in audit.log.2, .1 (sizes from rotated),
        the rest in audit.log; every one copied to the stream as net does."""
        lines = hostsig.audit_chain(key or self.key, objs(1, n))
        files, at = [], 0
        for i, size in enumerate(rotated):
            files.append((self.log + ".%d" % (len(rotated) - i), lines[at:at + size]))
            at += size
        files.append((self.log, lines[at:]))
        for path, part in files:
            self.write(path, part)
        for line in lines:
            self.xadd(hostsig.stream_copy(line))
        return lines

    def xadd(self, record, host=HOST, maxlen=None):
        kw = {"maxlen": maxlen, "approximate": False} if maxlen else {}
        return self.daemon.xadd("celeryroot:audit", {"host": host, "record": record}, **kw)

    def verify(self, *args, rc=None, env=None):
        code, out, err = harness.cli("audit", "--verify", *args, "--json", url=self.redis.url,
                                     env=dict(self.env, **(env or {})))
        if rc is not None:
            self.assertEqual(code, rc, out + err)
        return json.loads(out) if out.strip() else {"err": err}

    def full(self, rc):
        return self.verify("--file", self.log, "--host", HOST, rc=rc)

    # ---- intact ----------------------------------------------------------------------

    def test_untouched_log_and_healthy_stream_are_intact(self):
        lines = self.history()
        res = self.full(0)
        self.assertTrue(res["intact"])
        self.assertTrue(res["checked"])
        self.assertEqual((res["lines"], res["first_seq"], res["last_seq"]), (12, 1, 12))
        self.assertEqual(res["signed_lines"], 12)
        self.assertEqual(res["files"], [self.log + ".2", self.log + ".1", self.log])
        self.assertEqual(res["last_hash"], hostsig.line_hash(lines[-1]))
        self.assertEqual(res["key_fingerprint"], self.key.fingerprint)
        self.assertEqual((res["stream"]["records"], res["stream"]["forged"], res["overlap"]), (12, 0, 12))
        self.assertEqual(res["problems"], [])
        # The text says so too, and the file alone checks out (said: its
        # end was not compared).
        code, out, err = harness.cli("audit", "--verify", "--file", self.log, "--host", HOST, url=self.redis.url,
                                     env=self.env)
        self.assertEqual(code, 0, out + err)
        self.assertIn("audit trail intact", out)
        res = self.verify("--file", self.log, rc=0)
        self.assertIn("not compared with the Redis stream", " ".join(res["notes"]))
        # The stream alone, with the key from known_hosts.
        with open(self.kh, "w") as f:
            f.write("%s ed25519 %s\n" % (HOST, self.key.b64))
        os.chmod(self.kh, 0o600)
        res = self.verify("--host", HOST, rc=0)
        self.assertEqual(res["stream"]["records"], 12)

    def test_rotation_keeps_the_chain_across_files(self):
        self.history(n=10, rotated=(2, 3, 3))
        self.assertEqual(len(self.verify("--file", self.log, rc=0)["files"]), 4)
        # A file in the middle gone, or two swapped: broken.
        os.rename(self.log + ".2", os.path.join(self.tmp, "two"))
        res = self.verify("--file", self.log, rc=2)
        self.assertIn("audit.log.2 is missing", res["error"])
        os.rename(self.log + ".1", self.log + ".2")
        os.rename(os.path.join(self.tmp, "two"), self.log + ".1")
        self.assertIn("prev hash", self.verify("--file", self.log, rc=2)["error"])
        os.rename(self.log + ".1", os.path.join(self.tmp, "two"))
        os.rename(self.log + ".2", self.log + ".1")
        os.rename(os.path.join(self.tmp, "two"), self.log + ".2")
        self.verify("--file", self.log, rc=0)
        # The oldest file gone (rotated away, or deleted): said, not hidden.
        os.unlink(self.log + ".3")
        res = self.verify("--file", self.log, "--host", HOST, rc=0)
        self.assertEqual(res["first_seq"], 3)
        self.assertIn("starts at seq 3", " ".join(res["notes"]))

    def test_lines_from_before_signing_are_bound_by_the_chain(self):
        old = hostsig.audit_chain(None, objs(1, 4))
        new = hostsig.audit_chain(self.key, objs(5, 3), seq=5, prev=hostsig.line_hash(old[-1]))
        self.write(self.log, old + new)
        res = self.verify("--file", self.log, rc=0)
        self.assertEqual((res["signed_lines"], res["unsigned_lines"]), (3, 4))
        # Nothing signed at all: the chain holds, but nothing shows who wrote it.
        self.write(self.log, old)
        res = self.verify("--file", self.log, rc=3)
        self.assertIn("no line of", " ".join(res["unchecked"]))

    # ---- the cases ---------------------------------------------------------------

    def test_cut_last_line_and_copy_of_new_last_line_in_stream(self):
        lines = self.history(rotated=())
        self.write(self.log, lines[:-1])                       # seq 12 cut from the file
        self.xadd(hostsig.stream_copy(lines[-2]))              # a copy of seq 11 at the stream's end
        res = self.full(2)
        self.assertFalse(res["intact"])
        self.assertIn("the file ends at seq 11 but the stream holds web01's signed records up to seq 12: lines "
                      "were removed from the file's end", res["problems"])
        self.assertIn("copies of records", " ".join(res["notes"]))

    def test_ten_thousand_filler_entries(self):
        self.history(rotated=())
        pipe = self.daemon.pipeline(transaction=False)
        for i in range(10000):
            pipe.xadd("celeryroot:audit", {"host": HOST if i % 2 else "db01",
                                           "record": json.dumps({"host": HOST, "seq": 13 + i, "filler": i})})
        pipe.execute()
        res = self.full(0)
        self.assertTrue(res["stream_checked"])
        self.assertEqual(res["stream"]["records"], 12)
        self.assertEqual(res["stream"]["forged"] + res["stream"]["unsigned"], 10000)
        self.assertIn("forged, ignored", " ".join(res["notes"]))
        # Filler that trims the host's records away: nothing left to check,
        # which is not a success.
        self.xadd(json.dumps({"host": HOST, "seq": 1}), maxlen=5)
        res = self.full(3)
        self.assertFalse(res["intact"])
        self.assertIn("no record signed by web01's key is in the stream", " ".join(res["unchecked"]))

    def test_forged_seq_999999_entry(self):
        self.history(rotated=())
        self.xadd(json.dumps({"host": HOST, "seq": 999999, "prev": "0" * 64, "outcome": "changed"}))
        self.xadd(json.dumps({"host": HOST, "seq": 999998, "sig": self.key.sign(b"something else")}))
        res = self.full(0)
        self.assertTrue(res["intact"])
        self.assertEqual((res["stream"]["last_seq"], res["stream"]["forged"], res["stream"]["unsigned"]), (12, 1, 1))
        # The listing shows them as forged, never as what web01 did.
        with open(self.kh, "w") as f:
            f.write("%s ed25519 %s\n" % (HOST, self.key.b64))
        os.chmod(self.kh, 0o600)
        code, out, err = harness.cli("audit", "--host", HOST, "--json", url=self.redis.url, env=self.env)
        self.assertEqual(code, 0, err)
        marks = [e["signature"] for e in json.loads(out)["entries"]]
        self.assertEqual(marks, ["host"] * 12 + ["forged", "forged"])
        code, out, err = harness.cli("audit", "--host", HOST, url=self.redis.url, env=self.env)
        self.assertEqual(out.count("FORGED"), 2, out)

    # ---- what signatures stop -----------------------------------------------------------

    def test_forged_lines_with_a_recomputed_chain(self):
        lines = hostsig.audit_chain(self.key, objs(1, 6))
        # Line 4 edited and re-chained by someone without the key: the chain
        # holds, the signature cannot.
        o = json.loads(lines[3])
        o["packages"] = ["evilpkg"]
        rest = [json.loads(line) for line in lines[4:]]
        forged = [hostsig.jansson_dumps(o, ensure_ascii=False)]
        prev = hostsig.line_hash(forged[0])
        for r in rest:
            r["prev"] = prev
            forged.append(hostsig.jansson_dumps(r, ensure_ascii=False))
            prev = hostsig.line_hash(forged[-1])
        self.write(self.log, lines[:3] + forged)
        res = self.verify("--file", self.log, rc=2)
        self.assertIn("line 4 (seq 4): its signature does not verify", res["error"])
        # An unsigned line appended after signed ones.
        extra = hostsig.audit_line(None, dict(hostsig.audit_obj(HOST, 7), seq=7, prev=hostsig.line_hash(lines[-1])))
        self.write(self.log, lines + [extra])
        res = self.verify("--file", self.log, rc=2)
        self.assertIn("carries no signature after signed lines", res["error"])
        # Signed by another key (a key of the attacker's own).
        self.write(self.log, hostsig.audit_chain(hostsig.HostKey(), objs(1, 3)))
        self.assertIn("does not verify", self.verify("--file", self.log, rc=2)["error"])

    def test_chain_tampering_still_shows(self):
        lines = hostsig.audit_chain(self.key, objs(1, 5))
        cases = {
            "line 2 deleted": (lines[:1] + lines[2:], 2),
            "a line inserted": (lines[:2] + [lines[0]] + lines[2:], 3),
            "lines 2 and 3 swapped": (lines[:1] + [lines[2], lines[1]] + lines[3:], 2),
        }
        for name, (content, line) in cases.items():
            with self.subTest(name):
                self.write(self.log, content)
                res = self.verify("--file", self.log, rc=2)
                self.assertEqual(res["line"], line)
                self.assertIn("prev hash", res["error"])
        self.write(self.log, lines[:-1], torn=lines[-1][:30])
        self.assertIn("incomplete", self.verify("--file", self.log, rc=2)["error"])

    def test_the_host_signing_two_records_with_one_seq(self):
        """The host's log was started again (deleted): the stream holds
        the old chain, the file the new one."""
        old = self.history(n=5, rotated=())
        new = hostsig.audit_chain(self.key, objs(100, 5))
        self.write(self.log, new)
        res = self.full(2)
        self.assertIn("seq 1 differs between the file and its signed copy in the stream", res["problems"])
        for line in new:
            self.xadd(hostsig.stream_copy(line))
        res = self.verify("--host", HOST, "--key", os.path.join(self.root, "var/lib/celeryroot/host.pub"), rc=2)
        self.assertIn("two different records of web01 are signed with seq 1", " ".join(res["problems"]))
        self.assertEqual(len(old), 5)

    def test_stream_gaps_and_order_are_said(self):
        lines = hostsig.audit_chain(self.key, objs(1, 8))
        self.write(self.log, lines)
        for i in (0, 1, 4, 3, 7):              # 3 and 6 missing; 5 after 4 (overtaken)
            self.xadd(hostsig.stream_copy(lines[i]))
        res = self.full(0)
        notes = " ".join(res["notes"])
        self.assertIn("1 records of web01 between seq 2 and 4 are missing from the stream", notes)
        self.assertIn("2 records of web01 between seq 5 and 8 are missing from the stream", notes)
        self.assertIn("added after records with a higher seq", notes)

    # ---- not checked is never success ------------------------------------------------------

    def test_not_checked_is_not_success(self):
        self.history(rotated=())
        os.unlink(os.path.join(self.root, "var/lib/celeryroot/host.pub"))
        res = self.verify("--file", self.log, rc=3)
        self.assertFalse(res["intact"])
        self.assertIn("no key for web01", " ".join(res["unchecked"]))
        res = self.verify("--host", HOST, rc=3)
        self.assertIn("not in known_hosts", " ".join(res["unchecked"]))
        pub = self.key.pub_file(os.path.join(self.tmp, "web01.pub"))
        self.verify("--file", self.log, "--host", HOST, "--key", pub, rc=0)
        code, out, err = harness.cli("audit", "--verify", "--file", self.log, "--host", HOST, "--key", pub, "--json",
                                     url="redis://127.0.0.1:%d/0" % harness.free_port(), env=self.env)
        self.assertEqual(code, 3, out + err)
        self.assertIn("stream: not checked", " ".join(json.loads(out)["unchecked"]))
        res = self.verify("--file", os.path.join(self.tmp, "nosuch.log"), "--key", pub, rc=3)
        self.assertIn("cannot read", " ".join(res["unchecked"]))


if __name__ == "__main__":
    unittest.main()
