"""Every statement that linking one article (and the refinement pass) sends to PostgreSQL,
with the server's own count, rows, execution and planning time per linked article.

    STORY_BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5499 python -m bench.story_statements
    STORY_BENCH_PG_URL=... python -m bench.story_statements --compare-with /work/main --rounds 4

Needs a server with ``pg_stat_statements`` in ``shared_preload_libraries`` (and the extension
created in its ``postgres`` database): the bench's shared server usually has not, so point
STORY_BENCH_PG_URL at a private one. Loads bench.story_cost's 10k store, links the same
articles as bench.story_cost (a refinement pass every REFINE_EVERY), and reads
``pg_stat_statements`` before and after each step, so that the link's statements (and its
BEGIN/COMMIT) are told from the refinement's and from storing the article. Also prints the
index scans of the story tables (``pg_stat_user_indexes``): an index no query reads costs every
insert for nothing.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, text, update
from sqlalchemy.engine import Engine

from bench import story_cost as sc
from bench.data import load_ecbplus
from bench.story_quality import Doc, ecb_docs
from storage import story_index as si
from storage.models import Base
from worker.service import stories as story_service
from worker.stories import link as st

_STATS = (
    "SELECT queryid, query, calls, rows, total_exec_time, total_plan_time, shared_blks_hit + shared_blks_read,"
    " shared_blks_dirtied, wal_bytes FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database"
    " WHERE datname = :db)"
)
_FIELDS = ("calls", "rows", "exec_ms", "plan_ms", "blocks", "dirtied", "wal")


class Stats:
    """pg_stat_statements deltas, summed per statement and phase."""

    def __init__(self, admin: Engine, db: str) -> None:
        self.admin, self.db = admin, db
        self.text: dict[int, str] = {}
        self.sums: dict[str, dict[tuple[int, str], float]] = collections.defaultdict(
            lambda: collections.defaultdict(float)
        )

    def read(self) -> dict[int, tuple[float, ...]]:
        with self.admin.connect() as c:
            rows = c.execute(text(_STATS), {"db": self.db}).all()
        out = {}
        for r in rows:
            self.text.setdefault(int(r[0]), r[1])
            out[int(r[0])] = tuple(float(x) for x in r[2:])
        return out

    def add(self, phase: str, before: dict[int, tuple[float, ...]], after: dict[int, tuple[float, ...]]) -> None:
        zero = (0.0,) * len(_FIELDS)
        for q, vals in after.items():
            old = before.get(q, zero)
            if vals[0] == old[0]:
                continue
            for name, a, b in zip(_FIELDS, vals, old, strict=True):
                self.sums[phase][(q, name)] += a - b

    def report(self, phase: str, per: int) -> None:
        sums = self.sums[phase]
        ids = sorted({q for q, _ in sums}, key=lambda q: -(sums.get((q, "exec_ms"), 0) + sums.get((q, "plan_ms"), 0)))
        print(f"\n{phase}: per linked article ({per} articles)")
        head = ("calls", "rows", "exec ms", "plan ms", "blocks", "dirtied", "wal B")
        print(" ".join(f"{h:>{w}}" for h, w in zip(head, (6, 7, 8, 8, 7, 7, 7), strict=True)) + "  statement")
        tot: dict[str, float] = collections.defaultdict(float)
        for q in ids:
            vals = [sums.get((q, f), 0.0) / per for f in _FIELDS]
            for f, v in zip(_FIELDS, vals, strict=True):
                tot[f] += v
            sql = " ".join(self.text[q].split())[:110]
            print(
                f"{vals[0]:6.2f} {vals[1]:7.1f} {vals[2]:8.3f} {vals[3]:8.3f} {vals[4]:7.1f} {vals[5]:7.2f}"
                f" {vals[6]:7.0f}  {sql}"
            )
        print(
            f"{tot['calls']:6.2f} {tot['rows']:7.1f} {tot['exec_ms']:8.3f} {tot['plan_ms']:8.3f}"
            f" {tot['blocks']:7.1f} {tot['dirtied']:7.2f} {tot['wal']:7.0f}  total"
        )


def run(eng: Engine, stats: Stats, docs: Sequence[Doc], warmup: int) -> int:
    order = list(docs)
    random.Random(7).shuffle(order)
    tag = uuid.uuid4().hex[:8]
    n = 0
    with eng.connect() as c:
        pid = int(c.execute(text("SELECT pg_backend_pid()")).scalar_one())
    link_cpu = 0.0
    link_ticks = 0
    for i, d in enumerate(order):
        measured = i >= warmup
        at = sc.NOW + timedelta(seconds=30 * i)
        aid = sc.insert_article(eng, d, f"{tag}/{i}")
        f = st.story_features(d.title, d.text, at, d.source, "en")
        before = stats.read() if measured else {}
        ticks0 = sc._backend_ticks(pid)
        t0 = time.process_time()
        with eng.begin() as c:
            res = story_service.link_in_transaction(c, f, at, article_id=aid)
            c.execute(update(si.articles).where(si.articles.c.id == aid).values(story_id=res.story_id))
        if measured:
            link_cpu += time.process_time() - t0
            link_ticks += sc._backend_ticks(pid) - ticks0
            stats.add("link", before, stats.read())
            n += 1
        if (i + 1) % sc.REFINE_EVERY == 0:
            before = stats.read() if measured else {}
            sc._refine(eng)
            if measured:
                stats.add("refine", before, stats.read())
    hz = os.sysconf("SC_CLK_TCK")
    print(f"link: client {link_cpu * 1000 / n:.2f} ms, server {link_ticks / hz * 1000 / n:.2f} ms per article")
    return n


def compare(eng: Engine, stats: Stats, trees: dict[str, Path], rounds: int, n: int, warmup: int) -> None:
    """Each checkout links the same articles in a child process (bench.story_cost's measure, ABBA
    rounds, the store restored in between); the server's statements of each whole run (warm-up,
    the article rows, links and passes) per measured article, summed per checkout."""
    sc._snapshot(eng)
    per: dict[str, int] = collections.Counter()
    for r in range(rounds):
        for name in list(trees) if r % 2 == 0 else list(trees)[::-1]:
            before = stats.read()
            m = sc._measure_in(trees[name], eng.url.render_as_string(hide_password=False), n + warmup, warmup)
            stats.add(name, before, stats.read())
            per[name] += m.articles
            sc._forget(eng)
            sc._restore(eng)
            print(
                f"round {r} {name:>5}: link {m.client_ms:.2f} + {m.server_ms:.2f} ms,"
                f" pass {m.refine_client_ms:.2f} + {m.refine_server_ms:.2f} ms",
                flush=True,
            )
    for name in trees:
        stats.report(name, per[name])


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=150)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--compare-with", type=Path, help="another checkout: whole runs of each, side by side (ABBA)")
    ap.add_argument("--rounds", type=int, default=2, help="with --compare-with: rounds, each running both")
    args = ap.parse_args(argv)
    docs = ecb_docs(load_ecbplus())
    tpls, vocab = sc._templates(docs)
    keys = sc._key_pool(docs[:550])
    name = "story_stmts_" + uuid.uuid4().hex[:10]
    admin = create_engine(f"{sc.BASE_URL}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    eng = create_engine(f"{sc.BASE_URL}/{name}", pool_size=4)
    try:
        Base.metadata.create_all(eng)
        sc._load(eng, tpls, vocab, keys, 1, 10_000, sc.NOW, 10_000)
        with eng.connect() as c:
            c.execute(text("SELECT pg_stat_reset()"))
            c.commit()
        stats = Stats(admin, name)
        if args.compare_with is not None:
            trees = {"other": args.compare_with.resolve(), "this": Path(__file__).resolve().parents[1]}
            compare(eng, stats, trees, args.rounds, args.articles, args.warmup)
            return
        n = run(eng, stats, docs[: args.articles + args.warmup], args.warmup)
        stats.report("link", n)
        stats.report("refine", n)
        time.sleep(0.6)  # index statistics are flushed by the backends every 500 ms or so
        with eng.connect() as c:
            rows = c.execute(
                text(
                    "SELECT relname, indexrelname, idx_scan, pg_relation_size(indexrelid) FROM pg_stat_user_indexes"
                    " WHERE relname LIKE 'story%' OR relname IN ('stories', 'articles') ORDER BY relname, indexrelname"
                )
            ).all()
            heap = c.execute(
                text(
                    "SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del FROM pg_stat_user_tables"
                    " WHERE relname LIKE 'story%' OR relname IN ('stories', 'articles') ORDER BY relname"
                )
            ).all()
        print("\nindex scans since the load (whole run, warm-up included)")
        for r in rows:
            print(f"  {r[0]:<20} {r[1]:<40} {r[2]:>8} scans  {r[3] / 1024:>8.0f} kB")
        print("\ntable writes (inserted, updated, of which HOT, deleted)")
        for r in heap:
            print(f"  {r[0]:<20} {r[1]:>8} {r[2]:>8} {r[3]:>8} {r[4]:>8}")
    finally:
        eng.dispose()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
