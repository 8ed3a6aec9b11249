"""Story linking as units of work: the one place that combines the linker, the refinement
pass and their SQL index, and owns their transactions and retries.

Duplicates join their original's story without touching the linker's statistics; every
other article goes through :func:`link_in_transaction` in the caller's transaction, so the
article's ``story_id`` and the story state commit together. Linking is idempotent: an article
that has a story keeps it (following merges), so a re-delivered task or a re-ingest changes
nothing.

Concurrency: :func:`storage.story_index.lock_window` (taken by the index with its first
statement) serialises linkers whose articles are less than a window apart; a story changed
under us (a long story touched from two distant buckets) raises :class:`StoryConflict` from
the optimistic checks, the transaction rolls back and :func:`retry_on_conflict` runs the step
again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from storage import outbox, story_index
from storage.story_index import Repoint, SqlStoryIndex, StoryConflict, lock_window
from worker.model import story as story_model
from worker.model.story import RefineOutcome
from worker.model.urls import site_of
from worker.normalise.textclean import dateline_prefix
from worker.service import emit
from worker.stories import link as st
from worker.stories import refine as storyrefine

__all__ = [
    "RefineReport",
    "StoryConflict",
    "StoryLink",
    "link_in_transaction",
    "link_story",
    "link_with_retry",
    "prune_story_state",
    "refine_in_transaction",
    "refine_stories",
    "retry_on_conflict",
]

# Optimistic story updates conflict rarely (two workers on one story); this many tries.
CONFLICT_ATTEMPTS = 5
# Vectors and rare sentence counts older than this are dropped: the refinement pass only
# regroups stories that changed recently, and a story's window is days, not months.
STATE_RETENTION = timedelta(days=60)
PLAN_BATCH = 200  # stories planned per read transaction

Transaction = Callable[[], AbstractContextManager[Session]]
T = TypeVar("T")


def retry_on_conflict(step: Callable[[], T], *, what: str, attempts: int = CONFLICT_ATTEMPTS) -> T:
    """Run ``step`` (which opens and commits its own transaction) until no story changed under it.

    The one retry loop of story linking; after ``attempts`` conflicts the last one is raised
    (a Celery task then retries with back-off)."""
    last: StoryConflict | None = None
    for _ in range(attempts):
        try:
            return step()
        except StoryConflict as exc:
            last = exc
    raise StoryConflict(f"{what}: stories kept changing after {attempts} attempts ({last})")


@dataclass(frozen=True)
class StoryLink:
    story_id: int | None
    created: bool = False
    merged: tuple[int, ...] = ()
    via: str = "linker"  # linker | kept | duplicate | skipped | held (its work item was not ours to run)


def link_in_transaction(
    conn: Connection,
    features: story_model.StoryFeatures,
    arrived_at: datetime,
    *,
    linker: st.Linker | None = None,
    repoint: Repoint | None = None,
    article_id: int | None = None,
) -> story_model.LinkResult:
    """Link one non-duplicate article; the caller owns (and commits) the transaction.

    Raises :class:`StoryConflict` when a story changed concurrently: roll back and call again.
    ``repoint(conn, old_ids, new_id)`` is called inside the transaction when stories merge, so
    the caller moves its articles before the transaction commits.
    """
    at = st.article_time(features, arrived_at)
    index = SqlStoryIndex(conn, at=at, repoint=repoint, defer_writes=True, lock=story_model.WINDOW)
    result = st.link_article(index, features, arrived_at, linker, article_id=article_id)
    index.flush()
    return result


def link_with_retry(
    engine: Engine,
    features: story_model.StoryFeatures,
    arrived_at: datetime,
    *,
    linker: st.Linker | None = None,
    repoint: Repoint | None = None,
    after: Callable[[Connection, story_model.LinkResult], None] | None = None,
) -> story_model.LinkResult:
    """Own the transaction: link, let ``after`` store the article's story_id, commit; retry
    on :class:`StoryConflict` (benches and tests link bare features this way)."""

    def step() -> story_model.LinkResult:
        with engine.begin() as conn:
            result = link_in_transaction(conn, features, arrived_at, linker=linker, repoint=repoint)
            if after is not None:
                after(conn, result)
            return result

    return retry_on_conflict(step, what="link")


class _MoveRecordingIndex(SqlStoryIndex):
    """The SQL index that also notes where each moved article came from (for the events)."""

    moves: dict[int, tuple[int | None, int]]

    def move_members(self, moves: Mapping[int, int]) -> None:
        origin = story_index.article_stories(self.conn, list(moves))
        self.moves.update({a: (origin.get(a), s) for a, s in moves.items()})
        super().move_members(moves)


def refine_in_transaction(
    conn: Connection,
    story_id: int,
    *,
    repoint: Repoint | None = None,
    moves: dict[int, tuple[int | None, int]] | None = None,
) -> RefineOutcome:
    """Regroup one pending story's neighbourhood; the caller owns (and commits) the transaction.

    Takes the same window locks as a linker at the story's last article, so linking near it
    waits; a story touched from further away is caught by the optimistic checks
    (:class:`StoryConflict`: roll back and call again). ``moves`` receives each moved article's
    ``(old story, new story)``."""
    last = story_index.live_story_last_article_at(conn, story_id)
    if last is None:
        SqlStoryIndex(conn).mark_refined([story_id])
        return RefineOutcome((story_id,), 0, (), ())
    at = last if last.tzinfo else last.replace(tzinfo=UTC)
    lock_window(conn, at, story_model.WINDOW)
    index = _MoveRecordingIndex(conn, at=at, repoint=repoint)
    index.moves = moves if moves is not None else {}
    outcome = storyrefine.refine_around(index, story_id, datetime.now(UTC))
    index.mark_refined([*outcome.story_ids, *outcome.created])
    return outcome


def link_story(session: Session, article_id: int, *, processed_at: datetime | None = None) -> StoryLink:
    """Give the article its story; raises :class:`StoryConflict` when the caller must retry.

    ``processed_at``: also mark the article processed, in the same statement that sets its
    story (one UPDATE of the row per article, not two)."""
    conn = session.connection()
    subject = story_index.link_subject(session, article_id)
    if subject is None:
        return StoryLink(None, via="skipped")

    def settle(story_id: int | None) -> None:
        story_index.set_article_story(session, article_id, story_id, processed_at=processed_at)

    if subject.story_id is not None:
        survivor = story_index.resolve_story(conn, subject.story_id)
        settle(survivor)
        return StoryLink(survivor, via="kept")
    # a duplicate joins its original's story, unless it came under another headline (a long text
    # republished about another event): then it is linked on its own
    if subject.original_story_id is not None and story_model.same_headline(subject.title, subject.original_title):
        story_id = story_index.resolve_story(conn, subject.original_story_id)
        settle(story_id)
        return StoryLink(story_id, via="duplicate")
    # a page that kept no text but its headline (a newsletter prompt, dropped as boilerplate; a
    # script-only page) is linked on its headline, as a page whose text is only a prompt is
    headline_only = subject.page_kind == "empty" and bool((subject.title or "").strip())
    if not headline_only and (not subject.text.strip() or subject.page_kind not in (None, "article")):
        if processed_at is not None:
            settle(None)  # it has no story (subject.story_id is None here)
        return StoryLink(None, via="skipped")
    # linked on the text as printed: the dateline normalisation took out of it ("BALTIMORE (AP) -")
    # says where it happened, as it does for an article linked before it is stored
    text = dateline_prefix(subject.dateline, subject.agency) + subject.text
    features = st.story_features(
        subject.title, text, subject.published_at, source=site_of(subject.url), language=subject.language
    )
    result = link_in_transaction(
        conn, features, arrived_at=subject.created_at, repoint=story_index.repoint_articles, article_id=article_id
    )
    if result.merged:
        session.expire_all()  # repoint_articles moved rows this session may hold
    settle(result.story_id)
    return StoryLink(result.story_id, result.created, tuple(result.merged))


@dataclass
class RefineReport:
    """What one refinement run did (``newsworker stories refine`` prints it)."""

    started_from: int = 0  # changed stories the pass took (at most its limit: more may be pending)
    stories_seen: int = 0
    regrouped: int = 0  # neighbourhoods where something moved
    articles_moved: int = 0
    stories_created: int = 0
    stories_merged: list[tuple[int, int]] = field(default_factory=list)  # (old, into)
    conflicts: int = 0  # neighbourhoods skipped after repeated concurrent changes (still pending)

    def add(self, other: RefineReport) -> None:
        """Count another pass in (see :func:`refine_every_changed_story`)."""
        self.started_from += other.started_from
        self.stories_seen += other.stories_seen
        self.regrouped += other.regrouped
        self.articles_moved += other.articles_moved
        self.stories_created += other.stories_created
        self.stories_merged.extend(other.stories_merged)
        self.conflicts += other.conflicts


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
    report.started_from = len(pending)
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
                plan = storyrefine.plan_around(index, story_id, states[story_id])
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
            try:
                outcome = retry_on_conflict(_refine_step(transaction, story_id), what=f"refine story {story_id}")
            except StoryConflict:
                report.conflicts += 1  # stays pending: the next pass tries again
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


# passes of refine_every_changed_story at most: a bound in case passes keep finding changed
# stories (each pass marks what it refined; without concurrent linkers, pending only shrinks)
MAX_REFINE_PASSES = 1000


def refine_every_changed_story(
    transaction: Transaction,
    *,
    batch: int,
    now: datetime,
    progress: Callable[[RefineOutcome], None] | None = None,
) -> RefineReport:
    """Passes of :func:`refine_stories` until one starts from fewer than ``batch`` changed
    stories: after a large import more are pending than one pass takes."""
    report = RefineReport()
    for _ in range(MAX_REFINE_PASSES):
        one = refine_stories(transaction, limit=batch, now=now, progress=progress)
        report.add(one)
        if one.started_from < batch:
            break
    return report


def _refine_step(transaction: Transaction, story_id: int) -> Callable[[], RefineOutcome]:
    def step() -> RefineOutcome:
        with transaction() as session:
            moves: dict[int, tuple[int | None, int]] = {}
            outcome = refine_in_transaction(
                session.connection(), story_id, repoint=story_index.repoint_articles, moves=moves
            )
            session.expire_all()  # articles moved under the session's feet
            outbox.add(session, emit.refine_events(outcome, moves))  # last: after every lock it took
            return outcome

    return step


def prune_story_state(transaction: Transaction, *, now: datetime) -> tuple[int, int]:
    """Forget article vectors and rarely seen sentences older than STATE_RETENTION (a daily
    job: both are full scans of large tables, far too costly for every refinement pass)."""
    with transaction() as session:
        conn = session.connection()
        vectors = story_index.prune_story_vectors(conn, now - STATE_RETENTION)
        sentences = story_index.prune_boilerplate(conn, now - STATE_RETENTION, story_model.BOILERPLATE_MIN_DOCS)
    return vectors, sentences
