"""CPU per article of story linking through the SQL story index, 10k vs 1M articles.

    python -m bench.story_cost                      # 10k then 1M stored articles, PostgreSQL and SQLite (~25 min)
    python -m bench.story_cost --quick              # 10k then 100k, fewer measured articles
    python -m bench.story_cost --quick --backend sqlite   # one backend only
    python -m bench.story_cost --quick --compare-with /work/main --rounds 2   # two checkouts, ABBA
    python -m bench.story_cost --quick --texts pages   # measure on real web pages instead of ECB+

``--compare-with``: one store per size, loaded once; each round links the same articles with
each checkout in a child process (its own venv's python when it has one), in ABBA order, and
forgets what they added in between; client CPU is the child's, server CPU its backend's.

PostgreSQL: creates a throw-away database on 127.0.0.1:5432 (user postgres; env STORY_BENCH_PG_URL to
point elsewhere). SQLite: a throw-away file in a temporary directory, opened as the worker opens it
(``storage.db.make_engine``: WAL, synchronous=NORMAL), where the database's CPU is the worker's own.
Each bulk-loads synthetic stories at a fixed density (1000 articles a day, about
3 articles a story, so the 10-day window always holds the same amount), links real ECB+
articles at the newest end of the timeline, then loads older history up to the large size and
links the same articles again. Reports client CPU (process time of this process) and server
CPU (utime+stime of the PostgreSQL backend, from /proc) per article, for the link step and for
feature extraction separately, and the large/small ratio (on SQLite "client" is all of it:
the database runs in the worker's process). Drops the database at the end.

``--texts pages`` links the English pages of the extraction sets (the text ``extract_article``
gives, cached by ``bench.features_cost`` in /tmp) instead of ECB+ articles: real pages are about
four times as long as ECB+'s texts (a median of 39 sentences, a long tail of long reads and
listings), and linking's cost grows with the text.

Synthetic stories are real ECB+ article vectors with half of their terms swapped for terms
drawn across the corpus vocabulary, so posting lists are as dense as real news makes them.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import pickle
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, inspect, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bench.data import run_in_checkout
from bench.story_quality import Doc, ecb_docs, load_ecbplus
from storage import story_index as si
from storage.db import make_engine
from storage.models import Base
from worker.model import story as story_model
from worker.service import stories as story_links
from worker.service import stories as story_service
from worker.stories import evidence as incident
from worker.stories import link as st

ARTICLES_PER_DAY = 1000
ARTICLES_PER_STORY = 3
# every synthetic story posts KEYS_PER_STORY evidence keys (names, addresses) drawn from a pool
# of KEY_POOL: the measured articles' own keys first, then made-up names. The pool is sized for
# the 1M store (each key in about KEYS_PER_STORY * 333k / KEY_POOL stories there), so the
# archived-story lookup meets real posting lists.
KEYS_PER_STORY = 2
KEY_POOL = 150_000
REFINE_EVERY = 50  # articles linked between two refinement passes
NOW = datetime(2026, 1, 1, tzinfo=UTC)
BASE_URL = os.environ.get("STORY_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")


@dataclass(frozen=True)
class Measure:
    articles: int
    client_ms: float
    server_ms: float
    features_ms: float
    created: int
    refine_client_ms: float  # the refinement pass, amortised per linked article
    refine_server_ms: float
    moved: int


def _backend_ticks(pid: int) -> int:
    if not pid:  # SQLite: the database's CPU is this process's own
        return 0
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14, 15)


def _templates(docs: Sequence[Doc]) -> tuple[list[tuple[list[str], list[float]]], list[str]]:
    feats = [st.story_features(d.title, d.text, None, d.source, "en") for d in docs]
    df: collections.Counter[str] = collections.Counter()
    for f in feats:
        df.update(f.vocabulary())
    tpls = []
    for f in feats:
        vec = st.vectorize(f, df, len(feats))
        top = sorted(vec.items(), key=lambda kv: -kv[1])[: story_model.POSTING_TERMS]
        tpls.append(([t for t, _ in top], [w for _, w in top]))
    vocab = sorted(df)
    return tpls, vocab


def _key_pool(docs: Sequence[Doc]) -> list[str]:
    """Evidence keys the measured articles look up, then filler names, KEY_POOL in all."""
    found = sorted(
        {k for d in docs for k in incident.lookup_keys(st.story_features(d.title, d.text, NOW, d.source).keys)}
    )
    return [*found, *(f"pn:synthetic person {i}" for i in range(KEY_POOL - len(found)))][:KEY_POOL]


def _span(first_id: int, n_articles: int, end: datetime) -> tuple[float, float, int, int]:
    """The synthetic stories' first time, spacing and id range: n_articles' worth ending at end."""
    n_stories = n_articles // ARTICLES_PER_STORY
    days = n_articles / ARTICLES_PER_DAY
    return (
        story_model.epoch_seconds(end) - days * 86400,
        days * 86400 / n_stories,
        first_id,
        first_id + n_stories - 1,
    )


def _load(
    eng: Engine,
    tpls: list[tuple[list[str], list[float]]],
    vocab: list[str],
    keys: list[str],
    first_id: int,
    n_articles: int,
    end: datetime,
    n_total_after: int,
) -> None:
    """Add ``n_articles`` worth of stories whose times end at ``end`` (older history)."""
    t0, step, lo, hi = _span(first_id, n_articles, end)
    with eng.begin() as c:
        c.execute(text("CREATE TEMP TABLE IF NOT EXISTS tpl (tid int, terms text[], w float8[])"))
        c.execute(text("CREATE TEMP TABLE IF NOT EXISTS vocab (vid int, term text)"))
        if not c.execute(text("SELECT count(*) FROM tpl")).scalar_one():
            c.execute(
                text(
                    "INSERT INTO tpl SELECT a, CAST(b AS text[]), CAST(c AS float8[])"
                    " FROM unnest(CAST(:ids AS int[]), CAST(:t AS text[]), CAST(:w AS text[]))"
                    " AS x(a, b, c)"
                ),
                {
                    "ids": list(range(len(tpls))),
                    "t": [_pg_array(t) for t, _ in tpls],
                    "w": [_pg_array([str(x) for x in w]) for _, w in tpls],
                },
            )
            c.execute(
                text("INSERT INTO vocab SELECT * FROM unnest(CAST(:ids AS int[]), CAST(:t AS text[]))"),
                {"ids": list(range(len(vocab))), "t": vocab},
            )
            c.execute(text("CREATE TEMP TABLE kv (kid int, key text)"))
            c.execute(
                text("INSERT INTO kv SELECT * FROM unnest(CAST(:ids AS int[]), CAST(:k AS text[]))"),
                {"ids": list(range(len(keys))), "k": [st.KEY_PREFIX + k for k in keys]},
            )
            c.execute(text("ANALYZE tpl; ANALYZE vocab; ANALYZE kv"))
        # the primary key's name follows the schema's naming convention: look it up
        pkey = c.execute(
            text("SELECT conname FROM pg_constraint WHERE conrelid = 'story_terms'::regclass AND contype = 'p'")
        ).scalar_one()
        c.execute(text(f'ALTER TABLE story_terms DROP CONSTRAINT "{pkey}"'))
        for ix in si.story_terms.indexes:
            c.execute(text(f"DROP INDEX {ix.name}"))
        c.execute(
            text(
                "INSERT INTO story_terms (term, story_id, weight, first_time, last_time)"
                " SELECT DISTINCT ON (g, term) term, g, w, f, f + d FROM ("
                "  SELECT g, CASE WHEN k % 2 = 1 THEN tp.terms[k] ELSE vo.term END AS term,"
                "   tp.w[k] AS w, :t0 + (g - :lo) * :step AS f,"
                "   ((g::bigint * 7919) % 172800)::float8 AS d"
                "  FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g"
                "  JOIN tpl tp ON tp.tid = g % :ntpl"
                "  CROSS JOIN LATERAL generate_subscripts(tp.terms, 1) k"
                "  JOIN vocab vo ON vo.vid = ((g * 31 + k * 7919) % :nv)) x"
            ),
            {"t0": t0, "lo": lo, "hi": hi, "step": step, "ntpl": len(tpls), "nv": len(vocab)},
        )
        c.execute(
            text(
                "INSERT INTO story_terms (term, story_id, weight, first_time, last_time)"
                " SELECT DISTINCT ON (g, kv.key) kv.key, g, 1.0, :t0 + (g - :lo) * :step,"
                "  :t0 + (g - :lo) * :step + ((g::bigint * 7919) % 172800)::float8"
                " FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g"
                " CROSS JOIN generate_series(1, :per) j"
                " JOIN kv ON kv.kid = ((g * 7919 + j * 104729) % :nk)"
            ),
            {"t0": t0, "lo": lo, "hi": hi, "step": step, "per": KEYS_PER_STORY, "nk": len(keys)},
        )
        c.execute(
            text(
                "INSERT INTO stories (id, title, first_article_at, last_article_at,"
                " article_count, source_count, top_terms, state, created_at)"
                " SELECT story_id, 'synthetic story ' || story_id, to_timestamp(min(first_time)),"
                " to_timestamp(max(last_time)), :aps, 2, '[]'::json,"
                " json_build_object('centroid', json_object_agg(term, weight * 2),"
                "  'sources', json_build_array('a.example', 'b.example'), 'title_score', 0.5,"
                "  'first', min(first_time), 'last', max(last_time)), now()"
                " FROM story_terms WHERE story_id BETWEEN :lo AND :hi AND term NOT LIKE '@%' GROUP BY story_id"
            ),
            {"lo": lo, "hi": hi, "aps": ARTICLES_PER_STORY},
        )
        cols = ", ".join(col.name for col in si.story_terms.primary_key.columns)  # in the model's order
        c.execute(text(f'ALTER TABLE story_terms ADD CONSTRAINT "{pkey}" PRIMARY KEY ({cols})'))
        for ix in si.story_terms.indexes:
            ix.create(c)
        # document frequencies of the whole vocabulary, scaled to the stored article count
        c.execute(text("DELETE FROM story_df"))
        c.execute(
            text(
                "INSERT INTO story_df (term, df) SELECT term, 1 + (vid * 2654435761 % 997)"
                " * :n / 997 / 50 FROM vocab UNION ALL SELECT '', :n"
            ),
            {"n": n_total_after},
        )
        # sentence counts: two per stored article, spread over 500 sources
        c.execute(
            text(
                "INSERT INTO story_boilerplate (source, sentence_key, docs, last_seen)"
                " SELECT 'site' || (g % 500), substr(md5(g::text), 1, 16), 1 + g % 3, :t0"
                " FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g"
                " ON CONFLICT DO NOTHING"
            ),
            {"lo": lo * 6, "hi": hi * 6 + 5, "t0": t0},
        )
        c.execute(
            text("SELECT setval(pg_get_serial_sequence('stories', 'id'), :m)"),
            {"m": max(hi, 10**9)},
        )
    with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE story_terms, stories, story_df, story_boilerplate"))
        c.execute(text("CHECKPOINT"))  # the bulk load's dirty pages are not the linker's work


def _pg_array(items: Sequence[str]) -> str:
    return "{" + ",".join('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in items) + "}"


def _load_sqlite(
    eng: Engine,
    tpls: list[tuple[list[str], list[float]]],
    vocab: list[str],
    keys: list[str],
    first_id: int,
    n_articles: int,
    end: datetime,
    n_total_after: int,
) -> None:
    """:func:`_load` for SQLite: the same rows, generated here and written with executemany."""
    t0, step, lo, hi = _span(first_id, n_articles, end)
    nv, nk = len(vocab), len(keys)
    postings: list[tuple[str, int, float, float, float]] = []
    story_rows: list[tuple[object, ...]] = []
    created = datetime.now(UTC).isoformat(sep=" ")
    for g in range(lo, hi + 1):
        terms, weights = tpls[g % len(tpls)]
        f = t0 + (g - lo) * step
        last = f + float((g * 7919) % 172800)
        centroid: dict[str, float] = {}
        for k in range(1, len(terms) + 1):  # 1-based, as the PostgreSQL loader's subscripts
            term = terms[k - 1] if k % 2 == 1 else vocab[(g * 31 + k * 7919) % nv]
            if term not in centroid:
                centroid[term] = weights[k - 1]
                postings.append((term, g, weights[k - 1], f, last))
        for j in range(1, KEYS_PER_STORY + 1):
            key = st.KEY_PREFIX + keys[(g * 7919 + j * 104729) % nk]
            postings.append((key, g, 1.0, f, last))
        state = {
            "centroid": {t: w * 2 for t, w in centroid.items()},
            "sources": ["a.example", "b.example"],
            "title_score": 0.5,
            "first": f,
            "last": last,
        }
        story_rows.append(
            (
                g,
                f"synthetic story {g}",
                _dt_text(f),
                _dt_text(last),
                ARTICLES_PER_STORY,
                2,
                "[]",
                json.dumps(state),
                created,
            )
        )
    with eng.begin() as c:
        raw = c.connection.dbapi_connection
        assert raw is not None
        cur = raw.cursor()
        for ix in si.story_terms.indexes:
            cur.execute(f"DROP INDEX {ix.name}")
        cur.executemany("INSERT OR IGNORE INTO story_terms VALUES (?, ?, ?, ?, ?)", postings)
        cur.executemany(
            "INSERT INTO stories (id, title, first_article_at, last_article_at, article_count, source_count,"
            " top_terms, state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            story_rows,
        )
        for ix in si.story_terms.indexes:
            ix.create(c)
        cur.execute("DELETE FROM story_df")
        cur.executemany(
            "INSERT INTO story_df (term, df) VALUES (?, ?)",
            [(t, 1 + (v * 2654435761 % 997) * n_total_after // 997 // 50) for v, t in enumerate(vocab)]
            + [("", n_total_after)],
        )
        cur.executemany(
            "INSERT OR IGNORE INTO story_boilerplate (source, sentence_key, docs, last_seen) VALUES (?, ?, ?, ?)",
            (
                (f"site{g % 500}", hashlib.md5(str(g).encode()).hexdigest()[:16], 1 + g % 3, t0)
                for g in range(lo * 6, hi * 6 + 6)
            ),
        )
        # new stories get ids above 10^9, as on PostgreSQL (the phases forget them by id)
        cur.execute("UPDATE sqlite_sequence SET seq = max(seq, 1000000000) WHERE name = 'stories'")
        cur.execute("ANALYZE")


def _dt_text(epoch: float) -> str:
    """A UTC time as storage.types.UTCDateTime stores it on SQLite."""
    return story_model.from_epoch(epoch).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def insert_article(eng: Engine, d: Doc, path: str) -> int:
    """The article's row, as ingestion leaves it before linking; its id."""
    with eng.begin() as c:
        return int(
            c.execute(
                insert(si.articles)
                .values(url=f"https://{d.source}/{path}", title=d.title, text=d.text)
                .returning(si.articles.c.id)
            ).scalar_one()
        )


