"""The change worker and dpkg belong to priv: when one half of the pair dies
mid-change, the change is never orphaned without an owner and never
reported twice.

- net killed while a long preinst runs: priv stops serving but stays, the
  worker stays priv's child and finishes, priv exits after it; the task,
  delivered again to the restarted pair, is answered with what that run did
  ("redelivered": true), and the audit log holds one "changed" line for it.
- priv killed (net goes with it) while a long preinst runs: the worker
  carries on alone; the restarted pair's run of the same task waits for it
  ("waiting for an earlier change (pid N) to finish") and then answers with
  what it did.
- the worker alone killed: its dpkg is adopted by priv (the subreaper), and
  the change runs again after dpkg has finished, resumed from the journal.

Each fault runs harness.fault_trials() times and prints one FIGURE line."""
import json
import os
import signal
import time
import unittest

import dpkgfaults as df
import fleetcase
import harness

PACKAGES = [{"name": "ct-long", "version": "1.0", "scripts": ["preinst"]}]
KEY = "ct-long.preinst.install"
WANT = {"ct-long": {"old": None, "new": "1.0"}}


def parent_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(") ", 1)[1].split()[1])


class OwnerDies(fleetcase.FleetCase):
    @classmethod
    def setUpClass(cls):
        repo = os.path.join(cls.make_tmp(), "repo")
        df.build_debs(repo, PACKAGES)
        cls.start_fleet({"o-net": [], "o-priv": [], "o-worker": []}, sources=[harness.build_repo(repo, [])],
                        config=df.FAULT_CONFIG)

    def start_long_install(self, host):
        """The install of ct-long, held in its preinst; returns (task, net, worker)."""
        pair = self.fleet.pairs[host]
        df.purge(self.fleet, host, "ct-long")
        df.block(pair.root, KEY)
        job, task = df.submit(self.fleet, "apt", "install", "ct-long", "--host", host)
        df.wait_blocked(pair.root, KEY)
        net = pair.net_pid()
        workers = [p for p in df.children(pair.pid) if p != net]
        self.assertEqual(len(workers), 1, workers)
        return task, net, workers[0]

    def redelivered_problems(self, host, task, rec):
        root = self.fleet.pairs[host].root
        problems = df.record_problems(root, rec, task, WANT, ["ct-long"])
        if rec.get("redelivered") is not True:
            problems.append("not answered from the journal: %s" % json.dumps(rec))
        return problems

    def test_net_killed_mid_change(self):
        host = "o-net"
        pair = self.fleet.pairs[host]
        trials, failures, orphaned, times = harness.fault_trials(), [], 0, []
        for i in range(trials):
            task, net, worker = self.start_long_install(host)
            os.kill(net, signal.SIGKILL)
            harness.wait_for(lambda: "waiting for the change of task %s" % task in pair.log(), 20)
            # priv stays while the change runs, and the worker is still its child.
            alive = pair.proc.poll() is None and df.alive(worker) and parent_of(worker) == pair.pid
            orphaned += not alive
            t0 = time.monotonic()
            df.unblock(pair.root, KEY)
            pair.proc.wait(60)   # priv exits once the change has finished
            if df.alive(worker):
                failures.append("trial %d: the worker outlived priv" % (i + 1))
            first = [a["outcome"] for a in df.audit_lines(pair.root, task)]
            if first != ["changed"]:
                failures.append("trial %d: after the first run the audit log says %s" % (i + 1, first))
            pair.start()
            rec = df.result(self.fleet, task)
            times.append(time.monotonic() - t0)
            failures += ["trial %d: %s" % (i + 1, p) for p in self.redelivered_problems(host, task, rec)]
        df.figure("net_killed_mid_change", trials, truthful=trials - len({f.split(":")[0] for f in failures}),
                       orphaned=orphaned, misreports=sum("status" in f or "changes" in f for f in failures),
                       recover_max_s=max(times))
        self.assertEqual(orphaned, 0)
        self.assertEqual(failures, [])

    def test_priv_killed_mid_change(self):
        host = "o-priv"
        pair = self.fleet.pairs[host]
        r = self.fleet.redis.client()
        trials, failures, waited, times = harness.fault_trials(), [], 0, []
        for i in range(trials):
            task, net, worker = self.start_long_install(host)
            pair.proc.kill()
            pair.proc.wait(10)
            try:   # net ends with priv; here it is not left to chance
                os.kill(net, signal.SIGKILL)
            except ProcessLookupError:
                pass
            harness.wait_for(lambda: not df.alive(net), 20)
            self.assertTrue(df.alive(worker), "the change worker died with priv")
            t0 = time.monotonic()
            pair.start()
            note = "waiting for an earlier change (pid %d) to finish" % worker
            try:
                harness.wait_for(lambda: note.encode() in (r.get("celery-task-meta-" + task) or b""), 60)
                waited += 1
            except AssertionError:
                failures.append("trial %d: the new run did not wait for the orphan" % (i + 1))
            df.unblock(pair.root, KEY)
            rec = df.result(self.fleet, task)
            times.append(time.monotonic() - t0)
            failures += ["trial %d: %s" % (i + 1, p) for p in self.redelivered_problems(host, task, rec)]
        df.figure("priv_killed_mid_change", trials, truthful=trials - len({f.split(":")[0] for f in failures}),
                       waited_for_orphan=waited, misreports=sum("status" in f or "changes" in f for f in failures),
                       recover_max_s=max(times))
        self.assertEqual(failures, [])

    def test_worker_killed_mid_change(self):
        """Only the worker dies (someone's kill -9, the OOM killer): dpkg is
        adopted by priv, not by init, and the same change runs again once
        dpkg has finished, answering from the journal's before."""
        host = "o-worker"
        pair = self.fleet.pairs[host]
        trials, failures, adopted = harness.fault_trials(), [], 0
        for i in range(trials):
            task, net, worker = self.start_long_install(host)
            below = df.children(worker)
            self.assertTrue(below, "no dpkg under the worker")
            os.kill(worker, signal.SIGKILL)
            harness.wait_for(lambda: not df.alive(worker), 10)
            harness.wait_for(lambda: all(not df.alive(p) or parent_of(p) != worker for p in below), 10)
            adopted += all(parent_of(p) == pair.pid for p in below if df.alive(p))
            df.unblock(pair.root, KEY)
            rec = df.result(self.fleet, task)
            problems = df.record_problems(pair.root, rec, task, WANT, ["ct-long"])
            if (rec.get("interrupted") or {}).get("attempt") != 1:
                problems.append("not resumed from the journal: %s" % json.dumps(rec))
            failures += ["trial %d: %s" % (i + 1, p) for p in problems]
        df.figure("worker_killed_mid_change", trials,
                       truthful=trials - len({f.split(":")[0] for f in failures}), adopted_by_priv=adopted,
                       misreports=sum("status" in f or "changes" in f for f in failures))
        self.assertEqual(adopted, trials)
        self.assertEqual(failures, [])


if __name__ == "__main__":
    unittest.main()
