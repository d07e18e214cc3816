"""The notes forms: a note typed without JavaScript, and the JSON notes.js posts to share notes.
They validate and normalise; the views decide, notes.services writes."""

from django import forms
from django.utils.translation import gettext_lazy as _

from notes import services as notes
from trials.ctgov import NCT_RE

MALFORMED = _("The notes could not be shared: the request was not understood. Reload the page.")
TOO_LARGE = _(
    "Your notes are too long to share: at most 64 KB once encrypted. Shorten or delete some notes."
)


class NoteForm(forms.Form):
    """A note typed in the "My notes" panel (the form that works without JavaScript)."""

    text = forms.CharField(
        label=_("Your note"),
        max_length=notes.MAX_NOTE_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Write your note first.")},
    )
    quote = forms.CharField(
        label=_("Passage of the page it is about (optional)"),
        required=False,
        max_length=notes.MAX_QUOTE_CHARS,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean_text(self):
        return self.cleaned_data["text"].strip()

    def clean_quote(self):
        return " ".join(self.cleaned_data["quote"].split())


class _Base64Field(forms.CharField):
    def __init__(self, *, min_bytes=1, max_bytes, **kwargs):
        self.min_bytes, self.max_bytes = min_bytes, max_bytes
        super().__init__(strip=False, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        if not isinstance(value, str) or not value:
            raise forms.ValidationError(MALFORMED, code="invalid")
        raw = notes.b64decode_exact(value, min_bytes=self.min_bytes, max_bytes=self.max_bytes)
        if raw is None:
            raise forms.ValidationError(MALFORMED, code="invalid")
        return raw


class ShareForm(forms.Form):
    """The JSON a browser posts to create a link: encrypted notes and how to check a passcode.

    Every size is exact: a salt, IV or verifier of another length was not made by notes.js.
    """

    nct_id = forms.CharField(max_length=11)
    # Its size is checked once decoded (the request body is capped by the view).
    ciphertext = forms.CharField(strip=False)
    iv = _Base64Field(min_bytes=notes.IV_BYTES, max_bytes=notes.IV_BYTES)
    salt = _Base64Field(min_bytes=notes.SALT_BYTES, max_bytes=notes.SALT_BYTES)
    iterations = forms.IntegerField(
        min_value=notes.PBKDF2_ITERATIONS,
        max_value=notes.MAX_ITERATIONS,
        error_messages={
            "min_value": MALFORMED,
            "max_value": MALFORMED,
            "invalid": MALFORMED,
        },
    )
    verifier = _Base64Field(min_bytes=notes.VERIFIER_BYTES, max_bytes=notes.VERIFIER_BYTES)
    expires_days = forms.IntegerField(
        min_value=notes.MIN_EXPIRY_DAYS,
        max_value=notes.MAX_EXPIRY_DAYS,
        error_messages={
            "min_value": _("Choose how long the link works: from 1 to 30 days."),
            "max_value": _("Choose how long the link works: from 1 to 30 days."),
            "invalid": _("Choose how long the link works: from 1 to 30 days."),
            "required": _("Choose how long the link works: from 1 to 30 days."),
        },
    )

    def clean_nct_id(self):
        nct_id = self.cleaned_data["nct_id"].upper()
        if not NCT_RE.match(nct_id):
            raise forms.ValidationError(MALFORMED, code="invalid")
        return nct_id

    def clean_ciphertext(self):
        value = self.cleaned_data["ciphertext"]
        # An AES-GCM ciphertext is at least its 16-byte tag.
        raw = notes.b64decode_exact(value, min_bytes=17, max_bytes=len(value))
        if raw is None:
            raise forms.ValidationError(MALFORMED, code="invalid")
        if len(raw) > notes.MAX_CIPHERTEXT_BYTES:
            raise forms.ValidationError(TOO_LARGE, code="too_large")
        return raw

    def first_error(self) -> str:
        """What the patient can act on (the size, the expiry); anything else was not made by
        notes.js and gets one plain message."""
        if self.has_error("ciphertext", "too_large"):
            return str(TOO_LARGE)
        if self.has_error("expires_days"):
            return str(self.errors["expires_days"][0])
        return str(MALFORMED)
