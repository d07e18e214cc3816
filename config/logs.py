"""One log formatter for every log line: Django's (runserver's request lines included), Celery's
and gunicorn's error and access logs. It redacts query strings, capability tokens in paths and
email addresses.

Query strings carry what people typed (a patient's search words; the admin's inquiry search is a
GET, so a coordinator's search for a patient's name or address), and a capability URL (status,
withdraw, manage, confirm, share, one-click, site confirmation...) is as good as a password to
whoever reads the log. Every URL route with a `token` parameter counts as one, so a new one is
covered without a list to keep up to date.
"""

import functools
import logging
import re

REDACTED = "[redacted]"
_SEGMENT = r"[^/\s?#\"'<>]+"
_QUERY_RE = re.compile(r"(/[^\s?#\"'<>]*)\?[^\s\"'<>]+")
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_LANGUAGE_PREFIX = r"(?:[a-z]{2}(?:-[a-z]{2,4})?/)?"
_PLACEHOLDER_RE = re.compile(r"<(?:[^>:]+:)?([^>]+)>")
# Until Django's URLs can be read (gunicorn's master process): any long token-like segment.
_FALLBACK = (re.compile(r"/([A-Za-z0-9_\-:]{20,})(?=[/\s?#\"']|$)"),)


def capability_routes() -> list[str]:
    """Every route of the URLconf (as written, includes joined) with a `token` parameter."""
    from django.urls import URLResolver, get_resolver
    from django.urls.resolvers import LocalePrefixPattern, RoutePattern

    routes = []

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            if isinstance(entry.pattern, LocalePrefixPattern):
                # i18n_patterns: the same routes under /fr/, /it/… (the regexes allow a prefix).
                walk(entry.url_patterns, prefix)
                continue
            if not isinstance(entry.pattern, RoutePattern):
                continue  # regex routes (the admin's app index) take no token
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route)
            elif "token" in entry.pattern.converters:
                routes.append(route)

    walk(get_resolver().url_patterns, "")
    return routes


def _token_regex(route: str) -> re.Pattern:
    """/inquiries/status/<str:token>/ → a regex of the path up to the token, the token grouped
    (whatever follows it: a 404 under a capability path hides the token too)."""
    parts, end = [], 0
    for placeholder in _PLACEHOLDER_RE.finditer(route):
        parts.append(re.escape(route[end : placeholder.start()]))
        if placeholder.group(1) == "token":
            # An optional language prefix (/fr/, /it/): patient pages live under i18n_patterns.
            return re.compile("/" + _LANGUAGE_PREFIX + "".join(parts) + f"({_SEGMENT})")
        parts.append(_SEGMENT)
        end = placeholder.end()
    raise ValueError(f"{route} has no token")


@functools.cache
def _token_regexes() -> tuple[re.Pattern, ...]:
    return tuple(_token_regex(route) for route in sorted(set(capability_routes())))


def _patterns() -> tuple[re.Pattern, ...]:
    from django.apps import apps

    if not apps.ready:
        return _FALLBACK
    return _token_regexes()


def redact(text: str) -> str:
    for pattern in _patterns():
        text = pattern.sub(lambda m: m.group(0)[: m.start(1) - m.start()] + REDACTED, text)
    text = _QUERY_RE.sub(rf"\1?{REDACTED}", text)
    return _EMAIL_RE.sub("[email]", text)


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def logging_config(level: str) -> dict:
    """The logging of every process: Django's LOGGING, and gunicorn's logconfig_dict. One
    handler, on the root logger; the others only set levels and pass their records up."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "redacted": {
                "class": "config.logs.RedactingFormatter",
                "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "redacted"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # No handlers of their own: Django's defaults (a console handler in DEBUG, error
            # mails to ADMINS, which this portal does not set), runserver's request lines (make
            # run) and gunicorn's own handlers are replaced by the root's.
            "django": {"handlers": [], "level": "INFO", "propagate": True},
            # 5xx only: Django's 4xx warnings would add a line per scanner probe.
            "django.request": {"handlers": [], "level": "ERROR", "propagate": True},
            "django.server": {"handlers": [], "level": "INFO", "propagate": True},
            "gunicorn.error": {"handlers": [], "level": level, "propagate": True},
            "gunicorn.access": {"handlers": [], "level": "INFO", "propagate": True},
        },
    }
