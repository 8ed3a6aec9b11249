"""Read-side queries for admins (``newsworker stats``, ``… show``, ``export`` filters).

Everything here only reads; results are frozen dataclasses or plain dicts so the
CLI can print them as tables or JSON without touching ORM objects after the
session is closed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, cast, exists, func, or_, select
from sqlalchemy.orm import Session

from storage import work as work_store
from storage.models import Article, ArticleUrl, Entry, Feed, FetchLog, ReingestItem, ReingestRun, Story, WorkItem
from storage.repo import find_feed
from worker.model.clock import at_offset, isoformat_at, isoformat_utc
from worker.model.urls import InvalidURL, canonical_url, identity_url

# ---------------------------------------------------------------- article filters


@dataclass(frozen=True)
class ArticleFilter:
    """Which articles an export or a re-ingest covers; empty means every article.

    Time bounds apply to the publication time, or to the time the article was
    stored when the source gave no date.
    """

    feed_ids: tuple[int, ...] = ()
    article_ids: tuple[int, ...] = ()
    story_ids: tuple[int, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    failed: bool = False

    @property
    def empty(self) -> bool:
        return not (self.feed_ids or self.article_ids or self.story_ids or self.since or self.until or self.failed)


def article_time() -> ColumnElement[Any]:
    return func.coalesce(Article.published_at, Article.created_at)


def filter_conditions(f: ArticleFilter) -> list[ColumnElement[bool]]:
    """SQL conditions on ``articles`` for a filter (selectors combine with AND)."""
    conditions: list[ColumnElement[bool]] = []
    if f.article_ids:
        conditions.append(Article.id.in_(f.article_ids))
    if f.feed_ids:
        conditions.append(exists().where(Entry.article_id == Article.id, Entry.feed_id.in_(f.feed_ids)))
    if f.story_ids:
        conditions.append(Article.story_id.in_(f.story_ids))
    if f.since is not None:
        conditions.append(article_time() >= f.since)
    if f.until is not None:
        conditions.append(article_time() < f.until)
    if f.failed:
        processing_failed = exists().where(
            WorkItem.state == "failed",
            WorkItem.kind.in_(("newsworker.process_article", "newsworker.refetch_article")),
            WorkItem.key == cast(Article.id, String),
        )
        conditions.append(or_(Article.content_source == "failed", Article.fetch_error.is_not(None), processing_failed))
    return conditions


def iter_article_ids(session: Session, f: ArticleFilter, *, batch_size: int = 1000) -> Iterator[list[int]]:
    """Matching article ids in id order, one keyset page at a time (constant memory)."""
    conditions = filter_conditions(f)
    last_id = 0
    while True:
        page = list(
            session.scalars(
                select(Article.id).where(Article.id > last_id, *conditions).order_by(Article.id).limit(batch_size)
            )
        )
        if not page:
            return
        yield page
        last_id = page[-1]


def count_articles(session: Session, f: ArticleFilter) -> int:
    return int(session.scalar(select(func.count()).select_from(Article).where(*filter_conditions(f))) or 0)


def feeds_of_articles(session: Session, f: ArticleFilter) -> list[int]:
    """The feeds to re-poll for ``reingest --refetch-feeds``: the selected ones, else those that carried
    a matching article, else (no selector) every feed not gone."""
    if f.feed_ids:
        return sorted(set(f.feed_ids))
    if f.empty:  # --all: every feed that can still be polled
        return [int(i) for i in session.scalars(select(Feed.id).where(Feed.status != "gone").order_by(Feed.id))]
    query = (
        select(Entry.feed_id)
        .where(Entry.feed_id.is_not(None), Entry.article_id.in_(select(Article.id).where(*filter_conditions(f))))
        .distinct()
    )
    return sorted(int(i) for i in session.scalars(query) if i is not None)


def sample_articles(session: Session, f: ArticleFilter, *, limit: int) -> list[dict[str, Any]]:
    """The first matching articles, for ``reingest --dry-run``."""
    rows = session.execute(
        select(Article.id, Article.title, Article.url, Article.content_source, Article.published_at)
        .where(*filter_conditions(f))
        .order_by(Article.id)
        .limit(limit)
    )
    return [
        {
            "id": r.id,
            "title": r.title,
            "url": r.url,
            "content_source": r.content_source,
            "published_at": isoformat_utc(r.published_at),
        }
        for r in rows
    ]


# ---------------------------------------------------------------- export


def export_rows(
    session: Session, f: ArticleFilter | None = None, *, batch_size: int = 500, with_html: bool = False
) -> Iterator[dict[str, Any]]:
    """Matching articles in id order as export dicts, read in keyset pages (constant memory).

    ``url`` is the canonical address (the page's own rel=canonical when on the same site),
    also given as ``canonical_url``; ``urls`` every address the article was seen under.
    ``page_kind`` says what the page is ("article", "listing", "forum", "product", "other",
    "empty"): non-article pages keep their text, consumers choose. ``html`` only when asked."""
    conditions = filter_conditions(f) if f is not None else []
    last_id = 0
    while True:
        articles = list(
            session.scalars(
                select(Article).where(Article.id > last_id, *conditions).order_by(Article.id).limit(batch_size)
            )
        )
        if not articles:
            return
        ids = [a.id for a in articles]
        urls = _urls_of(session, ids)
        sources = _sources_of(session, ids)
        for article in articles:
            row = {
                "id": article.id,
                "url": article.url,
                "canonical_url": article.url,
                "urls": urls[article.id] or [article.url],
                "title": article.title,
                "text": article.text,
                "published_at": isoformat_at(article.published_at, article.published_offset_minutes),
                "authors": list(article.authors or ()),
                "dateline": article.dateline,
                "agency": article.agency,
                "image_url": article.image_url,
                "language": article.language,
                "page_kind": article.page_kind,
                "word_count": article.word_count,
                "duplicate_of": article.duplicate_of,
                "story_id": article.story_id,
                "sources": sources[article.id],
            }
            if with_html:
                row["html"] = article.html
            yield row
        last_id = ids[-1]
        session.expunge_all()


def _urls_of(session: Session, ids: Sequence[int]) -> dict[int, list[str]]:
    urls: dict[int, list[str]] = {i: [] for i in ids}
    for url, article_id in session.execute(
        select(ArticleUrl.url, ArticleUrl.article_id).where(ArticleUrl.article_id.in_(ids)).order_by(ArticleUrl.url)
    ):
        urls[article_id].append(url)
    return urls


def _sources_of(session: Session, ids: Sequence[int]) -> dict[int, list[str]]:
    sources: dict[int, list[str]] = {i: [] for i in ids}
    rows = session.execute(
        select(Entry.article_id, Entry.source, Feed.url)
        .outerjoin(Feed, Feed.id == Entry.feed_id)
        .where(Entry.article_id.in_(ids))
        .order_by(Entry.id)
    )
    for owner_id, source, feed_url in rows:
        name = feed_url or source.removeprefix("import:")
        if owner_id is not None and name not in sources[owner_id]:
            sources[owner_id].append(name)
    return sources


# ---------------------------------------------------------------- stats


@dataclass(frozen=True)
class Stats:
    feeds_total: int
    feeds_by_status: dict[str, int]
    articles_total: int
    articles_today: int
    duplicates: int
    failed_articles: int
    stories: int
    entries_pending: int
    oldest_pending_at: datetime | None
    last_poll_at: datetime | None
    last_success_at: datetime | None
    reingest_active_runs: int
    reingest_pending_items: int
    # work in flight (work_items): kind -> {queued, running, failed}; and the latest failures
    work: dict[str, dict[str, int]] = field(default_factory=dict)
    work_failures: list[WorkFailure] = field(default_factory=list)


@dataclass(frozen=True)
class WorkFailure:
    kind: str  # the message name, e.g. newsworker.process_article
    item: str  # the item's id
    error: str
    at: datetime


def stats(session: Session, now: datetime) -> Stats:
    by_status = {str(s): int(n) for s, n in session.execute(select(Feed.status, func.count()).group_by(Feed.status))}
    for status in ("ok", "failing", "gone"):
        by_status.setdefault(status, 0)
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)

    def count(*where: ColumnElement[bool], model: Any = Article) -> int:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    pending = Entry.state == "pending"
    return Stats(
        feeds_total=sum(by_status.values()),
        feeds_by_status=by_status,
        articles_total=count(),
        articles_today=count(Article.created_at >= day_start),
        duplicates=count(Article.duplicate_of.is_not(None)),
        failed_articles=count(Article.content_source == "failed"),
        stories=count(Story.merged_into.is_(None), model=Story),
        entries_pending=count(pending, model=Entry),
        oldest_pending_at=session.scalar(select(func.min(Entry.first_seen_at)).where(pending)),
        last_poll_at=session.scalar(select(func.max(Feed.last_polled_at))),
        last_success_at=session.scalar(select(func.max(Feed.last_success_at))),
        reingest_active_runs=count(ReingestRun.finished_at.is_(None), model=ReingestRun),
        reingest_pending_items=count(
            ReingestItem.state == "pending",
            ReingestItem.run_id.in_(select(ReingestRun.id).where(ReingestRun.finished_at.is_(None))),
            model=ReingestItem,
        ),
        work=_work_counts(session, now),
        work_failures=[
            WorkFailure(f.kind, f.key, f.last_error or "", f.updated_at) for f in work_store.failures(session, limit=5)
        ],
    )


def _work_counts(session: Session, now: datetime) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (kind, state), n in work_store.counts(session, now).items():
        out.setdefault(kind.removeprefix("newsworker."), {"queued": 0, "running": 0, "failed": 0})[state] = n
    return out


def work_failures_of(session: Session, article_id: int) -> list[WorkFailure]:
    """Processing or refetching of this article that failed for good, with the reason."""
    return [
        WorkFailure(f.kind, f.key, f.last_error or "", f.updated_at)
        for f in work_store.failures(session, key=str(article_id))
        if f.kind in ("newsworker.process_article", "newsworker.refetch_article")
    ]


# ---------------------------------------------------------------- feeds


@dataclass(frozen=True)
class FetchLine:
    started_at: datetime
    outcome: str
    http_status: int | None
    bytes: int
    duration_ms: int
    new_entries: int
    error: str | None
    warning: str | None


@dataclass(frozen=True)
class FeedDetail:
    id: int
    url: str
    title: str | None
    site_url: str | None
    tags: tuple[str, ...]
    status: str
    next_poll_at: datetime | None
    poll_interval_seconds: int | None
    last_polled_at: datetime | None
    last_success_at: datetime | None
    consecutive_errors: int
    first_error_at: datetime | None
    last_error: str | None
    etag: str | None
    last_modified: str | None
    redirect_url: str | None
    created_at: datetime
    entries: int
    articles: int
    fetches: tuple[FetchLine, ...] = field(default_factory=tuple)


def feed_detail(session: Session, id_or_url: str | int, *, fetch_limit: int = 10) -> FeedDetail:
    """A feed's state and its last fetches; raises ``repo.NotFound``."""
    feed = find_feed(session, id_or_url)
    fetches = session.scalars(
        select(FetchLog)
        .where(FetchLog.feed_id == feed.id)
        .order_by(FetchLog.started_at.desc(), FetchLog.id.desc())
        .limit(fetch_limit)
    )
    entries = int(session.scalar(select(func.count()).select_from(Entry).where(Entry.feed_id == feed.id)) or 0)
    articles = int(
        session.scalar(select(func.count(func.distinct(Entry.article_id))).where(Entry.feed_id == feed.id)) or 0
    )
    return FeedDetail(
        id=feed.id,
        url=feed.url,
        title=feed.title,
        site_url=feed.site_url,
        tags=tuple(feed.tags or ()),
        status=feed.status,
        next_poll_at=feed.next_poll_at,
        poll_interval_seconds=feed.poll_interval_seconds,
        last_polled_at=feed.last_polled_at,
        last_success_at=feed.last_success_at,
        consecutive_errors=feed.consecutive_errors,
        first_error_at=feed.first_error_at,
        last_error=feed.last_error,
        etag=feed.etag,
        last_modified=feed.last_modified,
        redirect_url=feed.redirect_url,
        created_at=feed.created_at,
        entries=entries,
        articles=articles,
        fetches=tuple(
            FetchLine(
                started_at=f.started_at,
                outcome=f.outcome,
                http_status=f.http_status,
                bytes=f.bytes,
                duration_ms=f.duration_ms,
                new_entries=f.new_entries,
                error=f.error,
                warning=f.warning,
            )
            for f in fetches
        ),
    )


# ---------------------------------------------------------------- articles


class ArticleNotFound(LookupError):
    pass


class StoryNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Sighting:
    source: str
    feed_id: int | None
    feed_url: str | None
    url: str | None
    guid: str | None
    first_seen_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True)
