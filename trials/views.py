"""Patients' pages: the search, a trial, its printable summary, and "learn about trials"."""

import datetime
import functools
import hashlib
from collections.abc import Callable
from functools import partial
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.functional import SimpleLazyObject
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_safe

from config import ratelimit
from config.db import read_connection, replica_reads
from config.privacy import private
from trials import geo
from trials.changes import describe, field_labels, registry_updates
from trials.models import FRESH_DAYS, Contact, Site, Trial
from trials.plain import VERSION as PLAIN_READ_VERSION
from trials.plain import plain_read
from trials.query import understand
from trials.search import (
    DEFAULT_RADIUS_KM,
    RADII_KM,
    parse_page,
    parse_params,
    resolve_place,
    search_trials,
)


@require_safe
@replica_reads
def search(request):
    limited = ratelimit.search_limited(request)
    if limited:
        return limited
    params, errors = parse_params(request.GET, lang=(get_language() or "en")[:2])
    params, _suggestion = resolve_place(params)
    named = _named_trial(params) if "HX-Request" not in request.headers else None
    if named is not None:
        return redirect(named.get_absolute_url())  # the patient typed its NCT id
    page = parse_page(request.GET.get("page"))
    # The results are only computed when the cached results region (full pages) misses.
    result = SimpleLazyObject(functools.cache(lambda: search_trials(params, page=page)))
    query = params.to_query()
    searched = bool(request.GET)
    canonical = urlencode([*query, *([("page", str(page))] if page > 1 else [])])
    ctx = {
        "params": params,
        "result": result,
        "query": query,
        "errors": errors,
        "radii": RADII_KM,
        "default_radius": DEFAULT_RADIUS_KM,
        "searched": searched,
        "widen": SimpleLazyObject(lambda: _widen_links(params, result)),
        "filter_count": _filter_count(params),
        # The page links to itself (feed, language switch) by the search it ran, not by the
        # query string it was sent: a cached page is the same for every spelling of a search.
        "canonical_query": canonical,
        "canonical_path": f"{request.path}?{canonical}" if canonical else request.path,
        "page_key": None if errors else search_page_key(request, params, page, searched),
        "page_ttl": SEARCH_PAGE_SECONDS,
    }
    # htmx swaps only the results; a history restore (the back button) needs the whole page.
    htmx_swap = request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )
    if htmx_swap:
        response = render(request, "trials/_search_region.html", {**ctx, "htmx": True})
    elif ctx["page_key"] and _same_page_for_everyone(request, query_string_in_key=True):
        response = _shared_page(request, f"search_html:{ctx['page_key']}", SEARCH_PAGE_SECONDS,
                                lambda extra: render(request, "trials/search.html",
                                                     {**ctx, **extra}))  # fmt: skip
    else:
        response = render(request, "trials/search.html", ctx)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _named_trial(params) -> Trial | None:
    """The trial whose NCT id is all the words of the search (any case, spaces), if any."""
    if not params.q:
        return None
    understood = understand(params.q, params.lang)
    if len(understood.nct_ids) != 1 or understood.clauses:
        return None
    return Trial.objects.only("nct_id").filter(nct_id=understood.nct_ids[0]).first()


# A rendered results region lives until the next import or site confirmation (the search
# generation) and at most this long: staff edits of a trial's texts show within it.
SEARCH_PAGE_SECONDS = 5 * 60


def search_page_key(request, params, page: int, searched: bool) -> str | None:
    """The cache key of a full search page and its results region: the parsed, normalised
    search only, so that unknown parameters, empty fields and other spellings of one search
    share one entry (keyed on the raw query string, 300 requests with junk parameters stored
    17 MB). None when uncacheable. A page showing refused parameters is not cached at all."""
    from trials.search import search_cache_key

    if request.headers.get("HX-Request") == "true":
        return None
    point = (params.point.latitude, params.point.longitude) if params.point else None
    return search_cache_key("page", params.to_query(), page, searched, point, get_language())


