"""dpkg truth after a power cut: the whole process tree of a pair (priv,
net, the change worker, dpkg, the maintainer script) is killed at once in
each phase dpkg can be cut short in, the pair is started again, and the task
comes back.  Its one record must say what really happened since the task
first started (changed, old and new), dpkg must be whole (dpkg-query says
installed, dpkg --audit says nothing), the host's audit log must hold one
"changed" line for the task, and a later install must truthfully say
unchanged.  Each phase runs harness.fault_trials() times on its own host and
prints one FIGURE line."""
import json
import os
import time
import unittest

import dpkgfaults as df
import fleetcase
import harness

PACKAGES = [
    {"name": "ct-pre", "version": "1.0", "scripts": ["preinst"]},
    {"name": "ct-ua", "version": "1.0"},
    {"name": "ct-ub", "version": "1.0", "scripts": ["preinst"]},
    {"name": "ct-pi", "version": "1.0", "scripts": ["postinst"]},
    {"name": "ct-trig", "version": "1.0", "scripts": ["postinst"],
     "triggers": "interest-noawait /usr/share/ct-trig\n"},
    {"name": "ct-touch", "version": "1.0", "scripts": ["postinst"],
     "files": {"usr/share/ct-trig/touch": "x\n"}},
    {"name": "ct-upg", "version": "1.0", "scripts": ["postinst"]},
    {"name": "ct-upg", "version": "1.1", "scripts": ["postinst"]},
]

# phase: (host, operation and packages, what was installed first, the script
# that blocks, dpkg's states at the kill, the record's changes afterwards)
PHASES = {
    "preinst": ("t-pre", ["install", "ct-pre"], [], "ct-pre.preinst.install",
                {"ct-pre": "install reinstreq half-installed"},
                {"ct-pre": {"old": None, "new": "1.0"}}),
    "unpacked": ("t-unp", ["install", "ct-ua", "ct-ub"], [], "ct-ub.preinst.install",
                 {"ct-ua": "install ok unpacked", "ct-ub": "install reinstreq half-installed"},
                 {"ct-ua": {"old": None, "new": "1.0"}, "ct-ub": {"old": None, "new": "1.0"}}),
    "postinst": ("t-post", ["install", "ct-pi"], [], "ct-pi.postinst.configure",
                 {"ct-pi": "install ok half-configured"},
                 {"ct-pi": {"old": None, "new": "1.0"}}),
    "trigger": ("t-trig", ["install", "ct-touch"], ["ct-trig"], "ct-touch.postinst.configure",
                {"ct-trig": "install ok triggers-pending", "ct-touch": "install ok half-configured"},
                {"ct-touch": {"old": None, "new": "1.0"}}),
    # The power cut in a postinst of an upgrade: the record's old is what was
    # there before the interrupted run, not what the repair found.
    "upgrade_postinst": ("t-upg", ["upgrade", "ct-upg"], ["ct-upg=1.0"], "ct-upg.postinst.configure",
                         {"ct-upg": "install ok half-configured"},
                         {"ct-upg": {"old": "1.0", "new": "1.1"}}),
}


class TreeKill(fleetcase.FleetCase):
    @classmethod
    def setUpClass(cls):
        repo = os.path.join(cls.make_tmp(), "repo")
        df.build_debs(repo, PACKAGES)
        source = harness.build_repo(repo, [])
        hosts = {spec[0]: [] for spec in PHASES.values()}
        cls.start_fleet(hosts, sources=[source], config=df.FAULT_CONFIG)

    def trial(self, phase):
        """One power cut; returns (problems, recovery seconds, misreport)."""
        host, (op, *pkgs), setup, key, states, want = PHASES[phase]
        pair = self.fleet.pairs[host]
        root = pair.root
        df.purge(self.fleet, host, *sorted({p.split("=")[0] for p in pkgs + setup}))
        if setup:
            rec = df.cli_json(self.fleet, "apt", "install", *setup, "--host", host)
            self.assertEqual(rec["status"], "changed", rec)
        df.block(root, key)
        job, task = df.submit(self.fleet, "apt", op, *pkgs, "--host", host)
        df.wait_blocked(root, key)
        # The kill lands in the phase it is meant for.
        self.assertEqual({p: (df.dpkg_query(root, p) or ("",))[0] for p in states}, states)
        t0 = time.monotonic()
        df.kill_tree(pair)
        df.unblock(root, key)
        pair.start()
        rec = df.result(self.fleet, task)
        recovered = time.monotonic() - t0
        installed = sorted(set(want) | {p.split("=")[0] for p in setup})
        problems = df.record_problems(root, rec, task, want, installed)
        interrupted = rec.get("interrupted")
        if not interrupted or interrupted.get("attempt") != 1:
            problems.append("the record does not say the first run was cut short: %s" % json.dumps(interrupted))
        if not (rec.get("repaired") or {}).get("ok"):
            problems.append("no successful repair in the record: %s" % json.dumps(rec.get("repaired")))
        misreport = rec["status"] in ("changed", "unchanged") and (
            df.dpkg_audit(root) != "" or rec["status"] == "unchanged" or rec.get("changes") != want)
        # Later, the same request is truthfully a no-op.
        again = df.cli_json(self.fleet, "apt", op, *pkgs, "--host", host)
        if again["status"] != "unchanged" or again["changes"] != {}:
            problems.append("a later %s says %s %s" % (op, again["status"], json.dumps(again["changes"])))
        return problems, recovered, misreport

    def run_phase(self, phase):
        trials = harness.fault_trials()
        failures, times, misreports = [], [], 0
        for i in range(trials):
            problems, recovered, misreport = self.trial(phase)
            times.append(recovered)
            misreports += misreport
            failures += ["trial %d: %s" % (i + 1, p) for p in problems]
        truthful = trials - len({f.split(":")[0] for f in failures})
        df.figure("tree_kill_" + phase, trials, truthful=truthful, misreports=misreports,
                       recover_mean_s=sum(times) / len(times), recover_max_s=max(times))
        self.assertEqual(failures, [])
        self.assertEqual(misreports, 0)

    def test_preinst_running_half_installed(self):
        self.run_phase("preinst")

    def test_after_unpack_unpacked(self):
        self.run_phase("unpacked")

    def test_postinst_running_half_configured(self):
        self.run_phase("postinst")

    def test_trigger_pending(self):
        self.run_phase("trigger")

    def test_postinst_of_an_upgrade(self):
        self.run_phase("upgrade_postinst")


if __name__ == "__main__":
    unittest.main()
