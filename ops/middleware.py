"""Request context for logs and metrics: a request id on every line and in X-Request-ID.

Placed first in MIDDLEWARE so that every log line of a request, including those of
other middleware, carries the id; the user id is added once authentication has run
(``process_view``) or at sign-in (ops.signals).
"""

import logging
import re
import time
import uuid

from core.client_ip import client_ip
from core.log_context import request_id_var, user_id_var
from ops import metrics

log = logging.getLogger("tool_ocr.request")

# An id from a trusted proxy is kept if it is short and plain; anything else is replaced.
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_QUIET_PATHS = ("/healthz", "/readyz", "/metrics", "/static/")


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _INCOMING_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        rid_token = request_id_var.set(request_id)
        uid_token = user_id_var.set(None)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            seconds = time.monotonic() - started
            response["X-Request-ID"] = request_id
            self._record(request, response, seconds)
            return response
        finally:
            request_id_var.reset(rid_token)
            user_id_var.reset(uid_token)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            user_id_var.set(user.pk)
        return None

    def _record(self, request, response, seconds):
        status = response.status_code
        metrics.observe_request(request.method, status, seconds)
        sign_in = getattr(request, "sign_in_result", None)  # set by the login view: (outcome, reason)
        if sign_in is not None:
            metrics.record_sign_in(*sign_in)
        quiet = request.path_info.startswith(_QUIET_PATHS) and status < 500
        level = logging.DEBUG if quiet else (logging.WARNING if status >= 500 else logging.INFO)
        log.log(level, "request", extra={"method": request.method, "path": request.path, "status": status,
                                         "duration_ms": round(seconds * 1000, 1), "ip": client_ip(request)})
