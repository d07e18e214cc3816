"""Private notes: the forms that keep them without JavaScript (in the trial page's cookie), and
sharing them through a passcode-protected link (created and opened by notes.js)."""

import base64
import math

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST, require_safe

from config.jsonbody import BadJSON, loads_object
from config.outage import survives_db_outage
from config.privacy import private_page
from config.ratelimit import Limit, check, client_ip
from notes import cookies
from notes import services as notes
from notes.forms import MALFORMED, TOO_LARGE, NoteForm, ShareForm
from trials.models import Trial

# Per visitor, on top of the per-link limits of notes.notes_share_open.
SHARE_CREATE_PER_IP = Limit("notes-share-ip", 20, 3600)
OPEN_PER_IP = Limit("notes-open-ip", 20, 900)
# Base64 inflates by 4/3; the rest of the JSON is small.
MAX_SHARE_BODY = notes.MAX_CIPHERTEXT_BYTES * 4 // 3 + 4096
MAX_OPEN_BODY = 1024


# --- notes without JavaScript (kept in a cookie) --------------------------------------------


def _back_to_notes(request, trial, kept: list[dict]):
    response = redirect(trial.get_absolute_url() + "#my-notes")
    cookies.set_notes_cookie(response, request, trial.nct_id, trial.get_absolute_url(), kept)
    return response


def _note_problem(request, trial, form, kept, problem: str = "", status: int = 400):
    ctx = {
        "trial": trial,
        "form": form,
        "problem": problem,
        "notes": [cookies.note_dates(n) for n in kept],
    }
    response = render(request, "notes/note_problem.html", ctx, status=status)
    add_never_cache_headers(response)
    return response


@sensitive_post_parameters("text", "quote")
@require_POST
def note_add(request, nct_id):
    trial = Trial.objects.get_by_nct_or_404(nct_id)
    kept = cookies.read_cookie_notes(request, trial.nct_id)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _note_problem(request, trial, form, kept)
    if len(kept) >= notes.MAX_NOTES:
        problem = _("You can keep at most %(count)s notes on a trial. Delete one first.") % {
            "count": notes.MAX_NOTES
        }
        return _note_problem(request, trial, form, kept, problem)
    candidate = [*kept, cookies.new_note(**form.cleaned_data)]
    if not cookies.cookie_fits(candidate):
        problem = _(
            "Without JavaScript, this browser can keep about 2,000 characters of notes per "
            "trial, and this note does not fit. Shorten it, delete an older note, or turn on "
            "JavaScript to keep more."
        )
        return _note_problem(request, trial, form, kept, problem, status=413)
    messages.success(request, _("Your note is kept in this browser."))
    return _back_to_notes(request, trial, candidate)


@sensitive_post_parameters("text", "quote")
@require_POST
def note_edit(request, nct_id, note_id):
    trial = Trial.objects.get_by_nct_or_404(nct_id)
    kept = cookies.read_cookie_notes(request, trial.nct_id)
    note = next((n for n in kept if n["id"] == note_id), None)
    if note is None:
        messages.info(request, _("This note was already deleted."))
        return _back_to_notes(request, trial, kept)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _note_problem(request, trial, form, kept)
    edited = [
        {**n, "text": form.cleaned_data["text"], "updated": cookies.now_iso()} if n is note else n
        for n in kept
    ]
    if not cookies.cookie_fits(edited):
        problem = _(
            "Without JavaScript, this browser can keep about 2,000 characters of notes per "
            "trial, and the note does not fit any more. Shorten it or delete an older note."
        )
        return _note_problem(request, trial, form, kept, problem, status=413)
    messages.success(request, _("Your note is updated."))
    return _back_to_notes(request, trial, edited)


@require_POST
def note_delete(request, nct_id, note_id):
    trial = Trial.objects.get_by_nct_or_404(nct_id)
    kept = [n for n in cookies.read_cookie_notes(request, trial.nct_id) if n["id"] != note_id]
    messages.success(request, _("The note is deleted."))
    return _back_to_notes(request, trial, kept)


# --- sharing ---------------------------------------------------------------------------------


def _json_error(message, status: int, retry_after: int = 0, **extra):
    response = JsonResponse({"error": str(message), **extra}, status=status)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def _minutes(seconds: int) -> int:
    return max(1, math.ceil(seconds / 60))


_TOO_LARGE_BODY = object()


