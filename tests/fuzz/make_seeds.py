#!/usr/bin/python3
"""Writes the seed corpora in tests/fuzz/corpus/<target>/: small valid and
edge inputs for each parser.  Run from the top of the source tree:

    /usr/bin/python3 tests/fuzz/make_seeds.py

The seeds are committed; rerun this only to change them.  Reproducers of
bugs the fuzzers found (crash-*) are added by hand and never regenerated."""
import base64
import json
import os
import re
import struct
import sys

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from harness import HOSTILE_PKGS  # noqa: E402  (needs python3-redis: use /usr/bin/python3)

CORPUS = os.path.join(TOP, "tests", "fuzz", "corpus")
ID = "221d2fcc-146d-432e-9635-8ac05f046af4"
TAG = "df174a4e-9b69-4a3f-8d27-4324d2bfd7cd"


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def monitor_arg(line, n):
    """The n-th quoted argument of a redis-cli MONITOR line, unescaped."""
    args = re.findall(r'"((?:[^"\\]|\\.)*)"', line)
    return args[n].encode().decode("unicode_escape").encode("latin-1")


def envelope(task="celeryroot.apt.install", args=None, kwargs=None, **over):
    body = [args if args is not None else [["nginx"]], kwargs or {},
            {"callbacks": None, "errbacks": None, "chain": None, "chord": None}]
    env = {"body": base64.b64encode(json.dumps(body).encode()).decode(),
           "content-encoding": "utf-8", "content-type": "application/json",
           "headers": {"lang": "py", "task": task, "id": ID, "shadow": None, "eta": None,
                       "expires": "2026-11-22T12:24:23.886825+00:00", "group": None,
                       "group_index": None, "retries": 0, "timelimit": [None, None],
                       "root_id": ID, "parent_id": None, "argsrepr": "", "kwargsrepr": "",
                       "origin": "gen17688@vm", "ignore_result": False},
           "properties": {"correlation_id": ID, "reply_to": ID, "delivery_mode": 2,
                          "delivery_info": {"exchange": "", "routing_key": "host.web01"},
                          "priority": 0, "body_encoding": "base64", "delivery_tag": TAG}}
    for key, value in over.items():
        section, _, name = key.partition("__")
        if name:
            env[section][name] = value
        else:
            env[section] = value
    return json.dumps(env)


def celery():
    wire = os.path.join(TOP, "tests", "data", "task-message.json")
    write("celery", "capture-task-message", open(wire, "rb").read().rstrip(b"\n"))
    monitor = os.path.join(TOP, "..", "shared", "celery-wire", "worker-session.redis-monitor.txt")
    if os.path.exists(monitor):
        for line in open(monitor, errors="replace"):
            if '"LPUSH" "host.web01"' in line:
                write("celery", "capture-lpush-echo", monitor_arg(line, 2))
            if '"HSET" "unacked"' in line:
                write("celery", "capture-unacked-entry", monitor_arg(line, 3))
    write("celery", "valid-eta-group", envelope(headers__eta="2026-01-01T00:00:00Z",
                                                 headers__group=TAG, headers__retries=3))
    write("celery", "valid-priority-redelivered",
          envelope(properties__priority=9, headers__redelivered=True,
                   properties__delivery_info={"exchange": "celery", "routing_key": "role.db",
                                              "redelivered": True}))
    write("celery", "valid-ping-kwargs", envelope("celeryroot.ping", args=[], kwargs={"hold": 1}))
    write("celery", "valid-upgrade-kwargs",
          envelope("celeryroot.apt.upgrade", args=[[]], kwargs={"full": True, "exclude": ["nginx", "libc6:amd64"],
                                                                 "allow_removals": True, "check": True}))
    write("celery", "valid-install-conffile", envelope("celeryroot.apt.install", args=[["nginx"]],
                                                        kwargs={"conffile_new": True, "allow_essential": False}))
    write("celery", "valid-hold", envelope("celeryroot.apt.hold", args=[["nginx"]], kwargs={"check": True}))
    write("celery", "refused-exclude-not-names", envelope("celeryroot.apt.upgrade", args=[[]],
                                                           kwargs={"exclude": ["nginx", 7, "nginx"]}))
    write("celery", "unacked-entry", json.dumps([json.loads(envelope()), "", "host.web01"]))
    write("celery", "refused-pickle", envelope(**{"content-type": "application/x-python-serialize"}))
    write("celery", "refused-body-not-base64", envelope(body="W1tbIm5n\xe9"))
    write("celery", "refused-body-not-list", envelope(body=base64.b64encode(b'{"a": 1}').decode()))
    write("celery", "refused-expires", envelope(headers__expires="2026-02-30T00:00:00"))
    write("celery", "refused-id", envelope(headers__id="../../etc"))
    write("celery", "refused-origin-controls", envelope(headers__origin="x\n12:00 priv: forged"))
    write("celery", "edge-empty-object", "{}")
    write("celery", "edge-empty", "")


