"""A search that cannot be answered from the index (missing, corrupt, locked) is a clear 503
page (JSON for the API), with a log line: never a 500, never results from a broken index."""

import logging

from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from trials.engine import IndexUnavailable

log = logging.getLogger(__name__)
RETRY_AFTER = 120


class SearchIndexUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, IndexUnavailable):
            return None
        # The error names the index's path and state, never the search (health data).
        log.error("search index unavailable: %s", exception)
        message = _("Search is briefly unavailable: its index is being rebuilt or repaired.")
        if request.path.startswith("/api/"):
            response = JsonResponse({"error": {"message": message}}, status=503)
        else:
            response = render(
                request, "trials/search_unavailable.html", {"message": message}, status=503
            )
        response["Retry-After"] = str(RETRY_AFTER)
        response["Cache-Control"] = "no-store"
        return response
