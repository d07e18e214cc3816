"""Inquiries in the admin, for the coordinators of each site.

A coordinator sees only the inquiries of their sites (`Inquiry.objects.for_coordinator`): the
list, search, filters, export and actions all start from that queryset, and any other inquiry's
page answers 404, exactly as if it did not exist. Superusers see everything.

Nothing here edits an inquiry's fields directly: every change goes through patients.services,
which records it in the timeline.
"""

import csv
import datetime
import re
import uuid

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.defaultfilters import linebreaks_filter
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language, gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters

from config.outage import survives_db_outage
from patients import services, sites, staff, stats, status_emails
from patients.models import (
    STATUS_EMAIL_PLACEHOLDERS,
    CoordinatedSite,
    Inquiry,
    InquiryStatus,
    PrescreenQuestion,
    SiteConfirmation,
    SiteCoordinator,
    StaffProfile,
    StatusEmail,
    allowed_transitions,
    coordinated_sites,
)
from trials.models import CoordinatorStatus, Site, Trial

# Cells a spreadsheet would run as a formula (CSV injection): prefixed with a quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


# --- filters -------------------------------------------------------------------------------------


class SiteFilter(admin.SimpleListFilter):
    title = _("site")
    parameter_name = "site"

    def lookups(self, request, model_admin):
        ids = model_admin.get_queryset(request).values("site_id")
        return [(str(s.pk), str(s)) for s in Site.objects.filter(pk__in=ids).order_by("facility")]

    def queryset(self, request, queryset):
        return queryset.filter(site_id=self.value()) if self.value() else queryset


class TrialFilter(admin.SimpleListFilter):
    title = _("trial")
    parameter_name = "trial"

    def lookups(self, request, model_admin):
        ids = model_admin.get_queryset(request).values("trial_id")
        return [(t.nct_id, t.nct_id) for t in Trial.objects.filter(pk__in=ids)]

    def queryset(self, request, queryset):
        return queryset.filter(trial__nct_id=self.value()) if self.value() else queryset


