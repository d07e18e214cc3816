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
import re
import struct
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
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
            return _zip_entry_count(path)
    except (OSError, zipfile.BadZipFile):
        return None
    return None


def _zip_entry_count(path: Path) -> int | None:
    """Members of a zip from its end record (directories included: an ETA, not a count), without
    loading the central directory."""
    with path.open("rb") as fh:
        # Private but stable since Python 2; reads the last ~64 KB only.
        end = zipfile._EndRecData(fh)  # type: ignore[attr-defined]
    return end[zipfile._ECD_ENTRIES_TOTAL] if end else None  # type: ignore[attr-defined]


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
    for label, data in iter_zip_members(path):
        if isinstance(data, BadRecord):
            yield label, data
        elif (first := _FIRST_KEY_RE.match(data)) and first[1] not in _PAGE_KEYS:
            # The bulk zip's members are single studies: parse each in one call.
            try:
                yield label, json.loads(data)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                yield label, BadRecord(f"invalid JSON ({exc.__class__.__name__}: {exc})")
        else:
            yield from _iter_json_stream(io.BytesIO(data), label)


def iter_zip_members(path: str | Path) -> Iterator[tuple[str, bytes | BadRecord]]:
    """(label, content) of each .json member, in the order they are stored.

    Walks the local file headers from the start of the archive instead of loading the central
    directory: zipfile.ZipFile keeps one ZipInfo per member (~500 bytes each, so ~300 MB for
    the registry's 550,000 studies) for as long as the archive is open. Archives this walk
    cannot read (encrypted members, unknown compression) go through zipfile instead.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise SourceError(f"{path}: empty file")
    if not zipfile.is_zipfile(path):
        raise SourceError(f"{path}: not a zip file")
    found = False
    with path.open("rb") as fh:
        walker = _walk_local_headers(fh, path.name)
        try:
            for item in walker:
                found = True
                yield item
        except _CannotWalk:
            if found:
                raise SourceError(f"{path}: unsupported zip layout after some members") from None
            for item in _iter_zip_directory(path):
                found = True
                yield item
    if not found:
        raise SourceError(f"{path}: the zip holds no .json files")


# A single study's first key ("protocolSection"), read without a parser; anything else (a page,
# a list, odd spacing) goes through _iter_json_stream.
_FIRST_KEY_RE = re.compile(rb'\s{0,100}\{\s{0,100}"([A-Za-z]{1,40})"')
_PAGE_KEYS = (b"studies", b"nextPageToken", b"totalCount")


class _CannotWalk(Exception):
    pass


_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_DESCRIPTOR_SIG = b"PK\x07\x08"


def _walk_local_headers(fh, name: str) -> Iterator[tuple[str, bytes | BadRecord]]:
    while True:
        header = fh.read(_LOCAL_HEADER.size)
        if len(header) < _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
            return  # the central directory (or the end): every member has been read
        (_, _, flags, method, _, _, crc, csize, usize, name_len, extra_len) = _LOCAL_HEADER.unpack(
            header
        )
        raw_name = fh.read(name_len)
        extra = fh.read(extra_len)
        filename = raw_name.decode("utf-8" if flags & 0x800 else "cp437")
        if flags & 0x1 or method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _CannotWalk
        zip64 = False
        if csize == 0xFFFFFFFF or usize == 0xFFFFFFFF:
            zip64 = True
            usize, csize = _zip64_sizes(extra, usize, csize)
        label = f"{name}:{filename}"
        wanted = not filename.endswith("/") and filename.lower().endswith(".json")
        if flags & 0x8:
            # Sizes follow the data (a streamed archive): only a deflate stream knows its end.
            if method != zipfile.ZIP_DEFLATED:
                raise _CannotWalk
            data = _inflate_until_end(fh)
            descriptor = fh.read(4)
            if descriptor == _DESCRIPTOR_SIG:
                descriptor = fh.read(4)
            crc = struct.unpack("<I", descriptor)[0]
            fh.read(16 if zip64 else 8)
        else:
            compressed = fh.read(csize)
            if not wanted:
                continue
            if len(compressed) < csize:
                yield label, BadRecord("cannot read this zip member: truncated archive")
                return
            try:
                data = (
                    zlib.decompress(compressed, -15)
                    if method == zipfile.ZIP_DEFLATED
                    else compressed
                )
            except zlib.error as exc:
                yield label, BadRecord(f"cannot read this zip member: {exc}")
                continue
        if not wanted:
            continue
        if zlib.crc32(data) != crc:
            yield label, BadRecord("cannot read this zip member: bad CRC-32")
            continue
        yield label, data


def _zip64_sizes(extra: bytes, usize: int, csize: int) -> tuple[int, int]:
    offset = 0
    while offset + 4 <= len(extra):
        kind, size = struct.unpack_from("<HH", extra, offset)
        if kind == 0x0001:
            values = iter(struct.unpack_from(f"<{size // 8}Q", extra, offset + 4))
            if usize == 0xFFFFFFFF:
                usize = next(values)
            if csize == 0xFFFFFFFF:
                csize = next(values)
            return usize, csize
        offset += 4 + size
    raise _CannotWalk


def _inflate_until_end(fh) -> bytes:
    inflater = zlib.decompressobj(-15)
    parts = []
    while not inflater.eof:
        chunk = fh.read(65536)
        if not chunk:
            raise SourceError(f"{fh.name}: truncated zip")
        parts.append(inflater.decompress(chunk))
    fh.seek(-len(inflater.unused_data), io.SEEK_CUR)
    return b"".join(parts)


def _iter_zip_directory(path: Path) -> Iterator[tuple[str, bytes | BadRecord]]:
    """Through zipfile's central directory (memory grows with the number of members)."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise SourceError(f"{path}: not a zip file") from None
    with archive:
        for info in archive.infolist():
            if not _is_json_member(info):
                continue
            label = f"{path.name}:{info.filename}"
            try:
                yield label, archive.read(info)
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, zlib.error) as exc:
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
