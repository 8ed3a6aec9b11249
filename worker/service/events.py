"""The event relay: outbox rows out to the Redis Stream (and the optional webhook).

Beat runs :func:`relay_events` every ``NEWSWORKER_EVENTS_RELAY_INTERVAL_SECONDS`` (2 s);
``newsworker run`` runs it after each pass. One relay transaction claims a batch of
unpublished events (``storage.outbox.claim``), XADDs them in one pipeline, marks them
published and commits. A relay killed between XADD and COMMIT leaves the batch unpublished:
the next relay publishes it again, with the same event ids (at-least-once; consumers dedupe
by the ``id`` field). Nothing is lost and nothing is published that did not commit.

The webhook (``NEWSWORKER_WEBHOOK_URL``) has its own cursor (``delivered_at``): events are
POSTed one by one in order, signed with HMAC-SHA256; a failure is retried with exponential
back-off and holds back the events after it (so a consumer sees them in order).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from storage import outbox
from storage.outbox import Backlog, OutboxRow, Sink
from worker.model.clock import utcnow
from worker.model.events import Event
from worker.model.fetch import FetchError
from worker.service.runtime import Runtime
from worker.settings import Settings

log = logging.getLogger("newsworker.events")

SIGNATURE_HEADER = "X-Newsworker-Signature"
EVENT_ID_HEADER = "X-Newsworker-Event-Id"
EVENT_TYPE_HEADER = "X-Newsworker-Event-Type"
WEBHOOK_BATCH = 100
WEBHOOK_BACKOFF_MAX = timedelta(minutes=10)
PRUNE_EVERY_SECONDS = 60.0
MAX_BATCHES = 20  # per relay call: a beat task stays short, the next one goes on


class Publisher(Protocol):
    def publish(self, rows: Sequence[OutboxRow]) -> None: ...


@dataclass
class StreamPublisher:
    """XADD each event to one stream in one round trip, then cap the stream at about ``maxlen``
    entries (one XTRIM per batch rather than MAXLEN on every XADD: fewer arguments to pack)."""

    client: Any  # redis.Redis
    stream: str
    maxlen: int

    def publish(self, rows: Sequence[OutboxRow]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for row in rows:
            pipe.xadd(self.stream, row.event.stream_fields())
        pipe.xtrim(self.stream, maxlen=self.maxlen, approximate=True)
        pipe.execute()


_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def redis_client(url: str) -> Any:
    """One client (connection pool) per URL and process; redis-py re-creates it after a fork."""
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            import redis

            client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
            _clients[url] = client
        return client


def stream_publisher(settings: Settings) -> StreamPublisher | None:
    url = settings.effective_redis_url
    if url is None:
        return None
    return StreamPublisher(redis_client(url), settings.events_stream, settings.events_maxlen)


def sinks(settings: Settings) -> tuple[Sink, ...]:
    """Where events go: the stream when there is Redis, the webhook when one is set."""
    found: list[Sink] = []
    if settings.effective_redis_url is not None:
        found.append("stream")
    if settings.webhook_url:
        found.append("webhook")
    return tuple(found)


@dataclass
class RelayReport:
    published: int = 0
    delivered: int = 0
    delivery_failures: int = 0
    pruned: int = 0


_last_prune = 0.0


def relay_events(
    rt: Runtime,
    *,
    publisher: Publisher | None = None,
    batch_size: int | None = None,
    max_batches: int = MAX_BATCHES,
    prune: bool | None = None,
) -> RelayReport:
    """Publish unpublished events, deliver undelivered ones to the webhook, prune old ones."""
    global _last_prune
    settings = rt.settings
    report = RelayReport()
    limit = batch_size or settings.events_batch_size
    publisher = publisher if publisher is not None else stream_publisher(settings)
    if publisher is not None:
        for _ in range(max_batches):
            published = _publish_batch(rt, publisher, limit)
            report.published += published
            if published < limit:
                break
    if settings.webhook_url:
        delivered, failed = deliver_webhook(rt)
        report.delivered += delivered
        report.delivery_failures += failed
    if prune or (prune is None and time.monotonic() - _last_prune > PRUNE_EVERY_SECONDS):
        _last_prune = time.monotonic()
        report.pruned = prune_events(rt)
    if report.published or report.delivered or report.delivery_failures:
        log.info(
            "events relayed",
            extra={"published": report.published, "delivered": report.delivered, "failed": report.delivery_failures},
        )
    return report


def _publish_batch(rt: Runtime, publisher: Publisher, limit: int) -> int:
    with rt.db.transaction() as session:
        rows = outbox.claim(session, limit=limit)
        if not rows:
            return 0
        publisher.publish(rows)  # raises: the transaction rolls back, the batch stays unpublished
        outbox.mark_published(session, [r.seq for r in rows], utcnow())
    return len(rows)


def prune_events(rt: Runtime) -> int:
    now = utcnow()
    with rt.db.transaction() as session:
        return outbox.prune(
            session, outbox.retention_cutoff(now, rt.settings.events_retention_seconds), sinks=sinks(rt.settings)
        )


def backlog(rt: Runtime) -> Backlog:
    with rt.db.reader() as session:
        return outbox.backlog(session, sinks=sinks(rt.settings) or ("stream",))


# ------------------------------------------------------------------ webhook


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does (constant-time comparison)."""
    return hmac.compare_digest(sign(secret, body), header)


