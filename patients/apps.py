from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PatientsConfig(AppConfig):
    name = "patients"
    verbose_name = _("Patients and inquiries")

    def ready(self):
        from notifications import one_click
        from patients.alternatives import one_click_recipient
        from patients.views import print_answers
        from trials.views import register_print_answers

        one_click.register_recipient_lookup(one_click_recipient)
        register_print_answers(print_answers)
        from django.contrib.auth.signals import user_logged_in

        user_logged_in.connect(_remember_admin_language, dispatch_uid="tf-staff-language")


def _remember_admin_language(sender, request, user, **kwargs):
    # Django's only hook into every way of logging in (the admin form, the set-up link).
    from patients.staff import staff_remember_admin_language

    staff_remember_admin_language(user=user, language=getattr(request, "LANGUAGE_CODE", ""))
