"""A Redis cache that degrades to "no cache" when Redis is unreachable.

The cache only ever holds things we can recompute (rendered pages, facet counts); a patient must
still be able to search and contact a site while Redis is down.
"""

import logging

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)
_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)


def _forgiving(default_factory):
    def wrap(method):
        def inner(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except _ERRORS as exc:
                log.warning("cache unavailable (%s): %s", method.__name__, type(exc).__name__)
                return default_factory(*args, **kwargs)

        inner.__name__ = method.__name__
        return inner

    return wrap


class ForgivingRedisCache(RedisCache):
    @_forgiving(lambda key, default=None, version=None: default)
    def get(self, key, default=None, version=None):
        return super().get(key, default, version)

    @_forgiving(lambda *a, **k: None)
    def set(self, *args, **kwargs):
        return super().set(*args, **kwargs)

    @_forgiving(lambda *a, **k: False)
    def add(self, *args, **kwargs):
        return super().add(*args, **kwargs)

    @_forgiving(lambda *a, **k: False)
    def delete(self, *args, **kwargs):
        return super().delete(*args, **kwargs)

    @_forgiving(lambda *a, **k: {})
    def get_many(self, *args, **kwargs):
        return super().get_many(*args, **kwargs)

    @_forgiving(lambda *a, **k: [])
    def set_many(self, *args, **kwargs):
        return super().set_many(*args, **kwargs)

    @_forgiving(lambda *a, **k: None)
    def delete_many(self, *args, **kwargs):
        return super().delete_many(*args, **kwargs)

    @_forgiving(lambda *a, **k: False)
    def touch(self, *args, **kwargs):
        return super().touch(*args, **kwargs)
