"""Alerts: subscribe (double opt-in), match new and changed trials, send digests.

Matching reads the durable log of trial versions (trials.TrialVersion) past a cursor, so a
version is matched whatever happened to the worker that should have done it, and writes one
AlertMatch per (subscription, trial) or (subscription, version) with ON CONFLICT DO NOTHING:
running it twice, or after a retry, announces nothing twice. Saved searches are matched with the
site's own WHERE clause (trials.search.filter_sql) over subscription columns, in one query.
"""

import hmac
import logging
import re
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import connection, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone, translation

from config.i18n import absolute_url
from notifications.emails import queue_email
from notifications.models import (
    AlertMatch,
    Frequency,
    MatchCursor,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    new_link_key,
)
from trials import geo
from trials.changes import describe
from trials.ctgov import years_to_days
from trials.models import Trial, TrialVersion
from trials.search import (
    SearchParams,
    filter_sql,
    nearest_sites,
    resolve_place,
    search_trials,
)


def page_compiled(params: SearchParams):
    """The words of a search compiled as its page compiles them (with its correction)."""
    if not params.q:
        return None
    return search_trials(params, page_size=1, with_facets=False).compiled


log = logging.getLogger(__name__)

CONFIRM_SALT = "alerts.confirm"
MANAGE_SALT = "alerts.manage"
UNSUBSCRIBE_SALT = "alerts.unsubscribe"
CONFIRM_MAX_AGE = timedelta(days=7)
# "As they happen" waits this long after the first unsent match, so that trials of one import
# arrive in one email.
IMMEDIATE_WINDOW = timedelta(minutes=5)
MATCH_BATCH = 2000  # versions per matching transaction
_LEXEME_RE = re.compile(r"'((?:[^']|'')+)'")


# --- subscribing ---------------------------------------------------------------------------------


def _subscriber_for(email: str, language: str) -> Subscriber:
    subscriber, created = Subscriber.objects.get_or_create(
        email=email.strip().lower(), defaults={"language": language}
    )
    if not created and subscriber.language != language:
        subscriber.language = language
        subscriber.save(update_fields=["language"])
    return subscriber


def compile_search(params: SearchParams) -> dict:
    """The compiled columns of a saved search (see Subscription); NULL = no filter. The words
    are compiled as the page understood them (corrected when the page showed a correction)."""
    compiled = page_compiled(params)
    lexemes = None
    if compiled and compiled.tsquery:
        with connection.cursor() as cursor:
            cursor.execute("SELECT querytree(%s::tsquery)", [compiled.tsquery])
            tree = cursor.fetchone()[0]
        found = sorted({m.replace("''", "'") for m in _LEXEME_RE.findall(tree)})
        lexemes = found or None  # a query of negations only cannot be prefiltered
    point = params.point
    return {
        "language": params.lang,
        "tsquery": compiled.tsquery if compiled else None,
        "nct_ids": (compiled.nct_ids or None) if compiled else None,
        "lexemes": lexemes,
        "statuses": list(params.statuses) or None,
        "phases": list(params.phases) or None,
        "study_types": list(params.study_types) or None,
        "sex": params.sex or None,
        "healthy_volunteers": True if params.healthy_volunteers else None,
        "countries": list(params.countries) or None,
        "conditions": list(params.conditions) or None,
        "age_days": years_to_days(params.age) if params.age is not None else None,
        "latitude": point.latitude if point else None,
        "longitude": point.longitude if point else None,
        "radius_km": float(params.radius_km) if point and params.radius_km else None,
        "place_label": (point.label if point else "")[:200],
    }


def subscription_subscribe(
    *,
    email: str,
    language: str,
    frequency: str,
    params: SearchParams | None = None,
    trial: Trial | None = None,
) -> tuple[Subscription, bool]:
    """Save a search or watch a trial, pending confirmation.

    Returns (subscription, confirmation_sent). Subscribing again with the same email and search
    reuses the row: a pending one gets its confirmation again, an active one nothing (and the
    page says the same in every case, so it reveals no one's subscriptions).
    """
    if (params is None) == (trial is None):
        raise ValueError("subscribe to a search or to a trial")
    with transaction.atomic():
        subscriber = _subscriber_for(email, language)
        if trial is not None:
            kind, query, columns = Subscription.Kind.TRIAL, [], {}
        else:
            assert params is not None  # one of the two, checked above
            params, _ = resolve_place(params)
            kind, query, columns = (
                Subscription.Kind.SEARCH,
                params.to_query(),
                compile_search(params),
            )
        key = Subscription.key_for(
            kind, query, trial.id if trial else None, params.lang if params else "en"
        )
        subscription, created = Subscription.objects.select_for_update().get_or_create(
            subscriber=subscriber,
            kind=kind,
            query_key=key,
            defaults={"trial": trial, "query": query, "frequency": frequency, **columns},
        )
        if subscription.status != SubscriptionStatus.PENDING:
            return subscription, False
        if not created:
            subscription.frequency = frequency
            subscription.created_at = timezone.now()  # the 7 days start again
            subscription.save(update_fields=["frequency", "created_at"])
        _queue_confirmation(subscription)
    return subscription, True