def frame(ftype, payload):
    if not isinstance(payload, bytes):
        payload = json.dumps(payload).encode()
    return struct.pack(">IB", len(payload) + 1, ftype) + payload


def proto():
    REQ_HELLO, REQ_PING, REQ_FACTS, REQ_APT = 2, 4, 6, 8
    ANS_PROGRESS, ANS_REPLY, ANS_REFUSED = 3, 5, 7
    task = {"id": 7, "job": TAG, "task": ID}
    write("proto", "req-hello", frame(REQ_HELLO, {"id": 1}))
    write("proto", "req-ping", frame(REQ_PING, task))
    write("proto", "req-facts", frame(REQ_FACTS, dict(task, job="")))

    def apt(op, pkgs=(), **flags):
        body = dict(task, op=op, pkgs=list(pkgs), upgradable=False, security=False, check=False,
                    purge=False, now=False, max_age=-1)
        body.update(flags)
        return frame(REQ_APT, body)
    write("proto", "req-apt-install", apt("install", ["nginx", "libc6:amd64=2.36-9+deb12u4"]))
    write("proto", "req-apt-install-check", apt("install", ["vim=2:9.0.1378-2"], check=True))
    write("proto", "req-apt-remove-purge", apt("remove", ["nginx"], purge=True))
    write("proto", "req-apt-query", apt("query", ["nginx", "curl"]))
    write("proto", "req-apt-list", apt("list", upgradable=True))
    write("proto", "req-apt-update", apt("update", max_age=3600.5))
    write("proto", "req-apt-upgrade-security", apt("upgrade", security=True))
    write("proto", "req-apt-upgrade-full-exclude", apt("upgrade", full=True, exclude=["nginx", "libc6:amd64"]))
    write("proto", "req-apt-hold", apt("hold", ["nginx", "libc6:amd64"], check=True))
    write("proto", "req-apt-unhold", apt("unhold", ["nginx"]))
    write("proto", "req-apt-remove-guards", apt("remove", ["nginx"], allow_essential=True, allow_removals=True))
    write("proto", "req-apt-install-conffile-new", apt("install", ["nginx"], conffile_new=True))
    write("proto", "refused-exclude-duplicate", apt("upgrade", exclude=["nginx", "nginx"]))
    write("proto", "refused-hold-no-packages", apt("hold"))
    write("proto", "req-apt-autoremove", apt("autoremove"))
    write("proto", "req-apt-clean", apt("clean"))
    write("proto", "ans-progress", frame(ANS_PROGRESS, {"id": 7, "percent": 42, "pkg": "nginx",
                                                        "text": "Unpacking nginx"}))
    write("proto", "ans-reply", frame(ANS_REPLY, {"id": 7, "data": {"pong": True, "priv_pid": 1}}))
    write("proto", "ans-refused", frame(ANS_REFUSED, {"id": 7, "error": "APT install needs a package"}))
    write("proto", "refused-extra-key", frame(REQ_PING, dict(task, cmd="sh")))
    write("proto", "refused-answer-as-request", frame(ANS_REPLY + 1, {"id": 1}))
    write("proto", "refused-not-json", frame(REQ_PING, b"\xff\xfe;rm -rf /"))
    write("proto", "refused-duplicate-keys",
          frame(REQ_PING, b'{"id": 1, "id": 2, "job": "", "task": "%s"}' % ID.encode()))
    write("proto", "refused-length-lies", struct.pack(">IB", 500, REQ_PING) + b"{}")
    write("proto", "refused-101-packages", apt("install", ["p%03d" % i for i in range(101)]))


