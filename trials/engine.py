"""The search index: Tantivy, embedded, derived from PostgreSQL (the store of record).

    engine.rebuild()                 # every trial, into a new generation, swapped in atomically
    engine.update(trial_ids)         # reindex these trials (changed, created or deleted)
    engine.search(query, ...)        # what the page, the API and the feed run (trials.search)

Why it exists: in PostgreSQL every search reads every match (a broad word matches half the
registry) to rank and count it, so a search nobody asked before took seconds at 600,000 trials.
Here the cost follows the postings read, not the rows.

Same matches as PostgreSQL, by construction: a trial's document holds the lexemes of its stored
`search_vector` (PostgreSQL's English stemming of trials.query.words()), at their positions, one
field per weight (A titles and conditions, B related terms, interventions and sponsors, C
summaries, D eligibility). A query is compiled from the `Understood` object with each phrase's
lexemes as PostgreSQL's phraseto_tsquery gives them, so that `search_vector @@ tsquery` and
this index match the same trials; the saved-search alerts (SQL, set-based) keep the page's
semantics, and a test compares totals and facet counts with plain SQL on random searches.

Where it lives: settings.SEARCH_INDEX_DIR (default .local/search-index). Inside, `current`
names the live generation (a directory `gen-<uuid>`); a rebuild writes a new generation and
swaps `current` atomically; incremental updates commit into the live one. Each reader process
checks, before every search, which generation is current and the mtime of its meta.json (two
stat calls), and reopens or reloads: no restart, no stale searcher.

Geography: every eligible site's grid cells (several sizes) are terms of the `geo` field, its
coordinates a term of the `loc` field (sites share their city's coordinates), and all of them
are stored. A circle is covered by cells: those wholly inside match at once; for the trials
with a site only in the border cells, the distinct coordinates of their sites are aggregated
and tested exactly. Nearest first takes those coordinates nearest first, one search per
distance; distances for relevance are computed only for the trials a page ranks.
"""

import datetime
import functools
import json
import logging
import math
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NotRequired, ParamSpec, TypedDict, TypeVar

import tantivy
from django.conf import settings
from django.db import connection

from config.db import session_advisory_lock

if TYPE_CHECKING:
    from trials.search import CompiledQuery

log = logging.getLogger(__name__)

FILLER = "\u2063"  # stands for a position with no lexeme (a stopword): dropped when indexed
WEIGHT_FIELDS = {"A": "wa", "B": "wb", "C": "wc", "D": "wd"}
# BM25 weight of a match in each field: titles and conditions over related terms and
# interventions over summaries over eligibility (PostgreSQL ranked with {1, 0.4, 0.2, 0.05}).
FIELD_BOOSTS = {"wa": 1.0, "wb": 0.4, "wc": 0.2, "wd": 0.05}
# Grid cell sizes in degrees, coarse to fine (the finest ~1.7 km).
GEO_LEVELS = (4.0, 1.0, 0.25, 0.0625, 0.015625)
EARTH_KM = 6371.0088
NO_AGE_LIMIT = 2**31
NOT_STATED = "-"  # a keyword field's empty value ("" is no term): counted back as ""
WRITER_HEAP = 200_000_000
LOC_BUCKETS = 65_000  # Tantivy's limit on the buckets of one aggregation
FEW_TRIALS = 50  # nearest first: coordinates holding fewer trials are measured together
# The finest cells of a circle's covering are about radius / this wide. The border is tested on
# the distinct coordinates of its trials (in the index, cheap), so coarse cells are enough;
# finer ones cost the covering (Python, once per place and process) and the query's terms.
BORDER_CELLS_PER_RADIUS = 5
LOCK_ID = 0x7F15EA2C  # PostgreSQL advisory lock: one writer of the index at a time
_TSQ_TOKEN_RE = re.compile(r"'((?:[^']|'')*)'|<(\d+|-)>|([&|!()])")
_TSV_RE = re.compile(r"'((?:[^']|'')*)'(?::([0-9A-D,]+))?")


class IndexUnavailable(Exception):
    """The index is missing, corrupt or locked: say so, never answer from a broken index."""


# --- schema and documents ------------------------------------------------------------------


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    for name in WEIGHT_FIELDS.values():
        sb.add_text_field(name, tokenizer_name="pg", index_option="position")
    sb.add_integer_field("id", indexed=True, fast=True)
    sb.add_text_field("nct", tokenizer_name="raw", index_option="basic")
    for name in ("status", "phase", "type", "sex", "healthy", "country", "mesh"):
        sb.add_text_field(name, fast=True, tokenizer_name="raw", index_option="basic")
    for name in ("min_age", "max_age"):
        sb.add_integer_field(name, indexed=True, fast=True)
    # Sort keys: the date as days, then the id (ascending among equal dates, as in SQL).
    sb.add_integer_field("updated", fast=True)
    sb.add_integer_field("changed", fast=True)
    sb.add_integer_field("confirmed", fast=True)  # sites_confirmed_at, epoch seconds (0: never)
    sb.add_text_field("geo", tokenizer_name="raw", index_option="basic")
    sb.add_text_field("sites", stored=True, tokenizer_name="raw", index_option="basic")
    # Each eligible site's coordinates as one term ("lat,lon", as PostgreSQL prints them):
    # sites share the coordinates of their city, so a circle holds few distinct ones, and
    # aggregating them answers "which trials are inside, and how near" without reading any
    # trial's stored sites.
    sb.add_text_field("loc", fast=True, tokenizer_name="raw", index_option="basic")
    return sb.build()


# Bumped when the documents change shape: an index of another format is rebuilt, never read.
INDEX_FORMAT = 2


SCHEMA = _schema()
ANALYZER = (
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace())
    .filter(tantivy.Filter.custom_stopword([FILLER]))
    .build()
)


def weighted_texts(vector: str) -> dict[str, str]:
    """A tsvector's text → one text per weight field, each lexeme at its position (relative
    to the field's first), FILLER where PostgreSQL left a stopword's position empty.
    (The hot loop of a rebuild: one pass per position, kept plain.)"""
    lists: dict[str, list[tuple[int, str]]] = {"A": [], "B": [], "C": [], "D": []}
    d = lists["D"]
    for lexeme, positions in _TSV_RE.findall(vector or ""):
        if not positions or " " in lexeme:
            continue
        if "''" in lexeme:
            lexeme = lexeme.replace("''", "'")
        for entry in positions.split(","):
            last = entry[-1]
            if last > "9":  # a weight letter; none is D
                lists[last].append((int(entry[:-1]), lexeme))
            else:
                d.append((int(entry), lexeme))
    texts = {}
    for weight, items in lists.items():
        if not items:
            continue
        items.sort()
        out = []
        previous = items[0][0]
        for pos, lexeme in items:
            if pos - previous > 1:
                out.append(_FILLERS[min(pos - previous - 1, 8)])
            out.append(lexeme)
            previous = pos
        texts[WEIGHT_FIELDS[weight]] = " ".join(out)
    return texts