def _widen_links(params, result) -> list[dict]:
    """When nothing (or little) matches: the changes that would find more."""
    if result.count > 5:
        return []
    links = []
    base = dict(params.to_query())
    if params.is_default_statuses:
        links.append(
            {
                "label": _("Include trials that are no longer recruiting"),
                "query": params.without(statuses=()).to_query(),
            }
        )
    if params.point and params.radius_km:
        wider = next((r for r in (25, 50, 100, 250) if r > params.radius_km), None)
        target = params.without(radius_km=wider)
        links.append(
            {
                "label": _("Search within %(km)s km") % {"km": wider}
                if wider
                else _("Search at any distance"),
                "query": target.to_query(),
            }
        )
    filters_on = any(
        (
            params.phases,
            params.study_types,
            params.sex,
            params.healthy_volunteers,
            params.countries,
            params.conditions,
            params.age is not None,
        )
    )
    if filters_on:
        links.append(
            {
                "label": _("Remove the other filters"),
                "query": params.without(
                    phases=(),
                    study_types=(),
                    sex="",
                    healthy_volunteers=False,
                    countries=(),
                    conditions=(),
                    age=None,
                ).to_query(),
            }
        )
    if params.q and result.suggestion:
        links.insert(0, {"label": result.suggestion, "query": [*base.items()], "suggest": True})
    return links


def _filter_count(params) -> int:
    """How many filters the patient set (the "Filters (n)" button on phones)."""
    return sum(
        [
            not params.is_default_statuses,
            params.age is not None,
            bool(params.sex),
            params.healthy_volunteers,
            len(params.phases),
            len(params.study_types),
            len(params.countries),
            len(params.conditions),
        ]
    )


@require_safe
@replica_reads
def detail(request, nct_id):
    # The vectors are the largest columns and the page shows neither.
    trial = Trial.objects.defer("search_vector", "rank_vector").get_by_nct_or_404(nct_id)
    near = request.GET.get("near", "")[:200]
    point = geo.place(near)

    # Everything but the notes panel (and base.html's per-visitor parts) is cached; the lists
    # below are only read when the cache misses.
    data = functools.cache(lambda: _detail_data(trial, point))
    ctx = {
        "trial": trial,
        "near": near,
        "point": point,
        **{name: SimpleLazyObject(partial(lambda n: data()[n], name)) for name in DETAIL_DATA},
    }
    if near:
        return render(request, "trials/detail.html", ctx)
    ctx["page_key"], ctx["page_ttl"] = trial_page_key(trial, get_language())
    if not _same_page_for_everyone(request):
        return render(request, "trials/detail.html", ctx)
    return _shared_page(
        request,
        f"trial_html:{ctx['page_key']}",
        ctx["page_ttl"],
        lambda extra: render(request, "trials/detail.html", {**ctx, **extra}),
    )


def _shared_page(request, key: str, ttl: int, render_page) -> HttpResponse:
    """A page every visitor without cookies of their own sees alike, but for the CSRF tokens
    of its forms: kept whole with a stand-in token, each response gets the visitor's own
    (measured on a trial page: the full render costs ~16 ms; the cached page, a cache read)."""
    key = f"{key}:{request.get_host()}"
    html = cache.get(key)
    if html is None:
        fresh = render_page({"csrf_token": CSRF_STAND_IN})
        if fresh.status_code != 200:
            return render_page({})
        html = fresh.content
        cache.set(key, html, ttl)
    response = HttpResponse(html.replace(CSRF_STAND_IN_BYTES, get_token(request).encode()))
    patch_vary_headers(response, ["Cookie", "Accept-Language"])
    return response


# Letters only: the csrf_token tag escapes its value, and no page text can contain it by chance.
CSRF_STAND_IN = "TFcsrfSTANDinTOKENxQz7Kp2Wv9Lr4Ht6Ny8Bm3Jc5Dg1Fs0Ak"
CSRF_STAND_IN_BYTES = CSRF_STAND_IN.encode()


