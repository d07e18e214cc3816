"""The one trial search: behind the search page, the JSON API, the Atom feeds and the alerts.

    params = SearchParams.from_query(request.GET)      # or SearchParams(...) in code
    result = search_trials(params, page=2)

Everything is decided in PostgreSQL: full-text match and rank on the stored weighted vector,
filters, the distance to the nearest eligible site, facet counts. Python only builds the SQL.

`filter_sql` is the WHERE clause of a search, written once: the page runs it with its values as
query parameters, the alerts run it with the values read from saved-search columns (so that
100,000 saved searches are matched in one set-based query, with exactly the page's semantics).
"""

import contextlib
import datetime
import hashlib
import logging
import math
import re
import unicodedata
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from django.core.cache import cache
from django.db import connection, connections, transaction
from django.http import QueryDict
from django.utils import timezone

from config.db import read_alias, read_connection
from trials import geo
from trials.countries import country_name
from trials.ctgov import years_to_days
from trials.models import FRESH_DAYS, OPEN_STATUSES, Phase, Sex, StudyType, Trial, TrialStatus
from trials.query import FIELDS, LANGUAGES, Clause, Understood, snippet, understand

if TYPE_CHECKING:
    from django.db.backends.utils import CursorWrapper
    from django_stubs_ext import StrOrPromise

    from trials import engine

log = logging.getLogger(__name__)
PAGE_SIZE = 20
MAX_QUERY_LENGTH = 500  # longer queries are cut: no patient types more, and tsquery cost grows
RADII_KM = (10, 25, 50, 100, 250)
DEFAULT_RADIUS_KM = 100
SORTS = ("relevance", "distance", "updated")
# Rank weights for D (eligibility), C (summaries), B (interventions, broader MeSH), A (titles,
# conditions): a title match must outrank a mention in the eligibility text.
RANK_WEIGHTS = "{0.05, 0.2, 0.4, 1.0}"
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

# A site counts for "near" when it is in the current record, has coordinates, and is recruiting,
# about to, or listed without a status (the registry drops site statuses once a study stops
# recruiting: the sites of a completed trial a patient asked to see have none), unless its
# coordinator told us it is paused or closed (whatever the registry still says).
SITE_ELIGIBLE_SQL = """
    s.removed_at IS NULL AND s.latitude IS NOT NULL
    AND s.status IN ('RECRUITING', 'NOT_YET_RECRUITING', '')
    AND s.coordinator_status IN ('', 'recruiting')
"""
# Relevance of a trial none of whose sites confirmed recruitment within FRESH_DAYS is
# multiplied by this: between two equal matches, the one a site vouches for comes first.
UNCONFIRMED_RANK_FACTOR = 0.8
DISTANCE_SQL = """
    (2 * 6371.0088 * asin(least(1.0, sqrt(
        power(sin(radians(s.latitude - {lat}) / 2), 2)
        + cos(radians({lat})) * cos(radians(s.latitude))
          * power(sin(radians(s.longitude - {lon}) / 2), 2)))))
"""
# Eligible sites within {radius} km of ({lat}, {lon}): by bounding box on their (latitude,
# longitude) index first, then the exact distance.
NEAR_SITES_WHERE = f"""
    {SITE_ELIGIBLE_SQL}
    AND s.latitude BETWEEN {{lat}} - {{radius}} / 111.0 AND {{lat}} + {{radius}} / 111.0
    AND (abs({{lat}}) > 80
         OR abs(s.longitude - {{lon}})
            <= {{radius}} / (111.32 * greatest(cos(radians({{lat}})), 0.01))
         OR abs(s.longitude - {{lon}})
            >= 360 - {{radius}} / (111.32 * greatest(cos(radians({{lat}})), 0.01)))
    AND {DISTANCE_SQL} <= {{radius}}
"""
# Trials whose id is among them. Uncorrelated with `t`, so PostgreSQL hashes it once.
NEAR_SQL = f"t.id IN (SELECT s.trial_id FROM trials_site s WHERE {NEAR_SITES_WHERE})"
# Each of those trials with the distance to its nearest eligible site (the nearest overall:
# it is within the radius when any is), for sorting by distance within a radius.
NEAREST_WITHIN_SQL = f"""
    SELECT s.trial_id, min({DISTANCE_SQL}) AS nearest FROM trials_site s
     WHERE {NEAR_SITES_WHERE} GROUP BY s.trial_id
"""
# The same test, correlated with trial `t` (its few sites by trial_id): for matching saved
# searches, whose place differs on every row, so that the uncorrelated form above would
# rescan the sites around each subscription's place for each candidate trial.
NEAR_PER_TRIAL_SQL = (
    f"EXISTS (SELECT 1 FROM trials_site s WHERE s.trial_id = t.id AND {NEAR_SITES_WHERE})"
)

# name → SQL testing trial `t` against the value expression {v}. Order matters only for reading.
FILTER_TEMPLATES = {
    # ("tsquery", "NCT ids"): the words, or a trial the patient named (see query_sql).
    "query": "t.search_vector @@ {v}",
    "statuses": "t.overall_status = ANY({v})",
    "phases": "t.phases && {v}",
    "study_types": "t.study_type = ANY({v})",
    # A record that does not state a sex ("") restricts nobody we know of: keep it.
    "sex": "t.sex IN ('ALL', '', {v})",
    "healthy_volunteers": "t.healthy_volunteers IS TRUE",
    "countries": "t.country_codes && {v}",
    "conditions": "t.condition_meshes && {v}",
    "age_days": (
        "(t.minimum_age_days IS NULL OR t.minimum_age_days <= {v})"
        " AND (t.maximum_age_days IS NULL OR t.maximum_age_days >= {v})"
    ),
    "near": NEAR_SQL,
}


