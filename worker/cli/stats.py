"""``newsworker stats``: one screen on the state of the system."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime

import click
import redis
from rich.table import Table

from storage import outbox, queries
from worker.cli.common import CONTEXT_SETTINGS, EXIT_FAILED, Context, age, console, echo_json, pass_context, when
from worker.model.clock import utcnow
from worker.service import events as relay

QUEUES = ("poll", "fetch", "process", "reingest")
# kombu's Redis transport keeps one list per priority step: "<queue>" and "<queue>\x06\x16<step>".
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)


@dataclass(frozen=True)
class QueueDepths:
    depths: dict[str, int]
    unacked: int  # delivered to a worker, not yet acknowledged
    error: str | None = None


def queue_depths(broker_url: str) -> QueueDepths:
    client = redis.Redis.from_url(broker_url, socket_connect_timeout=3, socket_timeout=3)
    try:
        pipe = client.pipeline(transaction=False)
        for queue in QUEUES:
            pipe.llen(queue)
            for step in _PRIORITY_STEPS:
                pipe.llen(f"{queue}{_PRIORITY_SEPARATOR}{step}")
        pipe.hlen("unacked")
        values = [int(v) for v in pipe.execute()]
    except redis.RedisError as exc:
        return QueueDepths({}, 0, f"cannot read queue depths from the broker: {exc}")
    finally:
        client.close()
    per_queue = 1 + len(_PRIORITY_STEPS)
    depths = {q: sum(values[i * per_queue : (i + 1) * per_queue]) for i, q in enumerate(QUEUES)}
    return QueueDepths(depths, values[-1])


@click.command("stats", context_settings=CONTEXT_SETTINGS)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def stats_command(ctx: Context, as_json: bool) -> None:
    """Feeds, articles, stories, queue depths, last poll and the oldest pending entry."""
    db = ctx.database()
    now = utcnow()
    sinks = relay.sinks(ctx.settings)
    with db.reader() as session:
        numbers = queries.stats(session, now)
        backlog = outbox.backlog(session, sinks=sinks or ("stream",))
    queues = queue_depths(ctx.settings.broker_url) if ctx.settings.broker_url else None
    if as_json:
        echo_json(
            {
                "feeds": {"total": numbers.feeds_total, **numbers.feeds_by_status},
                "articles": {
                    "total": numbers.articles_total,
                    "today": numbers.articles_today,
                    "duplicates": numbers.duplicates,
                    "failed": numbers.failed_articles,
                },
                "stories": numbers.stories,
                "entries_pending": numbers.entries_pending,
                "reingest": {
                    "active_runs": numbers.reingest_active_runs,
                    "pending_items": numbers.reingest_pending_items,
                },
                "oldest_pending_at": numbers.oldest_pending_at,
                "last_poll_at": numbers.last_poll_at,
                "last_success_at": numbers.last_success_at,
                "events": {
                    "unpublished": backlog.unpublished,
                    "oldest_unpublished_at": backlog.oldest_at,
                    "oldest_unpublished_age_seconds": round(backlog.oldest_age_seconds(now), 3),
                    "sinks": list(sinks),
                },
                "queues": None if queues is None else {**queues.depths, "unacked": queues.unacked},
                "queues_error": queues.error if queues else None,
                "work": numbers.work,
                "work_failures": numbers.work_failures,
            }
        )
    else:
        table = Table("", "", show_header=False, title="newsworker stats")
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(numbers.feeds_by_status.items()))
        table.add_row("feeds", f"{numbers.feeds_total} ({statuses})")
        table.add_row(
            "articles",
            f"{numbers.articles_total} total, {numbers.articles_today} today, {numbers.duplicates} duplicates, "
            f"{numbers.failed_articles} with a failed page fetch",
        )
        table.add_row("stories", str(numbers.stories))
        table.add_row("last poll", when(numbers.last_poll_at, now=now))
        table.add_row("last successful poll", when(numbers.last_success_at, now=now))
        pending = "none"
        if numbers.entries_pending:
            oldest = numbers.oldest_pending_at
            pending = f"{numbers.entries_pending}, oldest " + (age(now - oldest) if oldest else "-")
        table.add_row("entries pending", pending)
        if numbers.reingest_active_runs:
            table.add_row(
                "re-ingest",
                f"{numbers.reingest_active_runs} run(s) in progress, {numbers.reingest_pending_items} article(s) "
                "to go (`newsworker reingest status`)",
            )
        if numbers.work:
            table.add_row(
                "work in flight",
                "; ".join(
                    f"{kind}: {c['queued']} queued, {c['running']} running, {c['failed']} failed"
                    for kind, c in sorted(numbers.work.items())
                ),
            )
        for failure in numbers.work_failures:
            table.add_row(
                "[red]failed[/]", f"{failure.kind.removeprefix('newsworker.')} {failure.item}: {failure.error[:200]}"
            )
        table.add_row("events", _events_row(backlog, sinks, now))
        if queues is None:
            table.add_row("queues", "embedded mode (no broker): work runs inside `newsworker run`")
        elif queues.error:
            table.add_row("queues", f"[red]{queues.error}[/]")
        else:
            depths = ", ".join(f"{q} {n}" for q, n in queues.depths.items())
            table.add_row("queues", f"{depths}; {queues.unacked} delivered, not yet acknowledged")
        console.print(table)
    if queues is not None and queues.error:
        if not as_json:
            console.print("check NEWSWORKER_BROKER_URL and that Redis is running", highlight=False)
        sys.exit(EXIT_FAILED)


def _events_row(backlog: outbox.Backlog, sinks: tuple[str, ...], now: datetime) -> str:
    if not sinks:
        return f"{backlog.unpublished} in the outbox (no Redis or webhook: `newsworker events tail` reads them there)"
    if not backlog.unpublished:
        return f"all published ({', '.join(sinks)})"
    oldest = age(now - backlog.oldest_at) if backlog.oldest_at else "-"
    return f"{backlog.unpublished} unpublished, oldest {oldest}"
