"""Search inside the recognised text: the terms we index, the queries we send, the snippets we show.

One design on both databases (README, "Search inside the text"): the text is cut into terms
here, in Python, and our own index of them (tasks/history/text_index.py: a table with one row per
owner, term and task, in the history's order) only has to find whole terms and term prefixes:

- words of alphabetic scripts, folded (case and accents), give ``<tag>w<word>``: a query
  word matches as a prefix (``invoice`` finds "Invoices");
- Chinese and Japanese runs give every overlapping pair of characters, ``<tag>c<hex>``: a
  query of n >= 2 characters needs its n-1 pairs, and a LIKE on the candidates checks they
  are adjacent, so any substring is found (MariaDB has no n-gram parser, and FTS5's trigram
  tokenizer cannot find two-character words such as 台北);
- ``<tag>`` is the owner's id (``u`` + ten digits). The index keeps the owner in a column of
  its own and the term without the tag; the tag stays in task_texts.terms (its format
  from before the index, so no stored text had to be rewritten).
"""

import re
import unicodedata

from django.utils.html import escape
from django.utils.safestring import mark_safe

MAX_WORD = 60  # text_index.MAX_TERM: kind (1) + 60 + margin
MAX_QUERY_TERMS = 12

_CJK = ("\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
        "\U00020000-\U0002ffff")
_TOKEN = re.compile(r"[^\W_]+")
_RUNS = re.compile(f"([{_CJK}]+)|([^{_CJK}]+)")
_CJK_ONLY = re.compile(f"^[{_CJK}]+$")


def user_tag(user_id) -> str:
    return f"u{int(user_id):010d}"


def fold(word: str) -> str:
    """Case and accents away, as on both sides of a comparison: "Straße" -> "strasse", "Éte" -> "ete"."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _pair(a: str, b: str) -> str:
    return f"{ord(a):05x}{ord(b):05x}"


def _pieces(text: str):
    """("w", folded word) and ("c", CJK run) in text order."""
    for token in _TOKEN.findall(unicodedata.normalize("NFKC", text)):
        if token.isascii():  # most words: no CJK, no accents
            yield "w", token.lower()[:MAX_WORD]
            continue
        for cjk, other in _RUNS.findall(token):
            if cjk:
                yield "c", cjk
            else:
                word = fold(other)
                if word:
                    yield "w", word[:MAX_WORD]


def terms_for(user_id, text: str) -> str:
    """The ``terms`` column of TaskText: each distinct term once, space-separated."""
    tag = user_tag(user_id)
    seen = dict()
    for kind, piece in _pieces(text):
        if kind == "w":
            seen.setdefault(f"{tag}w{piece}")
        else:
            for a, b in zip(piece, piece[1:]):
                seen.setdefault(f"{tag}c{_pair(a, b)}")
    return " ".join(seen)


class Query:
    """A search as typed, turned into index terms: ``terms`` [(term, is_prefix)], ``runs`` (CJK strings to check)."""

    def __init__(self, user_id, q: str):
        tag = user_tag(user_id)
        self.terms: list[tuple[str, bool]] = []
        self.runs: list[str] = []
        self.words: list[str] = []
        for kind, piece in _pieces(q or ""):
            if kind == "w":
                self.words.append(piece)
                self.terms.append((f"{tag}w{piece}", True))
            elif len(piece) == 1:  # one character: any pair that starts with it
                self.runs.append(piece)
                self.terms.append((f"{tag}c{ord(piece):05x}", True))
            else:
                self.runs.append(piece)
                self.terms.extend((f"{tag}c{_pair(a, b)}", False) for a, b in zip(piece, piece[1:]))
        self.terms = list(dict.fromkeys(self.terms))[:MAX_QUERY_TERMS * 4]

    def __bool__(self):
        return bool(self.terms)

    def fts5(self) -> str:
        """FTS5 MATCH expression: every term required (benchmarks/search_design.py compares with FTS5)."""
        return " AND ".join(f'"{term}"{"*" if prefix else ""}' for term, prefix in self.terms)


# --- Snippets -------------------------------------------------------------------------------

BEFORE, AFTER = 60, 120


def _hit_pattern(q: str) -> re.Pattern | None:
    """Where the query's words (a word starting with one, to its end) or CJK runs occur, ignoring case."""
    parts = []
    for kind, piece in _pieces(q or ""):
        if kind == "w":
            parts.append(r"(?<![^\W_])" + re.escape(piece) + f"[^\\W_{_CJK}]*")
        else:
            parts.append(re.escape(piece))
    if not parts:
        return None
    parts.sort(key=len, reverse=True)
    return re.compile("|".join(parts), re.IGNORECASE)


def _folded_with_positions(text: str):
    """The folded text and, per folded character, its position in ``text`` (for accent-blind hits)."""
    chars, where = [], []
    for i, ch in enumerate(text):
        for f in fold(ch):
            chars.append(f)
            where.append(i)
    return "".join(chars), where


def snippet_parts(text: str, q: str, limit: int = 200_000) -> list[tuple[str, bool]] | None:
    """The piece of ``text`` around the first hit as [(segment, is_hit)], or None when nothing in it matches."""
    pattern = _hit_pattern(q)
    if pattern is None or not text:
        return None
    text = " ".join(text[:limit].split())  # line breaks and form feeds read as spaces in one line
    hits = [(m.start(), m.end()) for m in pattern.finditer(text)]
    if not hits:  # accents or compatibility forms differ: look in the folded text
        folded, where = _folded_with_positions(text)
        hits = [(where[m.start()], where[m.end() - 1] + 1) for m in pattern.finditer(folded)]
    if not hits:
        return None
    first = hits[0][0]
    start = max(0, first - BEFORE)
    if start:
        space = text.find(" ", start, first)
        start = space + 1 if space != -1 else start
    end = min(len(text), first + AFTER)
    if end < len(text):
        space = text.rfind(" ", first, end)
        end = space if space > hits[0][1] else end
    parts: list[tuple[str, bool]] = [("…", False)] if start else []
    at = start
    for hit_start, hit_end in hits:
        if hit_start < at or hit_start >= end:
            continue
        hit_end = min(hit_end, end)
        if hit_start > at:
            parts.append((text[at:hit_start], False))
        parts.append((text[hit_start:hit_end], True))
        at = hit_end
    if at < end:
        parts.append((text[at:end], False))
    if end < len(text):
        parts.append(("…", False))
    return parts


def snippet_text(parts) -> str | None:
    return "".join(segment for segment, _hit in parts) if parts else None


def snippet_html(parts) -> str:
    """The snippet as HTML: every segment escaped, the hits in <mark>."""
    if not parts:
        return ""
    return mark_safe("".join(f"<mark>{escape(s)}</mark>" if hit else escape(s) for s, hit in parts))


def is_cjk(text: str) -> bool:
    return bool(_CJK_ONLY.match(text))