_FILLERS = [" ".join([FILLER] * n) for n in range(9)]
_GRID = [(level, size, round(360 / size)) for level, size in enumerate(GEO_LEVELS)]


def geo_cells(lat: float, lon: float) -> list[str]:
    lat, lon = lat + 90, lon + 180
    return [
        f"{level}:{int(lat // size)}:{int(lon // size) % columns}" for level, size, columns in _GRID
    ]


def _days(value: datetime.date | None) -> int:
    return (value - datetime.date(1970, 1, 1)).days + 1 if value else 0


def _sort_key(days: int, trial_id: int) -> int:
    return days * 2**32 + (2**32 - 1 - trial_id)


# The eligible sites of every trial in one grouped pass (a subquery per trial let the planner
# pick the sites' partial coordinate index and read every site per trial).
# One weight's lexemes in position order, FILLER for each empty position between two (at most
# 8): what weighted_texts() computes, done by PostgreSQL while Python builds the previous
# documents (a rebuild's hot loop, in C and on the other core).
WEIGHT_TEXT_SQL = """(
  SELECT string_agg(repeat(E'\\u2063 ', x.gap) || x.lexeme, ' ' ORDER BY x.p, x.lexeme)
    FROM (SELECT u.lexeme, p,
                 least(greatest(p - lag(p) OVER (ORDER BY p, u.lexeme) - 1, 0), 8) AS gap
            FROM unnest(ts_filter(t.search_vector, '{{{weight}}}')) u, unnest(u.positions) p
           WHERE strpos(u.lexeme, ' ') = 0) x)"""
# The grid cells of each eligible site (geo_cells()), and the sites' coordinates, in one pass
# over the sites (materialised: computed once, whatever the planner thinks of the trials). The
# cell sizes are powers of two: the divisions are exact, in PostgreSQL as in Python.
GRID_VALUES = ", ".join(
    f"({level}, {size}::float8, {round(360 / size)})" for level, size in enumerate(GEO_LEVELS)
)
DOCUMENT_SQL = """
WITH g AS MATERIALIZED (
    SELECT s.trial_id,
           array_agg(DISTINCT s.latitude::text || ',' || s.longitude::text) AS sites,
           array_agg(DISTINCT l.level || ':' || floor((s.latitude + 90) / l.size)::bigint
                     || ':' || mod(floor((s.longitude + 180) / l.size)::bigint, l.cols)) AS cells
      FROM trials_site s CROSS JOIN (VALUES {grid}) l(level, size, cols)
     WHERE {site_eligible} {site_where}
     GROUP BY s.trial_id
)
SELECT t.id, t.nct_id, {wa}, {wb}, {wc}, {wd}, t.overall_status, t.phases, t.study_type, t.sex,
       coalesce(t.healthy_volunteers, FALSE), t.country_codes, t.condition_meshes,
       t.minimum_age_days, t.maximum_age_days, t.last_update_posted, t.last_changed_at,
       t.sites_confirmed_at, g.sites, g.cells
  FROM trials_trial t LEFT JOIN g ON g.trial_id = t.id
 {trial_where}
"""


def _document_sql(ids: bool = False, part: bool = False) -> str:
    """The documents of the trials `%(ids)s`, of the share `%(part)s` of `%(parts)s`, or all."""
    from trials.search import SITE_ELIGIBLE_SQL

    site_where, trial_where = "", ""
    if ids:
        site_where, trial_where = "AND s.trial_id = ANY(%(ids)s)", "WHERE t.id = ANY(%(ids)s)"
    elif part:
        site_where = "AND s.trial_id %% %(parts)s = %(part)s"
        trial_where = "WHERE t.id %% %(parts)s = %(part)s"
    return DOCUMENT_SQL.format(
        **{f"w{w.lower()}": WEIGHT_TEXT_SQL.format(weight=w.lower()) for w in "ABCD"},
        grid=GRID_VALUES,
        site_eligible=SITE_ELIGIBLE_SQL,
        site_where=site_where,
        trial_where=trial_where,
    )


# A row of DOCUMENT_SQL, as the database driver returns it.
Row = tuple[Any, ...]


def _document(row: Row) -> tantivy.Document:
    (trial_id, nct_id, wa, wb, wc, wd, status, phases, study_type, sex, healthy, countries,
     meshes, min_age, max_age, updated, changed, confirmed, sites, cells) = row  # fmt: skip
    doc = tantivy.Document()
    doc.add_integer("id", trial_id)
    doc.add_text("nct", nct_id)
    for name, text in (("wa", wa), ("wb", wb), ("wc", wc), ("wd", wd)):
        if text:
            doc.add_text(name, text)
    doc.add_text("status", status or NOT_STATED)
    for value in dict.fromkeys(phases or ()):
        doc.add_text("phase", value)
    doc.add_text("type", study_type or NOT_STATED)
    doc.add_text("sex", sex or NOT_STATED)
    doc.add_text("healthy", "true" if healthy else "false")
    for value in dict.fromkeys(countries or ()):
        doc.add_text("country", value)
    for value in dict.fromkeys(meshes or ()):
        doc.add_text("mesh", value)
    doc.add_integer("min_age", min_age if min_age is not None else 0)
    doc.add_integer("max_age", max_age if max_age is not None else NO_AGE_LIMIT)
    doc.add_integer("updated", _sort_key(_days(updated), trial_id))
    doc.add_integer("changed", _sort_key(int(changed.timestamp()) if changed else 0, trial_id))
    doc.add_integer("confirmed", int(confirmed.timestamp()) if confirmed else 0)
    for cell in cells or ():
        doc.add_text("geo", cell)
    if sites:
        doc.add_text("sites", ";".join(sites))
        for site in sites:
            doc.add_text("loc", site)
    return doc


# --- where it lives, and the readers -------------------------------------------------------


def index_root() -> Path:
    return Path(settings.SEARCH_INDEX_DIR)


def _current_dir() -> Path | None:
    try:
        name = os.readlink(index_root() / "current")
    except OSError:
        return None
    return index_root() / name


def _meta_path(path: Path) -> Path:
    return path / "trialfinder.json"


class IndexMeta(TypedDict, total=False):
    """A generation's trialfinder.json: written by rebuild(), its watermark moved by update();
    empty when there is no index (or it cannot be read)."""

    generation: str
    built_at: str
    db_watermark: str | None  # the newest last_changed_at indexed (None: no trials)
    documents: int
    build_s: float
    updated_at: str
    format: int  # INDEX_FORMAT of the documents (absent: the first format)


