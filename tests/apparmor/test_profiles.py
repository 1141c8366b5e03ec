"""The AppArmor profiles in apparmor/: each one parses (apparmor_parser
compiles it without loading, which works without AppArmor in the kernel),
a broken copy does not, and the rules that matter are there — net gets the
network and nothing of the host, priv's exec of dpkg is explicit."""
import os
import re
import subprocess
import tempfile
import unittest

import harness

PARSER = "/usr/sbin/apparmor_parser"
PROFILES = os.path.join(harness.SRCDIR, "apparmor")
PRIV = os.path.join(PROFILES, "celeryrootd")
NET = os.path.join(PROFILES, "celeryroot-net")


def parse(path):
    """Compiles path without loading it or touching a cache."""
    return subprocess.run([PARSER, "-Q", "-K", "-T", "--skip-read-cache", path],
                          capture_output=True, text=True)


def expanded(path):
    """The profile with every include expanded (apparmor_parser -p)."""
    p = subprocess.run([PARSER, "-p", path], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout


def rules(text):
    """Rule lines without comments and blank lines."""
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip() if not line.strip().startswith("#include") else ""
        if line:
            out.append(line)
    return out


def blocks(path):
    """{profile name: [its own rule lines]}, child profiles separately."""
    result, stack = {}, []
    with open(path) as f:
        for line in rules(f.read()):
            m = re.match(r"profile\s+(\S+).*\{$", line)
            if m:
                stack.append(m.group(1))
                result[stack[-1]] = []
            elif line == "}":
                stack.pop()
            elif stack:
                result[stack[-1]].append(line)
    return result


FILE_RULE = re.compile(r"(?:(?:audit|deny|owner)\s+)*(?:file\s+)?([/@]\S*)\s+([a-zA-Z]+)\s*(->\s*\S+\s*)?,$")


def file_rules(lines):
    """(path, permissions) of every file rule."""
    return [m.groups()[:2] for m in map(FILE_RULE.match, lines) if m]


def exec_rules(lines):
    """File rules that let a program be executed (any x mode), as written."""
    return [r for r in lines if (m := FILE_RULE.match(r)) and "x" in m.group(2).lower()
            and not r.startswith("deny")]


class Profiles(unittest.TestCase):
    def test_parser_available(self):
        self.assertTrue(os.access(PARSER, os.X_OK), "apparmor_parser missing: install 'apparmor' (tools/deps.sh)")

    def test_every_profile_parses(self):
        names = sorted(os.listdir(PROFILES))
        self.assertEqual(names, ["celeryroot-net", "celeryrootd"])
        for name in names:
            with self.subTest(profile=name):
                p = parse(os.path.join(PROFILES, name))
                self.assertEqual(p.returncode, 0, p.stderr)

    def test_a_broken_profile_fails_to_parse(self):
        with open(PRIV) as f:
            text = f.read()
        broken = {
            "bad permission": text.replace("  /etc/celeryroot/ r,\n", "  /etc/celeryroot/ rr bogus,\n"),
            "unknown capability": text.replace("capability kill,", "capability kil,"),
            "unclosed child profile": text.replace("    include if exists <local/celeryrootd.dpkg>\n  }\n",
                                                   "    include if exists <local/celeryrootd.dpkg>\n"),
        }
        for what, bad in broken.items():
            with self.subTest(what=what):
                self.assertNotEqual(bad, text, "the test's edit did not apply")
                with tempfile.NamedTemporaryFile("w", suffix=".profile") as f:
                    f.write(bad)
                    f.flush()
                    p = parse(f.name)
                self.assertNotEqual(p.returncode, 0, "a broken profile parsed: " + what)

    def test_net_has_network_and_nothing_of_the_host(self):
        lines = rules(expanded(NET))
        self.assertEqual([r for r in lines if r.startswith("capability")], [])
        self.assertEqual(exec_rules(lines), [])
        self.assertFalse([p for p, perms in file_rules(lines) if "m" in perms], "no file may be mapped")
        self.assertEqual([r for r in lines if r.startswith(("change_profile", "ptrace", "mount", "dbus"))], [])
        for word in ("dpkg", "/var/lib/apt", "/var/cache/apt", "/etc/apt", "/var/log/celeryroot",
                     "/var/lib/celeryroot", "/etc/celeryroot"):
            self.assertFalse([r for r in lines if word in r], word)
        net = blocks(NET)
        self.assertEqual(list(net), ["celeryroot-net"])
        own = net["celeryroot-net"]
        self.assertIn("network inet stream,", own)
        self.assertIn("network inet6 stream,", own)
        self.assertEqual(sorted(r for r in own if r.startswith("network")),
                         ["network inet stream,", "network inet6 stream,"])
        # files: its standard streams and the log sockets; reading only its own label
        self.assertEqual(sorted(file_rules(lines)), sorted([
            ("/dev/log", "w"), ("@{run}/systemd/journal/dev-log", "w"), ("/dev/null", "rw"),
            ("/dev/pts/*", "rw"), ("/dev/tty", "rw"),
            ("@{PROC}/@{tid}/attr/{apparmor/,}{current,prev,exec}", "r")]))

    def test_net_profile_is_the_one_net_changes_into(self):
        with open(os.path.join(harness.SRCDIR, "src", "net", "net.h")) as f:
            name = re.search(r'#define NET_APPARMOR_PROFILE "([^"]+)"', f.read()).group(1)
        self.assertIn(name, blocks(NET))
        self.assertIn("change_profile -> %s," % name, blocks(PRIV)["celeryrootd"])

    def test_priv_executes_only_named_programs_in_child_profiles(self):
        priv = blocks(PRIV)
        self.assertEqual(sorted(priv), ["apt-methods", "celeryrootd", "dpkg"])
        top = priv["celeryrootd"]
        self.assertIn("/usr/bin/dpkg Cx -> dpkg,", top)
        self.assertEqual(sorted(exec_rules(top)), sorted([
            "/usr/bin/dpkg Cx -> dpkg,",
            "/{usr/,}bin/{sh,dash,bash} Cx -> dpkg,",
            "/usr/lib/apt/methods/* Cx -> apt-methods,",
            # net's own program, under this profile until it changes into its own
            "/{usr/,usr/local/}{libexec,lib}/celeryroot/celeryroot-net mrix,"]))
        # everything a root shell may do is granted in the dpkg child only
        self.assertIn("capability,", priv["dpkg"])
        self.assertIn("/** rwlkmix,", priv["dpkg"])
        self.assertIn("deny /var/log/celeryroot/** wl,", priv["dpkg"])
        for name in ("celeryrootd", "apt-methods"):
            self.assertNotIn("capability,", priv[name])
            self.assertFalse([r for r in priv[name] if r.startswith("/**")], name)

    def test_priv_rules_cover_its_state_and_nothing_broad(self):
        top = blocks(PRIV)["celeryrootd"]
        for rule in ("/etc/celeryroot/** r,", "/var/lib/dpkg/** rwk,", "/var/lib/apt/** rwk,",
                     "/var/cache/apt/** rwk,", "/var/log/apt/** rwk,", "/var/log/dpkg.log rwk,",
                     "/var/log/celeryroot/** rwk,", "/var/lib/celeryroot/** rwlk,",
                     "unix (create, send, receive, getattr, getopt, setopt, shutdown) type=seqpacket,"):
            self.assertIn(rule, top)
        self.assertFalse([r for r in top if r.startswith("network")], "priv's own rules open no socket")

    def test_priv_attaches_to_both_install_prefixes(self):
        with open(PRIV) as f:
            head = re.search(r"^profile celeryrootd (\S+) ", f.read(), re.M).group(1)
        self.assertEqual(head, "/{usr/,usr/local/}sbin/celeryrootd")
        alternatives = re.match(r"/\{([^}]*)\}sbin/celeryrootd$", head).group(1).split(",")
        self.assertEqual(sorted("/%ssbin/celeryrootd" % a for a in alternatives),
                         ["/usr/local/sbin/celeryrootd", "/usr/sbin/celeryrootd"])

    def test_net_program_is_executable_at_both_install_prefixes(self):
        """The exec rule for celeryroot-net covers $(pkglibexecdir) of the
        default prefix and of a package (--prefix=/usr)."""
        rule = [r for r in blocks(PRIV)["celeryrootd"] if "celeryroot-net" in r and "ix" in r]
        self.assertEqual(len(rule), 1, rule)
        m = re.match(r"/\{([^}]*)\}\{([^}]*)\}/celeryroot/celeryroot-net mrix,$", rule[0])
        paths = {"/%s%s/celeryroot/celeryroot-net" % (a, b)
                 for a in m.group(1).split(",") for b in m.group(2).split(",")}
        self.assertIn("/usr/local/libexec/celeryroot/celeryroot-net", paths)
        self.assertIn("/usr/libexec/celeryroot/celeryroot-net", paths)

    def test_each_priv_capability_says_why(self):
        with open(PRIV) as f:
            lines = f.read().splitlines()
        top_caps = [i for i, l in enumerate(lines) if re.match(r"  capability \w+,$", l)]
        self.assertGreater(len(top_caps), 5)
        for i in top_caps:
            j = i - 1
            while re.match(r"  capability \w+,$", lines[j]):
                j -= 1
            self.assertTrue(lines[j].strip().startswith("#"), "no comment above: " + lines[i])
        caps = {l.split()[1].rstrip(",") for l in (lines[i] for i in top_caps)}
        self.assertNotIn("sys_admin", caps)
        self.assertNotIn("sys_module", caps)
        self.assertNotIn("mac_admin", caps)


if __name__ == "__main__":
    unittest.main()
