"""Turn recognised boxes into text in reading order: lines as on the page, blank lines between paragraphs."""

from tasks.ocr.base import Line


def group_rows(lines: list[Line]) -> list[list[Line]]:
    """Group boxes whose vertical centres are close into rows, each sorted left to right."""
    rows: list[list[Line]] = []
    for line in sorted(lines, key=lambda l: (l.top + l.bottom) / 2):
        centre = (line.top + line.bottom) / 2
        if rows:
            row = rows[-1]
            row_top = min(l.top for l in row)
            row_bottom = max(l.bottom for l in row)
            row_height = max(1, row_bottom - row_top)
            if abs(centre - (row_top + row_bottom) / 2) < 0.5 * min(row_height, max(1, line.height)):
                row.append(line)
                continue
        rows.append([line])
    return [sorted(row, key=lambda l: l.left) for row in rows]


PARAGRAPH_GAP = 0.9  # a vertical gap taller than this many typical row heights starts a paragraph


def paragraph_starts(rows: list[list[Line]]) -> list[bool]:
    """For each row, whether a gap taller than about one row (the median row height) opens before it."""
    heights = sorted(max(1, max(l.bottom for l in r) - min(l.top for l in r)) for r in rows)
    typical = heights[len(heights) // 2] if heights else 1
    starts, previous_bottom = [], None
    for row in rows:
        top = min(l.top for l in row)
        starts.append(previous_bottom is not None and top - previous_bottom > PARAGRAPH_GAP * typical)
        previous_bottom = max(l.bottom for l in row)
    return starts


def rows_text(rows: list[list[Line]]) -> str:
    """Pieces of a row joined by a space, rows by a newline, and a blank line before a paragraph."""
    out: list[str] = []
    for row, starts in zip(rows, paragraph_starts(rows)):
        if starts:
            out.append("")
        out.append(" ".join(l.text.strip() for l in row))
    return "\n".join(out)


def page_text(lines: list[Line]) -> str:
    """The recognised boxes as text in reading order (rows by position on the page)."""
    return rows_text(group_rows([l for l in lines if l.text.strip()]))
