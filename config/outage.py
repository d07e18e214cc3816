"""A short PostgreSQL outage (a restart, a failover, a killed connection) is not an error page.

Writes: `survives_db_outage` runs a view again, on a fresh connection, for up to
DB_OUTAGE_RETRY_SECONDS (with backoff) when the database connection was lost before or during
its transaction. The views it wraps are idempotent (the forms carry a submission key, unique in
the database), so running one again after a commit whose answer was lost changes nothing. Still
down after that: a 503 page in the visitor's language, with what they typed kept in its form
(never in a URL, never logged) and Retry-After.

Everything else (read-only pages, middleware): config.views.server_error, the handler500,
answers a lost connection with a 503 page instead of a 500.
"""

import logging
import time
from functools import wraps

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.http import HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _

from config.privacy import private

log = logging.getLogger(__name__)

# PostgreSQL's own words for "this connection is gone": terminated by an administrator or a
# restart (57P01), a crash (57P02), the server starting or stopping (57P03), and the connection
# exception class (08xxx). A psycopg error without an SQLSTATE failed in the client: connection
# refused, closed or reset.
_LOST_SQLSTATES = {"57P01", "57P02", "57P03"}
FIRST_DELAY = 0.25
MAX_DELAY = 4.0
# Seconds a visitor is told to wait (Retry-After): a restart or failover takes that long.
RETRY_AFTER = 60
# Never echoed back into a page, whatever the form.
_NEVER_KEPT = ("csrfmiddlewaretoken", "password", "otp_token")
READ_MESSAGE = _("This page could not be loaded: our database is briefly unavailable.")
WRITE_MESSAGE = _(
    "We could not save what you sent: nothing was sent. Please try again in a minute."
)


def connection_lost(exc: BaseException) -> bool:
    """The database connection was lost or could not be opened (as opposed to a query error)."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in _LOST_SQLSTATES


def _drop_connections() -> bool:
    """Close this thread's connections so that the next query opens a fresh one; False when a
    transaction is still open around the view (nothing can be retried inside it)."""
    opened = connections.all(initialized_only=True)
    if any(conn.in_atomic_block for conn in opened):
        return False
    for conn in opened:
        conn.close()
    return True


def survives_db_outage(view=None, *, shown: dict | None = None, json: bool = False):
    """Retry a writing view on a lost database connection; 503 with the form kept after
    DB_OUTAGE_RETRY_SECONDS. `shown`: the fields the page shows, editable, with their labels
    (the others travel in hidden inputs); `json`: answer as the JSON endpoints do."""

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method in ("GET", "HEAD", "OPTIONS"):
                return view(request, *args, **kwargs)
            deadline = time.monotonic() + settings.DB_OUTAGE_RETRY_SECONDS
            delay = FIRST_DELAY
            attempt = 1
            while True:
                try:
                    return view(request, *args, **kwargs)
                except DatabaseError as exc:
                    if not connection_lost(exc) or not _drop_connections():
                        raise
                    # The view's name and the error's class: never the request, its path
                    # (it may hold a secret link) or its data.
                    if time.monotonic() + delay > deadline:
                        log.error(
                            "database unavailable for %s (%s, %s attempts): answered 503",
                            view.__qualname__,
                            type(exc.__cause__ or exc).__name__,
                            attempt,
                        )
                        return unavailable(request, shown=shown or {}, json=json)
                    log.warning(
                        "database connection lost in %s (%s); trying again in %.2f s",
                        view.__qualname__,
                        type(exc.__cause__ or exc).__name__,
                        delay,
                    )
                    time.sleep(delay)
                    delay = min(delay * 2, MAX_DELAY)
                    attempt += 1

        return wrapped

    return decorate(view) if view is not None else decorate


def unavailable(request, *, shown: dict | None = None, json: bool = False, kept: bool = True):
    """The 503 answer. For a write (`kept`), a form that posts again what was typed.

    Rendered without the request's context processors: they may read the database (the
    session behind `messages`, the user), which is what is missing.
    """
    write = request.method not in ("GET", "HEAD", "OPTIONS")
    message = WRITE_MESSAGE if write else READ_MESSAGE
    if json:
        response: HttpResponse = JsonResponse({"error": str(message)}, status=503)
    else:
        shown = shown or {}
        fields = []
        if write and kept:
            fields = [
                (name, value)
                for name, values in request.POST.lists()
                for value in values
                if not any(secret in name for secret in _NEVER_KEPT)
            ]
        ctx = {
            "request": request,
            "csrf_token": get_token(request),
            "write": write,
            "kept": kept and write,
            "action": request.path,
            "hidden": [(name, value) for name, value in fields if name not in shown],
            "shown": [
                {"name": name, "label": label, "value": request.POST.get(name, "")}
                for name, label in shown.items()
                if name in request.POST
            ],
            "retry_minutes": RETRY_AFTER // 60,
        }
        response = HttpResponse(render_to_string("503.html", ctx), status=503)
    response["Retry-After"] = str(RETRY_AFTER)
    # What the visitor typed is in the page: never stored by a cache, never indexed.
    return private(response)
