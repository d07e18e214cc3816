"""TrialFinder settings: one file, read from the environment (see .env.example).

Production and development differ only by environment values. DEBUG defaults to False because
this portal holds health data.
"""

import datetime
import os
from pathlib import Path

from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

from config.env import (
    envbool,
    envchoice,
    envdatabase,
    envemail,
    envint,
    envlist,
    envredis,
    envsecretkey,
    envstr,
    envtimezone,
    envurl,
    load_dotenv,
    redis_url_next_db,
)
from config.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

# A developer's own .env wins over the URLs of the embedded servers that `make run` started.
load_dotenv(Path(os.environ.get("DOTENV_FILE", BASE_DIR / ".env")))
load_dotenv(BASE_DIR / ".local" / "services.env")

DEBUG = envbool("DEBUG", False)
# Outside DEBUG, a key published in the repository or a weak one stops start-up: it would let
# anyone forge signed links (alert management, site confirmation, status pages).
SECRET_KEY = envsecretkey("SECRET_KEY", debug=DEBUG)

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
SITE_URL = envurl("SITE_URL", "http://localhost:8000")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [SITE_URL])

INSTALLED_APPS = [
    # The admin, on a site that requires two-step login (config/admin.py).
    "config.apps.TrialFinderAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "django.contrib.sitemaps",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "crispy_forms",
    "crispy_bootstrap5",
    "trials",
    "patients",
    "notifications",
    "notes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # A request that wrote reads its own writes (config/db.py).
    "config.db.ReadYourWritesMiddleware",
    "config.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language from the address, else negotiated (config/i18n.py).
    "config.i18n.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "trials.middleware.SearchIndexUnavailableMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it answers locked-out logins.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ADMIN_PATH = envstr("ADMIN_PATH", "admin/").strip("/") + "/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
DATABASES = {"default": envdatabase("DATABASE_URL")}
# Reusing connections saves a connect per request; health checks keep them honest.
DATABASES["default"]["CONN_MAX_AGE"] = envint("DB_CONN_MAX_AGE", 60, minimum=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A server that does not answer (a failover in progress) must not hold a request for the
# operating system's TCP timeout; a ?connect_timeout= in DATABASE_URL wins.
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)
# Writes (contact form, alerts, sharing, withdrawal, the admin's workflow) ride out a database
# restart: a lost connection is retried on a fresh one for this long, with backoff, before a
# 503 page that keeps what was typed (config/outage.py). Keep it under the web server's timeout.
DB_OUTAGE_RETRY_SECONDS = envint("DB_OUTAGE_RETRY_SECONDS", 15, minimum=0, maximum=25)

# A streaming read replica (optional): search, trial pages, the API and the feed read from it,
# everything else uses the primary (config/db.py). Same user and database as the primary.
if envstr("DATABASE_REPLICA_URL", ""):
    DATABASES["replica"] = {
        **envdatabase("DATABASE_REPLICA_URL"),
        "CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"],
        "CONN_HEALTH_CHECKS": True,
        # Tests read the replica's copy of the test database, not a database of its own.
        "TEST": {"MIRROR": "default"},
    }
    # A replica that does not answer is skipped: it must not hold a page for long.
    DATABASES["replica"]["OPTIONS"].setdefault("connect_timeout", 2)
DATABASE_ROUTERS = ["config.db.ReplicaRouter"]
# A replica replaying further behind than this is skipped: reads go to the primary.
REPLICA_MAX_LAG_SECONDS = envint("REPLICA_MAX_LAG_SECONDS", 10, minimum=1)
# How often each web process asks the replica for its lag (one cheap query).
REPLICA_CHECK_SECONDS = envint("REPLICA_CHECK_SECONDS", 2, minimum=0)
# After a write, that browser reads from the primary for this long (cookie below): longer than
# the replica's usual lag, shorter than a visit.
REPLICA_STICKY_SECONDS = envint("REPLICA_STICKY_SECONDS", 10, minimum=1)
REPLICA_STICKY_COOKIE = "tf_primary"

