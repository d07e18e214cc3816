"""Rate limits kept in Redis (shared by every web process), answered with 429 + Retry-After.

Fixed windows with INCR/EXPIRE: cheap, and precise enough to stop floods and brute force.
Keys hold a hash, never the raw email address or IP. When Redis is down the limit fails open:
a patient must still be able to reach a study site while the cache is out.
"""

import contextlib
import hashlib
import logging
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpResponse
from django.template.loader import render_to_string
from redis.exceptions import RedisError

from config.redis import get_redis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    scope: str  # "contact-ip", "contact-email", ...
    count: int
    seconds: int


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0


def _key(limit: Limit, identity: str) -> str:
    digest = hashlib.sha256(f"{settings.SECRET_KEY}:{identity}".encode()).hexdigest()[:32]
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    return f"{prefix}:rl:{limit.scope}:{digest}"


def hit(limit: Limit, identity: str) -> Verdict:
    """Count one hit against `limit` for `identity`; refuse above the limit."""
    key = _key(limit, identity)
    try:
        pipe = get_redis().pipeline()
        pipe.incr(key)
        pipe.expire(key, limit.seconds, nx=True)
        pipe.ttl(key)
        count, _, ttl = pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning(
            "rate limit %s not enforced, Redis unavailable: %s", limit.scope, type(exc).__name__
        )
        return Verdict(True)
    if count > limit.count:
        return Verdict(False, retry_after=max(int(ttl), 1))
    return Verdict(True)


def peek(limit: Limit, identity: str) -> Verdict:
    """Whether `identity` has used up `limit`, without counting a hit."""
    key = _key(limit, identity)
    try:
        pipe = get_redis().pipeline()
        pipe.get(key)
        pipe.ttl(key)
        count, ttl = pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning(
            "rate limit %s not enforced, Redis unavailable: %s", limit.scope, type(exc).__name__
        )
        return Verdict(True)
    if int(count or 0) >= limit.count:
        return Verdict(False, retry_after=max(int(ttl), 1))
    return Verdict(True)


def check(pairs: list[tuple[Limit, str]]) -> Verdict:
    """Hit every (limit, identity); the first refusal wins (all are counted)."""
    verdicts = [hit(limit, identity) for limit, identity in pairs if identity]
    refused = [v for v in verdicts if not v.allowed]
    if refused:
        return Verdict(False, retry_after=max(v.retry_after for v in refused))
    return Verdict(True)


def reset(limit: Limit, identity: str) -> None:
    with contextlib.suppress(RedisError, OSError):
        get_redis().delete(_key(limit, identity))


def client_ip(request) -> str:
    """The visitor's address; behind N trusted proxies, the Nth from the right in XFF."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [p for p in forwarded if p]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def too_many_requests(request, verdict: Verdict) -> HttpResponse:
    body = render_to_string("429.html", {"retry_after": verdict.retry_after}, request=request)
    response = HttpResponse(body, status=429)
    response["Retry-After"] = str(verdict.retry_after)
    return response


def search_hit(request) -> Verdict:
    """Count one search against the per-IP limit that every path running a search shares: the
    search page, the API, the feeds, the alert form's count, other trials on the contact and
    status pages. A path must call this (or search_limited) before it searches."""
    return hit(Limit("search-ip", settings.SEARCH_RATE_PER_MINUTE, 60), client_ip(request))


def search_limited(request):
    """search_hit for a path whose answer is the search: a 429 response, or None."""
    verdict = search_hit(request)
    if verdict.allowed:
        return None
    return too_many_requests(request, verdict)
