"""Country names as registered → ISO 3166-1 alpha-2 codes, and localised names for display.

The registry spells one country several ways ("Korea, Republic of" and "South Korea", "Turkey"
and "Turkey (Türkiye)"); filters and facets group by the code. Names are translated with the
ISO 3166 catalogues shipped by pycountry, so the country filter reads "Italie" in French.
"""

import functools
import gettext

import pycountry
from django.utils.translation import get_language

# Registry spellings pycountry does not resolve on its own (seen in real records).
_ALIASES = {
    "turkey": "TR",
    "turkey (türkiye)": "TR",
    "türkiye": "TR",
    "russia": "RU",
    "palestinian territory, occupied": "PS",
    "palestinian territories": "PS",
    "macedonia, the former yugoslav republic of": "MK",
    "korea, democratic people's republic of": "KP",
    "laos": "LA",
    "kosovo": "XK",
    "the netherlands": "NL",
    "uk": "GB",
    "usa": "US",
}
# Short English names where the ISO name is formal ("Korea, Republic of").
_SHORT_NAMES = {
    "KR": "South Korea",
    "KP": "North Korea",
    "RU": "Russia",
    "IR": "Iran",
    "TW": "Taiwan",
    "VN": "Vietnam",
    "SY": "Syria",
    "TZ": "Tanzania",
    "BO": "Bolivia",
    "VE": "Venezuela",
    "MD": "Moldova",
    "LA": "Laos",
    "BN": "Brunei",
    "CD": "Democratic Republic of the Congo",
    "PS": "Palestine",
    "XK": "Kosovo",
    "TR": "Türkiye",
}


@functools.lru_cache(maxsize=4096)
def country_code(name: str) -> str:
    """ISO alpha-2 code for a registry country name, "" when unknown."""
    key = name.strip().casefold()
    if not key:
        return ""
    if key in _ALIASES:
        return _ALIASES[key]
    try:
        return pycountry.countries.lookup(name.strip()).alpha_2
    except LookupError:
        return ""


@functools.lru_cache(maxsize=8)
def _catalogue(language: str):
    try:
        return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language])
    except OSError:
        return gettext.NullTranslations()


def country_name(code: str, language: str | None = None) -> str:
    """The country's name in the active (or given) language."""
    if not code:
        return ""
    language = (language or get_language() or "en").split("-")[0]
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return _SHORT_NAMES.get(code, code)
    if language == "en":
        return _SHORT_NAMES.get(code) or getattr(country, "common_name", None) or country.name
    translated = _catalogue(language).gettext(country.name)
    if translated == country.name and hasattr(country, "common_name"):
        translated = _catalogue(language).gettext(country.common_name)
    return translated