class AgeFilter(admin.SimpleListFilter):
    title = _("submitted")
    parameter_name = "age"

    def lookups(self, request, model_admin):
        return [
            ("overdue", _("Still new after 2 working days")),
            ("7d", _("In the last 7 days")),
            ("30d", _("In the last 30 days")),
            ("older", _("More than 30 days ago")),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        value = self.value()
        if value == "overdue":
            return queryset.filter(
                status=InquiryStatus.NEW, created_at__lt=stats.overdue_cutoff(now)
            )
        if value == "7d":
            return queryset.filter(created_at__gte=now - datetime.timedelta(days=7))
        if value == "30d":
            return queryset.filter(created_at__gte=now - datetime.timedelta(days=30))
        if value == "older":
            return queryset.filter(created_at__lt=now - datetime.timedelta(days=30))
        return queryset


class AssigneeFilter(admin.SimpleListFilter):
    title = _("assigned to")
    parameter_name = "assignee"

    def lookups(self, request, model_admin):
        ids = model_admin.get_queryset(request).exclude(assignee=None).values("assignee_id")
        users = get_user_model().objects.filter(pk__in=ids).exclude(pk=request.user.pk)
        return [
            ("me", _("Me")),
            ("none", _("Nobody")),
            *[(str(u.pk), u.get_username()) for u in users],
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "me":
            return queryset.filter(assignee=request.user)
        if value == "none":
            return queryset.filter(assignee=None)
        if value and value.isdecimal():
            return queryset.filter(assignee_id=int(value))
        return queryset


# --- the workflow forms on an inquiry's page -----------------------------------------------------


class WorkflowForm(forms.Form):
    # A new random key each time the page shows the form: the same post sent again (a retry
    # after a database restart, a double click) does its work once (InquiryEvent).
    submission_key = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, inquiry, **kwargs):
        super().__init__(*args, **kwargs)
        self.inquiry = inquiry
        if not self.is_bound:
            self.fields["submission_key"].initial = uuid.uuid4()


class StatusForm(WorkflowForm):
    to_status = forms.ChoiceField(label=_("New status"))
    note = forms.CharField(
        label=_("Note (optional)"),
        required=False,
        max_length=5000,
        widget=forms.Textarea({"rows": 2}),
    )

    def __init__(self, *args, inquiry, **kwargs):
        super().__init__(*args, inquiry=inquiry, **kwargs)
        labels = dict(InquiryStatus.choices)
        self.fields["to_status"].choices = [
            (s, labels[s]) for s in allowed_transitions(inquiry.status)
        ]


class AssignForm(WorkflowForm):
    assignee = forms.ModelChoiceField(
        label=_("Assign to"),
        queryset=get_user_model().objects.none(),
        required=False,
        empty_label=_("Nobody"),
    )

    def __init__(self, *args, inquiry, **kwargs):
        super().__init__(*args, inquiry=inquiry, **kwargs)
        self.fields["assignee"].queryset = (
            get_user_model()
            # The site's own coordinators: an administrator is not one by being superuser.
            .objects.filter(is_active=True, is_staff=True, coordinated_sites__site=inquiry.site)
            .distinct()
            .order_by("username")
        )
        self.fields["assignee"].initial = inquiry.assignee_id


class NoteForm(WorkflowForm):
    text = forms.CharField(
        label=_("Internal note"),
        max_length=5000,
        widget=forms.Textarea({"rows": 3}),
        help_text=_("Seen only by the coordinators of this site."),
    )


class ReplyForm(WorkflowForm):
    message = forms.CharField(
        label=_("Reply to the patient"),
        max_length=5000,
        widget=forms.Textarea({"rows": 5}),
        help_text=_(
            "Emailed to the patient in their language's template; they can answer you by email."
        ),
    )


WORKFLOW_FORMS = {"status": StatusForm, "assign": AssignForm, "note": NoteForm, "reply": ReplyForm}


# --- the inquiry admin ---------------------------------------------------------------------------


@admin.register(Inquiry)
class InquiryAdmin(admin.ModelAdmin):
    # What a coordinator triages by first (who, how far along, since when, whose); the long
    # site and trial names last, wrapping (static/css/inquiries-admin.css): readable at 1280 px.
    list_display = (
        "reference",
        "patient",
        "status",
        "submitted",
        "assignee",
        "site",
        "trial_id_display",
    )
    list_display_links = ("reference", "patient")
    list_filter = ("status", SiteFilter, TrialFilter, AgeFilter, AssigneeFilter)
    search_fields = ("first_name", "last_name", "email", "phone")
    list_select_related = ("trial", "site", "assignee")
    list_per_page = 50
    actions = ["mark_contacted", "assign_to_me", "export_csv"]
    change_form_template = "admin/patients/inquiry/change_form.html"
    change_list_template = "admin/patients/inquiry/change_list.html"
    fieldsets = (
        (
            _("Patient"),
            {
                "fields": (
                    "first_name",
                    "last_name",
                    "email",
                    "phone",
                    "preferred_language_display",
                    "message",
                    "prescreen_display",
                )
            },
        ),
        (
            _("Inquiry"),
            {
                "fields": (
                    "trial",
                    "site",
                    "status",
                    "assignee",
                    "created_at",
                    "first_contacted_at",
                    "closed_at",
                    "erased_at",
                    "escalation_level",
                    "escalated_at",
                )
            },
        ),
        (
            _("Routing and consent"),
            {
                "classes": ("collapse",),
                "fields": (
                    "routed_to",
                    "routed_email",
                    "consent_version",
                    "consented_at",
                    "consent_text",
                ),
            },
        ),
    )

    class Media:
        css = {"all": ["css/inquiries-admin.css"]}

    # --- who sees what ---------------------------------------------------------------------------

    def get_queryset(self, request):
        return super().get_queryset(request).for_coordinator(request.user)

    def get_object(self, request, object_id, from_field=None):
        # Outside the coordinator's sites an inquiry does not exist: 404, not a redirect with
        # "perhaps it was deleted", and never 403 (which would confirm that it exists).
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("no such inquiry")
        return obj

    def has_add_permission(self, request):
        return False  # inquiries come from patients

    def has_delete_permission(self, request, obj=None):
        # Deleting would lose the statistics; erasure (withdrawal, retention) is the way out.
        return request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        return [name for fieldset in self.fieldsets for name in fieldset[1]["fields"]]

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.is_superuser:
            actions.pop("delete_selected", None)
        return actions

    # --- list columns ----------------------------------------------------------------------------

    @admin.display(description=_("reference"), ordering="id")
    def reference(self, obj):
        return f"#{obj.pk}"

    @admin.display(description=_("patient"), ordering="last_name")
    def patient(self, obj):
        return obj.patient_name if not obj.is_erased else gettext("(erased)")

    @admin.display(description=_("trial"), ordering="trial__nct_id")
    def trial_id_display(self, obj):
        return obj.trial.nct_id

    @admin.display(description=_("submitted"), ordering="created_at")
    def submitted(self, obj):
        when = timezone.localtime(obj.created_at).strftime("%Y-%m-%d %H:%M")
        if stats.is_overdue(obj, stats.overdue_cutoff()):
            return format_html(
                '{} <span class="tf-overdue" title="{}">{}</span>',
                when,
                gettext("Still new after 2 working days"),
                gettext("overdue"),
            )
        return when

    # --- detail fields ---------------------------------------------------------------------------

    @admin.display(description=_("preferred language"))
    def preferred_language_display(self, obj):
        if not obj.preferred_language:
            return ""
        label = obj.get_preferred_language_display()
        return f"{label} — {obj.other_language}" if obj.other_language else label

    @admin.display(description=_("pre-screening"))
    def prescreen_display(self, obj):
        from django.template.loader import render_to_string

        return render_to_string(
            "admin/patients/inquiry/_prescreen.html", {"prescreen": obj.prescreen}
        )

    # --- search: names, emails, and phone numbers however they are typed -------------------------

    def get_search_results(self, request, queryset, search_term):
        results, duplicates = super().get_search_results(request, queryset, search_term)
        digits = re.sub(r"\D", "", search_term)
        if len(digits) >= 6 and re.fullmatch(r"[\d\s().+\-/]+", search_term.strip()):
            # "06 12 34 56 78" finds +33612345678: compare the significant digits.
            results = results | queryset.filter(phone__endswith=digits.lstrip("0"))
        return results, duplicates

    # --- actions ---------------------------------------------------------------------------------

    @admin.action(description=_("Mark as contacted"), permissions=["change"])
    def mark_contacted(self, request, queryset):
        count = services.inquiries_mark_contacted(inquiries=queryset, actor=request.user)
        self.message_user(
            request,
            ngettext(
                "%(count)d inquiry marked as contacted.",
                "%(count)d inquiries marked as contacted.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Assign to me"), permissions=["change"])
    def assign_to_me(self, request, queryset):
        count = 0
        for inquiry in queryset.exclude(assignee=request.user):
            try:
                services.inquiry_assign(inquiry=inquiry, assignee=request.user, actor=request.user)
            except services.TransitionRefused:
                continue
            count += 1
        self.message_user(
            request,
            ngettext(
                "%(count)d inquiry assigned to you.", "%(count)d inquiries assigned to you.", count
            )
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Export as CSV"), permissions=["view"])
    def export_csv(self, request, queryset):
        return self._csv(queryset)

    def _csv(self, queryset):
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="inquiries-{stamp}.csv"'
        response.write("\ufeff")  # so that spreadsheets read it as UTF-8
        writer = csv.writer(response)
        writer.writerow(
            [
                gettext("reference"),
                gettext("submitted"),
                gettext("status"),
                gettext("trial"),
                gettext("site"),
                gettext("first name"),
                gettext("last name"),
                gettext("email"),
                gettext("phone number"),
                gettext("preferred language"),
                gettext("assigned to"),
                gettext("first contacted"),
                gettext("closed"),
                gettext("pre-screening"),
                gettext("message"),
            ]
        )
        for inquiry in queryset.select_related("trial", "site", "assignee").order_by("created_at"):
            writer.writerow(
                [
                    csv_cell(value)
                    for value in (
                        inquiry.pk,
                        timezone.localtime(inquiry.created_at).isoformat(timespec="minutes"),
                        inquiry.get_status_display(),
                        inquiry.trial.nct_id,
                        inquiry.site,
                        inquiry.first_name,
                        inquiry.last_name,
                        inquiry.email,
                        inquiry.phone,
                        inquiry.other_language or inquiry.get_preferred_language_display(),
                        inquiry.assignee.get_username() if inquiry.assignee else "",
                        inquiry.first_contacted_at
                        and timezone.localtime(inquiry.first_contacted_at).isoformat(
                            timespec="minutes"
                        ),
                        inquiry.closed_at
                        and timezone.localtime(inquiry.closed_at).isoformat(timespec="minutes"),
                        inquiry.prescreen.get("result", ""),
                        inquiry.message,
                    )
                ]
            )
        return response

    # --- extra pages -----------------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("export/", wrap(self.export_view), name="patients_inquiry_export"),
            path(
                "response-times/",
                wrap(self.response_times_view),
                name="patients_inquiry_response_times",
            ),
            path(
                "<path:object_id>/workflow/<str:action>/",
                # Outside the admin's own wrapper, which reads the session and the user.
                survives_db_outage(
                    wrap(self.workflow_view),
                    shown={
                        "note": StatusForm.base_fields["note"].label,
                        "text": NoteForm.base_fields["text"].label,
                        "message": ReplyForm.base_fields["message"].label,
                    },
                ),
                name="patients_inquiry_workflow",
            ),
            *super().get_urls(),
        ]

    def export_view(self, request):
        """The whole filtered list as CSV: the same filters and search as the list page."""
        if not self.has_view_permission(request):
            raise Http404
        changelist = self.get_changelist_instance(request)
        return self._csv(changelist.get_queryset(request))

    def response_times_view(self, request):
        if not self.has_view_permission(request):
            raise Http404
        sites = coordinated_sites(request.user)
        if request.user.is_superuser:  # every site of the registry is too many: those asked
            sites = sites.filter(pk__in=Inquiry.objects.values("site_id"))
        sites = sites.select_related("trial").order_by("trial__nct_id", "facility")
        ctx = {
            **self.admin_site.each_context(request),
            "title": gettext("Response times"),
            "opts": self.model._meta,
            "figures": stats.response_times(sites),
            "overdue_days": stats.OVERDUE_BUSINESS_DAYS,
        }
        return TemplateResponse(request, "admin/patients/inquiry/response_times.html", ctx)

    @method_decorator(sensitive_post_parameters())
    def workflow_view(self, request, object_id, action):
        inquiry = self.get_object(request, object_id)  # 404 outside the coordinator's sites
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if action not in WORKFLOW_FORMS or not self.has_change_permission(request, inquiry):
            raise Http404
        form = WORKFLOW_FORMS[action](request.POST, inquiry=inquiry)
        change_url = reverse("admin:patients_inquiry_change", args=[inquiry.pk])
        if not form.is_valid():
            for field, errors in form.errors.items():
                label = form.fields[field].label if field in form.fields else ""
                for error in errors:
                    self.message_user(request, f"{label}: {error}", messages.ERROR)
            return HttpResponseRedirect(change_url)
        data = form.cleaned_data
        key = data["submission_key"]
        try:
            if action == "status":
                services.inquiry_change_status(
                    inquiry=inquiry,
                    to_status=data["to_status"],
                    actor=request.user,
                    note=data["note"],
                    submission_key=key,
                )
                done = gettext("Status changed.")
            elif action == "assign":
                services.inquiry_assign(
                    inquiry=inquiry, assignee=data["assignee"], actor=request.user
                )
                done = gettext("Assignment saved.")
            elif action == "note":
                services.inquiry_add_note(
                    inquiry=inquiry, actor=request.user, text=data["text"], submission_key=key
                )
                done = gettext("Note added.")
            else:
                services.inquiry_reply(
                    inquiry=inquiry, actor=request.user, message=data["message"], submission_key=key
                )
                done = gettext("Your reply is on its way to the patient.")
        except services.TransitionRefused:
            self.message_user(
                request,
                gettext("This change is not possible any more: the inquiry changed meanwhile."),
                messages.ERROR,
            )
            return HttpResponseRedirect(change_url)
        self.message_user(request, done, messages.SUCCESS)
        return HttpResponseRedirect(change_url)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        inquiry = self.get_object(request, object_id)
        events = list(inquiry.events.select_related("actor", "email"))
        can_change = self.has_change_permission(request, inquiry)
        open_for_work = not inquiry.is_erased and inquiry.status != InquiryStatus.WITHDRAWN
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "events": events,
            "can_work": can_change and open_for_work,
            "status_form": StatusForm(inquiry=inquiry),
            "assign_form": AssignForm(inquiry=inquiry),
            "note_form": NoteForm(inquiry=inquiry),
            "reply_form": ReplyForm(inquiry=inquiry),
            "overdue": stats.is_overdue(inquiry, stats.overdue_cutoff()),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "export_query": request.GET.urlencode(),
        }
        return super().changelist_view(request, extra_context)


