"""Alerts: double opt-in, dedupe, matching new and changed trials, digests, unsubscribe."""

import copy
import datetime
import json
import re

import pytest
import time_machine
from django.core import mail, signing
from django.http import QueryDict
from django.utils import timezone

from notifications import alerts
from notifications.emails import deliver
from notifications.models import (
    AlertMatch,
    EmailStatus,
    Frequency,
    OutgoingEmail,
    Subscriber,
    Subscription,
    SubscriptionStatus,
)
from notifications.tasks import send_due_digests
from tests.conftest import DEMO_DATA, SEED_DATA
from trials.importer import Importer
from trials.models import Trial
from trials.search import parse_params

pytestmark = pytest.mark.django_db


def params(query: str):
    parsed, errors = parse_params(QueryDict(query))
    assert errors == []
    return parsed


def subscribe(query="q=head and neck cancer&near=Strasbourg", email="alice@example.org", **kw):
    kw.setdefault("language", "en")
    kw.setdefault("frequency", Frequency.DAILY)
    subscription, _ = alerts.subscription_subscribe(email=email, params=params(query), **kw)
    return subscription


def confirm(subscription):
    assert alerts.subscription_confirm(alerts.confirm_token(subscription)) is not None
    subscription.refresh_from_db()
    return subscription


def send_all_emails():
    for email in OutgoingEmail.objects.filter(status=EmailStatus.QUEUED):
        deliver(email.id)
    return list(mail.outbox)


def send_digests(frequency: str) -> int:
    """What the beat task fans out to workers, run here: one digest per due subscriber."""
    sent = [
        alerts.digest_send(subscriber_id=i, frequency=frequency)
        for i in alerts.due_subscribers(frequency)
    ]
    return len([s for s in sent if s])


def import_study(record: dict):
    stats = Importer().run([("test", record)])
    assert stats.failed == 0
    return stats


def new_trial_like(nct_source: str, new_id: str, *, seed=False, **changes) -> dict:
    folder = SEED_DATA if seed else DEMO_DATA
    record = json.loads((folder / f"{nct_source}.json").read_text())
    record["protocolSection"]["identificationModule"]["nctId"] = new_id
    for path, value in changes.items():
        target = record["protocolSection"]
        *parents, leaf = path.split(".")
        for part in parents:
            target = target[part]
        target[leaf] = value
    return record


# --- double opt-in -------------------------------------------------------------------------------


def test_nothing_but_the_confirmation_is_sent_before_confirming(django_capture_on_commit_callbacks):
    subscription = subscribe()
    assert subscription.status == SubscriptionStatus.PENDING
    import_study(new_trial_like("NCT05738187", "NCT95738187", seed=True))
    alerts.match_new_versions()
    assert not AlertMatch.objects.exists()
    messages = send_all_emails()
    assert [m.subject for m in messages] == ["Please confirm your TrialFinder alert"]
    assert "/alerts/confirm/" in messages[0].body


def test_the_confirmation_link_activates_only_from_now_on():
    import_study(new_trial_like("NCT05738187", "NCT95738188", seed=True))  # before confirming
    subscription = confirm(subscribe())
    assert subscription.status == SubscriptionStatus.ACTIVE
    alerts.match_new_versions()
    assert not AlertMatch.objects.filter(subscription=subscription).exists()


@pytest.mark.parametrize("token", ["garbage", signing.dumps(10**9, salt="other.salt")])
def test_a_tampered_confirmation_changes_nothing(client, token):
    subscription = subscribe()
    response = client.post(f"/alerts/confirm/{token}/")
    assert response.status_code == 400
    assert "This link does not work" in response.content.decode()
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.PENDING


def test_an_expired_confirmation_changes_nothing(client):
    subscription = subscribe()
    token = alerts.confirm_token(subscription)
    with time_machine.travel(timezone.now() + datetime.timedelta(days=8)):
        assert client.post(f"/alerts/confirm/{token}/").status_code == 400
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.PENDING


