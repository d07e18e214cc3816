"""The admin site: coordinators see patients' inquiries here, so staff log in with a password
and a TOTP code (django-otp). An authenticator is set up only through a one-time link opened
with the password (config/otp.py), never by a password alone. Failed logins are throttled per
username and address by django-axes, and per address whatever the username (a password tried
over many usernames) by LOGIN_FAILURES_PER_ADDRESS."""

import base64
from io import BytesIO

import django_otp
import qrcode
import qrcode.image.svg
from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import authenticate
from django.contrib.auth import login as auth_login
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.decorators import method_decorator
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django_otp.plugins.otp_totp.models import TOTPDevice

from config import otp, ratelimit
from config.privacy import private


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def needs_second_factor() -> bool:
    return settings.REQUIRE_2FA


def _address_limit() -> ratelimit.Limit:
    return ratelimit.Limit(
        "login-ip",
        settings.LOGIN_FAILURES_PER_ADDRESS,
        int(settings.AXES_COOLOFF_TIME.total_seconds()),
    )


def _locked_out(request, verdict: ratelimit.Verdict) -> HttpResponse:
    body = render_to_string("admin/locked_out.html", {}, request=request)
    response = HttpResponse(body, status=429)
    response["Retry-After"] = str(verdict.retry_after)
    return response


class TwoFactorLoginForm(AdminAuthenticationForm):
    """Username, password and the code of the staff member's authenticator."""

    otp_token = forms.CharField(
        label=_("Authentication code"),
        required=False,
        max_length=8,
        help_text=_("The 6 digits your authenticator app shows for TrialFinder."),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9]*"}
        ),
    )
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "otp_required": _("Enter the code of your authenticator app."),
        # One answer for a wrong password, a wrong or late code, a code tried too often and an
        # account without an authenticator: none tells whoever is guessing what was right.
        "invalid_login_2fa": _(
            "Please enter the correct username, password and authentication code for a staff "
            "account. After several wrong tries, wait a few minutes."
        ),
    }

    def _refused(self) -> forms.ValidationError:
        return forms.ValidationError(self.error_messages["invalid_login_2fa"], code="invalid_login")

    def clean(self):
        if not needs_second_factor():
            return super().clean()
        token = (self.cleaned_data.get("otp_token") or "").replace(" ", "")
        if not token:
            # Asked before the password is checked: the answer says nothing about it.
            raise forms.ValidationError(self.error_messages["otp_required"], code="otp_required")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            raise self._refused() from None
        user = self.get_user()
        device = confirmed_device(user)
        if device is None or not device.verify_is_allowed()[0]:
            raise self._refused()
        if not device.verify_token(token):
            raise self._refused()
        # django_otp marks the session as verified when the user logs in with this set.
        user.otp_device = device
        return cleaned


class SetupForm(forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    otp_token = forms.CharField(
        label=_("Code shown by your authenticator app"),
        max_length=8,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9]*"}
        ),
    )


def _qr_svg(data: str) -> str:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


class TrialFinderAdminSite(admin.AdminSite):
    site_header = _("TrialFinder administration")
    site_title = _("TrialFinder")
    index_title = _("Inquiries, trials and alerts")
    login_form = TwoFactorLoginForm
    login_template = "admin/tf_login.html"

    def has_permission(self, request):
        if not super().has_permission(request):
            return False
        return not needs_second_factor() or request.user.is_verified()

    @method_decorator(never_cache)
    def login(self, request, extra_context=None):
        address = ratelimit.client_ip(request)
        if request.method == "POST":
            verdict = ratelimit.peek(_address_limit(), address)
            if not verdict.allowed:
                return _locked_out(request, verdict)
        # The code field only when codes are asked for (the demo runs without two-step login).
        extra_context = {"otp_required": needs_second_factor(), **(extra_context or {})}
        response = super().login(request, extra_context)
        if request.method == "POST" and response.status_code == 200:
            ratelimit.hit(_address_limit(), address)  # the form again: a failed attempt
        return response

    def get_urls(self):
        return [
            path("otp/setup/<str:token>/", self.otp_setup, name="otp-setup"),
            *super().get_urls(),
        ]

    @method_decorator(never_cache)
    @method_decorator(csrf_protect)
    @method_decorator(sensitive_post_parameters("password", "otp_token"))
    def otp_setup(self, request, token):
        """Pair an authenticator app from a set-up link: scan the QR code (or type the key),
        then confirm with the account's password and a code."""
        context = {**self.each_context(request), "title": _("Set up two-step login")}
        device = otp.otp_setup_device(token)
        if device is None:
            return private(
                TemplateResponse(
                    request, "admin/otp_setup.html", {**context, "invalid": True}, status=400
                )
            )
        address = ratelimit.client_ip(request)
        form = SetupForm(request.POST or None)
        if request.method == "POST":
            verdict = ratelimit.peek(_address_limit(), address)
            if not verdict.allowed:
                return _locked_out(request, verdict)
        if request.method == "POST" and form.is_valid():
            user = authenticate(
                request,
                username=device.user.get_username(),
                password=form.cleaned_data["password"],
            )
            code = form.cleaned_data["otp_token"].replace(" ", "")
            if (
                user is not None
                and user.pk == device.user_id
                and device.verify_is_allowed()[0]
                and device.verify_token(code)
            ):
                otp.otp_setup_finish(device)
                auth_login(request, user)
                django_otp.login(request, device)
                return redirect("admin:index")
            ratelimit.hit(_address_limit(), address)
            form.add_error(
                None,
                _(
                    "The password or the code is not right. Enter your password and the code "
                    "shown now."
                ),
            )
        secret = base64.b32encode(device.bin_key).decode()
        context.update(
            form=form,
            # The SVG comes from the qrcode library, built from the device's own URL.
            qr_svg=mark_safe(_qr_svg(device.config_url)),
            secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        )
        return private(TemplateResponse(request, "admin/otp_setup.html", context))
