"""config/settings.py refuses values it cannot use, naming the variable."""

import secrets
import subprocess

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import env
from tests.conftest import start_django


@pytest.mark.parametrize(
    ("reader", "value"),
    [
        (lambda: env.envbool("X_FLAG", False), "flase"),
        (lambda: env.envint("X_NUMBER", 1), "ten"),
        (lambda: env.envint("X_NUMBER", 1, minimum=0), "-5"),
        (lambda: env.envemail("X_EMAIL", "a@b.org"), "not-an-email"),
        (lambda: env.envurl("X_URL", "http://a"), "ftp://example.org"),
        (lambda: env.envchoice("X_CHOICE", "a", ["a", "b"]), "c"),
        (lambda: env.envtimezone("X_TZ", "UTC"), "Mars/Olympus"),
        (lambda: env.envdatabase("X_DB"), "mysql://localhost/db"),
        (lambda: env.envdatabase("X_DB"), "postgresql://localhost/"),
        (lambda: env.envredis("X_REDIS"), "http://localhost:6379"),
    ],
)
def test_each_reader_refuses_a_bad_value_and_names_the_variable(monkeypatch, reader, value):
    for name in ("X_FLAG", "X_NUMBER", "X_EMAIL", "X_URL", "X_CHOICE", "X_TZ", "X_DB", "X_REDIS"):
        monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=r"X_[A-Z]+"):
        reader()


def test_it_reads_good_values(monkeypatch):
    monkeypatch.setenv("X_FLAG", "True")
    monkeypatch.setenv("X_DB", "postgresql://user:p%40ss@db.example:5433/trials?sslmode=require")
    assert env.envbool("X_FLAG", False) is True
    db = env.envdatabase("X_DB")
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "user",
        "p@ss",
        "db.example",
        "5433",
        "trials",
    )
    assert db["OPTIONS"] == {"sslmode": "require"}
    monkeypatch.setenv("X_DB", "postgresql://postgres@/trialfinder?host=/tmp/pg")
    assert env.envdatabase("X_DB")["HOST"] == "/tmp/pg"


def _start_django(**overrides) -> subprocess.CompletedProcess:
    return start_django(**{"SECRET_KEY": secrets.token_urlsafe(50), "DEBUG": "False", **overrides})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "yes please"),
        ("DATABASE_URL", "sqlite:///db.sqlite3"),
        ("REDIS_URL", "localhost:6379"),
        ("EMAIL_PORT", "smtp"),
        ("TRIAGE_EMAIL", "nobody"),
        ("SITE_URL", "trialfinder.org"),
        ("EMAIL_BACKEND", "carrier-pigeon"),
    ],
)
def test_start_up_stops_on_a_bad_value_naming_the_variable(name, value):
    result = _start_django(**{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr.strip().splitlines()[-1]


def test_production_refuses_to_start_without_a_secret_key():
    result = _start_django(SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_debug_is_off_unless_asked_for():
    result = start_django(
        "from django.conf import settings; print(settings.DEBUG)",
        DEBUG=None,
        SECRET_KEY=secrets.token_urlsafe(50),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