def test_following_the_link_shows_a_button_and_posting_confirms(client):
    subscription = subscribe()
    token = alerts.confirm_token(subscription)
    page = client.get(f"/alerts/confirm/{token}/")
    assert page.status_code == 200 and page["Referrer-Policy"] == "same-origin"
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.PENDING  # a link scanner's GET does nothing
    assert "Your alert is on" in client.post(f"/alerts/confirm/{token}/").content.decode()
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE


def test_unconfirmed_subscriptions_expire_after_seven_days():
    subscribe()
    with time_machine.travel(timezone.now() + datetime.timedelta(days=7, hours=1)):
        assert alerts.expire_unconfirmed() == 1
    assert not Subscription.objects.exists()
    assert not Subscriber.objects.exists()  # the address goes with its last subscription


def test_subscribing_again_does_not_duplicate():
    first = subscribe()
    second = subscribe(email="Alice@Example.org")
    assert first.id == second.id
    assert Subscription.objects.count() == 1
    confirm(first)
    _, sent = alerts.subscription_subscribe(
        email="alice@example.org", language="en", frequency="daily",
        params=params("q=head and neck cancer&near=Strasbourg"),
    )  # fmt: skip
    assert sent is False  # already active: no new confirmation


# --- matching new trials -------------------------------------------------------------------------


def test_a_new_matching_trial_is_matched_once_whatever_the_imports():
    subscription = confirm(subscribe())
    record = new_trial_like("NCT05738187", "NCT95738189", seed=True)
    import_study(record)
    assert alerts.match_new_versions() == 1
    assert alerts.match_new_versions() == 0
    changed = copy.deepcopy(record)
    changed["protocolSection"]["descriptionModule"]["briefSummary"] += " More."
    import_study(changed)
    alerts.match_new_versions()
    # Run matching as if the cursor had been lost: still nothing twice.
    from notifications.models import MatchCursor

    MatchCursor.objects.update(last_version_id=0)
    alerts.match_new_versions()
    assert AlertMatch.objects.filter(subscription=subscription).count() == 1


def test_matching_uses_the_site_search_semantics():
    near = confirm(subscribe("q=head and neck cancer&near=Strasbourg&radius=25"))
    far = confirm(subscribe("q=head and neck cancer&near=Milan&radius=25", email="bea@example.org"))
    other_topic = confirm(subscribe("q=asthma", email="carl@example.org"))
    phase3 = confirm(subscribe("q=head and neck cancer&phase=PHASE3", email="dan@example.org"))
    import_study(new_trial_like("NCT05738187", "NCT95738190", seed=True))  # Strasbourg, phase N/A
    alerts.match_new_versions()
    matched = set(AlertMatch.objects.values_list("subscription_id", flat=True))
    assert matched == {near.id}
    for subscription in (far, other_topic, phase3):
        assert subscription.id not in matched


def test_a_trial_that_opens_is_announced_and_a_closed_new_one_is_not():
    subscription = confirm(subscribe("q=proton therapy"))
    closed = new_trial_like(
        "NCT07635641", "NCT97635641", seed=True, **{"statusModule.overallStatus": "COMPLETED"}
    )
    import_study(closed)
    alerts.match_new_versions()
    assert not AlertMatch.objects.exists()
    reopened = copy.deepcopy(closed)
    reopened["protocolSection"]["statusModule"]["overallStatus"] = "RECRUITING"
    import_study(reopened)
    alerts.match_new_versions()
    (match,) = AlertMatch.objects.filter(subscription=subscription)
    assert match.kind == AlertMatch.Kind.NEW


