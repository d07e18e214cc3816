"""Where study records come from: a study JSON file, a folder of them, a page response
(`{"studies": [...]}`), the registry's bulk zip, or the live API v2.

Every source is a generator of (label, record) pairs read one at a time, so memory stays flat
whatever the size of the input (the full bulk zip holds ~550,000 studies). A record that cannot
be read comes out as a BadRecord in the same stream: the importer counts it as failed and goes
on with the next one.
"""

import io
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ijson

log = logging.getLogger(__name__)


class SourceError(Exception):
    """The source as a whole cannot be read (missing path, empty file, not a zip...)."""


@dataclass
class BadRecord:
    message: str


Record = dict | BadRecord


def iter_source(path: str | Path) -> Iterator[tuple[str, Record]]:
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path}: no such file or directory")
    if path.is_dir():
        yield from _iter_folder(path)
    elif path.suffix.lower() == ".zip":
        yield from _iter_zip(path)
    else:
        if path.stat().st_size == 0:
            raise SourceError(f"{path}: empty file")
        with path.open("rb") as fh:
            yield from _iter_json_stream(fh, str(path))


def count_source(path: str | Path) -> int | None:
    """Number of files a source holds when it is cheap to know (for the progress ETA)."""
    path = Path(path)
    try:
        if path.is_dir():
            return sum(1 for _ in _folder_files(path))
        if path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as archive:
                return sum(1 for info in archive.infolist() if _is_json_member(info))
    except (OSError, zipfile.BadZipFile):
        return None
    return None


def _folder_files(folder: Path):
    return sorted(p for p in folder.rglob("*.json") if p.is_file())


def _iter_folder(folder: Path) -> Iterator[tuple[str, Record]]:
    files = _folder_files(folder)
    if not files:
        raise SourceError(f"{folder}: no .json files in this folder")
    for file in files:
        if file.stat().st_size == 0:
            yield str(file), BadRecord("empty file")
            continue
        with file.open("rb") as fh:
            yield from _iter_json_stream(fh, str(file))


def _is_json_member(info: zipfile.ZipInfo) -> bool:
    return not info.is_dir() and info.filename.lower().endswith(".json")


def _iter_zip(path: Path) -> Iterator[tuple[str, Record]]:
    if path.stat().st_size == 0:
        raise SourceError(f"{path}: empty file")
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise SourceError(f"{path}: not a zip file") from None
    with archive:
        members = [info for info in archive.infolist() if _is_json_member(info)]
        if not members:
            raise SourceError(f"{path}: the zip holds no .json files")
        for info in members:
            label = f"{path.name}:{info.filename}"
            try:
                with archive.open(info) as fh:
                    yield from _iter_json_stream(fh, label)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                yield label, BadRecord(f"cannot read this zip member: {exc}")


def _iter_json_stream(fh, label: str) -> Iterator[tuple[str, Record]]:
    """One study object, a page {"studies": [...]}, or a list of studies."""
    stream = fh if hasattr(fh, "peek") else io.BufferedReader(fh)
    head = stream.peek(4096)[:4096].lstrip()
    if not head:
        yield label, BadRecord("empty file")
        return
    if head[:1] == b"[":
        yield from _iter_items(stream, label, "item")
        return
    if head[:1] != b"{":
        yield label, BadRecord("not JSON (expected an object or a list)")
        return
    kind = _top_level_kind(stream.peek(65536))
    if kind == "page":
        yield from _iter_items(stream, label, "studies.item")
    else:
        try:
            yield label, json.load(stream)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            yield label, BadRecord(f"invalid JSON ({exc.__class__.__name__}: {exc})")


def _top_level_kind(prefix: bytes) -> str:
    """ "page" when the first top-level key of the object is a page's key, else "study"."""
    try:
        for depth_prefix, event, value in ijson.parse(io.BytesIO(prefix)):
            if depth_prefix == "" and event == "map_key":
                return "page" if value in ("studies", "nextPageToken", "totalCount") else "study"
    except ijson.JSONError:
        pass  # truncated prefix: decided by the keys seen so far, default study
    except ijson.IncompleteJSONError:
        pass
    return "study"


def _iter_items(stream, label: str, prefix: str) -> Iterator[tuple[str, Record]]:
    index = 0
    try:
        for index, item in enumerate(ijson.items(stream, prefix, use_float=True)):
            yield f"{label}[{index}]", item
    except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError) as exc:
        # Everything before the break was yielded (and kept); the broken rest is one failure.
        yield f"{label}[{index + 1}...]", BadRecord(f"invalid JSON, the rest is unreadable: {exc}")


# --- the live API --------------------------------------------------------------------------


class ApiError(SourceError):
    pass


def iter_api(
    base_url: str,
    params: dict[str, str],
    *,
    max_records: int | None = None,
    page_size: int = 1000,
    retries: int = 5,
    timeout: float = 60,
    pause: float = 1.3,
    sleep=None,
) -> Iterator[tuple[str, Record]]:
    """Page through GET /studies with pageToken, politely (sequential pages, backoff on 429/5xx).

    The registry allows about 50 requests a minute per IP: `pause` keeps us under it.
    """
    sleep = sleep or time.sleep
    query = {**params, "pageSize": str(min(page_size, max_records or page_size, 1000))}
    query.setdefault("format", "json")
    token = None
    seen = 0
    page = 0
    while True:
        if token:
            query["pageToken"] = token
        url = f"{base_url.rstrip('/')}/studies?{urllib.parse.urlencode(query)}"
        body = _get_json(url, retries=retries, timeout=timeout, sleep=sleep)
        studies = body.get("studies")
        if not isinstance(studies, list):
            raise ApiError(f"{url}: the answer has no studies list")
        page += 1
        for index, study in enumerate(studies):
            yield f"api page {page}[{index}]", study
            seen += 1
            if max_records and seen >= max_records:
                return
        token = body.get("nextPageToken")
        if not token:
            return
        sleep(pause)


def _get_json(url: str, *, retries: int, timeout: float, sleep) -> dict:
    delay = 2.0
    for attempt in range(retries + 1):
        try:
            request = urllib.request.Request(  # noqa: S310 (https URL from settings)
                url, headers={"Accept": "application/json", "User-Agent": "TrialFinder importer"}
            )
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return json.load(response)
        except urllib.error.HTTPError as exc:
            if exc.code not in (429, 500, 502, 503, 504) or attempt == retries:
                raise ApiError(f"{url}: HTTP {exc.code}") from None
            retry_after = exc.headers.get("Retry-After", "")
            wait = float(retry_after) if retry_after.isdigit() else delay
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            if attempt == retries:
                raise ApiError(f"{url}: {exc}") from None
            wait = delay
        except json.JSONDecodeError as exc:
            raise ApiError(f"{url}: invalid JSON: {exc}") from None
        log.warning("ClinicalTrials.gov API unavailable, retrying in %.0f s", wait)
        sleep(wait)
        delay = min(delay * 2, 120)
    raise ApiError(f"{url}: gave up")  # pragma: no cover
