import pytest


@pytest.fixture(autouse=True)
def _every_test_with_fresh_rate_limits(fresh_rate_limits):
    pass
