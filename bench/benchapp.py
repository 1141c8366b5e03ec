"""The plain Python Celery side of the benchmark: one `-P solo` worker per
sandbox host, consuming host.<name>, whose tasks run dpkg-query / apt-get
on that host's sandbox root.

Environment (set by bench/run.py for each worker and for the client):
  BENCH_BROKER    redis URL used as broker and result backend
  BENCH_SANDBOX   the sandbox root this worker manages (workers only)
  BENCH_APT_CONF  a file containing `Dir "<root>/";` (workers only)
  BENCH_READY     a file the worker creates once it consumes (workers only)

Run with Debian's /usr/bin/python3 (python3-celery)."""
import os
import subprocess
import time

from celery import Celery
from celery.signals import worker_ready

BROKER = os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/1")

app = Celery("benchapp", broker=BROKER, backend=BROKER)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    result_expires=3600,
)


def _run(argv, env=None):
    started_at = time.time()
    started = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    return {"rc": p.returncode, "stdout": p.stdout[-2000:], "stderr": p.stderr[-2000:],
            "duration_s": round(time.monotonic() - started, 6),
            "started_at": started_at, "finished_at": time.time()}


@app.task(name="bench.query")
def query(pkg):
    root = os.environ["BENCH_SANDBOX"]
    return _run(["dpkg-query", "--admindir=%s/var/lib/dpkg" % root, "-W",
                 "-f", "${Package}\t${Version}\t${db:Status-Abbrev}\n", pkg])


@app.task(name="bench.install")
def install(pkg):
    root = os.environ["BENCH_SANDBOX"]
    env = dict(os.environ, APT_CONFIG=os.environ["BENCH_APT_CONF"], LC_ALL="C",
               DEBIAN_FRONTEND="noninteractive")
    return _run(["apt-get", "install", "-y", "-q",
                 "-o", "DPkg::Options::=--root=%s" % root,
                 "-o", "DPkg::Options::=--force-script-chrootless",
                 "-o", "DPkg::Options::=--force-confdef",
                 "-o", "DPkg::Options::=--force-confold",
                 pkg], env=env)


@worker_ready.connect
def _ready(**_):
    path = os.environ.get("BENCH_READY")
    if path:
        with open(path, "w") as f:
            f.write("%d\n" % os.getpid())
