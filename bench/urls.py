"""The portal's URLs plus the pages benchmark's yardstick, /bench/trivial: served only under the
benchmark's settings (bench/trivial_settings.py), never by the portal itself."""

from django.http import HttpResponse
from django.urls import path

from config.urls import handler500  # noqa: F401 - Django reads it from the ROOT_URLCONF module
from config.urls import urlpatterns as portal_urlpatterns


def trivial(request):
    """The cheapest Django page: the whole middleware stack, no database, no template."""
    return HttpResponse("ok")


urlpatterns = [path("bench/trivial", trivial, name="bench-trivial"), *portal_urlpatterns]