def config():
    example = os.path.join(TOP, "contrib", "celeryroot.conf.example")
    write("config", "example", open(example, "rb").read())
    with open(os.path.join(TOP, "contrib", "celeryrootd.conf.example"), "rb") as f:
        write("config", "example-daemon", f.read())
    write("config", "password-file", "[broker]\nusername = web01\npassword_file = /etc/celeryroot/redis-password\n")
    write("config", "refused-password-and-file", "[broker]\npassword = x\npassword_file = /etc/pw\n")
    write("config", "valid-full",
          "[broker]\nurl = redis://:secret@[::1]:6380/2\nusername = web01\npassword = pw\n"
          "[daemon]\nhostname = web01.example.org\nroles = webserver, db_primary\nuser = _celeryroot\n"
          "sandbox = /var/lib/celeryroot/sandbox\naudit_log = /var/log/celeryroot/audit.log\n"
          "lock_timeout = 0\n[cli]\ntimeout = 0\ntask_expires = 1\njob_ttl = 60\n")
    write("config", "url-only", "redis://user:pw@redis.example:6379/15")
    write("config", "refused-unknown-key", "[daemon]\nshell = /bin/sh\n")
    write("config", "refused-number", "[daemon]\nheartbeat_interval = +5\n")
    write("config", "refused-control", "[daemon]\nhostname = web\x0101\n")
    write("config", "refused-syntax", "[daemon\nroles\n")
    write("config", "refused-outside-section", "url = redis://x\n")


def pkgspec():
    good = ["nginx", "libc6:amd64", "g++", "libstdc++6=12.2.0-14", "foo=1:2.3~rc1-1",
            "libc6:arm64=2.36-9+deb12u4", "vim=2:9.0.1378-2", "foo=1:2.0:3-1"]
    for i, s in enumerate(good):
        write("pkgspec", "valid-%02d" % i, s)
    for i, s in enumerate(HOSTILE_PKGS):
        write("pkgspec", "hostile-%02d" % i, s)
    write("pkgspec", "list-valid", json.dumps(["nginx", "curl=7.88.1", "libc6:i386"]))
    write("pkgspec", "list-duplicate", json.dumps(["nginx", "nginx"]))
    write("pkgspec", "list-hostile", json.dumps(HOSTILE_PKGS[:8] + [1, None]))