def read_meta(path: Path | None = None) -> IndexMeta:
    path = path or _current_dir()
    if path is None:
        return {}
    try:
        meta: IndexMeta = json.loads(_meta_path(path).read_text())
    except (OSError, ValueError):
        return {}
    return meta


def _write_meta(path: Path, meta: IndexMeta) -> None:
    tmp = _meta_path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(meta))
    os.replace(tmp, _meta_path(path))


def generation() -> str | None:
    """Which state of the index searches read: its generation and last commit. Part of every
    cached search's key, so that a reindexed trial is never answered from an older cache."""
    path = _current_dir()
    if path is None:
        return None
    try:
        return f"{path.name}:{(path / 'meta.json').stat().st_mtime_ns}"
    except OSError:
        return None


def _open(path: Path) -> tantivy.Index:
    index = tantivy.Index.open(str(path))
    index.register_tokenizer("pg", ANALYZER)
    return index


class _Reader:
    """This process's open index, reopened when another generation becomes current and
    reloaded when the live one commits (checked before every search: two stat calls)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.path: Path | None = None
        self.stamp: int | None = None  # the mtime (ns) of meta.json when last (re)loaded
        self.index: tantivy.Index | None = None

    def searcher(self) -> tantivy.Searcher:
        path = _current_dir()
        if path is None or not (path / "meta.json").exists():
            raise IndexUnavailable(f"no search index at {index_root()}")
        try:
            stamp = (path / "meta.json").stat().st_mtime_ns
        except OSError as exc:
            raise IndexUnavailable(f"search index unreadable: {exc}") from exc
        with self.lock:
            try:
                if self.index is None or path != self.path:
                    if read_meta(path).get("format", 1) != INDEX_FORMAT:
                        raise IndexUnavailable(
                            "search index of an older format: run manage.py search_index rebuild"
                        )
                    self.index = _open(path)
                    self.path, self.stamp = path, stamp
                elif stamp != self.stamp:
                    self.index.reload()
                    self.stamp = stamp
                return self.index.searcher()
            except (ValueError, OSError, RuntimeError) as exc:
                self.index = None
                raise IndexUnavailable(f"search index unreadable: {exc}") from exc

    def forget(self) -> None:
        with self.lock:
            self.index, self.path, self.stamp = None, None, None


READER = _Reader()


# --- writing -------------------------------------------------------------------------------


def _writer_lock() -> AbstractContextManager[None]:
    """One writer at a time on this database (rebuilds and updates wait for each other); a
    session of its own under PgBouncer (config/db.py)."""
    return session_advisory_lock(LOCK_ID)


def _db_watermark() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(last_changed_at) FROM trials_trial")
        value = cursor.fetchone()[0]
    return value.isoformat() if value else None


def rebuild(*, progress: Callable[[int], object] | None = None) -> IndexMeta:
    """Every trial into a new generation, then swapped in: readers never see a partial one."""
    root = index_root()
    root.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with _writer_lock():
        watermark = _db_watermark()
        path = root / f"gen-{uuid.uuid4().hex[:12]}"
        path.mkdir()
        index = tantivy.Index(SCHEMA, path=str(path))
        index.register_tokenizer("pg", ANALYZER)
        writer = index.writer(WRITER_HEAP, 2)
        count = 0
        for rows in _all_rows():
            for row in rows:
                writer.add_document(_document(row))
            count += len(rows)
            if progress and count % 10000 < len(rows):
                progress(count)
        writer.commit()
        writer.wait_merging_threads()
        meta: IndexMeta = {
            "generation": path.name,
            "built_at": datetime.datetime.now(datetime.UTC).isoformat(),
            "db_watermark": watermark,
            "documents": count,
            "build_s": round(time.monotonic() - started, 2),
            "format": INDEX_FORMAT,
        }
        _write_meta(path, meta)
        link = root / f"current-{uuid.uuid4().hex[:8]}"
        os.symlink(path.name, link)
        os.replace(link, root / "current")
        for old in root.glob("gen-*"):
            if old != path:
                shutil.rmtree(old, ignore_errors=True)
    log.info("search index rebuilt: %s trials in %.1f s", count, meta["build_s"])
    return meta


REBUILD_READERS = 2  # database connections reading documents at once (the SQL is the cost)


def _all_rows() -> Iterator[list[Row]]:
    """Every trial's document row, in batches. Outside a transaction, REBUILD_READERS
    connections each read a share (by id modulo) on threads of their own, so that PostgreSQL
    computes several at once; inside one (tests), this connection reads them all, as it alone
    sees the transaction's own writes."""
    import queue

    from django.db import close_old_connections, transaction

    def read(part: int | None) -> Iterator[list[Row]]:
        sql = _document_sql(part=part is not None)
        with transaction.atomic(), connection.chunked_cursor() as cursor:
            # A server-side cursor: 600,000 rows stream in batches.
            cursor.execute(sql, {"parts": REBUILD_READERS, "part": part})
            while rows := cursor.fetchmany(500):
                yield rows

    if connection.in_atomic_block or REBUILD_READERS < 2:
        yield from read(None)
        return
    # A batch of rows, a reader's exception, or None: that reader is done.
    out: queue.Queue[list[Row] | BaseException | None] = queue.Queue(maxsize=8)

    def worker(part: int) -> None:
        try:
            for rows in read(part):
                out.put(rows)
        except BaseException as exc:  # handed to the consumer, which raises it
            out.put(exc)
        finally:
            connection.close()
            out.put(None)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(REBUILD_READERS)]
    for thread in threads:
        thread.start()
    finished = 0
    while finished < len(threads):
        item = out.get()
        if item is None:
            finished += 1
        elif isinstance(item, BaseException):
            raise item
        else:
            yield item
    for thread in threads:
        thread.join()
    close_old_connections()


def update(trial_ids: Iterable[int]) -> int:
    """Reindex these trials from the database (a deleted one leaves the index). With no
    index yet, or one of an older format, builds it."""
    ids = sorted({int(i) for i in trial_ids})
    if not ids:
        return 0
    path = _current_dir()
    if (
        path is None
        or not (path / "meta.json").exists()
        or read_meta(path).get("format", 1) != INDEX_FORMAT
    ):
        rebuild()
        return len(ids)
    with _writer_lock():
        path = _current_dir()
        if path is None:  # removed since the check above (a rebuild in another process)
            rebuild()
            return len(ids)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT max(last_changed_at) FROM trials_trial WHERE id = ANY(%s)", [ids]
            )
            newest = cursor.fetchone()[0]
        watermark = newest.isoformat() if newest else None
        index = _open(path)
        writer = _writer(index)
        try:
            for start in range(0, len(ids), 5000):
                chunk = ids[start : start + 5000]
                for trial_id in chunk:
                    writer.delete_documents_by_term("id", trial_id)
                with connection.cursor() as cursor:
                    cursor.execute(_document_sql(ids=True), {"ids": chunk})
                    for row in cursor.fetchall():
                        writer.add_document(_document(row))
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            writer.rollback()
            raise
        meta = read_meta(path)
        meta["db_watermark"] = max(
            filter(None, [meta.get("db_watermark"), watermark]), default=None
        )
        meta["updated_at"] = datetime.datetime.now(datetime.UTC).isoformat()
        _write_meta(path, meta)
    _touched.update(ids)
    return len(ids)


