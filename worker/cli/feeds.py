"""``newsworker feeds``: add, list, show, reset, remove, and OPML in and out."""

from __future__ import annotations

import ipaddress
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from rich.table import Table

from storage import outbox, queries, repo
from storage.db import Database
from worker.cli.common import (
    CONTEXT_SETTINGS,
    EXIT_FAILED,
    Context,
    console,
    echo_json,
    fail,
    human_bytes,
    note,
    pass_context,
    when,
)
from worker.http import netguard
from worker.model import events
from worker.model.clock import utcnow
from worker.model.fetch import FetchError
from worker.model.urls import InvalidURL, canonical_url
from worker.poll.opml import FeedList, FeedListError, FeedSpec, parse_feed_list, render_opml
from worker.service.messages import PollFeed
from worker.settings import Settings


@click.group("feeds", context_settings=CONTEXT_SETTINGS)
def feeds_group() -> None:
    """Add, list, inspect, reset and remove feeds; OPML import and export."""


PRIVATE_HINT = (
    "newsworker fetches only public addresses; to poll it anyway set NEWSWORKER_ALLOWED_NETWORKS to its network "
    "(e.g. {example}) or NEWSWORKER_ALLOW_PRIVATE_NETWORKS=true"
)
RESOLVE_TIMEOUT_SECONDS = 3.0


def _example_network(ip: str) -> str:
    address = ipaddress.ip_address(ip)
    return str(ipaddress.ip_network(f"{address}/{24 if address.version == 4 else 64}", strict=False))


def refused_address(url: str, settings: Settings, *, resolve: bool) -> str | None:
    """Why the fetcher would refuse ``url`` under the current settings, or None.

    Literal addresses in any spelling (``0x7f000001``, ``[::1]``) and ``localhost`` are judged
    without DNS; with ``resolve`` a name is looked up too (bounded: a slow resolver only skips the check).
    """
    if settings.allow_private_networks:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    networks = netguard.parse_networks(settings.allowed_network_list)
    if host == "localhost" or host.endswith(".localhost"):  # RFC 6761: always loopback
        host_ip = "127.0.0.1"
    elif netguard.parse_host_literal(host) is not None or resolve:
        host_ip = host
    else:
        return None
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        future = pool.submit(netguard.resolve_public, host_ip, port, False, allowed_networks=networks)
        future.result(timeout=RESOLVE_TIMEOUT_SECONDS)
    except netguard.BlockedAddress:
        literal = netguard.parse_host_literal(host_ip)
        ip = str(literal) if literal is not None else _first_address(host_ip, port)
        shown = host if ip == host else f"{host} ({ip})"
        return f"{shown} is not a public address: " + PRIVATE_HINT.format(example=_example_network(ip))
    except (FetchError, FutureTimeout):
        return None  # cannot tell now (no DNS answer); the fetcher checks again at every poll
    finally:
        pool.shutdown(wait=False)
    return None


def _first_address(host: str, port: int) -> str:
    for text in netguard.system_resolver(host, port):
        ip = ipaddress.ip_address(text.split("%", 1)[0])
        if not netguard.is_public_address(ip):
            return str(ip)
    return host


@feeds_group.command("add")
@click.argument("url")
@click.option("--title", help="Title to show until the feed supplies its own.")
@click.option("--tag", "tags", multiple=True, help="Tag (repeatable).")
@pass_context
def feeds_add(ctx: Context, url: str, title: str | None, tags: tuple[str, ...]) -> None:
    """Add a feed by its address; adding a stored feed with --title/--tag updates it.

    An address the fetcher would refuse (loopback, private, link-local…) is refused here
    unless NEWSWORKER_ALLOW_PRIVATE_NETWORKS or NEWSWORKER_ALLOWED_NETWORKS allows it.
    """
    try:
        canonical = canonical_url(url)
    except InvalidURL as exc:
        fail(str(exc))
    refused = refused_address(canonical, ctx.settings, resolve=True)
    if refused is not None:
        fail(f"refused {canonical}: {refused}")
    db = ctx.database()
    with db.transaction() as session:
        feed, created = repo.add_feed(session, canonical, title=title, tags=tags)
        feed_id, feed_url = feed.id, feed.url
        changes: list[str] = []
        if not created:
            if title is not None and title != feed.title:
                changes.append(f"title {feed.title!r} -> {title!r}")
                feed.title = title
            new_tags = [t for t in dict.fromkeys(tags) if t not in (feed.tags or [])]
            if new_tags:
                changes.append("tags + " + ", ".join(new_tags))
                feed.tags = [*(feed.tags or []), *new_tags]
    if created:
        console.print(f"added: feed {feed_id} {feed_url}", highlight=False)
    elif changes:
        console.print(f"updated: feed {feed_id} {feed_url} ({'; '.join(changes)})", highlight=False)
    else:
        console.print(f"already present: feed {feed_id} {feed_url} (unchanged)", highlight=False)
    if created:
        poll_promptly(ctx, [feed_id])


