"""Every URL refuses a POST without a CSRF token, except the few that are exempt by design.

The URLs come from the resolver, so a new view is covered the day it is added: if it is
exempt, it must be listed below with the reason.
"""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

# url name → why it may take a POST without a token
EXEMPT = {
    "notifications:unsubscribe": "RFC 8058 one-click unsubscribe: mail clients POST, no cookies",
    "notifications:bounce-webhook": "called by the email provider, authenticated by a secret",
    "trials:api-list": "read-only API: GET only (405 for anything else), no cookies",
    "trials:api-detail": "read-only API: GET only (405 for anything else), no cookies",
    "trials:api-openapi": "read-only API document",
}
SAMPLES = {"nct_id": "NCT05738187", "object_id": "1", "app_label": "patients"}


def _sample(name: str) -> str:
    return SAMPLES.get(name, "x1")


def _group_sample(match) -> str:
    """A regex group: its first alternative when it lists words, else a sample value."""
    name, body = match.group(1), match.group(2)
    return body.split("|")[0] if re.fullmatch(r"[\w|]+", body) else _sample(name)


def _concrete(route: str) -> str:
    route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: _sample(m.group(1)), route)
    route = re.sub(r"\(\?P<(\w+)>([^()]*)\)", _group_sample, route)
    return route.lstrip("^").rstrip("$").replace("\\", "")


def all_urls(patterns=None, prefix="", namespace=""):
    patterns = get_resolver().url_patterns if patterns is None else patterns
    for pattern in patterns:
        route = _concrete(str(pattern.pattern))
        if isinstance(pattern, URLResolver):
            ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from all_urls(pattern.url_patterns, prefix + route, ns)
        elif isinstance(pattern, URLPattern):
            yield f"{namespace}{pattern.name}" if pattern.name else "", "/" + prefix + route


URLS = sorted(set(all_urls()))


def test_the_resolver_gives_the_views_we_know():
    names = {name for name, _ in URLS}
    assert {"patients:contact", "notifications:subscribe", "notes:share",
            "notes:shared-open", "admin:login", "set_language"} <= names  # fmt: skip
    assert set(EXEMPT) <= names


@pytest.mark.parametrize(("name", "url"), URLS, ids=[f"{n or '?'} {u}" for n, u in URLS])
def test_a_post_without_a_csrf_token_is_refused(name, url):
    client = Client(enforce_csrf_checks=True)
    response = client.post(url, {"anything": "1"})
    if name in EXEMPT:
        assert response.status_code != 403 or name == "notifications:bounce-webhook", url
        return
    assert response.status_code == 403, f"{name} {url} answered {response.status_code}"