def subscription_subscribe_confirmed(
    *, email: str, language: str, params: SearchParams, frequency: str = Frequency.DAILY
) -> tuple[Subscription, bool]:
    """Save a search as an ACTIVE alert, without a confirmation email: only for an address
    already proven (a signed link that reached it). Returns (subscription, created).

    Idempotent: the same search for the same address is the same row (query_key); a pending
    one is activated, an active or paused one is left as it is.
    """
    with transaction.atomic():
        subscriber = _subscriber_for(email, language)
        params, _ = resolve_place(params)
        query = params.to_query()
        key = Subscription.key_for(Subscription.Kind.SEARCH, query, None, params.lang)
        subscription, created = Subscription.objects.select_for_update().get_or_create(
            subscriber=subscriber,
            kind=Subscription.Kind.SEARCH,
            query_key=key,
            defaults={"query": query, "frequency": frequency, **compile_search(params)},
        )
        _activate(subscription)
    return subscription, created


def _activate(subscription: Subscription) -> None:
    """A pending subscription (row locked by the caller) becomes active, for what happens from
    now on: not the trials imported before it was confirmed. Any other status stays."""
    if subscription.status != SubscriptionStatus.PENDING:
        return
    subscription.status = SubscriptionStatus.ACTIVE
    subscription.confirmed_at = timezone.now()
    subscription.matched_from_version = TrialVersion.objects.aggregate(m=Max("id"))["m"] or 0
    subscription.save(update_fields=["status", "confirmed_at", "matched_from_version"])


def _link(name: str, *args, language: str) -> str:
    return absolute_url(name, *args, language=language)


def confirm_token(subscription: Subscription) -> str:
    return signing.dumps(subscription.id, salt=CONFIRM_SALT)


def manage_token(subscriber: Subscriber) -> str:
    return signing.dumps([subscriber.id, subscriber.link_key], salt=MANAGE_SALT)


def unsubscribe_token(subscription_ids: list[int]) -> str:
    return signing.dumps(sorted(subscription_ids), salt=UNSUBSCRIBE_SALT, compress=True)


def _queue_confirmation(subscription: Subscription) -> None:
    subscriber = subscription.subscriber
    queue_email(
        "alert-confirm",
        to=subscriber.email,
        language=subscriber.language,
        context={
            "subscription": subscription,
            "description": describe_subscription(subscription, subscriber.language),
            "confirm_url": _link(
                "notifications:confirm", confirm_token(subscription), language=subscriber.language
            ),
            "days": CONFIRM_MAX_AGE.days,
        },
        erase_key=f"subscriber:{subscriber.id}",
    )


def subscription_confirm(token: str) -> Subscription | None:
    """Follow the signed confirmation link; None when tampered, expired or gone."""
    try:
        subscription_id = signing.loads(token, salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE)
    except signing.BadSignature:
        return None
    with transaction.atomic():
        subscription = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("subscriber", "trial")
            .filter(id=subscription_id)
            .first()
        )
        if subscription is None:
            return None
        _activate(subscription)
    return subscription


def subscriber_from_token(token: str) -> Subscriber | None:
    """The subscriber of a management link; None when tampered, or when its key is not the
    subscriber's (renewed, or a link from before keys, which SECRET_KEY alone could forge)."""
    try:
        payload = signing.loads(token, salt=MANAGE_SALT)
    except signing.BadSignature:
        return None
    if not (
        isinstance(payload, list)
        and len(payload) == 2
        and isinstance(payload[0], int)
        and isinstance(payload[1], str)
    ):
        return None
    subscriber = Subscriber.objects.filter(id=payload[0]).first()
    if subscriber is None or not hmac.compare_digest(subscriber.link_key, payload[1]):
        return None
    return subscriber


def subscriber_renew_links(subscriber: Subscriber) -> str:
    """Every management link sent so far stops working; returns the new link's token."""
    subscriber.link_key = new_link_key()
    subscriber.save(update_fields=["link_key"])
    return manage_token(subscriber)


