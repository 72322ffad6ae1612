"""Audit denied attempts to change a task: every refused retry, cancel or delete leaves an audit row.

Another user's task answers 404 exactly like an unknown one (pages, partials and the API), so
the refusal is recognised here, in one place for every route: an unsafe request (POST, DELETE,
...) by a signed-in user, to a URL naming a task, answered 404. Downloads are audited by
tasks.web.downloads (allowed and denied); reads of pages are not (a poll of a just-deleted task is
no attempt at anything).
"""

from core.audit import Actor, audit_denied
from core.http import SAFE_METHODS

ACTIONS = ("retry", "cancel", "delete")


def _action(request, kwargs) -> str:
    verb = "delete" if request.method == "DELETE" else (kwargs.get("action")
                                                        or request.path.rstrip("/").rsplit("/", 1)[-1])
    return f"task.{verb if verb in ACTIONS else 'change'}"  # an AuditAction value: audit() checks it


class DeniedAttemptAuditMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code != 404 or request.method in SAFE_METHODS:
            return response
        match = getattr(request, "resolver_match", None)
        user = getattr(request, "user", None)
        if match is not None and "task_id" in match.kwargs and user is not None and user.is_authenticated:
            audit_denied(actor=Actor.of(request), action=_action(request, match.kwargs),
                         task_id=str(match.kwargs["task_id"]), method=request.method, path=request.path[:300])
        return response