def test_matching_agrees_with_the_search_for_many_saved_searches():
    queries = [
        "q=cancer", "q=breast cancer&country=US", "q=head and neck cancer&near=Milan",
        "q=lung cancer -metastatic", "phase=PHASE3", "q=diabetes&age=70", "q=asthma or copd",
        "type=OBSERVATIONAL", "q=proton therapy&near=Milan&radius=50", "sex=MALE&q=cancer",
    ]  # fmt: skip
    subscriptions = [
        confirm(subscribe(q, email=f"p{i}@example.org")) for i, q in enumerate(queries)
    ]
    from trials.models import TrialVersion

    Subscription.objects.update(matched_from_version=0)
    from notifications.models import MatchCursor

    MatchCursor.objects.update_or_create(name="alerts", defaults={"last_version_id": 0})
    alerts.match_new_versions()
    for subscription in subscriptions:
        from trials.search import resolve_place, search_trials

        p, _ = resolve_place(params("&".join(f"{k}={v}" for k, v in subscription.query)))
        expected = {h.trial.id for h in search_trials(p, page_size=1000, with_facets=False).hits}
        got = set(
            AlertMatch.objects.filter(subscription=subscription).values_list("trial_id", flat=True)
        )
        # Every trial version here is a first version: matching must find exactly the search.
        assert got == expected, subscription.query
    assert TrialVersion.objects.exists()


# --- trial changes -------------------------------------------------------------------------------


def test_every_change_kind_a_patient_cares_about_is_described():
    trial = Trial.objects.get(nct_id="NCT06256588")
    watcher, _ = alerts.subscription_subscribe(
        email="watch@example.org", language="en", frequency="immediate", trial=trial
    )
    confirm(watcher)
    record = json.loads((DEMO_DATA / "NCT06256588.json").read_text())
    changed = copy.deepcopy(record)
    ps = changed["protocolSection"]
    ps["statusModule"]["overallStatus"] = "ACTIVE_NOT_RECRUITING"
    locations = ps["contactsLocationsModule"]["locations"]
    first = next(loc for loc in locations if loc.get("status") != "RECRUITING")
    first["status"] = "RECRUITING"
    locations.pop()
    locations.append({"facility": "IRCCS Humanitas", "city": "Rozzano", "country": "Italy",
                      "status": "RECRUITING", "geoPoint": {"lat": 45.38, "lon": 9.16}})  # fmt: skip
    ps["eligibilityModule"]["eligibilityCriteria"] += "\n* New criterion"
    ps["eligibilityModule"]["minimumAge"] = "21 Years"
    ps["eligibilityModule"]["sex"] = "FEMALE"
    ps["contactsLocationsModule"]["centralContacts"] = []
    import_study(changed)
    alerts.match_new_versions()
    (match,) = AlertMatch.objects.filter(subscription=watcher)
    assert match.kind == AlertMatch.Kind.CHANGE
    with time_machine.travel(
        timezone.now() + alerts.IMMEDIATE_WINDOW + datetime.timedelta(seconds=1)
    ):
        assert send_digests("immediate") == 1
        (message,) = [
            m
            for m in send_all_emails()
            if "watch@example.org" in m.to and "confirm" not in m.subject
        ]
    body = message.body
    assert "The study is now active, not recruiting (it was recruiting)." in body
    assert f"Site in {first['city']} is now recruiting." in body
    assert "New site in Rozzano (recruiting)." in body
    assert "is no longer listed." in body
    assert "Who can take part has changed: read the criteria again." in body
    assert "The age limits have changed." in body
    assert "Who can take part has changed (sex)." in body
    assert "The contacts of the study have changed." in body


def test_a_change_nobody_cares_about_sends_nothing():
    trial = Trial.objects.get(nct_id="NCT06256588")
    watcher, _ = alerts.subscription_subscribe(
        email="watch@example.org", language="en", frequency="daily", trial=trial
    )
    confirm(watcher)
    record = json.loads((DEMO_DATA / "NCT06256588.json").read_text())
    record["protocolSection"]["descriptionModule"]["briefSummary"] += " (typo fixed)"
    import_study(record)
    alerts.match_new_versions()
    assert not AlertMatch.objects.exists()


# --- digests -------------------------------------------------------------------------------------


