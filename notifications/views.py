"""Alerts without an account: subscribe, confirm, manage, unsubscribe; the bounce webhook and
the Atom feed of any search."""

import hmac
import logging
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpResponse, HttpResponseForbidden, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from config import ratelimit
from config.db import replica_reads
from config.jsonbody import BadJSON, loads_object
from config.outage import survives_db_outage
from config.privacy import private_page
from notifications import alerts, one_click
from notifications.forms import AlertForm, FrequencyForm
from notifications.models import Subscription, SubscriptionStatus
from trials.ctgov import clean_controls
from trials.models import Trial
from trials.search import parse_params, resolve_place, search_trials

log = logging.getLogger(__name__)

SUBSCRIBE_LIMITS = (
    ratelimit.Limit("subscribe-ip", 10, 3600),
    ratelimit.Limit("subscribe-email", 5, 86400),
)


def _rate_limited(request, email: str):
    ip_limit, email_limit = SUBSCRIBE_LIMITS
    verdict = ratelimit.check(
        [(ip_limit, ratelimit.client_ip(request)), (email_limit, email.lower())]
    )
    return None if verdict.allowed else ratelimit.too_many_requests(request, verdict)


def _initial(request) -> dict:
    return {"language": translation.get_language() or "en"}


def _subscribe(request, form, **target):
    """A valid alert form: rate-limited, then subscribed (double opt-in) to a search or trial."""
    limited = _rate_limited(request, form.cleaned_data["email"])
    if limited:
        return limited
    alerts.subscription_subscribe(
        email=form.cleaned_data["email"],
        language=form.cleaned_data["language"],
        frequency=form.cleaned_data["frequency"],
        **target,
    )
    return redirect("notifications:check-email")


@survives_db_outage(shown={"email": AlertForm.base_fields["email"].label})
@require_http_methods(["GET", "POST"])
def subscribe_search(request):
    source = request.POST if request.method == "POST" else request.GET
    search_data = (
        QueryDict(source.get("search", ""), mutable=False) if "search" in source else source
    )
    params, _errors = parse_params(search_data)
    params, _ = resolve_place(params)
    form = AlertForm(request.POST or None, initial=_initial(request))
    if request.method == "POST" and form.is_valid():
        return _subscribe(request, form, params=params)
    # The page shows how many trials match: a search, under the same limit as all others.
    limited = ratelimit.search_limited(request)
    if limited:
        return limited
    preview = Subscription(query=params.to_query(), kind=Subscription.Kind.SEARCH)
    if params.point:
        preview.place_label = params.point.label
        preview.radius_km = params.radius_km
    ctx = {
        "form": form,
        "search": urlencode(params.to_query()),
        "description": alerts.describe_subscription(preview, translation.get_language()),
        "count": search_trials(params, with_facets=False, page_size=1).count,
    }
    return render(request, "notifications/subscribe.html", ctx, status=400 if form.errors else 200)


@survives_db_outage(shown={"email": AlertForm.base_fields["email"].label})
@require_http_methods(["GET", "POST"])
def subscribe_trial(request, nct_id):
    trial = Trial.objects.get_by_nct_or_404(nct_id)
    form = AlertForm(request.POST or None, initial=_initial(request))
    if request.method == "POST" and form.is_valid():
        return _subscribe(request, form, trial=trial)
    return render(
        request,
        "notifications/watch.html",
        {"form": form, "trial": trial},
        status=400 if form.errors else 200,
    )


def check_email(request):
    return render(
        request,
        "notifications/check_email.html",
        {"confirm_days": alerts.CONFIRM_MAX_AGE.days},
    )


@private_page
@survives_db_outage
@require_http_methods(["GET", "POST"])
def confirm(request, token):
    """GET shows a button; POST confirms (mail scanners follow links, they do not press)."""
    if request.method == "POST":
        subscription = alerts.subscription_confirm(token)
        if subscription is None:
            return _invalid_link(request)
        manage_url = reverse(
            "notifications:manage", args=[alerts.manage_token(subscription.subscriber)]
        )
        return render(
            request,
            "notifications/confirmed.html",
            {"subscription": subscription, "manage_url": manage_url},
        )
    return render(request, "notifications/confirm.html", {"token": token})


def _invalid_link(request):
    return render(
        request,
        "notifications/invalid_link.html",
        {"confirm_days": alerts.CONFIRM_MAX_AGE.days},
        status=400,
    )


@private_page
@survives_db_outage
@require_http_methods(["GET", "POST"])
def manage(request, token):
    subscriber = alerts.subscriber_from_token(token)
    if subscriber is None:
        return _invalid_link(request)
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "delete-all":
            alerts.subscriber_erase(subscriber)
            return render(request, "notifications/erased.html")
        if action == "new-link":
            return redirect("notifications:manage", token=alerts.subscriber_renew_links(subscriber))
        subscription = subscriber.subscriptions.filter(
            id=_int(request.POST.get("subscription"))
        ).first()
        if subscription is None:
            return _invalid_link(request)
        if action == "delete":
            subscription.delete()
        elif action == "pause":
            subscription.status = SubscriptionStatus.PAUSED
            subscription.paused_reason = "user"
            subscription.save(update_fields=["status", "paused_reason"])
        elif action == "resume" and subscription.status == SubscriptionStatus.PAUSED:
            subscription.status = SubscriptionStatus.ACTIVE
            subscription.paused_reason = ""
            subscription.save(update_fields=["status", "paused_reason"])
        elif action == "frequency":
            form = FrequencyForm(request.POST)
            if form.is_valid():
                subscription.frequency = form.cleaned_data["frequency"]
                subscription.save(update_fields=["frequency"])
        return redirect(request.path)
    subscriptions = [
        {
            "object": s,
            "description": alerts.describe_subscription(s, translation.get_language()),
            "search_url": alerts.search_url(s) if s.kind == Subscription.Kind.SEARCH else "",
        }
        for s in subscriber.subscriptions.select_related("trial")
    ]
    return render(
        request,
        "notifications/manage.html",
        {
            "subscriber": subscriber,
            "subscriptions": subscriptions,
            "frequencies": FrequencyForm().fields["frequency"].choices,
        },
    )


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@private_page
@survives_db_outage
@csrf_exempt  # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" without our cookies
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    if request.method == "POST":
        deleted = alerts.subscriptions_unsubscribe(token)
        if deleted is None:
            return _invalid_link(request)
        if request.POST.get("List-Unsubscribe") == "One-Click":
            return HttpResponse(status=200)
        return render(request, "notifications/unsubscribed.html")
    return render(request, "notifications/unsubscribe.html", {"token": token})


