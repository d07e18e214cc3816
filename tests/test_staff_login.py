"""Staff log in with a password and a TOTP code; failed logins are throttled, then recover."""

import datetime
import re

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple 42"


@pytest.fixture(autouse=True)
def two_factor_on(settings):
    settings.REQUIRE_2FA = True


@pytest.fixture
def staff():
    return get_user_model().objects.create_user(
        "dana", "dana@hospital.example", PASSWORD, is_staff=True, is_superuser=True
    )


def code_for(device: TOTPDevice, at=None) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = (at or timezone.now()).timestamp()
    return f"{totp.token():06d}"


def login(client, password=PASSWORD, otp_token=""):
    return client.post(
        "/admin/login/",
        {"username": "dana", "password": password, "otp_token": otp_token, "next": "/admin/"},
        REMOTE_ADDR="198.51.100.7",
    )


def test_a_first_login_goes_to_the_authenticator_setup_and_nothing_else(client, staff):
    response = login(client)
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 302  # not verified: no admin page
    assert client.get("/admin/patients/inquiry/").status_code == 302
    setup = client.get("/admin/login/")
    assert setup.status_code == 302 and setup["Location"].endswith("/admin/otp/setup/")
    page = client.get("/admin/otp/setup/")
    html = page.content.decode()
    assert "<svg" in html and re.search(r"<code>[A-Z2-7 ]{20,}</code>", html)
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    wrong = client.post("/admin/otp/setup/", {"otp_token": "000000"})
    assert "This code is not right" in wrong.content.decode()
    throttled = client.post("/admin/otp/setup/", {"otp_token": code_for(device)})
    assert "Too many wrong codes" in throttled.content.decode()  # a second after a failure
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=3)):
        confirmed = client.post("/admin/otp/setup/", {"otp_token": code_for(device)})
        assert confirmed.status_code == 302
        assert client.get("/admin/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed


def test_once_set_up_the_code_is_required(client, staff):
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    without = login(client)
    assert without.status_code == 200
    assert "Enter the code of your authenticator app." in without.content.decode()
    wrong = login(client, otp_token="123456")
    assert "This code is not right" in wrong.content.decode()
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=2)):
        right = login(client, otp_token=code_for(TOTPDevice.objects.get(pk=device.pk)))
        assert right.status_code == 302
        assert client.get("/admin/").status_code == 200


def test_a_staff_session_without_a_verified_device_sees_no_inquiry(client, staff):
    client.force_login(staff)  # a password-only session, e.g. from before 2FA was required
    assert client.get("/admin/patients/inquiry/").status_code == 302


def test_ten_wrong_passwords_lock_the_pair_for_a_while_then_it_recovers(client, staff, settings):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        codes = [login(client, password="wrong").status_code for _ in range(10)]
        assert codes[:9] == [200] * 9
        assert codes[9] == 429
        assert login(client).status_code == 429  # even the right password, for now
        other_address = client.post(
            "/admin/login/", {"username": "dana", "password": "wrong"}, REMOTE_ADDR="203.0.113.5"
        )
        assert other_address.status_code == 200  # per username *and* address
    with time_machine.travel(start + settings.AXES_COOLOFF_TIME + datetime.timedelta(seconds=5)):
        assert login(client).status_code == 302  # cooled off: logs in (to the 2FA setup)


@pytest.mark.parametrize(
    "password", ["short", "password123456", "123456789012345", "dana.hospital.example"]
)
def test_weak_staff_passwords_are_refused(staff, password):
    with pytest.raises(ValidationError):
        validate_password(password, user=staff)


def test_the_admin_path_is_configurable():
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = (
        "import django; django.setup(); from django.urls import reverse; "
        "print(reverse('admin:index'))"
    )
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "ADMIN_PATH": "staff-7f3a/",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env=environ,
    )  # fmt: skip
    assert result.stdout.strip() == "/staff-7f3a/"
