"""SQLAlchemy 2.0 typed models.

Every table that a task writes has a natural unique key, so a re-delivered task
meets a conflict instead of creating a second row (see ``storage.upsert``).
"""

from __future__ import annotations

from datetime import datetime
from types import MappingProxyType
from typing import Any, ClassVar, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.dedupe_index import band_table
from storage.types import IdType, UTCDateTime
from worker.model.clock import utcnow

# Stable constraint names so that Alembic migrations are the same on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# SQLite: AUTOINCREMENT, so a removed row's id is never handed out again (migration 0006;
# PostgreSQL's identity columns never go back anyway).
NEVER_REUSE_IDS: Final = MappingProxyType({"sqlite_autoincrement": True})


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Feed(Base):
    """A feed and its scheduling state: the database, not beat, decides when it is polled."""

    __tablename__ = "feeds"
    __table_args__ = (dict(NEVER_REUSE_IDS),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    title: Mapped[str | None] = mapped_column(String(512))
    site_url: Mapped[str | None] = mapped_column(String(2048))
    tags: Mapped[list[Any]] = mapped_column(default=list)
    user_agent: Mapped[str | None] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), default="ok")  # ok | failing | gone
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(128))
    next_poll_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    poll_interval_seconds: Mapped[int | None] = mapped_column(Integer)
    # Interval estimated from the feed's publishing rate; reused after 304s.
    base_interval_seconds: Mapped[int | None] = mapped_column(Integer)
    lease_until: Mapped[datetime | None] = mapped_column()
    # Set while a poll runs (storage.feedstate.begin_poll): a second delivery of the
    # poll task finds it taken and does nothing. Expires with lease_until.
    poll_token: Mapped[str | None] = mapped_column(String(64))
    poll_started_at: Mapped[datetime | None] = mapped_column()
    last_polled_at: Mapped[datetime | None] = mapped_column()
    last_success_at: Mapped[datetime | None] = mapped_column()
    consecutive_errors: Mapped[int] = mapped_column(Integer, default=0)
    first_error_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    redirect_url: Mapped[str | None] = mapped_column(String(2048))
    redirect_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Article(Base):
    """One article, however many addresses and feeds it was seen under."""

    __tablename__ = "articles"
    __table_args__ = (dict(NEVER_REUSE_IDS),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)  # canonical address
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)
    authors: Mapped[list[Any]] = mapped_column(default=list)
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    # the publisher's UTC offset (minutes) for published_at when the page stated one: exports
    # show the publisher's clock and calendar day for the same instant
    published_offset_minutes: Mapped[int | None] = mapped_column(SmallInteger)
    updated_at: Mapped[datetime | None] = mapped_column()
    language: Mapped[str | None] = mapped_column(String(8))
    image_url: Mapped[str | None] = mapped_column(String(2048))
    dateline: Mapped[str | None] = mapped_column(String(256))
    agency: Mapped[str | None] = mapped_column(String(256))
    word_count: Mapped[int] = mapped_column(Integer, default=0)
    content_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    # feed: built from the feed entry only; page: extracted from the fetched page;
    # failed: page fetch/extraction failed, stored from feed content, retried later.
    content_source: Mapped[str] = mapped_column(String(16), default="feed")
    fetch_error: Mapped[str | None] = mapped_column(Text)
    fetch_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_fetch_at: Mapped[datetime | None] = mapped_column(index=True)
    page_kind: Mapped[str | None] = mapped_column(String(16))
    processed_at: Mapped[datetime | None] = mapped_column()
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("articles.id"), index=True)
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id"), index=True)
    previous_hash: Mapped[str | None] = mapped_column(String(64))
    previous_changed_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    modified_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# LSH band keys of each article's text: the near-duplicate index, derived from
# articles.text (storage.dedupe_index.rebuild_bands recreates it).
article_bands = band_table(Base.metadata, articles_fk="articles.id")


class ArticleUrl(Base):
    """Every canonical address an article was seen under; the unique key of "same address"."""

    __tablename__ = "article_urls"

    url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    # Scheme- and www-less form (worker.model.urls.identity_url): http and https are one address.
    identity: Mapped[str] = mapped_column(String(2048), index=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class Entry(Base):
    """A sighting: one entry of one feed (or import source), with what the feed said about it.

    ``entry_key`` is the entry's identity inside its source (GUID, else link, else
    a hash of title and date); ``(source, entry_key)`` is unique, so an entry seen
    again is never ingested as new.
    """

    __tablename__ = "entries"
    __table_args__ = (UniqueConstraint("source", "entry_key"), dict(NEVER_REUSE_IDS))

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    source: Mapped[str] = mapped_column(String(512))  # "feed:<id>" or "import:<name>"
    feed_id: Mapped[int | None] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    entry_key: Mapped[str] = mapped_column(String(2048))
    guid: Mapped[str | None] = mapped_column(String(2048))
    url: Mapped[str | None] = mapped_column(String(2048))  # the address as seen in the feed
    # Scheme-less canonical link: an entry whose GUID changes but whose link does not is not new.
    link_key: Mapped[str | None] = mapped_column(String(2048))
    title: Mapped[str | None] = mapped_column(Text)
    content_html: Mapped[str | None] = mapped_column(Text)
    authors: Mapped[list[Any]] = mapped_column(default=list)
    published_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime | None] = mapped_column()
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | ingested | failed
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id"), index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_entries_state_first_seen", Entry.state, Entry.first_seen_at)
# A feed's entries, and its latest ones in order (site names are learned from their titles).
Index("ix_entries_feed_id_id", Entry.feed_id, Entry.id)
Index("ix_entries_source_link_key", Entry.source, Entry.link_key)


