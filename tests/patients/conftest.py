import pytest

from config.ratelimit import reset
from patients.views import OPEN_PER_IP, SHARE_CREATE_PER_IP


@pytest.fixture(autouse=True)
def fresh_notes_rate_limits():
    """The test client (and the live server's browser) always come from 127.0.0.1."""
    for limit in (OPEN_PER_IP, SHARE_CREATE_PER_IP):
        reset(limit, "127.0.0.1")
    yield
    for limit in (OPEN_PER_IP, SHARE_CREATE_PER_IP):
        reset(limit, "127.0.0.1")
