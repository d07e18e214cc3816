"""Walk every admin URL and action of the patients app as site A's coordinator: nothing of
site B's inquiries is reachable. The URLs come from the resolver, so a new admin view is walked
the day it is added."""

import pytest
from django.urls import URLPattern, get_resolver

from tests.patients.conftest import listed, login

pytestmark = pytest.mark.django_db
SECRET_WORDS = ("Beatrice", "Rossi", "beatrice@example.org")


def patients_admin_urls():
    for resolver in get_resolver().url_patterns:
        if getattr(resolver, "app_name", None) != "admin":
            continue
        for pattern in resolver.url_patterns:
            route = str(pattern.pattern)
            if not route.startswith("patients/"):
                continue
            for inner in getattr(pattern, "url_patterns", [pattern]):
                if isinstance(inner, URLPattern):
                    yield route + str(inner.pattern), inner.name


def fill(route: str, object_id: int) -> str:
    import re

    route = re.sub(r"<path:object_id>|<int:object_id>|<object_id>", str(object_id), route)
    route = re.sub(r"<(?:\w+:)?(\w+)>", "contacted", route)
    return "/admin/" + route.lstrip("^").rstrip("$")


def test_every_patients_admin_url_hides_site_b_from_site_a(client, bob, b_inquiry, a_inquiry):
    login(client, bob)
    walked = []
    for route, name in patients_admin_urls():
        url = fill(route, b_inquiry.pk)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            walked.append((method, url, response.status_code))
            body = response.content.decode(errors="replace")
            for word in SECRET_WORDS:
                assert word not in body, (method, url, name)
            if "object_id" in route and "inquiry" in route:
                assert response.status_code in (404, 302, 405), (method, url, response.status_code)
            assert response.status_code != 500, (method, url)
    assert len(walked) > 10


@pytest.mark.parametrize(
    "params",
    [{"q": "Beatrice"}, {"q": "beatrice@example.org"}, {"q": "Rossi"}, {"site": "__B__"}, {}],
)
def test_list_search_and_filters_never_show_site_b(client, bob, a_inquiry, b_inquiry, params):
    login(client, bob)
    params = {k: (str(b_inquiry.site_id) if v == "__B__" else v) for k, v in params.items()}
    response = client.get("/admin/patients/inquiry/", params)
    # The search box echoes what was typed; the rows must not hold site B's inquiry.
    assert b_inquiry.pk not in listed(response)
    html = response.content.decode()
    rows = html.split('id="result_list"', 1)[1] if 'id="result_list"' in html else ""
    assert "Rossi" not in rows


@pytest.mark.parametrize("action", ["mark_contacted", "assign_to_me", "export_csv"])
def test_bulk_actions_on_site_b_ids_do_nothing_to_them(client, bob, a_inquiry, b_inquiry, action):
    login(client, bob)
    response = client.post(
        "/admin/patients/inquiry/",
        {"action": action, "_selected_action": [b_inquiry.pk], "index": 0},
    )
    assert "Beatrice" not in response.content.decode(errors="replace")
    b_inquiry.refresh_from_db()
    assert b_inquiry.status == "new" and b_inquiry.assignee_id is None


def test_autocomplete_never_lists_site_b(client, bob, b_inquiry):
    login(client, bob)
    response = client.get(
        "/admin/autocomplete/",
        {
            "app_label": "patients",
            "model_name": "sitecoordinator",
            "field_name": "user",
            "term": "char",
        },
    )
    assert response.status_code in (200, 403, 404)
    assert "Beatrice" not in response.content.decode()
