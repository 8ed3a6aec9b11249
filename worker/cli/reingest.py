"""``newsworker reingest``: rebuild selected articles in place, with a live progress bar."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click
import redis
from rich.table import Table
from sqlalchemy.orm import Session

from storage import queries
from storage import reingest_runs as store
from storage.db import Database
from worker.cli.common import (
    CONTEXT_SETTINGS,
    DATE,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    Context,
    console,
    echo_json,
    fail,
    feed_ids_of,
    note,
    pass_context,
    progress_bar,
    resolve_stories,
    when,
)
from worker.model.clock import utcnow
from worker.service import reingest as ops
from worker.service.messages import LocalDispatcher
from worker.service.runtime import Runtime

WAIT_POLL_SECONDS = 0.5
# No progress for this long while waiting on workers: say what is probably wrong.
STALL_HINT_SECONDS = 30.0


def _reingested(p: store.RunProgress) -> str:
    """``500/633 re-ingested (79%)``: cancelled items were not re-ingested, so they do not count as done."""
    handled = p.done + p.failed
    percent = 100.0 if p.total == 0 else 100.0 * handled / p.total
    return f"{handled}/{p.total} re-ingested ({percent:.0f}%)"


def _detail(p: store.RunProgress) -> str:
    return f"changed {p.changed}, failed {p.failed}"


def _how_to_run(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options shared by `reingest` and `reingest resume`: where the work runs and how it reports."""
    for option in reversed(
        [
            click.option("--no-wait", is_flag=True, help="With a broker: return once enqueued and print the run id."),
            click.option("--in-process", is_flag=True, help="Run here even when a broker is configured."),
            click.option(
                "--batch-size",
                type=click.IntRange(1, 1000),
                default=ops.DEFAULT_TASK_BATCH,
                show_default=True,
                help="Articles per worker task.",
            ),
            click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of tables and bars."),
        ]
    ):
        command = option(command)
    return command


@click.group(
    "reingest",
    invoke_without_command=True,
    context_settings=CONTEXT_SETTINGS,
    epilog="Examples: `newsworker reingest --failed --dry-run`, `newsworker reingest --feed 3 --since 7d`, "
    "`newsworker reingest --all --no-wait` then `newsworker reingest status RUN_ID`.",
)
@click.option("--feed", "feeds", multiple=True, metavar="ID|URL", help="Articles seen in this feed (repeatable).")
@click.option("--article", "articles", multiple=True, type=int, metavar="ID", help="This article (repeatable).")
@click.option("--story", "stories", multiple=True, type=int, metavar="ID", help="Articles of this story (repeatable).")
@click.option("--since", type=DATE, help="Published (or stored, if undated) at or after DATE (2024-05-01, 7d, …).")
@click.option("--until", type=DATE, help="Published (or stored, if undated) before DATE.")
@click.option("--failed", is_flag=True, help="Articles whose page fetch or extraction failed.")
@click.option("--all", "select_all", is_flag=True, help="Every stored article.")
@click.option("--dry-run", is_flag=True, help="Print what would be re-ingested and how many; change nothing.")
@click.option("--refetch-feeds", is_flag=True, help="Also re-poll the selected feeds, ignoring ETag/Last-Modified.")
@_how_to_run
@click.pass_context
def reingest_group(
    click_ctx: click.Context,
    feeds: tuple[str, ...],
    articles: tuple[int, ...],
    stories: tuple[int, ...],
    since: datetime | None,
    until: datetime | None,
    failed: bool,
    select_all: bool,
    dry_run: bool,
    refetch_feeds: bool,
    no_wait: bool,
    in_process: bool,
    batch_size: int,
    as_json: bool,
) -> None:
    """Refetch and re-normalise stored articles, then re-run dedupe and story linking.

    Rows are updated in place: ids, addresses, sightings and story links are kept,
    and no article is ever duplicated. Selectors combine (all must match). With a
    broker the work goes to the workers' low-priority `reingest` queue; without
    one it runs here. Ctrl-C stops cleanly and says what was done.
    """
    if click_ctx.invoked_subcommand is not None:
        if feeds or articles or stories or since or until or failed or select_all:
            fail("selectors go with `newsworker reingest`, not with its subcommands")
        return
    ctx = click_ctx.find_object(Context)
    assert ctx is not None
    selectors = bool(feeds or articles or stories or since or until or failed)
    if not selectors and not select_all:
        fail(
            "say what to re-ingest: --all, or --feed/--article/--story/--since/--until/--failed "
            "(add --dry-run to preview); see `newsworker reingest --help`"
        )
    if select_all and selectors:
        fail("--all re-ingests every article; leave it out when you use selectors")
    if since and until and since >= until:
        fail("--since must be before --until")
    use_workers = not (ctx.settings.embedded or in_process)
    if no_wait and not use_workers:
        fail("--no-wait needs a broker (NEWSWORKER_BROKER_URL); without one the re-ingest runs here")

    db = ctx.database()
    with db.reader() as session:
        selection = _resolve(session, feeds, articles, stories, since, until, failed)
        count = queries.count_articles(session, selection)
        feed_ids = queries.feeds_of_articles(session, selection) if refetch_feeds else []
        sample = queries.sample_articles(session, selection, limit=20) if dry_run else []
    if dry_run:
        _print_dry_run(count, sample, feed_ids, refetch_feeds, as_json)
        return
    if count == 0 and not feed_ids:
        if as_json:
            echo_json({"run_id": None, "total": 0})
        else:
            console.print("nothing matches the selection; nothing to re-ingest")
        return
    db.dispose()
    if use_workers:
        _check_broker(ctx.settings.broker_url or "")
        _run_on_workers(ctx, selection, select_all, refetch_feeds, no_wait, batch_size, as_json)
    else:
        _run_here(ctx, selection, select_all, refetch_feeds, as_json)