def _measure(eng: Engine, docs: Sequence[Doc], warmup: int, seed: int) -> Measure:
    """Link each article as the pipeline does (article row's story_id and vector written in the
    same transaction) and run the refinement pass every REFINE_EVERY articles, as beat does."""
    order = list(docs)
    random.Random(seed).shuffle(order)
    pg = eng.dialect.name == "postgresql"
    with eng.connect() as c:
        pid = int(c.execute(text("SELECT pg_backend_pid()")).scalar_one()) if pg else 0
    feats_cpu = link_cpu = refine_cpu = 0.0
    link_ticks = refine_ticks = 0
    created = moved = 0
    n = 0
    tag = uuid.uuid4().hex[:8]
    for i, d in enumerate(order):
        if i == warmup:
            feats_cpu = link_cpu = refine_cpu = 0.0
            link_ticks = refine_ticks = 0
            created = moved = n = 0
        at = NOW + timedelta(seconds=30 * i)
        aid = insert_article(eng, d, f"{tag}/{i}")  # storing the article is not linking: outside the measure
        ticks0 = _backend_ticks(pid)
        t0 = time.process_time()
        f = st.story_features(d.title, d.text, at, d.source, "en")
        t1 = time.process_time()
        with eng.begin() as c:
            res = story_service.link_in_transaction(c, f, at, article_id=aid)
            c.execute(update(si.articles).where(si.articles.c.id == aid).values(story_id=res.story_id))
        t2 = time.process_time()
        link_ticks += _backend_ticks(pid) - ticks0
        feats_cpu += t1 - t0
        link_cpu += t2 - t1
        created += res.created
        n += 1
        if (i + 1) % REFINE_EVERY == 0:
            ticks0 = _backend_ticks(pid)
            t0 = time.process_time()
            moved += _refine(eng)
            refine_cpu += time.process_time() - t0
            refine_ticks += _backend_ticks(pid) - ticks0
    hz = os.sysconf("SC_CLK_TCK")
    return Measure(
        articles=n,
        client_ms=link_cpu * 1000 / n,
        server_ms=link_ticks / hz * 1000 / n,
        features_ms=feats_cpu * 1000 / n,
        created=created,
        refine_client_ms=refine_cpu * 1000 / n,
        refine_server_ms=refine_ticks / hz * 1000 / n,
        moved=moved,
    )


