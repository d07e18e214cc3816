from django.urls import path

from patients import views

app_name = "patients"
urlpatterns = [
    path("trials/<str:nct_id>/contact/", views.contact, name="contact"),
    path("trials/<str:nct_id>/contact/sent/<str:token>/", views.sent, name="sent"),
    path("trials/<str:nct_id>/print/", views.trial_print, name="print"),
    path("inquiries/withdraw/<str:token>/", views.withdraw, name="withdraw"),
    path("inquiries/status/<str:token>/", views.status, name="status"),
    path("inquiries/status/<str:token>/print/", views.status_print, name="status-print"),
    path("sites/confirm/<str:token>/", views.site_confirm, name="site-confirm"),
    path("alerts/one-click/<str:token>/", views.one_click_alert, name="one-click-alert"),
    # Under the trial page's path, so that the browser sends that page's notes cookie.
    path("trials/<str:nct_id>/notes/", views.note_add, name="note-add"),
    path("trials/<str:nct_id>/notes/<str:note_id>/edit", views.note_edit, name="note-edit"),
    path("trials/<str:nct_id>/notes/<str:note_id>/delete", views.note_delete, name="note-delete"),
    path("notes/share/", views.share_create, name="notes-share"),
    path("notes/s/<str:token>/", views.shared_notes, name="shared-notes"),
    path("notes/s/<str:token>/open", views.shared_notes_open, name="shared-notes-open"),
]
