"""The audit trail's table: every app writes it (through core.audit), so it sits at the bottom."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditAction(models.TextChoices):
    """Every action the audit trail records (the stored value is the dotted code; operators filter by it)."""

    AUTH_LOGIN = "auth.login", "Signed in"
    AUTH_LOGOUT = "auth.logout", "Signed out"
    TOKEN_CREATE = "token.create", "API token created"
    TOKEN_REVOKE = "token.revoke", "API token revoked"
    FILE_DOWNLOAD = "file.download", "File downloaded"
    TASK_RETRY = "task.retry", "Task run again"
    TASK_CANCEL = "task.cancel", "Task cancelled"
    TASK_DELETE = "task.delete", "Task deleted"
    TASK_CHANGE = "task.change", "Task changed"
    HISTORY_EXPORT = "history.export", "History exported"
    ADMIN_TASK_RETRY = "admin.task.retry", "Task run again by an operator"
    ADMIN_TASK_CANCEL = "admin.task.cancel", "Task cancelled by an operator"
    ADMIN_TASK_DELETE = "admin.task.delete", "Task deleted by an operator"
    ADMIN_SESSION_REVOKE = "admin.session.revoke", "Session revoked by an operator"
    ADMIN_USER_ACTIVATE = "admin.user.activate", "Account activated by an operator"
    ADMIN_USER_DEACTIVATE = "admin.user.deactivate", "Account deactivated by an operator"
    MAINTENANCE_CLEANUP_TASKS = "maintenance.cleanup_tasks", "Old tasks cleaned up"
    MAINTENANCE_PURGE_USER = "maintenance.purge_user", "Person purged"


class AuditLog(models.Model):
    """Who touched which file or task, when, from where, and what came of it."""

    class Outcome(models.TextChoices):
        ALLOWED = "allowed", "Allowed"
        DENIED = "denied", "Denied"
        FAILED = "failed", "Failed"

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", db_constraint=False)
    user_email = models.CharField(max_length=254, blank=True, db_comment="Kept when the user is purged")
    action = models.CharField(max_length=64, choices=AuditAction.choices,
                              db_comment="e.g. file.download, task.delete, auth.login")
    object_type = models.CharField(max_length=32, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.ALLOWED)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "audit_log"
        db_table_comment = "Audit trail: file access, deletions, denied attempts, sign-ins"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="audit_user_created_idx"),
            models.Index(fields=["action", "-created_at"], name="audit_action_created_idx"),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.user_email} {self.action} {self.outcome}"