def _feed_rows(db: Database, failing_only: bool) -> list[dict[str, Any]]:
    with db.reader() as session:
        return [
            {
                "id": f.id,
                "url": f.url,
                "title": f.title,
                "status": f.status,
                "next_poll_at": f.next_poll_at.isoformat() if f.next_poll_at else None,
                "last_success_at": f.last_success_at.isoformat() if f.last_success_at else None,
                "consecutive_errors": f.consecutive_errors,
                "last_error": f.last_error,
                "tags": list(f.tags or []),
            }
            for f in repo.list_feeds(session, failing_only=failing_only)
        ]


@feeds_group.command("list")
@click.option("--failing", is_flag=True, help="Only feeds marked failing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@pass_context
def feeds_list(ctx: Context, failing: bool, as_json: bool) -> None:
    """List feeds with their state."""
    rows = _feed_rows(ctx.database(), failing)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    table = Table("id", "status", "title", "url", "next poll", "errors", "last error")
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["status"],
            row["title"] or "",
            row["url"],
            (row["next_poll_at"] or "")[:19],
            str(row["consecutive_errors"]),
            (row["last_error"] or "")[:60],
        )
    console.print(table)
    console.print(f"{len(rows)} feed(s)")


@feeds_group.command("show")
@click.argument("feed")
@click.option(
    "--fetches",
    "fetch_limit",
    type=click.IntRange(0, 1000),
    default=10,
    show_default=True,
    help="How many recent fetches to list.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def feeds_show(ctx: Context, feed: str, fetch_limit: int, as_json: bool) -> None:
    """A feed's state, next poll, back-off and its last fetches (FEED is an id or address)."""
    db = ctx.database()
    try:
        with db.reader() as session:
            detail = queries.feed_detail(session, feed, fetch_limit=fetch_limit)
    except repo.NotFound as exc:
        fail(str(exc))
    if as_json:
        echo_json(detail)
        return
    now = utcnow()
    info = Table.grid(padding=(0, 2))
    info.add_column(style="bold")
    info.add_column()
    status = {"ok": "[green]ok[/]", "failing": "[red]failing[/]", "gone": "[yellow]gone[/]"}.get(
        detail.status, detail.status
    )
    backoff = (
        f"{detail.consecutive_errors} consecutive error(s) since {when(detail.first_error_at, now=now)}"
        if detail.consecutive_errors
        else "none"
    )
    for label, value in (
        ("feed", f"{detail.id} {detail.title or ''}"),
        ("address", detail.url),
        ("site", detail.site_url or "-"),
        ("tags", ", ".join(detail.tags) or "-"),
        ("status", status),
        ("next poll", when(detail.next_poll_at, now=now)),
        ("interval", f"{detail.poll_interval_seconds}s" if detail.poll_interval_seconds else "-"),
        ("back-off", backoff),
        ("last error", detail.last_error or "-"),
        ("last poll", when(detail.last_polled_at, now=now)),
        ("last success", when(detail.last_success_at, now=now)),
        ("conditional GET", f"ETag {detail.etag or '-'}; Last-Modified {detail.last_modified or '-'}"),
        ("entries / articles", f"{detail.entries} / {detail.articles}"),
    ):
        info.add_row(label, value)
    console.print(info)
    table = Table("when", "outcome", "status", "bytes", "duration", "new", "error / warning", title="recent fetches")
    for f in detail.fetches:
        table.add_row(
            when(f.started_at, now=now),
            f.outcome,
            str(f.http_status or "-"),
            human_bytes(f.bytes),
            f"{f.duration_ms} ms",
            str(f.new_entries),
            (f.error or f.warning or "")[:80],
        )
    console.print(table)


@feeds_group.command("reset")
@click.argument("feed")
@pass_context
def feeds_reset(ctx: Context, feed: str) -> None:
    """Clear a feed's error back-off and poll it at the next dispatch (FEED is an id or address).

    A feed marked gone (HTTP 410) is tried again too; if it is still gone, the next poll marks it again.
    """
    db = ctx.database()
    try:
        with db.transaction() as session:
            before = queries.reset_feed(session, feed, utcnow())
            outbox.add(session, [events.feed_status_changed(before.id, before.previous_status, "ok", reason="reset")])
    except repo.NotFound as exc:
        fail(str(exc))
    console.print(
        f"reset feed {before.id} {before.url}: was {before.previous_status} with {before.previous_errors} error(s); "
        "now ok and due for polling",
        highlight=False,
    )
    poll_promptly(ctx, [before.id])


@feeds_group.command("remove")
@click.argument("feed")
@pass_context
def feeds_remove(ctx: Context, feed: str) -> None:
    """Remove a feed by id or address (its articles stay)."""
    db = ctx.database()
    try:
        with db.transaction() as session:
            removed = repo.remove_feed(session, feed)
            label = f"{removed.id} {removed.url}"
    except repo.NotFound as exc:
        fail(str(exc))
    console.print(f"removed feed {label}", highlight=False)


def poll_promptly(ctx: Context, feed_ids: list[int]) -> None:
    """No idle start: a feed just added or reset is due at once; with a broker, its poll is sent
    now (without one, a running `newsworker run` picks it up within seconds)."""
    if not feed_ids or ctx.settings.embedded:
        return
    from tasks.app import CeleryDispatcher

    try:
        for feed_id in feed_ids:
            CeleryDispatcher().send(PollFeed(feed_id))
    except Exception as exc:  # the broker is away: beat's next dispatch polls the feed
        note(f"could not send the poll now ({exc}); the feed is due and is polled at beat's next dispatch")


# ---------------------------------------------------------------- feed lists (OPML)


@dataclass(frozen=True)
class FeedListSummary:
    added: int
    present: int
    duplicates: int
    invalid: int


def read_feed_list(path: Path) -> FeedList:
    try:
        return parse_feed_list(path.read_bytes())
    except (OSError, FeedListError) as exc:
        fail(f"cannot read feed list {path}: {exc}")


def add_feed_list(
    db: Database, feed_list: FeedList, path: Path, settings: Settings, added_ids: list[int] | None = None
) -> FeedListSummary:
    """Add every feed of a list; entries already stored or repeated in the file are skipped, and so are
    literal private addresses the fetcher would refuse (names are not resolved here: lists can be long).
    The ids of the feeds added are appended to ``added_ids``."""
    duplicates = invalid = 0
    for reason in feed_list.skipped:
        note(f"{path}: skipped {reason}")
        if reason.endswith("duplicate") or reason.endswith("duplicate of an earlier line"):
            duplicates += 1
        else:
            invalid += 1
    added = present = 0
    with db.transaction() as session:
        for spec in feed_list.feeds:
            refused = refused_address(spec.url, settings, resolve=False)
            if refused is not None:
                note(f"{path}: skipped {spec.url}: {refused}")
                invalid += 1
                continue
            feed, created = repo.add_feed(session, spec.url, title=spec.title, tags=spec.tags)
            if created and added_ids is not None:
                added_ids.append(feed.id)
            added += created
            present += not created
    return FeedListSummary(added, present, duplicates, invalid)


@feeds_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_context
def feeds_import(ctx: Context, file: Path, as_json: bool) -> None:
    """Add the feeds of an OPML file (folders become tags) or of a list of addresses."""
    db = ctx.database()
    added_ids: list[int] = []
    summary = add_feed_list(db, read_feed_list(file), file, ctx.settings, added_ids)
    poll_promptly(ctx, added_ids)
    if as_json:
        echo_json(summary)
    else:
        console.print(
            f"{summary.added} feed(s) added, {summary.present} already present, "
            f"{summary.duplicates} duplicate(s) in the file skipped, {summary.invalid} invalid skipped",
            highlight=False,
        )
    if summary.invalid:
        sys.exit(EXIT_FAILED)


@feeds_group.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File (default: stdout).")
@pass_context
def feeds_export(ctx: Context, output: Path | None) -> None:
    """Write every feed as OPML 2.0 (the first tag becomes the folder; all tags go in ``category``)."""
    db = ctx.database()
    with db.reader() as session:
        specs = [FeedSpec(url, title, tags) for url, title, tags in queries.feed_specs(session)]
    data = render_opml(specs)
    if output is None:
        click.echo(data.decode("utf-8"))
        return
    try:
        output.write_bytes(data + b"\n")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}; choose another path with -o")
    console.print(f"{len(specs)} feed(s) written to {output}", highlight=False)
