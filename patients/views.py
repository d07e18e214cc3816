"""The patient's pages: contact the nearest study site, the confirmation, and withdrawal.

Patient data travels only in POST bodies (never in URLs) and is never logged; pages a patient
comes back to are addressed by signed tokens, never by an inquiry's sequential id.
"""

import uuid

from django.core import signing
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.http import urlencode
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_safe

from config import ratelimit
from config.outage import survives_db_outage
from config.privacy import private_page
from patients import alternatives, services, sites
from patients.consent import CONSENT_TEXT, CONSENT_VERSION
from patients.forms import (
    MAY_NOT_BE_ELIGIBLE,
    ContactForm,
    PrescreenForm,
)
from patients.models import (
    EventKind,
    Inquiry,
    InquiryStatus,
    PrescreenQuestion,
    SiteConfirmation,
)
from trials import geo
from trials.models import CoordinatorStatus, Site, Trial
from trials.views import print_page

# Enough for a family contacting a few trials; too few for a flood.
CONTACT_PER_IP = ratelimit.Limit("contact-ip", 5, 3600)
CONTACT_PER_EMAIL = ratelimit.Limit("contact-email", 3, 86400)
SENT_SALT = "patients.sent"
SENT_MAX_AGE = 24 * 3600


def _coarse_place(near: str, point: geo.Point | None) -> str:
    """The place kept with an inquiry (for other trials near it): as typed when we know it;
    a browser's position only to about 10 km, which is all "within 100 km" needs."""
    if point is None:
        return ""
    if geo.parse_coordinates(near):
        return f"{point.latitude:.1f},{point.longitude:.1f}"
    return near


def _sent_url(trial: Trial, site: Site) -> str:
    token = signing.dumps(site.pk, salt=SENT_SALT)
    return reverse("patients:sent", args=[trial.nct_id, token])


def _back_query(near: str) -> str:
    return f"?{urlencode({'near': near})}" if near else ""


@survives_db_outage(shown={"message": ContactForm.base_fields["message"].label})
@sensitive_post_parameters()
@sensitive_variables("form", "data")
@require_http_methods(["GET", "POST"])
def contact(request, nct_id):
    trial = Trial.objects.get_by_nct_or_404(nct_id)
    near = (request.POST.get("near") or request.GET.get("near", ""))[:200]
    point = geo.place(near)
    sites = trial.recruiting_sites(point)
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

    # A new submission key each time the form is shown (see services.submitted).
    initial = {"site": sites[0].pk, "submission_key": uuid.uuid4()}
    if request.method == "GET":
        prescreen = PrescreenForm(trial=trial, questions=questions)
        form = ContactForm(trial=trial, sites=sites, initial=initial)
        return render(
            request, "patients/contact.html", {**ctx, "prescreen": prescreen, "form": form}
        )

    prescreen = PrescreenForm(request.POST, trial=trial, questions=questions)
    outcome = prescreen.snapshot().get("result")
    if outcome == MAY_NOT_BE_ELIGIBLE and ratelimit.search_hit(request).allowed:
        # Other trials for the same condition near the same place, while they still decide
        # (a search: over the search limit the page goes without, never the contact form).
        told = prescreen.snapshot()
        ctx["alternatives"] = alternatives.alternatives_for(
            trial,
            near or alternatives.site_place(sites[0]),
            age=told.get("age"),
            sex=told.get("sex", ""),
        )
    if request.POST.get("step") == "check":
        # "Check my answers": show the outcome and keep what was typed, without validating it.
        kept = {
            name: request.POST.get(name) for name in ContactForm.base_fields if name in request.POST
        }
        form = ContactForm(trial=trial, sites=sites, initial={**initial, **kept})
        ctx.update(prescreen=prescreen, form=form, outcome=outcome)
        return render(request, "patients/contact.html", ctx)

    form = ContactForm(request.POST, trial=trial, sites=sites)
    if form.is_spam:
        chosen = next((s for s in sites if str(s.pk) == request.POST.get("site")), sites[0])
        return redirect(_sent_url(trial, chosen))
    if not (form.is_valid() and prescreen.is_valid()):
        ctx.update(prescreen=prescreen, form=form, outcome=outcome)
        return render(request, "patients/contact.html", ctx)

    data = form.cleaned_data
    done = services.submitted(data["submission_key"])
    if done is not None:
        # This very form was saved already: sent again after a database restart (by the retry
        # here or "Try again" on the 503 page) or by a double click. Not counted twice.
        return redirect(_sent_url(trial, done.inquiry.site))
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
            near=_coarse_place(near, point),
            submission_key=data["submission_key"],
        )
    except services.InquiryRefused:
        # The site stopped recruiting between the page and the submit.
        form.add_error("site", _("This site stopped taking patients: please choose another."))
        ctx.update(prescreen=prescreen, form=form)
        return render(request, "patients/contact.html", ctx, status=409)
    return redirect(_sent_url(trial, data["site"]))


