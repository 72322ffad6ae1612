"""Triggers that keep UserStorage = SUM(task_storage.bytes) per user, and its rows for existing data."""

from django.db import migrations

from tasks.history.triggers import STORAGE_NAMES, drop_sql, storage_rebuild_sql, storage_trigger_sql


def _names(apps, schema_editor):
    storage = apps.get_model("tasks", "TaskStorage")._meta.db_table
    user_storage = apps.get_model("tasks", "UserStorage")._meta.db_table
    prefix = storage[: -len("task_storage")] if storage.endswith("task_storage") else ""
    q = schema_editor.quote_name
    return q(storage), q(user_storage), prefix


def create(apps, schema_editor):
    storage, user_storage, prefix = _names(apps, schema_editor)
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        for sql in (drop_sql(vendor, prefix, STORAGE_NAMES) + storage_trigger_sql(vendor, storage, user_storage, prefix)
                    + storage_rebuild_sql(storage, user_storage)):
            cursor.execute(sql)


def drop(apps, schema_editor):
    _storage, _user_storage, prefix = _names(apps, schema_editor)
    with schema_editor.connection.cursor() as cursor:
        for sql in drop_sql(schema_editor.connection.vendor, prefix, STORAGE_NAMES):
            cursor.execute(sql)


class Migration(migrations.Migration):

    # Was history.0006_i11_user_storage_triggers while these tables had an app of their own (tables keep their
    # names); a database that ran it counts this one as applied.
    replaces = [("history", "0006_i11_user_storage_triggers")]

    dependencies = [('tasks', '0015_i11_user_storage')]

    operations = [migrations.RunPython(create, drop)]
