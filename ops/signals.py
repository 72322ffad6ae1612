"""Observability hooks on Django and django-tasks signals: log lines and metrics, no behaviour.

Connected from ops.apps so that neither the sign-in code nor the OCR pipeline carry
metrics or audit-log plumbing of their own.
"""

import logging

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.db.models.signals import post_save

from ops import metrics
from core.log_context import task_id_var, user_id_var

auth_log = logging.getLogger("tool_ocr.auth")
audit_log = logging.getLogger("tool_ocr.audit")
worker_log = logging.getLogger("tool_ocr.worker")


def _client(request):
    if request is None:
        return {}
    from core.client_ip import client_ip

    return {"ip": client_ip(request), "user_agent": request.META.get("HTTP_USER_AGENT", "")[:200]}


def on_logged_in(sender, request, user, **kwargs):
    user_id_var.set(user.pk)
    auth_log.info("sign-in attempt", extra={"outcome": "success", "user_id": user.pk,
                                            "backend": getattr(user, "backend", ""), **_client(request)})


def on_login_failed(sender, credentials, request=None, **kwargs):
    # ``credentials`` is already cleansed by Django; only the user name is kept, never the password.
    auth_log.info("sign-in attempt", extra={"outcome": "failure", "reason": "rejected",
                                            "username": str(credentials.get("username", ""))[:254], **_client(request)})


def on_logged_out(sender, request, user, **kwargs):
    auth_log.info("sign-out", extra={"user_id": getattr(user, "pk", None)})


def on_task_saved(sender, instance, created, **kwargs):
    if created:
        engine = instance.engine
        transaction.on_commit(lambda: metrics.record_task_created(engine))


def on_audit_saved(sender, instance, created, **kwargs):
    """Every audit row (file access, deletions, denials) is also a log line."""
    if not created:
        return
    level = logging.WARNING if instance.outcome == "denied" else logging.INFO
    audit_log.log(level, "audit", extra={"action": instance.action, "outcome": instance.outcome,
                                         "object_type": instance.object_type, "object_id": instance.object_id,
                                         "user_id": instance.user_id, "ip": instance.ip_address,
                                         "details": instance.details})


def _task_id_of(task_result):
    args = getattr(task_result, "args", None) or []
    return str(args[0]) if args else None


def on_job_started(sender, task_result, **kwargs):
    task_id = _task_id_of(task_result)
    if task_id:
        task_id_var.set(task_id)


def on_job_finished(sender, task_result, **kwargs):
    """A worker finished an OCR job: count it by engine and outcome, with the pages and time it took."""
    from tasks.models import Task

    task_id = _task_id_of(task_result)
    try:
        if getattr(task_result.task, "name", "") != "process_task" or not task_id:
            return
        outcome = str(task_result.return_value) if str(task_result.status) == "SUCCESSFUL" else "error"
        task = Task.objects.filter(pk=task_id).only("engine", "page_count", "processing_seconds").first()
        engine = task.engine if task else "unknown"
        metrics.record_task_finished(engine, outcome, pages=task.page_count if task else 0,
                                     seconds=task.processing_seconds if task else None)
        worker_log.info("job finished", extra={"task_id": task_id, "outcome": outcome, "engine": engine})
    except Exception:  # metrics must never break the worker
        worker_log.exception("metrics: could not record a finished job")
    finally:
        task_id_var.set(None)


def connect():
    from django_tasks.signals import task_finished, task_started

    from tasks.models import AuditLog, Task

    user_logged_in.connect(on_logged_in, dispatch_uid="tool_ocr.ops.logged_in")
    user_login_failed.connect(on_login_failed, dispatch_uid="tool_ocr.ops.login_failed")
    user_logged_out.connect(on_logged_out, dispatch_uid="tool_ocr.ops.logged_out")
    post_save.connect(on_task_saved, sender=Task, dispatch_uid="tool_ocr.ops.task_saved")
    post_save.connect(on_audit_saved, sender=AuditLog, dispatch_uid="tool_ocr.ops.audit_saved")
    task_started.connect(on_job_started, dispatch_uid="tool_ocr.ops.job_started")
    task_finished.connect(on_job_finished, dispatch_uid="tool_ocr.ops.job_finished")