@require_safe
def sent(request, nct_id, token):
    trial = Trial.objects.get_by_nct_or_404(nct_id)
    try:
        site_id = signing.loads(token, salt=SENT_SALT, max_age=SENT_MAX_AGE)
    except signing.BadSignature:
        return redirect("patients:contact", nct_id=trial.nct_id)
    site = get_object_or_404(Site, pk=site_id, trial=trial)
    return render(request, "patients/sent.html", {"trial": trial, "site": site})


@private_page
@survives_db_outage
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


# --- the patient's status page ------------------------------------------------------------

# Each status in a patient's words, with what happens next.
PATIENT_STATUS: dict[str, tuple[Promise, Promise]] = {
    InquiryStatus.NEW: (
        gettext_lazy("Sent to the research team"),
        gettext_lazy(
            "The research team has your message. They usually contact you within a few working "
            "days, by phone or email."
        ),
    ),
    InquiryStatus.CONTACTED: (
        gettext_lazy("The research team has been in touch"),
        gettext_lazy(
            "They talk with you about the trial. If you missed their call, check your phone "
            "messages and your spam folder."
        ),
    ),
    InquiryStatus.PRESCREENING: (
        gettext_lazy("The team is checking whether the trial suits you"),
        gettext_lazy("They may ask you about your health and the treatments you have had."),
    ),
    InquiryStatus.REFERRED: (
        gettext_lazy("Screening visit"),
        gettext_lazy(
            "At the screening visit, the team checks with you whether you can take part and "
            "explains what the trial involves. Taking part is still your choice."
        ),
    ),
    InquiryStatus.ENROLLED: (
        gettext_lazy("You are taking part in the trial"),
        gettext_lazy(
            "The research team is your contact for everything about the trial. You can stop "
            "at any time."
        ),
    ),
    InquiryStatus.NOT_ELIGIBLE: (
        gettext_lazy("This trial is not the right one for you"),
        gettext_lazy(
            "The research team found that you cannot take part in this trial. Other trials may "
            "suit you: see below."
        ),
    ),
    InquiryStatus.DECLINED: (
        gettext_lazy("You decided not to take part"),
        gettext_lazy("This is entirely your choice. You can look for other trials at any time."),
    ),
    InquiryStatus.UNREACHABLE: (
        gettext_lazy("The research team could not reach you"),
        gettext_lazy(
            "If you are still interested, send a new message from the trial's page and check "
            "your phone number and email address."
        ),
    ),
    InquiryStatus.WITHDRAWN: (
        gettext_lazy("Withdrawn"),
        gettext_lazy("You withdrew your inquiry and your details were erased."),
    ),
}
PATIENT_EVENTS: dict[str, Promise] = {
    EventKind.SUBMITTED: gettext_lazy("You sent your message to the research team"),
    EventKind.REPLY: gettext_lazy("The research team wrote to you by email"),
    EventKind.REMINDED: gettext_lazy("No answer yet: we reminded the research team"),
    EventKind.ESCALATED: gettext_lazy("No answer yet: the TrialFinder team is chasing it"),
    EventKind.WITHDRAWN: gettext_lazy("You withdrew your inquiry"),
}


