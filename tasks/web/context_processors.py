"""Values every page's header needs."""

import json

from django.conf import settings

from tasks.selectors import task_badge_state


def badge_context(user) -> dict:
    """The header badge's count and, as JSON for static/js/app.js, the active and lately finished tasks."""
    state = task_badge_state(user=user)
    return {"active_task_count": state["count"],
            "badge_state": json.dumps({"active": state["active"], "finished": state["finished"]})}


def navigation(request):
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated:
        return {}
    return {**badge_context(user), "history_enabled": settings.ENABLE_TASK_HISTORY}
