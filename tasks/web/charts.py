"""Geometry of the server-rendered SVG bar chart of tasks per day (no JavaScript, no CDN)."""

import math

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 10, 30


def _nice_max(value: int) -> int:
    """A round top for the axis: 1, 2, 5, 10, 20, 50, ... at or above value."""
    if value <= 0:
        return 1
    magnitude = 10 ** int(math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover


def daily_chart(daily: list[dict]) -> dict:
    """Stacked bars (completed below, failed on top) and axis ticks, in SVG user units."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _nice_max(max((d["completed"] + d["failed"] for d in daily), default=0))
    slot = plot_w / max(1, len(daily))
    bar_w = max(1.0, slot * 0.7)
    bars = []
    for i, day in enumerate(daily):
        x = LEFT + i * slot + (slot - bar_w) / 2
        h_done = plot_h * day["completed"] / top
        h_failed = plot_h * day["failed"] / top
        bars.append({
            "x": round(x, 2), "width": round(bar_w, 2), "date": day["date"],
            "completed": day["completed"], "failed": day["failed"],
            "done_y": round(TOP + plot_h - h_done, 2), "done_h": round(h_done, 2),
            "failed_y": round(TOP + plot_h - h_done - h_failed, 2), "failed_h": round(h_failed, 2),
            "label": day["date"].strftime("%d %b") if i % 5 == 0 or i == len(daily) - 1 else "",
            "label_x": round(x + bar_w / 2, 2),
        })
    ticks = [{"value": round(top * f), "y": round(TOP + plot_h - plot_h * f, 2)} for f in (0, 0.5, 1)
             if top * f == int(top * f)]
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT, "top": TOP,
            "baseline": TOP + plot_h, "label_y": HEIGHT - 10, "bars": bars, "ticks": ticks, "max": top,
            "total_completed": sum(d["completed"] for d in daily), "total_failed": sum(d["failed"] for d in daily)}
