"""Task files in an S3-compatible bucket through django-storages: options, the start-up check, errors.

Everything else goes through Django's storage API (``default_storage``), so the same code runs on a
local folder and on a bucket. Objects are private: no ACL is ever sent (the bucket's own policy,
private by default, applies) and any URL the backend makes carries a short-lived signature.
"""

import logging

from django.conf import settings
from core.errors import ConfigError

log = logging.getLogger("tool_ocr.storage")

# Parts of a file above this size are spooled to the process's temporary folder, not kept in memory.
SPOOL_IN_MEMORY = 1024 * 1024


def s3_storage_options(*, bucket_name, endpoint_url, region_name, access_key, secret_key, addressing_style,
                       location, timeout) -> dict:
    """OPTIONS for storages.backends.s3.S3Storage; the settings that keep objects private are fixed here."""
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    return {
        "bucket_name": bucket_name,
        "endpoint_url": endpoint_url,
        "region_name": region_name,
        "access_key": access_key,
        "secret_key": secret_key,
        "addressing_style": None if addressing_style == "auto" else addressing_style,
        "location": location,
        "signature_version": "s3v4",
        "default_acl": None,  # never "public-read": the bucket's private default applies
        "querystring_auth": True,  # any URL made is signed...
        "querystring_expire": 60,  # ...and short-lived
        "file_overwrite": False,  # names are generated per task; never replace an object silently
        "max_memory_size": SPOOL_IN_MEMORY,  # an S3File larger than this spools to TMPDIR
        "transfer_config": TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024,
                                          max_concurrency=1, use_threads=False),
        "client_config": Config(connect_timeout=timeout, read_timeout=timeout,
                                retries={"max_attempts": 2, "mode": "standard"}, signature_version="s3v4",
                                s3={"addressing_style": None if addressing_style == "auto" else addressing_style}),
    }


def on_bucket() -> bool:
    return getattr(settings, "FILE_STORAGE", "local") == "s3"


def bucket_errors() -> tuple:
    """Exception types that mean "the bucket failed" (its network, its answers, the credentials)."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def storage_errors() -> tuple:
    """Exception types a storage call raises when the storage fails: a disk (OSError) or the bucket."""
    return (OSError, *bucket_errors())


def is_missing_object(exc) -> bool:
    """True for "no such key" (the object is gone), as opposed to the bucket being unreachable."""
    if isinstance(exc, FileNotFoundError):
        return True
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    return code in ("NoSuchKey", "404", "NotFound")


# reason code -> what /readyz says (no bucket names, endpoints or keys on a public probe)
READYZ_DETAILS = {
    "no_credentials": "no credentials for the bucket",
    "unreachable": "the object store cannot be reached",
    "bucket_missing": "the bucket does not exist",
    "credentials_refused": "the bucket refused the credentials",
    "bucket_error": "the bucket answered with an error",
}


def classify_failure(exc) -> tuple[str, str]:
    """(reason code, one line for the operator: what is wrong and what to do; never a secret)."""
    from botocore.exceptions import (ClientError, ConnectTimeoutError, EndpointConnectionError,
                                     NoCredentialsError, ReadTimeoutError)

    bucket = settings.AWS_STORAGE_BUCKET_NAME
    where = settings.AWS_S3_ENDPOINT_URL or "AWS S3"
    if isinstance(exc, NoCredentialsError):
        return "no_credentials", "FILE_STORAGE=s3: no credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError)):
        return "unreachable", (f"FILE_STORAGE=s3: the object store at {where} cannot be reached: "
                               "check AWS_S3_ENDPOINT_URL and the network.")
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("NoSuchBucket", "404", "NotFound") or status == 404:
            return "bucket_missing", (f"FILE_STORAGE=s3: the bucket {bucket!r} does not exist at {where}: "
                                      "create it or fix AWS_STORAGE_BUCKET_NAME.")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "Forbidden",
                    "InvalidToken", "ExpiredToken") or status == 403:
            return "credentials_refused", (f"FILE_STORAGE=s3: the credentials were refused for bucket {bucket!r} "
                                           f"({code or status}): check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY "
                                           "and the bucket's policy.")
        return "bucket_error", f"FILE_STORAGE=s3: the bucket {bucket!r} at {where} answered {code or status}."
    return "bucket_error", f"FILE_STORAGE=s3: the bucket {bucket!r} at {where} failed ({type(exc).__name__})."


def check_bucket() -> tuple[str, str] | None:
    """None when the bucket exists and these credentials may use it, else (reason code, one line).

    HEAD on the bucket checks existence and credentials in one cheap call; on a local folder
    there is nothing to check here (readyz writes a file to both).
    """
    if not on_bucket():
        return None
    from django.core.files.storage import default_storage

    try:
        default_storage.connection.meta.client.head_bucket(Bucket=settings.AWS_STORAGE_BUCKET_NAME)
    except Exception as exc:  # every failure becomes the one line
        return classify_failure(exc)
    return None


def verify_at_start_up() -> None:
    """Stop the process (web or worker) with one clear line when the bucket cannot be used."""
    problem = check_bucket()
    if problem:
        log.error("storage check failed at start-up: %s", problem[1])
        raise ConfigError(problem[1])  # manage.py prints it as one line; gunicorn's log ends with it
