"""Write ClinicalTrials.gov records into the database, in batches, keeping the history.

Used by `manage.py import_ctgov` and by the scheduled sync, so both behave the same:
- a record whose canonical hash is unchanged costs one comparison and writes nothing;
- a new record creates the trial, its sites, contacts and version 1;
- a changed record updates the trial, upserts its sites by their stable key (sites that left
  the record are marked removed, never deleted: inquiries point at them), replaces contacts,
  and appends a TrialVersion naming the changed fields and the changes a patient cares about;
- a record that fails to parse, or whose write fails, is reported and skipped whole (each batch
  is one transaction; a failing batch is retried one record at a time to isolate the culprit).
"""

import contextlib
import datetime
import logging
import queue
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict

from django.db import DatabaseError, connection, reset_queries, transaction
from django.db.models import Field, JSONField, Model
from django.utils import timezone
from psycopg.types.json import Jsonb

from config.db import direct_connection, wait_for_replica
from trials.ctgov import (
    ParsedSite,
    ParsedStudy,
    RecordError,
    changed_paths,
    parse_study,
    patient_changes,
)
from trials.geo import locate_cities, refresh_postal_codes
from trials.models import TRIAL_PORTAL_FIELDS, Contact, Site, Trial, TrialVersion
from trials.sources import BadRecord

if TYPE_CHECKING:
    import psycopg
    from django.db.backends.utils import CursorWrapper

log = logging.getLogger(__name__)

BATCH_SIZE = 250
# More created or changed trials than this in one import is a bulk load (statistics and
# vocabularies redone from every trial) rather than an update.
BULK_IMPORT = 5000
# Serialises imports (a manual import and the scheduled sync must not interleave batches).
IMPORT_LOCK_ID = 0x7472_6961  # "tria"

TRIAL_UPDATE_FIELDS = [
    f.name
    for f in Trial._meta.concrete_fields
    if f.name
    # Staff's fields (plain language, what taking part involves, ...) are never overwritten.
    not in {"id", "nct_id", "search_vector", "first_seen_at", *TRIAL_PORTAL_FIELDS}
    and f.editable
] + ["record_hash", "last_changed_at", "change_count"]
# Only the registry's fields: what coordinators say (coordinator_status, status_confirmed_*,
# response_business_days, ...) is portal-owned and survives every import.
SITE_UPDATE_FIELDS = [
    "position",
    "facility",
    "city",
    "state",
    "postal_code",
    "country",
    "country_code",
    "latitude",
    "longitude",
    "location_estimated",
    "status",
    "removed_at",
]


# A study record as the registry serves it: JSON, read by trials.ctgov.
Record = dict[str, Any]
# A row to COPY, by model attribute name (the model's defaults fill the rest).
Row = dict[str, object]


class _Item(NamedTuple):
    """A record to write, with where it came from (for messages) and what it says."""

    label: str
    record: Record
    parsed: ParsedStudy


class _Failed(NamedTuple):
    """A record that cannot be used, and why."""

    label: str
    message: str


class _Stored(TypedDict):
    """What an import compares of a trial already in the database."""

    id: int
    nct_id: str
    record_hash: str
    change_count: int
    last_update_posted: datetime.date | None
    retrieved_on: datetime.date | None


class _SiteRow(TypedDict, total=False):
    """A site's registry columns (SITE_UPDATE_FIELDS, the trial and key; id once known)."""

    id: int
    trial_id: int
    key: str
    position: int
    facility: str
    city: str
    state: str
    postal_code: str
    country: str
    country_code: str
    latitude: float | None
    longitude: float | None
    location_estimated: bool
    status: str
    removed_at: datetime.datetime | None


@dataclass
class ImportStats:
    created: int = 0
    updated: int = 0
    unchanged: int = 0  # includes the `older` ones
    failed: int = 0
    # Records older than the copy already imported (an old file re-imported, a sync that
    # overlaps): kept out, counted as unchanged, each reported through Importer.on_note.
    older: int = 0
    # Created or changed trials, for the search index (updated in the same run: after_import).
    changed_ids: list[int] = field(default_factory=list, repr=False)

    @property
    def seen(self) -> int:
        return self.created + self.updated + self.unchanged + self.failed

    def summary(self) -> str:
        older = f" ({self.older} older than ours, kept out)" if self.older else ""
        return (
            f"created {self.created}, updated {self.updated}, "
            f"unchanged {self.unchanged}{older}, failed {self.failed}"
        )