# --- coordinators and pre-screening questions ----------------------------------------------------


@admin.register(SiteCoordinator)
class SiteCoordinatorAdmin(admin.ModelAdmin):
    """Who handles which site: superusers link staff users to sites."""

    list_display = ("user", "site", "trial_nct_id", "created_at")
    search_fields = (
        "user__username",
        "user__email",
        "site__facility",
        "site__city",
        "site__trial__nct_id",
    )
    autocomplete_fields = ("user",)
    raw_id_fields = ("site",)
    list_select_related = ("user", "site", "site__trial")

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    @admin.display(description=_("trial"), ordering="site__trial__nct_id")
    def trial_nct_id(self, obj):
        return obj.site.trial.nct_id


@admin.register(PrescreenQuestion)
class PrescreenQuestionAdmin(admin.ModelAdmin):
    """Yes/no questions a trial's pre-screening asks. Coordinators manage those of the trials
    they have a site in."""

    list_display = ("text", "trial", "eligible_answer", "position", "active")
    list_filter = ("active",)
    list_editable = ("position", "active")
    search_fields = ("text", "trial__nct_id")
    list_select_related = ("trial",)

    def _trials(self, request):
        if request.user.is_superuser:
            return Trial.objects.all()
        return Trial.objects.filter(sites__in=coordinated_sites(request.user)).distinct()

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(trial__in=self._trials(request))

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("no such question")
        return obj

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "trial":
            trials = self._trials(request)
            kwargs["queryset"] = (
                trials.filter(overall_status__in=["RECRUITING", "NOT_YET_RECRUITING"])
                if request.user.is_superuser
                else trials
            ).order_by("nct_id")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# --- "My sites": coordinators confirm recruitment and set their response deadline -------------