def subscriptions_unsubscribe(token: str) -> int | None:
    """One-click unsubscribe (RFC 8058): delete the subscriptions an email was about.
    Idempotent: a second click deletes nothing and still succeeds. None if tampered."""
    try:
        ids = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        return None
    deleted, _ = Subscription.objects.filter(id__in=ids).delete()
    _forget_empty_subscribers()
    return deleted


def subscriber_erase(subscriber: Subscriber) -> None:
    """ "Delete all": the address goes, with every subscription and every queued alert."""
    from notifications.models import EmailStatus, OutgoingEmail

    with transaction.atomic():
        OutgoingEmail.objects.filter(
            erase_key=f"subscriber:{subscriber.id}",
            status__in=[EmailStatus.QUEUED, EmailStatus.FAILED],
        ).update(status=EmailStatus.CANCELLED)
        OutgoingEmail.objects.filter(erase_key=f"subscriber:{subscriber.id}").update(
            to_email="erased@invalid", subject="", body_text="", body_html="", headers={}
        )
        subscriber.delete()


def subscriptions_pause_for_address(email: str, reason: str) -> int:
    """A hard bounce or a complaint: stop sending to that address (resumable by the user)."""
    return Subscription.objects.filter(
        subscriber__email=email.strip().lower(), status=SubscriptionStatus.ACTIVE
    ).update(status=SubscriptionStatus.PAUSED, paused_reason=reason)


def expire_unconfirmed() -> int:
    """Pending subscriptions older than the confirmation link's life are deleted."""
    deleted, _ = Subscription.objects.filter(
        status=SubscriptionStatus.PENDING, created_at__lt=timezone.now() - CONFIRM_MAX_AGE
    ).delete()
    _forget_empty_subscribers()
    return deleted


def _forget_empty_subscribers() -> None:
    Subscriber.objects.filter(subscriptions__isnull=True).delete()


# --- describing ----------------------------------------------------------------------------------


def describe_subscription(subscription: Subscription, language: str) -> str:
    """ "head and neck cancer · near Strasbourg, France (100 km) · Phase 3" or the trial title."""
    from django.utils.translation import gettext as _

    from trials.search import parse_pairs

    with translation.override(language):
        if subscription.kind == Subscription.Kind.TRIAL:
            return subscription.trial.title if subscription.trial else ""
        params, _errors = parse_pairs(subscription.query)
        parts = []
        if params.q:
            # The patient's own words, quoted the way the language quotes (once, not “"twice"”).
            phrase = params.q[1:-1] if re.fullmatch(r'"[^"]+"', params.q) else params.q
            parts.append(_("“%(words)s”") % {"words": phrase})
        if params.conditions:
            parts.append(", ".join(params.conditions))
        if subscription.place_label:
            if subscription.radius_km:
                parts.append(
                    _("within %(km)s km of %(place)s")
                    % {"km": f"{subscription.radius_km:.0f}", "place": subscription.place_label}
                )
            else:
                parts.append(_("near %(place)s") % {"place": subscription.place_label})
        if params.phases:
            parts.append(", ".join(str(_phase_label(p)) for p in params.phases))
        if params.age is not None:
            parts.append(_("age %(age)s") % {"age": params.age})
        if not parts:
            parts.append(_("all recruiting trials"))
        return " · ".join(parts)


def _phase_label(value: str):
    from trials.models import Phase

    return Phase(value).label if value in Phase.values else value


def search_url(subscription: Subscription) -> str:
    from urllib.parse import urlencode

    pairs = [tuple(pair) for pair in subscription.query]
    if subscription.language != "en":
        pairs.append(("lang", subscription.language))  # the words mean what they meant
    with translation.override(subscription.language):
        return f"{settings.SITE_URL}{reverse('trials:search')}?{urlencode(pairs)}"


# --- matching ------------------------------------------------------------------------------------

