from django.urls import path

from patients import views

app_name = "patients"
urlpatterns = [
    path("trials/<str:nct_id>/contact/", views.contact, name="contact"),
    path("trials/<str:nct_id>/contact/sent/<str:token>/", views.sent, name="sent"),
    path("inquiries/withdraw/<str:token>/", views.withdraw, name="withdraw"),
]