def _retry_delay(attempts: int) -> timedelta:
    return min(WEBHOOK_BACKOFF_MAX, timedelta(seconds=2 ** min(attempts, 12)))


def deliver_webhook(rt: Runtime) -> tuple[int, int]:
    """POST undelivered events in order; stop at the first failure (retried after a back-off).

    Returns (delivered, failed). On PostgreSQL one relay at a time delivers (an advisory lock
    held by its transaction; the others skip the webhook), and no outbox row is locked during
    the POSTs, so stream publishing goes on; on SQLite the POSTs happen outside the write lock,
    so ingestion never waits for a slow webhook (one relay at a time there anyway)."""
    settings = rt.settings
    assert settings.webhook_url is not None
    if rt.db.dialect == "postgresql":
        with rt.db.transaction() as session:
            if not outbox.take_webhook_turn(session):
                return 0, 0
            now = utcnow()
            rows = outbox.claim(session, limit=WEBHOOK_BATCH, sink="webhook", now=now)
            done, failure = _post_in_order(rt, rows)
            _record_deliveries(session, rows, done, failure, now, settings.webhook_max_attempts)
    else:
        now = utcnow()
        with rt.db.reader() as session:
            rows = outbox.claim(session, limit=WEBHOOK_BATCH, sink="webhook", now=now)
        done, failure = _post_in_order(rt, rows)
        with rt.db.transaction() as session:
            _record_deliveries(session, rows, done, failure, utcnow(), settings.webhook_max_attempts)
    return len(done), 1 if failure else 0


def _post_in_order(rt: Runtime, rows: Sequence[OutboxRow]) -> tuple[list[int], tuple[OutboxRow, str] | None]:
    done: list[int] = []
    for row in rows:
        error = post_event(rt, row)
        if error is not None:
            return done, (row, error)
        done.append(row.seq)
    return done, None


def post_event(rt: Runtime, row: OutboxRow) -> str | None:
    """POST one event through the project's one fetcher (same address policy); None if 2xx."""
    settings = rt.settings
    assert settings.webhook_url is not None
    body = row.event.to_json().encode()
    headers = {
        "Content-Type": "application/json",
        EVENT_ID_HEADER: row.event.id,
        EVENT_TYPE_HEADER: row.event.type,
    }
    if settings.webhook_secret:
        headers[SIGNATURE_HEADER] = sign(settings.webhook_secret, body)
    try:
        status = rt.fetcher.fetcher.post(settings.webhook_url, body, headers=headers)
    except FetchError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if 200 <= status < 300 else f"HTTP {status}"


