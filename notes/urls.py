from django.urls import path

from notes import views

app_name = "notes"
urlpatterns = [
    path("share/", views.share_create, name="share"),
    path("s/<str:token>/", views.shared_notes, name="shared"),
    path("s/<str:token>/open", views.shared_notes_open, name="shared-open"),
]