def _refine(eng: Engine) -> int:
    """One refinement pass, exactly as beat runs it (storage.story_links.refine_stories)."""

    @contextmanager
    def transaction() -> Iterator[Session]:
        with Session(eng) as session, session.begin():
            yield session

    return story_links.refine_stories(transaction, limit=10_000, now=NOW).articles_moved


def _concurrency(eng: Engine, docs: Sequence[Doc], threads: int, per_thread: int) -> float:
    """Articles per second linked by ``threads`` workers into the same live window."""
    feats = [st.story_features(d.title, d.text, None, d.source, "en") for d in docs[: threads * per_thread]]
    start = threading.Barrier(threads)

    def work(k: int) -> None:
        start.wait()
        for j in range(per_thread):
            f = feats[k * per_thread + j]
            story_service.link_with_retry(eng, f, NOW + timedelta(days=3, seconds=k * 1000 + j))

    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return threads * per_thread / (time.perf_counter() - t0)


def _forget(eng: Engine) -> None:
    """Forget what a measurement added (its stories, articles, merges, pending counts)."""
    with eng.begin() as c:
        c.execute(text("DELETE FROM story_terms WHERE story_id > 1000000000"))
        c.execute(text("DELETE FROM story_vectors"))
        c.execute(text("DELETE FROM articles"))
        c.execute(text("DELETE FROM story_merges"))
        c.execute(text("DELETE FROM stories WHERE id > 1000000000"))
        if inspect(c).has_table("story_df_pending"):
            c.execute(text("DELETE FROM story_df_pending"))


