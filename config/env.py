"""Typed readers for settings from the environment.

Each helper refuses a value it cannot use, naming the variable, so a typo in a deployment stops
start-up instead of silently running with a default (DEBUG="flase" must not mean "on").
"""

import os
import re
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ImproperlyConfigured

_EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def load_dotenv(path: Path) -> None:
    """Read KEY=VALUE lines into os.environ without overriding what is already set."""
    if not path.is_file():
        return
    for lineno, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise ImproperlyConfigured(f"{path}:{lineno}: expected KEY=VALUE, got {line!r}")
        key, value = line.split("=", 1)
        key, value = key.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        os.environ.setdefault(key, value)


def _get(name: str, default: str | None) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def envstr(name: str, default: str | None = None, *, required: bool = False) -> str:
    value = _get(name, default)
    if value is None:
        if required:
            raise ImproperlyConfigured(f"{name} must be set")
        return ""
    return value


# Keys once written in this repository (settings, compose, .env.example, tests, Dockerfile): public
# for ever in its history, so refused whatever their length.
PUBLISHED_SECRET_KEYS = frozenset(
    {
        "change-me",
        "change-me-in-production-this-is-only-for-local-compose",
        "insecure-development-key-only-used-with-DEBUG",
        "test-secret-key-not-for-production",
        "build-only",
        "k3J9-x7PqLz2Wv8Rt5Yb0Nc4Hm6Gd1Fa9Se2Uj7Io3Kl8Zx5Cv0Bn4Mq1Wp6Er",
        "bench-" + "x" * 50,
        "soak-" + "x" * 50,
    }
)


def secret_key_problem(key: str) -> str | None:
    """Why `key` must not sign production links (anyone could forge them), or None.

    Stricter than Django's check (security.W009), which passed the 54-character key that
    docker-compose used to fall back to."""
    if not key:
        return "must be set (it may only be omitted with DEBUG=True)"
    if key in PUBLISHED_SECRET_KEYS:
        return "is published in TrialFinder's repository"
    if key.startswith("django-insecure"):
        return "is a Django development key"
    if len(key) < 50:
        return "must be at least 50 characters long"
    # A random 50-character key has 30 or more different characters; words or repeats fewer.
    if len(set(key)) < 20:
        return "must be random, not words or repeated characters"
    return None


def envsecretkey(name: str, *, debug: bool) -> str:
    """The signing key; outside DEBUG, refused when published or weak."""
    value = envstr(name)
    if debug:
        return value or "insecure-development-key-only-used-with-DEBUG"
    problem = secret_key_problem(value)
    if problem:
        raise ImproperlyConfigured(
            f"{name} {problem}. Generate one with: "
            'python -c "import secrets; print(secrets.token_urlsafe(50))"'
        )
    return value


def envbool(name: str, default: bool) -> bool:
    value = _get(name, None)
    if value is None:
        return default
    if value in ("True", "true", "1", "yes", "on"):
        return True
    if value in ("False", "false", "0", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be True or False, got {value!r}")


def envint(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    value = _get(name, None)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, got {number}")
    return number


def envlist(name: str, default: list[str]) -> list[str]:
    value = _get(name, None)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def envchoice(name: str, default: str, choices: list[str] | tuple[str, ...]) -> str:
    value = _get(name, default) or ""
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def envemail(name: str, default: str) -> str:
    value = _get(name, default) or ""
    # Accept "Name <addr@example.org>" as Django does for DEFAULT_FROM_EMAIL.
    match = re.fullmatch(r"\s*(?:[^<>]*<)?([^<>]+?)>?\s*", value)
    if not match or not _EMAIL_RE.match(match.group(1)):
        raise ImproperlyConfigured(f"{name} must be an email address, got {value!r}")
    return value


def envurl(name: str, default: str) -> str:
    value = _get(name, default) or ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ImproperlyConfigured(f"{name} must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def envtimezone(name: str, default: str) -> str:
    value = _get(name, default) or ""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(f"{name} must be a time zone name, got {value!r}") from None
    return value


def envdatabase(name: str) -> dict:
    """Parse postgresql://user:password@host:port/name?host=/socket/dir&sslmode=... ."""
    value = envstr(name, required=True)
    parts = urlsplit(value)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ImproperlyConfigured(
            f"{name} must be a postgresql:// URL, got scheme {parts.scheme!r}"
        )
    db_name = unquote(parts.path.lstrip("/"))
    if not db_name:
        raise ImproperlyConfigured(f"{name} must name a database (postgresql://host/NAME)")
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured(f"{name} has an invalid port") from None
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    host = query.pop("host", None) or unquote(parts.hostname or "")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": db_name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(port or ""),
        "OPTIONS": query,
    }


def envredis(name: str, default: str | None = None) -> str:
    value = envstr(name, default, required=True)
    parts = urlsplit(value)
    if parts.scheme not in ("redis", "rediss", "unix") or not (parts.netloc or parts.path):
        raise ImproperlyConfigured(f"{name} must be a redis:// URL, got {value!r}")
    return value


def redis_url_next_db(url: str) -> str:
    """The same Redis server, next database: redis://host:6379/2 → redis://host:6379/3."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if parts.scheme == "unix":
        db = int(query.get("db", ["0"])[-1] or 0)
        query["db"] = [str(db + 1)]
        path = parts.path
    else:
        db = int(parts.path.strip("/") or 0)
        path = f"/{db + 1}"
    if db + 1 > 15:
        raise ImproperlyConfigured(
            f"{url} uses the last database of a default Redis: set CACHE_REDIS_URL"
        )
    # Not urlunsplit: it writes unix:///path as unix:/path.
    rest = f"?{urlencode(query, doseq=True)}" if query else ""
    return f"{parts.scheme}://{parts.netloc}{path}{rest}"
