"""Tasks 0021 (AuditLog left tasks for core: state only, its table stays) and 0022 (the admin's status and
engine indexes), squashed with `squashmigrations --no-optimize` order (the same operations in the same order,
so the same SQL) to keep this folder at 20 modules (docs/architecture.md). No released database ran either
(the previous release stops at 0005), and a database that ran both counts this one as applied."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    replaces = [("tasks", "0021_auditlog_to_core"), ("tasks", "0022_admin_status_engine_idx")]

    dependencies = [
        ("tasks", "0020_i11_task_name_grams"),
        ("core", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="AuditLog")]),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(fields=["status", "created_at"], name="task_status_created_idx"),
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(fields=["engine", "created_at"], name="task_engine_created_idx"),
        ),
    ]
