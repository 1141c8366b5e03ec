"""Helpers for the CLI's broker-fault tests: registry records for hosts that
do not exist (their tasks wait in queues nobody reads), a raw Redis
connection that pipelines commands (a blocking pop followed by a stall or a
kill: they run the moment the CLI's EXEC pushes its tasks), a job written the
way the CLI writes one around a task sent with Fleet.send_raw, and the CLI
run in the background with its stderr lines time-stamped as they come."""
import json
import os
import socket
import subprocess
import threading
import time
import uuid

import harness


def fake_hosts(client, n, prefix="fake", online=True):
    """n registry records of hosts that do not run: online (a heartbeat an
    hour long, just sent) or offline (the last one an hour ago).  The CLI
    waits for online hosts until its timeout; for offline ones it is done
    once it has subscribed and read what is stored."""
    now = time.time()
    seen, beat = (now, 3600) if online else (now - 3600, 1)
    pipe = client.pipeline()
    names = []
    for i in range(n):
        name = "%s%03d" % (prefix, i)
        names.append(name)
        pipe.sadd("celeryroot:hosts", name)
        pipe.set("celeryroot:host:" + name, json.dumps({
            "hostname": name, "roles": ["fake"], "version": "0", "os": "none", "kernel": "none",
            "state": "running", "started": seen, "last_seen": seen, "heartbeat_s": beat, "pid": 1}))
    pipe.execute()
    return names


def _resp(args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


class RawPipeline:
    """Sends commands on one connection at once, without reading: Redis runs
    the ones after a blocking pop as soon as the pop is served."""

    def __init__(self, port, *commands):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.sendall(b"".join(_resp(c) for c in commands))

    def read_some(self, timeout):
        """Whatever Redis answered within timeout (b"" if nothing)."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65536)
        except (socket.timeout, OSError):
            return b""

    def close(self):
        self.sock.close()


def send_job(fleet, host, task="celeryroot.ping", kwargs=None):
    """A job record as the CLI writes it, for one task sent with send_raw:
    'celeryroot job ID' can then show and follow it.  (job id, task id)"""
    job, task_id = str(uuid.uuid4()), str(uuid.uuid4())
    now = time.time()
    record = {"job": job, "operation": task.split(".", 1)[1], "task": task, "args": [],
              "kwargs": kwargs or {}, "target": "--host " + host, "requested_by": "test@harness",
              "origin": "cli", "created": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now)),
              "created_ts": now, "expires": "", "tasks": [{"host": host, "queue": "host." + host,
                                                            "task_id": task_id}]}
    client = fleet.redis.client()
    client.set("celeryroot:job:" + job, json.dumps(record))
    client.zadd("celeryroot:jobs", {job: now})
    fleet.send_raw(host, task, kwargs=kwargs, task_id=task_id, group=job)
    return job, task_id


def meta_status(client, task_id):
    raw = client.get("celery-task-meta-" + task_id)
    return json.loads(raw)["status"] if raw else None


class BackgroundCli:
    """The built celeryroot in the background; stderr lines are kept with
    the monotonic time they arrived."""

    def __init__(self, url, *args):
        env = dict(os.environ, CELERYROOT_BROKER_URL=url)
        vg = harness.valgrind_prefix(harness._cli_valgrind_dir(), "cli")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(vg + [harness.cli_path()] + list(args), env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines = []
        self._out = []
        self._err_reader = threading.Thread(target=self._read_err, daemon=True)
        self._out_reader = threading.Thread(target=lambda: self._out.append(self.proc.stdout.read()),
                                            daemon=True)
        self._err_reader.start()
        self._out_reader.start()

    def _read_err(self):
        for line in self.proc.stderr:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def first_line(self, text):
        """(time, line) of the first stderr line containing text, or None."""
        return next(((t, l) for t, l in self.lines if text in l), None)

    def finish(self, timeout):
        """(exit code, stdout, stderr, seconds it ran)."""
        self.proc.wait(timeout)
        self._err_reader.join(10)
        self._out_reader.join(10)
        ran = time.monotonic() - self.t0
        self.proc.stdout.close()
        self.proc.stderr.close()
        if harness.VALGRIND:
            reports = harness.valgrind_reports(harness._valgrind_dir, "cli")
            for name in os.listdir(harness._valgrind_dir):
                os.unlink(os.path.join(harness._valgrind_dir, name))
            if reports or self.proc.returncode == harness.VALGRIND_EXIT:
                raise AssertionError("valgrind: errors in celeryroot\n" + "\n".join(t for _, t in reports))
        return (self.proc.returncode, "".join(self._out), "\n".join(l for _, l in self.lines) + "\n", ran)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._err_reader.join(10)
        self._out_reader.join(10)
        for f in (self.proc.stdout, self.proc.stderr):
            if not f.closed:
                f.close()