def _record_deliveries(
    session: Any,
    rows: Sequence[OutboxRow],
    done: list[int],
    failure: tuple[OutboxRow, str] | None,
    now: datetime,
    max_attempts: int,
) -> None:
    outbox.mark_delivered(session, done, now)
    if failure is None:
        return
    row, error = failure
    attempts = row.delivery_attempts + 1
    give_up = attempts >= max_attempts
    if give_up:
        log.error(
            "webhook: giving up on an event",
            extra={"event_id": row.event.id, "event_type": row.event.type, "attempts": attempts, "error": error},
        )
    else:
        log.warning(
            "webhook: delivery failed, will retry",
            extra={"event_id": row.event.id, "attempts": attempts, "error": error},
        )
    outbox.delivery_failed(
        session,
        row.seq,
        attempts=attempts,
        retry_at=None if give_up else now + _retry_delay(attempts),
        error=error,
        now=now,
    )


# ------------------------------------------------------------------ following the events (``events tail``)


@dataclass(frozen=True)
class Received:
    position: str  # the stream entry id, or the outbox seq without Redis
    event: Event


class StreamTail:
    """A member of a Redis consumer group on the events stream (XREADGROUP + XACK).

    ``start`` places the group: ``0`` everything still on the stream, ``$`` only new events, or
    a stream entry id (events after it). A new group without ``start`` begins at ``$``; an
    existing one goes on where it stopped. Entries this consumer was given but never
    acknowledged (a tail that was killed) are delivered again first."""

    def __init__(self, client: Any, stream: str, group: str, consumer: str, start: str | None = None) -> None:
        import redis

        self.client, self.stream, self.group, self.consumer = client, stream, group, consumer
        try:
            client.xgroup_create(stream, group, id=start or "$", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
            if start is not None:
                client.xgroup_setid(stream, group, id=start)
        self._backlog = True  # own pending entries first

    def read(self, *, block_ms: int, count: int = 100) -> list[Received]:
        cursor = "0" if self._backlog else ">"
        got = self.client.xreadgroup(
            self.group,
            self.consumer,
            {self.stream: cursor},
            count=count,
            block=block_ms if block_ms > 0 and not self._backlog else None,  # BLOCK 0 would wait forever
        )
        entries = [(i, f) for _name, batch in (got or []) for i, f in batch if f]
        if self._backlog and not entries:
            self._backlog = False
            return self.read(block_ms=block_ms, count=count)
        return [Received(_text(i), Event.from_stream_fields(f)) for i, f in entries]

    def ack(self, received: Sequence[Received]) -> None:
        if received:
            self.client.xack(self.stream, self.group, *[r.position for r in received])


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


class OutboxTail:
    """Without Redis: follow the database outbox itself (published or not), by ``seq``.

    ``start``: ``0`` from the oldest event kept, a seq number or an event id (events after
    it); None: only events written from now on."""

    def __init__(self, db: Any, start: str | None = None) -> None:
        self.db = db
        with db.reader() as session:
            if start is None:
                self.after = outbox.last_seq(session)
            elif start.isdigit():
                self.after = int(start)
            else:
                seq = outbox.seq_of(session, start)
                if seq is None:
                    raise LookupError(f"no event {start!r} in the outbox (pruned, or never written)")
                self.after = seq

    def read(self, *, block_ms: int, count: int = 100) -> list[Received]:
        with self.db.reader() as session:
            rows = outbox.read_after(session, self.after, limit=count)
        if not rows:
            if block_ms:
                time.sleep(block_ms / 1000)
            return []
        self.after = rows[-1].seq
        return [Received(str(r.seq), r.event) for r in rows]

    def ack(self, received: Sequence[Received]) -> None:
        return None


def backlog_reader(settings: Settings) -> Any:
    """A function the metrics endpoint calls at scrape time: (unpublished events, age in seconds
    of the oldest). It opens its own small connection pool on first use."""
    from storage.db import Database

    holder: dict[str, Database] = {}

    def read() -> tuple[int, float]:
        db = holder.get("db")
        if db is None:
            db = holder["db"] = Database(settings.database_url)
        with db.reader() as session:
            found = outbox.backlog(session, sinks=sinks(settings) or ("stream",))
        return found.unpublished, found.oldest_age_seconds(utcnow())

    return read