def _writer(index: tantivy.Index) -> tantivy.IndexWriter:
    """The index's writer; another process holding it (a crashed writer's stale lock is
    released by the OS) is waited for a while, then reported."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return index.writer(WRITER_HEAP // 4, 1)
        except ValueError as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise IndexUnavailable(f"search index locked: {exc}") from exc
            time.sleep(0.2)


# Trials written since the last test reset (tests put the index back after a rollback).
_touched: set[int] = set()


def update_on_commit(trial_ids: Iterable[int]) -> None:
    """After the current transaction commits (immediately outside one), reindex these trials.
    A failure is logged and leaves the index behind (healthz says so), never fails the write."""
    from django.db import transaction

    ids = list(trial_ids)

    def run() -> None:
        try:
            update(ids)
        except Exception:
            log.exception("search index update failed for %s trials", len(ids))

    if settings.SEARCH_INDEX_UPDATE_IMMEDIATELY:
        run()
    else:
        transaction.on_commit(run, robust=True)


def catch_up() -> int:
    """Reindex what changed in the database since this index's watermark: how a host that
    did not run the import follows (manage.py search_index sync, on each host)."""
    meta = read_meta()
    if not meta:
        rebuild()
        return -1
    since = meta.get("db_watermark")
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT id FROM trials_trial WHERE %(since)s::timestamptz IS NULL
                                              OR last_changed_at > %(since)s::timestamptz
               UNION SELECT trial_id FROM trials_site
                      WHERE status_confirmed_at > %(since)s::timestamptz""",
            {"since": since},
        )
        ids = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT count(*) FROM trials_trial")
        db_count = cursor.fetchone()[0]
    changed = update(ids) if ids else 0
    searcher = READER.searcher()
    if searcher.num_docs != db_count:
        rebuild()  # trials deleted behind our back
    return changed


# --- state -----------------------------------------------------------------------------------


class IndexStatus(TypedDict):
    """status(): the state and where; the error when corrupt; the figures when readable."""

    state: Literal["missing", "corrupt", "behind", "ok"]
    path: str
    error: NotRequired[str]
    documents: NotRequired[int]
    db_watermark: NotRequired[str | None]
    index_watermark: NotRequired[str | None]
    built_at: NotRequired[str | None]
    mb: NotRequired[float]


def status() -> IndexStatus:
    """What /healthz and `search_index status` report: ok, missing, corrupt or behind."""
    path = _current_dir()
    if path is None:
        return {"state": "missing", "path": str(index_root())}
    meta = read_meta(path)
    try:
        searcher = READER.searcher()
        documents = searcher.num_docs
    except IndexUnavailable as exc:
        return {"state": "corrupt", "path": str(path), "error": str(exc)[:200]}
    watermark = _db_watermark()
    behind = bool(watermark and (meta.get("db_watermark") or "") < watermark)
    size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
    return {
        "state": "behind" if behind else "ok",
        "path": str(path),
        "documents": documents,
        "db_watermark": watermark,
        "index_watermark": meta.get("db_watermark"),
        "built_at": meta.get("built_at"),
        "mb": round(size / 1e6, 1),
    }


def check(sample: int = 200) -> list[str]:
    """Differences between the index and the database: counts per status, and a sample of
    trials found by their own title words and filters."""
    problems = []
    searcher = READER.searcher()
    with connection.cursor() as cursor:
        cursor.execute("SELECT overall_status, count(*) FROM trials_trial GROUP BY 1")
        db = dict(cursor.fetchall())
        cursor.execute(
            "SELECT id, nct_id, overall_status FROM trials_trial ORDER BY random() LIMIT %s",
            [sample],
        )
        rows = cursor.fetchall()
    found = searcher.aggregate(
        tantivy.Query.all_query(), {"s": {"terms": {"field": "status", "size": 1000}}}
    )
    indexed = {b["key"]: b["doc_count"] for b in found["s"]["buckets"]}
    for key in set(db) | set(indexed):
        if db.get(key, 0) != indexed.get(key, 0):
            problems.append(
                f"status {key}: {db.get(key, 0)} in the database, {indexed.get(key, 0)} indexed"
            )
    for trial_id, nct_id, overall_status in rows:
        query = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, tantivy.Query.term_query(SCHEMA, "nct", nct_id)),
                (tantivy.Occur.Must, tantivy.Query.term_query(SCHEMA, "status", overall_status)),
                (tantivy.Occur.Must, tantivy.Query.term_query(SCHEMA, "id", trial_id)),
            ]
        )
        if searcher.search(query, 1).count != 1:
            problems.append(f"{nct_id}: missing or out of date in the index")
    return problems


# --- queries -----------------------------------------------------------------------------------


def _terms(field: str, values: Iterable[str | int]) -> tantivy.Query:
    values = list(values)
    if len(values) == 1:
        return tantivy.Query.term_query(SCHEMA, field, values[0])
    return tantivy.Query.term_set_query(SCHEMA, field, values)


def parse_tsquery(text: str) -> tuple[str, list[tuple[int, str]]]:
    """A phrase's tsquery (phraseto_tsquery or plainto_tsquery) → ("phrase", [(offset,
    lexeme)]) or ("and", [(0, lexeme), ...])."""
    lexemes, ops = [], []
    for lexeme, distance, op in _TSQ_TOKEN_RE.findall(text or ""):
        if lexeme:
            lexemes.append(lexeme.replace("''", "'"))
        elif distance:
            ops.append(1 if distance == "-" else int(distance))
        elif op:
            ops.append(op)
    if ops and all(isinstance(o, int) for o in ops) and len(ops) == len(lexemes) - 1:
        offsets = [0]
        for distance in ops:
            offsets.append(offsets[-1] + distance)
        return "phrase", list(zip(offsets, lexemes, strict=True))
    return "and", [(0, lexeme) for lexeme in lexemes]


def _phrase_query(field: str, kind: str, lexemes: list[tuple[int, str]]) -> tantivy.Query:
    if len(lexemes) == 1:
        return tantivy.Query.term_query(SCHEMA, field, lexemes[0][1])
    if kind == "phrase":
        return tantivy.Query.phrase_query(SCHEMA, field, lexemes)
    return tantivy.Query.boolean_query(
        [(tantivy.Occur.Must, tantivy.Query.term_query(SCHEMA, field, lex)) for _, lex in lexemes]
    )