def filter_sql(
    refs: dict[str, Any], *, optional: bool = False, near_per_trial: bool = False
) -> str:
    """The WHERE clause for trial `t`, reading each filter's value from `refs[name]`.

    Only filters present in `refs` apply. With `optional`, each filter applies only when its
    value is not NULL (saved searches, whose columns hold NULL for "no filter"). With
    `near_per_trial`, the distance is tested on each trial's own sites (NEAR_PER_TRIAL_SQL).
    """
    clauses = []
    for name, template in FILTER_TEMPLATES.items():
        if name not in refs:
            continue
        if name == "query" and isinstance(refs["query"], tuple):
            clause, guard = query_sql(*refs["query"], optional=optional)
            clauses.append(clause)
            continue
        if name == "near":
            lat, lon, radius = refs["near"]
            template = NEAR_PER_TRIAL_SQL if near_per_trial else template
            clause = template.format(lat=lat, lon=lon, radius=radius)
            guard = radius
        else:
            clause = template.format(v=refs[name])
            guard = refs[name]
        clauses.append(f"({guard} IS NULL OR ({clause}))" if optional else f"({clause})")
    return " AND ".join(clauses) or "TRUE"


def query_sql(tsquery: str, nct_ids: str | None, *, optional: bool = False) -> tuple[str, str]:
    """The match of the words (`tsquery`, an SQL tsquery value) or of the trials the patient
    named (`nct_ids`, an SQL text[] value, or None when there are none), as (clause, guard).

    A NULL tsquery matches nothing and NULL ids name no trial (x @@ NULL and x = ANY(NULL) are
    NULL, false in a WHERE clause), so a saved search keeps either in a NULL column. With
    `optional` (saved searches), a search with neither matches every trial.
    """
    if nct_ids is None:
        clause = f"t.search_vector @@ {tsquery}"
        guard = tsquery
    else:
        clause = f"(t.search_vector @@ {tsquery} OR t.nct_id = ANY({nct_ids}))"
        guard = f"{tsquery} IS NULL AND {nct_ids}"
    if optional:
        return f"({guard} IS NULL OR {clause})", guard
    return f"({clause})", guard


# --- parameters ----------------------------------------------------------------------------------


