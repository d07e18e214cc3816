"""Pages behind a secret link (a signed or random token in their URL): the status page, the
withdraw and alert links, a coordinator's site confirmation, shared notes. One rule for all of
them, so that a page added later cannot get it half right."""

from functools import wraps

from django.utils.cache import add_never_cache_headers

# Why "same-origin", and not "no-referrer" (which these pages sent until issue 13):
# - a page served with "no-referrer" makes the browser send "Origin: null" with its form posts
#   (the Fetch standard ties a navigation's Origin to the referrer policy; Chromium follows it),
#   and Django's CSRF check rightly refuses "null": every button on these pages answered 403;
# - "same-origin" gives other sites neither the token nor the fact that the visitor came from
#   TrialFinder, yet our own form posts carry their true Origin, so the CSRF check stays on and
#   passes; our own server only receives, as a Referer, a URL it has just served.
SECRET_LINK_REFERRER_POLICY = "same-origin"  # noqa: S105 - a header value, not a secret


def private(response):
    """Never cached, never indexed, the token never named to another site."""
    response["Referrer-Policy"] = SECRET_LINK_REFERRER_POLICY
    response["X-Robots-Tag"] = "noindex, nofollow"
    add_never_cache_headers(response)
    return response


def private_page(view):
    """Every response of `view` (pages, errors, redirects) is private()."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        return private(view(request, *args, **kwargs))

    return wrapped