# PgBouncer in transaction pooling in front of PostgreSQL: a server session lasts one
# transaction, so no server-side cursors (they outlive it), no persistent connections to the
# pooler (it pools), no prepared statements (psycopg prepares a query run 5 times; PgBouncer
# 1.18 cannot route them) and session-level advisory locks on a connection of their own,
# straight to PostgreSQL (DATABASE_DIRECT_URL: same user and database). SET LOCAL (the search's
# planner settings) is transaction-scoped and fine.
DATABASE_POOLER = envchoice("DATABASE_POOLER", "none", ["none", "pgbouncer"])
if DATABASE_POOLER == "pgbouncer":
    for _alias in DATABASES.values():
        _alias["DISABLE_SERVER_SIDE_CURSORS"] = True
        _alias["CONN_MAX_AGE"] = 0
        _alias["OPTIONS"]["prepare_threshold"] = None
    DATABASE_DIRECT = envdatabase("DATABASE_DIRECT_URL")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker and rate limits; the cache apart -----------------------------------
# The broker's Redis must never evict (a lost key is a lost email): maxmemory-policy noeviction.
REDIS_URL = envredis("REDIS_URL")
# The cache may be evicted at any time, and a flood of searches must not fill the broker's memory:
# its own database, by default the next one on the same server. In production give it a Redis
# of its own with a cap and LRU eviction (maxmemory and its policy are per server, not per
# database), as docker-compose.yml does: --maxmemory 256mb --maxmemory-policy allkeys-lru.
CACHE_REDIS_URL = envredis("CACHE_REDIS_URL", redis_url_next_db(REDIS_URL))
if CACHE_REDIS_URL == REDIS_URL:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("CACHE_REDIS_URL must not be the broker's REDIS_URL")
# Short socket timeouts: a request must never hang because Redis is down.
REDIS_SOCKET_TIMEOUT = 0.5
CACHES = {
    "default": {
        "BACKEND": "config.cache.ForgivingRedisCache",
        "LOCATION": CACHE_REDIS_URL,
        "KEY_PREFIX": envstr("CACHE_KEY_PREFIX", "tf"),
        "OPTIONS": {
            "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
            "socket_timeout": REDIS_SOCKET_TIMEOUT,
        },
    }
}

# --- Celery (see config/celery.py) ----------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
# No result backend: the database row a task writes is its result.
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A task is acknowledged only when it finished, and requeued if its worker died: every task is
# written to be safe to run twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing happens on the request path (after commit): it must fail fast, not hang, when Redis
# is down. The outbox sweeper re-enqueues whatever could not be published.
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_TASK_PUBLISH_RETRY = False
CELERY_REDIS_VISIBILITY_TIMEOUT = 3600
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_REDIS_VISIBILITY_TIMEOUT,
    # One connection attempt per publish: kombu otherwise retries for ~2 s, twice per inquiry
    # (two emails), and the soak measured the contact form at 4-6 s with Redis down. Workers
    # reconnect with their own retry settings (broker_connection_max_retries).
    "max_retries": 0,
    "socket_connect_timeout": 1,
    "socket_timeout": 5,
    "global_keyprefix": envstr("CELERY_KEY_PREFIX", ""),
}
CELERY_TASK_DEFAULT_QUEUE = envstr("CELERY_QUEUE", "celery")
# Beyond one box (docs/scaling.md): emails, alerts and imports on queues of their own, so that a
# registry-sized import or 100,000 alerts never hold back an inquiry's email. Workers then take
# `-Q celery,email`, `-Q alerts`, `-Q import`. Off by default: one queue, every worker does all.
CELERY_SPLIT_QUEUES = envbool("CELERY_SPLIT_QUEUES", False)
CELERY_TASK_ROUTES = (
    {
        "notifications.tasks.deliver_email": {"queue": "email"},
        "notifications.tasks.sweep_outbox": {"queue": "email"},
        "notifications.tasks.match_alerts": {"queue": "alerts"},
        "notifications.tasks.send_due_digests": {"queue": "alerts"},
        "notifications.tasks.send_digest": {"queue": "alerts"},
        "notifications.tasks.expire_unconfirmed_alerts": {"queue": "alerts"},
        "trials.tasks.sync_ctgov": {"queue": "import"},
    }
    if CELERY_SPLIT_QUEUES
    else {}
)
# Every beat started waits for a lock in Redis, so exactly one schedules (config/beatlock.py);
# a standby takes over this many seconds after the holder died.
BEAT_LOCK_TTL_SECONDS = envint("BEAT_LOCK_TTL_SECONDS", 30, minimum=3)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(BASE_DIR / ".local" / "celerybeat-schedule")

