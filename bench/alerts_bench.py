"""Alerts: 100,000 confirmed subscriptions matched against 1,000 changed trials.

1. Untimed: 100,000 active subscriptions (90% saved searches from a realistic mix of condition
   names, places with a radius, status/phase/age/sex filters; 10% trial watchers, a tenth of
   them on trials the update changes), inserted with bulk_create; the alert cursor is moved
   past the versions already in the database (the initial load was matched long ago).
2. Untimed: 1,000 changed records (bench.generate.changed_records) imported with the real
   importer, writing 1,000 new TrialVersions.
3. Timed: notifications.alerts.match_new_versions() -> alerts_100k_s.
4. The naive way (bench/naive_alerts.naive_match: each saved search run as its own query)
   on a random sample of saved searches, extrapolated per saved search to all of them ->
   alerts_speedup_vs_naive. Both ways must agree on the sample (alerts_naive_mismatches).
5. The cursor is moved back and matching runs again: alerts_duplicates counts (subscription,
   trial, version) triples written twice (must be 0).
The subscriptions stay: the suite's final update step matches against them.
"""

import json
import os
import random
import tempfile
import time
import zipfile
from pathlib import Path

from bench.common import BenchContext, print_figures, say, standalone_context
from bench.search_bench import setup_django

SUBSCRIPTIONS = 100_000
WATCHER_SHARE = 0.10
NAIVE_SAMPLE = 500
SEED = 11

TERMS = [
    "cancer",
    "breast cancer",
    "lung cancer",
    "head and neck cancer",
    "oropharyngeal",
    "diabetes",
    "type 2 diabetes",
    "asthma",
    "lymphoma",
    "leukemia",
    "melanoma",
    "prostate cancer",
    "colorectal cancer",
    "heart failure",
    "hypertension",
    "depression",
    "alzheimer",
    "parkinson",
    "multiple sclerosis",
    "hiv",
    "covid-19",
    "obesity",
    "stroke",
    "psoriasis",
    "crohn",
    "carcinoma",
    "glioblastoma",
    "ovarian cancer",
    "pancreatic cancer",
    "rheumatoid arthritis",
]
PLACES = ["Paris", "Boston", "Chicago", "Milano", "Strasbourg", "London", "Houston", "Lyon"]


def _search_variants(rng: random.Random) -> list[list[tuple[str, str]]]:
    """Distinct saved searches (GET pairs), each compiled once."""
    variants = []
    for term in TERMS:
        variants.append([("q", term)])
        variants.append([("q", term), ("status", "any")])
        variants.append([("q", term), ("phase", rng.choice(["PHASE2", "PHASE3"]))])
        variants.append([("q", term), ("age", str(rng.randint(18, 80)))])
        variants.append([("q", term), ("sex", rng.choice(["FEMALE", "MALE"]))])
        for place in rng.sample(PLACES, 3):
            radius = rng.choice(["25", "50", "100", "250"])
            variants.append([("q", term), ("near", place), ("radius", radius)])
    for place in PLACES:
        variants.append([("near", place), ("radius", "100")])
    variants.append([("phase", "PHASE1"), ("healthy", "1")])
    return variants


def _compiled(pairs):

    from notifications.alerts import compile_search
    from notifications.models import Subscription
    from trials.search import parse_pairs, resolve_place

    params, _ = parse_pairs(pairs)
    params, _ = resolve_place(params)
    query = params.to_query()
    key = Subscription.key_for(Subscription.Kind.SEARCH, query, None)
    return query, key, compile_search(params)


def _changed_records(ctx: BenchContext, count: int) -> list[dict]:
    from bench.generate import changed_records

    zip_path = Path(ctx.zip_path)
    if zip_path.exists():
        return changed_records(zip_path, count, SEED)
    # No zip (a database loaded another way): the latest records of random trials, zipped.
    from trials.models import Trial, TrialVersion

    ids = list(Trial.objects.values_list("id", flat=True))
    chosen = random.Random(SEED).sample(ids, min(count, len(ids)))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "records.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for version in (
                TrialVersion.objects.filter(trial_id__in=chosen)
                .order_by("trial_id", "-number")
                .distinct("trial_id")
            ):
                record = version.record
                status = record["protocolSection"].setdefault("statusModule", {})
                status.setdefault("lastUpdatePostDateStruct", {"date": "2024-01-01"})
                archive.writestr(f"{version.trial_id}.json", json.dumps(record))
        return changed_records(path, count, SEED)


def _create_subscriptions(rng: random.Random, watched_trials: list[int]) -> None:
    from django.db.models import Max

    from notifications.models import (
        Frequency,
        Subscriber,
        Subscription,
        SubscriptionStatus,
    )
    from trials.models import Trial, TrialVersion

    start = Subscriber.objects.aggregate(m=Max("id"))["m"] or 0
    n_subscribers = SUBSCRIPTIONS * 2 // 3
    Subscriber.objects.bulk_create(
        [
            Subscriber(email=f"bench{start + i}@example.invalid", language=rng.choice("eefi"))
            for i in range(n_subscribers)
        ],
        batch_size=5000,
    )
    subscriber_ids = list(
        Subscriber.objects.filter(email__startswith="bench", id__gt=start).values_list(
            "id", flat=True
        )
    )
    variants = [_compiled(pairs) for pairs in _search_variants(rng)]
    trial_ids = list(Trial.objects.values_list("id", flat=True))
    latest = TrialVersion.objects.aggregate(m=Max("id"))["m"] or 0
    now_fields = {
        "status": SubscriptionStatus.ACTIVE,
        "matched_from_version": latest,
    }
    seen = set()
    batch = []
    made = 0
    frequencies = [Frequency.DAILY] * 6 + [Frequency.WEEKLY] * 3 + [Frequency.IMMEDIATE]
    while made < SUBSCRIPTIONS:
        subscriber_id = rng.choice(subscriber_ids)
        if rng.random() < WATCHER_SHARE:
            pool = watched_trials if rng.random() < 0.1 and watched_trials else trial_ids
            trial_id = rng.choice(pool)
            kind, query, columns = Subscription.Kind.TRIAL, [], {"trial_id": trial_id}
            key = Subscription.key_for(kind, query, trial_id)
        else:
            kind = Subscription.Kind.SEARCH
            query, key, columns = rng.choice(variants)
        if (subscriber_id, key) in seen:
            continue
        row = Subscription(
            subscriber_id=subscriber_id,
            kind=kind,
            query=query,
            query_key=key,
            frequency=rng.choice(frequencies),
            **now_fields,
            **columns,
        )
        seen.add((subscriber_id, key))
        batch.append(row)
        made += 1
        if len(batch) >= 5000:
            Subscription.objects.bulk_create(batch)
            batch = []
    if batch:
        Subscription.objects.bulk_create(batch)