def _noop(*args: object, **kwargs: object) -> None:
    pass


class Importer:
    def __init__(
        self,
        *,
        batch_size: int = BATCH_SIZE,
        on_error: Callable[[str, str], None] = _noop,
        on_progress: Callable[[ImportStats], None] = _noop,
        on_note: Callable[[str, str], None] = _noop,
        writers: int = 1,
    ) -> None:
        self.batch_size = batch_size
        self.on_error = on_error
        self.on_note = on_note
        self.on_progress = on_progress
        # Batches written at once, each on its own connection: a bulk load is bound by
        # PostgreSQL's work per row (the search-vector trigger above all), which one connection
        # keeps on one core. Each batch commits on its own, so a rollback-wrapped caller (the
        # tests) must keep the default single writer.
        self.writers = writers
        self.stats = ImportStats()
        self._lock = threading.Lock()

    # --- driving -----------------------------------------------------------------------------

    def run(self, records: Iterable[tuple[str, Record | BadRecord]]) -> ImportStats:
        pool = _Writers(self._flush, self.writers) if self.writers > 1 else None
        flush = pool.submit if pool else self._flush
        batch: dict[str, _Item] = {}
        try:
            for item in _parsed_ahead(records):
                if isinstance(item, _Failed):
                    self._fail(item.label, item.message)
                    continue
                if item.parsed.nct_id in batch:
                    # The same study twice in one input: write the first, then the second over
                    # it (every batch in flight done first).
                    flush(batch)
                    if pool:
                        pool.wait()
                    batch = {}
                batch[item.parsed.nct_id] = item
                if len(batch) >= self.batch_size:
                    flush(batch)
                    batch = {}
            if batch:
                flush(batch)
        finally:
            if pool:
                pool.close()
        return self.stats

    def _fail(self, label: str, message: str) -> None:
        with self._lock:
            self.stats.failed += 1
            self.on_error(label, message)

    def _flush(self, batch: dict[str, _Item]) -> None:
        items = list(batch.values())
        try:
            with transaction.atomic():
                self._write(items)
        except DatabaseError:
            # One bad record must not cost the batch: retry each alone, report the culprit.
            for item in items:
                try:
                    with transaction.atomic():
                        self._write([item])
                except DatabaseError as exc:
                    self._fail(
                        item.label, f"{item.parsed.nct_id}: database refused it: {exc}".strip()
                    )
        with self._lock:
            self.on_progress(self.stats)
        # With DEBUG on, Django keeps every query: a long import must not grow with it.
        reset_queries()

    # --- writing -----------------------------------------------------------------------------

    def _write(self, items: list[_Item]) -> None:
        existing: dict[str, _Stored] = {
            row["nct_id"]: row
            for row in Trial.objects.filter(nct_id__in=[p.nct_id for _, _, p in items]).values(
                "id", "nct_id", "record_hash", "change_count", "last_update_posted", "retrieved_on"
            )
        }
        new: list[tuple[Record, ParsedStudy]] = []
        changed: list[tuple[_Stored, Record, ParsedStudy]] = []
        notes: list[tuple[str, str]] = []
        unchanged = 0
        for label, record, parsed in items:
            row = existing.get(parsed.nct_id)
            if row is None:
                new.append((record, parsed))
            elif row["record_hash"] == parsed.record_hash:
                unchanged += 1
            elif why := _older_than_stored(row, parsed):
                unchanged += 1
                notes.append((label, f"{parsed.nct_id}: {why}; the newer copy is kept"))
            else:
                changed.append((row, record, parsed))
        _place_unlocated_sites([p for _, p in new] + [p for _, _, p in changed])
        now = timezone.now()
        created_ids = self._create(new, now) if new else []
        updated_ids = self._update(changed, now) if changed else []
        # Count only once the transaction is sure to commit (a retried batch must not count twice).
        with self._lock:
            self.stats.unchanged += unchanged
            self.stats.older += len(notes)
            self.stats.created += len(created_ids)
            self.stats.updated += len(updated_ids)
            for label, note in notes:
                self.on_note(label, note)
            self.stats.changed_ids.extend(created_ids)
            self.stats.changed_ids.extend(updated_ids)

    def _create(self, new: list[tuple[Record, ParsedStudy]], now: datetime.datetime) -> list[int]:
        """New trials with COPY, ids drawn from the sequences first so that sites, contacts and
        versions can be written in the same pass (the ORM's bulk_create spent more time building
        SQL than PostgreSQL spent running it)."""
        with connection.cursor() as cursor:
            trial_ids = _next_ids(cursor, Trial, len(new))
            site_ids = iter(_next_ids(cursor, Site, sum(len(p.sites) for _, p in new)))
            trials: list[Row] = []
            sites: list[_SiteRow] = []
            contacts: list[Row] = []
            versions: list[Row] = []
            for trial_id, (record, parsed) in zip(trial_ids, new, strict=True):
                trials.append(
                    {
                        **parsed.fields,
                        "id": trial_id,
                        "record_hash": parsed.record_hash,
                        "first_seen_at": now,
                        "last_changed_at": now,
                        "change_count": 0,
                    }
                )
                ids = {}
                for s in parsed.sites:
                    ids[s.key] = site_id = next(site_ids)
                    sites.append({**_site_values(trial_id, s), "id": site_id})
                contacts.extend(
                    {**c, "trial_id": trial_id, "site_id": None} for c in parsed.central_contacts
                )
                for s in parsed.sites:
                    contacts.extend(
                        {**c, "trial_id": trial_id, "site_id": ids[s.key]} for c in s.contacts
                    )
                versions.append(
                    {
                        "trial_id": trial_id,
                        "number": 1,
                        "imported_at": now,
                        "last_update_posted": parsed.fields["last_update_posted"],
                        "record": record,
                    }
                )
            TRIAL_COPY.write(cursor, trials)
            SITE_COPY.write(cursor, sites)
            CONTACT_COPY.write(cursor, contacts)
            VERSION_COPY.write(cursor, versions)
        return trial_ids

    def _update(
        self, changed: list[tuple[_Stored, Record, ParsedStudy]], now: datetime.datetime
    ) -> list[int]:
        trial_ids = [row["id"] for row, _, _ in changed]
        previous = {
            v.trial_id: v.record
            for v in TrialVersion.objects.filter(trial_id__in=trial_ids)
            .order_by("trial_id", "-number")
            .distinct("trial_id")
        }
        trials: list[Row] = []
        versions: list[Row] = []
        for row, record, parsed in changed:
            old_record = previous.get(row["id"])
            old_parsed = _parse_quietly(old_record)
            trials.append(
                {
                    **parsed.fields,
                    "id": row["id"],
                    "record_hash": parsed.record_hash,
                    "last_changed_at": now,
                    "change_count": row["change_count"] + 1,
                }
            )
            versions.append(
                {
                    "trial_id": row["id"],
                    "number": row["change_count"] + 2,
                    "imported_at": now,
                    "last_update_posted": parsed.fields["last_update_posted"],
                    "record": record,
                    "changed_fields": changed_paths(old_record or {}, record),
                    "patient_changes": (patient_changes(old_parsed, parsed) if old_parsed else []),
                }
            )
        existing_sites = {
            (trial_id, key): (site_id, removed_at)
            for site_id, trial_id, key, removed_at in Site.objects.filter(
                trial_id__in=trial_ids
            ).values_list("id", "trial_id", "key", "removed_at")
        }
        to_create: list[_SiteRow] = []
        to_update: list[_SiteRow] = []
        seen: set[tuple[int, str]] = set()
        for row, _, parsed in changed:
            for parsed_site in parsed.sites:
                key = (row["id"], parsed_site.key)
                seen.add(key)
                values = _site_values(row["id"], parsed_site)
                if key in existing_sites:
                    values["id"] = existing_sites[key][0]
                    to_update.append(values)
                else:
                    to_create.append(values)
        removed = [
            site_id
            for key, (site_id, removed_at) in existing_sites.items()
            if key not in seen and removed_at is None
        ]
        with connection.cursor() as cursor:
            # The ORM's bulk_update builds a CASE per column and row (minutes for 1,000 trials):
            # COPY into a staging table, then one UPDATE ... FROM.
            TRIAL_COPY.update(cursor, trials, TRIAL_UPDATE_FIELDS)
            for values, site_id in zip(
                to_create, _next_ids(cursor, Site, len(to_create)), strict=True
            ):
                values["id"] = site_id
            SITE_COPY.write(cursor, to_create)
            SITE_COPY.update(cursor, to_update, SITE_UPDATE_FIELDS)
            if removed:
                cursor.execute(
                    "UPDATE trials_site SET removed_at = %s WHERE id = ANY(%s)", [now, removed]
                )
            site_ids = {key: site_id for key, (site_id, _) in existing_sites.items()}
            site_ids.update({(v["trial_id"], v["key"]): v["id"] for v in to_create})
            cursor.execute("DELETE FROM trials_contact WHERE trial_id = ANY(%s)", [trial_ids])
            contacts: list[Row] = []
            for row, _, parsed in changed:
                contacts.extend(_contact_rows(row["id"], parsed, site_ids))
            CONTACT_COPY.write(cursor, contacts)
            VERSION_COPY.write(cursor, versions)
        return trial_ids


