"""Admin for operators: people (deactivate) and their sessions (revoke).

tasks.admin registers the people's page again with their tasks: active tasks, storage, and a
delete that purges their files too.

Token values never reach the admin: the session admin whitelists its fields, and the
Django session key (a bearer credential for the browser) is not shown either.
"""

from django.contrib import admin, messages
from django.utils import timezone

from accounts import maintenance
from accounts.models import ApiToken, TokenSession, User
from core.admin_tools import FastListMixin, UserEmailFilter
from core.audit import Actor


@admin.register(User)
class UserAdmin(FastListMixin, admin.ModelAdmin):
    list_display = ("email", "display_name", "auth_source", "is_active", "is_staff", "last_seen_at")
    list_filter = ("is_active", "is_staff", "auth_source")
    search_fields = ("email", "display_name")
    search_help_text = "Email or name contains."
    ordering = ("email",)
    actions = ("deactivate_users", "activate_users")
    fieldsets = (
        (None, {"fields": ("email", "display_name", "auth_source")}),
        ("Company directory", {"fields": ("external_id", "job_title", "office_location")}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Activity", {"fields": ("created_at", "last_seen_at", "last_login")}),
    )
    readonly_fields = ("email", "auth_source", "external_id", "job_title", "office_location", "created_at",
                       "last_seen_at", "last_login")
    filter_horizontal = ("groups", "user_permissions")

    def get_readonly_fields(self, request, obj=None):
        """A superuser may link or rename: set a directory id or change an email (a refused
        look-alike sign-in says to ask for this). Both stay unique; the email is normalised on save."""
        fields = super().get_readonly_fields(request, obj)
        if request.user.is_superuser and obj is not None and obj.auth_source == obj.AuthSource.EXTERNAL:
            return tuple(f for f in fields if f not in ("email", "external_id"))
        return fields

    def has_add_permission(self, request):
        return False  # people appear at their first sign-in; operators use createsuperuser

    @admin.action(description="Deactivate selected users and sign them out", permissions=["change"])
    def deactivate_users(self, request, queryset):
        users = [u for u in queryset if u.pk != request.user.pk]
        revoked = 0
        for user in users:
            revoked += maintenance.user_deactivate(user=user, actor=Actor.of(request, via="admin"))
        self.message_user(request, f"{len(users)} user(s) deactivated, {revoked} session(s) revoked.", messages.SUCCESS)
        if len(users) != queryset.count():
            self.message_user(request, "You cannot deactivate yourself.", messages.WARNING)

    @admin.action(description="Activate selected users", permissions=["change"])
    def activate_users(self, request, queryset):
        users = list(queryset)
        for user in users:
            maintenance.user_activate(user=user, actor=Actor.of(request, via="admin"))
        self.message_user(request, f"{len(users)} user(s) activated.", messages.SUCCESS)


class RevocableStateFilter(admin.SimpleListFilter):
    """Live / expired / revoked, for rows with ``expires_at`` and ``revoked_at`` (sessions, API tokens)."""

    title = "state"
    parameter_name = "state"
    expired_lookup = "expires_at__lt"  # a session is still good at its expiry instant

    def lookups(self, request, model_admin):
        return (("live", "Live"), ("expired", "Expired"), ("revoked", "Revoked"))

    def queryset(self, request, queryset):
        expired = {self.expired_lookup: timezone.now()}
        if self.value() == "live":
            return queryset.filter(revoked_at__isnull=True).exclude(**expired)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, **expired)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


class SessionStateFilter(RevocableStateFilter):
    pass


class SessionUserFilter(UserEmailFilter):
    user_field = "user"


@admin.register(TokenSession)
class TokenSessionAdmin(FastListMixin, admin.ModelAdmin):
    """Who is signed in where. No token (not even its ciphertext) and no session key, anywhere here."""

    list_display = ("user_email", "state", "created_at", "last_activity_at", "expires_at", "revoked_at", "ip_address",
                    "short_agent")
    list_select_related = False  # owners prefetched per page (no JOIN: see tasks/admin.py)
    list_filter = (SessionStateFilter, "created_at", SessionUserFilter)
    ordering = ("-created_at",)
    actions = ("revoke_sessions",)
    # A whitelist: new secret columns on the model stay hidden without a change here.
    fields = ("user", "state", "token_type", "issued_at", "expires_at", "created_at", "last_activity_at", "revoked_at",
              "ip_address", "user_agent")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("user")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the browser is told at its next request

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff and (
            request.user.has_perm("accounts.change_tokensession"))

    @admin.display(description="user", ordering="user__email")
    def user_email(self, obj):
        return obj.user.email

    @admin.display(description="state")
    def state(self, obj):
        if obj.revoked_at:
            return "revoked"
        if obj.expires_at and obj.expires_at < timezone.now():
            return "expired"
        return "live"

    @admin.display(description="browser")
    def short_agent(self, obj):
        return (obj.user_agent or "")[:60]

    @admin.action(description="Revoke selected sessions (signs those browsers out)", permissions=["change"])
    def revoke_sessions(self, request, queryset):
        revoked = 0
        for session in queryset.select_related("user"):
            if maintenance.session_revoke(session=session, actor=Actor.of(request, via="admin")):  # audited with it
                revoked += 1
        self.message_user(request, f"{revoked} session(s) revoked.", messages.SUCCESS if revoked else messages.WARNING)


class ApiTokenStateFilter(RevocableStateFilter):
    expired_lookup = "expires_at__lte"  # a token is refused from its expiry instant on


@admin.register(ApiToken)
class ApiTokenAdmin(FastListMixin, admin.ModelAdmin):
    """People's personal API tokens: see and revoke. The hash is not shown (it is no use to anyone here)."""

    list_display = ("name", "user_email", "prefix", "state", "created_at", "expires_at", "last_used_at", "revoked_at")
    list_select_related = False
    list_filter = (ApiTokenStateFilter, "created_at", SessionUserFilter)
    search_fields = ("name", "prefix")
    ordering = ("-created_at",)
    actions = ("revoke_tokens",)
    fields = ("user", "name", "prefix", "state", "created_at", "expires_at", "last_used_at", "revoked_at")  # a whitelist
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("user")

    def has_add_permission(self, request):
        return False  # people make their own on /account/tokens/

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: audited, and the row says when

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff and request.user.has_perm("accounts.change_apitoken")

    @admin.display(description="user", ordering="user__email")
    def user_email(self, obj):
        return obj.user.email

    @admin.display(description="state")
    def state(self, obj):
        if obj.revoked_at:
            return "revoked"
        return "expired" if obj.is_expired() else "live"

    @admin.action(description="Revoke selected tokens (scripts using them are refused)", permissions=["change"])
    def revoke_tokens(self, request, queryset):
        from accounts.services import api_token_revoke

        actor = Actor.of(request, via="admin")
        revoked = sum(api_token_revoke(token=t, actor=actor) for t in queryset.select_related("user"))
        self.message_user(request, f"{revoked} token(s) revoked.", messages.SUCCESS if revoked else messages.WARNING)
