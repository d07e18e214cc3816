"""Trials in the admin: imported fields are read-only (the next import would overwrite them);
staff edit only the portal-owned plain-language fields."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from trials.models import Contact, Site, SyncState, Trial, TrialVersion

PORTAL_FIELDS = (
    "plain_title",
    "plain_summary",
    "what_it_could_mean",
    "what_it_could_lead_to",
    "what_could_go_wrong",
)


class ReadOnlyAdminMixin:
    """Imported data: browsable, never edited or deleted by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SiteInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Site
    fields = ("facility", "city", "country", "status", "latitude", "longitude", "removed_at")
    readonly_fields = fields
    extra = 0
    show_change_link = True


class VersionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = TrialVersion
    fields = ("number", "imported_at", "last_update_posted", "changed_fields", "patient_changes")
    readonly_fields = fields
    extra = 0
    show_change_link = True


@admin.register(Trial)
class TrialAdmin(admin.ModelAdmin):
    list_display = ("nct_id", "brief_title", "overall_status", "last_update_posted", "change_count")
    list_filter = ("overall_status", "study_type", "sex")
    search_fields = ("nct_id", "brief_title", "official_title", "acronym")
    date_hierarchy = "last_changed_at"
    inlines = [SiteInline, VersionInline]
    fieldsets = (
        (
            _("Written by the portal's staff"),
            {
                "fields": PORTAL_FIELDS,
                "description": _(
                    "Plain language for patients. Imported registry fields below are read-only."
                ),
            },
        ),
        (
            _("Registry record"),
            {
                "fields": (
                    "nct_id",
                    "brief_title",
                    "official_title",
                    "acronym",
                    "overall_status",
                    "last_known_status",
                    "why_stopped",
                    "study_type",
                    "phases",
                    "conditions",
                    "condition_meshes",
                    "keywords",
                    "interventions",
                    "brief_summary",
                    "detailed_description",
                    "eligibility_criteria",
                    "minimum_age",
                    "maximum_age",
                    "sex",
                    "healthy_volunteers",
                    "lead_sponsor",
                    "collaborators",
                    "start_date",
                    "primary_completion_date",
                    "completion_date",
                    "first_posted",
                    "last_update_posted",
                    "retrieved_on",
                )
            },
        ),
        (
            _("History"),
            {"fields": ("first_seen_at", "last_changed_at", "change_count")},
        ),
    )

    def get_readonly_fields(self, request, obj=None):
        return [
            f.name
            for f in Trial._meta.get_fields()
            if getattr(f, "concrete", False) and f.name not in PORTAL_FIELDS
        ]

    def has_add_permission(self, request):
        return False  # trials come from the registry

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Site)
class SiteAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("facility", "city", "country", "status", "trial", "removed_at")
    list_filter = ("status", "country_code")
    search_fields = ("facility", "city", "trial__nct_id")
    list_select_related = ("trial",)
    raw_id_fields = ("trial",)


@admin.register(Contact)
class ContactAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "role", "trial", "site")
    search_fields = ("name", "trial__nct_id")
    list_select_related = ("trial", "site")
    raw_id_fields = ("trial", "site")


@admin.register(TrialVersion)
class TrialVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("trial", "number", "imported_at", "last_update_posted")
    search_fields = ("trial__nct_id",)
    list_select_related = ("trial",)
    raw_id_fields = ("trial",)


@admin.register(SyncState)
class SyncStateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "cursor_date", "last_success_at", "last_attempt_at")
