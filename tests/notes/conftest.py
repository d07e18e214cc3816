import pytest

from tests.conftest import clear_rate_limits


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Every test starts (and leaves) with no share or passcode counted against anyone."""
    clear_rate_limits()
    yield
    clear_rate_limits()