def test_a_daily_digest_groups_all_matches_in_one_email_in_the_subscribers_language():
    subscription = confirm(subscribe(language="fr"))
    import_study(new_trial_like("NCT05738187", "NCT95738191", seed=True))
    import_study(new_trial_like("NCT05738187", "NCT95738192", seed=True))
    alerts.match_new_versions()
    assert send_digests("weekly") == 0
    assert send_digests("daily") == 1
    messages = [m for m in send_all_emails() if "/alerts/confirm/" not in m.body]
    (message,) = [m for m in messages if "alice@example.org" in m.to]
    assert "2" in message.subject and "TrialFinder" in message.subject
    assert message.subject != "TrialFinder: 2 updates on trials you follow"  # French, not English
    assert "NCT95738191" in message.body and "NCT95738192" in message.body
    assert "Strasbourg" in message.body
    # The seed site is in Strasbourg itself: "à Strasbourg", not a distance finer than the
    # registry's city-centre geocodes.
    assert "(à Strasbourg)" in message.body
    html = message.alternatives[0][0]
    assert "NCT95738191" in html and 'lang="fr"' in html
    assert AlertMatch.objects.filter(subscription=subscription, sent_at__isnull=True).count() == 0
    assert send_digests("daily") == 0  # nothing left: no second email


def test_as_they_happen_waits_for_the_batch_window():
    confirm(subscribe(frequency=Frequency.IMMEDIATE))
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        import_study(new_trial_like("NCT05738187", "NCT95738193", seed=True))
        alerts.match_new_versions()
        assert alerts.due_subscribers(Frequency.IMMEDIATE) == []
    with time_machine.travel(start + datetime.timedelta(minutes=2), tick=False):
        import_study(new_trial_like("NCT05738187", "NCT95738194", seed=True))
        alerts.match_new_versions()
    with time_machine.travel(start + alerts.IMMEDIATE_WINDOW + datetime.timedelta(seconds=1)):
        assert send_digests(Frequency.IMMEDIATE) == 1
        digests = [m for m in send_all_emails() if "confirm" not in m.subject.lower()]
    assert len(digests) == 1 and "NCT95738194" in digests[0].body


def test_the_beat_task_fans_out_one_digest_task_per_due_subscriber(monkeypatch):
    from notifications.tasks import send_digest

    dispatched = []
    monkeypatch.setattr(send_digest, "delay", lambda *args: dispatched.append(args))
    first = confirm(subscribe())
    second = confirm(subscribe(email="bea@example.org"))
    import_study(new_trial_like("NCT05738187", "NCT95738197", seed=True))
    alerts.match_new_versions()
    assert send_due_digests("daily") == 2
    assert sorted(dispatched) == sorted(
        [(first.subscriber_id, "daily"), (second.subscriber_id, "daily")]
    )


def test_a_digest_task_run_twice_sends_once():
    subscription = confirm(subscribe())
    import_study(new_trial_like("NCT05738187", "NCT95738195", seed=True))
    alerts.match_new_versions()
    first = alerts.digest_send(subscriber_id=subscription.subscriber_id, frequency="daily")
    second = alerts.digest_send(subscriber_id=subscription.subscriber_id, frequency="daily")
    assert first is not None and second is None


def test_every_alert_email_has_one_click_unsubscribe(client):
    subscription = confirm(subscribe())
    import_study(new_trial_like("NCT05738187", "NCT95738196", seed=True))
    alerts.match_new_versions()
    alerts.digest_send(subscriber_id=subscription.subscriber_id, frequency="daily")
    (message,) = [m for m in send_all_emails() if "confirm" not in m.subject.lower()]
    header = message.extra_headers["List-Unsubscribe"]
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.fullmatch(r"<(https?://[^>]+)>", " ".join(header.split())).group(1)
    assert url in message.body  # the visible link too
    path = url.replace("http://testserver", "")
    # RFC 8058: a POST with this body, no cookies, no CSRF token, no page.
    response = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and response.content == b""
    assert not Subscription.objects.filter(id=subscription.id).exists()
    again = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200  # idempotent
    assert client.get(path)["Referrer-Policy"] == "same-origin"


