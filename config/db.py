"""Which database a query goes to: the primary, or a streaming read replica for public pages.

With `DATABASE_REPLICA_URL` set there is a second alias, `replica`. Views decorated with
`replica_reads` (search, trial pages, the API, the feed: pages that only read, the same for
everyone) read from it; everything else (writes, admin, inquiries, alerts, imports, Celery
tasks) reads and writes on the primary. Three things keep a visitor from reading stale data:

- a request that wrote (a POST, or any ORM write) reads from the primary for the rest of the
  request, and its answer sets a short-lived cookie that keeps that browser on the primary for
  REPLICA_STICKY_SECONDS: a patient who just subscribed sees their own change;
- a replica that does not answer, or replays more than REPLICA_MAX_LAG_SECONDS behind, is
  skipped (checked at most every REPLICA_CHECK_SECONDS per process); a replica lost in the
  middle of a page has the page read again from the primary: replica trouble is not an outage;
- the search generation is bumped only once the replica has replayed the import
  (`wait_for_replica`), so no stale answer is cached under a new generation.

Under PgBouncer (DATABASE_POOLER=pgbouncer, transaction pooling) a session lasts one
transaction: session-level advisory locks take a connection of their own straight to
PostgreSQL (`direct_connection`, DATABASE_DIRECT_URL).
"""

import contextlib
import contextvars
import logging
import threading
import time
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from config.outage import connection_lost

if TYPE_CHECKING:
    import psycopg
    from django.db.backends.base.base import BaseDatabaseWrapper

log = logging.getLogger(__name__)

REPLICA = "replica"
# Whatever the page: sessions, users and login throttling are read where they are written.
PRIMARY_ONLY_APPS = {"sessions", "auth", "axes", "otp_totp", "otp_static", "django_otp", "admin"}

# Per request (and per thread: gunicorn's sync workers, Django's test client): where reads go,
# and whether this request wrote. Outside a replica_reads view both say "primary".
_read_alias: contextvars.ContextVar[str] = contextvars.ContextVar(
    "read_alias", default=DEFAULT_DB_ALIAS
)
_wrote: contextvars.ContextVar[list | None] = contextvars.ContextVar("wrote", default=None)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def read_alias() -> str:
    """The alias this request's reads go to (raw SQL in read-only code uses it too)."""
    if _read_alias.get() == REPLICA and not _pinned():
        return REPLICA
    return DEFAULT_DB_ALIAS


def read_connection() -> "BaseDatabaseWrapper":
    """The connection for raw SQL that only reads: `read_connection().cursor()`."""
    return connections[read_alias()]


def _pinned() -> bool:
    wrote = _wrote.get()
    return bool(wrote) or connections[DEFAULT_DB_ALIAS].in_atomic_block


def _mark_wrote() -> None:
    wrote = _wrote.get()
    if wrote is not None and not wrote:
        wrote.append(True)


class ReplicaRouter:
    """DATABASE_ROUTERS: reads follow `read_alias()`, writes and migrations the primary."""

    def db_for_read(self, model, **hints):
        if model._meta.app_label in PRIMARY_ONLY_APPS:
            return DEFAULT_DB_ALIAS
        return read_alias()

    def db_for_write(self, model, **hints):
        # Any write (or a read that locks, get_or_create...) keeps the rest of the request on
        # the primary, where the write is visible.
        _mark_wrote()
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the same rows on both: the replica is a copy of the primary

    def allow_migrate(self, db, app_label, **hints):
        return db == DEFAULT_DB_ALIAS


# --- replica health -------------------------------------------------------------------------

# Lag as PostgreSQL sees it on the replica: nothing received is waiting to be replayed → 0;
# otherwise the age of the last transaction replayed. NULL replay timestamp (nothing replayed
# since start) counts as 0 only when nothing is waiting.
_LAG_SQL = """
SELECT CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
            ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 1e9)
       END::float8"""

_health_lock = threading.Lock()
_health: dict = {"checked": None, "usable": False, "detail": "not checked"}


def replica_health(*, force: bool = False) -> tuple[bool, str]:
    """(usable, what /healthz says), checked at most every REPLICA_CHECK_SECONDS."""
    if not replica_configured():
        return False, "not configured"
    now = time.monotonic()
    with _health_lock:
        checked = _health["checked"]
        if not force and checked is not None and now - checked < settings.REPLICA_CHECK_SECONDS:
            return _health["usable"], _health["detail"]
    try:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute(_LAG_SQL)
            lag = cursor.fetchone()[0]
    except DatabaseError as exc:
        connections[REPLICA].close()  # the next check opens a fresh connection
        usable, detail = False, f"skipped: unreachable ({type(exc).__name__})"
    else:
        if lag > settings.REPLICA_MAX_LAG_SECONDS:
            usable = False
            detail = f"skipped: lagging {lag:.1f} s (> {settings.REPLICA_MAX_LAG_SECONDS} s)"
        else:
            usable, detail = True, f"ok (lag {lag:.1f} s)"
    with _health_lock:
        if usable != _health["usable"] and _health["checked"] is not None:
            log.warning("read replica: %s", detail)
        _health.update(checked=time.monotonic(), usable=usable, detail=detail)
    return usable, detail


