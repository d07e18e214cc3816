from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PatientsConfig(AppConfig):
    name = "patients"
    verbose_name = _("Patients and inquiries")

    def ready(self):
        from notifications import one_click
        from patients.alternatives import one_click_recipient

        one_click.register_recipient_lookup(one_click_recipient)
