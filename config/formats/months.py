"""Month names, translated in our own catalogues: they override Django's, which capitalise
them in Italian ("Dicembre"); Italian and French write them in lower case. Django's date
formats look them up by these very strings (django.utils.dates.MONTHS)."""

from django.utils.translation import gettext_lazy as _

MONTHS = [_("January"), _("February"), _("March"), _("April"), _("May"), _("June"), _("July"),
          _("August"), _("September"), _("October"), _("November"), _("December")]  # fmt: skip