class _Copy:
    """COPY rows of one model: every column is written, the model's defaults filling what a row
    does not give (COPY knows nothing of Django's Python-side defaults)."""

    def __init__(
        self, model: type[Model], *, skip: Collection[str] = (), with_id: bool = True
    ) -> None:
        fields = [
            f
            for f in model._meta.concrete_fields
            if f.attname not in skip and (with_id or not f.primary_key)
        ]
        self.model = model
        self.sql = "COPY {} ({}) FROM STDIN".format(
            model._meta.db_table, ", ".join(connection.ops.quote_name(_column(f)) for f in fields)
        )
        self.names = [f.attname for f in fields]
        self.defaults = {
            f.attname: None if f.primary_key else f.get_default()
            for f in fields
            if not f.primary_key
        }
        self.json = [i for i, f in enumerate(fields) if isinstance(f, JSONField)]

    def write(self, cursor: "CursorWrapper", rows: Sequence[Mapping[str, object]]) -> None:
        if not rows:
            return
        names, defaults, json_columns = self.names, self.defaults, self.json
        # The raw psycopg cursor: wrap its errors as Django's, so that a refused batch is
        # retried record by record (Importer._flush).
        with connection.wrap_database_errors, cursor.cursor.copy(self.sql) as copy:
            for row in rows:
                values = [row[n] if n in row else defaults[n] for n in names]
                for i in json_columns:
                    values[i] = Jsonb(values[i])
                copy.write_row(values)

    def update(
        self, cursor: "CursorWrapper", rows: Sequence[Mapping[str, object]], fields: list[str]
    ) -> None:
        """UPDATE the rows' `fields` by id, through a temporary staging table."""
        if not rows:
            return
        model = self.model
        table = model._meta.db_table
        stage = f"import_stage_{table}"
        by_name = {f.name: f for f in model._meta.concrete_fields}
        selected = [by_name[name] for name in fields]
        columns = [_column(f) for f in selected]
        names = [f.attname for f in selected]
        json_columns = [i + 1 for i, f in enumerate(selected) if isinstance(f, JSONField)]
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
        cursor.execute(f"DROP TABLE IF EXISTS {stage}")
        cursor.execute(
            f"CREATE TEMP TABLE {stage} AS SELECT id, {quoted} FROM {table} WITH NO DATA"  # noqa: S608 (model names only)
        )
        defaults = {f.attname: f.get_default() for f in selected}
        with (
            connection.wrap_database_errors,
            cursor.cursor.copy(f"COPY {stage} (id, {quoted}) FROM STDIN") as copy,
        ):
            for row in rows:
                values = [row["id"], *(row[n] if n in row else defaults[n] for n in names)]
                for i in json_columns:
                    values[i] = Jsonb(values[i])
                copy.write_row(values)
        assignments = ", ".join(
            f"{connection.ops.quote_name(c)} = s.{connection.ops.quote_name(c)}" for c in columns
        )
        cursor.execute(
            f"UPDATE {table} t SET {assignments} FROM {stage} s WHERE t.id = s.id"  # noqa: S608
        )
        cursor.execute(f"DROP TABLE {stage}")


