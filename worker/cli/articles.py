"""``newsworker articles show``."""

from __future__ import annotations

import click
from rich.table import Table

from storage import queries
from worker.cli.common import CONTEXT_SETTINGS, Context, console, echo_json, fail, pass_context, when
from worker.model.clock import utcnow


@click.group("articles", context_settings=CONTEXT_SETTINGS)
def articles_group() -> None:
    """Inspect stored articles."""


@articles_group.command("show")
@click.argument("article", metavar="ID|URL")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def articles_show(ctx: Context, article: str, as_json: bool) -> None:
    """An article's metadata, the feeds and addresses it was seen under, its duplicates and story.

    ARTICLE is its id or any address it was seen under.
    """
    db = ctx.database()
    try:
        with db.reader() as session:
            detail = queries.article_detail(session, queries.find_article_id(session, article))
    except queries.ArticleNotFound as exc:
        fail(str(exc))
    if as_json:
        echo_json(detail)
        return
    now = utcnow()
    info = Table.grid(padding=(0, 2))
    info.add_column(style="bold")
    info.add_column()
    story = "-"
    if detail.story_id is not None:
        story = f"{detail.story_id} {detail.story_title or ''} ({detail.story_article_count} article(s))"
    original = "-"
    if detail.duplicate_of is not None:
        original = f"{detail.duplicate_of.id} {detail.duplicate_of.title or ''} {detail.duplicate_of.url}"
    changed = "-"
    if detail.previous_hash:
        changed = f"{when(detail.previous_changed_at, now=now)} (previous hash {detail.previous_hash[:12]})"
    for label, value in (
        ("article", str(detail.id)),
        ("title", detail.title or "-"),
        ("address", detail.url),
        ("also seen as", ", ".join(u for u in detail.urls if u != detail.url) or "-"),
        ("published", when(detail.published_at, now=now)),
        ("language", detail.language or "-"),
        ("authors", ", ".join(detail.authors) or "-"),
        ("words", str(detail.word_count)),
        ("content", detail.content_source + (f" (error: {detail.fetch_error})" if detail.fetch_error else "")),
        ("stored / modified", f"{when(detail.created_at, now=now)} / {when(detail.modified_at, now=now)}"),
        ("text last changed", changed),
        ("processed", when(detail.processed_at, now=now)),
        ("duplicate of", original),
        ("story", story),
        *(
            (
                f"[red]{f.kind.removeprefix('newsworker.').replace('_', ' ')} failed[/]",
                f"{f.error} ({when(f.at, now=now)})",
            )
            for f in detail.failures
        ),
    ):
        info.add_row(label, value)
    console.print(info)
    sightings = Table("source", "address in the feed", "first seen", "last seen", title="sightings")
    for s in detail.sightings:
        sightings.add_row(
            s.feed_url or s.source, s.url or "-", when(s.first_seen_at, now=now), when(s.last_seen_at, now=now)
        )
    console.print(sightings)
    if detail.duplicates:
        dups = Table("id", "title", "address", title="duplicates of this article")
        for d in detail.duplicates:
            dups.add_row(str(d.id), d.title or "", d.url)
        console.print(dups)
    if detail.text_preview:
        console.print(f"[bold]text[/] {detail.text_preview}…", highlight=False)


def _step(kind: str) -> str:
    """``newsworker.process_article`` -> ``process article``."""
    return kind.removeprefix("newsworker.").replace("_", " ")
