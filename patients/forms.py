"""The patient's forms: optional pre-screening, and the contact form. They validate and
normalise; the view decides, patients.services writes."""

import re

import phonenumbers
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Field, Fieldset, Layout
from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from patients.consent import CONSENT_TEXT
from patients.models import PreferredLanguage
from trials.ctgov import years_to_days
from trials.models import Sex

NAME_MAX = 100
MESSAGE_MAX = 5000
# A name is letters, spaces, apostrophes, hyphens, dots: never markup or a link (spam).
_NAME_FORBIDDEN_RE = re.compile(r"[<>@/\\{}\[\]]|://|www\.|\.(?:com|net|org|ru|info|xyz)\b", re.I)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _one_line(value: str) -> str:
    return " ".join(_CONTROL_RE.sub(" ", value or "").split())


class NameField(forms.CharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=NAME_MAX, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        value = _one_line(value)
        if _NAME_FORBIDDEN_RE.search(value):
            raise forms.ValidationError(
                _("Please enter only your name, without links or special characters like < >."),
                code="invalid_name",
            )
        return value


# --- pre-screening -------------------------------------------------------------------------------

YES_NO = [("yes", _("Yes")), ("no", _("No"))]
MAY_BE_ELIGIBLE = "may_be_eligible"
MAY_NOT_BE_ELIGIBLE = "may_not_be_eligible"


class PrescreenForm(forms.Form):
    """A few optional questions from the trial's structured data (age, sex) and from staff.

    Every answer is optional and none refuses anyone: the outcome only says whether the
    patient *may* be eligible. Only the research team decides.
    """

    prefix = "pre"

    def __init__(self, data=None, *, trial, questions, **kwargs):
        super().__init__(data, **kwargs)
        self.trial = trial
        self.questions = list(questions)
        if trial.minimum_age_days is not None or trial.maximum_age_days is not None:
            self.fields["age"] = forms.IntegerField(
                label=_("How old are you?"),
                min_value=0,
                max_value=120,
                required=False,
                help_text=_("In years."),
            )
        if trial.sex in (Sex.FEMALE, Sex.MALE):
            self.fields["sex"] = forms.ChoiceField(
                label=_("What is your sex?"),
                choices=[
                    ("", _("I prefer not to say")),
                    (Sex.FEMALE, _("Female")),
                    (Sex.MALE, _("Male")),
                ],
                required=False,
            )
        for question in self.questions:
            self.fields[f"q{question.pk}"] = forms.ChoiceField(
                label=question.texts.get((get_language() or "")[:2], question.text),
                choices=YES_NO,
                widget=forms.RadioSelect,
                required=False,
            )
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True

    @property
    def has_questions(self) -> bool:
        return bool(self.fields)

    def snapshot(self) -> dict:
        """What the patient answered, with what each answer suggests, frozen for the inquiry."""
        if not self.is_bound or not self.is_valid():
            return {}
        data = self.cleaned_data
        answers = []
        age = data.get("age")
        if age is not None:
            days = years_to_days(age)
            low, high = self.trial.minimum_age_days, self.trial.maximum_age_days
            answers.append(
                {
                    "kind": "age",
                    "question": str(self.fields["age"].label),
                    "answer": str(age),
                    "suggests_eligible": (low is None or days >= low)
                    and (high is None or days <= high),
                }
            )
        sex = data.get("sex")
        if sex:
            answers.append(
                {
                    "kind": "sex",
                    "question": str(self.fields["sex"].label),
                    "answer": sex,
                    "suggests_eligible": sex == self.trial.sex,
                }
            )
        for question in self.questions:
            answer = data.get(f"q{question.pk}")
            if not answer:
                continue
            answers.append(
                {
                    "kind": "question",
                    "question": question.text,
                    # Each email and page shows it in its reader's language (question_label).
                    "texts": question.texts,
                    "answer": answer,
                    "suggests_eligible": (answer == "yes") == question.eligible_answer,
                }
            )
        if not answers:
            result = ""
        elif all(a["suggests_eligible"] for a in answers):
            result = MAY_BE_ELIGIBLE
        else:
            result = MAY_NOT_BE_ELIGIBLE
        return {"age": age, "sex": sex or "", "answers": answers, "result": result}


# --- the contact form ----------------------------------------------------------------------------


def site_labels(sites) -> dict[int, str]:
    """What each option of the site list says: "Research Site — Milan, Italy · Recruiting ·
    in Milan". Sites of the same name in the same city are told apart by their postal code
    (or state) when the registry gives one."""
    from collections import Counter

    from trials.geo import describe_distance

    same = Counter((site.facility, site.city) for site in sites)
    labels = {}
    for site in sites:
        where = [site.city]
        if same[(site.facility, site.city)] > 1:
            where.append(site.postal_code or site.state)
        where.append(site.country)
        parts = [
            f"{site.facility or _('Study site')} — {', '.join(p for p in where if p)}",
            str(site.get_status_display()) if site.status else str(_("Status not given")),
        ]
        distance = describe_distance(getattr(site, "distance_km", None), site.city)
        if distance:
            parts.append(distance)
        labels[site.pk] = " · ".join(parts)
    return labels


class ContactForm(forms.Form):
    """The patient's details for the research team of one site of the trial."""

    site = forms.TypedChoiceField(
        label=_("Study site"),
        coerce=int,
        help_text=_("The nearest recruiting site is chosen for you; you can pick another."),
    )
    first_name = NameField(
        label=_("First name"), widget=forms.TextInput({"autocomplete": "given-name"})
    )
    last_name = NameField(
        label=_("Last name"), widget=forms.TextInput({"autocomplete": "family-name"})
    )
    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        widget=forms.EmailInput({"autocomplete": "email"}),
        help_text=_("We send you a copy of your message here."),
    )
    phone = forms.CharField(
        label=_("Phone number"),
        max_length=40,
        widget=forms.TextInput({"autocomplete": "tel", "type": "tel"}),
        help_text=_("With the country code if you are not in the site's country."),
    )
    preferred_language = forms.ChoiceField(
        label=_("Language you prefer to be contacted in"),
        choices=PreferredLanguage.choices,
        widget=forms.RadioSelect,
    )
    other_language = forms.CharField(label=_("Other language"), max_length=NAME_MAX, required=False)
    message = forms.CharField(
        label=_("Message (optional)"),
        max_length=MESSAGE_MAX,
        required=False,
        widget=forms.Textarea({"rows": 5}),
        help_text=_("Anything the research team should know. Up to 5,000 characters."),
    )
    consent = forms.BooleanField(
        label=CONSENT_TEXT,
        help_text=_(
            "Your details go only to the research team of the site you chose. We never publish "
            "them or give them to anyone else."
        ),
        error_messages={
            "required": _(
                "Please tick this box: we can only pass on your details with your consent."
            )
        },
    )
    # Random, one per showing of the form: the same post sent again (a retry after a database
    # restart, a double click) makes one inquiry (services.submitted). Absent from old pages.
    submission_key = forms.UUIDField(required=False, widget=forms.HiddenInput)
    # The honeypot: hidden from people (CSS, aria-hidden, out of the tab order), filled by bots.
    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        widget=forms.TextInput({"tabindex": "-1", "autocomplete": "off"}),
    )

    def __init__(self, data=None, *, trial, sites, **kwargs):
        super().__init__(data, **kwargs)
        self.trial = trial
        self.sites = {site.pk: site for site in sites}
        labels = site_labels(sites)
        self.fields["site"].choices = [(site.pk, labels[site.pk]) for site in sites]
        if not self.is_bound:
            language = (get_language() or "en")[:2]
            if language in PreferredLanguage.values:
                self.initial.setdefault("preferred_language", language)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            "submission_key",
            "site",
            Fieldset(
                _("Your contact details"),
                Div(
                    Div("first_name", css_class="col-md-6"),
                    Div("last_name", css_class="col-md-6"),
                    css_class="row",
                ),
                Div(
                    Div("email", css_class="col-md-6"),
                    Div("phone", css_class="col-md-6"),
                    css_class="row",
                ),
                "preferred_language",
                Div("other_language", css_class="other-language"),
                "message",
            ),
            Div(
                Field("website"),
                css_class="tf-hp",
                aria_hidden="true",
            ),
            "consent",
        )

    @property
    def is_spam(self) -> bool:
        """The honeypot was filled: answer as if all went well, and do nothing."""
        return bool((self.data.get("website") or "").strip())

    def clean_site(self):
        site_id = self.cleaned_data["site"]
        if site_id not in self.sites:
            raise forms.ValidationError(_("Please choose one of the recruiting sites listed."))
        return self.sites[site_id]

    def clean_email(self):
        local, _at, domain = self.cleaned_data["email"].strip().rpartition("@")
        return f"{local}@{domain.lower()}"

    def clean_message(self):
        text = _CONTROL_RE.sub(" ", self.cleaned_data.get("message", "")).replace("\r\n", "\n")
        return text.strip()

    def clean_other_language(self):
        return _one_line(self.cleaned_data.get("other_language", ""))

    def clean(self):
        data = super().clean()
        site = data.get("site")
        raw_phone = _one_line(data.get("phone", ""))
        if raw_phone:
            region = (site.country_code if site else "") or None
            try:
                number = phonenumbers.parse(raw_phone, region)
            except phonenumbers.NumberParseException:
                number = None
            if number is None or not phonenumbers.is_valid_number(number):
                self.add_error(
                    "phone",
                    _(
                        "This does not look like a valid phone number. Add the country code "
                        "(for example +33 or +39) if it is not a number of the site's country."
                    ),
                )
            else:
                data["phone"] = phonenumbers.format_number(
                    number, phonenumbers.PhoneNumberFormat.E164
                )
        language = data.get("preferred_language")
        if language == PreferredLanguage.OTHER:
            if not data.get("other_language"):
                self.add_error("other_language", _("Please tell us which language."))
        elif language:
            data["other_language"] = ""
        return data
