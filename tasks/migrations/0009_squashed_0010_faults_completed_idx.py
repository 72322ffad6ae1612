"""Tasks 0009 (worker presence, staged folders, upload keys) and 0010 (the user/completed_at index), squashed with
`squashmigrations --no-optimize` (the same operations in the same order, so the same SQL) to keep this
folder at 20 modules (docs/architecture.md). No released database ran either (the previous release
stops at 0005), and a database that ran both counts this one as applied."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    replaces = [('tasks', '0009_i16_faults'), ('tasks', '0010_i11_task_user_completed_idx')]

    dependencies = [
        ('tasks', '0008_i11_task_filename_fulltext'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='WorkerPresence',
            fields=[
                ('worker_id', models.CharField(max_length=128, primary_key=True, serialize=False)),
                ('hostname', models.CharField(blank=True, max_length=255)),
                ('pid', models.PositiveIntegerField(default=0)),
                ('started_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('last_seen_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('db_outages', models.PositiveIntegerField(db_comment='Times it lost the database and got it back', default=0)),
                ('db_outage_seconds', models.FloatField(db_comment='Seconds it spent waiting for the database', default=0)),
                ('last_db_outage_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'db_table': 'worker_presence',
                'db_table_comment': 'Running OCR workers: last sign of life, database outages they lived through',
            },
        ),
        migrations.CreateModel(
            name='StagedFolder',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('folder', models.CharField(db_comment='Storage folder <user id>/<task id>', max_length=255)),
                ('reason', models.CharField(db_comment='upload, results or delete', max_length=16)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'db_table': 'staged_folders',
                'db_table_comment': 'Storage folders being written or emptied: what a dead process left is found here',
                'indexes': [models.Index(fields=['created_at'], name='staged_created_idx'), models.Index(fields=['folder'], name='staged_folder_idx')],
            },
        ),
        migrations.CreateModel(
            name='UploadKey',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('key', models.CharField(db_comment="Idempotency-Key header or the upload form's upload_key", max_length=64)),
                ('task', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='upload_key_row', to='tasks.task')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'db_table': 'upload_keys',
                'db_table_comment': 'Idempotency keys of uploads: the tasks each key created',
                'indexes': [models.Index(fields=['user', 'key'], name='upload_key_user_key_idx')],
            },
        ),
        migrations.AddIndex(
            model_name='task',
            index=models.Index(fields=['user', '-completed_at'], name='task_user_completed_idx'),
        ),
    ]
