"""One Redis client for the portal's own uses (rate limits, health), with short timeouts."""

import functools

import redis
from django.conf import settings


@functools.cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
        health_check_interval=30,
    )


def get_redis() -> redis.Redis:
    return _client(settings.REDIS_URL)