def _resolve(
    session: Session,
    feeds: tuple[str, ...],
    articles: tuple[int, ...],
    stories: tuple[int, ...],
    since: datetime | None,
    until: datetime | None,
    failed: bool,
) -> queries.ArticleFilter:
    feed_ids = feed_ids_of(session, feeds)
    missing = sorted(set(articles) - store.article_ids_exist(session, articles))
    if missing:
        fail(f"no article with id {', '.join(map(str, missing))} (see `newsworker export` or `stories show`)")
    story_ids = resolve_stories(session, stories)
    return queries.ArticleFilter(
        feed_ids=feed_ids,
        article_ids=tuple(sorted(set(articles))),
        story_ids=tuple(sorted(story_ids)),
        since=since,
        until=until,
        failed=failed,
    )


def _print_dry_run(count: int, sample: list[dict[str, Any]], feed_ids: list[int], refetch: bool, as_json: bool) -> None:
    if as_json:
        echo_json({"dry_run": True, "count": count, "sample": sample, "refetch_feeds": feed_ids if refetch else []})
        return
    if sample:
        table = Table("id", "content", "published", "title", "address", title="would re-ingest (first 20)")
        for row in sample:
            table.add_row(
                str(row["id"]), row["content_source"], (row["published_at"] or "-")[:10], row["title"] or "", row["url"]
            )
        console.print(table)
    console.print(f"dry run: would re-ingest {count} article(s)", highlight=False)
    if refetch:
        console.print(f"and re-poll {len(feed_ids)} feed(s) ignoring conditional-GET state", highlight=False)


