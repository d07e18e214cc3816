"""The read-only JSON API (v1), on the same search as the page. Documented at
/api/v1/openapi.json; a test checks every answer against that document."""

import json
from pathlib import Path

from django.http import Http404, JsonResponse
from django.urls import reverse
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from config import ratelimit
from config.db import replica_reads
from trials import geo
from trials.changes import field_labels, registry_updates
from trials.masking import mask_free_text
from trials.models import Trial
from trials.plain import plain_read
from trials.querysets import NotAnNctNumber
from trials.search import parse_params, resolve_place, search_trials

API_PAGE_SIZE = 20


def _error(param: str, message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": {"parameter": param, "message": message}}, status=status)


def _site(site: dict | None) -> dict | None:
    if site is None:
        return None
    return {
        "facility": site["facility"],
        "city": site["city"],
        "state": site["state"],
        "country": site["country"],
        "country_code": site["country_code"],
        "status": site["status"] or None,
        "distance_km": site["distance_km"],
    }


@csrf_exempt  # read-only and cookie-less: other methods get 405, not a CSRF 403
@require_safe
@replica_reads
def trial_list(request):
    limited = ratelimit.search_limited(request)
    if limited:
        response = _error("rate", "too many requests, slow down", status=429)
        response["Retry-After"] = limited["Retry-After"]
        return response
    allowed = {"q", "status", "phase", "type", "country", "condition", "near", "radius_km"}
    allowed |= {"radius", "age", "sex", "healthy", "sort", "page"}
    for name in request.GET:
        if name not in allowed:
            return _error(name, "unknown parameter")
    # The page treats an empty field as "no filter"; the API holds callers to its document.
    for name in ("age", "page", "radius_km", "radius", "healthy", "sex", "sort", "status", "phase"):
        if any(not value.strip() for value in request.GET.getlist(name)):
            return _error(name, "must not be empty")
    for name in ("type", "country"):
        if any(not value.strip() for value in request.GET.getlist(name)):
            return _error(name, "must not be empty")
    params, errors = parse_params(request.GET)
    if errors:
        return _error(errors[0].param, errors[0].message)
    raw_page = request.GET.get("page", "1")
    if not raw_page.isdecimal() or not 1 <= int(raw_page) <= 10_000:
        return _error("page", "must be a whole number from 1")
    page = int(raw_page)
    params, suggestion = resolve_place(params)
    if params.near and not params.point:
        hint = f" (did you mean {suggestion}?)" if suggestion else ""
        return _error("near", f"unknown place{hint}")
    with translation.override("en"):
        result = search_trials(params, page=page, page_size=API_PAGE_SIZE, with_facets=False)
    base = request.build_absolute_uri(reverse("trials:api-list"))
    query = request.GET.copy()

    def page_url(number: int) -> str:
        query["page"] = str(number)
        return f"{base}?{query.urlencode()}"

    body = {
        "count": result.count,
        "results": [
            {
                "nct_id": hit.trial.nct_id,
                "title": hit.trial.title,
                "status": hit.trial.overall_status,
                "phases": hit.trial.phases,
                "conditions": hit.trial.conditions,
                "url": request.build_absolute_uri(hit.trial.get_absolute_url()),
                "nearest_site": _site(hit.nearest_site),
            }
            for hit in (result.hits if page <= result.num_pages else [])
        ],
        "next": page_url(page + 1) if page < result.num_pages else None,
        # Past the last page: no results, and a way back to the last one.
        "previous": page_url(min(page - 1, result.num_pages)) if page > 1 else None,
        "place": (
            {
                "label": params.point.label,
                "latitude": params.point.latitude,
                "longitude": params.point.longitude,
            }
            if params.point
            else None
        ),
    }
    return JsonResponse(body, json_dumps_params={"ensure_ascii": False})


@csrf_exempt
@require_safe
@replica_reads
def trial_detail(request, nct_id):
    try:
        trial = Trial.objects.get_by_nct_or_404(nct_id)
    except NotAnNctNumber:
        return _error("nct_id", "must be an NCT number like NCT01234567")
    except Http404:
        return _error("nct_id", "no such trial", status=404)
    near = request.GET.get("near", "")[:200]
    point = geo.place(near)
    if near and not point:
        return _error("near", "unknown place")
    sites = _sites(trial, point)
    version_rows = list(trial.versions.defer("record").order_by("number"))
    updates, complete = registry_updates(
        trial.first_posted, [v.last_update_posted for v in version_rows]
    )
    body = {
        **_identity(trial),
        "interventions": _interventions(trial),
        "arms": _arms(trial),
        "outcomes": {
            "primary": [_outcome(o) for o in trial.primary_outcomes],
            "secondary": [_outcome(o) for o in trial.secondary_outcomes],
        },
        "design": _design(trial),
        "dates": _dates(trial),
        "summary": trial.plain_summary or trial.brief_summary,
        "eligibility": _eligibility(trial),
        "lead_sponsor": trial.lead_sponsor or None,
        "collaborators": trial.collaborators,
        "officials": _officials(trial),
        "central_contacts": _central_contacts(trial),
        "first_posted": _iso(trial.first_posted),
        "last_update_posted": _iso(trial.last_update_posted),
        "first_seen_at": trial.first_seen_at.isoformat(),
        "last_changed_at": trial.last_changed_at.isoformat(),
        "change_count": trial.change_count,
        "registry_updates": {"count": updates, "complete": complete},
        "registry_url": trial.registry_url,
        "url": request.build_absolute_uri(trial.get_absolute_url()),
        "sites": sites,
        "versions": _versions(version_rows),
        "plain_read": _plain_read(request, trial, len(sites)),
    }
    return JsonResponse(body, json_dumps_params={"ensure_ascii": False})


def _identity(trial: Trial) -> dict:
    """What the trial is: its ids, titles, status, phases and what it is about."""
    return {
        "nct_id": trial.nct_id,
        "title": trial.title,
        "brief_title": trial.brief_title,
        "official_title": trial.official_title or None,
        "status": trial.overall_status,
        # Only with status UNKNOWN: the status before it went unverified.
        "last_known_status": trial.last_known_status or None,
        "why_stopped": trial.why_stopped or None,
        "phases": trial.phases,
        "study_type": trial.study_type or None,
        "conditions": trial.conditions,
        "condition_meshes": trial.condition_meshes,
        "keywords": trial.keywords,
    }


def _interventions(trial: Trial) -> list[dict]:
    return [
        {
            "type": i.get("type") or None,
            "name": i.get("name", ""),
            "other_names": i.get("other_names", []),
            "description": i.get("description") or None,
        }
        for i in trial.interventions
    ]


def _arms(trial: Trial) -> list[dict]:
    return [
        {
            "label": a.get("label", ""),
            "type": a.get("type") or None,
            "description": a.get("description") or None,
            "interventions": a.get("interventions", []),
        }
        for a in trial.arm_groups
    ]


def _design(trial: Trial) -> dict:
    return {
        "enrollment": (
            {"count": trial.enrollment_count, "type": trial.enrollment_type or None}
            if trial.enrollment_count is not None
            else None
        ),
        "allocation": trial.allocation or None,
        "masking": trial.masking or None,
        "primary_purpose": trial.primary_purpose or None,
    }


def _dates(trial: Trial) -> dict:
    return {
        "start": _partial_date(trial.start_date, trial.start_date_precision, trial.start_date_type),
        "primary_completion": _partial_date(
            trial.primary_completion_date,
            trial.primary_completion_date_precision,
            trial.primary_completion_date_type,
        ),
        "completion": _partial_date(
            trial.completion_date, trial.completion_date_precision, trial.completion_date_type
        ),
        "first_posted": _iso(trial.first_posted),
        "results_first_posted": _iso(trial.results_first_posted),
        "last_update_posted": _iso(trial.last_update_posted),
    }


def _eligibility(trial: Trial) -> dict:
    return {
        "minimum_age": trial.minimum_age or None,
        "maximum_age": trial.maximum_age or None,
        "sex": trial.sex or None,
        "healthy_volunteers": trial.healthy_volunteers,
        "inclusion": trial.inclusion_criteria,
        "exclusion": trial.exclusion_criteria,
        "criteria_text": trial.eligibility_criteria,
    }


def _officials(trial: Trial) -> list[dict]:
    return [
        {
            "name": mask_free_text(o.get("name", "")),
            "affiliation": mask_free_text(o.get("affiliation", "")) or None,
            "role": o.get("role") or None,
        }
        for o in trial.officials
    ]


def _central_contacts(trial: Trial) -> list[dict]:
    """Which ways of reaching the study team the registry lists; the details never leave the
    portal (the contact form routes messages)."""
    return [
        {"phone": bool(c.phone.strip()), "email": bool(c.email.strip())}
        for c in trial.contacts.filter(site__isnull=True)
    ]


def _sites(trial: Trial, point: geo.Point | None) -> list[dict]:
    """The current sites in the registry's order, nearest first when a place is given."""
    with_contact = set(trial.contacts.filter(site__isnull=False).values_list("site_id", flat=True))
    sites = []
    for site in trial.sites.filter(removed_at__isnull=True).order_by("position"):
        distance = (
            round(
                geo.haversine_km(point.latitude, point.longitude, site.latitude, site.longitude), 1
            )
            if point and site.latitude is not None and site.longitude is not None
            else None
        )
        sites.append(
            {
                "facility": site.facility,
                "city": site.city,
                "state": site.state,
                "postal_code": site.postal_code,
                "country": site.country,
                "country_code": site.country_code,
                "status": site.status or None,
                "latitude": site.latitude,
                "longitude": site.longitude,
                "distance_km": distance,
                "has_contact": site.id in with_contact,
            }
        )
    if point:
        sites.sort(key=lambda s: (s["distance_km"] is None, s["distance_km"] or 0))
    return sites


def _versions(version_rows: list) -> list[dict]:
    """The imported versions, oldest first, with what changed named in English."""
    with translation.override("en"):
        return [
            {
                "number": v.number,
                "imported_at": v.imported_at.isoformat(),
                "last_update_posted": _iso(v.last_update_posted),
                "changed": field_labels(v.changed_fields),
            }
            for v in version_rows
        ]


def _iso(date) -> str | None:
    return date.isoformat() if date else None


def _partial_date(date, precision: str, kind: str) -> dict | None:
    """A registry date as registered: "2024", "2024-03" or "2024-03-05", and its type."""
    if not date:
        return None
    text = {"year": f"{date:%Y}", "month": f"{date:%Y-%m}"}.get(precision, date.isoformat())
    return {"date": text, "type": kind or None}


def _outcome(outcome: dict) -> dict:
    return {
        "measure": outcome.get("measure", ""),
        "time_frame": outcome.get("time_frame") or None,
        "description": outcome.get("description") or None,
    }


def _plain_read(request, trial: Trial, site_count: int) -> dict:
    """The generated read in `?lang=` (en, fr, it), else the request's language, each sentence
    with the fields it came from."""
    wanted = request.GET.get("lang", "")
    language = wanted if wanted in PLAIN_LANGUAGES else (translation.get_language() or "en")[:2]
    read = plain_read(trial, language, site_count=site_count)
    with translation.override(language):
        label = translation.gettext(
            "Our plain-language read of the registry record, made automatically. "
            "Informational only — not medical advice."
        )
    return {"label": label, **read.as_dict()}


PLAIN_LANGUAGES = ("en", "fr", "it")


# The OpenAPI 3.1 document, kept as JSON beside this module; tests check every answer of the
# endpoints above against it.
OPENAPI = json.loads((Path(__file__).with_name("openapi.json")).read_text())


@csrf_exempt
@require_safe
def openapi(request):
    document = {**OPENAPI, "servers": [{"url": request.build_absolute_uri("/").rstrip("/")}]}
    return JsonResponse(document)
