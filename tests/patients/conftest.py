import pytest
from django.conf import settings

from config.redis import get_redis


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Every test starts with no contact submission counted against its IP or email."""
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    redis = get_redis()
    for key in redis.scan_iter(f"{prefix}:rl:*"):
        redis.delete(key)
    yield
