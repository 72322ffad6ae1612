"""Time spans for people, in one place; each function says which rounding its readers need.

Sizes are Django's ``filesizeformat`` (templates and the admin): nothing of ours to add.
"""

import math


def _plural(value: int, unit: str) -> str:
    return f"{value} {unit}{'' if value == 1 else 's'}"


def duration_text(seconds: float) -> str:
    """A setting, exact: 30 s reads "30 seconds", never a rounded "1 minute"; whole hours or minutes
    when the span is a whole number of them, else seconds."""
    n = max(0, round(seconds))
    if n and n % 3600 == 0:
        return _plural(n // 3600, "hour")
    if n and n % 60 == 0:
        return _plural(n // 60, "minute")
    return _plural(n, "second")


def wait_text(seconds: float) -> str:
    """How long to wait, never less than the truth: seconds under a minute, else minutes rounded up."""
    seconds = max(0, math.ceil(seconds))
    if seconds < 60:
        return _plural(seconds, "second")
    return _plural(math.ceil(seconds / 60), "minute")


def retry_in_text(seconds: float) -> str:
    """The seconds until a retry may work, rounded up and at least one ("Try again in 1 second")."""
    return _plural(max(1, math.ceil(seconds)), "second")


def clock_text(seconds: float | None) -> str:
    """A measured duration, compact: 12.3 s, 4 min 05 s, 1 h 02 min; an em dash when unknown."""
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
