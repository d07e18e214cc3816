"""Enrolling a staff member's authenticator: only through a one-time link, emailed by an
administrator (patients.staff) or printed on the server for the first one (`manage.py
otp_setup_link`), and opened with the account's password.

A password alone never enrols a device: whoever learnt it would scan a QR code of their own and
own the account. The link names a fresh unconfirmed device; issuing a new link deletes it (the
old link dies), confirming it makes it the account's only device (a lost phone stops working),
and a confirmed device no longer answers to the link.
"""

import datetime

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from django_otp.plugins.otp_totp.models import TOTPDevice

SETUP_SALT = "admin.otp-setup"
SETUP_MAX_AGE = datetime.timedelta(days=3)


def _fingerprint(device: TOTPDevice) -> str:
    return salted_hmac(SETUP_SALT, device.key, algorithm="sha256").hexdigest()[:32]


def otp_setup_start(user) -> str:
    """A fresh device to pair for `user` (earlier links void); the token of its link."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    return signing.dumps([device.pk, _fingerprint(device)], salt=SETUP_SALT)


def otp_setup_url(user) -> str:
    return settings.SITE_URL + reverse("admin:otp-setup", args=[otp_setup_start(user)])


def otp_setup_device(token: str) -> TOTPDevice | None:
    """The device a valid, unexpired, unused link pairs; None otherwise."""
    try:
        device_id, fingerprint = signing.loads(token, salt=SETUP_SALT, max_age=SETUP_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    device = (
        TOTPDevice.objects.select_related("user")
        .filter(pk=device_id, confirmed=False, user__is_active=True, user__is_staff=True)
        .first()
    )
    if device is None or not constant_time_compare(str(fingerprint), _fingerprint(device)):
        return None
    return device


def otp_setup_finish(device: TOTPDevice) -> None:
    """The code matched: this device becomes the account's only one."""
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user_id=device.user_id).exclude(pk=device.pk).delete()