def _column(field: "Field[Any, Any]") -> str:
    assert field.column is not None  # every concrete field has one
    return field.column


TRIAL_COPY = _Copy(Trial, skip={"search_vector", "rank_vector"})
SITE_COPY = _Copy(Site)
CONTACT_COPY = _Copy(Contact, with_id=False)
VERSION_COPY = _Copy(TrialVersion, with_id=False)


def _next_ids(cursor: "CursorWrapper", model: type[Model], count: int) -> list[int]:
    if not count:
        return []
    cursor.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
        [model._meta.db_table, count],
    )
    return [row[0] for row in cursor.fetchall()]


def _site_values(trial_id: int, s: ParsedSite) -> _SiteRow:
    return {
        "trial_id": trial_id,
        "key": s.key,
        "position": s.position,
        "facility": s.facility,
        "city": s.city,
        "state": s.state,
        "postal_code": s.postal_code,
        "country": s.country,
        "country_code": s.country_code,
        "latitude": s.latitude,
        "longitude": s.longitude,
        "location_estimated": s.location_estimated,
        "status": s.status,
        "removed_at": None,
    }


def _older_than_stored(row: _Stored, parsed: ParsedStudy) -> str:
    """Why the incoming record is older than the stored one ("" when it is not): its registry
    update date (lastUpdatePostDate) first, then the data release that served it
    (versionHolder). A record lacking a date is not judged on it."""
    new_update, old_update = parsed.fields["last_update_posted"], row["last_update_posted"]
    if new_update and old_update and new_update != old_update:
        if new_update < old_update:
            return f"registry update of {new_update} is older than the stored {old_update}"
        return ""
    new_release, old_release = parsed.fields["retrieved_on"], row["retrieved_on"]
    if new_release and old_release and new_release < old_release:
        return f"registry release of {new_release} is older than the stored {old_release}"
    return ""


