"""priv alone (celeryrootd --priv-fd), driven straight over its socketpair
as a compromised net would drive it: frames of the privsep schema
(src/shared/proto.h, src/shared/frame.h)."""
import json
import os
import socket
import struct
import subprocess

import harness

REQ_HELLO, REQ_PING, REQ_FACTS, REQ_APT = 2, 4, 6, 8
ANS_PROGRESS, ANS_REPLY, ANS_REFUSED, ANS_AUDIT = 3, 5, 7, 9


def frame(ftype, payload):
    if isinstance(payload, (dict, list)):
        payload = json.dumps(payload).encode()
    return struct.pack(">IB", len(payload) + 1, ftype) + payload


def apt(task, op="install", pkgs=("x",), job="", **over):
    body = {"id": 11, "job": job, "task": task, "op": op, "pkgs": list(pkgs), "upgradable": False,
            "security": False, "check": False, "purge": False, "now": False, "max_age": -1}
    body.update(over)
    return frame(REQ_APT, body)


class Priv:
    """One priv on a host root; stderr goes to log_path."""

    def __init__(self, root, config="/dev/null", hostname="web01", log_path=None, env=None):
        self.root, self.config, self.hostname = root, config, hostname
        self.log_path = log_path or os.path.join(os.path.dirname(root), hostname + ".priv.log")
        self.env = env
        self.proc = self.sock = None

    def start(self):
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        os.set_inheritable(theirs.fileno(), True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                harness.valgrind_prefix(os.path.dirname(self.log_path), "priv") +
                [harness.daemon_path(), "--foreground", "--hostname", self.hostname, "--sandbox", self.root,
                 "--config", self.config, "--priv-fd", str(theirs.fileno())],
                pass_fds=[theirs.fileno()], stdout=log, stderr=log, env=self.env)
        theirs.close()
        self.sock.settimeout(60)
        return self

    def stop(self):
        """Closes priv's socket (priv then stops) and returns its exit
        status; under valgrind (harness.VALGRIND) any memcheck error fails."""
        if self.sock:
            self.sock.close()
            self.sock = None
        rc = None
        if self.proc:
            rc = self.proc.wait(240 if harness.VALGRIND else 60)
            self.proc = None
        reports = harness.valgrind_reports(os.path.dirname(self.log_path), "priv")
        if reports:
            raise AssertionError("valgrind errors in priv:\n" + "\n".join(t for _, t in reports))
        return rc

    def send(self, data):
        self.sock.send(data)

    def receive(self, final=True):
        """(type, body) of the next answer; with final, only a REPLY or a
        REFUSED (progress, and the ANS_AUDIT lines priv sends on its own,
        are skipped)."""
        while True:
            answer = self.sock.recv(70000)
            length, ftype = struct.unpack(">IB", answer[:5])
            assert length == len(answer) - 4
            if not final or ftype in (ANS_REPLY, ANS_REFUSED):
                return ftype, json.loads(answer[5:])

    def exchange(self, data):
        self.send(data)
        return self.receive()

    def hello(self):
        return self.exchange(frame(REQ_HELLO, {"id": 1}))

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def audit_path(self):
        return os.path.join(self.root, "var/log/celeryroot/audit.log")

    def audit_lines(self):
        """The audit file's lines as written (bytes, without newlines)."""
        try:
            with open(self.audit_path(), "rb") as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []
