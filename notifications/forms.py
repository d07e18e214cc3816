from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from notifications.models import Frequency

# Throw-away inboxes: an alert sent there is read by nobody (or by everybody).
DISPOSABLE_DOMAINS = {
    "mailinator.com", "guerrillamail.com", "guerrillamail.net", "sharklasers.com",
    "10minutemail.com", "10minutemail.net", "tempmail.com", "temp-mail.org", "tempmail.net",
    "yopmail.com", "yopmail.fr", "trashmail.com", "trashmail.de", "getnada.com",
    "maildrop.cc", "dispostable.com", "throwawaymail.com", "fakeinbox.com", "mintemail.com",
    "mohmal.com", "emailondeck.com", "spamgourmet.com", "mailnesia.com", "tempinbox.com",
}  # fmt: skip


class AlertForm(forms.Form):
    email = forms.EmailField(
        label=_("Your email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    frequency = forms.ChoiceField(
        label=_("How often"),
        choices=Frequency.choices,
        initial=Frequency.DAILY,
        widget=forms.RadioSelect,
    )
    language = forms.ChoiceField(label=_("Language of the emails"), choices=settings.LANGUAGES)

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        domain = email.rsplit("@", 1)[-1]
        if domain in DISPOSABLE_DOMAINS or domain.endswith((".invalid", ".test", ".example")):
            raise forms.ValidationError(
                _("Please use an address you read: alerts to a throw-away inbox would be lost.")
            )
        return email


class FrequencyForm(forms.Form):
    frequency = forms.ChoiceField(choices=Frequency.choices)