class ConfirmationInline(admin.TabularInline):
    model = SiteConfirmation
    fields = ("created_at", "status", "previous_status", "user", "via")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ["-created_at"]
    verbose_name_plural = _("history of confirmations")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CoordinatedSite)
class CoordinatedSiteAdmin(admin.ModelAdmin):
    """A coordinator's sites (all sites with a coordinator, for superusers): one click confirms
    that a site still recruits, or marks it paused or closed, for patients and the search.
    The registry's own fields stay read-only; only the response deadline is edited here."""

    list_display = (
        "site_name",
        "trial_nct_id",
        "registry_status",
        "coordinator_status",
        "last_confirmed",
        "response_business_days",
        "confirm_buttons",
    )
    list_display_links = ("site_name",)
    list_editable = ("response_business_days",)
    list_filter = ("coordinator_status",)
    list_select_related = ("trial", "status_confirmed_by")
    search_fields = ("facility", "city", "trial__nct_id")
    actions = ["confirm_recruiting", "mark_paused", "mark_closed"]
    change_form_template = "admin/patients/coordinatedsite/change_form.html"
    inlines = [ConfirmationInline]
    fields = (
        "trial",
        "facility",
        "city",
        "country",
        "status",
        "coordinator_status",
        "status_confirmed_at",
        "status_confirmed_by",
        "response_business_days",
    )
    readonly_fields = fields[:-1]

    class Media:
        css = {"all": ["css/inquiries-admin.css"]}

    def get_queryset(self, request):
        queryset = super().get_queryset(request).filter(removed_at__isnull=True)
        if request.user.is_superuser:  # the sites somebody coordinates
            return queryset.filter(pk__in=SiteCoordinator.objects.values("site_id"))
        return queryset.filter(pk__in=coordinated_sites(request.user))

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("no such site")  # another coordinator's site does not exist here
        return obj

    def has_add_permission(self, request):
        return False  # sites come from the registry

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description=_("site"), ordering="facility")
    def site_name(self, obj):
        return str(obj)

    @admin.display(description=_("trial"), ordering="trial__nct_id")
    def trial_nct_id(self, obj):
        return obj.trial.nct_id

    @admin.display(description=_("status in the registry"), ordering="status")
    def registry_status(self, obj):
        return obj.get_status_display() if obj.status else gettext("Status not given")

    @admin.display(description=_("last confirmed"), ordering="status_confirmed_at")
    def last_confirmed(self, obj):
        if not obj.status_confirmed_at:
            return gettext("Never")
        when = timezone.localtime(obj.status_confirmed_at).strftime("%Y-%m-%d")
        who = obj.status_confirmed_by.get_username() if obj.status_confirmed_by else ""
        if obj.is_recruiting and not obj.is_fresh:
            return format_html(
                '{} {} <span class="tf-overdue">{}</span>', when, who, gettext("not recent")
            )
        return f"{when} {who}".strip()

    @admin.display(description=_("tell patients"))
    def confirm_buttons(self, obj):
        # Submit buttons of the list's own form (it carries the CSRF token), sent to the
        # confirm view: one click, no page in between.
        url = reverse("admin:patients_coordinatedsite_confirm", args=[obj.pk])
        return format_html_join(
            " ",
            '<button type="submit" class="button" formaction="{}" name="status" value="{}">'
            "{}</button>",
            ((url, value, label) for value, label in self._button_labels()),
        )

    @staticmethod
    def _button_labels():
        return [
            (CoordinatorStatus.RECRUITING, gettext("Still recruiting")),
            (CoordinatorStatus.PAUSED, gettext("Paused")),
            (CoordinatorStatus.CLOSED, gettext("Closed")),
        ]

    def _confirm(self, request, queryset, status) -> int:
        count = 0
        for site in queryset:
            try:
                sites.site_confirm(site=site, user=request.user, status=status)
            except sites.ConfirmRefused:
                continue
            count += 1
        return count

    def _done(self, request, count: int, status: str) -> None:
        label = dict(CoordinatorStatus.choices)[status]
        self.message_user(
            request,
            ngettext(
                "%(count)d site recorded as “%(status)s” today.",
                "%(count)d sites recorded as “%(status)s” today.",
                count,
            )
            % {"count": count, "status": label},
            messages.SUCCESS,
        )

    @admin.action(description=_("Confirm: still recruiting"), permissions=["change"])
    def confirm_recruiting(self, request, queryset):
        self._done(request, self._confirm(request, queryset, "recruiting"), "recruiting")

    @admin.action(description=_("Mark as paused"), permissions=["change"])
    def mark_paused(self, request, queryset):
        self._done(request, self._confirm(request, queryset, "paused"), "paused")

    @admin.action(description=_("Mark as closed"), permissions=["change"])
    def mark_closed(self, request, queryset):
        self._done(request, self._confirm(request, queryset, "closed"), "closed")

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/confirm/",
                wrap(self.confirm_view),
                name="patients_coordinatedsite_confirm",
            ),
            *super().get_urls(),
        ]

    def confirm_view(self, request, object_id):
        site = self.get_object(request, object_id)  # 404 outside the coordinator's sites
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        status = request.POST.get("status", "")
        if status not in sites.CHOICES or not self.has_change_permission(request, site):
            raise Http404
        self._done(request, self._confirm(request, [site], status), status)
        back = request.POST.get("next", "")
        # "//evil.example/" starts with "/" too: only a page of this site.
        if not url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            back = reverse("admin:patients_coordinatedsite_changelist")
        return HttpResponseRedirect(back)


