"""manage.py search_index rebuild|check|status|sync: the search index (trials.engine)."""

import json
import time

from django.core.management.base import BaseCommand, CommandError

from trials import engine


class Command(BaseCommand):
    help = (
        "rebuild: build the search index from the database and swap it in; "
        "check: compare it with the database (counts per status, a sample of trials); "
        "status: where it is, how big, and whether it is behind the database; "
        "sync: reindex what changed since it was last updated (each web host runs it, "
        "e.g. every minute, to follow imports run elsewhere); "
        "ensure: build it only when it is missing, corrupt or behind."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["rebuild", "check", "status", "sync", "ensure"])
        parser.add_argument("--sample", type=int, default=200, help="trials checked (check)")

    def handle(self, *args, action, sample, **options):
        started = time.monotonic()
        if action == "rebuild":
            meta = engine.rebuild(progress=lambda n: self.stderr.write(f"  {n} trials indexed"))
            self.stdout.write(
                f"search index rebuilt: {meta['documents']} trials in {meta['build_s']} s"
            )
        elif action == "status":
            state = engine.status()
            self.stdout.write(json.dumps(state, indent=2))
            if state["state"] != "ok":
                raise CommandError(f"search index {state['state']}")
        elif action == "check":
            try:
                problems = engine.check(sample)
            except engine.IndexUnavailable as exc:
                raise CommandError(str(exc)) from exc
            for problem in problems:
                self.stdout.write(problem)
            if problems:
                raise CommandError(
                    f"{len(problems)} differences between the index and the database"
                )
            self.stdout.write(f"search index matches the database ({sample} trials sampled)")
        elif action == "sync":
            changed = engine.catch_up()
            self.stdout.write(f"search index synced: {max(changed, 0)} trials reindexed")
        elif action == "ensure":
            state = engine.status()["state"]
            if state in ("missing", "corrupt"):
                engine.rebuild()
            elif state == "behind":
                engine.catch_up()
            self.stdout.write(
                f"search index {state}, now {engine.status()['state']} "
                f"({time.monotonic() - started:.1f} s)"
            )
