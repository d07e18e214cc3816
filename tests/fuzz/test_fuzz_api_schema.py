"""schemathesis against /api/v1/openapi.json: every generated request gets an answer that the
document describes, never a server error."""

import pytest
import schemathesis
from hypothesis import settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.fuzz.conftest import EXAMPLES, FUZZ, TRIED

pytestmark = pytest.mark.django_db


def _load_schema():
    from django.core.wsgi import get_wsgi_application

    # The document is served by the app itself (no database needed for that view).
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


schema = _load_schema()


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """Requests through the raw WSGI app would close the test's database connection after each
    response (Django's test Client disconnects this signal handler the same way)."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(FUZZ, max_examples=EXAMPLES)
def test_the_api_conforms_to_its_document(case):
    TRIED[f"schemathesis {case.operation.label}"] += 1
    response = case.call()
    assert response.status_code < 500
    # A well-formed `near` can still name no known place: that 400 is by design (documented),
    # so "schema-valid request rejected" does not apply to this API.
    case.validate_response(response, excluded_checks=[positive_data_acceptance])
