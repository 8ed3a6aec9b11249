"""Reads and idempotent writes. Every function takes the caller's session; the
caller's unit of work (``Database.transaction``) decides when it commits."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from storage import feedstate
from storage.bounds import fit, fit_text
from storage.dedupe_index import (
    ArticleColumns,
    IndexStatements,
    SqlDuplicateIndex,
    dedupe_and_store,
    dedupe_existing,
)
from storage.models import Article, ArticleUrl, Entry, Feed, FetchLog, article_bands
from storage.upsert import insert_ignore, insert_ignore_returning_id
from worker.model.article import FeedHints, NormalisedArticle
from worker.model.dedupe import ORIGINAL, DuplicateCheck, DuplicateVerdict, Fingerprint
from worker.model.feed import (
    EntryInput,
    FeedScheduleState,
    ParsedEntry,
    PollOutcome,
    PollRecord,
    PollTarget,
    ScheduleDecision,
)
from worker.model.urls import InvalidURL, canonical_url, identity_url, site_of


class NotFound(LookupError):
    """The asked-for row does not exist."""


def feed_source(feed_id: int) -> str:
    return f"feed:{feed_id}"


# ---------------------------------------------------------------- feeds


def add_feed(session: Session, url: str, *, title: str | None = None, tags: Sequence[str] = ()) -> tuple[Feed, bool]:
    """Add a feed by address (canonicalised); adding it twice is not an error."""
    canonical = canonical_url(url)
    feed_id, created = insert_ignore_returning_id(
        session,
        Feed.__table__,  # type: ignore[arg-type]
        {
            "url": canonical,
            "title": title,
            "tags": list(tags),
            "status": "ok",
            "consecutive_errors": 0,
            "redirect_count": 0,
        },
        ["url"],
    )
    feed = session.get(Feed, feed_id)
    assert feed is not None
    if created:
        feed.next_poll_at = feed.created_at
    return feed, created


def find_feed(session: Session, id_or_url: str | int) -> Feed:
    """A feed by numeric id or by address."""
    text = str(id_or_url).strip()
    feed: Feed | None = None
    if text.isdigit():
        feed = session.get(Feed, int(text))
    else:
        try:
            feed = session.scalar(select(Feed).where(Feed.url == canonical_url(text)))
        except InvalidURL:
            feed = None
    if feed is None:
        raise NotFound(f"no feed with id or address {text!r} (see `newsworker feeds list`)")
    return feed


def remove_feed(session: Session, id_or_url: str | int) -> Feed:
    feed = find_feed(session, id_or_url)
    session.execute(update(Entry).where(Entry.feed_id == feed.id).values(feed_id=None))
    session.execute(delete(FetchLog).where(FetchLog.feed_id == feed.id))
    session.delete(feed)
    return feed


def list_feeds(session: Session, *, failing_only: bool = False) -> list[Feed]:
    query = select(Feed).order_by(Feed.id)
    if failing_only:
        query = query.where(Feed.status == "failing")
    return list(session.scalars(query))


def claim_due_feeds(
    session: Session, now: datetime, *, limit: int, lease: timedelta, due_by: datetime | None = None
) -> list[int]:
    """Take up to ``limit`` feeds due by ``due_by`` (default ``now``) and lease them so no other
    dispatcher polls them too."""
    query = (
        select(Feed.id)
        .where(Feed.status != "gone", Feed.next_poll_at <= (due_by or now))
        .where(or_(Feed.lease_until.is_(None), Feed.lease_until < now))
        .order_by(Feed.next_poll_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    if ids:
        # A poll token left behind is a dead poll's (its lease ran out): clear it with the claim, or
        # the new poll would find the feed held by that token under the fresh lease, every time.
        session.execute(
            update(Feed).where(Feed.id.in_(ids)).values(lease_until=now + lease, poll_token=None, poll_started_at=None)
        )
    return ids


def poll_target(session: Session, feed_id: int, *, ignore_cache: bool = False) -> PollTarget | None:
    feed = session.get(Feed, feed_id)
    if feed is None or feed.status == "gone":
        return None
    return PollTarget(
        feed_id=feed.id,
        url=feed.url,
        etag=None if ignore_cache else feed.etag,
        last_modified=None if ignore_cache else feed.last_modified,
        user_agent=feed.user_agent,
    )


def record_poll(
    session: Session,
    outcome: PollOutcome,
    decision: ScheduleDecision,
    now: datetime,
    *,
    poll_token: str | None = None,
) -> PollRecord:
    """Store what a poll found: new entries (idempotently), the fetch log line, the feed's schedule.

    ``poll_token`` is the lease taken by ``feedstate.begin_poll``; it is released here.
    """
    feed = session.get(Feed, outcome.feed_id, with_for_update=session.get_bind().dialect.name == "postgresql")
    if feed is None:
        return PollRecord(outcome.feed_id, "feed_removed", (), 0)
    new_ids: list[int] = []
    seen = 0
    if outcome.feed is not None:
        new_ids, seen = _record_entries(session, feed.id, outcome.feed.entries, now, outcome.final_url or feed.url)
        if outcome.feed.title and not feed.title:
            feed.title = outcome.feed.title[:512]
        if outcome.feed.site_url and not feed.site_url:
            feed.site_url = outcome.feed.site_url if len(outcome.feed.site_url) <= 2048 else None
    if outcome.kind == "ok":
        feed.etag = fit_text(outcome.etag, 512)
        feed.last_modified = fit_text(outcome.last_modified, 128)
    state = decision.state
    previous_status = feed.status
    feed.last_polled_at = now
    feedstate.release_if_owner(feed, poll_token)
    feed.next_poll_at = decision.next_poll_at or now
    feed.poll_interval_seconds = int(decision.interval.total_seconds())
    feed.status = decision.status
    feed.consecutive_errors = decision.consecutive_errors
    feed.first_error_at = state.first_error_at
    feed.last_success_at = state.last_success_at
    feed.last_error = None if outcome.succeeded else (outcome.error or state.last_error)
    feed.base_interval_seconds = int(state.base_interval.total_seconds()) if state.base_interval else None
    feed.redirect_url = state.redirect_url
    feed.redirect_count = state.redirect_count
    if decision.apply_new_url:
        _move_feed(session, feed, decision.apply_new_url)
    warnings = "; ".join(outcome.feed.warnings) if outcome.feed and outcome.feed.warnings else None
    session.add(
        FetchLog(
            feed_id=feed.id,
            url=outcome.url,
            started_at=now,
            http_status=outcome.http_status,
            outcome=outcome.kind,
            bytes=outcome.bytes,
            duration_ms=outcome.duration_ms,
            new_entries=len(new_ids),
            error=outcome.error,
            warning=warnings,
            malformed=bool(warnings and "malformed" in warnings),
        )
    )
    return PollRecord(feed.id, outcome.kind, tuple(new_ids), seen, previous_status, decision.status)


def _move_feed(session: Session, feed: Feed, new_url: str) -> None:
    """Follow a confirmed permanent redirect unless another feed already has that address."""
    try:
        target = canonical_url(new_url)
    except InvalidURL:
        return
    if session.scalar(select(Feed.id).where(Feed.url == target)) is None:
        feed.url = target
        feed.redirect_url = None
        feed.redirect_count = 0


_MAX_URL = 2048


def _record_entries(
    session: Session, feed_id: int, entries: Sequence[ParsedEntry], now: datetime, feed_url: str | None = None
) -> tuple[list[int], int]:
    source = feed_source(feed_id)
    keys = [e.entry_key for e in entries]
    link_keys = [e.link_key for e in entries if e.link_key and len(e.link_key) <= _MAX_URL]
    known_keys: set[str] = set()
    known_links: set[str] = set()
    for chunk in _chunks(keys, 500):
        known_keys.update(
            session.scalars(select(Entry.entry_key).where(Entry.source == source, Entry.entry_key.in_(chunk)))
        )
    for chunk in _chunks(link_keys, 500):
        known_links.update(
            k
            for k in session.scalars(select(Entry.link_key).where(Entry.source == source, Entry.link_key.in_(chunk)))
            if k
        )
    fresh = [e for e in entries if e.entry_key not in known_keys and not (e.link_key and e.link_key in known_links)]
    if known_keys:
        for chunk in _chunks(sorted(known_keys), 500):
            session.execute(
                update(Entry).where(Entry.source == source, Entry.entry_key.in_(chunk)).values(last_seen_at=now)
            )
    rows = [
        {
            "source": source,
            "feed_id": feed_id,
            "entry_key": e.entry_key,
            "guid": (e.guid or "")[:2048] or None,
            # An address longer than the column is no address (PostgreSQL would refuse the row).
            "url": e.link if e.link and len(e.link) <= _MAX_URL else None,
            "link_key": e.link_key if e.link_key and len(e.link_key) <= _MAX_URL else None,
            "title": e.title,
            # The service layer ran the one sanitiser over it (feeds carry XSS too).
            "content_html": e.content_html or None,
            "authors": list(e.authors),
            "published_at": e.published_at,
            "updated_at": e.updated_at,
            "state": "pending",
            "first_seen_at": now,
            "last_seen_at": now,
        }
        for e in fresh
    ]
    insert_ignore(session, Entry.__table__, rows, ["source", "entry_key"])  # type: ignore[arg-type]
    new_ids: list[int] = []
    for chunk in _chunks([r["entry_key"] for r in rows], 500):
        new_ids.extend(
            session.scalars(
                select(Entry.id).where(
                    Entry.source == source,
                    Entry.entry_key.in_(chunk),
                    Entry.state == "pending",
                    Entry.first_seen_at == now,
                )
            )
        )
    return sorted(new_ids), len(entries) - len(fresh)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def stale_pending_entries(session: Session, older_than: datetime, *, limit: int) -> list[int]:
    """Entries still pending long after they were recorded: their task was lost; enqueue again."""
    query = (
        select(Entry.id)
        .where(Entry.state == "pending", Entry.first_seen_at < older_than)
        .order_by(Entry.id)
        .limit(limit)
    )
    return list(session.scalars(query))


# ---------------------------------------------------------------- entries -> articles


def _feed_user_agent(session: Session, feed_id: int | None) -> str | None:
    if feed_id is None:
        return None
    return session.scalar(select(Feed.user_agent).where(Feed.id == feed_id))


# How many of a feed's latest entries supply titles for learning the site's name.
SITE_TITLES_LIMIT = 40


def recent_feed_titles(session: Session, feed_id: int | None, *, exclude_entry: int | None = None) -> tuple[str, ...]:
    """The titles of a feed's latest entries, as the feed gave them and as stored for their
    articles: normalisation learns the site's name from what they share (a feed is one site)."""
    if feed_id is None:
        return ()
    if exclude_entry is None:
        rows = session.connection().execute(_FEED_TITLES, {"feed_id": feed_id})
    else:
        rows = session.connection().execute(_FEED_TITLES_EXCEPT, {"feed_id": feed_id, "exclude": exclude_entry})
    titles: list[str] = []
    for entry_title, article_title in rows:
        titles.extend(t for t in (entry_title, article_title) if t)
    return tuple(dict.fromkeys(titles))


