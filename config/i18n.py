"""The language in the address: `/fr/…` and `/it/…`; English unprefixed (`/en/…` leads there).

An unprefixed address is negotiated as before the prefixes existed (the language cookie, then
the browser's Accept-Language, then English), so links shared or emailed earlier keep opening in
the reader's language; a prefixed address always opens in its own language, whoever opens it.
"""

from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.http import HttpResponseRedirect
from django.middleware.locale import LocaleMiddleware
from django.urls import LocalePrefixPattern, URLResolver, reverse, translate_url
from django.utils import translation

LANGUAGE_CODES = [code for code, _name in settings.LANGUAGES]


class LanguagePrefix(LocalePrefixPattern):
    """Reverses with the active language's prefix (none for English), and resolves an address
    whatever the active language: the language switcher translates a `/fr/…` address while
    the switch request itself runs in the old language."""

    def match(self, path):
        head, _slash, rest = path.partition("/")
        if _slash and head in LANGUAGE_CODES:
            return rest, (), {}
        return path, (), {}


def i18n_patterns(*urls):
    return [URLResolver(LanguagePrefix(prefix_default_language=False), list(urls))]


def is_localized(path: str) -> bool:
    """Whether the address has versions per language (the admin and the API have not)."""
    first, second = LANGUAGE_CODES[:2]
    return translate_url(path, first) != translate_url(path, second)


def alternates(full_path: str) -> list[tuple[str, str]]:
    """(language, absolute URL) of this page in every language, query kept; [] when the page
    has one version only."""
    if not is_localized(urlsplit(full_path).path):
        return []
    return [(code, settings.SITE_URL + translate_url(full_path, code)) for code in LANGUAGE_CODES]


class LanguageMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware, except that an unprefixed address is negotiated (see above)
    instead of always English, and `/en/…` redirects to the unprefixed address, remembering
    the choice in the language cookie."""

    def process_request(self, request):
        language = translation.get_language_from_path(request.path_info)
        if language == settings.LANGUAGE_CODE and request.method in ("GET", "HEAD"):
            parts = urlsplit(request.get_full_path())
            target = urlunsplit(("", "", parts.path[len(language) + 1 :] or "/", parts.query, ""))
            response = HttpResponseRedirect(target)
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
            return response
        if not language:
            language = translation.get_language_from_request(request, check_path=False)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        return None


def absolute_url(name: str, *args, language: str) -> str:
    """The full address of a named page in `language` (emails: the recipient's, whatever
    language the request or task that writes them runs in)."""
    with translation.override(language):
        return settings.SITE_URL + reverse(name, args=args)
