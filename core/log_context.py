"""Who and what a log line is about: the request, user and task ids of the code running now.

Set by the request middleware (ops.middleware), at sign-in and when a worker takes a job
(ops.signals); every log line gets them through ``ContextFilter`` (installed by
tool_ocr.logging.build_logging).
"""

import contextvars
import logging

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
user_id_var: contextvars.ContextVar[int | None] = contextvars.ContextVar("user_id", default=None)
task_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("task_id", default=None)


class ContextFilter(logging.Filter):
    """Adds request_id, user_id and task_id from the current context unless the call set them."""

    def filter(self, record):
        for name, var in (("request_id", request_id_var), ("user_id", user_id_var), ("task_id", task_id_var)):
            if getattr(record, name, None) is None:
                value = var.get()
                if value is not None:
                    setattr(record, name, value)
        return True
