"""The "My notes" panel of the trial page."""

from django import template

from notes import cookies
from notes import services as notes
from notes.forms import NoteForm

register = template.Library()


@register.inclusion_tag("notes/_notes_panel.html", takes_context=True)
def notes_panel(context, trial):
    """Notes kept without JavaScript (the trial's cookie) are rendered by the server; with
    JavaScript, notes.js renders the panel from localStorage."""
    request = context["request"]
    return {
        "trial": trial,
        "notes": [cookies.note_dates(n) for n in cookies.read_cookie_notes(request, trial.nct_id)],
        "form": NoteForm(auto_id="tf-note-%s"),
        "cookie_name": cookies.cookie_name(trial.nct_id),
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