# Periodic work: beat tasks pick due rows in PostgreSQL and fan out one task per row.
CELERY_BEAT_SCHEDULE = {
    "sweep-outbox": {"task": "notifications.tasks.sweep_outbox", "schedule": 60.0},
    "sync-ctgov": {"task": "trials.tasks.sync_ctgov", "schedule": 3600.0},
    # Imports add what their trials bring to the search's vocabularies; this redoes them whole.
    "refresh-vocabularies": {
        "task": "trials.tasks.refresh_vocabularies",
        "schedule": crontab(hour=4, minute=40),
    },
    # Imports enqueue matching themselves; this catches anything they could not enqueue.
    "match-alerts": {"task": "notifications.tasks.match_alerts", "schedule": 300.0},
    "alerts-immediate": {
        "task": "notifications.tasks.send_due_digests",
        "schedule": 60.0,
        "args": ("immediate",),
    },
    "alerts-daily": {
        "task": "notifications.tasks.send_due_digests",
        "schedule": crontab(hour=7, minute=0),
        "args": ("daily",),
    },
    "alerts-weekly": {
        "task": "notifications.tasks.send_due_digests",
        "schedule": crontab(day_of_week=1, hour=7, minute=30),
        "args": ("weekly",),
    },
    "alerts-expire-unconfirmed": {
        "task": "notifications.tasks.expire_unconfirmed_alerts",
        "schedule": crontab(hour=3, minute=15),
    },
    "erase-expired-inquiries": {
        "task": "patients.tasks.erase_expired_inquiries",
        "schedule": 86400.0,
    },
    # Monthly "still recruiting at <site>?" emails to coordinators, for the sites that are due.
    "request-site-confirmations": {
        "task": "patients.tasks.request_site_confirmations",
        "schedule": crontab(hour=8, minute=0),
    },
    # Inquiries still "new" past their site's response deadline: remind, then escalate.
    "escalate-overdue-inquiries": {
        "task": "patients.tasks.escalate_overdue_inquiries",
        "schedule": crontab(minute=10),
    },
    # Expired shared notes are refused at once; this only deletes their rows.
    "purge-expired-shares": {
        "task": "notes.tasks.purge_expired_shares",
        "schedule": 24 * 3600.0,
    },
}

# --- ClinicalTrials.gov --------------------------------------------------------------------
CTGOV_API_URL = envurl("CTGOV_API_URL", "https://clinicaltrials.gov/api/v2")
# The hourly sync pulls studies updated since its last success; off until a deployment opts in.
CTGOV_SYNC_ENABLED = envbool("CTGOV_SYNC_ENABLED", False)
CTGOV_SYNC_STALE_BUSINESS_DAYS = envint("CTGOV_SYNC_STALE_BUSINESS_DAYS", 2, minimum=1)

# --- Email -------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = envemail("DEFAULT_FROM_EMAIL", "TrialFinder <noreply@trialfinder.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The portal's own inbox, for inquiries whose site and trial name no contact.
TRIAGE_EMAIL = envemail("TRIAGE_EMAIL", "triage@trialfinder.localhost")
_EMAIL_BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    # One .eml file per message, which any mail client opens (config/mail.py).
    "file": "config.mail.EmlFileBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
}
EMAIL_BACKEND = _EMAIL_BACKENDS[envchoice("EMAIL_BACKEND", "smtp", list(_EMAIL_BACKENDS))]
EMAIL_FILE_PATH = envstr("EMAIL_FILE_PATH", str(BASE_DIR / ".local" / "mail"))
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 20, minimum=1)
# An email claimed by a worker but not recorded as sent after this long is sent again (its
# worker died mid-send). Must exceed EMAIL_TIMEOUT by a margin.
OUTBOX_STUCK_AFTER_SECONDS = envint("OUTBOX_STUCK_AFTER_SECONDS", 300, minimum=30)
if OUTBOX_STUCK_AFTER_SECONDS <= 2 * EMAIL_TIMEOUT:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("OUTBOX_STUCK_AFTER_SECONDS must exceed twice EMAIL_TIMEOUT")
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be True")

# Shared secret of the bounce/complaint webhook (header X-Webhook-Secret); empty = webhook off.
ALERTS_WEBHOOK_SECRET = envstr("ALERTS_WEBHOOK_SECRET", "")

# --- Inquiries -----------------------------------------------------------------------------
# Days after an inquiry closed (enrolled, not eligible, declined, unreachable, withdrawn) before
# the patient's personal data is erased; the anonymous row stays for the statistics.
INQUIRY_RETENTION_DAYS = envint("INQUIRY_RETENTION_DAYS", 365, minimum=1)

# --- Plain language ------------------------------------------------------------------------
# The admin warns when a plain-language text reads above this school grade (US grades: 8 is
# about 13-14 years old; see trials.readability).
PLAIN_LANGUAGE_TARGET_GRADE = envint("PLAIN_LANGUAGE_TARGET_GRADE", 8, minimum=1, maximum=18)

