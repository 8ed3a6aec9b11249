"""The whole poll path: ``handlers.poll_feed`` (lease, fetch, parse, schedule, fetch log) vs the bare fetch.

Run from the repo root:

    PYTHONPATH=$PWD /work/main/.venv/bin/python -m bench.poll_path
    PYTHONPATH=$PWD /work/main/.venv/bin/python -m bench.poll_path --feeds 500 --threads 1 --backends sqlite

The feed server of ``bench.poll_throughput`` (its own process) serves
``/feed/N``; 1 in 20 feeds has changed (200 + gzip RSS of 20 items), the rest
answer 304. Every feed is polled once to reach the steady state (entries
known, ETags stored), then each mode polls every feed once more, alternating
modes block by block so all see the same machine noise:

* ``fetch``: ``Fetcher.get`` plus feedparser for the 200s, nothing stored;
* ``sqlite`` / ``postgresql``: ``handlers.poll_feed`` against that database
  (a throw-away PostgreSQL database on ``NEWSWORKER_TEST_PG``'s server).

CPU per feed is this process's ``time.process_time`` (all threads), so for
SQLite it includes the database's work and for PostgreSQL only the client's.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import feedparser
from sqlalchemy import update

from bench.poll_throughput import ETAG_OLD, _serve
from storage.db import Database
from storage.models import Feed
from storage.schema import upgrade
from tests.support.services import temporary_postgres_database
from worker.http.fetch import Fetcher, FetchPolicy
from worker.model.fetch import FEED_ACCEPT
from worker.service import handlers
from worker.service.messages import LocalDispatcher
from worker.service.runtime import Runtime
from worker.settings import load_settings


def _runtime(url: str, threads: int) -> tuple[Runtime, list[int]]:
    db = Database(url)
    upgrade(db.engine, url)
    rt = Runtime.build(load_settings(database_url=url, allow_private_networks=True), LocalDispatcher())
    rt.db.dispose()
    rt.db = db
    if threads > 1:
        rt.fetcher.fetcher = Fetcher(FetchPolicy(allow_private_networks=True, pool_maxsize=max(8, threads)))
    return rt, []


def _add_feeds(rt: Runtime, base: str, feeds: int) -> list[int]:
    from storage import repo

    ids = []
    with rt.db.transaction() as session:
        for i in range(feeds):
            feed, _ = repo.add_feed(session, f"{base}/feed/{i}")
            ids.append(feed.id)
    return ids


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=2000)
    ap.add_argument("--threads", default="1,4")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--block", type=int, default=250)
    args = ap.parse_args(argv)

    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve, args=(child, 20), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{parent.recv()}"
    shown = argv if argv is not None else sys.argv[1:]
    print("command:", " ".join([sys.executable, "-m", "bench.poll_path", *shown]))
    print(f"{args.feeds} feeds, 1 in 20 changed (200 + gzip RSS of 20 items), the rest 304, steady state")
    stack = contextlib.ExitStack()
    try:
        urls: dict[str, str] = {}
        for backend in args.backends.split(","):
            if backend == "sqlite":
                urls[backend] = f"sqlite:///{stack.enter_context(tempfile.TemporaryDirectory())}/bench.db"
            elif backend == "postgresql":
                urls[backend] = stack.enter_context(temporary_postgres_database("nwbench"))
            else:
                raise SystemExit(f"unknown backend {backend!r}")
        for threads in (int(t) for t in args.threads.split(",")):
            _measure(base, urls, args.feeds, threads, args.block)
    finally:
        stack.close()
        server.terminate()
        server.join(5)
    return 0


def _measure(base: str, urls: dict[str, str], feeds: int, threads: int, block: int) -> None:
    fetcher = Fetcher(FetchPolicy(allow_private_networks=True, pool_maxsize=max(8, threads)))

    def fetch_one(i: int) -> None:
        result = fetcher.get(f"{base}/feed/{i}", etag=ETAG_OLD, accept=FEED_ACCEPT)
        if result.status == 200:
            feedparser.parse(result.body, sanitize_html=False, resolve_relative_uris=False)

    polls: dict[str, Callable[[int], None]] = {"fetch": fetch_one}
    runtimes: list[Runtime] = []
    for backend, url in urls.items():
        rt, _ = _runtime(url, threads)
        runtimes.append(rt)
        with rt.db.transaction() as session:
            session.execute(update(Feed).values(etag=None))
        ids = _add_feeds(rt, base, feeds)
        for feed_id in ids:  # steady state: entries known, ETags stored
            handlers.poll_feed(rt, feed_id)
        with rt.db.transaction() as session:  # 1 in 20 feeds changed since
            session.execute(update(Feed).values(etag=ETAG_OLD))

        def poll_one(i: int, rt: Runtime = rt, ids: list[int] = ids) -> None:
            record = handlers.poll_feed(rt, ids[i])
            assert record is not None and record.outcome in ("ok", "not_modified"), record

        polls[backend] = poll_one
    wall = dict.fromkeys(polls, 0.0)
    cpu = dict.fromkeys(polls, 0.0)
    pool = ThreadPoolExecutor(threads) if threads > 1 else None
    try:
        modes = list(polls)
        for n, lo in enumerate(range(0, feeds, block)):
            for mode in modes if n % 2 == 0 else modes[::-1]:
                chunk = range(lo, min(feeds, lo + block))
                cpu0, wall0 = time.process_time(), time.perf_counter()
                if pool is None:
                    for i in chunk:
                        polls[mode](i)
                else:
                    list(pool.map(polls[mode], chunk, chunksize=8))
                wall[mode] += time.perf_counter() - wall0
                cpu[mode] += time.process_time() - cpu0
    finally:
        if pool is not None:
            pool.shutdown()
        fetcher.close()
        for rt in runtimes:
            rt.close()
    for mode in polls:
        print(
            f"  {mode:10s} threads={threads:<2d} {feeds / wall[mode]:7.0f} feeds/s  "
            f"CPU {1000 * cpu[mode] / feeds:6.3f} ms/feed  "
            f"(x{cpu[mode] / cpu['fetch']:.2f} CPU, x{(feeds / wall[mode]) / (feeds / wall['fetch']):.2f} throughput"
            " vs fetch)",
            flush=True,
        )


if __name__ == "__main__":
    raise SystemExit(main())
