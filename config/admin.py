"""The admin site: coordinators see patients' inquiries here, so staff log in with a password
and a TOTP code (django-otp). A staff member without an authenticator yet sets one up right
after their first password login; until then they can open nothing else. Failed logins are
throttled per username and address by django-axes (see settings)."""

import base64
from io import BytesIO

import django_otp
import qrcode
import qrcode.image.svg
from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django_otp.plugins.otp_totp.models import TOTPDevice


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def needs_second_factor() -> bool:
    return settings.REQUIRE_2FA


class TwoFactorLoginForm(AdminAuthenticationForm):
    """Username, password and, once the staff member has an authenticator, its code."""

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
        "otp_invalid": _("This code is not right, or it has expired. Enter the current code."),
        "otp_throttled": _("Too many wrong codes: wait a little before trying again."),
    }

    def clean(self):
        cleaned = super().clean()
        user = self.get_user()
        if not needs_second_factor() or user is None:
            return cleaned
        device = confirmed_device(user)
        if device is None:
            return cleaned  # first login: the site sends them to set an authenticator up
        token = (cleaned.get("otp_token") or "").replace(" ", "")
        if not token:
            raise forms.ValidationError(self.error_messages["otp_required"], code="otp_required")
        allowed, _extra = device.verify_is_allowed()
        if not allowed:
            raise forms.ValidationError(self.error_messages["otp_throttled"], code="otp_throttled")
        if not device.verify_token(token):
            raise forms.ValidationError(self.error_messages["otp_invalid"], code="otp_invalid")
        # django_otp marks the session as verified when the user logs in with this set.
        user.otp_device = device
        return cleaned


class SetupForm(forms.Form):
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
        user = request.user
        if (
            request.method == "GET"
            and user.is_authenticated
            and user.is_active
            and user.is_staff
            and needs_second_factor()
            and not user.is_verified()
            and confirmed_device(user) is None
        ):
            return redirect("admin:otp-setup")
        return super().login(request, extra_context)

    def get_urls(self):
        return [path("otp/setup/", self.otp_setup, name="otp-setup"), *super().get_urls()]

    @method_decorator(never_cache)
    @method_decorator(csrf_protect)
    def otp_setup(self, request):
        """Pair an authenticator app: scan the QR code (or type the key), confirm with a code."""
        user = request.user
        if not (user.is_authenticated and user.is_active and user.is_staff):
            return redirect(f"{reverse('admin:login')}?next={request.path}")
        if confirmed_device(user) is not None:
            return redirect("admin:index")
        device, _created = TOTPDevice.objects.get_or_create(
            user=user, confirmed=False, defaults={"name": "authenticator"}
        )
        form = SetupForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            allowed, _extra = device.verify_is_allowed()
            if not allowed:
                form.add_error("otp_token", TwoFactorLoginForm.error_messages["otp_throttled"])
            elif device.verify_token(form.cleaned_data["otp_token"].replace(" ", "")):
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                django_otp.login(request, device)
                return redirect("admin:index")
            else:
                form.add_error("otp_token", _("This code is not right. Enter the code shown now."))
        secret = base64.b32encode(device.bin_key).decode()
        context = {
            **self.each_context(request),
            "title": _("Set up two-step login"),
            "form": form,
            # The SVG comes from the qrcode library, built from the device's own URL.
            "qr_svg": mark_safe(_qr_svg(device.config_url)),
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        }
        return TemplateResponse(request, "admin/otp_setup.html", context)