def fold(text: str) -> str:
    """Lower case without accents, keeping search syntax (quotes, "-word", "or")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def clean_text(value: str, limit: int) -> str:
    return " ".join(_CONTROL_RE.sub(" ", value or "").split())[:limit]


@dataclass(frozen=True)
class SearchParams:
    """A validated search. Empty tuples mean "no filter" except statuses (default: open)."""

    q: str = ""
    statuses: tuple[str, ...] = tuple(OPEN_STATUSES)
    phases: tuple[str, ...] = ()
    study_types: tuple[str, ...] = ()
    sex: str = ""  # "", "FEMALE" or "MALE": trials open to that sex
    healthy_volunteers: bool = False
    countries: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    age: int | None = None  # the patient's age in years
    near: str = ""  # what the patient typed, or "lat,lon" from the browser
    radius_km: int | None = DEFAULT_RADIUS_KM  # None = any distance
    sort: str = ""  # "" = the best for the search: relevance, else distance, else updated
    point: geo.Point | None = None  # `near` resolved
    # The language the words are understood in: the page's, or the API's `lang=` (not part of
    # to_query: the page's URL is the same in every language).
    lang: str = "en"
    exact: bool = False  # the words as typed, never corrected ("search instead for ...")

    @property
    def effective_sort(self) -> str:
        if self.sort == "distance" and not self.point:
            return "relevance" if self.q else "updated"
        if self.sort:
            return self.sort
        if self.q:
            return "relevance"
        return "distance" if self.point else "updated"

    @property
    def is_default_statuses(self) -> bool:
        return set(self.statuses) == set(OPEN_STATUSES)

    def without(self, **changes: Unpack["_ParamChanges"]) -> "SearchParams":
        return replace(self, **changes)

    def to_query(self) -> list[tuple[str, str]]:
        """GET parameters that reproduce this search (shareable URLs, alerts, feeds)."""
        pairs: list[tuple[str, str]] = []
        if self.q:
            pairs.append(("q", self.q))
        if not self.statuses:
            pairs.append(("status", "any"))
        elif not self.is_default_statuses:
            pairs.extend(("status", s) for s in self.statuses)
        pairs.extend(("phase", p) for p in self.phases)
        pairs.extend(("type", t) for t in self.study_types)
        if self.sex:
            pairs.append(("sex", self.sex))
        if self.healthy_volunteers:
            pairs.append(("healthy", "1"))
        pairs.extend(("country", c) for c in self.countries)
        pairs.extend(("condition", c) for c in self.conditions)
        if self.age is not None:
            pairs.append(("age", str(self.age)))
        if self.near:
            pairs.append(("near", self.near))
            if self.radius_km != DEFAULT_RADIUS_KM:
                pairs.append(("radius", str(self.radius_km) if self.radius_km else "any"))
        if self.sort:
            pairs.append(("sort", self.sort))
        if self.exact:
            pairs.append(("exact", "1"))
        return pairs


class _ParamChanges(TypedDict, total=False):
    """What SearchParams.without may change: any of its fields (mypy checks these against the
    dataclass through replace())."""

    q: str
    statuses: tuple[str, ...]
    phases: tuple[str, ...]
    study_types: tuple[str, ...]
    sex: str
    healthy_volunteers: bool
    countries: tuple[str, ...]
    conditions: tuple[str, ...]
    age: int | None
    near: str
    radius_km: int | None
    sort: str
    point: geo.Point | None
    lang: str
    exact: bool


class ParamError(ValueError):
    """A parameter the API refuses (the page ignores it and says so)."""

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param
        self.message = message


STATUS_VALUES = {s.value for s in TrialStatus}
PHASE_VALUES = {p.value for p in Phase}
TYPE_VALUES = {t.value for t in StudyType}


def parse_pairs(
    pairs: Iterable[Sequence[object]], *, lang: str = "en"
) -> tuple[SearchParams, list[ParamError]]:
    """A saved search ([key, value] pairs: SearchParams.to_query(), as alerts and signed links
    keep it) → SearchParams, read exactly as the page reads its query string."""
    data = QueryDict(mutable=True)
    for key, value in pairs:
        data.appendlist(str(key), str(value))
    return parse_params(data, lang=lang)


def parse_params(data: QueryDict, *, lang: str = "en") -> tuple[SearchParams, list[ParamError]]:
    """GET data (a QueryDict) → SearchParams and the parameters that were refused. `lang` is
    the language of the words unless the data say `lang=` (the page passes its own).

    Nothing here raises: a bad value is dropped and reported, so the page can still search
    (with a message) and the API can answer 400 naming the parameter.
    """
    read = _Reader(data)
    # Read in this order (arguments are evaluated left to right): the API names the first
    # parameter refused.
    params = SearchParams(
        q=clean_text(data.get("q", ""), MAX_QUERY_LENGTH),
        statuses=_statuses(read),
        phases=read.many("phase", PHASE_VALUES),
        study_types=read.many("type", TYPE_VALUES),
        sex=_sex(read),
        healthy_volunteers=_healthy_volunteers(read),
        countries=_countries(read),
        conditions=tuple(
            dict.fromkeys(clean_text(c, 200) for c in data.getlist("condition")[:20] if c.strip())
        ),
        age=_age(read),
        near=clean_text(data.get("near", ""), 200),
        radius_km=_radius(read),
        exact=read.one("exact", 10).lower() in ("1", "true", "yes"),
        lang=_lang(read, lang),
        sort=_sort(read),
    )
    return params, read.errors


class _Reader:
    """GET data read a parameter at a time, each refusal noted in reading order."""

    def __init__(self, data: QueryDict) -> None:
        self.data = data
        self.errors: list[ParamError] = []

    def refuse(self, name: str, message: str) -> None:
        self.errors.append(ParamError(name, message))

    def one(self, name: str, limit: int, *, default: str = "") -> str:
        """A choice or a number: control characters make it unreadable (refused), not blank."""
        raw = str(self.data.get(name, default))
        if _CONTROL_RE.search(raw):
            self.refuse(name, "contains control characters")
            return ""
        return clean_text(raw, limit)

    def many(self, name: str, allowed: set[str]) -> tuple[str, ...]:
        values: list[str] = []
        for raw in self.data.getlist(name)[:50]:
            for part in str(raw).split(","):
                if _CONTROL_RE.search(part):
                    self.refuse(name, "contains control characters")
                    continue
                value = clean_text(part, 60).upper()
                if not value:
                    continue
                if value in allowed:
                    if value not in values:
                        values.append(value)
                else:
                    self.refuse(name, f"unknown value {value[:30]!r}")
        return tuple(values)


def _statuses(read: _Reader) -> tuple[str, ...]:
    raw_statuses = [clean_text(s, 60).lower() for s in read.data.getlist("status")]
    if "any" in raw_statuses:
        return ()
    if raw_statuses:
        return read.many("status", STATUS_VALUES) or tuple(OPEN_STATUSES)
    return tuple(OPEN_STATUSES)


def _sex(read: _Reader) -> str:
    sex = read.one("sex", 10).upper()
    if sex in ("", "ALL"):
        return ""
    if sex not in (Sex.FEMALE, Sex.MALE):
        read.refuse("sex", "must be FEMALE or MALE")
        return ""
    return sex


def _healthy_volunteers(read: _Reader) -> bool:
    healthy = read.one("healthy", 10).lower()
    if healthy not in ("", "0", "1", "true", "false", "yes", "no"):
        read.refuse("healthy", "must be 1 or 0")
    return healthy in ("1", "true", "yes")


def _countries(read: _Reader) -> tuple[str, ...]:
    import pycountry

    codes: list[str] = []
    for raw in read.data.getlist("country")[:50]:
        for part in str(raw).split(","):
            code = clean_text(part, 10).upper()
            if not code:
                continue
            if len(code) == 2 and (pycountry.countries.get(alpha_2=code) or code == "XK"):
                if code not in codes:
                    codes.append(code)
            else:
                read.refuse("country", f"unknown country code {code[:10]!r}")
    return tuple(codes)


def _age(read: _Reader) -> int | None:
    raw_age = read.one("age", 10)
    if not raw_age:
        return None
    if raw_age.isdecimal() and 0 <= int(raw_age) <= 120:
        return int(raw_age)
    read.refuse("age", "must be a whole number of years from 0 to 120")
    return None


def _radius(read: _Reader) -> int | None:
    raw_radius = read.one("radius", 10, default=read.data.get("radius_km", "")).lower()
    if raw_radius in ("any", "0"):
        return None
    if not raw_radius:
        return DEFAULT_RADIUS_KM
    if raw_radius.isdecimal() and 1 <= int(raw_radius) <= 20000:
        return int(raw_radius)  # the API may ask any distance; the page offers RADII_KM
    read.refuse("radius", "must be a number of kilometres or 'any'")
    return DEFAULT_RADIUS_KM


def _lang(read: _Reader, default: str) -> str:
    raw_lang = read.one("lang", 10).lower()
    if raw_lang and raw_lang not in LANGUAGES:
        read.refuse("lang", f"must be one of {', '.join(LANGUAGES)}")
    return raw_lang if raw_lang in LANGUAGES else (default if default in LANGUAGES else "en")


def _sort(read: _Reader) -> str:
    sort = read.one("sort", 20).lower()
    if sort and sort not in SORTS:
        read.refuse("sort", f"must be one of {', '.join(SORTS)}")
        return ""
    return sort


def parse_page(value: object) -> int:
    """page=-1, page=abc → 1; the caller clamps to the last page."""
    try:
        return max(1, min(int(str(value)[:6]), 10_000))
    except (TypeError, ValueError):
        return 1


def resolve_place(params: SearchParams) -> tuple[SearchParams, str | None]:
    """Resolve `near` to a point; returns (params with point, suggested spelling or None)."""
    if not params.near:
        return params, None
    point = geo.place(params.near)
    if point:
        return params.without(point=point), None
    return params, geo.suggest(params.near)


# --- the understood query → tsquery -------------------------------------------------------

# Where each field of query.FIELDS is in the stored vectors (trigger of migration
# 0009_search_understanding): A titles, acronym, secondary ids, conditions and their MeSH
# terms; B broader MeSH terms, keywords, interventions and their other names, sponsors;
# C summaries and description; D eligibility.
FIELD_WEIGHTS = {
    "ids": "A",
    "title": "A",
    "conditions": "AB",
    "interventions": "B",
    "sponsor": "B",
    "summary": "C",
    "description": "C",
    "eligibility": "D",
}
_LEXEME_RE = re.compile(r"'((?:[^']|'')*)'")


# A clause, its fields as weight labels ("" = all), its phrases as (phraseto_tsquery text, boost).
ClausePhrases = tuple[Clause, str, list[tuple[str, float]]]


@dataclass
class CompiledQuery:
    tsquery: str | None  # what must match (tsquery text), None when only NCT ids were asked
    nct_ids: list[str] = field(default_factory=list)  # trials named: they match and come first
    rank_tsquery: str = ""  # what ranks: the match and the optional clauses
    understood: Understood | None = None
    # For the search index (trials.engine): each clause with its phrases.
    clause_phrases: list[ClausePhrases] = field(default_factory=list)


def _weights(fields: tuple[str, ...]) -> str:
    if set(fields) >= set(FIELDS):
        return ""
    return "".join(sorted({w for f in fields for w in FIELD_WEIGHTS.get(f, "")}))


def compile_query(understood: Understood | str, lang: str = "en") -> CompiledQuery | None:
    """An understood query → tsqueries: each phrase a phrase query (`<->`, `<N>` over
    stopwords, stemmed by PostgreSQL's English configuration), restricted to its clause's
    fields by weight labels ('cancer':AB); the phrases of a clause OR-ed, the clauses AND-ed,
    negated ones with `!`. None when nothing searchable is left (only stopwords).

    A phrase with slop > 0 is matched as its words anywhere in those fields (tsquery has no
    "within N" operator): a superset, never fewer trials.
    """
    if isinstance(understood, str):
        understood = understand(understood, lang)
    phrases = [(c, p) for c in understood.clauses for p in c.phrases]
    if not phrases and not understood.nct_ids:
        return None
    with read_connection().cursor() as cursor:
        cursor.execute(
            """SELECT ARRAY(SELECT CASE WHEN s > 0 THEN plainto_tsquery('english', p)::text
                                        ELSE phraseto_tsquery('english', p)::text END
                              FROM unnest(%s::text[], %s::int[]) WITH ORDINALITY AS x(p, s, n)
                             ORDER BY n)""",
            [[" ".join(p.words) for _c, p in phrases], [p.slop for _c, p in phrases]],
        )
        compiled_phrases = cursor.fetchone()[0] if phrases else []
    by_clause: dict[int, list[str]] = {}
    engine_phrases: dict[int, ClausePhrases] = {}
    for (clause, phrase), text in zip(phrases, compiled_phrases, strict=True):
        if not text:
            continue  # only stopwords
        weights = _weights(clause.fields)
        engine_phrases.setdefault(id(clause), (clause, weights, []))[2].append((text, phrase.boost))
        if weights:
            text = _LEXEME_RE.sub(rf"\g<0>:{weights}", text)  # weights are letters A-D
        group = by_clause.setdefault(id(clause), [])
        if f"( {text} )" not in group:
            group.append(f"( {text} )")

    def joined(clause: Clause) -> str | None:
        group = by_clause.get(id(clause))
        return "( " + " | ".join(group) + " )" if group else None

    required = [joined(c) for c in understood.clauses if not c.negated and not c.optional]
    negated = [joined(c) for c in understood.clauses if c.negated]
    optional = [joined(c) for c in understood.clauses if c.optional and not c.negated]
    parts = [q for q in required if q] + [f"!{q}" for q in negated if q]
    tsquery = " & ".join(parts) if parts else None
    if tsquery is None and not understood.nct_ids:
        return None
    ranked = [q for q in [tsquery, *optional] if q]
    return CompiledQuery(
        tsquery=tsquery,
        nct_ids=list(understood.nct_ids),
        rank_tsquery=" | ".join(ranked) if ranked else "",
        understood=understood,
        clause_phrases=list(engine_phrases.values()),
    )


# --- running it ----------------------------------------------------------------------------------


class NearestSite(TypedDict):
    """A trial's nearest eligible site, as nearest_sites() reads it."""

    id: int
    facility: str
    city: str
    state: str
    country: str
    country_code: str
    status: str
    distance_km: float | None  # None when no place was given


class FacetOption(TypedDict):
    """One option of a filter on the search page, with the trials choosing it would give."""

    value: str
    label: "StrOrPromise"
    count: int
    selected: bool


@dataclass
class TrialHit:
    trial: Trial
    rank: float = 0.0
    snippet: str = ""
    nearest_site: NearestSite | None = None


@dataclass
class SearchResult:
    params: SearchParams
    count: int
    hits: list[TrialHit]
    page: int
    num_pages: int
    facets: dict[str, list[FacetOption]]
    suggestion: str | None = None  # "did you mean" for the query
    place_suggestion: str | None = None  # "did you mean" for the place
    place_unknown: bool = False
    query_empty: bool = False  # the words were all stopwords
    # The words found nothing: these are the results of this close phrase instead.
    corrected_to: str | None = None
    compiled: "CompiledQuery | None" = None  # what was searched (saved searches keep it)

    @property
    def understood(self) -> Understood | None:
        """What the results were searched for (the corrected words when corrected): the page
        marks these in titles, conditions and snippets."""
        return self.compiled.understood if self.compiled else None

    @property
    def has_next(self) -> bool:
        return self.page < self.num_pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


# The query arguments of the search SQL, by name (%(name)s).
SqlArgs = dict[str, str | int | float | datetime.datetime | list[str] | None]


def filter_parts(
    params: SearchParams, compiled: CompiledQuery | None
) -> tuple[dict[str, Any], SqlArgs]:
    """The search's filters as filter_sql() references and their query arguments."""
    refs: dict[str, Any] = {}
    args: SqlArgs = {}
    if compiled:
        refs["query"] = (
            "%(tsquery)s::tsquery",
            "%(nct_ids)s::text[]" if compiled.nct_ids else None,
        )
        args["tsquery"] = compiled.tsquery
        args["rank_tsquery"] = compiled.rank_tsquery or compiled.tsquery or ""
        if compiled.nct_ids:
            args["nct_ids"] = compiled.nct_ids
    if params.statuses:
        refs["statuses"] = "%(statuses)s::text[]"
        args["statuses"] = list(params.statuses)
    if params.phases:
        refs["phases"] = "%(phases)s::varchar[]"
        args["phases"] = list(params.phases)
    if params.study_types:
        refs["study_types"] = "%(study_types)s::text[]"
        args["study_types"] = list(params.study_types)
    if params.sex:
        refs["sex"] = "%(sex)s"
        args["sex"] = params.sex
    if params.healthy_volunteers:
        refs["healthy_volunteers"] = "TRUE"
    if params.countries:
        refs["countries"] = "%(countries)s::varchar[]"
        args["countries"] = list(params.countries)
    if params.conditions:
        refs["conditions"] = "%(conditions)s::text[]"
        args["conditions"] = list(params.conditions)
    if params.age is not None:
        refs["age_days"] = "%(age_days)s"
        args["age_days"] = years_to_days(params.age)
    if params.point:
        args["lat"], args["lon"] = params.point.latitude, params.point.longitude
        if params.radius_km:
            refs["near"] = ("%(lat)s", "%(lon)s", "%(radius)s")
            args["radius"] = float(params.radius_km)
    return refs, args


# The first pages of every search are ranked once and kept (ids only) in the cache; deeper pages
# are ranked on demand. Facet counts and the total are cached with them. Every import changes
# the cache generation, so nothing stale is ever served.
CACHED_RANKS = 1000
CACHE_SECONDS = 15 * 60


def _order_sql(
    sort: str, params: SearchParams, compiled: CompiledQuery | None, nearest: str | None = None
) -> str:
    # %(fresh_since)s: now - FRESH_DAYS (see _ranked_ids). Trial.sites_confirmed_at is the
    # latest confirmation of a site confirmed recruiting, kept by patients.sites.site_confirm.
    freshness = (
        f"(CASE WHEN t.sites_confirmed_at >= %(fresh_since)s THEN 1.0"
        f" ELSE {UNCONFIRMED_RANK_FACTOR} END)"
    )
    rank = f"ts_rank('{RANK_WEIGHTS}', t.rank_vector, %(rank_tsquery)s::tsquery) * {freshness}"
    if compiled and compiled.nct_ids:
        # The trials the patient named come first, whatever else the query says.
        rank = f"(t.nct_id = ANY(%(nct_ids)s::text[]))::int * 1000 + {rank}"
    nearest = (
        nearest
        or f"""(SELECT min({DISTANCE_SQL.format(lat="%(lat)s", lon="%(lon)s")})
                  FROM trials_site s WHERE s.trial_id = t.id AND {SITE_ELIGIBLE_SQL})"""
    )
    if sort == "relevance" and params.point:
        # Near a place, relevance fades with the distance to the nearest site (halved at
        # 50 km), as on the registry: a good match next door beats a slightly better one abroad.
        return f"{rank} / (1 + coalesce({nearest}, 20000) / 50.0) DESC"
    if sort == "relevance":
        return f"{rank} DESC"
    if sort == "distance":
        return f"{nearest} ASC NULLS LAST"
    if sort == "changed":  # the Atom feeds: what changed here most recently
        return "t.last_changed_at DESC"
    return "t.last_update_posted DESC NULLS LAST"


def search_cache_key(*parts: object) -> str | None:
    """A cache key valid until the next import; None when the cache is unavailable."""
    generation = cache.get("search:generation")
    if generation is None:
        generation = uuid.uuid4().hex
        if not cache.add("search:generation", generation, None):
            generation = cache.get("search:generation")
            if generation is None:
                return None  # Redis is down: compute everything
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:40]
    return f"search:{generation}:{digest}"


