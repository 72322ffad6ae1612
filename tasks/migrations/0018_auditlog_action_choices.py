"""AuditLog.action takes its values from AuditAction: choices only, so nothing changes in the database.

The stored strings are the ones written before (auth.login, task.delete, ...); existing rows stay as they are.
"""

from django.db import migrations, models

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

    dependencies = [
        ("tasks", "0017_history_content_types"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.AlterField(
                model_name="auditlog",
                name="action",
                field=models.CharField(choices=ACTIONS, db_comment="e.g. file.download, task.delete, auth.login",
                                       max_length=64),
            ),
        ]),
    ]
