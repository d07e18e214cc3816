from django.urls import path

from trials import views

app_name = "trials"
urlpatterns = [
    path("", views.home, name="home"),
    path("trials/", views.home, name="search"),
    path("trials/<str:nct_id>/", views.detail, name="detail"),
]