def _clause_query(
    weights: str, phrases: list[tuple[str, float]], *, scored: bool
) -> tantivy.Query | None:
    """Any of the phrases in any of the fields of these weights ("" = all)."""
    fields = [WEIGHT_FIELDS[w] for w in (weights or "ABCD")]
    alternatives = []
    for tsquery, boost in phrases:
        kind, lexemes = parse_tsquery(tsquery)
        if not lexemes:
            continue
        if kind == "and" and len(lexemes) > 1 and len(fields) > 1:
            # plainto_tsquery restricted to weights: each word in any of the fields.
            query = tantivy.Query.boolean_query(
                [
                    (
                        tantivy.Occur.Must,
                        tantivy.Query.boolean_query(
                            [
                                (
                                    tantivy.Occur.Should,
                                    _boosted(
                                        tantivy.Query.term_query(SCHEMA, f, lex),
                                        FIELD_BOOSTS[f] * boost,
                                        scored,
                                    ),
                                )
                                for f in fields
                            ]
                        ),
                    )
                    for _, lex in lexemes
                ]
            )
            alternatives.append(query)
            continue
        per_field = [
            _boosted(_phrase_query(f, kind, lexemes), FIELD_BOOSTS[f] * boost, scored)
            for f in fields
        ]
        alternatives.append(
            per_field[0]
            if len(per_field) == 1
            else tantivy.Query.disjunction_max_query(per_field, tie_breaker=0.3)
        )
    if not alternatives:
        return None
    if len(alternatives) == 1:
        return alternatives[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in alternatives])


def _boosted(query: tantivy.Query, boost: float, scored: bool) -> tantivy.Query:
    if not scored:
        return query
    return tantivy.Query.boost_query(query, boost) if boost != 1.0 else query


@dataclass
class Filters:
    """What trials.search passes down: the page's filters, already validated."""

    statuses: tuple[str, ...] = ()
    phases: tuple[str, ...] = ()
    study_types: tuple[str, ...] = ()
    sex: str = ""
    healthy_volunteers: bool = False
    countries: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    age_days: int | None = None
    point: tuple[float, float] | None = None  # (lat, lon)
    radius_km: float | None = None


def text_query(compiled: "CompiledQuery | None") -> tantivy.Query | None:
    """The match of a compiled query (trials.search.CompiledQuery): the Understood clauses,
    each with its phrases' lexemes, its fields (as weights) and boosts; the trials named by
    NCT id match too. Scored: BM25 per field, weighted by FIELD_BOOSTS and phrase boosts."""
    if compiled is None:
        return None
    must, must_not, should = [], [], []
    for clause, weights, phrases in compiled.clause_phrases:
        query = _clause_query(weights, phrases, scored=not clause.negated)
        if query is None:
            continue
        if clause.negated:
            must_not.append(query)
        elif clause.optional:
            should.append(query)
        else:
            must.append(query)
    words = None
    if must or must_not:
        parts = [(tantivy.Occur.Must, q) for q in must]
        if not must:
            parts.append(
                (
                    tantivy.Occur.Must,
                    tantivy.Query.const_score_query(tantivy.Query.all_query(), 0.0),
                )
            )
        parts += [(tantivy.Occur.MustNot, q) for q in must_not]
        parts += [(tantivy.Occur.Should, q) for q in should]
        words = tantivy.Query.boolean_query(parts)
    if compiled.nct_ids:
        named = tantivy.Query.const_score_query(_terms("nct", compiled.nct_ids), 1000.0)
        if words is None:
            return named
        return tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, words), (tantivy.Occur.Should, named)]
        )
    return words


def _filter_queries(f: Filters, skip: str = "") -> list[tantivy.Query]:
    queries = []
    if f.statuses and skip != "statuses":
        queries.append(_terms("status", f.statuses))
    if f.phases and skip != "phases":
        queries.append(_terms("phase", f.phases))
    if f.study_types and skip != "study_types":
        queries.append(_terms("type", f.study_types))
    if f.sex and skip != "sex":
        # A record that states no sex restricts nobody we know of (trials.search.FILTER_TEMPLATES).
        queries.append(_terms("sex", ["ALL", NOT_STATED, f.sex]))
    if f.healthy_volunteers and skip != "healthy_volunteers":
        queries.append(_terms("healthy", ["true"]))
    if f.countries and skip != "countries":
        queries.append(_terms("country", f.countries))
    if f.conditions and skip != "conditions":
        queries.append(_terms("mesh", f.conditions))
    if f.age_days is not None and skip != "age_days":
        integer = tantivy.FieldType.Integer
        queries.append(
            tantivy.Query.range_query(SCHEMA, "min_age", integer, upper_bound=f.age_days)
        )
        queries.append(
            tantivy.Query.range_query(SCHEMA, "max_age", integer, lower_bound=f.age_days)
        )
    return queries


def _combine(match: tantivy.Query | None, filters: list[tantivy.Query]) -> tantivy.Query:
    parts = [(tantivy.Occur.Must, match)] if match is not None else []
    parts += [(tantivy.Occur.Must, tantivy.Query.const_score_query(q, 0.0)) for q in filters]
    if not parts:
        return tantivy.Query.all_query()
    if len(parts) == 1 and match is not None:
        return match
    return tantivy.Query.boolean_query(parts)


# --- geography -------------------------------------------------------------------------------


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine, as trials.search.DISTANCE_SQL computes it."""
    a = (
        math.sin(math.radians(lat2 - lat1) / 2) ** 2
        + math.cos(math.radians(lat1)) * math.cos(math.radians(lat2))
        * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )  # fmt: skip
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


def nearest_km(lat0: float, lon0: float, sites: list[tuple[float, float]]) -> float | None:
    """The distance to the nearest of `sites` (None without sites), as distance_km would find
    it: the haversine term is monotonic in the distance, so the minimum is taken on it and the
    arc computed once (ranking a page's 1,000 candidates measures thousands of sites)."""
    if not sites:
        return None
    rlat0, rlon0 = math.radians(lat0), math.radians(lon0)
    cos0 = math.cos(rlat0)
    sin, cos, radians = math.sin, math.cos, math.radians
    best = min(
        sin((radians(lat) - rlat0) / 2) ** 2
        + cos0 * cos(radians(lat)) * sin((radians(lon) - rlon0) / 2) ** 2
        for lat, lon in sites
    )
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(best)))