class ArticleRef:
    id: int
    title: str | None
    url: str
    published_at: datetime | None


@dataclass(frozen=True)
class ArticleDetail:
    id: int
    url: str
    urls: tuple[str, ...]
    title: str | None
    published_at: datetime | None
    updated_at: datetime | None
    language: str | None
    authors: tuple[str, ...]
    dateline: str | None
    agency: str | None
    image_url: str | None
    word_count: int
    content_hash: str | None
    content_source: str
    fetch_error: str | None
    page_kind: str | None
    processed_at: datetime | None
    previous_hash: str | None
    previous_changed_at: datetime | None
    created_at: datetime
    modified_at: datetime
    text_preview: str
    duplicate_of: ArticleRef | None
    duplicates: tuple[ArticleRef, ...]
    story_id: int | None
    story_title: str | None
    story_article_count: int | None
    sightings: tuple[Sighting, ...]
    failures: tuple[WorkFailure, ...] = ()  # processing or refetching that failed for good
    canonical_url: str = ""  # the canonical address (``url``), named as in export
    html: str | None = None  # only when asked for


def _ref(article: Article) -> ArticleRef:
    return ArticleRef(article.id, article.title, article.url, article.published_at)


def find_article_id(session: Session, id_or_url: str | int) -> int:
    """An article by id or by any address it was seen under."""
    text = str(id_or_url).strip()
    found: int | None = None
    if text.isdigit():
        found = session.scalar(select(Article.id).where(Article.id == int(text)))
    else:
        try:
            identity = identity_url(canonical_url(text))
        except InvalidURL:
            identity = None
        if identity is not None:
            found = session.scalar(select(ArticleUrl.article_id).where(ArticleUrl.identity == identity).limit(1))
    if found is None:
        raise ArticleNotFound(f"no article with id or address {text!r} (see `newsworker export` or `stories show`)")
    return int(found)


