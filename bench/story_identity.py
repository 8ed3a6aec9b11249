"""Two checkouts link the same articles to the same stories, byte for byte: story assignments,
stories (every column but creation and merge times), postings, vectors, document and sentence
counts, merges.

    python -m bench.story_identity --compare-with /work/main                 # both backends
    python -m bench.story_identity --compare-with /work/main --backend sqlite --articles 500

Each checkout, in a child process with its own venv's python, creates a fresh store from its
own models (PostgreSQL: a throw-away database on STORY_BENCH_PG_URL, default 127.0.0.1:5432;
SQLite: a temporary file opened as the worker opens it), links the first ``--articles`` ECB+
articles through the SQL story index in bench.story_cost's order and times, with the refinement
pass every bench.story_cost.REFINE_EVERY articles, and dumps the story tables. The child uses
only what both checkouts have (``link_in_transaction``, ``refine_stories``), so a change to the
storage code is checked against the code before it. Exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.data import run_in_checkout

_CHILD = r"""
import json, random, sys, tempfile, uuid
from contextlib import contextmanager
from datetime import timedelta
from sqlalchemy import create_engine, insert, text, update
from sqlalchemy.orm import Session
from bench import story_cost as sc
from bench.story_quality import ecb_docs, load_ecbplus
from storage import story_index as si
from storage.db import make_engine
from storage.models import Base
from worker.service import stories as story_service
from worker.stories import link as st

backend, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
name = "story_identity_" + uuid.uuid4().hex[:10]
tmp = None
if backend == "postgresql":
    admin = create_engine(f"{sc.BASE_URL}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    eng = create_engine(f"{sc.BASE_URL}/{name}")
else:
    tmp = tempfile.TemporaryDirectory(prefix="story_identity_")
    eng = make_engine(f"sqlite:///{tmp.name}/{name}.db")
try:
    Base.metadata.create_all(eng)
    order = list(ecb_docs(load_ecbplus())[:n])
    random.Random(7).shuffle(order)
    assigned = []
    for i, d in enumerate(order):
        at = sc.NOW + timedelta(seconds=30 * i)
        with eng.begin() as c:
            aid = int(c.execute(insert(si.articles).values(url=f"https://{d.source}/{i}", title=d.title,
                                                           text=d.text).returning(si.articles.c.id)).scalar_one())
        f = st.story_features(d.title, d.text, at, d.source, "en")
        with eng.begin() as c:
            res = story_service.link_in_transaction(c, f, at, article_id=aid)
            c.execute(update(si.articles).where(si.articles.c.id == aid).values(story_id=res.story_id))
        assigned.append([aid, res.story_id, res.created, list(res.merged)])
        if (i + 1) % sc.REFINE_EVERY == 0:
            sc._refine(eng)
    pg = backend == "postgresql"
    state = "CAST(state AS text)" if pg else "state"
    top = "CAST(top_terms AS text)" if pg else "top_terms"
    vec = "CAST(vector AS text), CAST(evidence AS text)" if pg else "vector, evidence"
    pending = "CAST(terms AS text)" if pg else "terms"
    queries = {
        "articles": "SELECT id, story_id FROM articles ORDER BY id",
        "stories": f"SELECT id, title, first_article_at, last_article_at, article_count, source_count, {top},"
                   f" {state}, merged_into, refine_pending FROM stories ORDER BY id",
        "story_terms": "SELECT story_id, term, weight, first_time, last_time FROM story_terms ORDER BY story_id, term",
        "story_vectors": f"SELECT article_id, at, {vec} FROM story_vectors ORDER BY article_id",
        "story_df": "SELECT term, df FROM story_df ORDER BY term",
        "story_df_pending": f"SELECT id, {pending} FROM story_df_pending ORDER BY id",
        "story_boilerplate": "SELECT source, sentence_key, docs, last_seen FROM story_boilerplate"
                             " ORDER BY source, sentence_key",
        "story_merges": "SELECT old_story_id, new_story_id FROM story_merges ORDER BY id",
    }
    dump = {"links": assigned}
    with eng.connect() as c:
        for key, q in queries.items():
            dump[key] = [[v if isinstance(v, (int, float, str, bool, type(None))) else str(v) for v in r]
                         for r in c.execute(text(q))]
        dump["live_stories"] = si.story_count(c)
    with open(out, "w") as fh:
        json.dump(dump, fh)
finally:
    eng.dispose()
    if tmp is not None:
        tmp.cleanup()
    else:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
"""


def _dump(tree: Path, backend: str, n: int, out: Path) -> dict[str, Any]:
    run_in_checkout(tree, _CHILD, backend, str(n), str(out))
    with open(out, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def _digest(rows: object) -> str:
    return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()[:16]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--compare-with", type=Path, required=True, help="the other checkout (e.g. /work/main)")
    ap.add_argument("--backend", choices=("postgresql", "sqlite", "both"), default="both")
    ap.add_argument("--articles", type=int, default=500)
    ap.add_argument("--keep", type=Path, default=Path("/tmp"), help="where the dumps are written")
    args = ap.parse_args(argv)
    this = Path(__file__).resolve().parents[1]
    other = args.compare_with.resolve()
    same = True
    for backend in ("postgresql", "sqlite"):
        if args.backend not in (backend, "both"):
            continue
        a = _dump(other, backend, args.articles, args.keep / f"story_identity_{backend}_other.json")
        b = _dump(this, backend, args.articles, args.keep / f"story_identity_{backend}_this.json")
        links = a["links"]
        print(
            f"{backend}: {len(links)} articles, {a['live_stories']} / {b['live_stories']} live stories,"
            f" {sum(1 for x in links if x[2])} created, {sum(len(x[3]) for x in links)} merged"
        )
        for key in a:
            ok = a[key] == b.get(key)
            same &= ok
            rows = len(a[key]) if isinstance(a[key], list) else a[key]
            print(f"  {key:<18} {rows!s:>7}  {_digest(a[key])} {_digest(b.get(key))}  {'same' if ok else 'DIFFERENT'}")
    print("identical" if same else "DIFFERENT")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
