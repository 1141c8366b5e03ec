"""Sign celeryroot tasks from Python Celery.

Hosts with ``require_signed = true`` run only tasks signed by a key in their
trusted_keys directory.  This module signs the same canonical form as the
``celeryroot`` CLI (see SECURITY.md, "Signed tasks"), with python3-nacl from
Debian.  Use it with /usr/bin/python3:

    from celery import Celery
    import celeryroot_sign

    app = Celery(broker="redis://127.0.0.1:6379/0", backend="redis://127.0.0.1:6379/0")
    key = celeryroot_sign.load_key("/root/.config/celeryroot/alice.key")
    result = celeryroot_sign.send_signed(app, key, "celeryroot.apt.install",
                                         [["nginx"]], {"check": True}, queue="host.web01")
    print(result.get(timeout=120))

``queue`` is the target that is signed: ``host.<hostname>`` or ``role.<role>``.
Keyword arguments must be whole numbers, booleans, strings or lists
(``max_age=3600``, not 3600.0): a real number cannot be signed.

A result is the host's word only when its host key signed it: check it
with the host's public key (the base64 ``public`` of its
/var/lib/celeryroot/host.pub, or its line in the CLI's known_hosts) before
believing it:

    record = celeryroot_sign.verify_result(result.get(timeout=120), host_key_b64,
                                           "web01", result.id)
"""
import base64
import datetime
import json
import os
import time

import nacl.signing

DOMAIN = b"celeryroot-task-v1\n"
HEADER = "celeryroot_sig"
MAX_LIFETIME = 31 * 86400


class Key:
    def __init__(self, key_id, signing_key):
        self.id = key_id
        self.signing_key = signing_key


def load_key(path):
    """Reads a secret key file made by 'celeryroot key generate'."""
    if os.stat(path).st_mode & 0o077:
        raise PermissionError("%s is readable by others: run 'chmod 600 %s'" % (path, path))
    fields = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and line[0] not in "#;" and "=" in line:
                name, value = line.split("=", 1)
                fields[name.strip()] = value.strip()
    secret = base64.b64decode(fields["secret"], validate=True)
    if len(secret) != 64:
        raise ValueError("%s: the secret key must be 64 bytes" % path)
    # libsodium's secret key is the 32-byte seed followed by the public key.
    return Key(fields["id"], nacl.signing.SigningKey(secret[:32]))


def canonical(value):
    """The signed bytes' JSON: sorted keys, no spaces, ASCII only, no floats."""
    def check(v):
        if isinstance(v, float):
            raise ValueError("a real number cannot be signed: send whole numbers")
        if isinstance(v, dict):
            for x in v.values():
                check(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                check(x)
    check(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def sign_header(key, task, args, kwargs, queue, job="", expires=None, for_schedule=None, for_key=None):
    """The celeryroot_sig header value for one message.  for_schedule (and
    for_key, the key that signed it) name the schedule a task is fired for,
    as 'celeryroot beat' does; both are signed."""
    expires = int(expires if expires is not None else time.time() + 3600)
    nonce = os.urandom(16).hex()
    claims = {"args": list(args), "expires": expires, "job": job, "key": key.id,
              "kwargs": dict(kwargs), "nonce": nonce, "target": queue, "task": task, "v": 1}
    if for_schedule:
        claims["for"] = {"schedule": for_schedule}
        if for_key:
            claims["for"]["key"] = for_key
    signature = key.signing_key.sign(DOMAIN + canonical(claims).encode()).signature
    header = {"v": 1, "key": key.id, "nonce": nonce, "expires": expires, "target": queue,
              "job": job, "sig": base64.b64encode(signature).decode()}
    if "for" in claims:
        header["for"] = claims["for"]
    return header


class ForgedResult(Exception):
    """A result that its host's key did not sign (or not for this task)."""


def verify_result(result, host_key_b64, host, task_id, job=""):
    """The record a host signed, from the result a celeryroot daemon
    published: its attest's signature must verify with the host's key over
    the payload's bytes, and the payload name this host, task and job.
    Returns the payload (with net's duration_s); raises ForgedResult."""
    attest = result.get("attest") if isinstance(result, dict) else None
    if not isinstance(attest, dict) or attest.get("v") != 1 or attest.get("alg") != "ed25519":
        raise ForgedResult("the result carries no host signature")
    payload = attest.get("payload")
    try:
        verify_key = nacl.signing.VerifyKey(base64.b64decode(host_key_b64, validate=True))
        verify_key.verify(payload.encode(), base64.b64decode(attest.get("sig", ""), validate=True))
    except Exception as e:
        raise ForgedResult("bad signature: not signed with %s's key (%s)" % (host, e)) from None
    record = json.loads(payload)
    if record.get("host") != host or record.get("task") != task_id or record.get("job", "") != job:
        raise ForgedResult("signed for another host or task: %r/%r/%r" % (
            record.get("host"), record.get("task"), record.get("job")))
    record["duration_s"] = result.get("duration_s", 0.0)
    return record


def send_signed(app, key, task, args, kwargs, queue, expires_in=3600, **options):
    """app.send_task() with a signature; returns the AsyncResult."""
    expires = int(time.time() + min(expires_in, MAX_LIFETIME))
    header = sign_header(key, task, args, kwargs, queue, expires=expires)
    when = datetime.datetime.fromtimestamp(expires, datetime.timezone.utc)
    return app.send_task(task, args=args, kwargs=kwargs, queue=queue, expires=when,
                         headers={HEADER: header}, **options)