def article_detail(
    session: Session, article_id: int, *, preview_chars: int = 400, with_html: bool = False
) -> ArticleDetail:
    article = session.get(Article, article_id)
    if article is None:
        raise ArticleNotFound(f"no article with id {article_id} (see `newsworker export` or `stories show`)")
    urls = _urls_of(session, [article.id])[article.id]
    sightings = [
        Sighting(e.source, e.feed_id, feed_url, e.url, e.guid, e.first_seen_at, e.last_seen_at)
        for e, feed_url in session.execute(
            select(Entry, Feed.url)
            .outerjoin(Feed, Feed.id == Entry.feed_id)
            .where(Entry.article_id == article.id)
            .order_by(Entry.first_seen_at, Entry.id)
        )
    ]
    original = session.get(Article, article.duplicate_of) if article.duplicate_of else None
    duplicates = session.scalars(select(Article).where(Article.duplicate_of == article.id).order_by(Article.id))
    story = session.get(Story, article.story_id) if article.story_id else None
    return ArticleDetail(
        id=article.id,
        url=article.url,
        urls=tuple(urls) or (article.url,),
        title=article.title,
        published_at=at_offset(article.published_at, article.published_offset_minutes),
        updated_at=article.updated_at,
        language=article.language,
        authors=tuple(article.authors or ()),
        dateline=article.dateline,
        agency=article.agency,
        image_url=article.image_url,
        word_count=article.word_count,
        content_hash=article.content_hash,
        content_source=article.content_source,
        fetch_error=article.fetch_error,
        page_kind=article.page_kind,
        processed_at=article.processed_at,
        previous_hash=article.previous_hash,
        previous_changed_at=article.previous_changed_at,
        created_at=article.created_at,
        modified_at=article.modified_at,
        text_preview=article.text[:preview_chars],
        duplicate_of=_ref(original) if original else None,
        duplicates=tuple(_ref(d) for d in duplicates),
        story_id=article.story_id,
        story_title=story.title if story else None,
        story_article_count=story.article_count if story else None,
        sightings=tuple(sightings),
        failures=tuple(work_failures_of(session, article.id)),
        canonical_url=article.url,
        html=article.html if with_html else None,
    )