def _json_body(request, max_bytes: int):
    """The request's JSON object; _TOO_LARGE_BODY when over max_bytes; None when malformed."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if length > max_bytes:
        return _TOO_LARGE_BODY
    try:
        return loads_object(request.body)
    except BadJSON:
        return None


def _gone(request, status=404, disabled=False):
    return render(request, "notes/shared_notes_gone.html", {"disabled": disabled}, status=status)


@private_page
@survives_db_outage(json=True)
@require_POST
def share_create(request):
    verdict = check([(SHARE_CREATE_PER_IP, client_ip(request))])
    if not verdict.allowed:
        minutes = _minutes(verdict.retry_after)
        message = ngettext(
            "You created many links in a short time. Please try again in %(minutes)s minute.",
            "You created many links in a short time. Please try again in %(minutes)s minutes.",
            minutes,
        ) % {"minutes": minutes}
        return _json_error(message, 429, verdict.retry_after)
    data = _json_body(request, MAX_SHARE_BODY)
    if data is _TOO_LARGE_BODY:
        return _json_error(TOO_LARGE, 413)
    if data is None:
        return _json_error(MALFORMED, 400)
    form = ShareForm(data)
    if not form.is_valid():
        status = 413 if form.has_error("ciphertext", "too_large") else 400
        return _json_error(form.first_error(), status)
    trial = Trial.objects.filter(nct_id=form.cleaned_data["nct_id"]).first()
    if trial is None:
        return _json_error(_("This trial is not in TrialFinder any more."), 400)
    share, token = notes.notes_share_create(
        trial=trial,
        ciphertext=form.cleaned_data["ciphertext"],
        iv=form.cleaned_data["iv"],
        salt=form.cleaned_data["salt"],
        iterations=form.cleaned_data["iterations"],
        verifier=form.cleaned_data["verifier"],
        expires_days=form.cleaned_data["expires_days"],
    )
    url = request.build_absolute_uri(reverse("notes:shared", args=[token]))
    return JsonResponse({"url": url, "expires_at": share.expires_at.isoformat()}, status=201)


@private_page
@require_safe
def shared_notes(request, token):
    share = notes.find_share(token)
    if share is None:
        return _gone(request)
    if share.is_disabled:
        return _gone(request, status=410, disabled=True)
    trial = share.trial
    inclusion, exclusion = trial.eligibility_lists
    ctx = {
        "trial": trial,
        "inclusion": inclusion,
        "exclusion": exclusion,
        "salt": base64.b64encode(bytes(share.salt)).decode(),
        "iterations": share.iterations,
        "expires_at": share.expires_at,
        "open_url": reverse("notes:shared-open", args=[token]),
    }
    return render(request, "notes/shared_notes.html", ctx)


@private_page
@require_POST
def shared_notes_open(request, token):
    verdict = check([(OPEN_PER_IP, client_ip(request))])
    if not verdict.allowed:
        minutes = _minutes(verdict.retry_after)
        message = ngettext(
            "Too many passcodes were tried from your connection. "
            "Please try again in %(minutes)s minute.",
            "Too many passcodes were tried from your connection. "
            "Please try again in %(minutes)s minutes.",
            minutes,
        ) % {"minutes": minutes}
        return _json_error(message, 429, verdict.retry_after)
    share = notes.find_share(token)
    if share is None:
        return _json_error(_("This link has expired or does not exist."), 404)
    data = _json_body(request, MAX_OPEN_BODY)
    verifier = None
    if isinstance(data, dict):
        verifier = notes.b64decode_exact(
            data.get("verifier"), min_bytes=notes.VERIFIER_BYTES, max_bytes=notes.VERIFIER_BYTES
        )
    if verifier is None:
        return _json_error(MALFORMED, 400)

    opening = notes.notes_share_open(share_id=share.pk, verifier=verifier)
    if opening.outcome == "open":
        shared = opening.share
        body = {
            "ciphertext": base64.b64encode(bytes(shared.ciphertext)).decode(),
            "iv": base64.b64encode(bytes(shared.iv)).decode(),
        }
        return JsonResponse(body)
    if opening.outcome == "wrong":
        message = ngettext(
            "Wrong passcode. After %(count)s more wrong passcode, this link will be locked "
            "for 15 minutes.",
            "Wrong passcode. After %(count)s more wrong passcodes, this link will be locked "
            "for 15 minutes.",
            opening.remaining,
        ) % {"count": opening.remaining}
        return _json_error(message, 403, remaining=opening.remaining)
    if opening.outcome == "locked":
        minutes = _minutes(opening.retry_after)
        message = ngettext(
            "Too many wrong passcodes: this link is locked. Try again in %(minutes)s minute.",
            "Too many wrong passcodes: this link is locked. Try again in %(minutes)s minutes.",
            minutes,
        ) % {"minutes": minutes}
        return _json_error(message, 429, opening.retry_after, remaining=0)
    if opening.outcome == "disabled":
        return _json_error(
            _(
                "This link no longer works: too many wrong passcodes were tried. "
                "Ask the person who shared it for a new link."
            ),
            410,
        )
    return _json_error(_("This link has expired or does not exist."), 404)
