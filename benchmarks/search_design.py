#!/usr/bin/env python
"""Which full-text design for "search inside the text" (issue 10): measured on SQLite's FTS5.

Builds the same N pages (search_text.py, one in 20 Chinese) three ways in one scratch SQLite
file and times the same queries against each, so the choice in the README rests on figures:

- terms:   FTS5 (unicode61, detail=none) over tasks/history/search.py's terms: folded words and CJK pairs
           (the design in use, also the one MariaDB's FULLTEXT runs);
- trigram: FTS5's trigram tokenizer over the text itself (any substring of >= 3 characters;
           a 2-character query can only be a LIKE scan);
- like:    no index, LIKE '%q%' over the texts (the baseline).

    .venv/bin/python benchmarks/search_design.py [--pages 20000]
"""

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from search_text import PageWriter  # noqa: E402
from tasks.history import search  # noqa: E402


def timed(db, sql, params, repeat=5) -> tuple[float, int]:
    best, rows = None, 0
    for _ in range(repeat):
        start = time.perf_counter()
        rows = len(db.execute(sql, params).fetchall())
        elapsed = (time.perf_counter() - start) * 1000
        best = elapsed if best is None else min(best, elapsed)
    return best, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=20_000)
    args = parser.parse_args()
    writer = PageWriter(3)
    pages = [writer.page() for _ in range(args.pages)]
    path = os.path.join(tempfile.mkdtemp(prefix="search_design_"), "design.sqlite3")
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE texts (id INTEGER PRIMARY KEY, text TEXT, terms TEXT)")
    db.executemany("INSERT INTO texts VALUES (?, ?, ?)",
                   ((i + 1, p, search.terms_for(1, p)) for i, p in enumerate(pages)))
    db.commit()
    sizes = {}
    for name, ddl, fill in (
        ("terms", "CREATE VIRTUAL TABLE f_terms USING fts5(terms, content='texts', content_rowid='id', detail=none, "
                  "tokenize='unicode61 remove_diacritics 0')", "INSERT INTO f_terms(f_terms) VALUES ('rebuild')"),
        ("trigram", "CREATE VIRTUAL TABLE f_trigram USING fts5(text, content='texts', content_rowid='id', "
                    "tokenize='trigram')", "INSERT INTO f_trigram(f_trigram) VALUES ('rebuild')"),
    ):
        start = time.perf_counter()
        db.execute(ddl)
        db.execute(fill)
        db.commit()
        pages_used = db.execute("SELECT SUM(pgsize) FROM dbstat WHERE name LIKE ?", [f"f_{name}%"]).fetchone()[0] \
            if _has_dbstat(db) else None
        sizes[name] = (time.perf_counter() - start, pages_used)
    text_bytes = db.execute("SELECT SUM(length(text)) FROM texts").fetchone()[0]
    print(f"{args.pages:,} pages, {text_bytes / 1e6:.1f} MB of text; SQLite {sqlite3.sqlite_version}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for name, (seconds, size) in sizes.items():
        print(f"  index {name:8} built in {seconds:5.1f} s" + (f", {size / 1e6:.1f} MB" if size else ""))

    rng = random.Random(5)
    chinese = [p for p in pages if "，" in p or "。" in p]
    english = [p for p in pages if p not in chinese]
    rank = {w: i for i, w in enumerate(writer.vocabulary)}
    words = []
    while len(words) < 5:
        w = rng.choice(rng.choice(english).split()).strip(".").lower()
        if 300 <= rank.get(w, -1) < 3000 and w not in words:
            words.append(w)
    cjk2, cjk3 = [], []
    while len(cjk3) < 5:
        page = rng.choice(chinese).replace("\n", "")
        at = rng.randrange(len(page) - 3)
        piece = page[at:at + 3]
        if all(search.is_cjk(ch) for ch in piece):
            cjk2.append(piece[:2])
            cjk3.append(piece)
    cases = [("word", words), ("word prefix", [w[:4] for w in words]), ("Chinese, 2 characters", cjk2),
             ("Chinese, 3 characters", cjk3), ("common word", ["the", "and", "for", "you", "this"])]
    print(f"\n{'query':24} {'terms (in use)':>22} {'trigram':>22} {'LIKE scan':>22}   (best of 5, ms; rows)")
    for label, queries in cases:
        cells = {"terms": [], "trigram": [], "like": []}
        for q in queries:
            query = search.Query(1, q)
            terms_sql = "SELECT id FROM texts WHERE id IN (SELECT rowid FROM f_terms WHERE f_terms MATCH ?)"
            params = [query.fts5()]
            if query.runs and len(query.runs[0]) > 2:
                terms_sql += " AND text LIKE ?"
                params.append(f"%{q}%")
            cells["terms"].append(timed(db, terms_sql, params))
            if len(q) >= 3:  # trigram: a phrase of the query's characters (any substring, also inside words)
                cells["trigram"].append(timed(db, "SELECT rowid FROM f_trigram WHERE f_trigram MATCH ?",
                                              ['"' + q.replace('"', '""') + '"']))
            else:  # too short for trigrams: the index cannot help, the text is scanned
                cells["trigram"].append(timed(db, "SELECT id FROM texts WHERE text LIKE ?", [f"%{q}%"]))
            cells["like"].append(timed(db, "SELECT id FROM texts WHERE text LIKE ?", [f"%{q}%"]))
        row = f"{label:24}"
        for name in ("terms", "trigram", "like"):
            ms = sorted(t for t, _n in cells[name])
            n = sorted(n for _t, n in cells[name])
            row += f" {ms[len(ms) // 2]:9.1f} ms {n[0]:>5}-{n[-1]:<5}"
        print(row, flush=True)
    db.close()
    os.unlink(path)


def _has_dbstat(db) -> bool:
    try:
        db.execute("SELECT 1 FROM dbstat LIMIT 1").fetchall()
        return True
    except sqlite3.OperationalError:
        return False


if __name__ == "__main__":
    main()
