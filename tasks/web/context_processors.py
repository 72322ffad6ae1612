"""Values every page's header needs."""

import json
from functools import cached_property

from django.conf import settings

from tasks.selectors import task_badge_state


def badge_context(user) -> dict:
    """The header badge's count and, as JSON for static/js/app.js, the active and lately finished tasks."""
    state = task_badge_state(user=user)
    return {"active_task_count": state["count"],
            "badge_state": json.dumps({"active": state["active"], "finished": state["finished"]})}


class _Badge:
    """badge_context, read when a template first shows the badge: partials (HTMX swaps, polls) skip its queries."""

    def __init__(self, user):
        self.user = user

    @cached_property
    def values(self) -> dict:
        return badge_context(self.user)

    def count(self):
        return self.values["active_task_count"]

    def state(self):
        return self.values["badge_state"]


def navigation(request):
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated:
        return {}
    badge = _Badge(user)  # templates call these (callables), so the queries run only where the badge shows
    return {"active_task_count": badge.count, "badge_state": badge.state,
            "history_enabled": settings.ENABLE_TASK_HISTORY}
