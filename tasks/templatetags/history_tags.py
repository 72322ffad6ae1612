"""Small display helpers for the history templates."""

from django import template

from tasks.files.file_links import LABEL_BY_KIND, file_url, sorted_files

register = template.Library()


@register.filter
def duration(seconds):
    """12.3 s, 4 min 05 s, 1 h 02 min; an em dash when unknown."""
    if seconds is None:
        return "—"
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@register.filter
def percent(fraction):
    return "—" if fraction is None else f"{fraction * 100:.1f} %"


@register.simple_tag
def download_links(task, include_original=False):
    """[(label, url, name)] of the task's files (prefetched), results first."""
    return [(LABEL_BY_KIND.get(f.kind, f.kind), file_url(task.id, f.kind), f.name)
            for f in sorted_files(task.files.all()) if include_original or f.kind != "original"]