def bump_search_generation() -> None:
    """After an import: every cached search result becomes unreachable (and expires)."""
    cache.set("search:generation", uuid.uuid4().hex, None)


def search_trials(
    params: SearchParams,
    *,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    with_facets: bool = True,
) -> SearchResult:
    """Run a search (resolve the place first with resolve_place).

    When the words find nothing and a close phrase of the vocabulary does, the results are
    those of that phrase, and `corrected_to` says so ("Showing results for ...").
    """
    compiled = compile_query(understand(params.q, params.lang)) if params.q else None
    result = _search(params, compiled, page=page, page_size=page_size, with_facets=with_facets)
    if params.q and result.count == 0:
        from trials.corrections import correct

        for candidate in () if params.exact else correct(params.q, params.lang):
            fixed = compile_query(understand(candidate, params.lang))
            if fixed is None:
                continue
            other = _search(params, fixed, page=page, page_size=page_size, with_facets=with_facets)
            if other.count:
                other.corrected_to = candidate
                return other
        result.suggestion = suggest_query(params.q)
    return result


def engine_filters(params: SearchParams) -> "engine.Filters":
    """The page's filters, as the search index takes them."""
    from trials import engine

    point = (params.point.latitude, params.point.longitude) if params.point else None
    return engine.Filters(
        statuses=tuple(params.statuses),
        phases=tuple(params.phases),
        study_types=tuple(params.study_types),
        sex=params.sex,
        healthy_volunteers=params.healthy_volunteers,
        countries=tuple(params.countries),
        conditions=tuple(params.conditions),
        age_days=years_to_days(params.age) if params.age is not None else None,
        point=point,
        radius_km=float(params.radius_km) if point and params.radius_km else None,
    )


