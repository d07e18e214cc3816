from django.urls import path, register_converter

from trials import api, views


class NctIdConverter:
    """An NCT number in any case (NCT01234567): /trials/feed/ and the like are never read as a
    trial, whatever order config/urls.py includes the apps in."""

    regex = "[Nn][Cc][Tt][0-9]{8}"

    def to_python(self, value: str) -> str:
        return value.upper()

    def to_url(self, value: str) -> str:
        return value


register_converter(NctIdConverter, "nct")

app_name = "trials"
urlpatterns = [
    path("", views.search, name="home"),
    path("trials/", views.search, name="search"),
    path("trials/<nct:nct_id>/", views.detail, name="detail"),
    path("trials/<nct:nct_id>/print/", views.trial_print, name="print"),
    path("learn/", views.learn, name="learn"),
    path("api/v1/trials", api.trial_list, name="api-list"),
    path("api/v1/trials/<str:nct_id>", api.trial_detail, name="api-detail"),
    path("api/v1/openapi.json", api.openapi, name="api-openapi"),
]
