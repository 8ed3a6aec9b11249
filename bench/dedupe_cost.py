"""CPU cost of the dedupe stage against a real PostgreSQL index of 10k and 1M articles.

Run: ``PYTHONPATH=$PWD python -m bench.dedupe_cost [--large 1000000 | --skip-large]``
(PostgreSQL on 127.0.0.1:5432, user postgres; throw-away databases are
created and dropped; the 1M one takes ~2 minutes to load and ~3.4 GB).

What is measured per article: ``fingerprint`` + exact-hash lookup + band
candidate query + loading and verifying the candidates (``check_duplicate``
over ``SqlDuplicateIndex``), in a read transaction. Client CPU is this
process's CPU time; server CPU is the PostgreSQL backend's utime+stime read
from ``/proc`` (10 ms ticks, so it is summed over the whole run). The write
path (advisory locks + article row + band rows, rolled back) is reported on
its own line.

The two sizes live in two throw-away databases built side by side and are
measured in interleaved rounds (median of ``--rounds``), so machine drift
hits both alike; the ratio is the figure that matters.

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
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    text,
)
from sqlalchemy.engine import Connection

from bench.dupset import SEED, Doc, build
from storage.dedupe_index import (
    ArticleColumns,
    SqlDuplicateIndex,
    band_table,
    dedupe_and_store,
)
from worker.dedupe.minhash import BANDS, check_duplicate, fingerprint
from worker.model.dedupe import ORIGINAL, DuplicateVerdict, Fingerprint
from worker.model.urls import site_of

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


def inserter(
    conn: Connection, articles: Table, url: str, body: str, fp: Fingerprint
) -> Callable[[DuplicateVerdict], int]:
    """What the lead's ingest code does: insert the article row, return its id."""

    def insert(verdict: DuplicateVerdict) -> int:
        row = conn.execute(
            articles.insert()
            .values(url=url, text=body, content_hash=fp.content_hash, duplicate_of=verdict.original_id)
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

    @property
    def total_ms(self) -> float:
        return self.client_ms + self.server_ms


def median_measure(rounds: list[Measure]) -> Measure:
    return Measure(
        statistics.median(m.client_ms for m in rounds),
        statistics.median(m.server_ms for m in rounds),
        statistics.median(m.wall_ms for m in rounds),
    )


class IndexedDatabase:
    """One throw-away database holding ``size`` synthetic articles plus real ones."""

    def __init__(self, admin: Any, size: int, ingested: list[Doc]) -> None:
        self.admin = admin
        self.size = size
        self.name = f"nw_dedupe_bench_{uuid.uuid4().hex[:10]}"
        admin.execute(f'CREATE DATABASE "{self.name}"')
        self.engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.name}")
        metadata, self.articles, self.bands = schema()
        metadata.create_all(self.engine)
        self.cols = ArticleColumns.from_table(self.articles)
        started = time.perf_counter()
        with self.engine.begin() as conn:
            load_synthetic(conn, 1, size)
        self.load_seconds = time.perf_counter() - started
        for doc in ingested:
            fp = fingerprint(doc.text)
            with self.engine.begin() as conn:
                index = SqlDuplicateIndex(conn, self.bands, self.cols)
                dedupe_and_store(
                    conn,
                    index,
                    fp,
                    inserter(conn, self.articles, doc.url, doc.text, fp),
                    check=check_duplicate,
                    site=site_of(doc.url),
                )
        with self.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
            self.sizes = table_sizes(conn)
        self.conn = self.engine.connect()
        self.pid = int(self.conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        self.conn.rollback()
        self.index = SqlDuplicateIndex(self.conn, self.bands, self.cols)

    def check_round(self, queries: list[tuple[str, str]], paths: Counter[str] | None = None) -> Measure:
        server0, cpu0, wall0 = backend_cpu(self.pid), time.process_time(), time.perf_counter()
        for body, site in queries:
            verdict = check_duplicate(fingerprint(body), self.index, site=site)
            if paths is not None:
                paths[path_of(verdict)] += 1
        self.conn.rollback()
        cpu1, wall1, server1 = time.process_time(), time.perf_counter(), backend_cpu(self.pid)
        n = len(queries)
        return Measure((cpu1 - cpu0) / n * 1e3, (server1 - server0) / n * 1e3, (wall1 - wall0) / n * 1e3)

    def write_round(self, queries: list[tuple[str, str]], dedupe: bool = True) -> Measure:
        """Lock + check + insert article + bands, each in its own rolled-back
        transaction; ``dedupe=False`` inserts the article row alone (baseline)."""
        conn = self.conn
        server0, cpu0, wall0 = backend_cpu(self.pid), time.process_time(), time.perf_counter()
        for n, (body, site) in enumerate(queries):
            fp = fingerprint(body)
            with conn.begin() as trans:
                insert = inserter(conn, self.articles, f"https://bench.test/{n}", body, fp)
                if dedupe:
                    dedupe_and_store(conn, self.index, fp, insert, check=check_duplicate, site=site)
                else:
                    insert(ORIGINAL)
                trans.rollback()
        cpu1, wall1, server1 = time.process_time(), time.perf_counter(), backend_cpu(self.pid)
        n = len(queries)
        return Measure((cpu1 - cpu0) / n * 1e3, (server1 - server0) / n * 1e3, (wall1 - wall0) / n * 1e3)

    def drop(self) -> None:
        self.conn.close()
        self.engine.dispose()
        self.admin.execute(f'DROP DATABASE "{self.name}" WITH (FORCE)')


def path_of(verdict: DuplicateVerdict) -> str:
    if verdict.kind == "exact":
        return "exact hash"
    if verdict.kind is not None:
        return "verified near/excerpt"
    return "checked, original" if verdict.candidates_checked else "no candidate"


def fingerprint_only(queries: list[tuple[str, str]], rounds: int) -> float:
    best: list[float] = []
    for _ in range(rounds):
        cpu0 = time.process_time()
        for body, _site in queries:
            fingerprint(body)
        best.append((time.process_time() - cpu0) / len(queries) * 1e3)
    return statistics.median(best)


def table_sizes(conn: Connection) -> str:
    row = conn.execute(
        text(
            "SELECT (SELECT count(*) FROM article_bands), "
            "pg_size_pretty(pg_total_relation_size('article_bands')), "
            "(SELECT count(*) FROM articles)"
        )
    ).one()
    return f"{row[2]:,} articles, {row[0]:,} band rows, article_bands {row[1]} with indexes"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="dedupe stage CPU per article, 10k vs 1M")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
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
    queries = [(d.text, site_of(d.url)) for d in held_out] + [
        (c.text, site_of(c.url)) for c in ds.copies if c.kind != "tracking"
    ]

    admin = psycopg.connect(ADMIN_DSN, autocommit=True)
    dbs: list[IndexedDatabase] = []
    try:
        sizes = [args.small] if args.skip_large else [args.small, args.large]
        for size in sizes:
            dbs.append(IndexedDatabase(admin, size, ingested))
            print(f"loaded {size:,} synthetic articles in {dbs[-1].load_seconds:.0f} s: {dbs[-1].sizes}")
        fp_ms = fingerprint_only(queries, args.rounds)
        print(
            f"queries: {len(queries)} real texts ({len(held_out)} new ECB+ articles, "
            f"{len(queries) - len(held_out)} copies); fingerprint alone {fp_ms:.3f} ms CPU"
        )
        paths: Counter[str] = Counter()
        for db in dbs:  # warm caches and SQLAlchemy's statement cache
            db.check_round(queries, paths if db is dbs[0] else None)
        checks: dict[int, list[Measure]] = {db.size: [] for db in dbs}
        writes: dict[int, list[Measure]] = {db.size: [] for db in dbs}
        plain: dict[int, list[Measure]] = {db.size: [] for db in dbs}
        for _ in range(args.rounds):  # interleaved, so drift hits both sizes alike
            for db in dbs:
                checks[db.size].append(db.check_round(queries))
        for _ in range(max(1, args.rounds // 2)):
            for db in dbs:
                writes[db.size].append(db.write_round(queries))
                plain[db.size].append(db.write_round(queries, dedupe=False))
        print(f"paths: {dict(paths)}\n")
        print(
            f"{'indexed':>10}{'client CPU':>12}{'server CPU':>12}{'total CPU':>11}{'wall':>9}"
            f"   write path CPU: lock+check+insert+bands | article insert alone"
        )
        result: dict[int, Measure] = {}
        for db in dbs:
            m = result[db.size] = median_measure(checks[db.size])
            w = median_measure(writes[db.size])
            p = median_measure(plain[db.size])
            print(
                f"{db.size:>10,}{m.client_ms:>10.3f}ms{m.server_ms:>10.3f}ms"
                f"{m.total_ms:>9.3f}ms{m.wall_ms:>7.3f}ms   {w.total_ms:.3f} ms "
                f"({w.client_ms:.3f} client + {w.server_ms:.3f} server) | {p.total_ms:.3f} ms"
            )
        if len(dbs) == 2:
            small_m, large_m = result[args.small], result[args.large]
            print(
                f"\nratio {args.large:,}/{args.small:,} total CPU: "
                f"{large_m.total_ms / small_m.total_ms:.2f} (client "
                f"{large_m.client_ms / small_m.client_ms:.2f}, server "
                f"{large_m.server_ms / max(small_m.server_ms, 1e-9):.2f}); target <= 1.5"
            )
        return 0
    finally:
        for db in dbs:
            db.drop()
        admin.close()


if __name__ == "__main__":
    sys.exit(main())
