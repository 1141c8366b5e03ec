"""Host signatures as a verifier checks them (issue 12; src/shared/hostsig.h):
the attest of a result record and the "sig" of an audit line, with PyNaCl
(Debian's python3-nacl)."""
import base64
import json
import os
import re

import nacl.exceptions
import nacl.signing


class Forged(Exception):
    """A record or line that the host's key did not sign as it is."""


def host_pub(root):
    """The host key's public half from a host root's state directory (host.pub)."""
    with open(os.path.join(root, "var/lib/celeryroot/host.pub")) as f:
        text = f.read()
    fields = dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line and not line.startswith("#"))
    assert fields.get("id") == "host", text
    pk = base64.b64decode(fields["public"], validate=True)
    assert len(pk) == 32
    return pk


def registry_key(redis_client, host):
    """The host key the registry record carries (HELLO's, through net)."""
    rec = json.loads(redis_client.get("celeryroot:host:" + host))
    return base64.b64decode(rec["host_key"], validate=True)


def verify_record(result, pk, host=None, task=None, job=None):
    """The record a verifier may show: the signed payload, checked against
    pk and against what it must be about, plus duration_s.  Raises Forged."""
    attest = result.get("attest")
    if not isinstance(attest, dict) or attest.get("v") != 1 or attest.get("alg") != "ed25519":
        raise Forged("no attest")
    payload = attest["payload"]
    try:
        nacl.signing.VerifyKey(pk).verify(payload.encode(), base64.b64decode(attest["sig"], validate=True))
    except nacl.exceptions.BadSignatureError:
        raise Forged("bad signature")
    rec = json.loads(payload)
    for key, want in (("host", host), ("task", task), ("job", job)):
        if want is not None and rec.get(key) != want:
            raise Forged("%s is %r, not %r" % (key, rec.get(key), want))
    if "duration_s" in result:
        rec["duration_s"] = result["duration_s"]
    return rec


SIG = re.compile(rb',"sig":"([A-Za-z0-9+/=]+)"')


def verify_line(raw, pk):
    """An audit line as written (bytes, no newline): its "sig" over the line
    without it.  priv dumps sorted and compact, so the line without sig is
    the same bytes with the sig member cut out.  Returns the parsed line."""
    m = SIG.search(raw)
    if m is None:
        raise Forged("unsigned line")
    try:
        nacl.signing.VerifyKey(pk).verify(raw[:m.start()] + raw[m.end():], base64.b64decode(m.group(1)))
    except nacl.exceptions.BadSignatureError:
        raise Forged("bad signature")
    return json.loads(raw)
