"""``newsworker events tail``: follow the events newsworker announces."""

from __future__ import annotations

import json
import os
import socket

import click

from worker.cli.common import CONTEXT_SETTINGS, Context, fail, interruptible, note, pass_context
from worker.model.events import EVENT_TYPES
from worker.service import events as relay


@click.group("events", context_settings=CONTEXT_SETTINGS)
def events_group() -> None:
    """Follow the events (article.created, story.merged, feed.failing, ...)."""


@events_group.command("tail")
@click.option("--type", "types", multiple=True, type=click.Choice(EVENT_TYPES), help="Only these types (repeatable).")
@click.option(
    "--from",
    "start",
    help="Where to start: 0 (every event kept), $ (new only), a stream entry id; "
    "without Redis an outbox seq or an event id. Default: new events (an existing group goes on).",
)
@click.option("--group", default="newsworker-tail", show_default=True, help="Redis consumer group.")
@click.option("--consumer", help="Consumer name within the group (default: host-pid).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--follow/--no-follow", default=True, show_default=True, help="Wait for new events, or stop.")
@click.option("--limit", type=int, help="Stop after this many events.")
@pass_context
def events_tail(
    ctx: Context,
    types: tuple[str, ...],
    start: str | None,
    group: str,
    consumer: str | None,
    as_json: bool,
    follow: bool,
    limit: int | None,
) -> None:
    """Print events as they are published: from the Redis Stream through a real consumer group
    (XREADGROUP, acknowledged after printing), or from the database outbox when no Redis is
    configured. Delivery is at-least-once: dedupe by the event id."""
    settings = ctx.settings
    tail: relay.StreamTail | relay.OutboxTail
    url = settings.effective_redis_url
    if url is not None:
        import redis

        try:
            tail = relay.StreamTail(
                relay.redis_client(url),
                settings.events_stream,
                group,
                consumer or f"{socket.gethostname()}-{os.getpid()}",
                start,
            )
        except redis.RedisError as exc:
            fail(f"cannot read the events stream {settings.events_stream!r}: {exc}")
    else:
        note("no Redis configured: following the database outbox")
        try:
            tail = relay.OutboxTail(ctx.database(), start)
        except LookupError as exc:
            fail(str(exc))
    try:
        _follow(tail, types, as_json, follow, limit)
    except Exception as exc:  # redis or database errors: say what, not a traceback
        if type(exc).__module__.split(".")[0] not in ("redis", "sqlalchemy"):
            raise
        fail(f"lost the event source: {exc}")


def _follow(
    tail: relay.StreamTail | relay.OutboxTail, types: tuple[str, ...], as_json: bool, follow: bool, limit: int | None
) -> None:
    shown = 0
    with interruptible("stopped"):
        while limit is None or shown < limit:
            batch = tail.read(block_ms=1000 if follow else 0, count=min(100, limit - shown) if limit else 100)
            for item in batch:
                e = item.event
                if not types or e.type in types:
                    if as_json:
                        click.echo(json.dumps({"position": item.position, **e.as_dict()}, sort_keys=True))
                    else:
                        data = json.dumps(dict(e.data), sort_keys=True, separators=(",", ":"))
                        click.echo(f"{item.position} {e.as_dict()['occurred_at']} {e.type} {e.subject} {data}")
                    shown += 1
            tail.ack(batch)
            if not batch and not follow:
                break
