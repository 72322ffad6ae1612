"""Every path of a task's files, on a local folder and on a bucket (moto's S3 server over real HTTP).

Upload, the worker's copy of the original, results, downloads, the bulk ZIP, deletion; the bucket
private; a missing bucket, refused credentials or an unreachable store named in one line at start-up
and on /readyz; the store going away during an upload or a task loses nothing and leaves no row
pointing at a missing object.
"""

import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured

from core.models import AuditLog
from tasks.models import Task, TaskFile
from tests.s3 import storage_settings
from tests.tasks.pipeline_helpers import PAGES, run_worker, signed_in, task_create, upload

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[3]
PNG = (PAGES / "libtasn1_p13.png").read_bytes()


def _create(user, name="scan.png", content=PNG):
    return task_create(user=user, uploaded_file=upload(name, content), engine="tesseract")


def test_upload_work_download_and_delete_keep_every_file_in_the_storage(file_storage, client, user_a, fake_engine,
                                                                          tmp_path, monkeypatch):
    worker_tmp = tmp_path / "worker-tmp"
    worker_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(worker_tmp))
    signed_in(client, user_a)
    response = client.post("/api/v1/tasks", {"files": [upload("scan.png", PNG)], "engine": "tesseract"})
    assert response.status_code == 201, response.content
    task = Task.objects.get(pk=response.json()["tasks"][0]["id"])
    original = task.files.get(kind=TaskFile.Kind.ORIGINAL)
    assert file_storage.names() == [original.file.name] == [f"{user_a.pk}/{task.pk}/original.png"]

    run_worker()
    task.refresh_from_db()
    assert task.status == Task.Status.COMPLETED, task.error_message
    names = {f.kind: f.file.name for f in task.files.all()}
    assert sorted(file_storage.names()) == sorted(names.values())
    assert len(names) == 4
    assert list(worker_tmp.iterdir()) == []  # the worker's copy of the original and the PDF it built are gone

    for suffix, kind in (("original", "original"), ("result.txt", "result_txt"), ("result.pdf", "result_pdf")):
        response = client.get(f"/api/v1/tasks/{task.pk}/{suffix}")
        assert response.status_code == 200
        body = b"".join(response.streaming_content)
        stored = task.files.get(kind=kind)
        assert len(body) == stored.size_bytes and int(response["Content-Length"]) == stored.size_bytes
        if kind == "original":
            assert body == PNG
        if kind == "result_txt":
            assert body.decode().startswith("page1 size")
    assert AuditLog.objects.filter(action="file.download", outcome="allowed").count() == 3

    response = client.delete(f"/api/v1/tasks/{task.pk}")
    assert response.status_code == 204
    assert file_storage.names() == [] and not TaskFile.objects.exists()


def test_bulk_zip_reads_every_result_from_the_storage(file_storage, client, user_a, fake_engine):
    tasks = [_create(user_a, f"page{n}.png") for n in range(2)]
    run_worker()
    signed_in(client, user_a)
    response = client.post("/history/bulk/", {"action": "download", "ids": [str(t.pk) for t in tasks]})
    assert response.status_code == 200, response.content[:300]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert len(archive.namelist()) == 6
    texts = [n for n in archive.namelist() if n.endswith(".txt")]
    assert all(archive.read(n).decode().startswith("page") for n in texts)


