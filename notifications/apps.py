from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self):
        from notifications.alerts import match_after_import
        from trials.signals import trials_imported

        trials_imported.connect(match_after_import, dispatch_uid="notifications.match")