def forget_replica_health() -> None:
    """The next request checks the replica again (tests, and after a replica was lost)."""
    with _health_lock:
        _health["checked"] = None


# --- views and requests ---------------------------------------------------------------------


def _replica_wanted(request) -> bool:
    return (
        replica_configured()
        and request.method in ("GET", "HEAD")
        and settings.REPLICA_STICKY_COOKIE not in request.COOKIES
        and replica_health()[0]
    )


def replica_reads(view):
    """The view only reads and answers the same to everyone: its reads may go to the replica.

    A replica lost during the page (stopped, restarted, promoted away) has the page read again
    from the primary, once.
    """

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not _replica_wanted(request):
            return view(request, *args, **kwargs)
        token = _read_alias.set(REPLICA)
        try:
            try:
                return view(request, *args, **kwargs)
            except DatabaseError as exc:
                if not connection_lost(exc):
                    raise
                connections[REPLICA].close()
                if replica_health(force=True)[0]:
                    raise  # the replica answers: the primary was lost, handler500 says 503
                log.warning(
                    "read replica lost during a page (%s): read again from the primary",
                    type(exc.__cause__ or exc).__name__,
                )
            _read_alias.set(DEFAULT_DB_ALIAS)
            return view(request, *args, **kwargs)
        finally:
            _read_alias.reset(token)

    return wrapped


class ReadYourWritesMiddleware:
    """A request that wrote keeps its browser on the primary for REPLICA_STICKY_SECONDS."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        wrote: list = []
        token = _wrote.set(wrote)
        try:
            response = self.get_response(request)
        finally:
            _wrote.reset(token)
        if replica_configured() and (wrote or request.method not in ("GET", "HEAD", "OPTIONS")):
            response.set_cookie(
                settings.REPLICA_STICKY_COOKIE,
                "1",
                max_age=settings.REPLICA_STICKY_SECONDS,
                secure=settings.SECURE_COOKIES,
                httponly=True,
                samesite="Lax",
            )
        return response


# --- after an import ------------------------------------------------------------------------


def wait_for_replica(timeout: float | None = None) -> bool:
    """Wait until the replica has replayed everything committed on the primary so far.

    True at once without a replica. False after `timeout` (by default long enough that a
    replica still behind is lagging beyond REPLICA_MAX_LAG_SECONDS, hence skipped by every
    web process): the caller goes on either way.
    """
    if not replica_configured():
        return True
    if timeout is None:
        timeout = settings.REPLICA_MAX_LAG_SECONDS + settings.REPLICA_CHECK_SECONDS + 1
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        lsn = cursor.fetchone()[0]
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        try:
            with connections[REPLICA].cursor() as cursor:
                # A replica promoted to primary (not in recovery) has everything it will have.
                cursor.execute(
                    "SELECT coalesce(pg_last_wal_replay_lsn() >= %s::pg_lsn, "
                    "NOT pg_is_in_recovery())",
                    [lsn],
                )
                if cursor.fetchone()[0]:
                    return True
        except DatabaseError as exc:
            connections[REPLICA].close()
            log.warning("read replica unreachable while waiting for it (%s)", type(exc).__name__)
        if time.monotonic() + delay > deadline:
            log.warning("read replica had not replayed %s after %.0f s: going on", lsn, timeout)
            return False
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


# --- PgBouncer ------------------------------------------------------------------------------


def direct_connection() -> "psycopg.Connection[tuple[Any, ...]] | None":
    """A psycopg connection of its own straight to PostgreSQL (DATABASE_DIRECT_URL) for
    session-level state such as advisory locks, under PgBouncer; None without a pooler (the
    default connection is a real session then). The database is the default alias's, so
    that tests lock their own test database."""
    if settings.DATABASE_POOLER != "pgbouncer":
        return None
    import psycopg

    direct = settings.DATABASE_DIRECT
    params = {
        "dbname": connections[DEFAULT_DB_ALIAS].settings_dict["NAME"],
        "user": direct["USER"] or None,
        "password": direct["PASSWORD"] or None,
        "host": direct["HOST"] or None,
        "port": direct["PORT"] or None,
        **direct["OPTIONS"],
    }
    return psycopg.connect(**{k: v for k, v in params.items() if v is not None}, autocommit=True)


@contextlib.contextmanager
def session_advisory_lock(lock_id: int):
    """pg_advisory_lock held for the block, on a real session: under PgBouncer a lock taken
    through the pool stays with whichever server connection ran it (and its unlock may run on
    another), so the lock takes a connection of its own straight to PostgreSQL."""
    from django.db import connection

    direct = direct_connection()
    if direct is None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [lock_id])
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [lock_id])
        return
    try:
        direct.execute("SELECT pg_advisory_lock(%s)", [lock_id])
        yield
    finally:
        direct.close()  # ends the session, and the lock with it