_entries: Table = Entry.__table__  # type: ignore[assignment]
_feeds: Table = Feed.__table__  # type: ignore[assignment]
_article_urls: Table = ArticleUrl.__table__  # type: ignore[assignment]
# Core statements built once for what every article runs (the ORM's identity map and a statement
# rebuilt per call cost more client CPU than the SQL itself)
_PENDING_ENTRY = (
    select(
        _entries.c.id,
        _entries.c.feed_id,
        _entries.c.source,
        _entries.c.url,
        _entries.c.title,
        _entries.c.content_html,
        _entries.c.authors,
        _entries.c.published_at,
        _entries.c.updated_at,
        _feeds.c.user_agent,
    )
    .select_from(_entries.outerjoin(_feeds, _feeds.c.id == _entries.c.feed_id))
    .where(_entries.c.id == bindparam("entry_id"), _entries.c.state == "pending")
)
_LINK_ENTRY = (
    update(_entries)
    .where(_entries.c.id == bindparam("b_entry_id"))
    .values(state="ingested", article_id=bindparam("b_article_id"), last_error=None)
)
_articles: Table = Article.__table__  # type: ignore[assignment]
_ARTICLE_COLUMNS = ArticleColumns.from_table(_articles)
# recent_feed_titles' query (every ingest runs it): built once, as the statements above
_FEED_TITLES = (
    select(_entries.c.title, _articles.c.title)
    .select_from(_entries.outerjoin(_articles, _articles.c.id == _entries.c.article_id))
    .where(_entries.c.feed_id == bindparam("feed_id"))
    .order_by(_entries.c.id.desc())
    .limit(SITE_TITLES_LIMIT)
)
_FEED_TITLES_EXCEPT = _FEED_TITLES.where(_entries.c.id != bindparam("exclude"))
_ARTICLE_FOR_IDENTITY = select(_article_urls.c.article_id).where(_article_urls.c.identity == bindparam("key")).limit(1)


