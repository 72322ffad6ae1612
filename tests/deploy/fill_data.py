"""Fill a migrated Tool OCR database with data of every kind, through the ORM of whatever release runs it.

Run as a script from a release's folder (the upgrade test runs it with the previous release's
code, the backup test with the current one): ``python fill_data.py`` with DATABASE_URL,
MEDIA_ROOT, SECRET_KEY set. Uses only long-standing model APIs, so older releases can run it.
Prints JSON: {task id: {"status": ..., "user": email, "files": {kind: sha256}}}.
"""

import hashlib
import json
import os
import sys
from datetime import timedelta

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tool_ocr.settings")

import django  # noqa: E402

django.setup()

from django.core.files.base import ContentFile  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts import crypto  # noqa: E402
from accounts.models import TokenSession, User  # noqa: E402
from tasks.models import Task, TaskFile  # noqa: E402

try:  # the audit log's model lives in core since issue 12; a release before that has it in tasks
    from core.models import AuditLog
except ImportError:
    from tasks.models import AuditLog

STATES = ("pending", "processing", "completed", "failed", "cancelled")
LONGEST_NAME = 255  # tasks.filename's max_length in every release


def main():
    now = timezone.now()
    out = {}
    people = [User.objects.create_user(email="ada.lin@example.com", display_name="Ada Lin"),
              User.objects.create_user(email="chen.meiling@example.com", display_name="陳美玲"),
              User.objects.create_user(email="ops@example.com", password="a-local-password-1", is_staff=True)]
    n = 0
    for user in people[:2]:
        for copy in range(3):
            for status in STATES:
                n += 1
                created = now - timedelta(days=copy * 3, minutes=n)
                filename = f"scan-{status}-{copy} ünïcode 文件.png"
                if n == 1:  # as long as a name may be: the file-name index has a piece at its last position but one
                    filename = (filename[:-4] + " " + "0123456789" * 26)[:LONGEST_NAME - 4] + ".png"
                task = Task.objects.create(
                    user=user, filename=filename, status=status,
                    engine="tesseract" if n % 2 else "easyocr", language="en", mime_type="image/png",
                    page_count=2, pages_done=2 if status == "completed" else (1 if status == "processing" else 0),
                    created_at=created,
                    started_at=created + timedelta(seconds=1) if status in ("processing", "completed", "failed") else None,
                    completed_at=created + timedelta(seconds=9) if status in ("completed", "failed", "cancelled") else None,
                    heartbeat_at=created + timedelta(seconds=5) if status == "processing" else None,
                    processing_seconds=8.25 if status in ("completed", "failed") else None,
                    retry_count=1 if status == "failed" else 0,
                    error_code="ocr_failed" if status == "failed" else ("cancelled" if status == "cancelled" else ""),
                    error_message="The engine stopped." if status == "failed" else "")
                kinds = [("original", "original.png", b"\x89PNG\r\n\x1a\n" + os.urandom(2048))]
                if status == "completed":
                    kinds += [("result_txt", "result.txt", f"text of task {n}\n".encode() * 50),
                              ("result_json", "result.json", json.dumps({"task": n, "pages": []}).encode()),
                              ("result_pdf", "result.pdf", b"%PDF-1.7\n" + os.urandom(4096))]
                files = {}
                for kind, name, content in kinds:
                    tf = TaskFile(task=task, kind=kind, name=name, mime_type="application/octet-stream",
                                  size_bytes=len(content), sha256=hashlib.sha256(content).hexdigest())
                    tf.file.save(name, ContentFile(content), save=False)
                    tf.save()
                    files[kind] = tf.sha256
                Task.objects.filter(pk=task.pk).update(size_bytes=len(kinds[0][2]), sha256=files["original"])
                out[str(task.pk)] = {"status": status, "user": user.email, "files": files}
                AuditLog.objects.create(user=user, user_email=user.email, action="file.download",
                                        object_type="task", object_id=str(task.pk), ip_address="203.0.113.7",
                                        user_agent="fill", details={"kind": "original"})
        TokenSession.objects.create(user=user, session_key=f"fill-{user.pk}-" + "k" * 20,
                                    access_token_enc=crypto.encrypt("access-" + user.email),
                                    refresh_token_enc=crypto.encrypt("refresh-" + user.email),
                                    expires_at=now + timedelta(hours=1), ip_address="203.0.113.7")
    AuditLog.objects.create(action="maintenance.purge_user", object_type="user", object_id="999",
                            user_email="gone@example.com", details={"tasks": 3, "account": "deleted"})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
