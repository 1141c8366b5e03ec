"""priv's memory at rest (DESIGN §7): a real pair on a sandbox host with
`[daemon] apt_cache_idle = 2`.  A read opens the APT cache and priv grows;
two seconds without a read and priv gives the cache back (its private
memory comes down again); the next read reopens it and answers right; a
change made just after sees the host as it is, not a stale cache; reads
that keep coming keep the cache open, and a change child running while
priv gives its cache back is not disturbed.

The repository carries FILLERS made-up packages (index entries only, no
.debs) so that the cache is big enough for its memory to be measured
robustly, whatever this machine's own lists hold.  Under valgrind the
memory figures are valgrind's own, so only the answers are checked there
(with fewer fillers: memcheck is slow)."""
import json
import os
import time
import unittest

import fleetcase
import harness

# Under valgrind one read (a whole CLI process and the pair) can take longer
# than 2 s: the gap between reads must stay well under the idle time.
IDLE_S = 8 if harness.VALGRIND else 2
FILLERS = 2000 if harness.VALGRIND else 30000
PACKAGES = [
    {"name": "idle-app", "version": "1.0"},
    {"name": "idle-two", "version": "1.0"},
    {"name": "idle-slow", "version": "1.0", "preinst_sleep": 8},
]
RELEASED = "gave the APT cache back"


def asan_build():
    """An ASan build (--enable-sanitizers) links libasan: there the shadow of
    the freed heap (an eighth of it) stays written when the heap is given back."""
    with open(harness.daemon_path(), "rb") as f:
        return b"libasan.so" in f.read()


def add_fillers(repo, n):
    """Appends n index entries to the repository's Packages: apt knows them
    (they fill its cache), nothing can install them."""
    with open(os.path.join(repo, "Packages"), "a") as f:
        for i in range(n):
            f.write("\nPackage: idle-filler-%05d\nVersion: 1.%d-1\nArchitecture: all\n"
                    "Depends: idle-filler-%05d (>= 1.0), libc6 | libc6-compat\n"
                    "Filename: ./idle-filler-%05d_1.%d-1_all.deb\nSize: 1234\n"
                    "Description: filler package %d for the idle cache test\n"
                    % (i, i, (i + 1) % n, i, i, i))


def mem_kib(pid):
    """(VmRSS, Private_Dirty) of pid in KiB."""
    with open("/proc/%d/status" % pid) as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    with open("/proc/%d/smaps_rollup" % pid) as f:
        dirty = next(int(line.split()[1]) for line in f if line.startswith("Private_Dirty:"))
    return rss, dirty


class CacheIdle(fleetcase.FleetCase):
    @classmethod
    def setUpClass(cls):
        tmp = cls.make_tmp()
        repo = os.path.join(tmp, "repo")
        source = harness.build_repo(repo, PACKAGES)
        add_fillers(repo, FILLERS)
        cls.start_fleet({"web01": ["webserver"]}, sources=[source], config={"apt_cache_idle": IDLE_S})
        cls.pair = cls.fleet.pairs["web01"]

    # ---- helpers ----------------------------------------------------------

    def releases(self):
        return self.pair.log().count(RELEASED)

    def wait_release(self, before, timeout=20):
        """Waits for priv's next release log line; returns the new count."""
        return harness.wait_for(lambda: self.releases() if self.releases() > before else None,
                                timeout * (4 if harness.VALGRIND else 1))

    def query(self, pkg):
        return self.run_json("apt", "query", pkg, "--host", "web01")["web01"]["data"]["packages"][pkg]

    def assert_memory(self, base, peak, after):
        """The read grew priv (private dirty memory) and nearly all of it came
        back: without malloc_trim a quarter of it stays in glibc's free lists."""
        if harness.VALGRIND:
            return   # valgrind's allocator, not glibc's: its figures say nothing here
        grown = peak[1] - base[1]
        self.assertGreater(grown, 4096, "the open cache should take MiBs: %s -> %s" % (base, peak))
        kept = 0.2 if asan_build() else 0.1
        self.assertLess(after[1] - base[1], grown * kept, "private dirty kept: %s -> %s -> %s" % (base, peak, after))
        self.assertLess(after[0], peak[0] - grown / 2, "resident kept: %s -> %s -> %s" % (base, peak, after))

    # ---- tests ------------------------------------------------------------

    def test_1_given_back_after_idle_then_reopened(self):
        # apt update ran in the change child: priv has no cache open yet.
        time.sleep(IDLE_S + 1)
        before = self.releases()
        base = mem_kib(self.pair.pid)
        info = self.query("idle-app")
        self.assertEqual((info["installed"], info["candidate"]), (None, "1.0"))
        peak = mem_kib(self.pair.pid)
        self.wait_release(before)
        after = mem_kib(self.pair.pid)
        self.assert_memory(base, peak, after)
        # Reopened on demand, with the same answer.
        info = self.query("idle-app")
        self.assertEqual((info["installed"], info["candidate"]), (None, "1.0"))
        self.assertTrue(self.query("idle-filler-00042")["known"])

    def test_2_change_right_after_reopen_is_seen(self):
        before = self.releases()
        self.query("idle-two")
        self.wait_release(before)
        self.assertIsNone(self.query("idle-two")["installed"])   # reopened
        rec = self.run_json("apt", "install", "idle-two", "--host", "web01")["web01"]
        self.assertEqual(rec["status"], "changed", json.dumps(rec))
        self.assertEqual(self.query("idle-two")["installed"], "1.0")   # not the stale cache

    def test_3_kept_while_reads_keep_coming(self):
        self.query("idle-app")
        before = self.releases()
        until = time.monotonic() + 3 * IDLE_S
        n = 0
        # At least 4 reads however slow each is (valgrind): the gap between
        # two stays IDLE_S / 4 plus one read's own time, well under IDLE_S.
        while n < 4 or time.monotonic() < until:
            self.assertEqual(self.query("idle-app")["candidate"], "1.0")
            n += 1
            time.sleep(IDLE_S / 4)
        self.assertGreaterEqual(n, 4)
        self.assertEqual(self.releases(), before, "given back while reads kept coming")
        self.wait_release(before)

    def test_4_given_back_while_a_change_child_runs(self):
        code, out, err = self.fleet.cli("apt", "install", "idle-slow", "--host", "web01", "--no-wait")
        self.assertEqual(code, 0, err)
        job = out.strip().split()[-1]
        r = self.fleet.redis.client()
        task = json.loads(r.get("celeryroot:job:" + job))["tasks"][0]["task_id"]
        harness.wait_for(lambda: any(task in line and "change child" in line
                                     for line in self.pair.log().splitlines()) or None, 20)
        # A read during the change opens priv's cache; it is given back while
        # the change child (its own process, its own copy) goes on.
        before = self.releases()
        self.assertIsNone(self.query("idle-slow")["installed"])
        self.wait_release(before)
        meta = r.get("celery-task-meta-" + task)
        self.assertTrue(meta is None or json.loads(meta)["status"] != "SUCCESS", "the change ended too soon")
        done = self.run_json("job", job, "--wait")["web01"]
        self.assertEqual(done["status"], "changed", json.dumps(done))
        self.assertEqual(self.query("idle-slow")["installed"], "1.0")


if __name__ == "__main__":
    unittest.main()
