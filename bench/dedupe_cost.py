"""CPU cost of the dedupe stage against a real PostgreSQL index of 10k and 1M articles.

Run: ``PYTHONPATH=$PWD python -m bench.dedupe_cost [--large 1000000 | --skip-large]``
(PostgreSQL on 127.0.0.1:5432, user postgres; a throw-away database is
created and dropped).

What is measured per article: ``fingerprint`` + exact-hash lookup + band
candidate query + loading and verifying the candidates (``check_duplicate``
over ``SqlDuplicateIndex``), in a read transaction. Client CPU is this
process's CPU time; server CPU is the PostgreSQL backend's utime+stime read
from ``/proc`` (10 ms ticks, so it is summed over the whole run). The write
path (advisory locks + article row + band rows, rolled back) is reported on
its own line.

The index is filled with synthetic articles whose band keys are 64-bit
hashes computed inside PostgreSQL (``hashtextextended``): uniformly spread
like real band keys, but cheap to make by the million. 70% of ECB+ is
ingested through the real path; the queries are the other 30% (new
articles, some with same-event candidates) plus the test set's copies of
the ingested originals (exact and near duplicates), so every path is timed.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    ForeignKey,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    text,
)
from sqlalchemy.engine import Connection

from bench.dupset import SEED, build
from storage.dedupe_index import (
    ArticleColumns,
    SqlDuplicateIndex,
    band_table,
    dedupe_and_store,
)
from worker.dedupe import BANDS, DuplicateVerdict, Fingerprint, check_duplicate, fingerprint

ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
SYNTHETIC_ID_BASE = 10_000_000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def schema() -> tuple[MetaData, Table, Table]:
    metadata = MetaData()
    articles = Table(
        "articles",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("url", String(2048), nullable=False),
        Column("text", Text, nullable=False),
        Column("content_hash", String(64), index=True),
        Column("duplicate_of", BigInteger, ForeignKey("articles.id"), index=True),
    )
    bands = band_table(metadata)
    return metadata, articles, bands


def inserter(conn: Connection, articles: Table, url: str, body: str, fp: Fingerprint
             ) -> Callable[[DuplicateVerdict], int]:
    """What the lead's ingest code does: insert the article row, return its id."""

    def insert(verdict: DuplicateVerdict) -> int:
        row = conn.execute(
            articles.insert()
            .values(url=url, text=body, content_hash=fp.content_hash,
                    duplicate_of=verdict.original_id)
            .returning(articles.c.id)
        ).one()
        return int(row[0])

    return insert


def backend_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def load_synthetic(conn: Connection, start: int, count: int) -> None:
    """Articles and band rows made inside PostgreSQL; indexes rebuilt after."""
    conn.execute(text("SET maintenance_work_mem = '1GB'"))
    conn.execute(text("ALTER TABLE article_bands DROP CONSTRAINT article_bands_pkey"))
    conn.execute(text("DROP INDEX ix_article_bands_article_id"))
    conn.execute(
        text(
            "INSERT INTO articles (id, url, text, content_hash) "
            "SELECT CAST(:base AS bigint) + g, 'https://synthetic.test/' || g, '', "
            "md5(g::text) || md5((g + 1)::text) "
            "FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS g"
        ),
        {"base": SYNTHETIC_ID_BASE, "lo": start, "hi": start + count - 1},
    )
    conn.execute(
        text(
            "INSERT INTO article_bands (band_key, article_id) "
            "SELECT hashtextextended(g::text || ':' || b::text, 7), CAST(:base AS bigint) + g "
            "FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS g, "
            "generate_series(0, CAST(:bands AS int) - 1) AS b"
        ),
        {"base": SYNTHETIC_ID_BASE, "lo": start, "hi": start + count - 1, "bands": BANDS},
    )
    conn.execute(text("ALTER TABLE article_bands ADD PRIMARY KEY (band_key, article_id)"))
    conn.execute(text("CREATE INDEX ix_article_bands_article_id ON article_bands (article_id)"))
    conn.execute(text("ANALYZE articles"))
    conn.execute(text("ANALYZE article_bands"))


@dataclass
class Measure:
    client_ms: float
    server_ms: float
    wall_ms: float
    paths: Counter[str]

    @property
    def total_ms(self) -> float:
        return self.client_ms + self.server_ms


def measure_checks(engine: Engine, articles: Table, bands: Table, queries: list[str],
                   rounds: int) -> Measure:
    cols = ArticleColumns.from_table(articles)
    per_round: list[tuple[float, float, float]] = []
    paths: Counter[str] = Counter()
    with engine.connect() as conn:
        pid = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        conn.rollback()
        index = SqlDuplicateIndex(conn, bands, cols)
        for body in queries:  # warm caches and SQLAlchemy's statement cache
            check_duplicate(fingerprint(body), index)
        conn.rollback()
        for _ in range(rounds):
            server0, cpu0, wall0 = backend_cpu(pid), time.process_time(), time.perf_counter()
            for body in queries:
                verdict = check_duplicate(fingerprint(body), index)
                if not per_round:
                    paths[path_of(verdict)] += 1
            conn.rollback()
            cpu1, wall1, server1 = time.process_time(), time.perf_counter(), backend_cpu(pid)
            n = len(queries)
            per_round.append(((cpu1 - cpu0) / n * 1e3, (server1 - server0) / n * 1e3,
                              (wall1 - wall0) / n * 1e3))
    client = statistics.median(r[0] for r in per_round)
    server = statistics.median(r[1] for r in per_round)
    wall = statistics.median(r[2] for r in per_round)
    return Measure(client, server, wall, paths)


