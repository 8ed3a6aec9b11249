"""``newsworker stories list`` / ``stories show``."""

from __future__ import annotations

from datetime import datetime

import click
from rich.table import Table

from storage import queries
from worker.cli.common import CONTEXT_SETTINGS, DATE, Context, console, echo_json, fail, pass_context, when
from worker.clock import utcnow


@click.group("stories", context_settings=CONTEXT_SETTINGS)
def stories_group() -> None:
    """Stories: coverage of one event across outlets."""


@stories_group.command("list")
@click.option("--since", type=DATE, help="Active (an article) at or after DATE, e.g. 2024-05-01 or 24h.")
@click.option("--min-articles", type=click.IntRange(1), default=1, show_default=True, help="Smallest story size.")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True, help="Most stories listed.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@pass_context
def stories_list(ctx: Context, since: datetime | None, min_articles: int, limit: int, as_json: bool) -> None:
    """Stories, most recently active first."""
    db = ctx.database()
    with db.reader() as session:
        rows = queries.list_stories(session, since=since, min_articles=min_articles, limit=limit)
    if as_json:
        for row in rows:
            echo_json(row)
        return
    now = utcnow()
    table = Table("id", "articles", "sources", "first", "last", "title")
    for row in rows:
        table.add_row(
            str(row.id),
            str(row.article_count),
            str(row.source_count),
            when(row.first_article_at, now=now),
            when(row.last_article_at, now=now),
            row.title or "",
        )
    console.print(table)
    console.print(f"{len(rows)} stor{'y' if len(rows) == 1 else 'ies'}")


@stories_group.command("show")
@click.argument("story_id", type=int, metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def stories_show(ctx: Context, story_id: int, as_json: bool) -> None:
    """A story and its articles in time order, with the sources that carried each."""
    db = ctx.database()
    try:
        with db.reader() as session:
            detail = queries.story_detail(session, story_id)
    except queries.StoryNotFound as exc:
        fail(str(exc))
    if as_json:
        echo_json(detail)
        return
    now = utcnow()
    story = detail.story
    console.print(f"[bold]story {story.id}[/] {story.title or ''}", highlight=False)
    if story.merged_into is not None:
        console.print(f"merged into story {story.merged_into}: see `newsworker stories show {story.merged_into}`")
    console.print(
        f"{story.article_count} article(s) from {story.source_count} source(s), "
        f"{when(story.first_article_at, now=now)} to {when(story.last_article_at, now=now)}",
        highlight=False,
    )
    if detail.merged_from:
        console.print("merged from: " + ", ".join(str(i) for i in detail.merged_from))
    if detail.top_terms:
        console.print("terms: " + ", ".join(str(t) for t in detail.top_terms[:12]), highlight=False)
    table = Table("published", "id", "source(s)", "title", "duplicate of")
    for a in detail.articles:
        table.add_row(
            when(a.published_at or a.created_at, now=now),
            str(a.id),
            ", ".join(a.sources) or "-",
            a.title or a.url,
            str(a.duplicate_of or ""),
        )
    console.print(table)