_SNAPSHOT = {"stories": "bench_stories", "story_terms": "bench_terms", "story_df": "bench_df",
             "story_boilerplate": "bench_boilerplate"}  # fmt: skip


def _snapshot(eng: Engine) -> None:
    """Copy the loaded store, so that each compared measurement starts from the same one."""
    with eng.begin() as c:
        for table, copy in _SNAPSHOT.items():
            c.execute(text(f"DROP TABLE IF EXISTS {copy}"))
            c.execute(text(f"CREATE TABLE {copy} AS SELECT * FROM {table}"))
        c.execute(text("CREATE INDEX ix_bench_terms ON bench_terms (story_id)"))


def _restore(eng: Engine) -> None:
    """Undo what a measurement changed in the loaded store (after :func:`_forget`): the stories
    it joined, merged or flagged, their postings, the document and sentence counts."""
    pg = eng.dialect.name == "postgresql"
    state = "CAST(s.state AS text) <> CAST(b.state AS text)" if pg else "s.state <> b.state"
    cols = ("title", "first_article_at", "last_article_at", "article_count", "source_count", "top_terms", "state",
            "merged_into", "refine_pending")  # fmt: skip
    with eng.begin() as c:
        c.execute(text("CREATE TEMP TABLE IF NOT EXISTS bench_changed (id bigint PRIMARY KEY)"))
        c.execute(text("DELETE FROM bench_changed"))
        c.execute(
            text(
                "INSERT INTO bench_changed SELECT s.id FROM stories s JOIN bench_stories b ON b.id = s.id"
                " WHERE s.article_count <> b.article_count OR s.merged_into IS NOT NULL"
                f" OR s.refine_pending <> b.refine_pending OR {state}"
            )
        )
        sets = ", ".join(f"{col} = b.{col}" for col in cols)
        c.execute(
            text(
                f"UPDATE stories SET {sets} FROM bench_stories b"
                " WHERE stories.id = b.id AND stories.id IN (SELECT id FROM bench_changed)"
            )
        )
        c.execute(text("DELETE FROM story_terms WHERE story_id IN (SELECT id FROM bench_changed)"))
        c.execute(
            text("INSERT INTO story_terms SELECT * FROM bench_terms WHERE story_id IN (SELECT id FROM bench_changed)")
        )
        for table in ("story_df", "story_boilerplate"):
            c.execute(text(f"DELETE FROM {table}"))
            c.execute(text(f"INSERT INTO {table} SELECT * FROM {_SNAPSHOT[table]}"))
    if pg:
        with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE story_terms, stories, story_df, story_boilerplate"))


