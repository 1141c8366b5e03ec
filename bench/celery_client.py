"""Python Celery client for the benchmark: sends one task per host (to queue
host.<name>) and waits for every result.  bench/run.py times this whole
process, like it times the whole `celeryroot` process.

usage: /usr/bin/python3 bench/celery_client.py query|install PKG HOST...
Prints one JSON line {"ok": n, "failed": [...]} and exits 0 only if every
host answered with rc 0."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchapp import app  # noqa: E402
from celery.result import ResultSet  # noqa: E402


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("query", "install"):
        sys.stderr.write(__doc__)
        return 1
    op, pkg, hosts = sys.argv[1], sys.argv[2], sys.argv[3:]
    timeout = float(os.environ.get("BENCH_TIMEOUT", "120"))
    sent = {}
    results = []
    for h in hosts:
        sent[h] = time.time()
        results.append(app.send_task("bench." + op, args=[pkg], queue="host." + h))
    # One ResultSet for all: its native join takes the results as they come
    # over the backend's pub/sub.  AsyncResult.get() in a loop pays up to 1 s
    # for every result that arrived while it waited for an earlier one
    # (celery/celery#4733; stalls of 1-45 s were seen here), and the join's
    # first look (one MGET) sleeps `interval` (0.5 s by default) whenever some
    # results are not there yet, hence the small interval.
    try:
        values = ResultSet(results).get(timeout=timeout, propagate=False, interval=0.01)
    except Exception as e:  # the whole join timed out
        values = [e] * len(hosts)
    got = time.time()
    ok, failed, durations, delivery, result = 0, [], {}, {}, {}
    for host, out in zip(hosts, values):
        if not isinstance(out, dict):
            failed.append({"host": host, "error": "%s: %s" % (type(out).__name__, out)})
            continue
        durations[host] = out.get("duration_s")
        # send -> task body starts; task body ends -> the client has them all
        delivery[host] = round(out.get("started_at", sent[host]) - sent[host], 6)
        result[host] = round(got - out.get("finished_at", got), 6)
        if out.get("rc") == 0:
            ok += 1
        else:
            failed.append({"host": host, "rc": out.get("rc"), "stderr": out.get("stderr")})
    print(json.dumps({"ok": ok, "failed": failed, "durations": durations, "delivery": delivery,
                      "result": result}))
    return 0 if not failed else 2


if __name__ == "__main__":
    sys.exit(main())