def _search(
    params: SearchParams,
    compiled: CompiledQuery | None,
    *,
    page: int,
    page_size: int,
    with_facets: bool,
) -> SearchResult:
    from trials import engine

    refs, args = filter_parts(params, compiled)
    sort = params.effective_sort
    if sort == "relevance" and not compiled:
        sort = "updated"
    key_parts = (sorted(args.items()), sorted(refs))
    index_generation = engine.generation()
    # Built lazily: a page served from the cache opens no searcher.
    searches: list[engine.Search] = []

    def index_search() -> "engine.Search":
        if not searches:
            searches.append(engine.Search(compiled, engine_filters(params)))
        return searches[0]

    fresh_since = (timezone.now() - datetime.timedelta(days=FRESH_DAYS)).timestamp()
    ranks_key = search_cache_key("ranks", key_parts, sort, index_generation)
    ranks_ahead = None
    key = search_cache_key("counts", key_parts, with_facets, index_generation)
    counts = cache.get(key) if key else None
    if counts is None:
        if sort != "distance" and page * page_size <= CACHED_RANKS:
            # The page's ranks are needed whatever the count (unless none match): the index
            # ranks while it counts, on the other core (trials.engine.in_background).
            ranked = cache.get(ranks_key) if ranks_key else None
            if ranked is None:
                search = index_search()
                ranks_ahead = engine.in_background(
                    lambda: search.ranked(sort, CACHED_RANKS, 0, fresh_since)
                )
        counts = index_search().count_and_facets(with_facets)
        if key:
            cache.set(key, counts, CACHE_SECONDS)
    count = counts["count"]

    num_pages = max(1, math.ceil(count / page_size))
    page = min(max(page, 1), num_pages)
    offset = (page - 1) * page_size
    rows: list[tuple[int, float]] | None
    if not count:
        rows = []
    elif sort == "distance":
        # Nearest first is answered for the page alone: the circle grows only as far as the
        # page needs (trials.engine.Search._by_distance).
        key = search_cache_key("distance", key_parts, page, page_size, index_generation)
        rows = cache.get(key) if key else None
        if rows is None:
            rows = index_search().ranked(sort, page_size, offset, fresh_since)
            if key:
                cache.set(key, rows, CACHE_SECONDS)
    elif offset + page_size <= CACHED_RANKS:
        ranked = cache.get(ranks_key) if ranks_key and not ranks_ahead else None
        if ranked is None:
            if ranks_ahead:
                ranked = ranks_ahead.result()
            else:
                ranked = index_search().ranked(sort, CACHED_RANKS, 0, fresh_since)
            if ranks_key:
                cache.set(ranks_key, ranked, CACHE_SECONDS)
        rows = ranked[offset : offset + page_size]
    else:
        rows = index_search().ranked(sort, page_size, offset, fresh_since)

    hits = _hydrate(rows, params, compiled)
    facets = _facet_options(params, counts["facets"]) if with_facets else {}
    result = SearchResult(
        params=params,
        count=count,
        hits=hits,
        page=page,
        num_pages=num_pages,
        facets=facets,
        query_empty=bool(params.q) and compiled is None,
        compiled=compiled,
    )
    if params.near and not params.point:
        result.place_unknown = True
        result.place_suggestion = geo.suggest(params.near)
    return result