def _same_page_for_everyone(request, *, query_string_in_key: bool = False) -> bool:
    """No cookie but the CSRF and language ones (a session means staff or flash messages; the
    notes cookie, notes shown by the server), and no query string unless the key holds it."""
    allowed = {settings.CSRF_COOKIE_NAME, settings.LANGUAGE_COOKIE_NAME}
    return (query_string_in_key or not request.GET) and set(request.COOKIES) <= allowed


DETAIL_DATA = (
    "open_sites",
    "other_sites",
    "site_counts",
    "central_contacts",
    "history",
    "inclusion",
    "exclusion",
    "first_version",
    "registry_updates",
    "plain_read",
)
PAGE_CACHE_SECONDS = 24 * 3600
# Part of every trial page's cache key: change it when the page shows new things (a deploy
# would otherwise serve day-old pages without them).
PAGE_LAYOUT = "fidelity-1"


def trial_page_key(trial: Trial, language: str) -> tuple[str, int]:
    """The cache key of a trial page and how long it may be kept.

    It changes with anything the page shows: the trial row (imports change its hash, change
    count and last_changed_at; staff edit its portal fields), what coordinators said about its
    sites, which of their confirmations are still fresh (FRESH_DAYS), and the language.
    """
    fresh_since = timezone.now() - datetime.timedelta(days=FRESH_DAYS)
    with read_connection().cursor() as cursor:
        cursor.execute(
            """SELECT md5(string_agg(s.id || ':' || s.coordinator_status || ':'
                                     || coalesce(s.status_confirmed_at::text, ''), ','
                                     ORDER BY s.id)),
                      count(*) FILTER (WHERE s.status_confirmed_at >= %s)
                 FROM trials_site s WHERE s.trial_id = %s""",
            [fresh_since, trial.id],
        )
        sites, fresh = cursor.fetchone()
    row = hashlib.sha256()
    for field in Trial._meta.concrete_fields:
        if field.name not in ("search_vector", "rank_vector"):
            row.update(repr(getattr(trial, field.attname)).encode())
    # The plain-language read is computed from the row; its wording has a version of its own.
    key = (
        f"{PAGE_LAYOUT}:{trial.id}:{language}:{row.hexdigest()[:32]}:{sites}:{fresh}"
        f":p{PLAIN_READ_VERSION}"
    )
    return key, PAGE_CACHE_SECONDS


def _detail_data(trial: Trial, point) -> dict:
    sites = list(Site.objects.filter(trial=trial, removed_at__isnull=True))
    for site in sites:
        site.distance_km = (
            geo.haversine_km(point.latitude, point.longitude, site.latitude, site.longitude)
            if point and site.latitude is not None and site.longitude is not None
            else None
        )
    open_sites = [s for s in sites if s.is_recruiting]
    other_sites = [s for s in sites if not s.is_recruiting]
    # Recruiting sites first, then not-yet-recruiting ones (both are "open"), each nearest first
    # when the patient gave a place: the first site listed must be one that takes patients now.
    if point:
        open_sites.sort(
            key=lambda s: (s.status != "RECRUITING", s.distance_km is None, s.distance_km or 0)
        )
        other_sites.sort(key=lambda s: (s.distance_km is None, s.distance_km or 0))
    else:
        open_sites.sort(key=lambda s: (s.status != "RECRUITING", s.country, s.city, s.facility))
        other_sites.sort(key=lambda s: (s.country, s.city, s.facility))

    # Contact details are never printed: the page only says which channels exist (masked),
    # so the values themselves never reach the template.
    central_contacts: list[dict[str, bool]] = []
    site_channels: dict[int, dict] = {}
    for site_id, phone, email in Contact.objects.filter(trial=trial).values_list(
        "site_id", "phone", "email"
    ):
        channels = {"phone": bool(phone.strip()), "email": bool(email.strip())}
        if site_id is None:
            central_contacts.append(channels)
        else:
            known = site_channels.setdefault(site_id, {"count": 0, "phone": False, "email": False})
            known["count"] += 1
            known["phone"] |= channels["phone"]
            known["email"] |= channels["email"]
    for site in sites:
        site.contact = site_channels.get(site.id)  # type: ignore[attr-defined]
        site.contact_count = site.contact["count"] if site.contact else 0  # type: ignore[attr-defined]

    versions = list(trial.versions.defer("record").order_by("-number"))
    history = [
        {
            "number": v.number,
            "imported_at": v.imported_at,
            "last_update_posted": v.last_update_posted,
            "fields": field_labels(v.changed_fields),
            "changes": [describe(c) for c in v.patient_changes],
        }
        for v in versions
        if v.number > 1
    ]
    inclusion, exclusion = trial.eligibility_lists
    return {
        "open_sites": open_sites,
        "other_sites": other_sites,
        "site_counts": {
            "recruiting": sum(s.status == "RECRUITING" for s in open_sites),
            "not_yet": sum(s.status == "NOT_YET_RECRUITING" for s in open_sites),
            "contacts": bool(central_contacts or site_channels),
        },
        "central_contacts": central_contacts,
        "history": history,
        "inclusion": inclusion,
        "exclusion": exclusion,
        "first_version": versions[-1] if versions else None,
        "registry_updates": registry_updates(
            trial.first_posted, [v.last_update_posted for v in reversed(versions)]
        ),
        "plain_read": plain_read(trial, site_count=len(sites)),
    }