# ---------------------------------------------------------------- stories


@dataclass(frozen=True)
class StorySummary:
    id: int
    title: str | None
    first_article_at: datetime | None
    last_article_at: datetime | None
    article_count: int
    source_count: int
    merged_into: int | None


def _summary(story: Story, article_count: int | None = None) -> StorySummary:
    return StorySummary(
        id=story.id,
        title=story.title,
        first_article_at=story.first_article_at,
        last_article_at=story.last_article_at,
        article_count=story.article_count if article_count is None else article_count,
        source_count=story.source_count,
        merged_into=story.merged_into,
    )


def live_story_id(session: Session, story_id: int) -> int | None:
    """The story a story id stands for now: itself, or the story it was merged into (followed to the end).

    None when no story has that id."""
    story = session.get(Story, story_id)
    if story is None:
        return None
    seen = {story.id}
    while story.merged_into is not None and story.merged_into not in seen:
        survivor = session.get(Story, story.merged_into)
        if survivor is None:
            break
        story = survivor
        seen.add(story.id)
    return story.id


def story_counts(session: Session, story_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """(articles, sources) per story, counted the same way wherever a story is shown: every article
    whose ``story_id`` is the story (duplicates included), and the distinct feeds or import sources
    that carried them."""
    counts: dict[int, tuple[int, int]] = {i: (0, 0) for i in story_ids}
    if not story_ids:
        return counts
    articles: dict[int, int] = {
        int(story_id or 0): int(n)
        for story_id, n in session.execute(
            select(Article.story_id, func.count()).where(Article.story_id.in_(story_ids)).group_by(Article.story_id)
        )
    }
    sources: dict[int, set[str]] = {i: set() for i in story_ids}
    rows = session.execute(
        select(Article.story_id, Entry.source, Feed.url)
        .join(Entry, Entry.article_id == Article.id)
        .outerjoin(Feed, Feed.id == Entry.feed_id)
        .where(Article.story_id.in_(story_ids))
    )
    for story_id, source, feed_url in rows:
        if story_id is not None:
            sources[story_id].add(feed_url or source.removeprefix("import:"))
    for story_id in story_ids:
        counts[story_id] = (int(articles.get(story_id, 0)), len(sources[story_id]))
    return counts


def _counted(story: Story, counts: dict[int, tuple[int, int]]) -> StorySummary:
    articles, sources = counts.get(story.id, (0, 0))
    summary = _summary(story, articles)
    return dataclasses.replace(summary, source_count=sources)


def list_stories(
    session: Session, *, since: datetime | None = None, min_articles: int = 1, limit: int = 50
) -> list[StorySummary]:
    """Live stories, most recently active first, with the counts ``stories show`` gives."""
    size = select(func.count()).where(Article.story_id == Story.id).correlate(Story).scalar_subquery()
    query = select(Story).where(Story.merged_into.is_(None), size >= min_articles)
    if since is not None:
        query = query.where(or_(Story.last_article_at >= since, Story.created_at >= since))
    query = query.order_by(Story.last_article_at.desc().nulls_last(), Story.id.desc()).limit(limit)
    stories = list(session.scalars(query))
    counts = story_counts(session, [s.id for s in stories])
    return [_counted(s, counts) for s in stories]


def list_articles(session: Session, f: ArticleFilter, *, limit: int) -> list[dict[str, Any]]:
    """The newest matching articles (highest id first), for ``articles list``."""
    articles = list(
        session.scalars(select(Article).where(*filter_conditions(f)).order_by(Article.id.desc()).limit(limit))
    )
    sources = _sources_of(session, [a.id for a in articles]) if articles else {}
    return [
        {
            "id": a.id,
            "url": a.url,
            "title": a.title,
            "published_at": isoformat_at(a.published_at, a.published_offset_minutes),
            "created_at": isoformat_utc(a.created_at),
            "language": a.language,
            "content_source": a.content_source,
            "duplicate_of": a.duplicate_of,
            "story_id": a.story_id,
            "sources": sources.get(a.id, []),
        }
        for a in articles
    ]


@dataclass(frozen=True)
class StoryArticle:
    id: int
    title: str | None
    url: str
    published_at: datetime | None
    created_at: datetime
    sources: tuple[str, ...]
    duplicate_of: int | None


@dataclass(frozen=True)
class StoryDetail:
    story: StorySummary
    top_terms: tuple[Any, ...]
    merged_from: tuple[int, ...]
    articles: tuple[StoryArticle, ...]


def story_detail(session: Session, story_id: int, *, limit: int = 500) -> StoryDetail:
    """A story and its articles in time order, each with the sources that carried it."""
    story = session.get(Story, story_id)
    if story is None:
        raise StoryNotFound(f"no story with id {story_id} (see `newsworker stories list`)")
    while story.merged_into is not None:  # a merged story is shown as the story it became
        survivor = session.get(Story, story.merged_into)
        if survivor is None:
            break
        story = survivor
    merged_from = tuple(session.scalars(select(Story.id).where(Story.merged_into == story.id).order_by(Story.id)))
    articles = list(
        session.scalars(
            select(Article).where(Article.story_id == story.id).order_by(article_time(), Article.id).limit(limit)
        )
    )
    ids = [a.id for a in articles]
    sources = _sources_of(session, ids) if ids else {}
    return StoryDetail(
        story=_counted(story, story_counts(session, [story.id])),
        top_terms=tuple(story.top_terms or ()),
        merged_from=merged_from,
        articles=tuple(
            StoryArticle(
                a.id, a.title, a.url, a.published_at, a.created_at, tuple(sources.get(a.id, ())), a.duplicate_of
            )
            for a in articles
        ),
    )


# ---------------------------------------------------------------- admin writes on feeds


@dataclass(frozen=True)
class FeedReset:
    id: int
    url: str
    previous_status: str
    previous_errors: int


def reset_feed(session: Session, id_or_url: str | int, now: datetime) -> FeedReset:
    """Clear a feed's error back-off and make it due now (a gone feed is tried again too)."""
    feed = find_feed(session, id_or_url)
    before = FeedReset(feed.id, feed.url, feed.status, feed.consecutive_errors)
    feed.consecutive_errors = 0
    feed.first_error_at = None
    feed.last_error = None  # the fetch log keeps the history
    feed.status = "ok"
    feed.next_poll_at = now
    feed.lease_until = None
    feed.poll_token = None  # a poll lease left by a killed worker goes too
    feed.poll_started_at = None
    return before


def feed_specs(session: Session) -> list[tuple[str, str | None, tuple[str, ...]]]:
    """(address, title, tags) of every feed, for OPML export."""
    return [(f.url, f.title, tuple(f.tags or ())) for f in session.scalars(select(Feed).order_by(Feed.id))]
