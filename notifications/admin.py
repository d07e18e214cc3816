from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from notifications.emails import retry_now
from notifications.models import OutgoingEmail


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(admin.ModelAdmin):
    """The outbox: what was sent, what waits, what failed and why; "retry now" for the rest.

    Only superusers see it: rows hold patients' messages to their sites.
    """

    list_display = ("id", "template", "status", "attempts", "created_at", "sent_at", "last_error")
    list_filter = ("status", "template")
    readonly_fields = [f.name for f in OutgoingEmail._meta.fields]
    actions = ["retry"]
    date_hierarchy = "created_at"

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Retry now"))
    def retry(self, request, queryset):
        count = retry_now(queryset)
        self.message_user(
            request,
            ngettext("%(count)d email queued again.", "%(count)d emails queued again.", count)
            % {"count": count},
            messages.SUCCESS,
        )
