"""The "My notes" panel of the trial page."""

from django import template

from patients import notes
from patients.forms import NoteForm

register = template.Library()


@register.inclusion_tag("patients/_notes_panel.html", takes_context=True)
def notes_panel(context, trial):
    """Notes kept without JavaScript (the trial's cookie) are rendered by the server; with
    JavaScript, notes.js renders the panel from localStorage."""
    request = context["request"]
    return {
        "trial": trial,
        "notes": [notes.note_dates(n) for n in notes.read_cookie_notes(request, trial.nct_id)],
        "form": NoteForm(auto_id="tf-note-%s"),
        "cookie_name": notes.cookie_name(trial.nct_id),
        "cookie_path": trial.get_absolute_url(),
        "limits": {
            "max_notes": notes.MAX_NOTES,
            "max_note_chars": notes.MAX_NOTE_CHARS,
            "max_quote_chars": notes.MAX_QUOTE_CHARS,
            "max_bytes": notes.MAX_CIPHERTEXT_BYTES,
            "iterations": notes.PBKDF2_ITERATIONS,
            "min_passcode": notes.MIN_PASSCODE_CHARS,
        },
        "expiry_days": notes.EXPIRY_DAYS,
        "default_expiry": 7,
    }
