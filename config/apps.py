from django.contrib.admin.apps import AdminConfig


class TrialFinderAdminConfig(AdminConfig):
    """The admin with two-step login (see config/admin.py)."""

    default_site = "config.admin.TrialFinderAdminSite"
