"""Trials in the admin: imported fields are read-only (the next import would overwrite them);
staff edit only the portal-owned fields: plain language (with its reading grade, live as they
type and on save), who wrote and reviewed it, and what taking part involves."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from trials import readability
from trials.models import (
    PLAIN_TEXT_FIELDS,
    TAKING_PART_FIELDS,
    Contact,
    Site,
    SyncState,
    Trial,
    TrialVersion,
    field_label,
)
from trials.plain import plain_read, source_value

REVIEW_FIELDS = ("plain_language", "plain_written_by", "plain_reviewed_by", "plain_reviewed_on")
PORTAL_FIELDS = (*PLAIN_TEXT_FIELDS, *REVIEW_FIELDS, *TAKING_PART_FIELDS)


class TrialForm(forms.ModelForm):
    """The plain-language fields carry what static/js/readability.js needs to show their
    reading grade as staff type: the target, and the sentences to show (translated here)."""

    class Meta:
        model = Trial
        fields = PORTAL_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in PLAIN_TEXT_FIELDS:
            if name in self.fields:
                self.fields[name].widget.attrs.update(
                    {
                        "data-readability-target": str(settings.PLAIN_LANGUAGE_TARGET_GRADE),
                        "data-readability-label": gettext("Reading grade: %(grade)s."),
                        "data-readability-warning": gettext(
                            "Above the target of %(target)s: try shorter sentences and words."
                        ),
                    }
                )


def grades(trial: Trial) -> list[tuple[str, float]]:
    """(field label, reading grade) of each filled plain-language text."""
    found = []
    for name in PLAIN_TEXT_FIELDS:
        value = readability.grade(getattr(trial, name), trial.plain_language)
        if value is not None:
            found.append((field_label(Trial, name), value))
    return found


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
    form = TrialForm
    list_display = ("nct_id", "brief_title", "overall_status", "last_update_posted", "change_count")
    list_filter = ("overall_status", "study_type", "sex")
    search_fields = ("nct_id", "brief_title", "official_title", "acronym")
    date_hierarchy = "last_changed_at"
    inlines = [SiteInline, VersionInline]
    fieldsets = (
        (
            _("Written by the portal's staff"),
            {
                "fields": ("plain_language", *PLAIN_TEXT_FIELDS, "reading_grades"),
                "description": _(
                    "Plain language for patients. Imported registry fields below are read-only."
                ),
            },
        ),
        (
            _("Our plain-language read (made automatically)"),
            {
                "fields": ("plain_read_sources",),
                "classes": ("collapse",),
                "description": _(
                    "Generated from the registry fields on every view, in the language of this "
                    "page. A text written above replaces the matching part."
                ),
            },
        ),
        (
            _("Who wrote and reviewed the plain-language texts"),
            {
                "fields": ("plain_written_by", "plain_reviewed_by", "plain_reviewed_on"),
                "description": _(
                    "Shown under the texts on the trial page, for example “Written by "
                    "TrialFinder editors, reviewed by the study team on 3 March 2026”."
                ),
            },
        ),
        (
            _("What taking part involves"),
            {
                "fields": TAKING_PART_FIELDS,
                "description": _(
                    "Shown as a panel on the trial page, in the patient's words. Leave a field "
                    "empty when you do not know: empty fields are not shown."
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

    class Media:
        js = ["js/readability.js"]
        css = {"all": ["css/readability-admin.css"]}

    def get_readonly_fields(self, request, obj=None):
        return [
            "reading_grades",
            "plain_read_sources",
            *(
                f.name
                for f in Trial._meta.get_fields()
                if getattr(f, "concrete", False) and f.name not in PORTAL_FIELDS
            ),
        ]

    @admin.display(description=_("sentences and the fields they come from"))
    def plain_read_sources(self, obj):
        if obj is None or not obj.pk:
            return "-"
        read = plain_read(obj)
        rows = []
        for part in read.parts:
            if part.staff_text:
                rows.append((part.title, part.staff_text, format_html("<em>{}</em>",
                             gettext("written by staff"))))  # fmt: skip
                continue
            for sentence in part.sentences:
                sources = format_html_join(
                    "",
                    "<li><code>{}</code>: {}</li>",
                    (
                        (path, Truncator(repr(source_value(obj, path))).chars(160))
                        for path in sentence.sources
                    ),
                )
                rows.append((part.title, sentence.text, format_html("<ul>{}</ul>", sources)))
        return format_html(
            '<table class="plain-read-sources"><thead><tr><th>{}</th><th>{}</th><th>{}</th>'
            "</tr></thead><tbody>{}</tbody></table>",
            gettext("Part"),
            gettext("Sentence"),
            gettext("Source fields and their values"),
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )

    @admin.display(description=_("reading grade (as saved)"))
    def reading_grades(self, obj):
        target = settings.PLAIN_LANGUAGE_TARGET_GRADE
        found = grades(obj) if obj else []
        if not found:
            return gettext("No plain-language text yet.")
        return format_html(
            '<ul class="readability-grades">{}</ul><p class="help">{}</p>',
            format_html_join(
                "",
                '<li class="{}">{}: {}</li>',
                (
                    ("readability-warning" if value > target else "", label, f"{value:.1f}")
                    for label, value in found
                ),
            ),
            gettext(
                "US school grade (8 is about 13-14 years old), by Flesch-Kincaid in English, "
                "Kandel-Moles in French and Gulpease in Italian. Target: %(target)s or below."
            )
            % {"target": target},
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        target = settings.PLAIN_LANGUAGE_TARGET_GRADE
        for label, value in grades(obj):
            if value > target:
                self.message_user(
                    request,
                    gettext(
                        "“%(field)s” reads at grade %(grade)s, above the target of %(target)s: "
                        "shorter sentences and everyday words help."
                    )
                    % {"field": label, "grade": f"{value:.1f}", "target": target},
                    messages.WARNING,
                )

    def has_add_permission(self, request):
        return False  # trials come from the registry

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Site)
class SiteAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # What coordinators say is shown beside the registry's status; they set it in "My sites".
    list_display = (
        "facility",
        "city",
        "country",
        "status",
        "coordinator_status",
        "status_confirmed_at",
        "trial",
        "removed_at",
    )
    list_filter = ("status", "coordinator_status", "country_code")
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