def _check_broker(broker_url: str) -> None:
    client = redis.Redis.from_url(broker_url, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        fail(
            f"cannot reach the broker ({exc}); start Redis, fix NEWSWORKER_BROKER_URL, or run here with `--in-process`"
        )
    finally:
        client.close()


def _summary(p: store.RunProgress, as_json: bool) -> None:
    if as_json:
        echo_json(p.as_dict())
    else:
        console.print(
            f"run {p.run_id} {p.status}: {p.done + p.failed} of {p.total} article(s) re-ingested — "
            f"changed {p.changed}, metadata updated {p.updated}, unchanged {p.unchanged}, gone {p.missing}, "
            f"failed {p.failed}, cancelled {p.cancelled}",
            highlight=False,
        )
        if p.failed:
            console.print(f"see the failures with `newsworker reingest status {p.run_id} --failures`")


def _exit_for(p: store.RunProgress) -> None:
    if p.failed:
        sys.exit(EXIT_FAILED)


def _run_here(
    ctx: Context, selection: queries.ArticleFilter, select_all: bool, refetch_feeds: bool, as_json: bool
) -> None:
    rt, dispatcher = ctx.runtime()
    try:
        if refetch_feeds:
            feed_ids = _feeds(rt, selection)
            with progress_bar(as_json) as bar:
                task = bar.add_task("re-polling feeds", total=len(feed_ids), detail="")
                for feed_id in feed_ids:
                    ops.refetch_feeds(rt, [feed_id], inline=True)
                    dispatcher.drain(rt)
                    bar.advance(task)
        plan = ops.plan_run(rt, selection, select_all=select_all, mode="inline", refetch_feeds=refetch_feeds)
    except KeyboardInterrupt:
        note("interrupted before the re-ingest started; no article was changed")
        sys.exit(EXIT_INTERRUPTED)
    _process_here(rt, dispatcher, plan.run_id, plan.total, as_json)


def _process_here(rt: Runtime, dispatcher: LocalDispatcher, run_id: int, todo: int, as_json: bool) -> None:
    """Re-ingest the run's pending items in this process, with a progress bar; exits with the run's code."""
    if not as_json:
        note(f"run {run_id}: re-ingesting {todo} article(s) in this process")
    with progress_bar(as_json) as bar:
        task = bar.add_task(f"run {run_id}", total=todo, detail="changed 0, failed 0")
        counts = {"changed": 0, "failed": 0}

        def advance(result: ops.ReingestResult) -> None:
            if result.outcome in counts:
                counts[result.outcome] += 1
            bar.update(task, advance=1, detail=f"changed {counts['changed']}, failed {counts['failed']}")

        try:
            stopped = ops.run_inline(rt, run_id, after_each=advance, between=lambda: dispatcher.drain(rt))
        except ops.RunStateLost as exc:
            fail(str(exc), EXIT_INTERRUPTED)
    final = ops.progress(rt, run_id)
    rt.close()
    if stopped is not None:
        note(
            f"interrupted: {stopped.handed_over} article(s) re-ingested (kept), {stopped.cancelled} not started; "
            f"`newsworker reingest resume {run_id}` does the rest"
        )
        _summary(final, as_json)
        sys.exit(EXIT_INTERRUPTED)
    _summary(final, as_json)
    _exit_for(final)


def _feeds(rt: Runtime, selection: queries.ArticleFilter) -> list[int]:
    with rt.db.reader() as session:
        return queries.feeds_of_articles(session, selection)


def _run_on_workers(
    ctx: Context,
    selection: queries.ArticleFilter,
    select_all: bool,
    refetch_feeds: bool,
    no_wait: bool,
    batch_size: int,
    as_json: bool,
) -> None:
    from tasks.reingest import producer_runtime

    rt = producer_runtime()
    try:
        if refetch_feeds:
            feed_ids = _feeds(rt, selection)
            ops.refetch_feeds(rt, feed_ids, inline=False)
            if not as_json:
                note(f"{len(feed_ids)} feed re-poll(s) sent to the poll queue")
        plan = ops.plan_run(rt, selection, select_all=select_all, mode="celery", refetch_feeds=refetch_feeds)
    except KeyboardInterrupt:
        note("interrupted before any article was enqueued; no article was changed")
        sys.exit(EXIT_INTERRUPTED)
    _enqueue_and_watch(rt, plan.run_id, plan.total, no_wait, batch_size, as_json)


def _enqueue_and_watch(
    rt: Runtime, run_id: int, todo: int, no_wait: bool, batch_size: int, as_json: bool, *, after: int = 0
) -> None:
    """Hand the run's pending items (ids above ``after``) to the workers, then follow the run unless ``no_wait``."""
    from tasks.reingest import enqueue_batch

    with progress_bar(as_json) as bar:
        task = bar.add_task(f"enqueuing run {run_id}", total=todo, detail="")
        try:
            stopped = ops.enqueue_run(
                rt, run_id, enqueue_batch, batch_size=batch_size, on_batch=lambda n: bar.advance(task, n), after=after
            )
        except ops.RunStateLost as exc:
            fail(str(exc), EXIT_INTERRUPTED)
    if stopped is not None:
        note(
            f"interrupted: {stopped.handed_over} article(s) were enqueued and will be re-ingested by the workers; "
            f"{stopped.cancelled} were not enqueued (cancelled). Follow with `newsworker reingest status {run_id}`; "
            f"`newsworker reingest resume {run_id}` enqueues the rest"
        )
        if as_json:
            echo_json(ops.progress(rt, run_id).as_dict())
        rt.close()
        sys.exit(EXIT_INTERRUPTED)
    if no_wait:
        if as_json:
            echo_json({"run_id": run_id, "total": todo, "enqueued": todo})
        else:
            console.print(
                f"run {run_id}: {todo} article(s) enqueued on the reingest queue; "
                f"follow with `newsworker reingest status {run_id} --watch`",
                highlight=False,
            )
        rt.close()
        return
    final = _watch(rt.db, run_id, as_json)
    rt.close()
    _summary(final, as_json)
    _exit_for(final)


@reingest_group.command("resume")
@click.argument("run_id", type=int)
@click.option(
    "--force",
    is_flag=True,
    help="Also take a run still marked enqueuing whose enqueuing process died (killed, container lost).",
)
@_how_to_run
@pass_context
def reingest_resume(
    ctx: Context, run_id: int, force: bool, no_wait: bool, in_process: bool, batch_size: int, as_json: bool
) -> None:
    """Finish an interrupted run: its cancelled articles are re-ingested, those done are not redone."""
    use_workers = not (ctx.settings.embedded or in_process)
    if no_wait and not use_workers:
        fail("--no-wait needs a broker (NEWSWORKER_BROKER_URL); without one the re-ingest runs here")
    db = ctx.database()
    mode = "celery" if use_workers else "inline"
    try:
        with db.transaction() as session:
            todo, after = store.resume(session, run_id, mode=mode, force=force)
    except store.RunNotFound as exc:
        fail(str(exc))
    except store.RunNotResumable as exc:
        fail(str(exc))
    db.dispose()
    if use_workers:
        _check_broker(ctx.settings.broker_url or "")
        from tasks.reingest import producer_runtime

        _enqueue_and_watch(producer_runtime(), run_id, todo, no_wait, batch_size, as_json, after=after)
    else:
        rt, dispatcher = ctx.runtime()
        _process_here(rt, dispatcher, run_id, todo, as_json)


def _progress(db: Database, run_id: int) -> store.RunProgress:
    with db.reader() as session:
        return store.progress(session, run_id)


def _watch(db: Database, run_id: int, as_json: bool) -> store.RunProgress:
    """Follow a run from the database until nothing is pending; Ctrl-C stops watching, not the run."""
    current = _progress(db, run_id)
    last_change = time.monotonic()
    hinted = False
    try:
        with progress_bar(as_json) as bar:
            task = bar.add_task(
                f"run {run_id}", total=current.total, completed=current.completed, detail=_detail(current)
            )
            while not current.finished:
                time.sleep(WAIT_POLL_SECONDS)
                latest = _progress(db, run_id)
                if latest.completed != current.completed:
                    last_change = time.monotonic()
                elif not hinted and time.monotonic() - last_change > STALL_HINT_SECONDS:
                    hinted = True
                    bar.console.print(
                        "no progress for 30 s: is a worker consuming the `reingest` queue? (`newsworker worker`)"
                    )
                current = latest
                bar.update(task, total=current.total, completed=current.completed, detail=_detail(current))
    except KeyboardInterrupt:
        note(
            f"stopped watching; the workers carry on with run {run_id}: "
            f"`newsworker reingest status {run_id} --watch` shows it again"
        )
        sys.exit(EXIT_INTERRUPTED)
    return current


@reingest_group.command("cancel")
@click.argument("run_id", type=int)
@pass_context
def reingest_cancel(ctx: Context, run_id: int) -> None:
    """End a run whose process is gone (killed, container lost): its pending articles are cancelled.

    Nothing done is undone, and `newsworker reingest resume RUN_ID` can still take the run up again."""
    db = ctx.database()
    try:
        with db.transaction() as session:
            cancelled = store.cancel_run(session, run_id, now=utcnow())
    except (store.RunNotFound, store.RunNotResumable) as exc:
        fail(str(exc))
    console.print(f"run {run_id} cancelled: {cancelled} pending article(s) will not be re-ingested")


@reingest_group.command("status")
@click.argument("run_id", type=int, required=False, metavar="[RUN_ID]")
@click.option("--watch", is_flag=True, help="Show a live progress bar until the run finishes.")
@click.option("--failures", is_flag=True, help="List the articles that failed and why.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def reingest_status(ctx: Context, run_id: int | None, watch: bool, failures: bool, as_json: bool) -> None:
    """Progress of a re-ingest run (without RUN_ID: the recent runs)."""
    db = ctx.database()
    if run_id is None:
        with db.reader() as session:
            runs = [store.progress(session, i) for i in store.recent_runs(session)]
        if as_json:
            for p in runs:
                echo_json(p.as_dict())
            return
        table = Table("run", "status", "mode", "re-ingested", "changed", "failed", "cancelled", "started", "selection")
        for p in runs:
            table.add_row(
                str(p.run_id),
                p.status,
                p.mode,
                f"{p.done + p.failed}/{p.total}",
                str(p.changed),
                str(p.failed),
                str(p.cancelled),
                when(p.created_at),
                ", ".join(f"{k}={v}" for k, v in p.selection.items()),
            )
        console.print(table)
        return
    try:
        current = _progress(db, run_id)
    except store.RunNotFound as exc:
        fail(str(exc))
    if watch and not current.finished:
        current = _watch(db, run_id, as_json)
    if as_json:
        data = current.as_dict()
        if failures:
            with db.reader() as session:
                data["failures"] = store.failures(session, run_id)
        echo_json(data)
    else:
        console.print(
            f"run {current.run_id} ({current.mode}, {', '.join(f'{k}={v}' for k, v in current.selection.items())}) "
            f"started {when(current.created_at)}: {current.status}, {_reingested(current)} — "
            f"{current.enqueued} enqueued, changed {current.changed}, "
            f"metadata updated {current.updated}, unchanged {current.unchanged}, gone {current.missing}, "
            f"failed {current.failed}, cancelled {current.cancelled}, pending {current.pending}",
            highlight=False,
        )
        if current.cancelled and current.status == "interrupted":
            console.print(
                f"{current.cancelled} article(s) were never re-ingested: "
                f"`newsworker reingest resume {run_id}` does them",
                highlight=False,
            )
        if failures:
            with db.reader() as session:
                rows = store.failures(session, run_id)
            table = Table("article", "error", title="failures")
            for row in rows:
                table.add_row(str(row["article_id"]), row["error"] or "")
            console.print(table)
    db.dispose()
    _exit_for(current)
