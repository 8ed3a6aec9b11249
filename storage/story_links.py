"""Attach a stored article to its story: the storage side of story linking.

Duplicates join their original's story without touching the linker's statistics;
every other article goes through :func:`storage.story_index.link_in_transaction`
in the caller's transaction, so the article's ``story_id`` and the story state
commit together. Linking is idempotent: an article that has a story keeps it
(following merges), so a re-delivered task or a re-ingest changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from storage.models import Article
from storage.story_index import (
    SqlStoryIndex,
    StoryConflict,
    link_in_transaction,
    prune_boilerplate,
    prune_story_vectors,
    refine_in_transaction,
    resolve_story,
)
from worker.model.urls import site_of
from worker.stories.link import story_features
from worker.stories.refine import RefineOutcome, plan_around

__all__ = ["RefineReport", "StoryConflict", "StoryLink", "link_story", "prune_story_state", "refine_stories"]


@dataclass(frozen=True)
class StoryLink:
    story_id: int | None
    created: bool = False
    merged: tuple[int, ...] = ()
    via: str = "linker"  # linker | kept | duplicate | skipped


def _repoint(conn: Connection, old_ids: Sequence[int], new_id: int) -> None:
    """Stories merged: their articles now belong to the survivor (nothing points to a vanished story)."""
    conn.execute(update(Article).where(Article.story_id.in_(list(old_ids))).values(story_id=new_id))


def link_story(session: Session, article_id: int) -> StoryLink:
    """Give the article its story; raises :class:`StoryConflict` when the caller must retry."""
    article = session.get(Article, article_id)
    if article is None:
        return StoryLink(None, via="skipped")
    conn = session.connection()
    if article.story_id is not None:
        survivor = resolve_story(conn, article.story_id)
        article.story_id = survivor
        return StoryLink(survivor, via="kept")
    if article.duplicate_of is not None:
        original = session.get(Article, article.duplicate_of)
        if original is not None and original.story_id is not None:
            article.story_id = resolve_story(conn, original.story_id)
            return StoryLink(article.story_id, via="duplicate")
    if not article.text.strip():
        return StoryLink(None, via="skipped")
    features = story_features(
        article.title, article.text, article.published_at, source=site_of(article.url), language=article.language
    )
    result = link_in_transaction(conn, features, arrived_at=article.created_at, repoint=_repoint, article_id=article.id)
    session.expire_all()  # _repoint may have moved rows this session holds
    article = session.get(Article, article_id)
    assert article is not None
    article.story_id = result.story_id
    return StoryLink(result.story_id, result.created, tuple(result.merged))


# Vectors and rare sentence counts older than this are dropped: the refinement pass only
# regroups stories that changed recently, and a story's window is days, not months.
STATE_RETENTION = timedelta(days=60)
REFINE_ATTEMPTS = 5
PLAN_BATCH = 200  # stories planned per read transaction

Transaction = Callable[[], AbstractContextManager[Session]]


@dataclass
class RefineReport:
    """What one refinement run did (``newsworker stories refine`` prints it)."""

    stories_seen: int = 0
    regrouped: int = 0  # neighbourhoods where something moved
    articles_moved: int = 0
    stories_created: int = 0
    stories_merged: list[tuple[int, int]] = field(default_factory=list)  # (old, into)
    conflicts: int = 0  # neighbourhoods skipped after repeated concurrent changes (still pending)


def refine_stories(
    transaction: Transaction,
    *,
    limit: int = 1000,
    now: datetime,
    progress: Callable[[RefineOutcome], None] | None = None,
) -> RefineReport:
    """Regroup every story changed since the last pass.

    Plans are computed in read transactions of up to PLAN_BATCH stories, without locks, so
    linkers never wait for them; only a neighbourhood whose plan moves something is redone in
    its own short transaction under the window locks, on fresh state."""
    report = RefineReport()
    with transaction() as session:
        index = SqlStoryIndex(session.connection())
        index.settle_single_article_stories()
        pending = index.dirty_stories(limit)
    done: set[int] = set()
    for start in range(0, len(pending), PLAN_BATCH):
        to_write: list[int] = []
        with transaction() as session:
            index = SqlStoryIndex(session.connection())
            settled: dict[int, int] = {}
            batch = pending[start : start + PLAN_BATCH]
            states = index.stories_by_id(batch)
            for story_id in batch:
                if story_id in done:
                    continue
                if story_id not in states:  # merged away meanwhile
                    settled[story_id] = 0
                    continue
                plan = plan_around(index, story_id, states[story_id])
                done.update(plan.counts)
                report.stories_seen += len(plan.counts)
                if plan.regrouping is None:
                    settled.update(plan.counts)
                    if progress is not None:
                        progress(RefineOutcome(plan.story_ids, 0, (), ()))
                else:
                    to_write.append(story_id)
            index.mark_refined_if_unchanged(settled)
        for story_id in to_write:
            outcome = _refine_one(transaction, story_id)
            if outcome is None:
                report.conflicts += 1
                continue
            done.update(outcome.created)
            if outcome.moved:
                report.regrouped += 1
                report.articles_moved += outcome.moved
                report.stories_created += len(outcome.created)
                report.stories_merged.extend(outcome.vanished)
            if progress is not None:
                progress(outcome)
    return report


def prune_story_state(transaction: Transaction, *, now: datetime) -> tuple[int, int]:
    """Forget article vectors and rarely seen sentences older than STATE_RETENTION (a daily
    job: both are full scans of large tables, far too costly for every refinement pass)."""
    with transaction() as session:
        conn = session.connection()
        vectors = prune_story_vectors(conn, now - STATE_RETENTION)
        sentences = prune_boilerplate(conn, now - STATE_RETENTION)
    return vectors, sentences


def _refine_one(transaction: Transaction, story_id: int) -> RefineOutcome | None:
    for _ in range(REFINE_ATTEMPTS):
        try:
            with transaction() as session:
                outcome = refine_in_transaction(session.connection(), story_id, repoint=_repoint)
                session.expire_all()  # articles moved under the session's feet
                return outcome
        except StoryConflict:
            continue
    return None
