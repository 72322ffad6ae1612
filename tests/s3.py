"""A real S3-compatible server for tests: moto in server mode, its own process, on 127.0.0.1 port 0.

The app talks to it over HTTP with boto3 exactly as to AWS S3, MinIO or Ceph RGW. Credentials are
checked (moto's IAM authorisation is on after the set-up calls), so wrong keys are refused like on a
real store. One server per test session; each test gets its own bucket.
"""

import json
import os
import signal
import subprocess
import sys
import uuid

import boto3
from botocore.config import Config

REGION = "us-east-1"
_SERVER = r"""
import sys
from werkzeug.serving import make_server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
server = make_server("127.0.0.1", 0, DomainDispatcherApplication(create_backend_app), threaded=True,
                     request_handler=MotoRequestHandler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""
# IAM calls made before authorisation starts: create the user, its key, its policy.
_SETUP_CALLS = 3


class MotoS3:
    """A running moto server process and a user whose keys may use S3."""

    def __init__(self):
        env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(_SETUP_CALLS), "MOTO_ALLOW_NONEXISTENT_REGION": "1"}
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
            env.pop(name, None)
        self.process = subprocess.Popen([sys.executable, "-c", _SERVER], stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, env=env, start_new_session=True, text=True)
        port = self.process.stdout.readline().strip()
        if not port.isdigit():
            self.stop()
            raise RuntimeError("the moto S3 server did not start")
        self.endpoint = f"http://127.0.0.1:{port}"
        iam = boto3.client("iam", endpoint_url=self.endpoint, region_name=REGION,
                           aws_access_key_id="setup", aws_secret_access_key="setup")
        iam.create_user(UserName="tool-ocr")
        key = iam.create_access_key(UserName="tool-ocr")["AccessKey"]
        iam.put_user_policy(UserName="tool-ocr", PolicyName="s3", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        self.access_key, self.secret_key = key["AccessKeyId"], key["SecretAccessKey"]

    def client(self, access_key=None, secret_key=None):
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=access_key or self.access_key,
                            aws_secret_access_key=secret_key or self.secret_key,
                            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))

    def new_bucket(self, prefix="tool-ocr") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", ()))

    def env(self, bucket: str, **extra) -> dict:
        """The environment a process needs to use this bucket (FILE_STORAGE=s3 and django-storages' names)."""
        env = {"FILE_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": bucket, "AWS_S3_ENDPOINT_URL": self.endpoint,
               "AWS_S3_REGION_NAME": REGION, "AWS_ACCESS_KEY_ID": self.access_key,
               "AWS_SECRET_ACCESS_KEY": self.secret_key, "AWS_S3_ADDRESSING_STYLE": "path",
               "FILE_STORAGE_TIMEOUT": "5"}
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def storage_settings(settings, moto: MotoS3, bucket: str, **overrides) -> None:
    """Point this test process's settings (and so default_storage) at ``bucket``."""
    from tasks.files.object_storage import s3_storage_options

    env = moto.env(bucket)
    values = {"FILE_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": bucket, "AWS_S3_ENDPOINT_URL": moto.endpoint,
              "AWS_S3_REGION_NAME": REGION, "AWS_ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"],
              "AWS_SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"], "AWS_S3_ADDRESSING_STYLE": "path",
              "AWS_LOCATION": "", "FILE_STORAGE_TIMEOUT": 5.0}
    values.update(overrides)
    for name, value in values.items():
        setattr(settings, name, value)
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": s3_storage_options(bucket_name=values["AWS_STORAGE_BUCKET_NAME"],
                                      endpoint_url=values["AWS_S3_ENDPOINT_URL"], region_name=REGION,
                                      access_key=values["AWS_ACCESS_KEY_ID"],
                                      secret_key=values["AWS_SECRET_ACCESS_KEY"], addressing_style="path",
                                      location=values["AWS_LOCATION"], timeout=values["FILE_STORAGE_TIMEOUT"])}}
