"""tasks 0001-0005, the migrations the previous release (398ca95, tests/deploy/test_upgrade.py) shipped, as one.

Squashed without optimising (squashmigrations --no-optimize): the same operations in the same order,
so the same SQL and the same schema. A database that ran 0001-0005 counts this as applied (replaces);
every database a release made ran all five, so Django never needs the deleted originals.
"""

import django.db.models.deletion
import django.utils.timezone
import tasks.models
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    replaces = [('tasks', '0001_initial'), ('tasks', '0002_task_requeue_count'), ('tasks', '0003_history_indexes'), ('tasks', '0004_requeue_count_db_default'), ('tasks', '0005_history_stats_index')]

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Task',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('filename', models.CharField(db_comment="The user's file name: data only, never a path", max_length=255)),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('processing', 'Processing'), ('completed', 'Completed'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], default='pending', max_length=16)),
                ('engine', models.CharField(db_comment='OCR engine: easyocr or tesseract', default='easyocr', max_length=16)),
                ('language', models.CharField(default='en', max_length=32)),
                ('mime_type', models.CharField(blank=True, db_comment='Detected from content, not the name', max_length=100)),
                ('size_bytes', models.BigIntegerField(db_comment='Size of the uploaded file', default=0)),
                ('sha256', models.CharField(blank=True, max_length=64)),
                ('page_count', models.PositiveIntegerField(default=0)),
                ('pages_done', models.PositiveIntegerField(db_comment='Progress: pages finished', default=0)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('completed_at', models.DateTimeField(blank=True, null=True)),
                ('heartbeat_at', models.DateTimeField(blank=True, db_comment='Last sign of life from the worker', null=True)),
                ('processing_seconds', models.FloatField(blank=True, null=True)),
                ('retry_count', models.PositiveIntegerField(default=0)),
                ('error_code', models.CharField(blank=True, max_length=64)),
                ('error_message', models.TextField(blank=True)),
                ('queue_result_id', models.CharField(blank=True, db_comment='Id of the task queue row', max_length=64)),
                ('worker_id', models.CharField(blank=True, max_length=128)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='tasks', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'db_table': 'tasks',
                'db_table_comment': 'OCR tasks, one per uploaded file',
                'ordering': ['-created_at'],
            },
        ),
        migrations.CreateModel(
            name='TaskFile',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('kind', models.CharField(choices=[('original', 'Original upload'), ('result_txt', 'Text (result.txt)'), ('result_json', 'JSON with boxes (result.json)'), ('result_pdf', 'Searchable PDF (result.pdf)')], max_length=16)),
                ('file', models.FileField(db_comment='Storage name, generated', max_length=255, upload_to=tasks.models.task_file_path)),
                ('name', models.CharField(db_comment='Download name shown to the user', max_length=255)),
                ('mime_type', models.CharField(blank=True, max_length=100)),
                ('size_bytes', models.BigIntegerField(default=0)),
                ('sha256', models.CharField(blank=True, max_length=64)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('task', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='files', to='tasks.task')),
            ],
            options={
                'db_table': 'task_files',
                'db_table_comment': 'Files of a task: the upload and its results',
            },
        ),
        migrations.CreateModel(
            name='AuditLog',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('user_email', models.CharField(blank=True, db_comment='Kept when the user is purged', max_length=254)),
                ('action', models.CharField(db_comment='e.g. file.download, task.delete, auth.login', max_length=64)),
                ('object_type', models.CharField(blank=True, max_length=32)),
                ('object_id', models.CharField(blank=True, max_length=64)),
                ('outcome', models.CharField(choices=[('allowed', 'Allowed'), ('denied', 'Denied'), ('failed', 'Failed')], default='allowed', max_length=16)),
                ('ip_address', models.GenericIPAddressField(blank=True, null=True)),
                ('user_agent', models.CharField(blank=True, max_length=512)),
                ('details', models.JSONField(blank=True, default=dict)),
                ('user', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'db_table': 'audit_log',
                'db_table_comment': 'Audit trail: file access, deletions, denied attempts, sign-ins',
                'ordering': ['-created_at'],
                'indexes': [models.Index(fields=['user', '-created_at'], name='audit_user_created_idx'), models.Index(fields=['action', '-created_at'], name='audit_action_created_idx')],
            },
        ),
        migrations.AddIndex(
            model_name='task',
            index=models.Index(fields=['user', '-created_at'], name='task_user_created_idx'),
        ),
        migrations.AddIndex(
            model_name='task',
            index=models.Index(fields=['user', 'status', '-created_at'], name='task_user_status_created_idx'),
        ),
        migrations.AddIndex(
            model_name='task',
            index=models.Index(fields=['status', 'heartbeat_at'], name='task_status_heartbeat_idx'),
        ),
        migrations.AddIndex(
            model_name='task',
            index=models.Index(fields=['created_at'], name='task_created_idx'),
        ),
        migrations.AddConstraint(
            model_name='taskfile',
            constraint=models.UniqueConstraint(fields=('task', 'kind'), name='task_file_kind_uniq'),
        ),
        migrations.AddField(
            model_name='task',
            name='requeue_count',
            field=models.PositiveSmallIntegerField(db_comment='Times the reaper re-queued it after its worker stopped; reset by a retry', default=0),
        ),
        migrations.AddIndex(
            model_name='task',
            index=models.Index(fields=['user', '-created_at', 'id', 'status', 'page_count', 'processing_seconds', 'filename'], name='task_history_cover_idx'),
        ),
        migrations.AddIndex(
            model_name='task',
            index=models.Index(fields=['user', 'filename', '-created_at', 'id'], name='task_user_filename_idx'),
        ),
        migrations.AddIndex(
            model_name='task',
            index=models.Index(fields=['user', 'processing_seconds', '-created_at', 'id', 'status'], name='task_user_seconds_idx'),
        ),
        migrations.AlterField(
            model_name='task',
            name='requeue_count',
            field=models.PositiveSmallIntegerField(db_comment='Times the reaper re-queued it after its worker stopped; reset by a retry', db_default=0, default=0),
        ),
        migrations.AddIndex(
            model_name='task',
            index=models.Index(fields=['user', 'status', 'created_at', 'page_count', 'processing_seconds'], name='task_user_status_stats_idx'),
        ),
    ]