def _in_sql_circle(lat0: float, lon0: float, radius: float, lat: float, lon: float) -> bool:
    """trials.search.NEAR_SITES_WHERE for one site: the bounding box, then the distance."""
    if not (lat0 - radius / 111.0 <= lat <= lat0 + radius / 111.0):
        return False
    if abs(lat0) <= 80:
        span = radius / (111.32 * max(math.cos(math.radians(lat0)), 0.01))
        dlon = abs(lon - lon0)
        if not (dlon <= span or dlon >= 360 - span):
            return False
    return distance_km(lat0, lon0, lat, lon) <= radius


def _cell_bounds(level: int, i: int, j: int) -> tuple[float, float, float, float]:
    size = GEO_LEVELS[level]
    return i * size - 90, (i + 1) * size - 90, j * size - 180, (j + 1) * size - 180


def _cell_distances(
    lat0: float, lon0: float, bounds: tuple[float, float, float, float]
) -> tuple[float, float]:
    lat_lo, lat_hi, lon_lo, lon_hi = bounds
    corners = [(a, b) for a in (lat_lo, lat_hi) for b in (lon_lo, lon_hi)]
    far = max(distance_km(lat0, lon0, a, b) for a, b in corners)
    lat = min(max(lat0, lat_lo), lat_hi)
    to_lo = min((lon_lo - lon0) % 360, (lon0 - lon_lo) % 360)
    to_hi = min((lon_hi - lon0) % 360, (lon0 - lon_hi) % 360)
    inside = (lon0 - lon_lo) % 360 <= (lon_hi - lon_lo)
    lon = lon0 if inside else (lon_lo if to_lo <= to_hi else lon_hi)
    near = distance_km(lat0, lon0, lat, lon)
    # A lat/lon rectangle's nearest point may sit a little off the clamped one: be generous.
    return max(0.0, near * 0.98 - 0.5), far


def covering(lat0: float, lon0: float, radius: float) -> tuple[list[str], list[str]]:
    """Cells wholly inside the circle (and inside the SQL bounding box), and border cells.
    Kept per process: it depends on the place only, never on the data, and patients search
    near the same few hundred places."""
    return _covering(round(lat0, 5), round(lon0, 5), float(radius))


@functools.lru_cache(maxsize=512)
def _covering(lat0: float, lon0: float, radius: float) -> tuple[list[str], list[str]]:
    inner, border = [], []
    dlat = radius / 111.0
    span = 180.0 if abs(lat0) > 80 else radius / (111.32 * max(math.cos(math.radians(lat0)), 0.01))
    span = min(span, 180.0)
    finest = len(GEO_LEVELS) - 1
    for level, size in enumerate(GEO_LEVELS):
        if size * 111.0 <= radius / BORDER_CELLS_PER_RADIUS:
            finest = level
            break
    size = GEO_LEVELS[0]
    n_lon = round(360 / size)
    i_lo = max(0, math.floor((lat0 - dlat + 90) / size))
    i_hi = min(round(180 / size) - 1, math.floor((lat0 + dlat + 90) / size))
    js: list[int]
    if span >= 180:
        js = list(range(n_lon))
    else:
        j_lo = math.floor((lon0 - span + 180) / size)
        j_hi = math.floor((lon0 + span + 180) / size)
        js = sorted({j % n_lon for j in range(j_lo, j_hi + 1)})
    stack = [(0, i, j) for i in range(i_lo, i_hi + 1) for j in js]
    while stack:
        level, i, j = stack.pop()
        bounds = _cell_bounds(level, i, j)
        near, far = _cell_distances(lat0, lon0, bounds)
        if near > radius + 0.5:
            continue
        in_box = (
            bounds[0] >= lat0 - dlat
            and bounds[1] <= lat0 + dlat
            and (span >= 180 or (abs(lat0) > 80) or _lon_inside(bounds, lon0, span))
        )
        if far <= radius * 0.999 - 0.05 and in_box:
            inner.append(f"{level}:{i}:{j}")
        elif level >= finest:
            border.append(f"{level}:{i}:{j}")
        else:
            k = round(GEO_LEVELS[level] / GEO_LEVELS[level + 1])
            n_next = round(360 / GEO_LEVELS[level + 1])
            stack.extend(
                (level + 1, i * k + a, (j * k + b) % n_next) for a in range(k) for b in range(k)
            )
    return inner, border


def _lon_inside(bounds: tuple[float, float, float, float], lon0: float, span: float) -> bool:
    lo = (bounds[2] - lon0 + 540) % 360 - 180
    hi = lo + (bounds[3] - bounds[2])
    return -span <= lo and hi <= span


def _sites(
    searcher: tantivy.Searcher, addresses: Sequence[tantivy.DocAddress]
) -> list[list[tuple[float, float]]]:
    out = []
    for address in addresses:
        stored = searcher.doc(address).get_first("sites") or ""
        pairs = (site.split(",") for site in stored.split(";") if site)
        out.append([(float(lat), float(lon)) for lat, lon in pairs])
    return out


def _locs_near(
    searcher: tantivy.Searcher, query: tantivy.Query, lat0: float, lon0: float, radius: float
) -> list[tuple[float, str, int]] | None:
    """The distinct site coordinates of the trials `query` matches that lie within `radius`
    km (haversine), nearest first: (distance, "lat,lon", how many of the trials have a site
    there). None when the trials have more distinct sites than one aggregation may count
    (then the stored sites are read instead)."""
    agg = {"loc": {"terms": {"field": "loc", "size": LOC_BUCKETS, "segment_size": LOC_BUCKETS}}}
    try:
        result = searcher.aggregate(query, agg)["loc"]
    except ValueError as exc:  # Tantivy's bucket limit
        log.info("site coordinates not aggregated (%s): reading stored sites", exc)
        return None
    buckets = result["buckets"]
    if result.get("sum_other_doc_count") or len(buckets) >= LOC_BUCKETS:
        return None  # some coordinates left out: never answer from part of them
    found = []
    for bucket in buckets:
        distance = distance_km(lat0, lon0, *_point(bucket["key"]))
        if distance <= radius:
            found.append((distance, bucket["key"], bucket["doc_count"]))
    found.sort()
    return found


def _near_query(searcher: tantivy.Searcher, base: tantivy.Query, f: Filters) -> tantivy.Query:
    """Trials with an eligible site within the radius: the inner cells, plus the trials of the
    border cells with a site that passes the exact test (the same bounding box and distance
    as the SQL), found by the distinct coordinates of their sites: of every trial in the
    border cells (no pass over the search's words, and the same for each pass of a search),
    or, when those are too many to count, of the search's own trials there."""
    assert f.point is not None and f.radius_km is not None  # only called for a "near" search
    lat0, lon0, radius = f.point[0], f.point[1], f.radius_km
    inner, border = covering(lat0, lon0, radius)
    inner_q = _terms("geo", inner) if inner else None
    passing = None
    if border:
        parts = [(tantivy.Occur.Must, _terms("geo", border))]
        if inner_q is not None:
            parts.append((tantivy.Occur.MustNot, inner_q))
        locs = _locs_near(searcher, tantivy.Query.boolean_query(parts), lat0, lon0, radius)
        candidates = tantivy.Query.boolean_query([(tantivy.Occur.Must, base), *parts])
        if locs is None:
            locs = _locs_near(searcher, candidates, lat0, lon0, radius)
        if locs is not None:
            inside = [
                key for _d, key, _n in locs if _in_sql_circle(lat0, lon0, radius, *_point(key))
            ]
            passing = _terms("loc", inside) if inside else None
        else:
            passing = _passing_by_stored_sites(searcher, candidates, f)
    alternatives = [q for q in (inner_q, passing) if q is not None]
    if not alternatives:
        return tantivy.Query.empty_query()
    if len(alternatives) == 1:
        return alternatives[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in alternatives])


