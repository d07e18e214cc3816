"""The one way TrialFinder sends email.

`queue_email` renders templates/emails/<name>-{subject.txt,body.txt,body.html} in the
recipient's language, stores an OutgoingEmail row in the caller's transaction, and hands its id
to a Celery worker after commit. Nothing here talks to SMTP on the request path.

`deliver` (run by the worker) claims the row, sends it, and records the outcome; transient SMTP
failures are retried with exponential backoff by the sweeper, permanent ones fail the row.
"""

import contextlib
import logging
import re
import smtplib
import socket
import time
import uuid
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import (
    InterfaceError,
    OperationalError,
    close_old_connections,
    connections,
    transaction,
)
from django.db.models import F, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation

from notifications.models import EmailStatus, OutgoingEmail

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
# A row SENDING for longer than this belongs to a worker that died mid-send. Longer than any
# send can take (EMAIL_TIMEOUT), or a slow send would be swept and sent twice.
STUCK_AFTER = timedelta(seconds=settings.OUTBOX_STUCK_AFTER_SECONDS)
# A QUEUED row handed to the broker less than this ago is probably still in the queue.
REENQUEUE_AFTER = timedelta(minutes=2)
_ADDRESS_RE = re.compile(r"[^\s<>@]+@[^\s<>@]+")
_FOLD_RE = re.compile(r"[ \t\n\r\f\v]+")


def queue_email(
    name: str,
    *,
    to: str,
    context: dict[str, Any],
    language: str,
    erase_key: str = "",
    headers: dict[str, str] | None = None,
    reply_to: str = "",
) -> OutgoingEmail:
    """Render, store and (after commit) enqueue one email."""
    ctx = {"site_url": settings.SITE_URL, **context}
    with translation.override(language):
        # One line; only ASCII whitespace folds (French keeps its no-break space before ":").
        subject = _FOLD_RE.sub(" ", render_to_string(f"emails/{name}-subject.txt", ctx)).strip()
        body_text = render_to_string(f"emails/{name}-body.txt", ctx)
        body_html = render_to_string(f"emails/{name}-body.html", ctx)
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].rstrip(">").strip()
    email = OutgoingEmail.objects.create(
        template=name,
        language=language,
        to_email=to,
        reply_to=reply_to,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        headers=headers or {},
        message_id=f"<{uuid.uuid4()}@{domain}>",
        erase_key=erase_key,
        enqueued_at=timezone.now(),
    )
    transaction.on_commit(partial(enqueue, email.id))
    return email


def enqueue(email_id: int) -> bool:
    """Hand the id to the broker; if the broker is down, the sweeper will do it later."""
    from notifications.tasks import deliver_email

    try:
        deliver_email.delay(email_id)
        return True
    except Exception as exc:  # kombu/redis raise many types; none may fail the request
        log.warning(
            "broker unavailable, email %s left for the sweeper: %s", email_id, type(exc).__name__
        )
        return False


def backoff(attempts: int) -> timedelta:
    delay: timedelta = BACKOFF_BASE * (2 ** max(attempts - 1, 0))
    return min(delay, BACKOFF_MAX)


