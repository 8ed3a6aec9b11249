"""What events add per article: writing them in the transaction of the change, and relaying them.

    PYTHONPATH=$PWD python -m bench.events_cost [--articles 2000] [--rounds 5] [--backends postgresql,sqlite]

An article makes two transactions on the ingest path (store; link into a story), and each
announces one event in it (``article.created``; ``story.created``/``story.updated``). The bench
runs those two transactions per article side by side, in alternating rounds, once without and
once with the event insert (the same ``storage.outbox.add`` the handlers call, with the same
events), then relays every event written to a real Redis Stream (``relay_events``: claim,
XADD, mark published). CPU is counted where it is spent: this process, the PostgreSQL backend
serving it (``/proc/<pid>/stat``; same machine) and redis-server (``INFO cpu``). The transaction
itself is a stand-in for the change (one UPDATE of the article row), so the difference between
the arms is the events' own cost; the full ingest path around it costs ~20–40 ms per article
(field notes), which the relative figure compares with.

Needs PostgreSQL on 127.0.0.1:5432 (trust auth for ``postgres``) and ``redis-server``, as the tests.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from sqlalchemy import func, insert, select, text, update

from storage import outbox
from storage.db import Database
from storage.models import Article, EventOutbox
from storage.schema import upgrade
from tests.support.services import temporary_postgres_database, temporary_redis_server
from worker.model import events
from worker.model.clock import utcnow
from worker.service import emit
from worker.service import events as relay
from worker.service.messages import LocalDispatcher
from worker.service.runtime import Runtime
from worker.settings import load_settings

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


@dataclass
class Meter:
    """CPU seconds of this process + the database backends of this database + redis-server."""

    db: Database
    client: redis.Redis | None = None

    def _backends(self) -> float:
        if self.db.dialect != "postgresql":
            return 0.0
        with self.db.reader() as session:
            pids = list(session.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")))
        return sum(_proc_cpu(int(p)) for p in pids)

    def _redis(self) -> float:
        if self.client is None:
            return 0.0
        info = self.client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def read(self) -> tuple[float, float, float]:
        return time.process_time(), self._backends(), self._redis()


@contextmanager
def measured(meter: Meter, into: list[float]) -> Iterator[None]:
    before = meter.read()
    yield
    after = meter.read()
    into[:] = [a + (y - x) for a, x, y in zip(into or [0.0, 0.0, 0.0], before, after, strict=True)]


def _seed(db: Database, n: int) -> list[int]:
    now = utcnow()
    rows = [{"url": f"https://bench.example/{uuid.uuid4().hex}", "text": "", "created_at": now} for _ in range(n)]
    with db.transaction() as session:
        session.execute(insert(Article), rows)
        return list(session.scalars(select(Article.id).order_by(Article.id)))


def _article_transactions(db: Database, ids: list[int], *, with_events: bool) -> None:
    """Two transactions per article, as on the ingest path; each announces one event."""
    for article_id in ids:
        with db.transaction() as session:  # store
            session.execute(update(Article).where(Article.id == article_id).values(modified_at=utcnow()))
            if with_events:
                outbox.add(session, emit.stored_article(article_id, created=True, duplicate_of=None))
        with db.transaction() as session:  # link into a story
            session.execute(update(Article).where(Article.id == article_id).values(processed_at=utcnow()))
            if with_events:
                outbox.add(session, [events.story_updated(article_id % 97 + 1, [article_id], cause="link")])


@dataclass
class Result:
    backend: str
    articles: int
    base: list[float]
    with_events: list[float]
    relay: list[float]
    events: int

    def per_article_ms(self, part: list[float]) -> float:
        return 1000 * sum(part) / self.articles

    def line(self) -> str:
        write = [b - a for a, b in zip(self.base, self.with_events, strict=True)]
        total = [w + r for w, r in zip(write, self.relay, strict=True)]
        parts = ("client", "database", "redis")

        def split(v: list[float]) -> str:
            return ", ".join(f"{p} {1000 * x / self.articles:.3f}" for p, x in zip(parts, v, strict=True))

        return (
            f"{self.backend}: {self.articles} articles, {self.events} events\n"
            f"  two transactions per article, no events : {self.per_article_ms(self.base):.3f} ms CPU/article\n"
            f"  the same with the event inserts         : {self.per_article_ms(self.with_events):.3f} ms CPU/article\n"
            f"  writing events (difference)             : {self.per_article_ms(write):.3f} ms ({split(write)})\n"
            f"  relaying them to the stream             : "
            f"{self.per_article_ms(self.relay):.3f} ms ({split(self.relay)})\n"
            f"  added per article, writing + publishing : {self.per_article_ms(total):.3f} ms CPU"
        )


def run(backend: str, url: str, redis_url: str, articles: int, rounds: int) -> Result:
    db = Database(url)
    upgrade(db.engine, url)
    client = redis.Redis.from_url(redis_url)
    meter = Meter(db, client)
    settings = load_settings(database_url=url, redis_url=redis_url, events_stream=f"bench:{uuid.uuid4().hex}")
    rt = Runtime.build(settings, LocalDispatcher())
    rt.db.dispose()
    rt.db = db
    ids = _seed(db, articles)
    per_round = max(1, articles // (2 * rounds))
    chunks = [ids[i : i + per_round] for i in range(0, len(ids), per_round)][: 2 * rounds]
    used = sum(len(c) for c in chunks) // 2
    base: list[float] = []
    with_events: list[float] = []
    _article_transactions(db, ids[:50], with_events=True)  # warm up (caches, plans, pool)
    relay.relay_events(rt, prune=False)
    with db.transaction() as session:
        session.execute(EventOutbox.__table__.delete())
    for i, chunk in enumerate(chunks):  # alternate, so drift in the machine's load hits both arms
        events_on = i % 2 == 1
        with measured(meter, with_events if events_on else base):
            _article_transactions(db, chunk, with_events=events_on)
    with db.reader() as session:
        written = int(session.scalar(select(func.count()).select_from(EventOutbox)) or 0)
    relayed: list[float] = []
    with measured(meter, relayed):
        while relay.relay_events(rt, prune=False).published:
            pass
    assert client.xlen(settings.events_stream) >= written
    rt.fetcher.close()
    db.dispose()
    return Result(backend, used, base, with_events, relayed, written)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=2000, help="articles in all (half of them with events)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per arm")
    parser.add_argument("--backends", default="postgresql,sqlite")
    args = parser.parse_args(argv)
    results: list[Result] = []
    with temporary_redis_server() as redis_url:
        for backend in args.backends.split(","):
            if backend == "postgresql":
                with temporary_postgres_database("nwbench") as url:
                    results.append(run(backend, url, redis_url, args.articles, args.rounds))
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    url = f"sqlite:///{tmp}/events.db"
                    results.append(run(backend, url, redis_url, args.articles, args.rounds))
    for r in results:
        print(r.line())


if __name__ == "__main__":
    main()
