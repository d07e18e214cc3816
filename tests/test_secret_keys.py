"""A known or weak SECRET_KEY would let anyone forge the signed links (alert management, site
confirmation): production refuses to start with one, and those links also carry a secret that is
not derived from the key alone."""

import re
import secrets
import subprocess

import pytest
import yaml
from django.core import signing

from config import env
from tests.conftest import ROOT, start_django

# SECRET_KEY=value, "SECRET_KEY": "value", SECRET_KEY: ${SECRET_KEY:-value}, in any file.
ASSIGNED = re.compile(
    r"""SECRET_KEY["']?[ \t]*[:=][ \t]*(?:\$\{SECRET_KEY:-)?["']?"""
    r"""([^"'\s}()]+)["']?(?=[\s}"',]|$)""",
    re.MULTILINE,
)


def assigned_keys(text: str) -> set[str]:
    return {
        value
        for value in ASSIGNED.findall(text)
        if not value.startswith(("$", "os.", "env")) and value != "None"
    }


def keys_written_in_the_repository() -> set[str]:
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    found = set()
    for name in filter(None, files):
        path = ROOT / name.decode()
        if path.suffix in (".mo", ".png", ".ico", ".zip", ".gz") or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        found |= assigned_keys(text)
    return found


def test_the_scan_sees_keys_however_they_are_written():
    sample = (
        "SECRET_KEY=one-key\n"
        '"SECRET_KEY": "two-key",\n'
        "    SECRET_KEY: ${SECRET_KEY:-three-key}\n"
        'SECRET_KEY = "four-key"  # comment\n'
        "SECRET_KEY=\n"
        "SECRET_KEY: ${SECRET_KEY:?set it}\n"
        '"SECRET_KEY": secrets.token_urlsafe(50),\n'
    )
    assert assigned_keys(sample) == {"one-key", "two-key", "three-key", "four-key"}


def test_every_key_written_in_the_repository_is_refused():
    found = keys_written_in_the_repository()
    for value in found:
        assert env.secret_key_problem(value), value


@pytest.mark.parametrize(
    "key",
    [
        "change-me",
        "change-me-in-production-this-is-only-for-local-compose",
        "test-secret-key-not-for-production",
        "build-only",
        "x" * 50,
        "django-insecure-" + secrets.token_urlsafe(50),
        secrets.token_urlsafe(20),  # too short
        "ab" * 40,  # long, but two characters
    ],
)
def test_known_and_weak_keys_are_refused(key):
    assert env.secret_key_problem(key)


def test_a_random_key_is_accepted():
    assert env.secret_key_problem(secrets.token_urlsafe(50)) is None
    from django.core.management.utils import get_random_secret_key

    assert env.secret_key_problem(get_random_secret_key()) is None


def test_production_refuses_to_start_with_the_old_compose_key():
    old_compose_key = "change-me-in-production-this-is-only-for-local-compose"
    result = start_django(DEBUG="False", SECRET_KEY=old_compose_key)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last and "SECRET_KEY" in last


def test_development_still_starts_with_any_key():
    result = start_django(DEBUG="True", SECRET_KEY="change-me")
    assert result.returncode == 0, result.stderr


def test_compose_requires_a_secret_key():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    value = compose["x-app"]["environment"]["SECRET_KEY"]
    assert value.startswith("${SECRET_KEY:?"), value


# --- links signed with the key carry a secret of their own ---------------------------------------


@pytest.mark.django_db
def test_a_manage_link_forged_with_the_key_alone_is_refused(client):
    from notifications import alerts
    from notifications.models import Subscriber

    subscriber = Subscriber.objects.create(email="victim@example.org")
    forged = signing.dumps(subscriber.id, salt=alerts.MANAGE_SALT)
    response = client.get(f"/alerts/manage/{forged}/")
    assert response.status_code == 400
    assert "victim@example.org" not in response.content.decode()
    real = client.get(f"/alerts/manage/{alerts.manage_token(subscriber)}/")
    assert real.status_code == 200 and "victim@example.org" in real.content.decode()


@pytest.mark.django_db
def test_new_links_make_the_old_manage_links_stop_working(client):
    from notifications import alerts
    from notifications.models import Subscriber

    subscriber = Subscriber.objects.create(email="alice@example.org")
    old = alerts.manage_token(subscriber)
    response = client.post(f"/alerts/manage/{old}/", {"action": "new-link"})
    assert response.status_code == 302
    new_url = response["Location"]
    assert old not in new_url
    assert client.get(new_url).status_code == 200
    assert client.get(f"/alerts/manage/{old}/").status_code == 400


@pytest.mark.django_db
def test_a_site_confirmation_link_forged_with_the_key_alone_is_refused(client, site_a, bob):
    from patients import sites

    forged = signing.dumps([site_a.pk, bob.pk], salt=sites.CONFIRM_SALT)
    assert sites.read_confirm_token(forged) is None
    assert client.get(f"/sites/confirm/{forged}/").status_code == 400
    real = sites.confirm_token(site_a, bob)
    assert client.get(f"/sites/confirm/{real}/").status_code == 200
    bob.set_password("a-new-long-test-password")  # rotates the coordinator's links
    bob.save()
    assert sites.read_confirm_token(real) is None