class Story(Base):
    """Coverage of one event by many articles."""

    __tablename__ = "stories"
    __table_args__ = (dict(NEVER_REUSE_IDS),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    title: Mapped[str | None] = mapped_column(Text)
    # (no index on first_article_at: nothing looks stories up by it, and the linker rewrites
    # this row for every article, each index one more entry to write)
    first_article_at: Mapped[datetime | None] = mapped_column()
    last_article_at: Mapped[datetime | None] = mapped_column(index=True)
    article_count: Mapped[int] = mapped_column(Integer, default=0)
    source_count: Mapped[int] = mapped_column(Integer, default=0)
    top_terms: Mapped[list[Any]] = mapped_column(default=list)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    merged_into: Mapped[int | None] = mapped_column(ForeignKey("stories.id"))
    # changed since the refinement pass last regrouped it (worker.stories.refine)
    refine_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FetchLog(Base):
    """One line per HTTP fetch, for admins (``feeds show``) and for debugging."""

    __tablename__ = "fetch_log"
    __table_args__ = (dict(NEVER_REUSE_IDS),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    feed_id: Mapped[int | None] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    http_status: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(32))  # ok | not_modified | http_error | fetch_error | parse_error
    bytes: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    new_entries: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    warning: Mapped[str | None] = mapped_column(Text)
    malformed: Mapped[bool] = mapped_column(Boolean, default=False)


Index("ix_fetch_log_feed_started", FetchLog.feed_id, FetchLog.started_at)


class ReingestRun(Base):
    """One ``newsworker reingest``: what was selected and how far it got (any process can read it)."""

    __tablename__ = "reingest_runs"
    __table_args__ = (dict(NEVER_REUSE_IDS),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    selection: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the selectors, for `reingest status`
    mode: Mapped[str] = mapped_column(String(16))  # inline | celery
    refetch_feeds: Mapped[bool] = mapped_column(Boolean, default=False)
    # selecting | enqueuing | running | done | interrupted
    status: Mapped[str] = mapped_column(String(16), default="selecting")
    total: Mapped[int] = mapped_column(Integer, default=0)
    enqueued: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class ReingestItem(Base):
    """One article of a run; its state moves once from pending to done/failed/cancelled."""

    __tablename__ = "reingest_items"

    run_id: Mapped[int] = mapped_column(ForeignKey("reingest_runs.id", ondelete="CASCADE"), primary_key=True)
    article_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | failed | cancelled
    outcome: Mapped[str | None] = mapped_column(String(16))  # changed | updated | unchanged | missing
    error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column()


Index("ix_reingest_items_run_state", ReingestItem.run_id, ReingestItem.state)


class WorkItem(Base):
    """A unit of work in flight (an entry to ingest, an article to process or refetch, a re-ingest
    batch): the database, not the broker, is the source of truth for what is still to do.

    A row is written in the transaction that creates the work, leased when a worker starts it,
    and deleted when the work is done; a row whose lease expired (the worker died) or whose
    message never reached a worker is sent again by the sweeper. See worker/service/work.py."""

    __tablename__ = "work_items"
    __table_args__ = (UniqueConstraint("kind", "key"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64))  # the message name
    key: Mapped[str] = mapped_column(String(64))  # the item's id, or a digest of the arguments
    args: Mapped[list[Any]] = mapped_column(default=list)  # the message's arguments, to send it again
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued | failed
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column()
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # starts
    crashes: Mapped[int] = mapped_column(Integer, default=0)  # starts whose worker died
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_work_items_state_lease", WorkItem.state, WorkItem.lease_until)


class EventOutbox(Base):
    """The transactional outbox: one row per event, written in the transaction of the change.

    ``seq`` is the publishing order (see ``storage.outbox``); ``published_at`` is set once the
    event is on the Redis Stream, ``delivered_at`` once the webhook took it. Rows are pruned when
    every configured sink has them and they are older than the retention."""

    __tablename__ = "event_outbox"
    __table_args__ = (dict(NEVER_REUSE_IDS),)  # a reader resumes from a seq: never handed out twice

    seq: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column()
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    published_at: Mapped[datetime | None] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()
    delivery_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_delivery_at: Mapped[datetime | None] = mapped_column()
    delivery_error: Mapped[str | None] = mapped_column(Text)


_outbox: Table = EventOutbox.__table__  # type: ignore[assignment]
# The relays' scans: unpublished (resp. undelivered) rows in seq order; partial, so they stay small.
Index(
    "ix_event_outbox_unpublished",
    _outbox.c.seq,
    postgresql_where=_outbox.c.published_at.is_(None),
    sqlite_where=_outbox.c.published_at.is_(None),
)
Index(
    "ix_event_outbox_undelivered",
    _outbox.c.seq,
    postgresql_where=_outbox.c.delivered_at.is_(None),
    sqlite_where=_outbox.c.delivered_at.is_(None),
)
# Per-subject order check of concurrent relays, and the prune by age.
Index("ix_event_outbox_subject_seq", _outbox.c.subject, _outbox.c.seq)
Index("ix_event_outbox_occurred_at", _outbox.c.occurred_at)


# Story-linking state (the SQL side of worker.stories, adapted by storage.story_index).
STORY_DF_FILLFACTOR: Final = 70
metadata = Base.metadata
stories: Table = Story.__table__  # type: ignore[assignment]

# merges re-point earlier merges (merged_into = gone -> survivor): without this index that
# UPDATE scanned every story (100 ms at 1M articles)
Index("ix_stories_merged_into", stories.c.merged_into)

# Inverted index: a story's strongest centroid terms, with its time span for the window filter.
story_terms = Table(
    "story_terms",
    metadata,
    Column("term", String(200), nullable=False),
    Column("story_id", IdType, nullable=False),
    Column("weight", Float, nullable=False),
    Column("first_time", Float, nullable=False),  # epoch seconds
    Column("last_time", Float, nullable=False),
    # story first: the key also finds a story's postings (rewritten as it grows), so no second
    # index on story_id has to be written with every posting
    PrimaryKeyConstraint("story_id", "term"),
)
# The candidate lookup reads only this index (every column it needs is in it: an index-only
# scan on PostgreSQL once pages are all-visible, a covering index on SQLite).
Index(
    "ix_story_terms_lookup",
    story_terms.c.term,
    story_terms.c.last_time,
    story_terms.c.first_time,
    story_terms.c.story_id,
    story_terms.c.weight,
)

# Online document frequencies; the row with term '' counts documents. A fold rewrites a few
# thousand counters at once; with room left on each page (PostgreSQL's fillfactor) nearly every
# one is a HOT update, which writes no index entry (43% were HOT at the default of 100).
story_df = Table(
    "story_df",
    metadata,
    Column("term", String(200), primary_key=True),
    Column("df", BigInteger, nullable=False),
    postgresql_with={"fillfactor": STORY_DF_FILLFACTOR},
)

# Document counts not folded into story_df yet: one row per linked article, its terms (and ''),
# folded by storage.story_index every worker.model.story.DF_FOLD_EVERY documents.
story_df_pending = Table(
    "story_df_pending",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("terms", JSON, nullable=False),
)

# How many documents of one source carried a sentence (site boilerplate detection).
story_boilerplate = Table(
    "story_boilerplate",
    metadata,
    Column("source", String(512), primary_key=True),
    Column("sentence_key", String(16), primary_key=True),
    Column("docs", Integer, nullable=False),
    Column("last_seen", Float, nullable=False),  # epoch seconds
)

# Each outlet's linked articles and the cities they named (the SOURCE_CITIES most named): the
# most named is the outlet's home city, the city of its articles that name none
# (worker.stories.evidence.home_city). Read with the linker's document statistics.
story_sources = Table(
    "story_sources",
    metadata,
    Column("source", String(512), primary_key=True),
    Column("articles", Integer, nullable=False),
    Column("cities", JSON, nullable=False),  # {city: articles naming it}
)

story_merges = Table(
    "story_merges",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("old_story_id", IdType, nullable=False, index=True),
    Column("new_story_id", IdType, nullable=False, index=True),
    Column("merged_at", DateTime(timezone=True), nullable=False),
)

# A story changed since the refinement pass last saw it (partial index: few rows are pending).
Index(
    "ix_stories_refine_pending",
    stories.c.id,
    postgresql_where=stories.c.refine_pending,
    sqlite_where=stories.c.refine_pending,
)

# Each linked article's vector and time, so the refinement pass can regroup stories without
# re-reading and re-tokenising their texts. Pruned after VECTOR_RETENTION.
story_vectors = Table(
    "story_vectors",
    metadata,
    Column("article_id", IdType, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("at", Float, nullable=False),  # epoch seconds (the article's linking time)
    Column("vector", JSON, nullable=False),
    # its incident evidence keys (worker.stories.evidence), computed once when it was linked
    Column("evidence", JSON, nullable=True),
)