# Saved searches read their filters from subscription columns (NULL = no filter). The alias is
# `sub`: the search SQL uses `t` for trials and `s` for sites.
SUBSCRIPTION_REFS = {
    "query": ("sub.tsquery", "sub.nct_ids"),
    "statuses": "sub.statuses",
    "phases": "sub.phases",
    "study_types": "sub.study_types",
    "sex": "sub.sex",
    "healthy_volunteers": "sub.healthy_volunteers",
    "countries": "sub.countries",
    "conditions": "sub.conditions",
    "age_days": "sub.age_days",
    "near": ("sub.latitude", "sub.longitude", "sub.radius_km"),
}
# A version announces a trial to saved searches when the trial is new, or has just opened.
NEW_OR_OPENED_SQL = """
    (v.number = 1
     OR EXISTS (SELECT 1 FROM jsonb_array_elements(v.patient_changes) c
                 WHERE c->>'kind' = 'status' AND c->>'new' IN ('RECRUITING', 'NOT_YET_RECRUITING')
                   AND c->>'old' NOT IN ('RECRUITING', 'NOT_YET_RECRUITING')))
"""
# 1. The candidates: trials that a version of this batch announces, read once (the vectors
#    detoasted once; of their words, only those some saved search asks for).
# 2. For each candidate, the saved searches sharing a word with it, found with the GIN index
#    on their lexemes, and those without words (read once); then the page's own WHERE clause
#    over the subscription's columns, the place tested on the candidate's own sites.
MATCH_SEARCHES_SQL = f"""
    WITH asked AS MATERIALIZED (
        SELECT array_agg(DISTINCT w) AS words
          FROM notifications_subscription, unnest(lexemes) w
         WHERE kind = 'search' AND status = 'active'
    ), t AS MATERIALIZED (
        SELECT v.id AS version_id, tr.id, tr.nct_id,
               tr.search_vector || ''::tsvector AS search_vector,
               ARRAY(SELECT unnest(tsvector_to_array(tr.search_vector))
                     INTERSECT SELECT unnest(asked.words)) AS words,
               tr.overall_status, tr.phases,
               tr.study_type, tr.sex, tr.healthy_volunteers, tr.country_codes,
               tr.condition_meshes, tr.minimum_age_days, tr.maximum_age_days
          FROM trials_trialversion v
          JOIN trials_trial tr ON tr.id = v.trial_id
         CROSS JOIN asked
         WHERE v.id > %(after)s AND v.id <= %(upto)s
           AND tr.overall_status IN ('RECRUITING', 'NOT_YET_RECRUITING')
           AND {NEW_OR_OPENED_SQL}
    ), wordless AS MATERIALIZED (
        SELECT * FROM notifications_subscription
         WHERE kind = 'search' AND status = 'active' AND lexemes IS NULL
           AND (tsquery IS NOT NULL OR nct_ids IS NULL)
    )
    INSERT INTO notifications_alertmatch (subscription_id, trial_id, version_id, kind, created_at)
    SELECT DISTINCT ON (sub.id, t.id) sub.id, t.id, t.version_id, 'new', now()
      FROM t
     CROSS JOIN LATERAL (
        SELECT * FROM notifications_subscription worded
         WHERE worded.lexemes && t.words AND worded.kind = 'search' AND worded.status = 'active'
        UNION ALL
        SELECT * FROM notifications_subscription named
         WHERE named.nct_ids @> ARRAY[t.nct_id]::varchar[] AND named.kind = 'search'
           AND named.status = 'active'
        UNION ALL
        SELECT * FROM wordless
     ) sub
     WHERE t.version_id > sub.matched_from_version
       AND {filter_sql(SUBSCRIPTION_REFS, optional=True, near_per_trial=True)}
     ORDER BY sub.id, t.id, t.version_id
    ON CONFLICT DO NOTHING
"""
MATCH_WATCHERS_SQL = """
    INSERT INTO notifications_alertmatch (subscription_id, trial_id, version_id, kind, created_at)
    SELECT sub.id, v.trial_id, v.id, 'change', now()
      FROM trials_trialversion v
      JOIN notifications_subscription sub
        ON sub.kind = 'trial' AND sub.status = 'active' AND sub.trial_id = v.trial_id
       AND v.id > sub.matched_from_version
     WHERE v.id > %(after)s AND v.id <= %(upto)s
       AND v.number > 1 AND v.patient_changes <> '[]'::jsonb
    ON CONFLICT DO NOTHING
"""


def match_new_versions(limit_batches: int | None = None) -> int:
    """Match trial versions past the cursor against every active subscription; returns the
    number of matches written. Safe to run concurrently and repeatedly (row lock on the
    cursor, ON CONFLICT on the matches)."""
    written = 0
    batches = 0
    MatchCursor.objects.get_or_create(name="alerts")
    while limit_batches is None or batches < limit_batches:
        with transaction.atomic():
            cursor_row = MatchCursor.objects.select_for_update().get(name="alerts")
            after = cursor_row.last_version_id
            ids = list(
                TrialVersion.objects.filter(id__gt=after)
                .order_by("id")
                .values_list("id", flat=True)[:MATCH_BATCH]
            )
            if not ids:
                break
            upto = ids[-1]
            with connection.cursor() as cursor:
                cursor.execute(MATCH_SEARCHES_SQL, {"after": after, "upto": upto})
                written += cursor.rowcount
                cursor.execute(MATCH_WATCHERS_SQL, {"after": after, "upto": upto})
                written += cursor.rowcount
            cursor_row.last_version_id = upto
            cursor_row.updated_at = timezone.now()
            cursor_row.save(update_fields=["last_version_id", "updated_at"])
        batches += 1
    return written


