"""Values every page's header needs."""

from django.conf import settings

from tasks.selectors import task_active_count


def navigation(request):
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated:
        return {}
    return {"active_task_count": task_active_count(user=user), "history_enabled": settings.ENABLE_TASK_HISTORY}
