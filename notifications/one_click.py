"""The one-click alert link of the "not eligible" email: a signed link that turns an alert on at
once, the address being already proven by the email that carried it.

The link names who it was sent to by a reference (an inquiry's public id, never the address) and
the search to follow. The app that sends such emails (patients) registers how to find the address
behind a reference, so that notifications never imports it (ARCHITECTURE.md: imports run one way).
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from django.core import signing

from config.i18n import absolute_url
from trials.search import SearchParams, parse_pairs

SALT = "alerts.one-click"
MAX_AGE = datetime.timedelta(days=90)


@dataclass(frozen=True)
class Recipient:
    email: str
    language: str


RecipientLookup = Callable[[str], Recipient | None]
_recipient_lookups: list[RecipientLookup] = []


def register_recipient_lookup(lookup: RecipientLookup) -> None:
    """`lookup(reference)`: the proven address behind a link's reference, or None when it is
    gone (erased, withdrawn). Called by the sending app's AppConfig.ready()."""
    if lookup not in _recipient_lookups:
        _recipient_lookups.append(lookup)


def recipient(reference: str) -> Recipient | None:
    for lookup in _recipient_lookups:
        found = lookup(reference)
        if found is not None:
            return found
    return None


def make_token(reference: str, params: SearchParams) -> str:
    return signing.dumps({"i": reference, "s": params.to_query()}, salt=SALT, compress=True)


def make_url(reference: str, params: SearchParams, *, language: str) -> str:
    """The link in the recipient's `language` (emails are written outside any request)."""
    return absolute_url(
        "notifications:one-click-alert", make_token(reference, params), language=language
    )


def read_token(token: str) -> tuple[str, SearchParams] | None:
    """(reference, search) of a valid, unexpired link."""
    try:
        data = signing.loads(token, salt=SALT, max_age=MAX_AGE)
        reference = str(data["i"])
        params, _errors = parse_pairs(data["s"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    if not params.q and not params.near:
        return None
    return reference, params