@csrf_exempt  # called by the email provider, authenticated by the shared secret
@require_POST
def bounce_webhook(request):
    """{"email": ..., "type": "bounce" | "complaint", "bounce_type": "hard" | "soft"}"""
    secret = settings.ALERTS_WEBHOOK_SECRET
    given = request.headers.get("X-Webhook-Secret", "")
    if not secret or not hmac.compare_digest(secret.encode(), given.encode()):
        return HttpResponseForbidden("bad secret")
    try:
        event = loads_object(request.body or b"{}")
    except BadJSON as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    email, kind = event.get("email"), event.get("type")
    if not isinstance(email, str) or not isinstance(kind, str):
        return JsonResponse({"error": "expected JSON with email and type (text)"}, status=400)
    try:
        validate_email(email)
    except ValidationError:
        return JsonResponse({"error": "email is not an email address"}, status=400)
    if kind == "complaint" or (kind == "bounce" and event.get("bounce_type", "hard") == "hard"):
        paused = alerts.subscriptions_pause_for_address(email, kind)
        return JsonResponse({"paused": paused})
    return JsonResponse({"paused": 0})


class TextSummaryAtomFeed(Atom1Feed):
    """Atom with each summary as plain text (type="text"): Django's type="html" would make feed
    readers render registry text, which nobody at TrialFinder wrote, as markup."""

    def add_item_elements(self, handler, item):
        super().add_item_elements(handler, {**item, "description": None})
        if item["description"] is not None:
            handler.addQuickElement("summary", item["description"], {"type": "text"})


class SearchFeed(Feed):
    """Atom feed of any search, newest changes first: following a search without email."""

    feed_type = TextSummaryAtomFeed

    def __call__(self, request, *args, **kwargs):
        return ratelimit.search_limited(request) or super().__call__(request, *args, **kwargs)

    def get_object(self, request):
        params, _errors = parse_params(request.GET)
        params, _ = resolve_place(params)
        self.request = request
        return params.without(sort="changed")

    def title(self, params):
        description = alerts.describe_subscription(
            Subscription(query=params.to_query(), kind=Subscription.Kind.SEARCH),
            translation.get_language(),
        )
        return _("TrialFinder: %(search)s") % {"search": description}

    def link(self, params):
        return reverse("trials:search") + "?" + urlencode(params.without(sort="").to_query())

    def subtitle(self, params):
        return _("Clinical trials matching this search, most recently changed first.")

    def items(self, params):
        return [hit.trial for hit in search_trials(params, page_size=50, with_facets=False).hits]

    # The importer cleans control characters, but staff edits and rows imported before it did
    # may still hold one, and XML refuses them: one such trial would fail the whole feed.
    def item_title(self, trial):
        return clean_controls(f"{trial.title} ({trial.get_overall_status_display()})")

    def item_description(self, trial):
        return clean_controls(trial.plain_summary or trial.brief_summary[:1000])

    def item_link(self, trial):
        return trial.get_absolute_url()

    def item_guid(self, trial):
        return f"{settings.SITE_URL}{trial.get_absolute_url()}#v{trial.change_count + 1}"

    def item_updateddate(self, trial):
        return trial.last_changed_at

    def item_pubdate(self, trial):
        return trial.first_seen_at


# Reads only, the same for everyone: from the read replica when there is one.
feed = replica_reads(SearchFeed())


# --- one-click alerts from the "not eligible" email ----------------------------------------


@private_page
@survives_db_outage
@require_http_methods(["GET", "POST"])
def one_click_alert(request, token):
    """A single "Send me alerts" button: the address is the inquiry's, already proven by the
    email that carried the link, so the alert is on at once (no second confirmation)."""
    found = one_click.read_token(token)
    recipient = one_click.recipient(found[0]) if found is not None else None
    if found is None or recipient is None:
        return render(
            request, "notifications/one_click_alert.html", {"state": "invalid"}, status=400
        )
    params = found[1]
    preview = Subscription(query=params.to_query(), kind=Subscription.Kind.SEARCH)
    resolved, _suggestion = resolve_place(params)
    if resolved.point:
        preview.place_label = resolved.point.label
        preview.radius_km = resolved.radius_km
    ctx = {
        "state": "ask",
        "description": alerts.describe_subscription(preview, translation.get_language() or "en"),
    }
    if request.method == "POST":
        subscription, _created = alerts.subscription_subscribe_confirmed(
            email=recipient.email, language=recipient.language, params=params
        )
        ctx.update(
            state="done",
            manage_url=reverse(
                "notifications:manage", args=[alerts.manage_token(subscription.subscriber)]
            ),
        )
    return render(request, "notifications/one_click_alert.html", ctx)
