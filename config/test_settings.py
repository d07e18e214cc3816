"""The only override of config/settings.py: what tests need to be fast and self-contained."""

import os
import secrets
import tempfile

# Tests run against real PostgreSQL and Redis (DATABASE_URL / REDIS_URL, as set by `make test`).
# Their Celery messages and cache keys get a prefix of their own so that a test run never
# consumes a developer's tasks (or the other way round).
# Deterministic whatever a developer's .env says.
os.environ["DEBUG"] = "False"
os.environ.setdefault("CELERY_KEY_PREFIX", f"test-{os.getpid()}:")
os.environ.setdefault("CACHE_KEY_PREFIX", f"test-{os.getpid()}")
os.environ.setdefault("CELERY_QUEUE", "test")
os.environ.setdefault("EMAIL_BACKEND", "locmem")
# A fresh key per run (in os.environ, so worker processes share it): a key written here would be
# public, and production refuses those.
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("SITE_URL", "http://testserver")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
# The suite searches hundreds of times a minute from one address; tests of the limits set their own.
os.environ.setdefault("SEARCH_RATE_PER_MINUTE", "100000")
os.environ.setdefault("SEARCH_INDEX_UPDATE_IMMEDIATELY", "True")
# One index per test run (worker processes share it through the environment).
os.environ.setdefault(
    "SEARCH_INDEX_DIR", os.path.join(tempfile.gettempdir(), f"tf-search-index-{os.getpid()}")
)
from config.settings import *  # noqa: F403

# Admin tests log staff in directly; tests of the two-step login turn it on. Set here, not in
# the environment: settings refuse REQUIRE_2FA=False with DEBUG=False.
REQUIRE_2FA = False

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Static files come straight from the finders: tests do not run collectstatic.
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
STATIC_ROOT = None  # type: ignore[assignment]  # the finders serve the files
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
