"""The sweeper and a real Redis broker: messages lost in a restart, and a sweep gap after an outage.

The fault run's Redis kill: messages Redis had accepted in the last second before ``kill -9`` were
gone after the restart (the append-only file is written every second), and their items were sent
again only once their queue was empty, 160 s later. Its PostgreSQL outage: a lease that ran out
because the heartbeat could not reach the database was counted as a crash of a live worker.
Here a private ``redis-server`` with its append-only file is killed and restarted for real; the
messages are Celery's own (``tasks.app.CeleryDispatcher``), taken by a consumer the way a
late-acknowledging worker takes them (into Redis's unacknowledged hash).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from contextlib import suppress
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from storage.db import Database
from storage.models import WorkItem
from tasks.app import CeleryDispatcher, app
from tests.faults.cluster import RedisServer
from tests.support.processes import wait_for
from worker.model.clock import utcnow
from worker.service import handlers, work
from worker.service.imports import ImportItem
from worker.service.messages import ProcessArticle
from worker.service.runtime import Runtime
from worker.settings import get_settings, load_settings

TEXT = (
    "The city council of Springfield voted on Tuesday to rebuild the old river bridge after engineers "
    "found cracks in two of its supports, the mayor said in a statement after the meeting."
)


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisServer]:
    server = RedisServer().start()
    client = server.client()
    client.config_set("appendfsync", "always")  # what was accepted survives the kill (no timing)
    client.close()
    monkeypatch.setenv("NEWSWORKER_REDIS_KEY_PREFIX", f"t{uuid.uuid4().hex[:8]}:")
    get_settings.cache_clear()
    for name in ("broker_url", "broker_read_url", "broker_write_url"):
        monkeypatch.setitem(app.conf, name, server.url)
    # the connection and producer pools are built for the broker on first use
    monkeypatch.setattr(app, "_pool", None)
    monkeypatch.setattr(app.amqp, "_producer_pool", None)
    try:
        yield server
    finally:
        while _OPEN:
            with suppress(Exception):  # the broker was killed under it
                _OPEN.pop().close()
        app.pool.force_close_all()
        server.close()


@pytest.fixture
def runtime(database: Database, broker: RedisServer) -> Iterator[Runtime]:
    rt = Runtime.build(load_settings(database_url=database.url, broker_url=broker.url), CeleryDispatcher())
    rt.db = database
    yield rt
    rt.fetcher.close()


def _import(rt: Runtime, n: int) -> list[int]:
    ids = []
    for i in range(n):
        item = ImportItem(f"https://news.example/{i}", f"Bridge {i}", f"{TEXT} Item {i}.", None, None, None)
        ids.append(handlers.import_item(rt, item, default_source="test").article_id)
    return ids


def _age_items(rt: Runtime, seconds: float) -> None:
    with rt.db.transaction() as session:
        session.execute(update(WorkItem).values(queued_at=utcnow() - timedelta(seconds=seconds)))


def _queued(broker: RedisServer) -> list[int]:
    client = broker.client()
    try:
        from tasks.brokerstate import held

        state = held(client, "", ["process"], started=0.0)  # every unacknowledged message too
    finally:
        client.close()
    assert state is not None
    return sorted(int(key) for kind, key in state.items if kind == ProcessArticle.NAME)


def test_work_redis_lost_in_a_restart_is_sent_again_at_the_next_sweep_not_when_its_queue_drains(
    runtime: Runtime, broker: RedisServer
) -> None:
    ids = _import(runtime, 5)  # five ProcessArticle messages in Redis's process queue, in order
    assert _queued(broker) == ids
    assert work.sweep(runtime).resent == 0  # the first look: Redis holds every message
    taken_before, running, lost, taken_after, waiting = ids
    channel = _consumer().default_channel
    # a late-acknowledging worker takes one: it moves to the unacknowledged hash ...
    first = channel.basic_get("process", no_ack=False)
    # ... and another one was taken and started: its item is leased, its message gone
    second = channel.basic_get("process", no_ack=True)
    assert [int(m.payload[0][0]) for m in (first, second)] == [taken_before, running]
    assert work.begin(runtime, ProcessArticle(running), "worker-task", live=True)
    # Redis loses the message of ``lost`` (as if accepted less than a second before the kill)
    client = broker.client()
    kept = [p for p in client.lrange("process", 0, -1) if _article_id(json.loads(p)) != lost]
    client.delete("process")
    client.rpush("process", *kept)
    client.close()
    _age_items(runtime, 10)
    assert work.sweep(runtime).resent == 0  # no restart seen: a busy queue keeps its items
    broker.kill()  # every connection dies with it: ``taken_before`` will never be acknowledged
    broker.start()
    client = broker.client()
    # Redis counts its uptime in whole seconds: a message delivered in the first two after the
    # restart may be taken for one delivered before (sent twice: harmless); this one is not
    wait_for(lambda: int(client.info("server")["uptime_in_seconds"]) >= 3, 10, "3 s of uptime")
    client.close()
    after = _consumer().default_channel.basic_get("process", no_ack=False)  # a worker back at work
    assert after is not None and int(after.payload[0][0]) == taken_after
    report = work.sweep(runtime)
    assert report.resent == 2, report
    assert _queued(broker) == sorted([taken_before, lost, taken_after, waiting])
    with runtime.db.reader() as session:
        rows = {int(r.key): r for r in session.scalars(select(WorkItem))}
    assert rows[lost].crashes == 0 and rows[lost].lease_owner is None
    assert rows[running].lease_owner == "worker-task"  # a running item is left to its worker
    assert work.sweep(runtime).resent == 0  # handled once per restart, not at every tick


def test_a_lease_that_ran_out_while_nobody_could_sweep_is_sent_again_without_a_crash(
    runtime: Runtime, broker: RedisServer
) -> None:
    first, second = _import(runtime, 2)
    assert work.sweep(runtime).resent == 0  # records the sweep (and the broker's first run id)
    for article_id in (first, second):
        assert work.begin(runtime, ProcessArticle(article_id), f"task-{article_id}", live=True)

    def expire(article_id: int) -> None:
        with runtime.db.transaction() as session:
            session.execute(
                update(WorkItem)
                .where(WorkItem.key == str(article_id))
                .values(lease_until=utcnow() - timedelta(seconds=1))
            )

    # Sweeps ran all along (the database was there): a lease that runs out is a dead worker.
    expire(first)
    assert work.sweep(runtime).resent == 1
    # The database (or beat) was away for longer than a tick and a heartbeat: no sweep ran, and
    # the lease that ran out meanwhile may be a live worker's whose heartbeat failed.
    client = broker.client()
    prefix = get_settings().redis_key_prefix
    client.set(prefix + "sweep:last", float(client.get(prefix + "sweep:last") or 0) - 120)
    client.close()
    expire(second)
    assert work.sweep(runtime).resent == 1
    with runtime.db.reader() as session:
        crashes = {int(r.key): r.crashes for r in session.scalars(select(WorkItem))}
    assert crashes == {first: 1, second: 0}


def _consumer() -> Any:
    """A connection that takes messages the way a late-acknowledging worker does (into Redis's
    unacknowledged hash) and keeps them while it is open (closing it hands them back)."""
    connection = app.connection_for_write()
    _OPEN.append(connection)
    return connection


_OPEN: list[Any] = []


def _article_id(message: dict[str, Any]) -> int:
    """The article id a raw ProcessArticle message in Redis carries (its base64 JSON body)."""
    args, _, _ = json.loads(base64.b64decode(message["body"]))
    return int(args[0])
