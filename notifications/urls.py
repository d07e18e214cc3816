from django.urls import path

from notifications import views

app_name = "notifications"
urlpatterns = [
    path("alerts/subscribe/", views.subscribe_search, name="subscribe"),
    path("trials/<str:nct_id>/watch/", views.subscribe_trial, name="watch"),
    path("alerts/check-your-email/", views.check_email, name="check-email"),
    path("alerts/confirm/<str:token>/", views.confirm, name="confirm"),
    path("alerts/manage/<str:token>/", views.manage, name="manage"),
    path("alerts/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("alerts/one-click/<str:token>/", views.one_click_alert, name="one-click-alert"),
    path("alerts/webhook/bounce/", views.bounce_webhook, name="bounce-webhook"),
    path("trials/feed/", views.feed, name="feed"),
]
