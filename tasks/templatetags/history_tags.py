"""Small display helpers for the history templates."""

from django import template

from core.timespan import clock_text
from tasks.files.file_links import BY_KIND, ORIGINAL, file_url, sorted_files

register = template.Library()
register.filter("duration", clock_text)  # 12.3 s, 4 min 05 s, 1 h 02 min; an em dash when unknown


@register.filter
def percent(fraction):
    return "—" if fraction is None else f"{fraction * 100:.1f} %"


@register.simple_tag
def download_links(task, include_original=False):
    """[(label, url, name)] of the task's files (prefetched), results first."""
    return [(BY_KIND[f.kind].short_label, file_url(task.id, f.kind), f.name)
            for f in sorted_files(task.files.all()) if include_original or f.kind != ORIGINAL.kind]
