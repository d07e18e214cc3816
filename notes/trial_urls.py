"""The forms that keep notes without JavaScript. config/urls.py mounts them under the trial
page's path (/trials/<nct_id>/notes/), so that the browser sends them that page's notes cookie."""

from django.urls import path

from notes import views

app_name = "trial-notes"
urlpatterns = [
    path("", views.note_add, name="add"),
    path("<str:note_id>/edit", views.note_edit, name="edit"),
    path("<str:note_id>/delete", views.note_delete, name="delete"),
]
