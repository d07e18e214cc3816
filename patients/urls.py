from django.urls import path

from patients import views

app_name = "patients"
urlpatterns = [
    path("trials/<str:nct_id>/contact/", views.contact, name="contact"),
    path("trials/<str:nct_id>/contact/sent/<str:token>/", views.sent, name="sent"),
    path("inquiries/withdraw/<str:token>/", views.withdraw, name="withdraw"),
    path("inquiries/status/<str:token>/", views.status, name="status"),
    path("inquiries/status/<str:token>/print/", views.status_print, name="status-print"),
    path("sites/confirm/<str:token>/", views.site_confirm, name="site-confirm"),
]
