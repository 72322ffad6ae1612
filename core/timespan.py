"""Time spans for people, exact: a setting of 30 s reads "30 seconds", never a rounded "1 min"."""


def duration_text(seconds: float) -> str:
    """Whole hours or minutes when the span is a whole number of them, else seconds."""
    n = max(0, round(seconds))
    if n and n % 3600 == 0:
        value, unit = n // 3600, "hour"
    elif n and n % 60 == 0:
        value, unit = n // 60, "minute"
    else:
        value, unit = n, "second"
    return f"{value} {unit}{'' if value == 1 else 's'}"