def _point(key: str) -> tuple[float, float]:
    lat, _, lon = key.partition(",")
    return float(lat), float(lon)


def _passing_by_stored_sites(
    searcher: tantivy.Searcher, candidates: tantivy.Query, f: Filters
) -> tantivy.Query | None:
    """The candidates with a site inside the circle, tested on each one's stored sites."""
    assert f.point is not None and f.radius_km is not None
    lat0, lon0 = f.point
    found = searcher.search(candidates, 1, count=True)
    if not found.count:
        return None
    hits = searcher.search(candidates, found.count, count=False).hits
    addresses = [a for _, a in hits]
    ids = searcher.fast_field_values("id", addresses)
    passing = [
        trial_id
        for trial_id, sites in zip(ids, _sites(searcher, addresses), strict=True)
        if any(_in_sql_circle(lat0, lon0, f.radius_km, a, b) for a, b in sites)
    ]
    return _terms("id", passing) if passing else None


# --- running a search's passes at once ---------------------------------------------------------

# Tantivy releases the GIL while it searches: the passes of one search over its matches (the
# total, each facet whose own filter is set, the ranking) run at once on every core. Worker
# threads never wait on each other (nothing run here submits more work), so a small pool
# cannot deadlock; under load the passes simply queue.
T = TypeVar("T")
_POOL: list[ThreadPoolExecutor] = []
_POOL_LOCK = threading.Lock()
PARALLEL_PASSES = 4


def _pool() -> ThreadPoolExecutor:
    with _POOL_LOCK:  # created in the process that searches (after gunicorn forked it)
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(PARALLEL_PASSES, thread_name_prefix="search"))
        return _POOL[0]


def in_background(call: Callable[[], T]) -> "Future[T]":
    """Start one pass of a search; its result() waits for it (and raises what it raised)."""
    return _pool().submit(call)


def _at_once(calls: list[Callable[[], T]]) -> list[T]:
    """These passes' results, in order: all but the first in the pool, the first here."""
    futures = [in_background(call) for call in calls[1:]]
    first = [calls[0]()] if calls else []
    return first + [future.result() for future in futures]


# --- searching ---------------------------------------------------------------------------------

TOTAL = "_total"  # the aggregation that counts every match (no facet has this name)
FACET_FIELDS = {
    # facet → (index field, its own filter in Filters, how many values to show)
    "status": ("status", "statuses", 50),
    "phase": ("phase", "phases", 50),
    "type": ("type", "study_types", 50),
    "sex": ("sex", "sex", 50),
    "healthy": ("healthy", "healthy_volunteers", 50),
    "country": ("country", "countries", 40),
    "condition": ("mesh", "conditions", 15),
}


class FacetCounts(TypedDict):
    """Search.count_and_facets(): the total, and per facet its (value, count) pairs, most
    frequent first ("" for a record that states none). Cached as is (trials.search)."""

    count: int
    facets: dict[str, list[tuple[str, int]]]


P = ParamSpec("P")
R = TypeVar("R")


def _guard(fn: Callable[P, R]) -> Callable[P, R]:
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except IndexUnavailable:
            raise
        except (ValueError, OSError, RuntimeError) as exc:
            READER.forget()
            raise IndexUnavailable(f"search index failed: {exc}") from exc

    return wrapper


