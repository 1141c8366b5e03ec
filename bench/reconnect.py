#!/usr/bin/python3
"""Many hosts, one Redis coming back; and Sentinel failover time.
A benchmark, not a test: it reports and asserts nothing about speed.

1. failover: 2 pairs via sentinel:// (a master, a replica, 3 redis-sentinel;
   down-after-milliseconds 1000, failover-timeout 3000); per trial the
   master is SIGKILLed and the time until `celeryroot ping --all` answers
   (exit 0, every host) is taken; the killed node returns as a replica.
2. storm: N real celeryrootd pairs (empty `celeryroot sandbox create`
   sandboxes: they only need to connect) on one Redis.  After a Redis
   restart (SIGKILL, 1 s down, started empty) and after a Sentinel failover
   (N pairs via sentinel://), every second: new connections
   (INFO stats total_connections_received), Redis CPU (INFO cpu, user+sys,
   % of one core) and connected clients, for [broker] reconnect_spread
   2000 ms (the default) and 0 (the old behaviour: first retry at once).
--tls: the failover trials on README's production layout instead (every
   Redis and sentinel TLS-only with client certificates, pairs and CLI
   configured by README's [broker] block: sentinels.LayoutFleet).
--skip-storms: only the failover trials.

usage: sudo /usr/bin/python3 bench/reconnect.py [--hosts 200] [--trials 5] [--seconds 20]
       [--out bench/results-reconnect] [--tls] [--skip-storms] [--skip-failover-times]"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
os.environ.setdefault("CELERYROOT_BUILDDIR", TOP)
os.environ.setdefault("CELERYROOT_SRCDIR", TOP)
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

import harness  # noqa: E402
import redis  # noqa: E402
import sentinels  # noqa: E402
import tlsredis  # noqa: E402


class BigFleet(harness.Fleet):
    def wait_registered(self, names, timeout=15):
        super().wait_registered(names, max(timeout, 30 + len(names) // 2))


def hosts(n):
    return {"h%03d" % i: ["web"] for i in range(n)}


def failover_fleet(tls):
    if not tls:
        return harness.Fleet({"h1": ["web"], "h2": ["web"]}, broker=sentinels.SentinelBroker)
    sentinels.TLSSentinelBroker.pki = tlsredis.temp_pki()
    return sentinels.LayoutFleet({"h1": ["web"], "h2": ["web"]})


def failover_times(trials, tls=False):
    try:
        return failover_trials(trials, tls)
    finally:
        if tls:
            tlsredis.remove(sentinels.TLSSentinelBroker.pki)


def failover_trials(trials, tls):
    out = []
    with failover_fleet(tls) as f:
        for _ in range(trials):
            t0 = time.monotonic()
            old = f.redis.kill_master()
            took = None
            while time.monotonic() - t0 < 90:
                code, _, _ = f.cli("ping", "--all", "--timeout", "3")
                if code == 0:
                    took = time.monotonic() - t0
                    break
                time.sleep(0.1)
            out.append(took)
            print("failover trial: ping --all answered after %s s" % ("%.2f" % took if took else "never"),
                  flush=True)
            f.redis.revive(old)
            time.sleep(2)
    return out


def info(port):
    try:
        i = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1).info()
        return i["total_connections_received"], i["used_cpu_sys"] + i["used_cpu_user"], i["connected_clients"]
    except redis.exceptions.RedisError:
        return None


def sample(port, seconds, extra_ports=()):
    """Every second: new connections to port (and to extra_ports, summed
    apart), CPU % of one core, connected clients."""
    rows, last, last_x = [], None, None
    t0 = time.monotonic()
    for k in range(seconds + 1):
        time.sleep(max(0, t0 + k - time.monotonic()))
        now = info(port)
        x = sum((info(p) or (0, 0, 0))[0] for p in extra_ports)
        if now and last:
            rows.append({"t": k, "new_conns": now[0] - last[0],
                         "cpu_pct": round(100 * (now[1] - last[1]), 1), "clients": now[2],
                         "sentinel_conns": x - last_x if extra_ports else None})
        elif now is None:
            rows.append({"t": k, "new_conns": None, "cpu_pct": None, "clients": None, "sentinel_conns": None})
        last, last_x = now, x
    return rows


def summary(rows, full):
    conns = [r["new_conns"] for r in rows if r["new_conns"] is not None]
    cpu = [r["cpu_pct"] for r in rows if r["cpu_pct"] is not None]
    back = next((r["t"] for r in rows if r["clients"] is not None and r["clients"] >= full), None)
    return {"peak_conns_per_s": max(conns) if conns else None, "total_conns": sum(conns),
            "peak_cpu_pct": max(cpu) if cpu else None, "all_back_after_s": back}


def storm_restart(n, spread, seconds):
    with BigFleet(hosts(n), config={"broker.reconnect_spread": spread}) as f:
        time.sleep(3)
        full = info(f.redis.port)[2]
        f.redis.stop()
        time.sleep(1)
        f.redis.start()
        rows = sample(f.redis.port, seconds)
        return rows, summary(rows, full)


def storm_failover(n, spread, seconds):
    with BigFleet(hosts(n), config={"broker.reconnect_spread": spread}, broker=sentinels.SentinelBroker) as f:
        time.sleep(3)
        s = f.redis
        full = info(s.master_port())[2] - 1   # less the replica's link
        replica = next(x for x in s.nodes if x.port != s.master_port())
        s.kill_master()
        rows = sample(replica.port, seconds, [p for p, _ in s.sentinels])
        return rows, summary(rows, full)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=200)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--out", default=os.path.join(HERE, "results-reconnect"))
    ap.add_argument("--skip-failover-times", action="store_true")
    ap.add_argument("--skip-storms", action="store_true")
    ap.add_argument("--tls", action="store_true")
    a = ap.parse_args()
    harness.require_root()
    res = {"hosts": 0 if a.skip_storms else a.hosts, "tls": a.tls,
           "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    if not a.skip_failover_times:
        res["failover_s"] = failover_times(a.trials, a.tls)
    for spread in () if a.skip_storms else (2000, 0):
        for name, fn in (("restart", storm_restart), ("failover", storm_failover)):
            print("%s, %d pairs, reconnect_spread %d ms ..." % (name, a.hosts, spread), flush=True)
            rows, summ = fn(a.hosts, spread, a.seconds)
            res["%s_spread%d" % (name, spread)] = {"rows": rows, "summary": summ}
            print(json.dumps(summ), flush=True)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(report(res))
    print(report(res))


def report(res):
    lines = ["# Reconnects: %d pairs on one Redis, and Sentinel failover (%s)" % (res["hosts"], res["when"]), ""]
    ft = [t for t in res.get("failover_s", []) if t is not None]
    if ft:
        lines += ["Sentinel failover%s (master SIGKILL) until `ping --all` answers, %d trials: median %.2f s, "
                  "min %.2f s, max %.2f s (%d never)" % (" over TLS (README's layout)" if res.get("tls") else "",
                                                         len(res["failover_s"]), statistics.median(ft), min(ft),
                                                         max(ft), len(res["failover_s"]) - len(ft)), ""]
    if not any("_spread" in k for k in res):   # --skip-storms
        return "\n".join(lines)
    lines += ["| event | reconnect_spread | peak new conns/s | conns in window | peak Redis CPU % | all back after s |",
              "|---|---|---|---|---|---|"]
    for key in sorted(k for k in res if "_spread" in k):
        name, spread = key.split("_spread")
        s = res[key]["summary"]
        lines.append("| %s | %s ms | %s | %s | %s | %s |" % (name, spread, s["peak_conns_per_s"], s["total_conns"],
                                                             s["peak_cpu_pct"], s["all_back_after_s"]))
    lines += ["", "Per second (new connections / Redis CPU % / connected clients):", ""]
    for key in sorted(k for k in res if "_spread" in k):
        lines.append("- %s: " % key + ", ".join("%s/%s/%s" % (r["new_conns"], r["cpu_pct"], r["clients"])
                                                for r in res[key]["rows"]))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
