"""AuditLog moves from tasks to core (every app writes it): the model's state and its content type move,
the table (audit_log) stays as it is. Its action takes its values from AuditAction (choices: no SQL)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from core.migration_ops import move_content_types

ACTIONS = [
    ("auth.login", "Signed in"), ("auth.logout", "Signed out"), ("token.create", "API token created"),
    ("token.revoke", "API token revoked"), ("file.download", "File downloaded"), ("task.retry", "Task run again"),
    ("task.cancel", "Task cancelled"), ("task.delete", "Task deleted"), ("task.change", "Task changed"),
    ("history.export", "History exported"), ("admin.task.retry", "Task run again by an operator"),
    ("admin.task.cancel", "Task cancelled by an operator"), ("admin.task.delete", "Task deleted by an operator"),
    ("admin.session.revoke", "Session revoked by an operator"),
    ("admin.user.activate", "Account activated by an operator"),
    ("admin.user.deactivate", "Account deactivated by an operator"),
    ("maintenance.cleanup_tasks", "Old tasks cleaned up"), ("maintenance.purge_user", "Person purged"),
]


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("tasks", "0017_history_content_types"),  # the table exists, made by tasks 0001_squashed_0005
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.CreateModel(
                name="AuditLog",
                fields=[
                    ("id", models.BigAutoField(primary_key=True, serialize=False)),
                    ("created_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                    ("user_email", models.CharField(blank=True, db_comment="Kept when the user is purged",
                                                    max_length=254)),
                    ("action", models.CharField(choices=ACTIONS, db_comment="e.g. file.download, task.delete, auth.login",
                                                max_length=64)),
                    ("object_type", models.CharField(blank=True, max_length=32)),
                    ("object_id", models.CharField(blank=True, max_length=64)),
                    ("outcome", models.CharField(choices=[("allowed", "Allowed"), ("denied", "Denied"),
                                                          ("failed", "Failed")], default="allowed", max_length=16)),
                    ("ip_address", models.GenericIPAddressField(blank=True, null=True)),
                    ("user_agent", models.CharField(blank=True, max_length=512)),
                    ("details", models.JSONField(blank=True, default=dict)),
                    ("user", models.ForeignKey(blank=True, db_constraint=False, null=True,
                                               on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                                               to=settings.AUTH_USER_MODEL)),
                ],
                options={
                    "db_table": "audit_log",
                    "db_table_comment": "Audit trail: file access, deletions, denied attempts, sign-ins",
                    "ordering": ["-created_at"],
                    "indexes": [models.Index(fields=["user", "-created_at"], name="audit_user_created_idx"),
                                models.Index(fields=["action", "-created_at"], name="audit_action_created_idx")],
                },
            ),
        ]),
        move_content_types("tasks", "core", ("auditlog",)),
    ]