# what a compared checkout runs: its own _measure (and refinement) on the store loaded here
_CHILD = """
import json, pickle, sys
from dataclasses import asdict
from sqlalchemy import create_engine
from bench import story_cost as sc
from storage.db import make_engine
url, n, warmup, docs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
eng = create_engine(url, pool_size=4) if url.startswith("postgresql") else make_engine(url)
m = sc._measure(eng, pickle.loads(open(docs, "rb").read())[:n], warmup, seed=7)
eng.dispose()
print("MEASURE " + json.dumps(asdict(m)))
"""


def measured_docs(texts: str) -> list[Doc]:
    """The articles linked and measured: ECB+'s, or (``pages``) real English web pages."""
    if texts == "ecb":
        return ecb_docs(load_ecbplus())
    from bench.features_cost import CORPUS, load_corpus

    pages = [a for a in load_corpus(CORPUS) if ":" in a[3] and a[4] == "en" and a[1].strip()]
    docs = [Doc(id=src, gold=src, topic=src, title=title, text=body, source=src.replace(":", "-") + ".example",
                published_at=None) for title, body, _, src, _ in pages]  # fmt: skip
    random.Random(3).shuffle(docs)  # the sets one after the other otherwise
    return docs


def _measure_in(tree: Path, url: str, n: int, warmup: int, docs: Path) -> Measure:
    """One measurement by the checkout at ``tree``, in a child process, of the pickled ``docs``."""
    out = run_in_checkout(tree, _CHILD, url, str(n), str(warmup), str(docs))
    line = next(x for x in out.stdout.splitlines() if x.startswith("MEASURE "))
    return Measure(**json.loads(line[len("MEASURE ") :]))