def test_the_bucket_is_private_and_urls_are_signed_and_short_lived(file_storage, user_a):
    if file_storage.kind != "s3":
        pytest.skip("a local folder has no URLs")
    from django.core.files.storage import default_storage

    task = _create(user_a)
    name = task.files.get(kind="original").file.name
    plain = f"{file_storage.moto.endpoint}/{file_storage.bucket}/{name}"
    assert requests.get(plain, timeout=10).status_code == 403  # no anonymous read
    grants = file_storage.moto.client().get_object_acl(Bucket=file_storage.bucket, Key=name)["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]  # the owner only: no public grant
    assert all("URI" not in g["Grantee"] for g in grants)
    url = default_storage.url(name)
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=60" in url  # the app itself never hands out URLs


# --- The bucket missing, refused or away ---------------------------------------------------------
def test_readyz_and_start_up_name_a_missing_bucket_in_one_line(client, settings, moto_s3):
    storage_settings(settings, moto_s3, "no-such-bucket-here")
    body = client.get("/readyz").json()
    assert client.get("/readyz").status_code == 503
    assert body["checks"]["storage"] == {"status": "unavailable", "reason": "bucket_missing",
                                         "detail": "the bucket does not exist"}
    from tasks.files.object_storage import verify_at_start_up

    with pytest.raises(ImproperlyConfigured) as caught:
        verify_at_start_up()
    assert str(caught.value) == (f"FILE_STORAGE=s3: the bucket 'no-such-bucket-here' does not exist at "
                                 f"{moto_s3.endpoint}: create it or fix AWS_STORAGE_BUCKET_NAME.")


def test_readyz_and_start_up_name_refused_credentials(client, settings, moto_s3):
    bucket = moto_s3.new_bucket()
    storage_settings(settings, moto_s3, bucket, AWS_ACCESS_KEY_ID="AKIAWRONGWRONGWRONG1",
                     AWS_SECRET_ACCESS_KEY="not-the-secret")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["storage"]["reason"] == "credentials_refused"
    assert "not-the-secret" not in response.content.decode()
    from tasks.files.object_storage import verify_at_start_up

    with pytest.raises(ImproperlyConfigured, match=r"^FILE_STORAGE=s3: the credentials were refused for bucket "):
        verify_at_start_up()


def test_readyz_is_ok_on_a_good_bucket_and_leaves_nothing_behind(client, file_storage):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["storage"] == {"status": "ok"}
    if file_storage.kind == "s3":
        assert file_storage.moto.keys(file_storage.bucket) == []


def _manage(env, *args, timeout=120):
    import os

    base = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS", "AWS_"))}
    base.update({"DEBUG": "true", "TOOL_OCR_ENV_FILE": "/nonexistent", "DJANGO_SETTINGS_MODULE": "tool_ocr.settings"})
    base.update(env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=base, capture_output=True, text=True,
                          timeout=timeout)


def test_a_worker_does_not_start_on_a_bucket_it_cannot_use(moto_s3, tmp_path):
    env = moto_s3.env("missing-bucket-xyz", DATA_DIR=tmp_path / "data",
                      DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    done = _manage(env, "db_worker", "--batch", "--no-startup-delay")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "Configuration error: FILE_STORAGE=s3: the bucket 'missing-bucket-xyz' does not "
        f"exist at {moto_s3.endpoint}: create it or fix AWS_STORAGE_BUCKET_NAME.")
    assert "Traceback" not in done.stderr
    env.pop("AWS_STORAGE_BUCKET_NAME")
    done = _manage(env, "check")
    assert (done.returncode, done.stderr.strip()) == (2, "Configuration error: FILE_STORAGE=s3 needs "
                                                         "AWS_STORAGE_BUCKET_NAME: set it to the bucket that holds "
                                                         "the task files.")


def _unreachable(settings, moto_s3):
    """Settings for a store that does not answer: a loopback port nothing listens on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    storage_settings(settings, moto_s3, "tool-ocr-away", AWS_S3_ENDPOINT_URL=f"http://127.0.0.1:{port}",
                     FILE_STORAGE_TIMEOUT=1.0)


def test_an_upload_while_the_store_is_away_is_a_503_and_keeps_nothing(client, settings, moto_s3, user_a):
    _unreachable(settings, moto_s3)
    signed_in(client, user_a)
    response = client.post("/api/v1/tasks", {"files": [upload("scan.png", PNG)], "engine": "tesseract"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "storage_unavailable"
    assert "could not be stored just now, so nothing was saved" in response.json()["error"]["message"]
    assert not Task.objects.exists() and not TaskFile.objects.exists()


def test_a_task_whose_store_goes_away_fails_with_a_clear_reason_and_no_dangling_rows(settings, moto_s3, user_a,
                                                                                      fake_engine):
    bucket = moto_s3.new_bucket()
    storage_settings(settings, moto_s3, bucket)
    task = _create(user_a)
    _unreachable(settings, moto_s3)
    run_worker()
    task.refresh_from_db()
    assert task.status == Task.Status.FAILED
    assert task.error_code == "storage_unavailable"
    assert task.error_message == ("The file storage could not be reached while this task ran; nothing was saved. "
                                  "Retry the task in a moment.")
    assert list(task.files.values_list("kind", flat=True)) == ["original"]
    assert moto_s3.keys(bucket) == [task.files.get().file.name]  # every row's object is there


def test_results_that_cannot_be_written_leave_no_row_and_no_object(settings, moto_s3, user_a, fake_engine,
                                                                   monkeypatch):
    bucket = moto_s3.new_bucket()
    storage_settings(settings, moto_s3, bucket)
    task = _create(user_a)
    from tasks.files import storage as storage_module

    real_copy = storage_module.copy_to_local

    def copy_then_lose_the_store(task_file, target):  # the store goes away after the original was read
        real_copy(task_file, target)
        _unreachable(settings, moto_s3)

    monkeypatch.setattr(storage_module, "copy_to_local", copy_then_lose_the_store)
    run_worker()
    task.refresh_from_db()
    assert (task.status, task.error_code) == (Task.Status.FAILED, "storage_unavailable")
    assert list(task.files.values_list("kind", flat=True)) == ["original"]
    assert moto_s3.keys(bucket) == [task.files.get().file.name]


def test_a_download_while_the_store_is_away_is_a_503_after_the_access_check(client, settings, moto_s3, user_a,
                                                                            user_b):
    bucket = moto_s3.new_bucket()
    storage_settings(settings, moto_s3, bucket)
    task = _create(user_a)
    _unreachable(settings, moto_s3)
    signed_in(client, user_b)
    assert client.get(f"/api/v1/tasks/{task.pk}/original").status_code == 404  # someone else's: still 404
    signed_in(client, user_a)
    response = client.get(f"/api/v1/tasks/{task.pk}/original")
    assert response.status_code == 503
    assert response.content.decode() == "The file storage cannot be reached just now. Try again in a moment.\n"
    assert AuditLog.objects.filter(action="file.download", outcome="failed",
                                   details__reason="storage unavailable").count() == 1


@pytest.mark.parametrize("env,expected", [
    ({"FILE_STORAGE": "ftp"}, "FILE_STORAGE='ftp' is not valid: use one of local, s3."),
    ({"FILE_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "b", "AWS_S3_ENDPOINT_URL": "minio:9000"},
     "AWS_S3_ENDPOINT_URL='minio:9000' is not valid: use an http:// or https:// URL."),
    ({"FILE_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "b", "AWS_ACCESS_KEY_ID": "AKIA0000000000000000"},
     "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together: set both, or neither (then boto3 finds "
     "credentials itself, e.g. an instance role)."),
    ({"FILE_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "b", "AWS_S3_ADDRESSING_STYLE": "sideways"},
     "AWS_S3_ADDRESSING_STYLE='sideways' is not valid: use one of auto, path, virtual."),
    ({"FILE_STORAGE_TIMEOUT": "0"}, "FILE_STORAGE_TIMEOUT='0' is not valid: use a number from 0.5 to 300."),
])
def test_bad_storage_settings_stop_start_up_with_one_line(tmp_path, env, expected):
    done = _manage({"DATA_DIR": str(tmp_path), **env}, "check")
    assert (done.returncode, done.stderr.strip()) == (2, f"Configuration error: {expected}")


def test_a_key_prefix_keeps_the_files_under_it_and_the_report_reads_only_it(settings, moto_s3, user_a):
    from io import StringIO

    from django.core.management import call_command

    bucket = moto_s3.new_bucket()
    storage_settings(settings, moto_s3, bucket, AWS_LOCATION="tenant-a")
    moto_s3.client().put_object(Bucket=bucket, Key="someone-else/file.bin", Body=b"not ours")
    task = _create(user_a)
    original = task.files.get().file.name
    moto_s3.client().put_object(Bucket=bucket, Key=f"tenant-a/{user_a.pk}/{task.pk}/leftover.bin", Body=b"12345")
    assert moto_s3.keys(bucket) == sorted(["someone-else/file.bin", f"tenant-a/{original}",
                                           f"tenant-a/{user_a.pk}/{task.pk}/leftover.bin"])
    out = StringIO()
    call_command("storage_report", "--grace-minutes", "0", stdout=out)
    assert f"orphan file (no_row): {user_a.pk}/{task.pk}/leftover.bin" in out.getvalue()
    assert "someone-else" not in out.getvalue()
    assert out.getvalue().strip().splitlines()[-1].endswith("1 orphan files (5 B) and 0 rows without a file found")


def test_an_original_gone_from_the_storage_fails_its_task_with_the_reason(file_storage, user_a, fake_engine):
    from django.core.files.storage import default_storage

    task = _create(user_a)
    default_storage.delete(task.files.get().file.name)
    run_worker()
    task.refresh_from_db()
    assert (task.status, task.error_code) == (Task.Status.FAILED, "original_missing")
    assert task.error_message == "The uploaded file is no longer in storage; upload it again."
    assert list(task.files.values_list("kind", flat=True)) == ["original"] and file_storage.names() == []