def pending_entry(session: Session, entry_id: int) -> EntryInput | None:
    """The entry to ingest, or None if it is gone or was already ingested (re-delivery)."""
    row = session.connection().execute(_PENDING_ENTRY, {"entry_id": entry_id}).first()
    if row is None:
        return None
    return EntryInput(
        entry_id=row.id,
        source=row.source,
        url=row.url,
        title=row.title,
        content_html=row.content_html,
        hints=FeedHints(
            title=row.title,
            authors=tuple(row.authors or ()),
            published_at=row.published_at,
            updated_at=row.updated_at,
            content_html=row.content_html,
            site_titles=recent_feed_titles(session, row.feed_id, exclude_entry=row.id),
        ),
        user_agent=row.user_agent,
    )


def mark_entry_failed(session: Session, entry_id: int, error: str) -> None:
    session.execute(update(Entry).where(Entry.id == entry_id).values(state="failed", last_error=error[:2000]))


@dataclass(frozen=True)
class StoredArticle:
    article_id: int
    created: bool
    verdict: DuplicateVerdict = ORIGINAL


def _article_values(article: NormalisedArticle) -> dict[str, Any]:
    return fit(
        Article.__table__,  # type: ignore[arg-type]
        {
            "title": article.title,
            "text": article.text,
            "html": article.html or None,
            "authors": list(article.authors),
            "published_at": article.published_at,
            "published_offset_minutes": article.published_offset_minutes,
            "updated_at": article.updated_at,
            "language": article.language,
            "image_url": article.image_url,
            "dateline": article.dateline,
            "agency": article.agency,
            "word_count": article.word_count,
            "content_source": article.source,
            "page_kind": article.page_kind,
        },
    )


