"""``newsworker stories list`` / ``stories show`` / ``stories refine``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import click
from rich.table import Table

from storage import queries
from worker.cli.common import CONTEXT_SETTINGS, DATE, Context, console, echo_json, fail, note, pass_context, when
from worker.model.clock import utcnow
from worker.model.story import RefineOutcome
from worker.service import handlers


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


@dataclass(frozen=True)
class StoryChange:
    """What one regrouped neighbourhood of stories changed."""

    stories: list[int]
    articles_moved: int
    stories_created: list[int]
    stories_merged: list[tuple[int, int]]  # (emptied story, story it was merged into)
    articles_now: dict[int, int]  # story -> its articles after the pass


@stories_group.command("refine")
@click.option(
    "--limit",
    type=click.IntRange(1),
    default=None,
    help="Most changed stories to start from, in one pass (default: every changed story, in passes of"
    " NEWSWORKER_STORY_REFINE_BATCH_SIZE).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_context
def stories_refine(ctx: Context, limit: int | None, as_json: bool) -> None:
    """Regroup the stories changed since the last pass now and print what moved (beat runs this every few minutes).

    One line per neighbourhood where something moved: the stories involved, how many articles moved,
    the stories it created and those it emptied (merged into another; their ids keep resolving)."""
    rt, _ = ctx.runtime()
    looked = 0
    moves: list[RefineOutcome] = []

    def progress(outcome: RefineOutcome) -> None:
        nonlocal looked
        looked += len(outcome.story_ids)
        if outcome.moved or outcome.created or outcome.vanished:
            moves.append(outcome)
        if not as_json:
            status.update(f"refining stories: {looked} looked at")

    try:
        with console.status("refining stories…", spinner="dots") as status:
            # every story changed since the last pass, unless --limit asks for one pass
            report = handlers.refine_stories(rt, limit=limit, progress=progress, every_changed=limit is None)
        with rt.db.reader() as session:
            touched = sorted({s for o in moves for s in (*o.story_ids, *o.created) if s not in _gone(o)})
            sizes = queries.story_counts(session, touched)
    finally:
        rt.close()
    changes = [
        StoryChange(
            stories=sorted(o.story_ids),
            articles_moved=o.moved,
            stories_created=sorted(o.created),
            stories_merged=[(old, new) for old, new in o.vanished],
            articles_now={s: sizes[s][0] for s in sorted({*o.story_ids, *o.created}) if s in sizes},
        )
        for o in moves
    ]
    summary = {
        "stories_seen": report.stories_seen,
        "regrouped": report.regrouped,
        "articles_moved": report.articles_moved,
        "stories_created": report.stories_created,
        "stories_merged": [list(pair) for pair in report.stories_merged],
        "conflicts": report.conflicts,
        "changes": changes,
    }
    if as_json:
        echo_json(summary)
        return
    for change in changes:
        parts = [f"{change.articles_moved} article(s) moved"]
        if change.stories_created:
            parts.append("new stories " + ", ".join(str(i) for i in change.stories_created))
        parts.extend(f"story {old} merged into {new}" for old, new in change.stories_merged)
        now = ", ".join(f"{sid}: {n}" for sid, n in change.articles_now.items())
        console.print(
            f"stories {', '.join(str(i) for i in change.stories)}: {'; '.join(parts)} (articles now: {now})",
            highlight=False,
        )
    console.print(
        f"stories looked at: {report.stories_seen}, regrouped neighbourhoods: {report.regrouped}, "
        f"articles moved: {report.articles_moved}, new stories: {report.stories_created}, "
        f"merged away: {len(report.stories_merged)}" + ("" if changes else " (nothing moved)"),
        highlight=False,
    )
    if report.conflicts:
        note(f"{report.conflicts} neighbourhood(s) kept changing while refined; they stay pending for the next pass")


def _gone(outcome: RefineOutcome) -> set[int]:
    return {old for old, _ in outcome.vanished}