# --- Auth ----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Staff who can read inquiries log in with a TOTP code as well as their password. Only a local
# demo (make run, DEBUG=True) may turn this off: refused outright rather than a system check
# warning, because gunicorn and Celery never run the checks.
REQUIRE_2FA = envbool("REQUIRE_2FA", True)
if not REQUIRE_2FA and not DEBUG:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "REQUIRE_2FA=False is only for a local demo with DEBUG=True: staff read patients' data"
    )
OTP_TOTP_ISSUER = "TrialFinder"
# Ten wrong passwords for one username from one address lock that pair for 15 minutes, then it
# recovers on its own: a throttle, not a lock anyone can use to shut a coordinator out.
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 10, minimum=3)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=envint("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# And failed logins from one address whatever the usernames (one password tried over many),
# for the same cool-off; higher, as several coordinators may share a hospital's address.
LOGIN_FAILURES_PER_ADDRESS = envint("LOGIN_FAILURES_PER_ADDRESS", 30, minimum=AXES_FAILURE_LIMIT)
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "config.ratelimit.client_ip"
# Usernames are not patient data, but the log need not keep the address of every attempt.
AXES_VERBOSE = False

# --- Internationalisation ------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French")), ("it", _("Italian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates in each language's own style (config/formats/<language>/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = envtimezone("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files --------------------------------------------------------------------------
STATIC_URL = "/static/"
# Where collectstatic writes (and whitenoise serves from) with DEBUG=False; a relative path is
# taken from the checkout.
STATIC_ROOT = BASE_DIR / envstr("STATIC_ROOT", "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Security ------------------------------------------------------------------------------
SECURE_HTTPS = SITE_URL.startswith("https://")
# Cookies only over HTTPS. Defaults to SITE_URL's scheme; the production-like browser tests
# (tests/browser/test_emailed_links.py) also turn it on over http://localhost, which browsers
# treat as a secure context.
SECURE_COOKIES = envbool("SECURE_COOKIES", SECURE_HTTPS)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
# A refused form shows what happened and what to do, in the patient's language (templates/403.html).
CSRF_FAILURE_VIEW = "config.views.csrf_failure"
SESSION_COOKIE_HTTPONLY = True
# Scripts read the CSRF token from the page (a hidden input), never from the cookie.
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# The language buttons' cookie, by the same rules (no script reads it).
LANGUAGE_COOKIE_SECURE = SECURE_COOKIES
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if envbool("BEHIND_HTTPS_PROXY", False) else None
)
# Searches (page, API, feeds) per IP per minute: generous for people behind a hospital's NAT,
# low enough to stop scrapers hammering the database.
SEARCH_RATE_PER_MINUTE = envint("SEARCH_RATE_PER_MINUTE", 300, minimum=1)
# The search index (trials.engine), derived from the database; each web host keeps its own copy.
# One per database by default (the bench and relevance runs use databases of their own).
SEARCH_INDEX_DIR = envstr(
    "SEARCH_INDEX_DIR",
    str(BASE_DIR / ".local" / "search-index" / (DATABASES["default"].get("NAME") or "default")),
)
# Reindex changed trials at once rather than after the transaction commits (tests, whose
# transactions never commit).
SEARCH_INDEX_UPDATE_IMMEDIATELY = envbool("SEARCH_INDEX_UPDATE_IMMEDIATELY", False)
# Reverse proxies in front of the web processes whose X-Forwarded-For we trust (rate limits).
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=5)
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", SECURE_HTTPS)
# Load balancers probe /healthz over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000 if SECURE_HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
# Preloading puts the domain in browsers' built-in HTTPS-only lists, which takes months to
# undo (and covers every subdomain): a deployment opts in, knowing that.
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
# `check --deploy` warns whenever preload is off (security.W021); off is this portal's default.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Staff sessions end after this long without a request (sessions are used by the admin only).
SESSION_COOKIE_AGE = envint("SESSION_IDLE_MINUTES", 30, minimum=5) * 60
SESSION_SAVE_EVERY_REQUEST = True

# --- Logging: never patient data (config/logs.py) -------------------------------------------
LOG_LEVEL = envchoice("LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR"])
# One formatter for Django, Celery and gunicorn (config/gunicorn.py): query strings, capability
# tokens in paths and email addresses are redacted from every line (config/logs.py).
LOGGING = logging_config(LOG_LEVEL)