def article_for_url(session: Session, url: str) -> int | None:
    """The article already stored under this address (any scheme, tracking parameters ignored)."""
    try:
        key = identity_url(url)
    except InvalidURL:
        return None
    found = session.connection().execute(_ARTICLE_FOR_IDENTITY, {"key": key}).scalar()
    return int(found) if found is not None else None


def add_article_urls(session: Session, article_id: int, urls: Iterable[str], now: datetime) -> None:
    canonical: set[str] = set()
    for url in urls:
        try:
            canonical.add(canonical_url(url))
        except InvalidURL:
            continue
    insert_ignore(
        session,
        ArticleUrl.__table__,  # type: ignore[arg-type]
        [{"url": u, "identity": identity_url(u), "article_id": article_id, "first_seen_at": now} for u in canonical],
        ["url"],
    )


def store_article(
    session: Session,
    article: NormalisedArticle,
    fp: Fingerprint,
    *,
    check: DuplicateCheck,
    seen_urls: Iterable[str] = (),
    now: datetime,
    fetch_error: str | None = None,
    next_fetch_at: datetime | None = None,
) -> StoredArticle:
    """Insert the article unless an article already owns its address; record every address.

    ``fp`` is the article text's fingerprint and ``check`` the dedupe decision; both come from
    the dedupe stage through the service layer (storage only runs them under its locks)."""
    owner = article_for_url(session, article.url)
    if owner is not None:
        add_article_urls(session, owner, [article.url, *seen_urls], now)
        return StoredArticle(owner, False)
    values = {
        "url": article.url,
        "created_at": now,
        "modified_at": now,
        **_article_values(article),
        "content_hash": fp.content_hash,
        "content_source": "failed" if fetch_error is not None else article.source,
        "fetch_error": fetch_error,
        "fetch_attempts": 1 if fetch_error else 0,
        "next_fetch_at": next_fetch_at,
    }
    created = False

    def insert(verdict: DuplicateVerdict) -> int:
        nonlocal created
        row = {**values, "duplicate_of": verdict.original_id}
        article_id, created = insert_ignore_returning_id(session, Article.__table__, row, ["url"])  # type: ignore[arg-type]
        return article_id

    if article.is_article:
        # Locks (PostgreSQL) the article's band keys first: a simultaneous copy waits and then sees it.
        article_id, verdict = dedupe_and_store(
            session.connection(),
            _duplicate_index(session),
            fp,
            insert,
            check=check,
            site=site_of(article.url),
            title=article.title,
        )
    else:  # listings, consent walls and empty pages are never anybody's original
        article_id, verdict = insert(ORIGINAL), ORIGINAL
    add_article_urls(session, article_id, [article.url, *seen_urls], now)
    return StoredArticle(article_id, created, verdict if created else ORIGINAL)