# --- sending -------------------------------------------------------------------------------------


def due_subscribers(frequency: str) -> list[int]:
    """Subscribers with unsent matches for subscriptions of this frequency, due now."""
    unsent = AlertMatch.objects.filter(
        sent_at__isnull=True,
        subscription__status=SubscriptionStatus.ACTIVE,
        subscription__frequency=frequency,
    )
    if frequency == Frequency.IMMEDIATE:
        # Wait for the window to close after the oldest unsent match of a subscriber.
        unsent = unsent.filter(created_at__lte=timezone.now() - IMMEDIATE_WINDOW)
    return sorted(set(unsent.values_list("subscription__subscriber_id", flat=True)))


def digest_send(*, subscriber_id: int, frequency: str) -> int | None:
    """One email grouping every unsent match of this subscriber's subscriptions of this
    frequency; marks them sent in the same transaction. Returns the email id (None if nothing).
    A retried or duplicated task finds the matches already sent and sends nothing."""
    with transaction.atomic():
        subscriber = Subscriber.objects.filter(id=subscriber_id).first()
        if subscriber is None:
            return None
        matches = list(
            AlertMatch.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                sent_at__isnull=True,
                subscription__subscriber=subscriber,
                subscription__status=SubscriptionStatus.ACTIVE,
                subscription__frequency=frequency,
            )
            .select_related("subscription", "trial", "version")
            .order_by("subscription_id", "created_at")
        )
        if not matches:
            return None
        context = _digest_context(subscriber, matches, frequency)
        subscription_ids = sorted({m.subscription_id for m in matches})
        unsubscribe_url = _link(
            "notifications:unsubscribe",
            unsubscribe_token(subscription_ids),
            language=subscriber.language,
        )
        email = queue_email(
            "alert-digest",
            to=subscriber.email,
            language=subscriber.language,
            context={**context, "unsubscribe_url": unsubscribe_url},
            erase_key=f"subscriber:{subscriber.id}",
            headers={
                "List-Unsubscribe": f"<{unsubscribe_url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )
        AlertMatch.objects.filter(id__in=[m.id for m in matches]).update(
            sent_at=timezone.now(), email=email
        )
    return email.id


def _digest_context(subscriber: Subscriber, matches: list[AlertMatch], frequency: str) -> dict:
    by_subscription: dict[int, list[AlertMatch]] = defaultdict(list)
    for match in matches:
        by_subscription[match.subscription_id].append(match)
    groups = []
    with translation.override(subscriber.language):
        for items in by_subscription.values():
            subscription = items[0].subscription
            point = (
                geo.Point(subscription.latitude, subscription.longitude, subscription.place_label)
                if subscription.latitude is not None and subscription.longitude is not None
                else None
            )
            nearest = nearest_sites([m.trial_id for m in items], point)
            trials = []
            for match in items:
                trial = match.trial
                trials.append(
                    {
                        "title": trial.title,
                        "nct_id": trial.nct_id,
                        "status": trial.get_overall_status_display(),
                        "url": settings.SITE_URL + trial.get_absolute_url(),
                        "nearest_site": nearest.get(trial.id),
                        "changes": [describe(c) for c in match.version.patient_changes]
                        if match.kind == AlertMatch.Kind.CHANGE and match.version
                        else [],
                    }
                )
            groups.append(
                {
                    "kind": subscription.kind,
                    "description": describe_subscription(subscription, subscriber.language),
                    "search_url": search_url(subscription)
                    if subscription.kind == Subscription.Kind.SEARCH
                    else "",
                    "trials": trials,
                }
            )
    return {
        "groups": groups,
        "frequency": frequency,
        "count": len(matches),
        "manage_url": _link(
            "notifications:manage", manage_token(subscriber), language=subscriber.language
        ),
    }


def match_after_import(sender=None, **kwargs) -> None:
    """trials.signals.trials_imported: new and changed trials are matched in a worker."""
    enqueue_matching()


def enqueue_matching() -> None:
    """After an import: match (and then send "as they happen" alerts) in a worker."""
    from notifications.tasks import match_alerts

    def publish():
        try:
            match_alerts.delay()
        except Exception as exc:  # the beat schedule runs matching anyway
            log.warning("could not enqueue alert matching: %s", type(exc).__name__)

    transaction.on_commit(publish)
