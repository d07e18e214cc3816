from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrialsConfig(AppConfig):
    name = "trials"
    verbose_name = _("Trials")

    def health_checks(self) -> dict[str, tuple[str, bool]]:
        from trials import health

        return health.checks()

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from trials.models import Site, Trial

        # A trial or a site written through the ORM (the admin, a coordinator's confirmation)
        # reaches the search index once the transaction commits. The importer writes with COPY
        # and updates the index itself (trials.importer.index_changed_trials).
        post_save.connect(_trial_written, sender=Trial, dispatch_uid="search_index_trial")
        post_delete.connect(_trial_written, sender=Trial, dispatch_uid="search_index_trial_del")
        post_save.connect(_site_written, sender=Site, dispatch_uid="search_index_site")
        post_delete.connect(_site_written, sender=Site, dispatch_uid="search_index_site_del")


def _trial_written(sender, instance, **kwargs):
    from trials.engine import update_on_commit

    update_on_commit([instance.pk])


def _site_written(sender, instance, **kwargs):
    from trials.engine import update_on_commit

    update_on_commit([instance.trial_id])
