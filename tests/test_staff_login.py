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


@pytest.fixture(autouse=True)
def _every_test_with_fresh_rate_limits(fresh_rate_limits):
    pass


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


def error_of(response) -> str:
    return " ".join(re.findall(r'<p class="errornote">(.*?)</p>', response.content.decode(), re.S))


def test_a_password_alone_never_enrols_an_authenticator(client, staff):
    response = login(client)  # the right password, no authenticator yet
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302
    assert client.get("/admin/otp/setup/").status_code in (302, 404)
    assert not TOTPDevice.objects.filter(user=staff).exists()


def test_once_set_up_the_code_is_required(client, staff):
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    without = login(client)
    assert without.status_code == 200
    assert "Enter the code of your authenticator app." in without.content.decode()
    wrong = login(client, otp_token="123456")
    assert wrong.status_code == 200 and "_auth_user_id" not in client.session
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=2)):
        right = login(client, otp_token=code_for(TOTPDevice.objects.get(pk=device.pk)))
        assert right.status_code == 302
        assert client.get("/admin/").status_code == 200


def test_a_wrong_password_and_a_wrong_code_say_the_same(client, staff):
    TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    wrong_password = error_of(login(client, password="not the password", otp_token="123456"))
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=1)):
        wrong_code = error_of(login(client, otp_token="123456"))
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=2)):
        throttled = error_of(login(client, otp_token="654321"))  # the device now slows down
    assert wrong_password and wrong_password == wrong_code == throttled
    # Without a code, the password is not even checked: the same answer either way.
    assert error_of(login(client, password="nope")) == error_of(login(client))


def test_one_address_trying_many_usernames_is_stopped(client, staff, settings):
    settings.LOGIN_FAILURES_PER_ADDRESS = 12
    TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    address = {"REMOTE_ADDR": "198.51.100.99"}
    codes = [
        client.post("/admin/login/", {"username": f"user{i}", "password": "Spring2026!",
                                      "otp_token": "123456"}, **address).status_code
        for i in range(13)
    ]  # fmt: skip
    assert codes == [200] * 12 + [429]
    # Refused from that address even with a right password; another address still logs in.
    device = TOTPDevice.objects.get(user=staff)
    refused = client.post("/admin/login/", {"username": "dana", "password": PASSWORD,
                                            "otp_token": code_for(device)}, **address)  # fmt: skip
    assert refused.status_code == 429
    assert login(client, otp_token=code_for(device)).status_code == 302


def test_a_staff_session_without_a_verified_device_sees_no_inquiry(client, staff):
    client.force_login(staff)  # a password-only session, e.g. from before 2FA was required
    assert client.get("/admin/patients/inquiry/").status_code == 302


def test_ten_wrong_passwords_lock_the_pair_for_a_while_then_it_recovers(client, staff, settings):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        codes = [login(client, "wrong", otp_token="123456").status_code for _ in range(10)]
        assert codes[:9] == [200] * 9
        assert codes[9] == 429
        assert login(client, otp_token="123456").status_code == 429  # even the right password
        other_address = client.post(
            "/admin/login/",
            {"username": "dana", "password": "wrong", "otp_token": "123456"},
            REMOTE_ADDR="203.0.113.5",
        )
        assert other_address.status_code == 200  # per username *and* address
    later = start + settings.AXES_COOLOFF_TIME + datetime.timedelta(seconds=5)
    with time_machine.travel(later):
        device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
        assert login(client, otp_token=code_for(device, at=later)).status_code == 302  # cooled off


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


# --- enrolling an authenticator: a one-time link by email -----------------------------------------


def setup_path(message) -> str:
    return re.search(r"https?://[^/\s]+(/admin/otp/setup/[^/\s]+/)", message.body).group(1)


def test_an_emailed_link_enrols_the_authenticator_with_the_password(client, staff, mailoutbox):
    from patients.staff import staff_send_otp_setup_link

    staff_send_otp_setup_link(user=staff)
    send_all_queued()
    (message,) = mailoutbox
    assert message.to == ["dana@hospital.example"]
    path = setup_path(message)
    page = client.get(path)
    html = page.content.decode()
    assert page.status_code == 200 and "<svg" in html
    assert page["Referrer-Policy"] == "same-origin"
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    # The link alone is not enough: the password too (and the code it shows).
    wrong = client.post(path, {"password": "not it", "otp_token": code_for(device)})
    assert wrong.status_code == 200 and "_auth_user_id" not in client.session
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=1)):
        done = client.post(path, {"password": PASSWORD, "otp_token": code_for(device)})
        assert done.status_code == 302
        assert client.get("/admin/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    client.logout()
    assert client.get(path).status_code == 400  # used once


def test_a_new_link_voids_the_old_one_and_replaces_a_lost_phone(client, staff, mailoutbox):
    from patients.staff import staff_send_otp_setup_link

    lost = TOTPDevice.objects.create(user=staff, name="lost phone", confirmed=True)
    staff_send_otp_setup_link(user=staff)
    staff_send_otp_setup_link(user=staff)
    send_all_queued()
    first, second = (setup_path(m) for m in mailoutbox)
    assert client.get(first).status_code == 400
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    client.post(second, {"password": PASSWORD, "otp_token": code_for(device)})
    assert list(TOTPDevice.objects.filter(user=staff)) == [device]
    assert not TOTPDevice.objects.filter(pk=lost.pk).exists()


def test_an_administrator_emails_set_up_links_from_the_user_list(client, staff, mailoutbox):
    other = get_user_model().objects.create_user("eve", "eve@hospital.example", PASSWORD,
                                                 is_staff=True)  # fmt: skip
    client.force_login(staff)
    session = client.session
    session["otp_device_id"] = TOTPDevice.objects.create(
        user=staff, name="phone", confirmed=True
    ).persistent_id
    session.save()
    response = client.post(
        "/admin/auth/user/",
        {"action": "email_otp_setup_link", "_selected_action": [other.pk]},
    )
    assert response.status_code == 302
    send_all_queued()
    assert [m.to for m in mailoutbox] == [["eve@hospital.example"]]


def test_the_command_prints_a_link_for_the_first_administrator(staff):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("otp_setup_link", "dana", stdout=out)
    assert re.search(r"/admin/otp/setup/[^/\s]+/", out.getvalue())


def send_all_queued():
    from notifications.emails import deliver
    from notifications.models import EmailStatus, OutgoingEmail

    for email in OutgoingEmail.objects.filter(status=EmailStatus.QUEUED).order_by("id"):
        deliver(email.id)


def test_production_refuses_to_start_without_two_step_login():
    import os
    import secrets
    import subprocess
    import sys

    from tests.conftest import ROOT

    def start(debug: str):
        environ = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
                   "DOTENV_FILE": "/nonexistent", "SECRET_KEY": secrets.token_urlsafe(50),
                   "DEBUG": debug, "REQUIRE_2FA": "False"}  # fmt: skip
        return subprocess.run(
            [sys.executable, "-c", "import django; django.setup()"],
            cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    refused = start("False")
    assert refused.returncode != 0
    assert "REQUIRE_2FA" in refused.stderr.strip().splitlines()[-1]
    assert start("True").returncode == 0  # make run's demo