# --- the emails patients get when their inquiry moves -----------------------------------------


class StatusEmailForm(forms.ModelForm):
    class Meta:
        model = StatusEmail
        fields = ("status", "language", "enabled", "subject", "body")
        widgets = {"body": forms.Textarea({"rows": 12, "cols": 80})}

    def _check(self, name):
        value = self.cleaned_data.get(name, "")
        unknown = status_emails.unknown_placeholders(value)
        if unknown:
            raise forms.ValidationError(
                gettext("Unknown placeholder: %(names)s. You may use: %(allowed)s.")
                % {
                    "names": ", ".join(f"{{{name}}}" for name in unknown),
                    "allowed": ", ".join(f"{{{name}}}" for name in STATUS_EMAIL_PLACEHOLDERS),
                }
            )
        return value

    def clean_subject(self):
        return self._check("subject")

    def clean_body(self):
        return self._check("body")


@admin.register(StatusEmail)
class StatusEmailAdmin(admin.ModelAdmin):
    """Per status and language: whether patients get an email when a coordinator moves their
    inquiry there, and its text."""

    form = StatusEmailForm
    list_display = ("status", "language", "enabled", "subject", "updated_at")
    list_editable = ("enabled",)
    list_filter = ("status", "language", "enabled")
    readonly_fields = ("placeholders", "preview", "updated_at")
    fields = ("status", "language", "enabled", "subject", "body", "placeholders", "preview")
    actions = ["turn_on", "turn_off"]

    def get_readonly_fields(self, request, obj=None):
        fixed = ("status", "language") if obj else ()
        return (*fixed, *self.readonly_fields)

    @admin.display(description=_("placeholders"))
    def placeholders(self, obj):
        return format_html_join(
            "", "<div><code>{{{}}}</code> — {}</div>", STATUS_EMAIL_PLACEHOLDERS.items()
        )

    @admin.display(description=_("preview"))
    def preview(self, obj):
        if not obj or not obj.pk:
            return ""
        sample = {
            "first_name": "Alice",
            "site": "University Hospital, Strasbourg",
            "trial": gettext("Proton therapy for head and neck cancer"),
            "nct_id": "NCT00000000",
        }
        return format_html(
            '<strong>{}</strong><div class="tf-event-text">{}</div>',
            status_emails.fill(obj.subject, sample),
            linebreaks_filter(status_emails.fill(obj.body, sample), autoescape=True),
        )

    @admin.action(description=_("Send these emails"), permissions=["change"])
    def turn_on(self, request, queryset):
        queryset.update(enabled=True)

    @admin.action(description=_("Stop sending these emails"), permissions=["change"])
    def turn_off(self, request, queryset):
        queryset.update(enabled=False)


