"""The way not to match alerts, the alerts benchmark's yardstick (bench/alerts_bench.py).

Imported once Django is set up."""

from django.db import connection

from notifications.alerts import NEW_OR_OPENED_SQL, page_compiled
from notifications.models import Subscription
from trials.search import filter_parts, filter_sql, parse_pairs, resolve_place


def naive_match(
    version_ids: list[int], subscription_ids: list[int] | None = None
) -> set[tuple[int, int]]:
    """Run each saved search as its own query (the page's WHERE clause over the whole table)
    and keep the trials that the versions announce. Returns the (subscription, trial) pairs, as
    match_new_versions would write them for these versions."""
    # What the versions announce: new or just opened trials that are open now.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT v.id, v.trial_id FROM trials_trialversion v
                  JOIN trials_trial t ON t.id = v.trial_id
                 WHERE v.id = ANY(%(ids)s)
                   AND t.overall_status IN ('RECRUITING', 'NOT_YET_RECRUITING')
                   AND {NEW_OR_OPENED_SQL}""",
            {"ids": list(version_ids)},
        )
        announced = cursor.fetchall()
    subscriptions = Subscription.objects.filter(kind="search", status="active")
    if subscription_ids is not None:
        subscriptions = subscriptions.filter(id__in=subscription_ids)
    pairs: set[tuple[int, int]] = set()
    for subscription in subscriptions.order_by("id"):
        params, _ = parse_pairs(subscription.query, lang=subscription.language)
        params, _ = resolve_place(params)
        compiled = page_compiled(params)
        if params.q and compiled is None:
            continue
        refs, args = filter_parts(params, compiled)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT t.id FROM trials_trial t WHERE {filter_sql(refs)}", args)
            found = {row[0] for row in cursor.fetchall()}
        pairs.update(
            (subscription.id, trial_id)
            for version_id, trial_id in announced
            if trial_id in found and version_id > subscription.matched_from_version
        )
    return pairs