def _total(m: Measure) -> tuple[float, float]:
    """(worker, database) CPU per article, link + refinement."""
    return m.client_ms + m.refine_client_ms, m.server_ms + m.refine_server_ms


def _compare_size(
    eng: Engine,
    url: str,
    trees: dict[str, Path],
    size: str,
    label: str,
    rounds: int,
    n: int,
    warmup: int,
    docs: Sequence[Doc],
) -> dict[str, list[Measure]]:
    got: dict[str, list[Measure]] = {name: [] for name in trees}
    _snapshot(eng)
    pickled = Path(tempfile.mkdtemp(prefix="story_cost_docs_")) / "docs.pkl"
    pickled.write_bytes(pickle.dumps(list(docs)[:n]))
    for r in range(rounds):
        for name in list(trees) if r % 2 == 0 else list(trees)[::-1]:
            m = _measure_in(trees[name], url, n, warmup, pickled)
            _forget(eng)
            _restore(eng)
            got[name].append(m)
            w, d = _total(m)
            print(
                f"{label}{size:>6} round {r} {name:>5}: worker {w:.2f} ms + database {d:.2f} ms = {w + d:.2f} ms"
                f" (link {m.client_ms:.2f} + {m.server_ms:.2f}, pass {m.refine_client_ms:.2f} +"
                f" {m.refine_server_ms:.2f}; {m.created} new stories, {m.moved} moved)",
                flush=True,
            )
    pickled.unlink()
    pickled.parent.rmdir()
    for name, ms in got.items():
        ws, ds = [_total(m)[0] for m in ms], [_total(m)[1] for m in ms]
        print(
            f"{label}{size:>6} {name:>5} mean: worker {sum(ws) / len(ws):.2f} ms, database"
            f" {sum(ds) / len(ds):.2f} ms, total {(sum(ws) + sum(ds)) / len(ws):.2f} ms per article",
            flush=True,
        )
    return got