def sig():
    """Claims as net forwards them to priv, signed with the fuzz target's
    fixed key (32 bytes of 0x01), valid at its fixed time 1800000000."""
    import nacl.signing  # python3-nacl
    key = nacl.signing.SigningKey(b"\x01" * 32)

    def claims(task, args, kwargs, target, job="", nonce="00" * 16, expires=1800000600):
        c = {"args": args, "expires": expires, "job": job, "key": "fuzz", "kwargs": kwargs, "nonce": nonce,
             "target": target, "task": task, "v": 1}
        body = json.dumps(c, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
        c["sig"] = base64.b64encode(key.sign(b"celeryroot-task-v1\n" + body).signature).decode()
        return json.dumps(c)

    write("sig", "valid-install-host", claims("celeryroot.apt.install", [["nginx"]], {"check": True}, "host.web01", ID))
    write("sig", "valid-ping-role", claims("celeryroot.ping", [], {}, "role.webserver"))
    write("sig", "other-host", claims("celeryroot.apt.remove", [["curl"]], {"purge": True}, "host.db01"))
    write("sig", "expired", claims("celeryroot.facts", [], {}, "host.web01", expires=1799999999))
    write("sig", "unicode-args", claims("celeryroot.apt.query", [["n\u00e9", "a\"b"]], {"x": [1, None, {}]},
                                        "host.web01"))
    write("sig", "refused-real", json.dumps({"v": 1, "key": "fuzz", "expires": 1.5}))
    write("sig", "edge-empty-object", "{}")


def journal():
    """Change journal entries as priv writes them (src/priv/journal_codec.c),
    for the task id the fuzz target decodes with."""
    common = {"version": 1, "task": ID, "job": TAG, "op": "install", "packages": ["nginx", "curl=7.88.1-10"],
              "started": "2027-01-15T08:00:00.250Z", "started_s": 1800000000.25, "pid": 4242, "attempt": 1}
    write("journal", "started", json.dumps(dict(common, phase="started"), separators=(",", ":")))
    write("journal", "started-resumed", json.dumps(dict(common, phase="started", job="", attempt=3,
                                                        packages=[]), separators=(",", ":")))
    reply = {"operation": "install", "changed": True, "changes": {"nginx": {"old": None, "new": "1.22.1-9"}},
             "audit": {"seq": 7, "prev": "ab" * 32, "outcome": "changed"}, "verify": {"ok": True, "problems": []}}
    write("journal", "finished", json.dumps(dict(common, phase="finished", finished="2027-01-15T08:00:01.000Z",
                                                 audited=True, reply=reply), separators=(",", ":")))
    write("journal", "finished-not-audited", json.dumps(dict(common, phase="finished", finished="x",
                                                             audited=False, reply={}), separators=(",", ":")))
    write("journal", "refused-other-task", json.dumps(dict(common, phase="started", task=TAG)))
    write("journal", "refused-extra-key", json.dumps(dict(common, phase="started", cmd="sh")))
    write("journal", "refused-torn", json.dumps(dict(common, phase="started"))[:80])
    write("journal", "edge-empty", "")


def nonces():
    """Lines of priv's nonce file (src/priv/nonce_codec.c), without their newline."""
    write("nonces", "valid", "1800003600 alice 0123456789abcdef0123456789abcdef " + ID)
    write("nonces", "valid-short", "1 a 0123456789abcdef0123456789abcdef t")
    write("nonces", "refused-leading-zero", "01800003600 alice 0123456789abcdef0123456789abcdef " + ID)
    write("nonces", "refused-upper-nonce", "1800003600 alice 0123456789ABCDEF0123456789abcdef " + ID)
    write("nonces", "refused-extra-field", "1800003600 alice 0123456789abcdef0123456789abcdef " + ID + " x")
    write("nonces", "refused-header", "celeryroot-nonces 1")
    write("nonces", "edge-empty", "")


def hostsig():
    """Published results, audit lines and registry records signed with the
    fuzz target's fixed host key (32 bytes of 0x02), as priv and net write
    them (src/shared/hostsig.h)."""
    import nacl.signing  # python3-nacl
    key = nacl.signing.SigningKey(b"\x02" * 32)

    def dump(o):
        """As jansson dumps with JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII:
        its \\u escapes are upper case, Python's lower case."""
        text = json.dumps(o, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), text)

    def result(rec, duration=0.25):
        payload = dump(rec)
        attest = {"v": 1, "alg": "ed25519", "payload": payload,
                  "sig": base64.b64encode(key.sign(payload.encode()).signature).decode()}
        return json.dumps(dict(rec, duration_s=duration, attest=attest))

    rec = {"host": "web01", "status": "changed", "changed": True, "changes": {"nginx": {"old": None, "new": "1.22"}},
           "error": None, "rollback": None, "data": {"host": "web01", "cache_age_s": 12.5}, "task": ID, "job": TAG}
    write("hostsig", "valid-result", result(rec))
    write("hostsig", "valid-deferred", result({"host": "web01", "status": "deferred", "changed": False, "changes": {},
                                              "error": None, "rollback": None, "run_at": "2026-03-30T22:00:00Z",
                                              "reason": "outside", "task": ID, "job": ""}))
    write("hostsig", "other-host", result(dict(rec, host="db01")))
    line = {"time": "2027-01-15T08:00:01.000Z", "host": "web01", "job": TAG, "task": ID, "operation": "install",
            "packages": ["nginx"], "check": False, "now": False, "outcome": "changed", "changes": {}, "rollback": None,
            "error": "d\u00e9j\u00e0 \u001b[2J", "seq": 7, "prev": "ab" * 32}
    line["sig"] = base64.b64encode(key.sign(dump(line).encode()).signature).decode()
    write("hostsig", "valid-audit-line", dump(line))
    pk = base64.b64encode(bytes(key.verify_key)).decode()
    write("hostsig", "registry-with-key", json.dumps(
        {"hostname": "web01", "roles": ["webserver"], "version": "0.1.0", "os": "Debian", "kernel": "6.1",
         "state": "running", "started": 1.5, "last_seen": 2.5, "heartbeat_s": 5, "pid": 42, "host_key": pk}))
    write("hostsig", "edge-empty-object", "{}")
    write("hostsig", "host-pub", "# celeryroot host key of this host (public half).\nid = host\npublic = %s\n" % pk)
    write("hostsig", "host-key", "id = host\nsecret = %s\n" % base64.b64encode(bytes(key._signing_key)).decode())