def measure_writes(engine: Engine, articles: Table, bands: Table, queries: list[str]) -> Measure:
    """Lock + check + insert article + bands, each in its own rolled-back transaction."""
    cols = ArticleColumns.from_table(articles)
    with engine.connect() as conn:
        pid = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        conn.rollback()
        server0, cpu0, wall0 = backend_cpu(pid), time.process_time(), time.perf_counter()
        for n, body in enumerate(queries):
            fp = fingerprint(body)
            with conn.begin() as trans:
                index = SqlDuplicateIndex(conn, bands, cols)
                insert = inserter(conn, articles, f"https://bench.test/{n}", body, fp)
                dedupe_and_store(conn, index, fp, insert)
                trans.rollback()
        cpu1, wall1, server1 = time.process_time(), time.perf_counter(), backend_cpu(pid)
    n = len(queries)
    return Measure((cpu1 - cpu0) / n * 1e3, (server1 - server0) / n * 1e3,
                   (wall1 - wall0) / n * 1e3, Counter())


def path_of(verdict: DuplicateVerdict) -> str:
    if verdict.kind == "exact":
        return "exact hash"
    if verdict.kind is not None:
        return "verified near/excerpt"
    return "checked, original" if verdict.candidates_checked else "no candidate"


def fingerprint_only(queries: list[str], rounds: int) -> float:
    best: list[float] = []
    for _ in range(rounds):
        cpu0 = time.process_time()
        for body in queries:
            fingerprint(body)
        best.append((time.process_time() - cpu0) / len(queries) * 1e3)
    return statistics.median(best)


def table_sizes(conn: Connection) -> str:
    row = conn.execute(text(
        "SELECT (SELECT count(*) FROM article_bands), "
        "pg_size_pretty(pg_total_relation_size('article_bands')), "
        "(SELECT count(*) FROM articles)")).one()
    return f"{row[2]} articles, {row[0]} band rows, article_bands {row[1]} with indexes"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="dedupe stage CPU per article, 10k vs 1M")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)

    import psycopg  # only the bench needs the admin connection

    ds = build(seed=args.seed)
    rng = random.Random(args.seed + 2)
    corpus = list(ds.corpus)
    rng.shuffle(corpus)
    originals = set(ds.originals)
    held_out = [d for d in corpus if d.key not in originals][: int(len(corpus) * 0.3)]
    held_keys = {d.key for d in held_out}
    ingested = [d for d in corpus if d.key not in held_keys]
    queries = [d.text for d in held_out] + [c.text for c in ds.copies if c.kind != "tracking"]

    name = f"nw_dedupe_bench_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(ADMIN_DSN, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    try:
        metadata, articles, bands = schema()
        metadata.create_all(engine)
        with engine.begin() as conn:
            load_synthetic(conn, 1, args.small)
        cols = ArticleColumns.from_table(articles)
        for doc in ingested:
            fp = fingerprint(doc.text)
            with engine.begin() as conn:
                index = SqlDuplicateIndex(conn, bands, cols)
                dedupe_and_store(conn, index, fp, inserter(conn, articles, doc.url, doc.text, fp))
        fp_ms = fingerprint_only(queries, args.rounds)
        print(f"queries: {len(queries)} real texts ({len(held_out)} new ECB+ articles, "
              f"{len(queries) - len(held_out)} copies); fingerprint alone {fp_ms:.3f} ms CPU")
        results: list[tuple[str, Measure, Measure]] = []
        with engine.connect() as conn:
            sizes = table_sizes(conn)
        small = measure_checks(engine, articles, bands, queries, args.rounds)
        small_w = measure_writes(engine, articles, bands, queries)
        results.append((f"{args.small:,} synthetic + {len(ingested)} real: {sizes}", small,
                        small_w))
        if not args.skip_large:
            t0 = time.perf_counter()
            with engine.begin() as conn:
                load_synthetic(conn, args.small + 1, args.large - args.small)
            with engine.connect() as conn:
                sizes = table_sizes(conn)
            print(f"bulk load to {args.large:,} took {time.perf_counter() - t0:.0f} s")
            large = measure_checks(engine, articles, bands, queries, args.rounds)
            large_w = measure_writes(engine, articles, bands, queries)
            results.append((f"{args.large:,} synthetic + {len(ingested)} real: {sizes}", large,
                            large_w))
        print(f"paths: {dict(small.paths)}\n")
        print(f"{'index':<8}{'client CPU':>12}{'server CPU':>12}{'total CPU':>11}{'wall':>9}"
              f"   write path total CPU (lock+check+insert+bands, rolled back)")
        for label, m, w in results:
            tag = "small" if m is small else "large"
            print(f"{tag:<8}{m.client_ms:>10.3f}ms{m.server_ms:>10.3f}ms{m.total_ms:>9.3f}ms"
                  f"{m.wall_ms:>7.3f}ms   {w.total_ms:.3f} ms ({w.client_ms:.3f} client + "
                  f"{w.server_ms:.3f} server)\n        {label}")
        if len(results) == 2:
            small_m, large_m = results[0][1], results[1][1]
            print(f"\nratio large/small total CPU: {large_m.total_ms / small_m.total_ms:.2f} "
                  f"(client {large_m.client_ms / small_m.client_ms:.2f}, server "
                  f"{large_m.server_ms / max(small_m.server_ms, 1e-9):.2f}); target <= 1.5")
        return 0
    finally:
        engine.dispose()
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


if __name__ == "__main__":
    sys.exit(main())