# dialect -> the duplicate index's statements over articles and article_bands (built once)
_INDEX_STATEMENTS: dict[str, IndexStatements] = {}


def _duplicate_index(session: Session) -> SqlDuplicateIndex:
    conn = session.connection()
    dialect = conn.dialect.name
    statements = _INDEX_STATEMENTS.get(dialect)
    if statements is None:
        statements = _INDEX_STATEMENTS[dialect] = IndexStatements.build(dialect, article_bands, _ARTICLE_COLUMNS)
    return SqlDuplicateIndex(conn, article_bands, _ARTICLE_COLUMNS, statements=statements)


@dataclass(frozen=True)
class RefetchSource:
    article_id: int
    url: str
    title: str | None
    feed_html: str | None
    hints: FeedHints
    content_source: str
    fetch_attempts: int
    user_agent: str | None = None


def refetch_source(session: Session, article_id: int) -> RefetchSource | None:
    """What a page refetch needs: the address and the feed's version of the article."""
    article = session.get(Article, article_id)
    if article is None:
        return None
    entry = session.scalar(  # the feed's latest version of the entry
        select(Entry)
        .where(Entry.article_id == article_id, Entry.feed_id.is_not(None))
        .order_by(Entry.last_seen_at.desc(), Entry.id.desc())
        .limit(1)
    )
    feed_html = entry.content_html if entry else None
    if not feed_html and article.content_source != "page":
        feed_html = article.html or "".join(f"<p>{p}</p>" for p in article.text.split("\n\n") if p)
    return RefetchSource(
        article_id=article.id,
        url=article.url,
        title=entry.title if entry and entry.title else article.title,
        feed_html=feed_html,
        hints=FeedHints(
            title=entry.title if entry else article.title,
            authors=tuple(entry.authors or ()) if entry else tuple(article.authors or ()),
            published_at=(entry.published_at if entry else None) or article.published_at,
            updated_at=entry.updated_at if entry else article.updated_at,
            site_titles=recent_feed_titles(session, entry.feed_id, exclude_entry=entry.id) if entry else (),
        ),
        content_source=article.content_source,
        fetch_attempts=article.fetch_attempts,
        user_agent=_feed_user_agent(session, entry.feed_id) if entry else None,
    )