# --- staff accounts: two-step login set-up links -----------------------------------------------

User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(DjangoUserAdmin):
    """Django's user admin, with the one way to pair a staff member's authenticator: a
    one-time link by email (config/otp.py), never a password alone."""

    actions = ["email_otp_setup_link"]

    @admin.action(description=_("Email a two-step login set-up link"), permissions=["change"])
    def email_otp_setup_link(self, request, queryset):
        sent, skipped = 0, 0
        for user in queryset.filter(is_active=True, is_staff=True):
            try:
                staff.staff_send_otp_setup_link(user=user, default_language=get_language() or "en")
                sent += 1
            except staff.NoAddress:
                skipped += 1
        skipped += queryset.exclude(is_active=True, is_staff=True).count()
        if sent:
            self.message_user(
                request,
                ngettext(
                    "Set-up link emailed to %(count)d staff member; their earlier links no "
                    "longer work.",
                    "Set-up links emailed to %(count)d staff members; their earlier links no "
                    "longer work.",
                    sent,
                )
                % {"count": sent},
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d user skipped: not active staff, or no email address.",
                    "%(count)d users skipped: not active staff, or no email address.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    """Each staff member's own settings ("My email language"); nobody sees another's."""

    fields = ["email_language"]

    def _own(self, request, obj=None) -> bool:
        user = request.user
        return user.is_active and user.is_staff and (obj is None or obj.user_id == user.pk)

    def has_module_permission(self, request):
        return self._own(request)

    def has_view_permission(self, request, obj=None):
        return self._own(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._own(request, obj)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).filter(user_id=request.user.pk)

    def changelist_view(self, request, extra_context=None):
        language = get_language() or settings.LANGUAGE_CODE
        staff.staff_remember_admin_language(user=request.user, language=language)
        profile = StaffProfile.objects.filter(user_id=request.user.pk).first()
        if profile is None:
            raise PermissionDenied
        return redirect("admin:patients_staffprofile_change", profile.pk)
