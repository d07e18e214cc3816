import pytest

from tests.conftest import clear_rate_limits


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Every test starts (and leaves) with no contact submission counted against anyone."""
    clear_rate_limits()
    yield
    clear_rate_limits()


@pytest.fixture
def a_inquiry(site_a, alice):
    """An inquiry of alice to site A (bob's)."""
    from tests.patients.test_inquiry_services import create

    return create(site_a, alice)


@pytest.fixture
def b_inquiry(site_b, alice):
    """An inquiry to site B (charlie's), by another patient."""
    from tests.patients.test_inquiry_services import create

    return create(
        site_b, alice, first_name="Beatrice", last_name="Rossi", email="beatrice@example.org"
    )
