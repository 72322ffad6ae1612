"""Keep TaskStorage equal to the sum of each task's files, whatever writes them (services, admin, commands)."""

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from tasks.history.summaries import task_storage_refresh
from tasks.models import Task, TaskFile


@receiver(post_save, sender=TaskFile, dispatch_uid="tasks.history.task_file_saved")
def _task_file_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        task_storage_refresh(task_id=instance.task_id)


@receiver(post_delete, sender=TaskFile, dispatch_uid="tasks.history.task_file_deleted")
def _task_file_deleted(sender, instance, origin=None, **kwargs):
    # Deleting tasks (or their user) deletes their storage rows too: nothing to recount.
    origin_model = origin.__class__ if hasattr(origin, "_meta") else getattr(origin, "model", None)
    if origin_model in (Task, get_user_model()):
        return
    task_storage_refresh(task_id=instance.task_id, create=False)
