"""The JSON API and its OpenAPI document: every answer must match the document."""

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from trials.api import OPENAPI

pytestmark = pytest.mark.django_db
# OpenAPI 3.1 schemas are JSON Schema 2020-12: validate answers against the served document.
REGISTRY = Registry().with_resource(
    "urn:openapi", Resource(contents=OPENAPI, specification=DRAFT202012)
)


def validate(body: dict, schema_name: str):
    schema = {"$ref": f"urn:openapi#/components/schemas/{schema_name}"}
    jsonschema.Draft202012Validator(schema, registry=REGISTRY).validate(body)


def test_the_list_uses_the_page_search_and_matches_the_document(client):
    response = client.get("/api/v1/trials", {"q": "proton therapy", "near": "Milan"})
    assert response.status_code == 200
    body = response.json()
    validate(body, "TrialList")
    assert body["count"] >= 1
    first = body["results"][0]
    assert first["nct_id"] == "NCT07635641"
    assert first["nearest_site"]["city"] == "Rozzano"
    assert 8 < first["nearest_site"]["distance_km"] < 12
    assert "email" not in str(first) and "phone" not in str(first)


def test_it_pages_with_next_links(client):
    body = client.get("/api/v1/trials", {"status": "any"}).json()
    validate(body, "TrialList")
    assert len(body["results"]) == 20 and body["next"].endswith("page=2")
    second = client.get(body["next"].replace("http://testserver", "")).json()
    validate(second, "TrialList")
    assert {r["nct_id"] for r in second["results"]}.isdisjoint(r["nct_id"] for r in body["results"])


def test_the_detail_has_sites_without_contacts_and_versions(client):
    response = client.get("/api/v1/trials/NCT06129864", {"near": "Milan"})
    body = response.json()
    validate(body, "Trial")
    assert body["sites"][0]["distance_km"] < 15
    assert "@" not in str(body["sites"])
    assert body["versions"][0]["number"] == 1


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"age": "old"}, "age"),
        ({"status": "PARTYING"}, "status"),
        ({"phase": "PHASE9"}, "phase"),
        ({"radius_km": "far"}, "radius"),
        ({"page": "-1"}, "page"),
        ({"page": "99999"}, "page"),
        ({"near": "Xqzzyville"}, "near"),
        ({"sex": "robot"}, "sex"),
        ({"colour": "blue"}, "colour"),
        # Control characters are not a blank choice (schemathesis found healthy=ESC accepted).
        ({"healthy": "\x1b"}, "healthy"),
        ({"sex": "\x00"}, "sex"),
        ({"age": "\x1b"}, "age"),
        ({"phase": "\x1b"}, "phase"),
        ({"sort": "\x07"}, "sort"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(client, params, param):
    response = client.get("/api/v1/trials", params)
    assert response.status_code == 400
    body = response.json()
    validate(body, "Error")
    assert body["error"]["parameter"] == param


def test_a_page_past_the_end_is_empty_with_a_way_back(client):
    body = client.get("/api/v1/trials", {"status": "any", "page": "500"}).json()
    validate(body, "TrialList")
    assert body["results"] == [] and body["next"] is None
    assert body["count"] > 0 and body["previous"].endswith(f"page={-(-body['count'] // 20)}")


def test_unknown_and_malformed_ids(client):
    missing = client.get("/api/v1/trials/NCT99999999")
    assert missing.status_code == 404
    validate(missing.json(), "Error")
    assert client.get("/api/v1/trials/banana").status_code == 400


def test_the_openapi_document_describes_the_endpoints(client):
    document = client.get("/api/v1/openapi.json").json()
    jsonschema.Draft202012Validator.check_schema(document["components"]["schemas"]["TrialList"])
    assert set(document["paths"]) == {"/api/v1/trials", "/api/v1/trials/{nct_id}"}
    params = {p["name"] for p in document["paths"]["/api/v1/trials"]["get"]["parameters"]}
    assert {"q", "status", "phase", "country", "near", "radius_km", "age", "sex", "page"} <= params
