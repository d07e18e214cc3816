"""Other recruiting trials for a patient this trial may rule out: same condition, near the same
place, found by the portal's one search (trials.search), never the trial itself.

Shown on the contact page when the pre-screening suggests "may not be eligible", on the status
page, and in the "not eligible" email with a one-click alert sign-up (a signed link: the
patient's address is already proven by their receiving the email).
"""

import datetime
from dataclasses import dataclass
from urllib.parse import urlencode

from django.urls import reverse

from notifications import one_click
from patients.models import Inquiry
from trials import geo
from trials.models import Site, Trial
from trials.search import (
    SearchParams,
    TrialHit,
    fold,
    resolve_place,
    search_trials,
)
from trials.synonyms import find_phrases

ONE_CLICK_SALT = "alerts.one-click"
ONE_CLICK_MAX_AGE = datetime.timedelta(days=90)


@dataclass
class Alternatives:
    hits: list[TrialHit]
    params: SearchParams  # the search they come from ("see all", alerts)
    widened: bool = False  # nothing within the radius: found at any distance

    @property
    def condition(self) -> str:
        """The condition searched, as words to show (without the phrase's quotes)."""
        return self.params.q.strip('"')

    @property
    def query(self) -> str:
        return urlencode(self.params.to_query())

    @property
    def search_url(self) -> str:
        return reverse("trials:search") + "?" + self.query

    @property
    def subscribe_url(self) -> str:
        return reverse("notifications:subscribe") + "?" + self.query


def condition_term(trial: Trial) -> str:
    """What the trial is for, in the words the search knows best: its first MeSH condition,
    else the first condition its registrant typed."""
    for term in (*trial.condition_meshes, *trial.conditions):
        if term.strip():
            return term.strip()[:200]
    return ""


def condition_queries(term: str) -> list[str]:
    """The searches for "the same condition", most precise first.

    Unquoted, "Recurrent Head and Neck Cancer" finds any trial with those four words anywhere
    (a breast cancer trial whose exclusions mention the neck). A quoted phrase keeps them
    together, and the longest phrase the synonyms know ("head and neck cancer") is the
    condition's core, found with its synonyms (HNSCC, oropharyngeal cancer, ...). A term the
    synonyms do not know is tried as a phrase, then as words.
    """
    known = [phrase for _start, _end, phrase in find_phrases(fold(term))]
    if known:
        return [f'"{max(known, key=len)}"']
    return [f'"{term}"', term] if " " in term else [term]


def site_place(site: Site) -> str:
    """A site's town as a place the search resolves, else its coordinates."""
    if site.city:
        label = f"{site.city}, {site.country}" if site.country else site.city
        if geo.resolve(label):
            return label
    if site.latitude is not None and site.longitude is not None:
        return f"{site.latitude:.3f},{site.longitude:.3f}"
    return ""


def specific_conditions(trial: Trial) -> set[str]:
    """The trial's most specific MeSH conditions: those that are not an ancestor of another of
    its conditions ("Pharyngeal Neoplasms", not also "Head and Neck Neoplasms")."""
    return set(trial.condition_meshes) - set(trial.condition_ancestors)


def _specificity(candidate: Trial, specific: set[str]) -> int | None:
    """0 for the same condition, 1 for a narrower one, None for anything else (a sibling
    organ's cancer shares a word and an ancestor, not the condition)."""
    if specific & set(candidate.condition_meshes):
        return 0
    if specific & set(candidate.condition_ancestors):
        return 1
    return None


def alternatives_for(
    trial: Trial, place: str, *, age: int | None = None, sex: str = "", limit: int = 4
) -> Alternatives | None:
    """Up to `limit` recruiting trials for the same condition (or a narrower one, after it)
    within 100 km of `place`, else at any distance, open to the patient's age and sex when they
    told us; None when the trial names no condition. The search is the same whatever the
    language: only its labels are translated."""
    term = condition_term(trial)
    if not term:
        return None
    point = resolve_place(SearchParams(near=place.strip()[:200]))[0].point
    specific = specific_conditions(trial)
    first: SearchParams | None = None
    for query in condition_queries(term):
        params = SearchParams(
            q=query,
            near=place.strip()[:200] if point else "",
            point=point,
            age=age,
            sex=sex if sex in ("FEMALE", "MALE") else "",
        )
        attempts = [params, params.without(radius_km=None)] if point else [params]
        for index, attempt in enumerate(attempts):
            # More than shown: some are set aside for being about another condition.
            result = search_trials(attempt, page_size=limit * 5 + 1, with_facets=False)
            hits = [hit for hit in result.hits if hit.trial.pk != trial.pk]
            if specific:
                ranked = [(_specificity(hit.trial, specific), hit) for hit in hits]
                hits = [hit for rank, hit in sorted(
                    ((r, h) for r, h in ranked if r is not None), key=lambda pair: pair[0]
                )]  # fmt: skip
            if hits:
                return Alternatives(hits=hits[:limit], params=attempt, widened=index > 0)
        first = first or params
    return Alternatives(hits=[], params=first or SearchParams(q=term))


def alternatives_for_inquiry(inquiry, *, limit: int = 4) -> Alternatives | None:
    """Near the place the patient searched from, else near the site they contacted; open to the
    age and sex their pre-screening gave."""
    place = inquiry.near or site_place(inquiry.site)
    prescreen = inquiry.prescreen or {}
    return alternatives_for(
        inquiry.trial, place, age=prescreen.get("age"), sex=prescreen.get("sex", ""), limit=limit
    )


# --- the one-click alert link (notifications.one_click) -----------------------------------------


def one_click_token(inquiry, params: SearchParams) -> str:
    """Names the inquiry (by its public id, never the address) and the search to follow."""
    return one_click.make_token(str(inquiry.public_id), params)


def one_click_url(inquiry, params: SearchParams) -> str:
    return one_click.make_url(str(inquiry.public_id), params, language=inquiry.email_language)


def one_click_recipient(public_id: str) -> one_click.Recipient | None:
    """The address of a live inquiry: erased or withdrawn, its links die with it."""
    inquiry = Inquiry.objects.filter(public_id=public_id, erased_at__isnull=True).first()
    if inquiry is None or not inquiry.email:
        return None
    return one_click.Recipient(email=inquiry.email, language=inquiry.email_language)
