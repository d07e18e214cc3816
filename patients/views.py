"""The patient's pages: contact the nearest study site, the confirmation, and withdrawal.

Patient data travels only in POST bodies (never in URLs) and is never logged; pages a patient
comes back to are addressed by signed tokens, never by an inquiry's sequential id.
"""

import uuid

from django.core import signing
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_safe

from config import ratelimit
from patients import services
from patients.consent import CONSENT_TEXT, CONSENT_VERSION
from patients.forms import ContactForm, PrescreenForm
from patients.models import Inquiry, InquiryStatus, PrescreenQuestion
from trials import geo
from trials.ctgov import NCT_RE
from trials.models import Site, Trial

# Enough for a family contacting a few trials; too few for a flood.
CONTACT_PER_IP = ratelimit.Limit("contact-ip", 5, 3600)
CONTACT_PER_EMAIL = ratelimit.Limit("contact-email", 3, 86400)
SENT_SALT = "patients.sent"
SENT_MAX_AGE = 24 * 3600


def _trial(nct_id: str) -> Trial:
    nct_id = nct_id.upper()
    if not NCT_RE.match(nct_id):
        raise Http404("not an NCT number")
    return get_object_or_404(Trial, nct_id=nct_id)


def _place(near: str) -> geo.Point | None:
    return (geo.parse_coordinates(near) or geo.resolve(near)) if near else None


def recruiting_sites(trial: Trial, point: geo.Point | None) -> list[Site]:
    """The sites a patient may contact: nearest first when a place is known, else in the
    registry's order (so the first recruiting site is preselected)."""
    sites = list(Site.objects.recruiting().filter(trial=trial).order_by("position", "id"))
    for site in sites:
        site.distance_km = (
            geo.haversine_km(point.latitude, point.longitude, site.latitude, site.longitude)
            if point and site.latitude is not None
            else None
        )
    if point:
        sites.sort(key=lambda s: (s.distance_km is None, s.distance_km or 0))
    return sites


def _sent_url(trial: Trial, site: Site) -> str:
    token = signing.dumps(site.pk, salt=SENT_SALT)
    return reverse("patients:sent", args=[trial.nct_id, token])


def _back_query(near: str) -> str:
    return f"?{urlencode({'near': near})}" if near else ""


@sensitive_post_parameters()
@sensitive_variables("form", "data")
@require_http_methods(["GET", "POST"])
def contact(request, nct_id):
    trial = _trial(nct_id)
    near = (request.POST.get("near") or request.GET.get("near", ""))[:200]
    point = _place(near)
    sites = recruiting_sites(trial, point)
    questions = PrescreenQuestion.objects.filter(trial=trial, active=True)
    ctx = {
        "trial": trial,
        "near": near,
        "point": point,
        "back_query": _back_query(near),
        "sites": sites,
        "accepting": trial.is_open and bool(sites),
    }
    if not ctx["accepting"]:
        # Nothing to contact: explain, offer the search; a POST (an old tab) is refused.
        status = 409 if request.method == "POST" else 200
        return render(
            request, "patients/contact.html", {**ctx, "refused": status == 409}, status=status
        )

    initial = {"site": sites[0].pk}
    if request.method == "GET":
        prescreen = PrescreenForm(trial=trial, questions=questions)
        form = ContactForm(trial=trial, sites=sites, initial=initial)
        return render(
            request, "patients/contact.html", {**ctx, "prescreen": prescreen, "form": form}
        )

    prescreen = PrescreenForm(request.POST, trial=trial, questions=questions)
    if request.POST.get("step") == "check":
        # "Check my answers": show the outcome and keep what was typed, without validating it.
        kept = {
            name: request.POST.get(name) for name in ContactForm.base_fields if name in request.POST
        }
        form = ContactForm(trial=trial, sites=sites, initial={**initial, **kept})
        ctx.update(prescreen=prescreen, form=form, outcome=prescreen.snapshot().get("result"))
        return render(request, "patients/contact.html", ctx)

    form = ContactForm(request.POST, trial=trial, sites=sites)
    if form.is_spam:
        chosen = next((s for s in sites if str(s.pk) == request.POST.get("site")), sites[0])
        return redirect(_sent_url(trial, chosen))
    if not (form.is_valid() and prescreen.is_valid()):
        ctx.update(prescreen=prescreen, form=form, outcome=prescreen.snapshot().get("result"))
        return render(request, "patients/contact.html", ctx)

    data = form.cleaned_data
    verdict = ratelimit.check(
        [
            (CONTACT_PER_IP, ratelimit.client_ip(request)),
            (CONTACT_PER_EMAIL, data["email"].lower()),
        ]
    )
    if not verdict.allowed:
        return ratelimit.too_many_requests(request, verdict)
    try:
        services.inquiry_create(
            trial=trial,
            site=data["site"],
            data=data,
            language=get_language() or "en",
            consent_text=str(CONSENT_TEXT),
            consent_version=CONSENT_VERSION,
            prescreen=prescreen.snapshot(),
        )
    except services.InquiryRefused:
        # The site stopped recruiting between the page and the submit.
        form.add_error("site", _("This site stopped taking patients: please choose another."))
        ctx.update(prescreen=prescreen, form=form)
        return render(request, "patients/contact.html", ctx, status=409)
    return redirect(_sent_url(trial, data["site"]))


@require_safe
def sent(request, nct_id, token):
    trial = _trial(nct_id)
    try:
        site_id = signing.loads(token, salt=SENT_SALT, max_age=SENT_MAX_AGE)
    except signing.BadSignature:
        return redirect("patients:contact", nct_id=trial.nct_id)
    site = get_object_or_404(Site, pk=site_id, trial=trial)
    return render(request, "patients/sent.html", {"trial": trial, "site": site})


@sensitive_post_parameters()
@require_http_methods(["GET", "POST"])
def withdraw(request, token):
    try:
        public_id = uuid.UUID(
            signing.loads(
                token,
                salt=services.WITHDRAW_SALT,
                max_age=services.WITHDRAW_MAX_AGE.total_seconds(),
            )
        )
    except (signing.BadSignature, ValueError, TypeError):
        return render(request, "patients/withdraw.html", {"state": "invalid"}, status=400)
    inquiry = Inquiry.objects.select_related("trial", "site").filter(public_id=public_id).first()
    if inquiry is None:
        return render(request, "patients/withdraw.html", {"state": "invalid"}, status=404)
    ctx = {"inquiry": inquiry, "trial": inquiry.trial, "site": inquiry.site}
    if inquiry.is_erased or inquiry.status == InquiryStatus.WITHDRAWN:
        return render(request, "patients/withdraw.html", {**ctx, "state": "done"})
    if request.method == "POST":
        services.inquiry_withdraw(inquiry=inquiry)
        return redirect("patients:withdraw", token=token)
    return render(request, "patients/withdraw.html", {**ctx, "state": "confirm"})