def _is_transient(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return all(400 <= code < 500 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    # Disconnections, refused connections, timeouts, DNS: the server may be back soon.
    return isinstance(exc, (smtplib.SMTPException, OSError, socket.timeout))


def _describe(exc: Exception) -> str:
    """The error without any address in it (SMTP replies often quote the recipient)."""
    code = getattr(exc, "smtp_code", None)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code = ",".join(str(c) for c, _m in exc.recipients.values())
    text = f"{type(exc).__name__}" + (f" {code}" if code else "")
    detail = getattr(exc, "smtp_error", b"") or (str(exc) if not code else "")
    if isinstance(detail, bytes):
        detail = detail.decode(errors="replace")
    detail = _ADDRESS_RE.sub("<address>", str(detail))[:200]
    return f"{text}: {detail}".strip(": ")[:300]


def deliver(email_id: int) -> str:
    """Send one outgoing email at most once. Returns what happened (for logs and tests)."""
    now = timezone.now()
    claimed = OutgoingEmail.objects.filter(
        id=email_id, status=EmailStatus.QUEUED, next_attempt_at__lte=now
    ).update(status=EmailStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return "skipped"  # sent, being sent, failed, cancelled, erased or not due yet
    email = OutgoingEmail.objects.get(id=email_id)
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to_email],
        reply_to=[email.reply_to] if email.reply_to else None,
        headers={"Message-ID": email.message_id, **email.headers},
    )
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    connection = get_connection(fail_silently=False, timeout=settings.EMAIL_TIMEOUT)
    try:
        connection.open()
        connection.send_messages([message])
    except Exception as exc:
        with contextlib.suppress(Exception):
            connection.close()
        transient = _is_transient(exc)
        give_up = not transient or email.attempts >= MAX_ATTEMPTS
        OutgoingEmail.objects.filter(id=email_id, status=EmailStatus.SENDING).update(
            status=EmailStatus.FAILED if give_up else EmailStatus.QUEUED,
            next_attempt_at=timezone.now() + backoff(email.attempts),
            enqueued_at=None,  # the sweeper hands it over again as soon as it is due
            last_error=_describe(exc),
        )
        log.warning(
            "email %s attempt %s failed (%s): %s",
            email_id,
            email.attempts,
            "gave up" if give_up else "will retry",
            type(exc).__name__,
        )
        return "failed" if give_up else "retry"
    # The server has accepted the message: record it at once, before saying goodbye to the
    # server, so that a worker killed now leaves the shortest possible window for a resend.
    _mark_sent(email_id)
    with contextlib.suppress(Exception):
        connection.close()
    return "sent"


def _mark_sent(email_id: int, *, patience: float = 60.0) -> None:
    """SENT must be recorded once the message left: if PostgreSQL is restarting right now, wait
    for it (a row left SENDING would be swept and sent a second time)."""
    deadline = time.monotonic() + patience
    delay = 0.2
    while True:
        try:
            OutgoingEmail.objects.filter(id=email_id).update(
                status=EmailStatus.SENT, sent_at=timezone.now(), last_error=""
            )
            return
        except (OperationalError, InterfaceError):
            if time.monotonic() > deadline:
                raise
            log.warning("database unavailable while recording email %s as sent; retrying", email_id)
            if not connections["default"].in_atomic_block:
                close_old_connections()  # drop the broken connection; the next query reconnects
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def sweep(limit: int = 500) -> list[int]:
    """Re-enqueue what a lost task or a dead worker left behind; returns the ids handed over."""
    now = timezone.now()
    OutgoingEmail.objects.filter(
        status=EmailStatus.SENDING, claimed_at__lt=now - STUCK_AFTER
    ).update(status=EmailStatus.QUEUED, next_attempt_at=now)
    due = list(
        OutgoingEmail.objects.filter(status=EmailStatus.QUEUED, next_attempt_at__lte=now)
        .exclude(enqueued_at__gt=now - REENQUEUE_AFTER)
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )
    handed = []
    for email_id in due:
        if not enqueue(email_id):
            break  # the broker is down: try again at the next sweep
        handed.append(email_id)
    if handed:
        OutgoingEmail.objects.filter(id__in=handed).update(enqueued_at=now)
    return handed


def retry_now(queryset: QuerySet[OutgoingEmail]) -> int:
    """Admin action: failed or waiting emails go back to the queue at once."""
    ids = list(
        queryset.filter(status__in=[EmailStatus.FAILED, EmailStatus.QUEUED]).values_list(
            "id", flat=True
        )
    )
    queryset.filter(id__in=ids).update(
        status=EmailStatus.QUEUED, next_attempt_at=timezone.now(), enqueued_at=timezone.now()
    )
    for email_id in ids:
        transaction.on_commit(partial(enqueue, email_id))
    return len(ids)