@contextlib.contextmanager
def _matching_cursor(text_search: bool) -> Iterator["CursorWrapper"]:
    """A cursor for the queries that read every match of a search.

    A broad term ("cancer") matches most of the registry, and PostgreSQL then prefers a
    sequential scan that tests `search_vector @@ query` on each row: it does not count the cost
    of detoasting every stored vector, which dominates (measured at 60,000 trials: 460 ms
    against 130 ms for the bitmap scan of the GIN index, whose matches need no vector read).
    So, for these queries only: no sequential scan when a text search can use the index, and
    enough work_mem for the bitmap to stay exact (a lossy one rechecks, i.e. reads, vectors).
    """
    if not text_search:
        with read_connection().cursor() as cursor:
            yield cursor
        return
    alias = read_alias()
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        # SET LOCAL, in one statement: both end with the transaction.
        cursor.execute(
            "SELECT set_config('work_mem', '64MB', true), set_config('enable_seqscan', 'off', true)"
        )
        yield cursor


def _ranked_ids(
    refs: dict[str, Any],
    args: SqlArgs,
    sort: str,
    params: SearchParams,
    compiled: CompiledQuery | None,
    limit: int,
    offset: int,
) -> list[tuple[int, float]]:
    rank = (
        f"ts_rank('{RANK_WEIGHTS}', t.rank_vector, %(rank_tsquery)s::tsquery)" if compiled else "0"
    )
    # Not part of the cache keys (it changes every second); cached ranks live 15 minutes.
    fresh_since = timezone.now() - datetime.timedelta(days=FRESH_DAYS)
    join, where, nearest = "", filter_sql(refs), None
    if "near" in refs and sort in ("relevance", "distance"):
        # Within a radius, the nearest eligible site is among the sites the radius finds:
        # measure each trial's distance there, once, rather than per trial over all its sites.
        lat, lon, radius = refs["near"]
        join = f"JOIN ({NEAREST_WITHIN_SQL.format(lat=lat, lon=lon, radius=radius)}) n"
        join += " ON n.trial_id = t.id"
        where = filter_sql({k: v for k, v in refs.items() if k != "near"})
        nearest = "n.nearest"
    with _matching_cursor(compiled is not None) as cursor:
        cursor.execute(
            f"""SELECT t.id, {rank} FROM trials_trial t {join} WHERE {where}
                ORDER BY {_order_sql(sort, params, compiled, nearest)},
                         t.last_update_posted DESC NULLS LAST, t.id
                LIMIT %(limit)s OFFSET %(offset)s""",
            {**args, "limit": limit, "offset": offset, "fresh_since": fresh_since},
        )
        return [(trial_id, float(rank or 0)) for trial_id, rank in cursor.fetchall()]