def _run_backend(
    backend: str,
    quick: bool,
    docs: Sequence[Doc],
    tpls: list[tuple[list[str], list[float]]],
    vocab: list[str],
    keys: list[str],
    compare: Path | None = None,
    rounds: int = 2,
    measured_texts: Sequence[Doc] | None = None,
) -> None:
    small, large = 10_000, (100_000 if quick else 1_000_000)
    measured = 150 if quick else 400
    warmup = 100
    pg = backend == "postgresql"
    label = "" if pg else "sqlite "
    name = "story_cost_" + uuid.uuid4().hex[:10]
    admin = create_engine(f"{BASE_URL}/postgres", isolation_level="AUTOCOMMIT") if pg else None
    tmp = None if pg else tempfile.TemporaryDirectory(prefix="story_cost_")
    if admin is not None:
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        url = f"{BASE_URL}/{name}"
        eng = create_engine(url, pool_size=4)
    else:
        assert tmp is not None
        url = f"sqlite:///{tmp.name}/{name}.db"
        eng = make_engine(url)
    load = _load if pg else _load_sqlite
    try:
        Base.metadata.create_all(eng)
        t = time.perf_counter()
        # the newest 10 days: exactly what a 10-day window can see at NOW
        load(eng, tpls, vocab, keys, 1, small, NOW, small)
        print(f"{label}loaded {small} articles in {time.perf_counter() - t:.0f}s", flush=True)
        sample = list(measured_texts or docs)[: measured + warmup]
        trees = {"other": compare.resolve(), "this": Path(__file__).resolve().parents[1]} if compare else {}
        if compare:
            _compare_size(eng, url, trees, "10k", label, rounds, measured + warmup, warmup, sample)
        else:
            m_small = _measure(eng, sample, warmup, seed=7)
        _forget(eng)
        t = time.perf_counter()
        first = small // ARTICLES_PER_STORY + 1
        older_end = NOW - timedelta(days=small / ARTICLES_PER_DAY)
        load(eng, tpls, vocab, keys, first, large - small, older_end, large)
        print(f"{label}loaded {large - small} older articles in {time.perf_counter() - t:.0f}s", flush=True)
        if compare:
            _compare_size(eng, url, trees, f"{large // 1000}k", label, rounds, measured + warmup, warmup, sample)
            return
        m_large = _measure(eng, sample, warmup, seed=7)
        with eng.connect() as c:
            rows = c.execute(text("SELECT count(*) FROM story_terms")).scalar_one()
            n_st = c.execute(text("SELECT count(*) FROM stories")).scalar_one()
        print(f"{label}stored: {n_st} stories, {rows} postings")
        for size, m in (("10k", m_small), (f"{large // 1000}k", m_large)):
            print(
                f"{label}{size:>6} stored articles: link CPU client {m.client_ms:.2f} ms"
                f" + server {m.server_ms:.2f} ms per article"
                f" (features {m.features_ms:.2f} ms; {m.articles} articles, {m.created} new"
                f" stories); refinement every {REFINE_EVERY}: client {m.refine_client_ms:.2f} ms"
                f" + server {m.refine_server_ms:.2f} ms per article ({m.moved} moved)"
            )
        total_s = m_small.client_ms + m_small.refine_client_ms
        total_l = m_large.client_ms + m_large.refine_client_ms
        all_s = total_s + m_small.server_ms + m_small.refine_server_ms
        all_l = total_l + m_large.server_ms + m_large.refine_server_ms
        db = "PostgreSQL's" if pg else "SQLite's (in the worker)"
        print(
            f"{label}worker CPU per article (link + refinement): {total_s:.2f} ms at 10k,"
            f" {total_l:.2f} ms at {large // 1000}k; with {db}: {all_s:.2f} / {all_l:.2f} ms"
        )
        print(f"{label}ratio large/small: client {total_l / total_s:.2f}, client+server {all_l / all_s:.2f}")
        if pg:
            one = _concurrency(eng, docs[200:], 1, 60)
            four = _concurrency(eng, docs[300:], 4, 40)
            print(
                f"concurrency (same live window, advisory lock): 1 worker {one:.0f} articles/s,"
                f" 4 workers {four:.0f} articles/s"
            )
    finally:
        eng.dispose()
        if admin is not None:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        if tmp is not None:
            tmp.cleanup()


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10k and 100k stored articles (default: 10k and 1M)")
    ap.add_argument("--backend", choices=("postgresql", "sqlite", "both"), default="both")
    ap.add_argument("--compare-with", type=Path, help="another checkout, measured alternately (ABBA) on the same store")
    ap.add_argument("--rounds", type=int, default=2, help="with --compare-with: rounds, each measuring both")
    ap.add_argument("--texts", choices=("ecb", "pages"), default="ecb", help="the measured articles (default ECB+)")
    args = ap.parse_args(argv)
    docs = ecb_docs(load_ecbplus())
    tpls, vocab = _templates(docs)
    keys = _key_pool(docs[:550])
    for backend in ("postgresql", "sqlite"):
        if args.backend in (backend, "both"):
            measured = measured_docs(args.texts)
            _run_backend(backend, args.quick, docs, tpls, vocab, keys, args.compare_with, args.rounds, measured)


if __name__ == "__main__":
    main()
