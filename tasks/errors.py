"""The one base class of every refusal the task services make, so pages and the API map them alike.

Each carries ``code`` (snake_case, for the API's error body), ``message`` (for a person),
``status`` (the HTTP status) and ``details`` (plain data).
"""


class ServiceError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details or {}