# What no list of results shows (a result card, the API's list, the feed, "other trials"): the
# vectors, the long texts and the structured lists, the largest columns. Decoding the lists
# alone cost more than the search on a cold page of 20 trials.
RESULT_DEFERRED = (
    "search_vector",
    "rank_vector",
    "detailed_description",
    "eligibility_criteria",
    "interventions",
    "arm_groups",
    "primary_outcomes",
    "secondary_outcomes",
    "inclusion_criteria",
    "exclusion_criteria",
    "officials",
)


def _hydrate(
    rows: Sequence[tuple[int, float]], params: SearchParams, compiled: CompiledQuery | None
) -> list[TrialHit]:
    ids = [row[0] for row in rows]
    if not ids:
        return []
    trials = Trial.objects.defer(*RESULT_DEFERRED).in_bulk(ids)
    understood = compiled.understood if compiled else None
    nearest = nearest_sites(ids, params.point)
    missing = [trial_id for trial_id, _rank in rows if trial_id not in trials]
    if missing:
        # Deleted since the index was updated (its update follows the commit): not shown.
        log.warning("search index ahead of the database: %s trials gone", len(missing))
    return [
        TrialHit(
            trial=trials[trial_id],
            rank=float(rank or 0),
            # The summary around the matched words, marked by the understanding layer (the
            # same for any engine); no snippet without words to show them for.
            snippet=snippet(
                trials[trial_id].plain_summary or trials[trial_id].brief_summary, understood
            )
            if understood
            else "",
            nearest_site=nearest.get(trial_id),
        )
        for trial_id, rank in rows
        if trial_id in trials
    ]


def nearest_sites(trial_ids: list[int], point: geo.Point | None) -> dict[int, NearestSite]:
    """Each trial's nearest eligible site (by distance when a place is known, else its first
    recruiting site). One query for the whole page."""
    if not trial_ids:
        return {}
    if point:
        distance = DISTANCE_SQL.format(lat="%(lat)s", lon="%(lon)s")
        order = f"{distance} ASC"
        select_distance = distance
    else:
        order = "s.position ASC"
        select_distance = "NULL"
    with read_connection().cursor() as cursor:
        cursor.execute(
            f"""SELECT DISTINCT ON (s.trial_id) s.trial_id, s.id, s.facility, s.city, s.state,
                       s.country, s.country_code, s.status, {select_distance}
                  FROM trials_site s
                 WHERE s.trial_id = ANY(%(ids)s) AND s.removed_at IS NULL
                   AND (s.status IN ('RECRUITING', 'NOT_YET_RECRUITING') OR s.status = '')
                   AND s.coordinator_status IN ('', 'recruiting')
                   AND (%(has_point)s = FALSE OR s.latitude IS NOT NULL)
                 ORDER BY s.trial_id,
                          (s.status IN ('RECRUITING', 'NOT_YET_RECRUITING')) DESC, {order}""",
            {
                "ids": trial_ids,
                "lat": point.latitude if point else 0,
                "lon": point.longitude if point else 0,
                "has_point": bool(point),
            },
        )
        rows = cursor.fetchall()
    return {
        row[0]: {
            "id": row[1],
            "facility": row[2],
            "city": row[3],
            "state": row[4],
            "country": row[5],
            "country_code": row[6],
            "status": row[7],
            "distance_km": round(row[8], 1) if row[8] is not None else None,
        }
        for row in rows
    }


# --- facets --------------------------------------------------------------------------------------

# facet → (its own filter, the value counted, extra FROM for arrays, how many values to show)
FACETS = {
    "status": ("statuses", "t.overall_status", "", 50),
    "phase": ("phases", "p", ", unnest(t.phases) p", 50),
    "type": ("study_types", "t.study_type", "", 50),
    "sex": ("sex", "t.sex", "", 50),
    "healthy": ("healthy_volunteers", "coalesce(t.healthy_volunteers, FALSE)", "", 50),
    "country": ("countries", "c", ", unnest(t.country_codes) c", 40),
    "condition": ("conditions", "m", ", unnest(t.condition_meshes) m", 15),
}
FACET_COLUMNS = (
    "t.overall_status, t.phases, t.study_type, t.sex, t.healthy_volunteers, t.country_codes,"
    " t.condition_meshes"
)


class FacetCounts(TypedDict):
    """The number of matching trials and, per facet, its values' counts, most first."""

    count: int
    facets: dict[str, list[tuple[str, int]]]


def _count_and_facet_counts(refs: dict[str, Any], args: SqlArgs, with_facets: bool) -> FacetCounts:
    """The total and, for each filter, the count of each of its options with every *other*
    filter applied (what choosing it would give).

    The matching trials are read once (a materialised CTE) for the total and for every facet
    whose own filter is not in use; a facet whose filter is in use needs its own query.
    """
    where = filter_sql(refs)
    branches = ["SELECT 'count', NULL::text, count(*) FROM base"]
    separate = []
    for name, (own, value, extra, limit) in FACETS.items():
        if not with_facets:
            break
        if own in refs:
            separate.append(name)
            continue
        branches.append(
            f"""(SELECT '{name}', ({value})::text, count(*) FROM base t {extra}
                 GROUP BY 2 ORDER BY 3 DESC, 2 LIMIT {limit})"""
        )
    counts: FacetCounts = {
        "count": 0,
        "facets": {name: [] for name in FACETS} if with_facets else {},
    }
    with _matching_cursor("query" in refs) as cursor:
        cursor.execute(
            f"""WITH base AS MATERIALIZED (SELECT {FACET_COLUMNS} FROM trials_trial t
                                            WHERE {where})
                {" UNION ALL ".join(branches)}""",
            args,
        )
        for facet, value, count in cursor.fetchall():
            if facet == "count":
                counts["count"] = count
            else:
                counts["facets"][facet].append((value, count))
        for name in separate:
            own, value, extra, limit = FACETS[name]
            cursor.execute(
                f"""SELECT ({value})::text, count(*) FROM trials_trial t {extra}
                     WHERE {filter_sql({k: v for k, v in refs.items() if k != own})}
                     GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {limit}""",
                args,
            )
            counts["facets"][name] = cursor.fetchall()
    return counts