def test_a_tampered_unsubscribe_link_changes_nothing(client):
    subscription = confirm(subscribe())
    response = client.post("/alerts/unsubscribe/not-a-token/", {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 400
    assert Subscription.objects.filter(id=subscription.id).exists()


# --- managing ------------------------------------------------------------------------------------


def test_manage_lists_changes_frequency_pauses_and_deletes(client):
    first = confirm(subscribe())
    second = confirm(subscribe("q=asthma"))
    url = f"/alerts/manage/{alerts.manage_token(first.subscriber)}/"
    page = client.get(url)
    assert page.status_code == 200 and page["Referrer-Policy"] == "same-origin"
    html = page.content.decode()
    assert "head and neck cancer" in html and "asthma" in html
    client.post(url, {"action": "frequency", "subscription": first.id, "frequency": "weekly"})
    client.post(url, {"action": "pause", "subscription": second.id})
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.frequency == "weekly" and second.status == SubscriptionStatus.PAUSED
    client.post(url, {"action": "resume", "subscription": second.id})
    second.refresh_from_db()
    assert second.status == SubscriptionStatus.ACTIVE
    client.post(url, {"action": "delete", "subscription": second.id})
    assert not Subscription.objects.filter(id=second.id).exists()


def test_delete_all_erases_the_email_address(client):
    subscription = confirm(subscribe())
    url = f"/alerts/manage/{alerts.manage_token(subscription.subscriber)}/"
    response = client.post(url, {"action": "delete-all"})
    assert "deleted all your alerts and your email address" in response.content.decode()
    assert not Subscriber.objects.exists()
    assert not OutgoingEmail.objects.filter(to_email="alice@example.org").exists()
    assert client.get(url).status_code == 400


def test_another_subscribers_subscription_cannot_be_touched(client):
    mine = confirm(subscribe())
    theirs = confirm(subscribe(email="bob@example.org"))
    url = f"/alerts/manage/{alerts.manage_token(mine.subscriber)}/"
    response = client.post(url, {"action": "delete", "subscription": theirs.id})
    assert response.status_code == 400
    assert Subscription.objects.filter(id=theirs.id).exists()


def test_a_hard_bounce_pauses_the_subscriptions(client, settings):
    settings.ALERTS_WEBHOOK_SECRET = "s3cret"
    subscription = confirm(subscribe())
    event = json.dumps({"email": "ALICE@example.org", "type": "bounce", "bounce_type": "hard"})
    assert (
        client.post("/alerts/webhook/bounce/", event, content_type="application/json").status_code
        == 403
    )
    response = client.post(
        "/alerts/webhook/bounce/", event, content_type="application/json",
        HTTP_X_WEBHOOK_SECRET="s3cret",
    )  # fmt: skip
    assert response.json() == {"paused": 1}
    subscription.refresh_from_db()
    assert (subscription.status, subscription.paused_reason) == ("paused", "bounce")
    soft = json.dumps({"email": "alice@example.org", "type": "bounce", "bounce_type": "soft"})
    assert client.post("/alerts/webhook/bounce/", soft, content_type="application/json",
                       HTTP_X_WEBHOOK_SECRET="s3cret").json() == {"paused": 0}  # fmt: skip
    assert client.post("/alerts/webhook/bounce/", "nope", content_type="application/json",
                       HTTP_X_WEBHOOK_SECRET="s3cret").status_code == 400  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [
        '{"email": "alice@example.org\\u0000", "type": "bounce"}',  # PostgreSQL refuses NUL
        '{"email": "alice\\ud800@example.org", "type": "bounce"}',  # a lone surrogate
        '{"email": ' + "[" * 5000 + "]" * 5000 + ', "type": "bounce"}',
        '{"email": {"$ne": null}, "type": "complaint"}',
        '{"email": "not an address", "type": "bounce"}',
    ],
    ids=["nul", "surrogate", "deep", "object", "not-an-address"],
)
def test_the_bounce_webhook_refuses_malformed_events_with_400_and_changes_nothing(settings, body):
    from django.test import Client

    settings.ALERTS_WEBHOOK_SECRET = "s3cret"
    subscription = confirm(subscribe())
    response = Client(raise_request_exception=False).post(
        "/alerts/webhook/bounce/", body, content_type="application/json",
        HTTP_X_WEBHOOK_SECRET="s3cret",
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["error"]
    subscription.refresh_from_db()
    assert subscription.status == "active"