def update_article(
    session: Session,
    article_id: int,
    article: NormalisedArticle,
    fp: Fingerprint,
    *,
    check: DuplicateCheck,
    fetch_error: str | None,
    attempts: int,
    next_fetch_at: datetime | None,
    now: datetime,
    page_awaited: bool = True,
) -> bool:
    """Update an article in place (id, addresses and sightings kept); True if its text changed.

    ``page_awaited`` False: a failed fetch leaves the article's content source as it was (it
    is not marked as waiting for its page)."""
    row = session.get(Article, article_id, with_for_update=session.get_bind().dialect.name == "postgresql")
    if row is None:
        return False
    row.fetch_attempts = attempts
    row.next_fetch_at = next_fetch_at
    row.fetch_error = fetch_error
    if fetch_error is not None and row.content_source == "page":
        return False  # a failed refetch never replaces a good page version
    values = {**_article_values(article), "content_hash": fp.content_hash}
    changed = values["content_hash"] != row.content_hash
    if changed and article.is_article:
        verdict = dedupe_existing(
            session.connection(),
            _duplicate_index(session),
            article_id,
            fp,
            check=check,
            site=site_of(article.url),
            title=article.title,
        )
        values["duplicate_of"] = verdict.original_id if verdict.original_id != article_id else None
    if changed:
        row.previous_hash = row.content_hash
        row.previous_changed_at = now
    for key, value in values.items():
        setattr(row, key, value)
    if fetch_error is None:
        row.content_source = "page"
    elif page_awaited:
        row.content_source = "failed"
    row.modified_at = now
    if article.url != row.url and article_for_url(session, article.url) in (None, article_id):
        add_article_urls(session, article_id, [article.url], now)
    return bool(changed)


def article_version(session: Session, article_id: int) -> tuple[str | None, int | None]:
    """An article's content hash and the original it duplicates (before/after an update)."""
    row = session.execute(
        select(Article.content_hash, Article.duplicate_of).where(Article.id == article_id)
    ).one_or_none()
    return (row[0], row[1]) if row is not None else (None, None)


def count_due_feeds(session: Session, due_by: datetime) -> int:
    return int(session.scalar(select(func.count()).where(Feed.status != "gone", Feed.next_poll_at <= due_by)) or 0)


def due_refetches(session: Session, now: datetime, *, limit: int, due_by: datetime | None = None) -> list[int]:
    """Articles whose page fetch failed and whose retry time has come (by ``due_by``, default ``now``)."""
    query = (
        select(Article.id)
        .where(
            Article.content_source == "failed",
            Article.next_fetch_at.is_not(None),
            Article.next_fetch_at <= (due_by or now),
        )
        .order_by(Article.next_fetch_at)
        .limit(limit)
    )
    ids = list(session.scalars(query))
    if ids:  # claimed: the next dispatch does not send them again while they run
        session.execute(update(Article).where(Article.id.in_(ids)).values(next_fetch_at=now + timedelta(minutes=30)))
    return ids


def link_entry(session: Session, entry_id: int, article_id: int) -> None:
    session.connection().execute(_LINK_ENTRY, {"b_entry_id": entry_id, "b_article_id": article_id})


# ---------------------------------------------------------------- reading


def schedule_state(session: Session, feed_id: int) -> FeedScheduleState | None:
    feed = session.get(Feed, feed_id)
    if feed is None:
        return None
    return FeedScheduleState(
        status=feed.status,  # type: ignore[arg-type]
        consecutive_errors=feed.consecutive_errors,
        first_error_at=feed.first_error_at,
        last_error=feed.last_error,
        last_success_at=feed.last_success_at,
        base_interval=timedelta(seconds=feed.base_interval_seconds) if feed.base_interval_seconds else None,
        redirect_url=feed.redirect_url,
        redirect_count=feed.redirect_count,
    )


def record_import_sighting(session: Session, *, source: str, url: str, article_id: int, now: datetime) -> None:
    """An imported line is a sighting of its article in the import source."""
    key = identity_url(url)
    insert_ignore(
        session,
        Entry.__table__,  # type: ignore[arg-type]
        [
            {
                "source": f"import:{source}",
                "entry_key": "url:" + key,
                "link_key": key,
                "url": url,
                "state": "ingested",
                "article_id": article_id,
                "first_seen_at": now,
                "last_seen_at": now,
                "authors": [],
            }
        ],
        ["source", "entry_key"],
    )