# --- the printable summary ("take it to your doctor") -------------------------------------

PRINT_SITES = 5

# Reads the pre-screening answers the contact page posts to the printable summary. The app
# that asks them (patients) registers it, so that trials never imports it (ARCHITECTURE.md).
PrintAnswersReader = Callable[[HttpRequest, Trial], list[dict]]
_print_answers_readers: list[PrintAnswersReader] = []


def register_print_answers(reader: PrintAnswersReader) -> None:
    """`reader(request, trial)`: the answers a POST to the printable summary carries, as
    shown there. Called by the asking app's AppConfig.ready()."""
    if reader not in _print_answers_readers:
        _print_answers_readers.append(reader)


@sensitive_post_parameters()
@sensitive_variables("answers")
@require_http_methods(["GET", "POST"])
def trial_print(request, nct_id):
    """GET: the trial's summary to take to a doctor. POST (from the contact page): the same,
    with the pre-screening answers just typed, which are shown and never stored or put in a
    URL."""
    trial = Trial.objects.get_by_nct_or_404(nct_id)
    near = (request.POST.get("near") or request.GET.get("near", ""))[:200]
    if request.method == "GET":
        return print_page(request, trial, near, [])
    answers = [answer for read in _print_answers_readers for answer in read(request, trial)]
    # Health answers in the page: never cached, as a private page.
    return private(print_page(request, trial, near, answers))


def print_page(request, trial: Trial, near: str, answers: list[dict]) -> HttpResponse:
    """The printable summary, with the pre-screening `answers` given (also the print of an
    inquiry's status page, patients.views.status_print)."""
    point = geo.place(near)
    inclusion, exclusion = trial.eligibility_lists
    ctx = {
        "trial": trial,
        "near": near,
        "point": point,
        # Recruiting sites before not-yet-recruiting ones, each nearest first: the doctor
        # should see first where the patient can go now.
        "sites": trial.recruiting_sites(point)[:PRINT_SITES] if trial.is_open else [],
        "inclusion": inclusion,
        "exclusion": exclusion,
        "answers": answers,
        "printed_on": timezone.now(),
        "trial_url": request.build_absolute_uri(trial.get_absolute_url()),
        "plain_read": plain_read(trial),
    }
    return render(request, "trials/print.html", ctx)


@require_safe
def learn(request):
    from trials.plain.glossary import terms

    language = (get_language() or "en")[:2]
    glossary = sorted(
        ((t.name, t.explanations.get(language) or t.explanations["en"]) for t in terms()),
        key=lambda row: row[0].casefold(),
    )
    return render(request, "trials/learn.html", {"glossary": glossary})
