"""Import ClinicalTrials.gov API v2 study records.

    manage.py import_ctgov SOURCE [SOURCE ...]
    manage.py import_ctgov --api --cond "head and neck cancer" --status RECRUITING --max 500

SOURCE is a study JSON file, a folder of them, a page response ({"studies": [...]}) or the bulk
zip the registry offers for download. The last line is always
`created N, updated N, unchanged N, failed N`; the exit code is 1 when any record failed.
"""

import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from trials.importer import Importer, ImportStats, after_import, import_lock
from trials.sources import ApiError, SourceError, count_source, iter_api, iter_source

# From this many records (a bulk load), two connections write batches at once.
PARALLEL_FROM = 10_000


class Progress:
    """A one-line progress bar on a terminal; silent when output is not a TTY."""

    def __init__(self, stream, total: int | None):
        self.stream = stream
        self.total = total
        self.enabled = stream.isatty()
        self.started = time.monotonic()
        self.last = 0.0

    def __call__(self, stats: ImportStats, *, force: bool = False):
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self.last < 0.2:
            return
        self.last = now
        elapsed = max(now - self.started, 1e-6)
        rate = stats.seen / elapsed
        line = f"{stats.seen:,} records, {rate:,.0f}/s"
        if self.total:
            done = min(stats.seen / self.total, 1.0)
            bar = "#" * int(done * 30)
            eta = (self.total - stats.seen) / rate if rate else 0
            line = f"[{bar:<30}] {done:4.0%} {line}, ETA {int(eta // 60)}:{int(eta % 60):02d}"
        self.stream.write(f"\r{line}\x1b[K")
        self.stream.flush()

    def finish(self):
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


class Command(BaseCommand):
    help = (
        "Import ClinicalTrials.gov API v2 JSON: files, folders, page responses, the bulk zip, "
        "or the live API."
    )

    def add_arguments(self, parser):
        parser.add_argument("sources", nargs="*", help="files, folders or .zip archives")
        parser.add_argument("--api", action="store_true", help="page through the live API v2")
        parser.add_argument("--cond", help="API: condition or disease (query.cond)")
        parser.add_argument("--term", help="API: other terms (query.term)")
        parser.add_argument(
            "--status", help="API: comma-separated overall statuses (filter.overallStatus)"
        )
        parser.add_argument("--max", type=int, help="API: stop after this many studies")
        parser.add_argument("--batch-size", type=int, default=250)
        parser.add_argument(
            "--writers",
            type=int,
            help=f"batches written at once (default: 2 from {PARALLEL_FROM:,} records, else 1)",
        )

    def handle(self, *args, **options):
        sources = options["sources"]
        if options["api"] == bool(sources):
            raise CommandError("give either SOURCE paths or --api (with --cond/--term/--status)")
        if options["max"] is not None and options["max"] < 1:
            raise CommandError("--max must be at least 1")

        if options["api"]:
            params = {}
            if options["cond"]:
                params["query.cond"] = options["cond"]
            if options["term"]:
                params["query.term"] = options["term"]
            if options["status"]:
                params["filter.overallStatus"] = options["status"].upper()
            records = iter_api(settings.CTGOV_API_URL, params, max_records=options["max"])
            total = options["max"]
        else:
            # Fail on a bad path before importing anything from the good ones.
            for source in sources:
                try:
                    next(iter(iter_source(source)), None)
                except SourceError as exc:
                    raise CommandError(str(exc)) from None
            records = (item for source in sources for item in iter_source(source))
            counts = [count_source(s) for s in sources]
            total = sum(counts) if all(c is not None for c in counts) else None

        progress = Progress(self.stderr._out, total)

        def on_error(label, message):
            progress.finish()
            self.stderr.write(f"failed: {label}: {message}")

        def on_note(label, message):
            progress.finish()
            self.stderr.write(f"kept out: {label}: {message}")

        writers = options["writers"] or (2 if total and total >= PARALLEL_FROM else 1)
        importer = Importer(
            batch_size=options["batch_size"],
            on_error=on_error,
            on_progress=progress,
            on_note=on_note,
            writers=max(1, writers),
        )
        try:
            with import_lock():
                stats = importer.run(records)
        except (SourceError, ApiError) as exc:
            progress.finish()
            self.stdout.write(importer.stats.summary())
            raise CommandError(str(exc)) from None
        progress(stats, force=True)
        progress.finish()
        after_import(stats)
        self.stdout.write(stats.summary())
        if stats.failed:
            sys.exit(1)
