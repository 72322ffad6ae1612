"""Admin for the audit log: read-only, filtered by action, outcome, date and person (also after a purge)."""

from django.contrib import admin

from core.admin_tools import FastListMixin, ReadOnlyMixin, UserEmailFilter
from core.models import AuditLog


class AuditUserFilter(UserEmailFilter):
    user_field = "user"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if value and not value.isdigit():  # audit rows keep the email after a purge
            return queryset.filter(user_email=value.lower())
        return super().queryset(request, queryset)


class ActionFilter(admin.SimpleListFilter):
    """Distinct actions through the (action, created_at) index: a quick loose scan even on a big table."""

    title = "action"
    parameter_name = "action"

    def lookups(self, request, model_admin):
        actions = AuditLog.objects.order_by("action").values_list("action", flat=True).distinct()[:200]
        return [(a, a) for a in actions]

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(AuditLog)
class AuditLogAdmin(FastListMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("created_at", "user_email", "action", "outcome", "object_type", "object_id", "ip_address")
    list_filter = (ActionFilter, "outcome", "created_at", AuditUserFilter)
    search_fields = ("=object_id",)
    search_help_text = "Object id (exact), e.g. a task id."
    ordering = ("-created_at",)
    sortable_by = ("created_at",)
    fields = ("created_at", "user", "user_email", "action", "outcome", "object_type", "object_id", "ip_address",
              "user_agent", "details")
    readonly_fields = fields
    raw_id_fields = ("user",)
