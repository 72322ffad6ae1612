"""TaskStorage, TaskSummary and UserStorage left the history app for tasks: their content types follow."""

from django.db import migrations

from core.migration_ops import move_content_types


class Migration(migrations.Migration):

    dependencies = [("tasks", "0016_i11_user_storage_triggers"), ("contenttypes", "0002_remove_content_type_name")]

    operations = [move_content_types("history", "tasks", ("taskstorage", "tasksummary", "userstorage"))]
