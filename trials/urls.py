from django.urls import path

from trials import api, views

app_name = "trials"
urlpatterns = [
    path("", views.search, name="home"),
    path("trials/", views.search, name="search"),
    path("trials/<str:nct_id>/", views.detail, name="detail"),
    path("learn/", views.learn, name="learn"),
    path("api/v1/trials", api.trial_list, name="api-list"),
    path("api/v1/trials/<str:nct_id>", api.trial_detail, name="api-detail"),
    path("api/v1/openapi.json", api.openapi, name="api-openapi"),
]