def patient_timeline(inquiry: Inquiry) -> list[dict]:
    """What the patient may see of the timeline: dates and status moves, never notes, reply
    texts, emails or who did it."""
    shown = []
    for event in inquiry.events.all():
        label: Promise | None = None
        if event.kind == EventKind.STATUS_CHANGE:
            label = (
                PATIENT_STATUS[event.to_status][0] if event.to_status in PATIENT_STATUS else None
            )
        else:
            label = PATIENT_EVENTS.get(event.kind)
        if label:
            shown.append({"date": event.created_at, "label": label})
    return shown


def _status_inquiry(token: str) -> Inquiry | None:
    return services.inquiry_from_token(
        token, salt=services.STATUS_SALT, max_age=services.STATUS_MAX_AGE
    )


def _status_invalid(request):
    return render(request, "patients/status.html", {"state": "invalid"}, status=400)


@private_page
@require_safe
def status(request, token):
    """The patient's own inquiry, from the signed link in their emails: one inquiry, nothing
    else; after withdrawal or erasure, only that it is closed."""
    inquiry = _status_inquiry(token)
    if inquiry is None:
        return _status_invalid(request)
    if inquiry.is_erased or inquiry.status == InquiryStatus.WITHDRAWN:
        return render(request, "patients/status.html", {"state": "gone"})
    label, next_step = PATIENT_STATUS[inquiry.status]
    ctx = {
        "state": "open",
        "inquiry": inquiry,
        "trial": inquiry.trial,
        "site": inquiry.site,
        "status_label": label,
        "next_step": next_step,
        "timeline": patient_timeline(inquiry),
        "token": token,
        "withdraw_token": services.withdraw_token(inquiry),
    }
    if inquiry.status == InquiryStatus.NOT_ELIGIBLE and ratelimit.search_hit(request).allowed:
        found = alternatives.alternatives_for_inquiry(inquiry)
        ctx["alternatives"] = found
        if found is not None:
            ctx["one_click_token"] = alternatives.one_click_token(inquiry, found.params)
    return render(request, "patients/status.html", ctx)


@private_page
@require_safe
def status_print(request, token):
    """The printable trial summary with the answers the patient gave with this inquiry."""
    inquiry = _status_inquiry(token)
    if inquiry is None:
        return _status_invalid(request)
    if inquiry.is_erased or inquiry.status == InquiryStatus.WITHDRAWN:
        return render(request, "patients/status.html", {"state": "gone"})
    near = inquiry.near or alternatives.site_place(inquiry.site)
    answers = inquiry.prescreen.get("answers", [])
    return print_page(request, inquiry.trial, near, answers)


@sensitive_variables("prescreen")
def print_answers(request, trial: Trial) -> list[dict]:
    """The pre-screening answers the contact page posts to the printable summary
    (trials.views.trial_print, which shows them: registered in PatientsConfig.ready())."""
    questions = PrescreenQuestion.objects.filter(trial=trial, active=True)
    prescreen = PrescreenForm(request.POST, trial=trial, questions=questions)
    return prescreen.snapshot().get("answers", [])


# --- a coordinator confirms a site from the monthly email -------------------------------------


@private_page
@survives_db_outage
@require_http_methods(["GET", "POST"])
def site_confirm(request, token):
    """GET shows the three buttons (mail scanners follow links; they do not press buttons);
    POST records what the coordinator chose."""
    found = sites.read_confirm_token(token)
    if found is None:
        return render(request, "patients/site_confirm.html", {"state": "invalid"}, status=400)
    site, user = found
    ctx = {"state": "ask", "site": site, "trial": site.trial, "choices": CoordinatorStatus}
    if request.method == "POST":
        chosen = request.POST.get("status", "")
        if chosen not in sites.CHOICES:
            return render(request, "patients/site_confirm.html", ctx, status=400)
        site = sites.site_confirm(
            site=site, user=user, status=chosen, via=SiteConfirmation.Via.EMAIL
        )
        ctx.update(state="done", site=site)
    return render(request, "patients/site_confirm.html", ctx)
