"""Template helpers shared by every page: one way to show a time."""

from django import template
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()


@register.filter
def when(value, precision: str = "minutes"):
    """A <time> in ISO-like form with its zone named ("2026-03-12 14:05 UTC").

    static/js/app.js rewrites it in the browser's own time zone (and names that zone);
    without JavaScript the server's TIME_ZONE is shown, also named.
    """
    if not value:
        return "—"
    local = timezone.localtime(value)
    fmt = "%Y-%m-%d %H:%M:%S" if precision == "seconds" else "%Y-%m-%d %H:%M"
    return format_html('<time datetime="{}" data-local="{}">{} {}</time>', value.isoformat(), precision,
                       local.strftime(fmt), local.tzname())
