"""Debian's `celery beat` driving celeryroot daemons.

    CELERYROOT_BROKER_URL=redis://127.0.0.1:6379/0 \\
        /usr/bin/python3 -m celery -A celerybeat_celeryroot beat -s /var/lib/celeryroot/beat-schedule

(run from this directory, or put it on PYTHONPATH).  Each entry sends one
celeryroot task to one queue: `host.<hostname>` for a host, `role.<role>`
for any one host of a role.  For fleet-wide fan-out at fire time, with
maintenance windows in mind, prefer `celeryroot beat` (it resolves roles
through the registry when the schedule fires); this module is for sites
that already run Celery beat.

With CELERYROOT_SIGNING_KEY set to a key file made by `celeryroot key
generate`, every task beat sends is signed (hosts with require_signed = true
need that), through Celery's before_task_publish signal.
"""
import datetime
import os
import sys

from celery import Celery
from celery.schedules import crontab
from celery.signals import before_task_publish

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import celeryroot_sign  # noqa: E402

BROKER = os.environ.get("CELERYROOT_BROKER_URL", "redis://127.0.0.1:6379/0")
app = Celery("celeryroot-beat", broker=BROKER, backend=BROKER)
app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"],
                timezone=os.environ.get("CELERYROOT_BEAT_TZ", "UTC"))

# Edit to taste: one entry per (schedule, queue).
app.conf.beat_schedule = {
    "lists-web01": {"task": "celeryroot.apt.update", "schedule": crontab(minute=0, hour="*/6"),
                    "args": [[]], "kwargs": {"max_age": 3600},
                    "options": {"queue": "host.web01", "expires": 3600}},
    "security-web01": {"task": "celeryroot.apt.upgrade", "schedule": crontab(minute=30, hour=2),
                       "args": [[]], "kwargs": {"security": True},
                       "options": {"queue": "host.web01", "expires": 3600}},
}

# Tests (and sites) can replace the schedule with a JSON file.
if os.environ.get("CELERYROOT_BEAT_SCHEDULE_JSON"):
    import json
    with open(os.environ["CELERYROOT_BEAT_SCHEDULE_JSON"]) as f:
        app.conf.beat_schedule = json.load(f)

_KEY = None
if os.environ.get("CELERYROOT_SIGNING_KEY"):
    _KEY = celeryroot_sign.load_key(os.environ["CELERYROOT_SIGNING_KEY"])


@before_task_publish.connect
def _sign(sender=None, body=None, headers=None, routing_key=None, **_):
    """Signs what is about to be sent, for the queue it goes to."""
    if _KEY is None or not str(sender).startswith("celeryroot."):
        return
    args, kwargs = body[0], body[1]
    expires = headers.get("expires")
    if expires:
        when = int(datetime.datetime.fromisoformat(expires).timestamp())
    else:
        when = int(datetime.datetime.now(datetime.timezone.utc).timestamp()) + 3600
        headers["expires"] = datetime.datetime.fromtimestamp(when, datetime.timezone.utc).isoformat()
    headers[celeryroot_sign.HEADER] = celeryroot_sign.sign_header(
        _KEY, sender, args, kwargs, routing_key, job=headers.get("group") or "", expires=when)
