"""Django settings for Tool OCR; every value comes from the environment (see .env.example)."""

import os
import re
from pathlib import Path

import environ

from accounts.auth_mode import backends_for
from tool_ocr import table_prefix
from tool_ocr.config import Config

BASE_DIR = Path(__file__).resolve().parent.parent

_env_file = os.environ.get("TOOL_OCR_ENV_FILE", str(BASE_DIR / ".env"))
if os.path.exists(_env_file):
    environ.Env.read_env(_env_file, overwrite=False)
cfg = Config()

# --- Core -------------------------------------------------------------------
DEBUG = cfg.bool("DEBUG", "false")
SECRET_KEY = cfg.str("SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG:
        SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
    else:
        from tool_ocr.config import ConfigError

        raise ConfigError("SECRET_KEY is not set: use a long random string (DEBUG=true allows a development default).")
ALLOWED_HOSTS = cfg.list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = cfg.list("CSRF_TRUSTED_ORIGINS", "")

DATA_DIR = cfg.path("DATA_DIR", "data", BASE_DIR)
MEDIA_ROOT = cfg.path("MEDIA_ROOT", str(DATA_DIR / "files"), BASE_DIR)
try:
    DATA_DIR.mkdir(parents=True, exist_ok=True)  # the default SQLite file and logs live here
except OSError as exc:
    from tool_ocr.config import ConfigError

    raise ConfigError(f"DATA_DIR={DATA_DIR} cannot be created ({exc.strerror}): use a writable folder.") from None

# --- Database ---------------------------------------------------------------
DATABASE_TABLE_PREFIX = cfg.table_prefix("DATABASE_TABLE_PREFIX", "tool_ocr_")
table_prefix.install(DATABASE_TABLE_PREFIX)

_db = cfg.db_url("DATABASE_URL", f"sqlite:///{DATA_DIR / 'tool_ocr.sqlite3'}")
# Nothing waits on a dead or frozen database longer than these (seconds): a connection attempt, and
# one query (MySQL/MariaDB: the client's read and write timeouts; SQLite: how long to wait for a lock).
DATABASE_CONNECT_TIMEOUT = cfg.int("DATABASE_CONNECT_TIMEOUT", "5", minimum=1, maximum=300)
DATABASE_QUERY_TIMEOUT = cfg.int("DATABASE_QUERY_TIMEOUT", "30", minimum=1, maximum=86400)
# MariaDB Connector/C (what mysqlclient uses on Debian) applies each once (measured by tests/faults/).
DATABASE_TIMEOUT_OPTIONS_MYSQL = {"connect_timeout": DATABASE_CONNECT_TIMEOUT, "read_timeout": DATABASE_QUERY_TIMEOUT,
                                  "write_timeout": DATABASE_QUERY_TIMEOUT}
if _db["ENGINE"] == "django.db.backends.mysql":
    _db["ENGINE"] = "tool_ocr.db_backends.mysql"  # UUIDs as CHAR(32) on MariaDB too (see that module)
    _db.setdefault("OPTIONS", {})
    _db["OPTIONS"].update({"charset": "utf8mb4", "init_command": "SET sql_mode='STRICT_TRANS_TABLES'"})
    _db["OPTIONS"].update(DATABASE_TIMEOUT_OPTIONS_MYSQL)
    _db["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
else:
    # WAL + a busy timeout: the web server and workers write the same SQLite file.
    _db.setdefault("OPTIONS", {})
    _db["OPTIONS"].update({"timeout": DATABASE_QUERY_TIMEOUT, "transaction_mode": "IMMEDIATE",
                           "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"})
# Seconds a connection is kept for the next request (0: one per request). Opening and closing one per request
# cost a signed-in page more CPU than its queries (benchmarks/load.py); a kept one is checked before reuse, so
# a restarted database costs one failed check, not a failed request.
DATABASE_CONN_MAX_AGE = cfg.int("DATABASE_CONN_MAX_AGE", "60", minimum=0, maximum=86400)
_db["CONN_MAX_AGE"] = DATABASE_CONN_MAX_AGE
_db["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Table and column comments are for MySQL/MariaDB (database_schema.sql); SQLite ignores them.
SILENCED_SYSTEM_CHECKS = ["fields.W163", "models.W046"]

# --- External authentication ----------------------------------------------
EXTERNAL_AUTH_API_URL = cfg.url("EXTERNAL_AUTH_API_URL", "http://127.0.0.1:8765")
EXTERNAL_AUTH_ENDPOINT = cfg.str("EXTERNAL_AUTH_ENDPOINT", "/api/auth/login")
EXTERNAL_AUTH_REFRESH_ENDPOINT = cfg.str("EXTERNAL_AUTH_REFRESH_ENDPOINT", "/api/auth/refresh")
EXTERNAL_AUTH_TIMEOUT = cfg.float("EXTERNAL_AUTH_TIMEOUT", "5", minimum=0.1, maximum=120)
TOKEN_REFRESH_BUFFER = cfg.int("TOKEN_REFRESH_BUFFER", "300", minimum=0, maximum=86400)
# Fernet keys for tokens at rest, newest first (comma-separated); see README "Key rotation".
TOKEN_ENCRYPTION_KEYS = cfg.list("TOKEN_ENCRYPTION_KEYS", "") or [SECRET_KEY]

# --- Sign-in: modes, resilience, sessions, brute force (README "Sign-in") ----
# external: company API (+ local passwords for staff only); local: Django accounts only; both.
AUTH_MODE = cfg.str("AUTH_MODE", "external", choices=["external", "local", "both"])
# Extra attempts after a transient failure (connection error, timeout, 5xx, 429).
EXTERNAL_AUTH_RETRIES = cfg.int("EXTERNAL_AUTH_RETRIES", "2", minimum=0, maximum=10)
# First backoff wait in seconds; doubles per retry, plus up to the same again of jitter.
EXTERNAL_AUTH_BACKOFF_INITIAL = cfg.float("EXTERNAL_AUTH_BACKOFF_INITIAL", "0.5", minimum=0, maximum=30)
# Longest single wait between attempts, and the longest Retry-After honoured (longer: no retry).
EXTERNAL_AUTH_BACKOFF_MAX = cfg.float("EXTERNAL_AUTH_BACKOFF_MAX", "4", minimum=0, maximum=60)
# Hard cap on one operation (all attempts and waits): the worst-case sign-in wait.
EXTERNAL_AUTH_TOTAL_TIMEOUT = cfg.float("EXTERNAL_AUTH_TOTAL_TIMEOUT", "10", minimum=0.1, maximum=300)
# Consecutive transient failures that open the circuit breaker, and how long it stays open.
EXTERNAL_AUTH_BREAKER_FAIL_MAX = cfg.int("EXTERNAL_AUTH_BREAKER_FAIL_MAX", "5", minimum=1, maximum=1000)
EXTERNAL_AUTH_BREAKER_RESET_SECONDS = cfg.float("EXTERNAL_AUTH_BREAKER_RESET_SECONDS", "30", minimum=1, maximum=3600)
# A signed-in browser is signed out after this long without a request, and this long after sign-in.
SESSION_IDLE_TIMEOUT = cfg.int("SESSION_IDLE_TIMEOUT", "3600", minimum=60, maximum=31536000)
SESSION_ABSOLUTE_LIFETIME = cfg.int("SESSION_ABSOLUTE_LIFETIME", "43200", minimum=300, maximum=31536000)
# Failed sign-ins allowed per (typed account, client IP) and per client IP within LOGIN_ATTEMPT_WINDOW seconds.
LOGIN_MAX_ATTEMPTS_PER_ACCOUNT = cfg.int("LOGIN_MAX_ATTEMPTS_PER_ACCOUNT", "5", minimum=1, maximum=100000)
LOGIN_MAX_ATTEMPTS_PER_IP = cfg.int("LOGIN_MAX_ATTEMPTS_PER_IP", "20", minimum=1, maximum=100000)
LOGIN_ATTEMPT_WINDOW = cfg.int("LOGIN_ATTEMPT_WINDOW", "900", minimum=10, maximum=86400)
# Account-wide failures (from any address) never lock: past this many in the window, attempts on
# the account are spaced out by 1, 2, 4 … seconds, at most LOGIN_ACCOUNT_DELAY_MAX.
LOGIN_ACCOUNT_SLOWDOWN_AFTER = cfg.int("LOGIN_ACCOUNT_SLOWDOWN_AFTER", "10", minimum=1, maximum=100000)
LOGIN_ACCOUNT_DELAY_MAX = cfg.int("LOGIN_ACCOUNT_DELAY_MAX", "30", minimum=1, maximum=3600)
# Behind a reverse proxy: the header it sets with the client address, written X-Forwarded-For or
# HTTP_X_FORWARDED_FOR. Believed only from TRUSTED_PROXIES (core/client_ip.py). Empty: REMOTE_ADDR.
CLIENT_IP_HEADER = cfg.header_name("CLIENT_IP_HEADER", "")
# Addresses or networks of the reverse proxies whose CLIENT_IP_HEADER is believed.
TRUSTED_PROXIES = cfg.networks("TRUSTED_PROXIES", "127.0.0.1,::1")

# --- Tasks ------------------------------------------------------------------
TASK_RETENTION_DAYS = cfg.int("TASK_RETENTION_DAYS", "30", minimum=1, maximum=36500)
MAX_TASKS_PER_USER = cfg.int("MAX_TASKS_PER_USER", "100", minimum=1, maximum=100000)
ENABLE_TASK_HISTORY = cfg.bool("ENABLE_TASK_HISTORY", "true")
MAX_UPLOAD_MB = cfg.int("MAX_UPLOAD_MB", "50", minimum=1, maximum=2048)
MAX_PAGES = cfg.int("MAX_PAGES", "300", minimum=1, maximum=100000)
# Largest page in pixels (width x height; PDF pages at OCR_PDF_DPI): stops decompression bombs.
MAX_IMAGE_PIXELS = cfg.int("MAX_IMAGE_PIXELS", "60000000", minimum=100000, maximum=1000000000)
# Bounded PDF parsing (tasks/intake/documents.py, tasks/intake/pdf_render.py): the upload check's time budget,
# the drawing operations (decoded content streams) allowed per page and per document, and the
# worker's per-page render deadline and memory cap (the page is drawn in a child process).
PDF_INSPECT_SECONDS = cfg.int("PDF_INSPECT_SECONDS", "10", minimum=1, maximum=600)
PDF_MAX_PAGE_CONTENT_MB = cfg.int("PDF_MAX_PAGE_CONTENT_MB", "4", minimum=1, maximum=1024)
PDF_MAX_CONTENT_MB = cfg.int("PDF_MAX_CONTENT_MB", "64", minimum=1, maximum=16384)
PDF_PAGE_RENDER_SECONDS = cfg.int("PDF_PAGE_RENDER_SECONDS", "30", minimum=1, maximum=3600)
PDF_RENDER_MEMORY_MB = cfg.int("PDF_RENDER_MEMORY_MB", "2048", minimum=256, maximum=65536)
# A 'processing' task without a heartbeat for this long has lost its worker: the reaper re-queues it once.
TASK_HEARTBEAT_TIMEOUT = cfg.int("TASK_HEARTBEAT_TIMEOUT", "600", minimum=10, maximum=86400)
# Periodic jobs, run by the workers through the task queue (tasks/jobs.py; `manage.py periodic_jobs`
# lists them): seconds between runs; 0 turns a job off (not the reaper).
REAPER_INTERVAL = cfg.int("REAPER_INTERVAL", "60", minimum=5, maximum=86400)
REFRESH_TOKENS_INTERVAL = cfg.int("REFRESH_TOKENS_INTERVAL", "60", minimum=0, maximum=86400)
CLEANUP_SESSIONS_INTERVAL = cfg.int("CLEANUP_SESSIONS_INTERVAL", "3600", minimum=0, maximum=604800)
CLEANUP_TASKS_INTERVAL = cfg.int("CLEANUP_TASKS_INTERVAL", "86400", minimum=0, maximum=2592000)
STORAGE_REPORT_INTERVAL = cfg.int("STORAGE_REPORT_INTERVAL", "604800", minimum=0, maximum=2592000)
# Uploads are streamed to temporary files on disk, never held in memory; one past MAX_UPLOAD_MB is cut off.
FILE_UPLOAD_HANDLERS = ["tasks.intake.uploads.LimitedTemporaryFileUploadHandler"]
# Streamed into TMPDIR itself: Python would silently fall back to another folder if TMPDIR cannot take a
# file when first used; an unwritable TMPDIR is a fault to report (503, /readyz), not to hide.
FILE_UPLOAD_TEMP_DIR = os.environ.get("TMPDIR") or None
FILE_UPLOAD_MAX_MEMORY_SIZE = 0
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # form fields other than files
DATA_UPLOAD_MAX_NUMBER_FILES = 100

# --- OCR engine -------------------------------------------------------------
OCR_LANGUAGES = cfg.list("OCR_LANGUAGES", "en")
OCR_EASYOCR_CANVAS_SIZE = cfg.int("OCR_EASYOCR_CANVAS_SIZE", "1600", minimum=320, maximum=8192)
OCR_EASYOCR_BATCH_SIZE = cfg.int("OCR_EASYOCR_BATCH_SIZE", "8", minimum=1, maximum=256)
# Run EasyOCR's networks in bfloat16 (much faster on CPUs with AVX-512 BF16/AMX, same error rate);
# false: float32 with EasyOCR's int8 recogniser. See tasks/ocr/easyocr_engine.py.
OCR_EASYOCR_BF16 = cfg.bool("OCR_EASYOCR_BF16", "true")
OCR_THREADS = cfg.int("OCR_THREADS", "0", minimum=0, maximum=256)
# Default engine: Tesseract, measured better on every kind of page (README, benchmarks/ocr_default.py).
OCR_ENGINE = cfg.str("OCR_ENGINE", "tesseract", choices=["easyocr", "tesseract"])
# Language of a task that names none: a BCP 47 tag, or several joined with + (tasks/ocr/languages.py).
OCR_DEFAULT_LANGUAGE = cfg.language("OCR_DEFAULT_LANGUAGE", "en")
# Engines a worker loads when it starts, before it takes work (all, none, or names): no slow first task.
OCR_PRELOAD_ENGINES = cfg.preload_engines("OCR_PRELOAD_ENGINES", "all")
# PDF pages are rendered at this resolution for OCR (and for the searchable PDF).
OCR_PDF_DPI = cfg.int("OCR_PDF_DPI", "200", minimum=50, maximum=600)

# --- Operations (metrics, logs, health) -------------------------------------
# /metrics answers these client addresses (IPs or CIDR networks; REMOTE_ADDR only, never X-Forwarded-For)...
METRICS_ALLOWED_IPS = cfg.list("METRICS_ALLOWED_IPS", "127.0.0.1,::1")
import ipaddress as _ipaddress  # noqa: E402

for _net in METRICS_ALLOWED_IPS:
    try:
        _ipaddress.ip_network(_net, strict=False)
    except ValueError:
        from tool_ocr.config import ConfigError

        raise ConfigError(f"METRICS_ALLOWED_IPS has {_net!r}: use IP addresses or networks like 10.0.0.0/8, comma-separated.")
# ...or any caller with "Authorization: Bearer <METRICS_TOKEN>" (empty: no token accepted).
METRICS_TOKEN = cfg.str("METRICS_TOKEN", "")
# json: one JSON object per line (production); plain: readable lines for development.
LOG_FORMAT = cfg.str("LOG_FORMAT", "json", choices=["json", "plain"])
# /readyz calls the worker stale when work waits and no worker showed life for this many seconds.
READYZ_WORKER_MAX_AGE = cfg.int("READYZ_WORKER_MAX_AGE", "300", minimum=10, maximum=86400)

# --- Django -----------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",  # serves the API docs' Swagger UI from static/, not a CDN
    "django_tasks",
    "tasks.worker",  # its db_worker (engines loaded before work) comes before django_tasks_db's
    "django_tasks_db",
    "core",  # the bottom layer (docs/architecture.md): apps import downwards only
    "accounts",
    "tasks",
    "ops",  # probes, metrics, security headers, error pages, schema tools; reads every app
]

MIDDLEWARE = [
    "ops.middleware.RequestContextMiddleware",  # first: request id on every log line, X-Request-ID
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.web.middleware.SessionGuardMiddleware",  # after auth, messages and htmx
]

ROOT_URLCONF = "tool_ocr.urls"
WSGI_APPLICATION = "tool_ocr.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tasks.web.context_processors.navigation",
            ],
            # {% url %} and {% querystring %}, their answers kept per process ({% load cached_static %}: {% static %}'s)
            "builtins": ["core.templatetags.cached_url", "core.templatetags.cached_querystring"],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
# Follows AUTH_MODE (accounts/auth_mode.py); the backends re-check the mode at call time.
AUTHENTICATION_BACKENDS = backends_for(AUTH_MODE)
# URL names, not paths: reversed under the request's script prefix (SCRIPT_NAME behind a proxy at a sub-path).
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "tasks:home"
LOGOUT_REDIRECT_URL = "login"

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": None}},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Task files in object storage (issue 13; docs/scaling.md) -------------------
# local: MEDIA_ROOT (one host, or a shared volume); s3: an S3-compatible bucket (AWS S3, MinIO, Ceph RGW),
# which worker hosts without a shared disk need. The AWS_* names are django-storages' own.
FILE_STORAGE = cfg.str("FILE_STORAGE", "local", choices=["local", "s3"])
AWS_STORAGE_BUCKET_NAME = cfg.str("AWS_STORAGE_BUCKET_NAME", "")
AWS_S3_ENDPOINT_URL = cfg.str("AWS_S3_ENDPOINT_URL", "") or None  # empty: AWS itself
AWS_S3_REGION_NAME = cfg.str("AWS_S3_REGION_NAME", "") or None
AWS_ACCESS_KEY_ID = cfg.str("AWS_ACCESS_KEY_ID", "") or None  # empty: boto3's own chain (instance role, ~/.aws)
AWS_SECRET_ACCESS_KEY = cfg.str("AWS_SECRET_ACCESS_KEY", "") or None
# path for MinIO / Ceph RGW / most self-hosted stores; virtual (bucket in the host name) or auto for AWS.
AWS_S3_ADDRESSING_STYLE = cfg.str("AWS_S3_ADDRESSING_STYLE", "auto", choices=["auto", "path", "virtual"])
# Key prefix inside the bucket, e.g. tool-ocr (so a bucket can be shared); empty: the bucket's root.
AWS_LOCATION = cfg.str("AWS_LOCATION", "").strip("/")
# Seconds to wait for the bucket to connect or answer one call; a dead bucket fails uploads (503) this fast.
FILE_STORAGE_TIMEOUT = cfg.float("FILE_STORAGE_TIMEOUT", "10", minimum=0.5, maximum=300)
if FILE_STORAGE == "s3":
    from tool_ocr.config import ConfigError

    if not AWS_STORAGE_BUCKET_NAME:
        raise ConfigError("FILE_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME: set it to the bucket that holds the task files.")
    if AWS_S3_ENDPOINT_URL:
        AWS_S3_ENDPOINT_URL = cfg.url("AWS_S3_ENDPOINT_URL", "")
    if bool(AWS_ACCESS_KEY_ID) != bool(AWS_SECRET_ACCESS_KEY):
        raise ConfigError("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together: set both, or neither "
                          "(then boto3 finds credentials itself, e.g. an instance role).")
    from tasks.files.object_storage import s3_storage_options  # noqa: E402

    STORAGES["default"] = {"BACKEND": "storages.backends.s3.S3Storage",
                           "OPTIONS": s3_storage_options(bucket_name=AWS_STORAGE_BUCKET_NAME,
                                                         endpoint_url=AWS_S3_ENDPOINT_URL,
                                                         region_name=AWS_S3_REGION_NAME,
                                                         access_key=AWS_ACCESS_KEY_ID,
                                                         secret_key=AWS_SECRET_ACCESS_KEY,
                                                         addressing_style=AWS_S3_ADDRESSING_STYLE,
                                                         location=AWS_LOCATION, timeout=FILE_STORAGE_TIMEOUT)}
# Where the browser finds the static files: behind a proxy that mounts the app at /ocr/, /ocr/static/.
# Not a relative "static/": Django would keep the script prefix of the first read for good.
STATIC_URL = cfg.str("STATIC_URL", "/static/")
if not re.match(r"^(/|https?://[^/\s]+/)(\S*/)?$", STATIC_URL):
    from tool_ocr.config import ConfigError

    raise ConfigError(f"STATIC_URL={STATIC_URL!r} is not valid: use a path that starts and ends with /, "
                      "e.g. /ocr/static/, or an http(s):// URL ending with /.")
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"

LANGUAGE_CODE = "en-us"
TIME_ZONE = cfg.str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# Database sessions, read with the browser's TokenSession row in one query (accounts/session_store.py).
SESSION_ENGINE = "accounts.session_store"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_LIFETIME  # the cookie never outlives the sign-in
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
X_FRAME_OPTIONS = "DENY"

from tool_ocr.logging import build_logging  # noqa: E402  (JSON lines, request/user ids, redaction)

LOGGING = build_logging(level=cfg.str("LOG_LEVEL", "INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]),
                        fmt=LOG_FORMAT)

# --- Web hardening (issue 6; docs/security.md) --------------------------------
from ops.security import DEFAULT_CSP  # noqa: E402

CONTENT_SECURITY_POLICY = DEFAULT_CSP
MIDDLEWARE.insert(1, "ops.security.SecurityHeadersMiddleware")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
CSRF_COOKIE_HTTPONLY = False  # the HTMX pages read the token from the page, the API from the cookie
# Behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER_NAME=HTTP_X_FORWARDED_PROTO.
_proxy_header = cfg.header_name("SECURE_PROXY_SSL_HEADER_NAME", "")
if _proxy_header:  # X-Forwarded-Proto or HTTP_X_FORWARDED_PROTO
    from core.client_ip import header_meta_key as _header_meta_key

    SECURE_PROXY_SSL_HEADER = (_header_meta_key(_proxy_header), "https")
SECURE_SSL_REDIRECT = cfg.bool("SECURE_SSL_REDIRECT", "false" if DEBUG else "true")
SECURE_HSTS_SECONDS = cfg.int("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000", minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = cfg.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "true")
SECURE_HSTS_PRELOAD = cfg.bool("SECURE_HSTS_PRELOAD", "true")
# /healthz and /readyz answer plain HTTP probes from the load balancer.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
# Largest request body in MB (all files of one upload together): a larger Content-Length is answered
# 413 before the body is read (ops.security.RequestSizeLimitMiddleware).
MAX_REQUEST_MB = cfg.int("MAX_REQUEST_MB", str(4 * MAX_UPLOAD_MB), minimum=MAX_UPLOAD_MB + 1, maximum=100000)
MIDDLEWARE.insert(2, "ops.security.RequestSizeLimitMiddleware")  # before anything reads the body
# Refused retries, cancels and deletes of tasks (another user's: 404) leave a 'denied' audit row.
MIDDLEWARE.append("tasks.web.middleware.DeniedAttemptAuditMiddleware")
# Where to report a security issue (an email address or URL); published at /.well-known/security.txt.
SECURITY_CONTACT = cfg.str("SECURITY_CONTACT", "")
# Session cookies must be exactly a key Django made (MariaDB would match "ABC…" to "abc…").
MIDDLEWARE.insert(MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware"),
                  "ops.security.StrictSessionCookieMiddleware")

# --- Faults (issue 16; core/dependencies.py) ------------------------------
# A dependency down (database, storage, temporary folder, sign-in API) is a 503 on every page and endpoint.
MIDDLEWARE.insert(1, "core.dependencies.DependencyDownMiddleware")
# /healthz and /readyz skip sessions and sign-in (a cookie must not make a probe wait on the database)...
MIDDLEWARE.insert(min(MIDDLEWARE.index(m) for m in ("ops.security.StrictSessionCookieMiddleware",
                                                     "django.contrib.sessions.middleware.SessionMiddleware")
                      if m in MIDDLEWARE), "ops.health.ProbeMiddleware")
# ...and answer within this many seconds, whatever a check waits on.
HEALTH_CHECK_TIMEOUT = cfg.float("HEALTH_CHECK_TIMEOUT", "3", minimum=0.5, maximum=60)
# Files written but not yet adopted by their rows are removed this long after a process that wrote them
# died (tasks/files/staging.py); longer than any upload or result write takes.
STAGING_GRACE_SECONDS = cfg.int("STAGING_GRACE_SECONDS", "3600", minimum=1, maximum=604800)
# A worker that lost the database waits and tries again, doubling the wait up to this many seconds.
WORKER_DB_RETRY_MAX_WAIT = cfg.float("WORKER_DB_RETRY_MAX_WAIT", "30", minimum=0.5, maximum=3600)
# --- Error pages (issue 14; ops/error_views.py) ----------------------------
# Branded 400/403/404/500 pages; under DEBUG the expected 4xx answers look as in production.
MIDDLEWARE.append("ops.error_views.DebugLikeProductionMiddleware")
CSRF_FAILURE_VIEW = "ops.error_views.csrf_failure"