def hostcheck():
    """Results and audit lines signed with the fuzz target's fixed host key
    (32 bytes of 0x02), registry records and known_hosts lines."""
    sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
    import hostsig as hs
    key = hs.HostKey(b"\x02" * 32)
    rec = hs.record("web01", ID, TAG, status="changed", changes={"nginx": {"old": None, "new": "1.22"}})
    write("hostcheck", "attest-valid", json.dumps(hs.attest(key, rec)))
    write("hostcheck", "attest-deferred", json.dumps(hs.attest(key, hs.record("web01", ID, "", status="deferred",
                                                                            run_at="2027-01-15T02:00:00Z"))))
    bad = hs.attest(key, rec)
    bad["attest"]["payload"] = bad["attest"]["payload"].replace("changed", "unchanged", 1)
    write("hostcheck", "attest-altered", json.dumps(bad))
    write("hostcheck", "attest-unsigned", json.dumps(rec))
    line = hs.audit_chain(key, [hs.audit_obj("web01", 1, error="\u00e9chec \U0001F600", took=0.25)])[0]
    write("hostcheck", "audit-line", line)
    write("hostcheck", "audit-unsigned", hs.audit_chain(None, [hs.audit_obj("web01", 2)])[0])
    write("hostcheck", "registry", json.dumps({"hostname": "web01", "roles": ["webserver"], "host_key": key.b64}))
    write("hostcheck", "registry-bad-key", json.dumps({"hostname": "web01", "host_key": "AAAA"}))
    write("hostcheck", "known-hosts", "# comment\nweb01 ed25519 %s\ndb01 ed25519 %s\nbad line\n"
          % (key.b64, hs.HostKey(b"\x03" * 32).b64))


def link():
    """fuzz_link: the first byte picks the parser (0 sentinel URL, 1 redis[s]
    URL, 2 password_file content, 3 a sentinel's answer)."""
    urls = [
        "sentinel://127.0.0.1:26379;sentinel://10.0.0.2;sentinel://[::1]:26380?master_name=mymaster",
        "sentinel://:pw@127.0.0.1:26379/2;sentinel://u:pw2@h2:1?master_name=m.n-o_p",
        "sentinel://u@h;sentinel://?master_name=",
        "sentinel://h:99999?master_name=m;sentinel://h:1",
    ]
    for i, u in enumerate(urls):
        write("link", "sentinel-url-%d" % i, b"\x00" + u.encode())
    urls = [
        "rediss://celeryroot:s%40cret@redis.example:6380/3?ssl_cert_reqs=required&ssl_ca_certs=/etc/ssl/ca.pem",
        "rediss://127.0.0.1/0?ssl_certfile=%2Fc.pem&ssl_keyfile=%2Fk.pem&ssl_cert_reqs=CERT_NONE",
        "redis://:only-password@[::1]:6379/15",
        "rediss://u:p@h/0?ssl_ca_certs=%00x&ssl_cert_reqs=optional&ssl_cert_reqs=none",
    ]
    for i, u in enumerate(urls):
        write("link", "redis-url-%d" % i, b"\x01" + u.encode())
    for i, pw in enumerate([b"hunter2\n", b"a b c\r\n", b"two\nlines\n", b"nul\x00byte", b"", b"\n",
                            b"x" * 300 + b"\n", b"\xc3\xa9t\xc3\xa9\n"]):
        write("link", "password-file-%d" % i, b"\x02" + pw)
    answers = [
        b"*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6379\r\n",
        b"*2\r\n$11\r\nfe80::1%eth0\r\n$5\r\n26379\r\n",
        b"*-1\r\n$-1\r\n",
        b"-READONLY You can't write against a read only replica.\r\n-MASTERDOWN x\r\n",
        b"*2\r\n$7\r\n0.0.0.0\r\n$5\r\n65536\r\n",
        b"*2147483647\r\n",
        b"*3\r\n*2\r\n:1\r\n:2\r\n+OK\r\n$3\r\nabc\r\n",
    ]
    for i, a in enumerate(answers):
        write("link", "sentinel-answer-%d" % i, b"\x03" + a)


if __name__ == "__main__":
    celery()
    proto()
    config()
    pkgspec()
    sig()
    journal()
    nonces()
    hostsig()
    hostcheck()
    link()