def _cursor_to(version_id: int) -> None:
    from notifications.models import MatchCursor

    MatchCursor.objects.update_or_create(name="alerts", defaults={"last_version_id": version_id})


def run(ctx: BenchContext) -> dict:
    setup_django(ctx)
    from django.db import connection
    from django.db.models import Max

    from bench.naive_alerts import naive_match
    from notifications.alerts import match_new_versions
    from notifications.models import AlertMatch, Subscription
    from trials.importer import Importer
    from trials.models import Trial, TrialVersion

    rng = random.Random(SEED)
    say("alerts: changed records")
    records = _changed_records(ctx, 1000)
    changed_nct = [r["protocolSection"]["identificationModule"]["nctId"] for r in records]
    watched = list(Trial.objects.filter(nct_id__in=changed_nct).values_list("id", flat=True))

    say(f"alerts: {SUBSCRIPTIONS:,} subscriptions (untimed)")
    t0 = time.perf_counter()
    _create_subscriptions(rng, watched)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE notifications_subscription, notifications_subscriber")
    say(f"alerts: subscriptions written in {time.perf_counter() - t0:.0f} s")

    before = TrialVersion.objects.aggregate(m=Max("id"))["m"] or 0
    _cursor_to(before)
    say("alerts: importing 1,000 changed records (untimed)")
    stats = Importer().run((f"changed-{i}", record) for i, record in enumerate(records))
    version_ids = list(
        TrialVersion.objects.filter(id__gt=before).order_by("id").values_list("id", flat=True)
    )
    matches_before = AlertMatch.objects.count()

    say(f"alerts: matching {len(version_ids)} versions")
    t0 = time.perf_counter()
    written = match_new_versions()
    set_based_s = time.perf_counter() - t0

    # The naive way on a sample of saved searches, extrapolated.
    search_ids = list(
        Subscription.objects.filter(kind="search", status="active").values_list("id", flat=True)
    )
    # --quick: a smaller sample (at 600,000 trials a broad saved search alone takes seconds).
    size = NAIVE_SAMPLE // 2 if ctx.quick else NAIVE_SAMPLE
    # At 600,000 trials one naive saved search takes seconds: BENCH_NAIVE_SAMPLE=30, say.
    size = int(os.environ.get("BENCH_NAIVE_SAMPLE", 30 if ctx.n >= 300_000 else size))
    sample = random.Random(SEED).sample(search_ids, min(size, len(search_ids)))
    say(f"alerts: naive matching on {len(sample)} saved searches")
    t0 = time.perf_counter()
    naive_pairs = naive_match(version_ids, subscription_ids=sample)
    naive_s = time.perf_counter() - t0
    naive_total_s = naive_s / max(len(sample), 1) * len(search_ids)
    set_pairs = set(
        AlertMatch.objects.filter(
            subscription_id__in=sample, kind="new", version_id__in=version_ids
        ).values_list("subscription_id", "trial_id")
    )
    mismatches = len(set_pairs ^ naive_pairs)

    # Twice: back to the same cursor, match again; nothing may be written twice.
    _cursor_to(before)
    t0 = time.perf_counter()
    rewritten = match_new_versions()
    rerun_s = time.perf_counter() - t0
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*) - count(DISTINCT (subscription_id, trial_id, version_id))
                 FROM notifications_alertmatch"""
        )
        duplicates = cursor.fetchone()[0]

    ctx.notes["alerts"] = (
        f"{len(version_ids)} versions ({stats.summary()}), {written} matches in "
        f"{set_based_s:.1f} s; naive {naive_s:.1f} s for {len(sample)} saved searches "
        f"→ {naive_total_s / 60:.0f} min for {len(search_ids):,}; "
        f"{len(set_pairs)} sample pairs, {mismatches} mismatches"
    )
    return {
        "alerts_100k_s": set_based_s,
        "alerts_speedup_vs_naive": naive_total_s / set_based_s,
        "alerts_duplicates": duplicates,
        "alerts_versions": len(version_ids),
        "alerts_matches": written,
        "alerts_matches_before": matches_before,
        "alerts_rerun_written": rewritten,
        "alerts_rerun_s": rerun_s,
        "alerts_naive_sample": len(sample),
        "alerts_naive_sample_s": naive_s,
        "alerts_naive_estimated_s": naive_total_s,
        "alerts_naive_sample_pairs": len(set_pairs),
        "alerts_naive_mismatches": mismatches,
    }


if __name__ == "__main__":
    import sys

    context = standalone_context(zip_path=Path(sys.argv[1]) if len(sys.argv) > 1 else None)
    print_figures(run(context))
    print(context.notes)