def _facet_options(
    params: SearchParams, raw: dict[str, list[tuple[str, int]]]
) -> dict[str, list[FacetOption]]:
    """Counts → the options each filter shows, labelled in the active language."""
    status_counts = dict(raw["status"])
    phase_counts = dict(raw["phase"])
    type_counts = dict(raw["type"])
    sex_counts = dict(raw["sex"])
    healthy_counts = dict(raw["healthy"])
    facets: dict[str, list[FacetOption]] = {
        "status": [
            {
                "value": s.value,
                "label": s.label,
                "count": status_counts.get(s.value, 0),
                "selected": s.value in params.statuses,
            }
            for s in TrialStatus
            if status_counts.get(s.value) or s.value in params.statuses or s in OPEN_STATUSES
        ],
        "phase": [
            {
                "value": p.value,
                "label": p.label,
                "count": phase_counts.get(p.value, 0),
                "selected": p.value in params.phases,
            }
            for p in Phase
        ],
        "type": [
            {
                "value": st.value,
                "label": st.label,
                "count": type_counts.get(st.value, 0),
                "selected": st.value in params.study_types,
            }
            for st in StudyType
            if type_counts.get(st.value) or st.value in params.study_types
        ],
        "sex": [
            {
                "value": sex.value,
                "label": sex.label,
                "count": sex_counts.get(sex.value, 0)
                + sex_counts.get("ALL", 0)
                + sex_counts.get("", 0),
                "selected": params.sex == sex.value,
            }
            for sex in (Sex.FEMALE, Sex.MALE)
        ],
        "healthy": [
            {
                "value": "1",
                "label": "",
                "count": healthy_counts.get("true", 0),
                "selected": params.healthy_volunteers,
            }
        ],
    }
    selected = set(params.countries)
    countries: list[FacetOption] = [
        {"value": code, "label": country_name(code), "count": count, "selected": code in selected}
        for code, count in raw["country"]
    ]
    shown = {c["value"] for c in countries}
    countries += [
        {"value": c, "label": country_name(c), "count": 0, "selected": True}
        for c in params.countries
        if c not in shown
    ]
    facets["country"] = sorted(countries, key=lambda f: f["label"])
    shown = {m for m, _ in raw["condition"]}
    conditions: list[FacetOption] = [
        {"value": m, "label": m, "count": count, "selected": m in params.conditions}
        for m, count in raw["condition"]
    ]
    conditions += [
        {"value": c, "label": c, "count": 0, "selected": True}
        for c in params.conditions
        if c not in shown
    ]
    facets["condition"] = conditions
    return facets


# --- did you mean --------------------------------------------------------------------------------

_WORD_RE = re.compile(r"[^\W\d_]{4,}", re.UNICODE)


def suggest_query(q: str) -> str | None:
    """The query with misspelt words replaced by the closest words trials use ("carcinomma"
    → "carcinoma"), or None when every word is known or nothing is close enough."""
    words = list(dict.fromkeys(w.lower() for w in _WORD_RE.findall(fold(q))))[:8]
    if not words:
        return None
    with read_connection().cursor() as cursor:
        cursor.execute(
            "SELECT term FROM trials_searchterm WHERE term = ANY(%s)",
            [words],
        )
        known = {row[0] for row in cursor.fetchall()}
        replacements = {}
        for word in words:
            if word in known:
                continue
            cursor.execute(
                """SELECT term, similarity(term, %s) AS score FROM trials_searchterm
                    WHERE term %% %s ORDER BY score DESC, trial_count DESC LIMIT 1""",
                [word, word],
            )
            row = cursor.fetchone()
            if row and row[1] >= 0.4:
                replacements[word] = row[0]
    if not replacements:
        return None
    suggestion = fold(q)
    for word, term in replacements.items():
        suggestion = re.sub(rf"\b{re.escape(word)}\b", term, suggestion)
    return suggestion


def refresh_search_terms(trial_ids: list[int] | None = None) -> None:
    """Rebuild the "did you mean" vocabulary: the words (4+ letters) of condition and
    intervention names and of MeSH terms, with the number of trials using each. With
    `trial_ids` (an import of a few changed trials), only their new words are added: counting
    every word again reads the whole registry; the daily refresh recounts."""
    where, upsert = "", "DO UPDATE SET trial_count = EXCLUDED.trial_count"
    if trial_ids is not None:
        where, upsert = "WHERE t.id = ANY(%(ids)s)", "DO NOTHING"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH names AS (
                SELECT t.id, lower(unaccent(n)) AS name
                  FROM trials_trial t,
                       unnest(t.conditions || t.condition_meshes || t.keywords
                              || t.intervention_meshes
                              || ARRAY(SELECT i->>'name'
                                         FROM jsonb_array_elements(t.interventions) i)) n
                {where}
            ), words AS (
                SELECT DISTINCT id, w FROM names,
                       regexp_split_to_table(name, '[^[:alpha:]]+') w
                 WHERE length(w) >= 4 AND length(w) <= 60
            )
            INSERT INTO trials_searchterm (term, trial_count)
            SELECT w, count(*) FROM words GROUP BY w
            ON CONFLICT (term) {upsert}
            """,
            {"ids": trial_ids},
        )