def _parse(label: str, record: Record | BadRecord) -> _Item | _Failed:
    """The parsed study, or why the record cannot be used."""
    if isinstance(record, BadRecord):
        return _Failed(label, record.message)
    try:
        return _Item(label, record, parse_study(record))
    except RecordError as exc:
        return _Failed(label, str(exc))
    except RecursionError:
        return _Failed(label, "record nested too deeply")


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _parsed_ahead(
    records: Iterable[tuple[str, Record | BadRecord]], depth: int = BATCH_SIZE
) -> Iterator[_Item | _Failed]:
    """Each record parsed, or why it cannot be used, read and parsed in a thread.

    Reading the zip and parsing are Python work, writing is mostly PostgreSQL's: while this
    thread waits for the database (psycopg releases the GIL), the next records are parsed, and
    the two cores work at once. The bounded queue keeps memory flat. Exceptions of the source
    (an API that gave up, a broken file) are raised here, in the caller's thread.
    """
    # None: the records are exhausted.
    items: queue.Queue[_Item | _Failed | _Raised | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for label, record in records:
                if stop.is_set():
                    return
                items.put(_parse(label, record))
        except BaseException as exc:  # handed over to the consumer, raised there
            items.put(_Raised(exc))
            return
        items.put(None)

    thread = threading.Thread(target=produce, name="import-parser", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is None:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                items.get(timeout=0.05)
        thread.join()


class _Writers:
    """Threads writing batches, each with its own database connection (Django's connections
    are per thread). An exception in a writer is raised in the caller at the next call."""

    def __init__(self, write: Callable[[dict[str, _Item]], None], count: int) -> None:
        self.write = write
        # None: no more batches, the thread ends.
        self.batches: queue.Queue[dict[str, _Item] | None] = queue.Queue(maxsize=count)
        self.error: BaseException | None = None
        self.threads = [
            threading.Thread(target=self._work, name=f"import-writer-{i}", daemon=True)
            for i in range(count)
        ]
        for thread in self.threads:
            thread.start()

    def _work(self) -> None:
        try:
            while (batch := self.batches.get()) is not None:
                try:
                    if self.error is None:
                        self.write(batch)
                except BaseException as exc:
                    self.error = exc
                finally:
                    self.batches.task_done()
            self.batches.task_done()
        finally:
            connection.close()

    def _raise(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def submit(self, batch: dict[str, _Item]) -> None:
        self._raise()
        self.batches.put(batch)

    def wait(self) -> None:
        self.batches.join()
        self._raise()

    def close(self) -> None:
        for _ in self.threads:
            self.batches.put(None)
        for thread in self.threads:
            thread.join()
        self._raise()


def _place_unlocated_sites(studies: list[ParsedStudy]) -> None:
    """Sites the registry could not geocode (~4%) get their city's centre from the gazetteer,
    so that "near me" still finds them; they are marked as estimated."""
    missing = [s for p in studies for s in p.sites if s.latitude is None and s.city]
    if not missing:
        return
    found = locate_cities({(s.city, s.country_code) for s in missing})
    for site in missing:
        point = found.get((site.city, site.country_code))
        if point:
            site.latitude, site.longitude = point
            site.location_estimated = True


def _contact_rows(
    trial_id: int, parsed: ParsedStudy, site_ids: dict[tuple[int, str], int]
) -> list[Row]:
    rows = [{**c, "trial_id": trial_id, "site_id": None} for c in parsed.central_contacts]
    for s in parsed.sites:
        site_id = site_ids[(trial_id, s.key)]
        rows.extend({**c, "trial_id": trial_id, "site_id": site_id} for c in s.contacts)
    return rows


def _parse_quietly(record: Record | None) -> ParsedStudy | None:
    """The previous version, parsed for comparison; None if it no longer parses (old rules)."""
    if not record:
        return None
    try:
        return parse_study(record)
    except RecordError:
        return None


# --- locking and the whole run ------------------------------------------------------------------


class ImportLocked(Exception):
    pass


class import_lock:
    """A PostgreSQL advisory lock held for the duration of an import."""

    def __init__(self, *, wait: bool = True) -> None:
        self.wait = wait
        self.direct: psycopg.Connection[tuple[Any, ...]] | None = None

    def _cursor(self) -> "psycopg.Cursor[tuple[Any, ...]] | CursorWrapper":
        # A session-level lock needs a real session: under PgBouncer a connection of its own.
        return self.direct.cursor() if self.direct else connection.cursor()

    def __enter__(self) -> "import_lock":
        self.direct = direct_connection()
        try:
            with self._cursor() as cursor:
                if self.wait:
                    cursor.execute("SELECT pg_advisory_lock(%s)", [IMPORT_LOCK_ID])
                else:
                    cursor.execute("SELECT pg_try_advisory_lock(%s)", [IMPORT_LOCK_ID])
                    row = cursor.fetchone()
                    assert row is not None  # a SELECT without FROM returns one row
                    if not row[0]:
                        raise ImportLocked("another import is running")
        except BaseException:
            if self.direct:
                self.direct.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.direct:
            self.direct.close()  # ends the session, and the lock with it
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [IMPORT_LOCK_ID])


def index_changed_trials(trial_ids: list[int]) -> None:
    """The search index follows the import in the same run: the changed trials, or the whole
    index rebuilt when most of it changed (a bulk load). A failure is logged; /healthz then
    reports the index behind the database until `manage.py search_index sync` catches up."""
    from trials import engine

    try:
        documents = engine.read_meta().get("documents") or 0
        if not engine.read_meta() or len(trial_ids) > max(20_000, documents // 5):
            engine.rebuild()
        else:
            engine.update(trial_ids)
    except Exception:
        log.exception("search index not updated after the import (%s trials)", len(trial_ids))


def refresh_vocabularies(trial_ids: list[int] | None = None) -> None:
    """What the search learns from the records (postal codes, "did you mean" words, other
    names of treatments): from every trial, or what these trials add."""
    from trials import other_names
    from trials.search import refresh_search_terms

    refresh_postal_codes(trial_ids)
    refresh_search_terms(trial_ids)
    other_names.refresh(trial_ids)


def after_import(stats: ImportStats) -> None:
    """Work that follows every import that created or changed trials."""
    if not (stats.created or stats.updated):
        return
    from trials.search import bump_search_generation
    from trials.signals import trials_imported

    started = time.monotonic()
    changed: list[int] | None = stats.changed_ids
    if stats.created + stats.updated > BULK_IMPORT:
        # A bulk load: fresh statistics before the first searches plan their queries, and the
        # vocabularies learned again from every trial.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE trials_trial, trials_site, trials_trialversion")
        changed = None
    # Else only what the changed trials add (the daily refresh_vocabularies recounts all).
    refresh_vocabularies(changed)
    index_changed_trials(stats.changed_ids)
    # Not before the read replica has this import: searches it answers would be cached, stale,
    # under the new generation.
    wait_for_replica()
    bump_search_generation()
    trials_imported.send(sender=Importer, stats=stats)  # alerts match them (notifications)
    log.info("after-import work took %.1f s", time.monotonic() - started)
