"""Host signatures as a host's root helper makes them (issue 12's fixed
formats), built with PyNaCl for tests that drive the CLI's checks with
records they craft: signed result records ("attest") and signed, chained
audit lines.  Also a stand-in host that exists only in the registry and
answers the tasks sent to its queue with records it signs.

Run with Debian's /usr/bin/python3 (python3-nacl, python3-redis)."""
import base64
import hashlib
import json
import time

import nacl.signing

GENESIS = "0" * 64


def canonical(obj):
    """A result payload: any JSON text will do (the CLI checks the bytes it
    is given); this is what priv makes for ASCII records."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


# ---- jansson's bytes ----------------------------------------------------------------
# An audit line's signature covers json_dumps(object, JSON_COMPACT |
# JSON_SORT_KEYS | JSON_ENSURE_ASCII) as jansson writes it, and the CLI
# re-dumps the parsed line with jansson to check it: so the tests sign
# exactly jansson's bytes (upper-case \u escapes, DEL raw, reals as %.17g
# without '+' or leading zeros in the exponent, a ".0" on whole ones).

_SHORT = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _jstr(s, ensure_ascii):
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch in _SHORT:
            out.append(_SHORT[ch])
        elif c < 0x20:
            out.append("\\u%04X" % c)
        elif ensure_ascii and c > 0x7F:
            if c > 0xFFFF:
                c -= 0x10000
                out.append("\\u%04X\\u%04X" % (0xD800 | (c >> 10), 0xDC00 | (c & 0x3FF)))
            else:
                out.append("\\u%04X" % c)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _jreal(v):
    s = "%.17g" % v
    if "e" in s:
        mant, exp = s.split("e")
        sign = "-" if exp[0] == "-" else ""
        s = mant + "e" + sign + (exp.lstrip("+-").lstrip("0") or "0")
    elif "." not in s and "n" not in s:
        s += ".0"
    return s


def jansson_dumps(v, ensure_ascii=True):
    """json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS [| JSON_ENSURE_ASCII])."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _jreal(v)
    if isinstance(v, str):
        return _jstr(v, ensure_ascii)
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(jansson_dumps(x, ensure_ascii) for x in v) + "]"
    keys = sorted(v, key=lambda k: k.encode())
    return "{" + ",".join(_jstr(k, ensure_ascii) + ":" + jansson_dumps(v[k], ensure_ascii) for k in keys) + "}"


class HostKey:
    def __init__(self, seed=None):
        self.sk = nacl.signing.SigningKey(seed) if seed else nacl.signing.SigningKey.generate()
        self.pk = bytes(self.sk.verify_key)

    @property
    def b64(self):
        return base64.b64encode(self.pk).decode()

    @property
    def fingerprint(self):
        return "SHA256:" + base64.b64encode(hashlib.sha256(self.pk).digest()).decode().rstrip("=")

    def sign(self, data):
        return base64.b64encode(self.sk.sign(data).signature).decode()

    def pub_file(self, path):
        """host.pub, in the INI format of operator keys."""
        with open(path, "w") as f:
            f.write("id = host\npublic = %s\n" % self.b64)
        return path


def attest(key, record, duration=0.25, payload_override=None):
    """The Celery result a signing host publishes for record (which names
    host, task and job): the payload's fields, duration_s, and attest."""
    payload = canonical(record) if payload_override is None else payload_override
    out = dict(json.loads(payload))
    out["duration_s"] = duration
    out["attest"] = {"v": 1, "alg": "ed25519", "payload": payload, "sig": key.sign(payload.encode())}
    return out


def record(host, task, job, status="unchanged", **fields):
    rec = {"host": host, "task": task, "job": job, "status": status, "changed": status == "changed",
           "changes": {}, "error": None, "rollback": None}
    rec.update(fields)
    return rec


# ---- audit lines ----------------------------------------------------------------

def audit_line(key, obj):
    """obj (with seq and prev) signed: the line priv writes (COMPACT |
    SORT_KEYS, UTF-8 as it is), without its newline; key None: unsigned."""
    obj = dict(obj)
    if key is not None:
        obj["sig"] = key.sign(jansson_dumps(obj).encode())
    return jansson_dumps(obj, ensure_ascii=False)


def line_hash(line):
    return hashlib.sha256(line.encode()).hexdigest()


def audit_chain(key, objs, seq=1, prev=GENESIS):
    """Lines for objs, chained from seq/prev (each a str without newline)."""
    out = []
    for o in objs:
        line = audit_line(key, dict(o, seq=seq, prev=prev))
        out.append(line)
        prev = line_hash(line)
        seq += 1
    return out


def stream_copy(line):
    """The record net adds to the stream for a line: re-dumped COMPACT |
    SORT_KEYS | ENSURE_ASCII."""
    return jansson_dumps(json.loads(line))


def audit_obj(host, n, **extra):
    o = {"time": "2026-11-22T08:%02d:%02d.000Z" % (n // 60 % 60, n % 60), "host": host, "job": "job-%d" % n,
         "task": "task-%d" % n, "operation": "install", "packages": ["pkg%d" % n], "check": False, "now": False,
         "outcome": "changed", "changes": {"pkg%d" % n: {"old": None, "new": "1.0"}}, "rollback": None,
         "error": None, "key": "alice"}
    o.update(extra)
    return o


# ---- a host in the registry only ---------------------------------------------------

class SigningHost:
    """A registry record with a host key (and a day's heartbeat), and the
    answers a signing host's daemon would publish to the tasks the CLI
    pushes to its queue."""

    def __init__(self, redis_client, name, roles=(), key=None, publish_key=True):
        self.r, self.name, self.roles = redis_client, name, list(roles)
        self.key = key or HostKey()
        self.register(publish_key)

    def register(self, publish_key=True, key_b64=None):
        now = time.time()
        rec = {"hostname": self.name, "roles": self.roles, "version": "0.9", "os": "Debian GNU/Linux 12",
               "kernel": "6.1", "state": "running", "started": now, "last_seen": now, "heartbeat_s": 3600,
               "pid": 1}
        if publish_key:
            rec["host_key"] = key_b64 or self.key.b64
        self.r.set("celeryroot:host:" + self.name, json.dumps(rec))
        self.r.sadd("celeryroot:hosts", self.name)

    def take(self, queue=None, timeout=20):
        """The next task sent to its queue: (task_id, job_id, task name, args, kwargs)."""
        got = self.r.brpop([queue or "host." + self.name], timeout)
        if got is None:
            raise AssertionError("no task arrived in %s" % (queue or "host." + self.name))
        env = json.loads(got[1])
        args, kwargs, _ = json.loads(base64.b64decode(env["body"]))
        h = env["headers"]
        return h["id"], h["group"], h["task"], args, kwargs

    def answer(self, task_id, result, state="SUCCESS"):
        meta = json.dumps({"status": state, "result": result, "traceback": None, "children": [],
                           "date_done": "2026-11-22T08:00:00.000000", "task_id": task_id})
        self.r.setex("celery-task-meta-" + task_id, 3600, meta)
        self.r.publish("celery-task-meta-" + task_id, meta)

    def forget(self):
        self.r.delete("celeryroot:host:" + self.name)
        self.r.srem("celeryroot:hosts", self.name)