class Search:
    """One search against the current index: the match with every filter, built once."""

    def __init__(self, compiled: "CompiledQuery | None", filters: Filters) -> None:
        self.searcher = READER.searcher()
        self.compiled = compiled
        self.filters = filters
        self.match = text_query(compiled)
        self._lock = threading.Lock()  # passes run at once (_at_once) share the near filter
        self._near: tantivy.Query | None = None

    def query(self, skip: str = "") -> tantivy.Query:
        base = _combine(self.match, _filter_queries(self.filters, skip))
        if self.filters.point and self.filters.radius_km:
            if skip:
                near = _near_query(self.searcher, base, self.filters)
            else:
                with self._lock:  # computed once, whichever pass asks first
                    if self._near is None:
                        self._near = _near_query(self.searcher, base, self.filters)
                    near = self._near
            return tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Must, base),
                    (tantivy.Occur.Must, tantivy.Query.const_score_query(near, 0.0)),
                ]
            )
        return base

    @_guard
    def count_and_facets(self, with_facets: bool) -> FacetCounts:
        """The total and, per facet, each value's count with every *other* filter applied:
        exact (every segment, every term), as the SQL GROUP BY counted them."""
        query = self.query()
        counts: FacetCounts = {"count": 0, "facets": {}}
        if not with_facets:
            counts["count"] = self.searcher.search(query, 1, count=True).count
            return counts
        together, separate = {}, []
        for name, (field, own, _limit) in FACET_FIELDS.items():
            if getattr(self.filters, own):
                separate.append(name)
            else:
                together[name] = {"terms": {"field": field, "size": 100000, "segment_size": 100000}}

        def facet(name: str) -> Callable[[], dict[str, Any]]:
            field, own, _limit = FACET_FIELDS[name]
            agg = {name: {"terms": {"field": field, "size": 100000, "segment_size": 100000}}}
            return lambda: self.searcher.aggregate(self.query(skip=own), agg)

        # The total in the same pass as the facets without a filter of their own: every
        # document has exactly one id (a facet's counts may not add up to it: multi-valued).
        passes: list[Callable[[], Any]] = [
            lambda: self.searcher.aggregate(
                query, {**together, TOTAL: {"value_count": {"field": "id"}}}
            ),
            *(facet(name) for name in separate),
        ]
        raw: dict[str, Any] = {}
        for part in _at_once(passes):
            raw.update(part)
        counts["count"] = round(raw.pop(TOTAL)["value"])
        for name, (_field, _own, limit) in FACET_FIELDS.items():
            buckets = raw.get(name, {}).get("buckets", [])
            values = sorted(
                (("" if b["key"] == NOT_STATED else b["key"], b["doc_count"]) for b in buckets),
                key=lambda v: (-v[1], v[0]),
            )
            counts["facets"][name] = values[:limit]
        return counts

    @_guard
    def ranked(
        self, sort: str, limit: int, offset: int, fresh_since: float
    ) -> list[tuple[int, float]]:
        """(trial id, rank) of the page [offset, offset + limit), best first."""
        query = self.query()
        if sort in ("updated", "changed") or (sort == "relevance" and self.match is None):
            field = "changed" if sort == "changed" else "updated"
            hits = self.searcher.search(
                query,
                limit,
                count=False,
                order_by_field=field,
                offset=offset,
                order=tantivy.Order.Desc,
            ).hits
            ids = self.searcher.fast_field_values("id", [a for _, a in hits])
            return [(trial_id, 0.0) for trial_id in ids]
        if sort == "distance":
            return self._by_distance(query, limit, offset)
        return self._by_relevance(query, limit, offset, fresh_since)

    def _by_relevance(
        self, query: tantivy.Query, limit: int, offset: int, fresh_since: float
    ) -> list[tuple[int, float]]:
        # Freshness (x0.8 unless a site confirmed recruiting lately) and distance are applied
        # to the best candidates by BM25: enough of them that the page's order holds.
        depth = max(offset + limit, 1000) if offset + limit <= 1000 else (offset + limit) * 2
        hits = self.searcher.search(query, depth, count=False).hits
        if not hits:
            return []
        addresses = [a for _, a in hits]
        ids = self.searcher.fast_field_values("id", addresses)
        updated = self.searcher.fast_field_values("updated", addresses)
        confirmed = self.searcher.fast_field_values("confirmed", addresses)
        named = self._named()
        point = self.filters.point
        sites = _sites(self.searcher, addresses) if point else None
        rows = []
        for n, (score, _a) in enumerate(hits):
            trial_id = ids[n]
            if trial_id in named:
                rank = 1000.0 + score
            else:
                rank = score * (1.0 if (confirmed[n] or 0) >= fresh_since else 0.8)
            if point and sites is not None:
                nearest = nearest_km(point[0], point[1], sites[n])
                if nearest is None:
                    nearest = 20000
                rank = rank / (1 + nearest / 50.0)
            rows.append((rank, updated[n], trial_id))
        rows.sort(key=lambda r: (-r[0], -r[1]))
        return [(trial_id, rank) for rank, _u, trial_id in rows[offset : offset + limit]]

    def _named(self) -> set[int]:
        if not (self.compiled and self.compiled.nct_ids):
            return set()
        hits = self.searcher.search(_terms("nct", self.compiled.nct_ids), 50, count=False).hits
        return set(self.searcher.fast_field_values("id", [a for _, a in hits]))

    def _by_distance(
        self, query: tantivy.Query, limit: int, offset: int
    ) -> list[tuple[int, float]]:
        """Nearest first: the circle grows until it holds the page, then exact distances for
        the trials inside it only."""
        assert self.filters.point is not None  # the distance sort needs a place
        lat0, lon0 = self.filters.point
        need = offset + limit
        total = self.searcher.search(query, 1, count=True).count
        ceiling = self.filters.radius_km or 20040.0
        for step in (10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 20040):
            radius = min(float(step), ceiling)
            f = Filters(point=(lat0, lon0), radius_km=radius)
            inside = tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Must, query),
                    (tantivy.Occur.Must, _near_query(self.searcher, query, f)),
                ]
            )
            found = self.searcher.search(inside, 1, count=True).count
            if found >= need or radius >= ceiling or found >= total:
                break
        ordered: list[int] = []
        if found:
            by_locs = self._nearest_first(inside, radius, need)
            if by_locs is None:
                by_locs = self._nearest_by_stored_sites(inside, found)
            ordered = by_locs
        if len(ordered) < need and not self.filters.radius_km:
            # Trials with no eligible site at all come last (NULLS LAST), newest first.
            seen = set(ordered)
            rest = self.searcher.search(
                query, need + len(seen), count=False, order_by_field="updated"
            ).hits
            extra = self.searcher.fast_field_values("id", [a for _, a in rest])
            ordered += [i for i in extra if i not in seen]
        return [(trial_id, 0.0) for trial_id in ordered[offset : offset + limit]]

    def _nearest_first(self, inside: tantivy.Query, radius: float, need: int) -> list[int] | None:
        """The first `need` trials of `inside`, nearest first, newest first among equals, by
        the distinct coordinates of their sites taken nearest first: a trial is as far as the
        first coordinates it has a site at. Sites share their city's coordinates, so one
        search per distance is enough, each asking only for the trials still missing, and no
        stored site is read; runs of coordinates with few trials are taken together and
        measured on their stored sites. None when the coordinates cannot be aggregated."""
        assert self.filters.point is not None
        lat0, lon0 = self.filters.point
        locs = _locs_near(self.searcher, inside, lat0, lon0, radius)
        if locs is None:
            return None
        ordered: list[int] = []
        i = 0
        while i < len(locs) and len(ordered) < need:
            j, trials = i + 1, locs[i][2]
            while j < len(locs) and (
                locs[j][0] == locs[j - 1][0] or trials + locs[j][2] <= FEW_TRIALS
            ):
                trials += locs[j][2]
                j += 1
            run, i = locs[i:j], j
            parts = [
                (tantivy.Occur.Must, inside),
                (tantivy.Occur.Must, _terms("loc", [key for _d, key, _n in run])),
            ]
            if ordered:
                parts.append((tantivy.Occur.MustNot, _terms("id", ordered)))
            matching = tantivy.Query.boolean_query(parts)
            if run[0][0] == run[-1][0]:  # one distance: the newest first, only those missing
                hits = self.searcher.search(
                    matching, need - len(ordered), count=False, order_by_field="updated"
                ).hits
                ordered += self.searcher.fast_field_values("id", [a for _, a in hits])
            else:
                ordered += self._nearest_by_stored_sites(matching, trials)
        return ordered

    def _nearest_by_stored_sites(self, inside: tantivy.Query, found: int) -> list[int]:
        """The trials of `inside` (at most `found`), nearest first, measured on their stored
        sites."""
        assert self.filters.point is not None
        lat0, lon0 = self.filters.point
        hits = self.searcher.search(inside, max(found, 1), count=False).hits
        addresses = [a for _, a in hits]
        ids = self.searcher.fast_field_values("id", addresses)
        updated = self.searcher.fast_field_values("updated", addresses)
        rows = []
        for n, sites in enumerate(_sites(self.searcher, addresses)):
            rows.append((nearest_km(lat0, lon0, sites), updated[n], ids[n]))
        rows.sort(key=lambda r: (r[0] is None, r[0] or 0, -r[1]))
        return [trial_id for _d, _u, trial_id in rows]
