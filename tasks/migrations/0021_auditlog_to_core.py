"""AuditLog left tasks for core (core 0001 takes its state and content type); its table stays."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [("tasks", "0020_i11_task_name_grams"), ("core", "0001_initial")]

    operations = [migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="AuditLog")])]
