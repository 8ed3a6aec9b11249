"""Story-linking state in SQL: stories, an inverted index of story terms, online document
frequencies, per-source sentence counts (boilerplate) and the merge log.

:class:`SqlStoryIndex` implements :class:`worker.stories.link.StoryIndex` on one
:class:`~sqlalchemy.engine.Connection` inside one transaction, so
:func:`worker.stories.link.link_article` runs the same code in memory (quality bench) and here.
:func:`link_in_transaction` is the per-article entry point; :func:`link_with_retry` wraps it
with its own transactions and retries.

Concurrency (two workers, two articles of one new story, same moment): every link first takes
PostgreSQL transaction-scoped advisory locks on the article's time bucket ``floor(t / WINDOW)``
and the next one. Two articles less than ``WINDOW`` apart always share a bucket, so they are
linked one after the other and the second sees the story the first created. A story row that
changed under us (a long story touched from two distant buckets) is caught by an optimistic
version check on ``article_count`` and the link is retried. SQLite has one writer at a time;
taking its write lock first (a write to the document counter) serialises linkers there.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Table,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from storage.models import (
    Article,
    stories,
    story_boilerplate,
    story_df,
    story_df_pending,
    story_merges,  # noqa: F401  (callers reach the tables through this module)
    story_terms,  # noqa: F401  (callers reach the tables through this module)
    story_vectors,
)
from worker.model import story as story_model
from worker.model.clock import as_utc
from worker.model.story import LinkSubject
from worker.model.urls import site_of

articles: Table = Article.__table__  # type: ignore[assignment]

N_DOCS_KEY = ""
LOCK_NAMESPACE = 0x5707  # first key of pg_advisory_xact_lock(int, int)
# Stories are found through postings whose last article is in [t - WINDOW, t + WINDOW +
# SPAN_CAP]: the upper bound keeps backfill of old articles from scanning every newer story.
SPAN_CAP = timedelta(days=60)
# Postings may say a story ended up to this much earlier than it did (see save_story).
POSTING_SLACK = timedelta(hours=6)
# A kept posting's weight is rewritten when it moved by more than this fraction (see save_story).
POSTING_WEIGHT_SLACK = 0.2

# PostgreSQL hot path: arrays instead of expanded IN lists and multi-row VALUES, so each
# statement is one cached, prepared plan with a handful of parameters (client CPU per article).
# Lookups by a list of keys are written as one index probe per key (unnest + LATERAL, whose
# OFFSET 0 keeps the planner from flattening it into a join it could plan as a scan), never as
# ``key = ANY(:array)``: psycopg prepares a statement after a few runs and PostgreSQL may keep a
# generic plan made while the table was nearly empty, a sequential scan testing every row
# against every element of the array, which on a fresh deployment grew to ~40 ms per article
# (80% of PostgreSQL's CPU in the distributed bench) until an ANALYZE invalidated it. A probe
# per key is the best plan at any size, with or without statistics.
# two buckets, locked in ascending order (one statement: SELECT list order is evaluation order)
_PG_LOCK = text("SELECT pg_advisory_xact_lock(:ns, :b), pg_advisory_xact_lock(:ns, :b + 1)")
# the article's sentences a source repeats on many pages (k.key) and its terms' counts (t.term, d.df)
_BOILERPLATE_PROBE = (
    "unnest(CAST(:keys AS text[])) AS k(key) CROSS JOIN LATERAL"
    " (SELECT 1 FROM story_boilerplate WHERE source = :source AND sentence_key = k.key"
    " AND docs >= :min OFFSET 0) AS b"
)
_DF_PROBE = (
    "unnest(CAST(:terms AS text[])) AS t(term) CROSS JOIN LATERAL"
    " (SELECT df FROM story_df WHERE story_df.term = t.term OFFSET 0) AS d"
)
_PG_BOILERPLATE = text("SELECT k.key FROM " + _BOILERPLATE_PROBE)
_PG_DF = text("SELECT t.term, d.df FROM " + _DF_PROBE)
# the terms whose counts this process holds as of document count :gen (see _DfCache): probed only
# when the counts moved on since (a one-time filter: no probe at all while they have not)
_PG_CACHED_DF = (
    "SELECT 'c', c.term, d.df FROM unnest(CAST(:cached AS text[])) AS c(term) CROSS JOIN LATERAL"
    " (SELECT df FROM story_df WHERE story_df.term = c.term OFFSET 0) AS d"
    " WHERE (SELECT df FROM story_df WHERE term = '') IS DISTINCT FROM CAST(:gen AS bigint)"
)
# the article's outlet: its cities (as JSON text) and its articles (see story_sources)
_PG_SOURCE_ROW = "SELECT 's', CAST(cities AS text), articles FROM story_sources WHERE source = :source"
# boilerplate sentences and document frequencies of one article, one round trip
_PG_DOCUMENT_STATS = text(
    f"SELECT 'b', k.key, 0 FROM {_BOILERPLATE_PROBE} UNION ALL SELECT 'd', t.term, d.df FROM {_DF_PROBE}"
    f" UNION ALL {_PG_CACHED_DF} UNION ALL {_PG_SOURCE_ROW}"
)
# the same, taking the linker's window locks in that round trip (they guard the stories read
# after it; the counters read here are not theirs to guard)
_PG_LOCKED_DOCUMENT_STATS = text(
    "SELECT 'l', '', 0 FROM (" + _PG_LOCK.text + ") AS l UNION ALL " + _PG_DOCUMENT_STATS.text
)
# terms distinct (the caller's): each posting is summed once
_PG_CANDIDATES = text(
    "WITH c AS ("
    " SELECT p.story_id, sum(p.weight) AS score FROM unnest(CAST(:terms AS text[])) AS t(term)"
    " CROSS JOIN LATERAL (SELECT story_id, weight FROM story_terms WHERE story_terms.term = t.term"
    " AND last_time BETWEEN :lo AND :hi_last AND first_time <= :hi OFFSET 0) AS p"
    " GROUP BY p.story_id ORDER BY score DESC, p.story_id LIMIT :k)"
    " SELECT s.id, s.title, s.article_count, CAST(s.state AS text) AS state FROM c JOIN stories s"
    " ON s.id = c.story_id WHERE s.merged_into IS NULL ORDER BY c.score DESC, s.id"
)
_PG_POST = text(
    "INSERT INTO story_terms (term, story_id, weight, first_time, last_time)"
    " SELECT t, :sid, w, :first, :last FROM unnest(CAST(:terms AS text[]),"
    " CAST(:weights AS float8[])) AS u(t, w)"
)
# a story's postings rewritten: the terms gone dropped, the others upserted (a row unchanged, or
# whose weight moved by less than the slack, is not written)
_PG_UNPOST_GONE_CTE = "gone AS (DELETE FROM story_terms WHERE story_id = :sid AND term <> ALL(CAST(:terms AS text[])))"
_PG_UPSERT_POSTINGS = (
    "INSERT INTO story_terms (term, story_id, weight, first_time, last_time)"
    " SELECT t, :sid, w, :first, :last FROM unnest(CAST(:terms AS text[]),"
    " CAST(:weights AS float8[])) AS u(t, w)"
    " ON CONFLICT (term, story_id) DO UPDATE SET weight = excluded.weight,"
    " first_time = excluded.first_time, last_time = excluded.last_time"
    " WHERE story_terms.first_time <> excluded.first_time OR story_terms.last_time <> excluded.last_time"
    " OR abs(story_terms.weight - excluded.weight) > :slack * excluded.weight"
)
_PG_REPOST = text(f"WITH {_PG_UNPOST_GONE_CTE} {_PG_UPSERT_POSTINGS}")
# Document frequencies: a linked article writes one row of its terms (story_df_pending); every
# DF_FOLD_EVERY documents one linker folds the pending rows into story_df, counted per term (a
# counter upsert per distinct term, ~150 an article, was the largest part of linking's database
# CPU). Rows are claimed with SKIP LOCKED and deleted as they are counted, so two folds never
# count one row twice nor wait for each other; counters are upserted in term order (no deadlocks).
# The pending row's id comes back with how many documents are folded (a young index folds at once).
_PG_PENDING = text(
    "INSERT INTO story_df_pending (terms) VALUES (CAST(:terms AS json))"
    " RETURNING id, (SELECT df FROM story_df WHERE term = '')"
)
_PG_FOLD = text(
    "WITH claim AS (SELECT id FROM story_df_pending WHERE id <= :upto ORDER BY id FOR UPDATE SKIP LOCKED),"
    " gone AS (DELETE FROM story_df_pending p USING claim WHERE p.id = claim.id RETURNING p.terms)"
    " INSERT INTO story_df (term, df) SELECT t, count(*) FROM gone, json_array_elements_text(gone.terms) AS t"
    " GROUP BY t ORDER BY t ON CONFLICT (term) DO UPDATE SET df = story_df.df + excluded.df"
)
_PG_BOILERPLATE_UPSERT = text(
    "INSERT INTO story_boilerplate (source, sentence_key, docs, last_seen)"
    " SELECT :source, k, 1, :seen FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k"
    " ON CONFLICT (source, sentence_key) DO UPDATE"
    " SET docs = story_boilerplate.docs + 1, last_seen = excluded.last_seen"
)

_PG_VECTOR = text(
    "INSERT INTO story_vectors (article_id, at, vector, evidence)"
    " VALUES (:article_id, :at, CAST(:vector AS json), CAST(:evidence AS json))"
    " ON CONFLICT (article_id) DO UPDATE SET at = excluded.at, vector = excluded.vector, evidence = excluded.evidence"
)

# One more article of an outlet, naming the cities :cities ({city: 1}; "{}" for none leaves the
# tally as it is); the tally keeps the SOURCE_CITIES most named (ties by name, in code point order
# as Python sorts them). Every article of an outlet writes this row, outside the linker's window
# locks: two linkers of one outlet wait here for each other's commit (the row is locked before the
# outlet's sentence rows on every path, so they never deadlock).
_PG_SOURCE_UPSERT = (
    "INSERT INTO story_sources (source, articles, cities) VALUES (:source, 1, CAST(:cities AS json))"
    " ON CONFLICT (source) DO UPDATE SET articles = story_sources.articles + 1,"
    " cities = CASE WHEN CAST(:cities AS text) = '{}' THEN story_sources.cities ELSE"
    " (SELECT coalesce(json_object_agg(c, n), '{}') FROM (SELECT c, sum(n) AS n FROM"
    " (SELECT key AS c, CAST(value AS int) AS n FROM json_each_text(story_sources.cities)"
    " UNION ALL SELECT key, CAST(value AS int) FROM json_each_text(excluded.cities)) AS u"
    ' GROUP BY c ORDER BY sum(n) DESC, c COLLATE "C" LIMIT :cap) AS top) END'
)
# record_document + record_member in one round trip (the pending row's id comes back)
_PG_DOCUMENT_CTES = (
    "df AS (INSERT INTO story_df_pending (terms) VALUES (CAST(:terms AS json)) RETURNING id),"
    f" src AS ({_PG_SOURCE_UPSERT}),"
    " bp AS (INSERT INTO story_boilerplate (source, sentence_key, docs, last_seen)"
    " SELECT :source, k, 1, :seen FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k"
    " ON CONFLICT (source, sentence_key) DO UPDATE"
    " SET docs = story_boilerplate.docs + 1, last_seen = excluded.last_seen),"
    " vec AS (INSERT INTO story_vectors (article_id, at, vector, evidence)"
    " SELECT CAST(:article_id AS bigint), :at, CAST(:vector AS json), CAST(:evidence AS json)"
    " WHERE CAST(:article_id AS bigint) IS NOT NULL"
    " ON CONFLICT (article_id) DO UPDATE SET at = excluded.at, vector = excluded.vector, evidence = excluded.evidence)"
)
_PG_DOCUMENT_AND_VECTOR = text(
    f"WITH {_PG_DOCUMENT_CTES} SELECT 1, id, (SELECT df FROM story_df WHERE term = '') FROM df"
)

# (as _PG_SOURCE_ROW: a JSON column is text on SQLite)
_LITE_SOURCE_ROW = "SELECT 's', cities, articles FROM story_sources WHERE source = :source"
# SQLite hot path: the same one-statement shapes, with JSON arrays read by json_each instead of
# expanded IN lists and executemany, so that each statement is compiled once and runs as one
# prepared statement whatever the article's length (an IN list of ~300 terms and a 300-row
# executemany were most of linking's CPU on SQLite).
_LITE_LOCK = text("UPDATE story_df SET df = df WHERE term = :lock")
_LITE_DOCUMENT_STATS = text(
    "SELECT 'b', sentence_key, docs FROM story_boilerplate"
    " WHERE source = :source AND sentence_key IN (SELECT value FROM json_each(:keys)) AND docs >= :min"
    " UNION ALL SELECT 'd', term, df FROM story_df WHERE term IN (SELECT value FROM json_each(:terms))"
    " UNION ALL SELECT 'c', term, df FROM story_df WHERE term IN (SELECT value FROM json_each(:cached))"
    " AND (SELECT df FROM story_df WHERE term = '') IS NOT :gen"
    f" UNION ALL {_LITE_SOURCE_ROW}"
)
_LITE_CANDIDATES = text(
    "WITH c AS ("
    " SELECT story_id, sum(weight) AS score FROM story_terms"
    " WHERE term IN (SELECT value FROM json_each(:terms)) AND last_time BETWEEN :lo AND :hi_last"
    " AND first_time <= :hi"
    " GROUP BY story_id ORDER BY score DESC, story_id LIMIT :k)"
    " SELECT s.id, s.title, s.article_count, CAST(s.state AS text) AS state FROM c JOIN stories s"
    " ON s.id = c.story_id WHERE s.merged_into IS NULL ORDER BY c.score DESC, s.id"
)
# (postings as one JSON array of [term, weight] pairs: two arrays joined on their keys were a
# nested scan, each re-reading the other array once per element)
_LITE_POST = text(
    "INSERT INTO story_terms (term, story_id, weight, first_time, last_time)"
    " SELECT json_extract(value, '$[0]'), :sid, json_extract(value, '$[1]'), :first, :last FROM json_each(:pairs)"
)
_LITE_UNPOST = text("DELETE FROM story_terms WHERE story_id = :sid")
# a story's postings rewritten: the same rules as _PG_REPOST, in two statements
_LITE_UNPOST_GONE = text(
    "DELETE FROM story_terms WHERE story_id = :sid AND term NOT IN (SELECT value FROM json_each(:terms))"
)
_LITE_REPOST = text(
    "INSERT INTO story_terms (term, story_id, weight, first_time, last_time)"
    " SELECT json_extract(value, '$[0]'), :sid, json_extract(value, '$[1]'), :first, :last"
    " FROM json_each(:pairs) WHERE true ON CONFLICT (term, story_id) DO UPDATE SET weight = excluded.weight,"
    " first_time = excluded.first_time, last_time = excluded.last_time"
    " WHERE first_time <> excluded.first_time OR last_time <> excluded.last_time"
    " OR abs(weight - excluded.weight) > :slack * excluded.weight"
)
_LITE_PENDING = text(
    "INSERT INTO story_df_pending (terms) VALUES (:terms) RETURNING id, (SELECT df FROM story_df WHERE term = '')"
)
# one writer at a time: count, then delete, in the caller's transaction
_LITE_FOLD = text(
    "INSERT INTO story_df (term, df) SELECT j.value, count(*) FROM story_df_pending AS p, json_each(p.terms) AS j"
    " WHERE p.id <= :upto GROUP BY j.value ON CONFLICT (term) DO UPDATE SET df = df + excluded.df"
)
_LITE_FOLDED = text("DELETE FROM story_df_pending WHERE id <= :upto")
# "WHERE true": SQLite needs it to tell an upsert's ON CONFLICT from a join's ON
_LITE_BOILERPLATE_UPSERT = text(
    "INSERT INTO story_boilerplate (source, sentence_key, docs, last_seen)"
    " SELECT :source, value, 1, :seen FROM json_each(:keys) WHERE true"
    " ON CONFLICT (source, sentence_key) DO UPDATE SET docs = docs + 1, last_seen = excluded.last_seen"
)
# (the same as _PG_SOURCE_UPSERT; SQLite's default collation is code point order)
_LITE_SOURCE_UPSERT = text(
    "INSERT INTO story_sources (source, articles, cities) VALUES (:source, 1, :cities)"
    " ON CONFLICT (source) DO UPDATE SET articles = articles + 1,"
    " cities = CASE WHEN :cities = '{}' THEN cities ELSE"
    " (SELECT coalesce(json_group_object(c, n), '{}') FROM (SELECT c, sum(n) AS n FROM"
    " (SELECT key AS c, value AS n FROM json_each(story_sources.cities)"
    " UNION ALL SELECT key, value FROM json_each(excluded.cities))"
    " GROUP BY c ORDER BY sum(n) DESC, c LIMIT :cap)) END"
)
_LITE_VECTOR = text(
    "INSERT INTO story_vectors (article_id, at, vector, evidence) VALUES (:article_id, :at, :vector, :evidence)"
    " ON CONFLICT (article_id) DO UPDATE SET at = excluded.at, vector = excluded.vector, evidence = excluded.evidence"
)

# The story row, written by the linker on every article (and by the refinement pass). JSON
# columns get json.dumps' text (what SQLAlchemy's JSON type writes); on SQLite, times are
# written as SQLAlchemy's DateTime writes them ("YYYY-MM-DD HH:MM:SS.ffffff", UTC) and no CAST
# (CAST(x AS json) has NUMERIC affinity there).
_PG_SAVE_STORY = (
    "UPDATE stories SET title = :title, first_article_at = :first_at, last_article_at = :last_at,"
    " article_count = :count, source_count = :source_count, top_terms = CAST(:top_terms AS json),"
    " state = CAST(:state AS json), refine_pending = :pending"
    " WHERE id = :b_id AND article_count = :b_count AND merged_into IS NULL"
)
_LITE_SAVE_STORY = (
    "UPDATE stories SET title = :title, first_article_at = :first_at, last_article_at = :last_at,"
    " article_count = :count, source_count = :source_count, top_terms = :top_terms, state = :state,"
    " refine_pending = :pending WHERE id = :b_id AND article_count = :b_count AND merged_into IS NULL"
)
_PG_CREATE_STORY = (
    "INSERT INTO stories (title, first_article_at, last_article_at, article_count, source_count, top_terms,"
    " state, refine_pending, created_at) VALUES (:title, :first_at, :last_at, :count, :source_count,"
    " CAST(:top_terms AS json), CAST(:state AS json), :pending, :created_at) RETURNING id"
)
_LITE_CREATE_STORY = (
    "INSERT INTO stories (title, first_article_at, last_article_at, article_count, source_count, top_terms,"
    " state, refine_pending, created_at) VALUES (:title, :first_at, :last_at, :count, :source_count,"
    " :top_terms, :state, :pending, :created_at) RETURNING id"
)


# PostgreSQL, the linker (defer_writes): the story row, its postings when they change, the
# document's counts and the member's vector in one round trip; the story's optimistic check comes
# back as a count (0: it changed under us, and the transaction is rolled back). The postings'
# arrays are :p_terms / :p_weights (:terms is the document's).
def _pg_flushed_save(repost: bool) -> str:
    ctes = [f"st AS ({_PG_SAVE_STORY} RETURNING 1)"]
    if repost:
        for cte in (_PG_UNPOST_GONE_CTE, f"post AS ({_PG_UPSERT_POSTINGS})"):
            ctes.append(cte.replace(":terms", ":p_terms").replace(":weights", ":p_weights"))
    ctes.append(_PG_DOCUMENT_CTES)
    counts = "SELECT (SELECT count(*) FROM st), id, (SELECT df FROM story_df WHERE term = '') FROM df"
    return "WITH " + ", ".join(ctes) + " " + counts


_PG_SAVE_AND_DOCUMENT = _pg_flushed_save(repost=False)
_PG_SAVE_REPOST_AND_DOCUMENT = _pg_flushed_save(repost=True)
# a new story and its postings, one round trip
_PG_CREATE_AND_POST = (
    f"WITH s AS ({_PG_CREATE_STORY}), p AS (INSERT INTO story_terms (term, story_id, weight, first_time, last_time)"
    " SELECT u.t, s.id, u.w, :first, :last FROM s, unnest(CAST(:p_terms AS text[]),"
    " CAST(:p_weights AS float8[])) AS u(t, w)) SELECT id FROM s"
)

# a refinement pass settles the stories still as it read them: one statement, each story found by
# a probe of the primary key (see the note on lookups above), its count checked on the row it
# updates (a story a linker grew meanwhile keeps its flag). A story not pending is left alone:
# most of a pass's settled stories are neighbours that were not pending, and clearing a flag
# already clear copied each one's whole row (state and all) for nothing.
_PG_SETTLE = text(
    "WITH u AS (SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:counts AS int[])) AS u(sid, n))"
    " UPDATE stories SET refine_pending = false WHERE id = ANY(ARRAY(SELECT sid FROM u)) AND refine_pending"
    " AND article_count = (SELECT n FROM u WHERE u.sid = stories.id)"
)
# (SQLite: one JSON array of [id, count] pairs; two arrays joined on their keys were a nested
# scan of one per element of the other, quadratic in the pass's batch; "+": each story found by
# its key, not through the partial index of pending stories, each of which would scan the array)
_LITE_SETTLE = (
    "UPDATE stories SET refine_pending = 0 FROM (SELECT json_extract(value, '$[0]') AS sid,"
    " json_extract(value, '$[1]') AS n FROM json_each(:pairs)) AS u"
    " WHERE stories.id = u.sid AND stories.article_count = u.n AND +stories.refine_pending"
)
# The pass's pending stories through the partial index ix_stories_refine_pending. SQLite uses a
# partial index only for a query whose WHERE repeats the index's own term ("refine_pending", not
# SQLAlchemy's "refine_pending = 1"), and even then its planner preferred ix_stories_merged_into
# (nearly every story): both statements read every story row, and past the large state column
# (which comes before refine_pending), some 240 ms each per pass at 1M stored articles.
_LITE_DIRTY = text(
    "SELECT id FROM stories INDEXED BY ix_stories_refine_pending"
    " WHERE refine_pending AND merged_into IS NULL AND article_count > 1 ORDER BY id LIMIT :limit"
)
_LITE_SETTLE_SINGLE = text(
    "UPDATE stories INDEXED BY ix_stories_refine_pending SET refine_pending = 0"
    " WHERE refine_pending AND article_count <= 1"
)
# the members of a neighbourhood (refinement), duplicates left out (filtered outside the probe,
# so that no plan reaches articles through the index on duplicate_of, which holds nearly all),
# each with whether another original shares its text (Member.shared_text)
_PG_MEMBERS = text(
    "SELECT a.id, a.story_id, a.url, a.title, v.at, CAST(v.vector AS text), CAST(v.evidence AS text),"
    " EXISTS (SELECT 1 FROM articles b WHERE b.content_hash = a.content_hash AND b.id <> a.id"
    " AND b.duplicate_of IS NULL)"
    " FROM unnest(CAST(:ids AS bigint[])) AS s(id)"
    " CROSS JOIN LATERAL (SELECT id, story_id, url, title, duplicate_of, content_hash FROM articles"
    " WHERE articles.story_id = s.id OFFSET 0) AS a"
    " CROSS JOIN LATERAL (SELECT at, vector, evidence FROM story_vectors"
    " WHERE story_vectors.article_id = a.id OFFSET 0) AS v"
    " WHERE a.duplicate_of IS NULL ORDER BY a.id"
)
# ("+": not through the index on duplicate_of, which SQLite's planner may prefer, and which holds
# nearly every article)
_LITE_MEMBERS = (
    "SELECT a.id, a.story_id, a.url, a.title, v.at, v.vector, v.evidence,"
    " EXISTS (SELECT 1 FROM articles b INDEXED BY ix_articles_content_hash WHERE b.content_hash = a.content_hash"
    " AND b.id <> a.id AND b.duplicate_of IS NULL)"
    " FROM articles a JOIN story_vectors v ON v.article_id = a.id"
    " WHERE a.story_id IN (SELECT value FROM json_each(:ids)) AND +a.duplicate_of IS NULL ORDER BY a.id"
)

# a merge: each vanishing story (optimistic check on its count), earlier merges into it, the log
_VANISH = (
    "UPDATE stories SET merged_into = :keep, article_count = 0, state = :empty"
    " WHERE id = :sid AND article_count = :count AND merged_into IS NULL"
)
_PG_REDIRECT = text(
    "WITH earlier AS (SELECT s.id FROM unnest(CAST(:ids AS bigint[])) AS g(id)"
    " CROSS JOIN LATERAL (SELECT id FROM stories WHERE merged_into = g.id OFFSET 0) AS s)"
    " UPDATE stories SET merged_into = :keep WHERE id = ANY(ARRAY(SELECT id FROM earlier))"
    " AND merged_into = ANY(CAST(:ids AS bigint[]))"
)
# (SQLite's planner, with statistics where merged_into is nearly always NULL, would scan every
# story for this, some 20 ms at 33k stories: the index is named)
_LITE_REDIRECT = (
    "UPDATE stories INDEXED BY ix_stories_merged_into SET merged_into = :keep"
    " WHERE merged_into IN (SELECT value FROM json_each(:ids))"
)
_PG_MERGE_LOG = (
    "INSERT INTO story_merges (old_story_id, new_story_id, merged_at)"
    " SELECT u.old, :keep, :at FROM unnest(CAST(:ids AS bigint[])) WITH ORDINALITY AS u(old, i) ORDER BY u.i"
)
_LITE_MERGE_LOG = (
    "INSERT INTO story_merges (old_story_id, new_story_id, merged_at)"
    " SELECT value, :keep, :at FROM json_each(:ids) ORDER BY key"
)

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def _pyformat(sql: str) -> str:
    """A ``:name`` statement in psycopg's ``%(name)s`` style."""
    return _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))


@dataclass(frozen=True)
class _Raw:
    """One hot-path statement as each driver takes it (see :meth:`SqlStoryIndex._raw`)."""

    pg: str
    lite: str


def _raw_pair(pg: str | Any, lite: str | Any) -> _Raw:
    return _Raw(_pyformat(getattr(pg, "text", pg)), getattr(lite, "text", lite))


_R_STATS = _raw_pair(_PG_DOCUMENT_STATS, _LITE_DOCUMENT_STATS)
_R_LOCKED_STATS = _raw_pair(_PG_LOCKED_DOCUMENT_STATS, _LITE_DOCUMENT_STATS)
_R_CANDIDATES = _raw_pair(_PG_CANDIDATES, _LITE_CANDIDATES)
_R_POST = _raw_pair(_PG_POST, _LITE_POST)
_R_REPOST = _raw_pair(_PG_REPOST, _LITE_REPOST)
_R_UNPOST_GONE = _raw_pair(_LITE_UNPOST_GONE, _LITE_UNPOST_GONE)
_R_SAVE_STORY = _raw_pair(_PG_SAVE_STORY, _LITE_SAVE_STORY)
_R_CREATE_STORY = _raw_pair(_PG_CREATE_STORY, _LITE_CREATE_STORY)
_R_DOCUMENT_AND_VECTOR = _raw_pair(_PG_DOCUMENT_AND_VECTOR, _PG_DOCUMENT_AND_VECTOR)  # PostgreSQL only
_R_SAVE_AND_DOCUMENT = _raw_pair(_PG_SAVE_AND_DOCUMENT, _PG_SAVE_AND_DOCUMENT)  # PostgreSQL only
_R_SAVE_REPOST_AND_DOCUMENT = _raw_pair(_PG_SAVE_REPOST_AND_DOCUMENT, _PG_SAVE_REPOST_AND_DOCUMENT)  # PostgreSQL only
_R_CREATE_AND_POST = _raw_pair(_PG_CREATE_AND_POST, _PG_CREATE_AND_POST)  # PostgreSQL only
_R_VECTOR = _raw_pair(_PG_VECTOR, _LITE_VECTOR)
_R_PENDING = _raw_pair(_PG_PENDING, _LITE_PENDING)
_R_BOILERPLATE_UPSERT = _raw_pair(_PG_BOILERPLATE_UPSERT, _LITE_BOILERPLATE_UPSERT)
_R_SOURCE_UPSERT = _raw_pair(_PG_SOURCE_UPSERT, _LITE_SOURCE_UPSERT)
_R_SOURCE_ROW = _raw_pair(_PG_SOURCE_ROW, _LITE_SOURCE_ROW)
_R_SETTLE = _raw_pair(_PG_SETTLE, _LITE_SETTLE)
_R_MEMBERS = _raw_pair(_PG_MEMBERS, _LITE_MEMBERS)
_R_UNPOST = _raw_pair(_LITE_UNPOST, _LITE_UNPOST)
_R_VANISH = _raw_pair(_VANISH.replace(":empty", "CAST(:empty AS json)"), _VANISH)
_R_REDIRECT = _raw_pair(_PG_REDIRECT, _LITE_REDIRECT)
_R_MERGE_LOG = _raw_pair(_PG_MERGE_LOG, _LITE_MERGE_LOG)


def _source_row(row: Any) -> tuple[dict[str, int], int]:
    """(cities, articles) of a story_sources row read as ('s', cities JSON text, articles)."""
    cities = json.loads(row[1]) if isinstance(row[1], str) else (row[1] or {})
    return {str(c): int(n) for c, n in cities.items()}, int(row[2])


def _json_list(items: Sequence[Any]) -> str:
    return json.dumps(list(items), separators=(",", ":"))


_CONTROL = re.compile(r"[\x00-\x1f]")


def _pg_array(items: Sequence[str] | Sequence[float]) -> str | list[Any]:
    """An array parameter as PostgreSQL's array literal (``{"a","b"}``), cast in the statement.

    psycopg dumps a list element by element in Python (a tenth of linking's client CPU with
    ~300 terms an article); ``json.dumps`` writes the literal in C: its only escapes, ``\\"``
    and ``\\\\``, are also the array literal's. Strings with control characters (which JSON
    escapes differently) are passed as a list, as before."""
    if items and isinstance(items[0], str) and _CONTROL.search("".join(items)):  # type: ignore[arg-type]
        return list(items)
    return "{" + json.dumps(list(items), ensure_ascii=False, separators=(",", ":"))[1:-1] + "}"


Repoint = Callable[[Connection, Sequence[int], int], None]


class StoryConflict(Exception):
    """A story row changed between read and write; roll back and link again."""


def _insert(conn: Connection, table: Table) -> Any:
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"story index needs PostgreSQL or SQLite, not {name}")


def _dt(epoch: float) -> datetime:
    return story_model.from_epoch(epoch)


@dataclass(frozen=True)
class _Posted:
    """What a story's postings currently say: which terms, and the time span written."""

    key: str
    first: float
    last: float


def _posting_key(s: story_model.StoryState, posts: Mapping[str, float] | None = None) -> str:
    joined = "\x1f".join(sorted(s.postings() if posts is None else posts))
    return hashlib.blake2b(joined.encode("utf-8"), digest_size=8).hexdigest()


def _state_json(
    s: story_model.StoryState, posted: _Posted, stored: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """The state column's content. ``stored``: the centroid as read from the row that ``s``
    updates; a value taken over from it unchanged (the same float object) is already rounded as
    stored (rounding a rounded value gives it back), and is not rounded again: most of a growing
    story's terms, and ``round`` was the costliest step of the encoding."""
    if stored:
        get = stored.get
        centroid = {t: v if get(t) is v else round(v, 6) for t, v in s.centroid.items()}
    else:
        centroid = {t: round(v, 6) for t, v in s.centroid.items()}
    return {
        "centroid": centroid,
        "sources": sorted(s.sources),
        "title_score": s.title_score,
        "first": story_model.epoch_seconds(s.first_time),
        "last": story_model.epoch_seconds(s.last_time),
        "posted": [posted.key, posted.first, posted.last],
        "keys": dict(s.keys),
    }


def _row_state(row: Any, state: Mapping[str, Any]) -> story_model.StoryState:
    """A story row (id, title, article_count, state text) as read by the linker's statements."""
    return story_model.StoryState(
        story_id=int(row[0]),
        centroid=dict(state.get("centroid", {})),
        first_time=_dt(float(state["first"])),
        last_time=_dt(float(state["last"])),
        article_count=int(row[2]),
        sources=frozenset(state.get("sources", [])),
        title=row[1] or "",
        title_score=float(state.get("title_score", -1.0)),
        keys={str(k): int(v) for k, v in state.get("keys", {}).items()},
    )


def _row_posted(state: Mapping[str, Any]) -> _Posted | None:
    p = state.get("posted")
    return _Posted(str(p[0]), float(p[1]), float(p[2])) if p else None


# Parsed story rows, shared by every index of this process: the same few hundred stories are
# candidates of article after article, and decoding a 200-term state and computing its norms
# each time was a fifth of linking's client CPU. An entry is found by the row's id, count and
# title and used only if the state's text is the one it was parsed from (compared, not hashed:
# a digest of each candidate's few KB of text cost more than the comparison), so it is never
# stale: a story written since reads as a miss and replaces it. StoryState is frozen and its
# cached norms are its own. An entry holds a story's centroid and its text (up to 200 terms,
# some tens of KB): 1024 of them bound a worker process.
_STATE_CACHE_SIZE = 1024
_Parsed = tuple[story_model.StoryState, _Posted | None]
_state_cache: dict[tuple[int, int, str], tuple[str, _Parsed]] = {}
_state_cache_lock = threading.Lock()


def _cache_put(key: tuple[int, int, str], raw: str, parsed: _Parsed) -> None:
    with _state_cache_lock:
        _state_cache.pop(key, None)  # most recently used last
        _state_cache[key] = (raw, parsed)
        while len(_state_cache) > _STATE_CACHE_SIZE:
            _state_cache.pop(next(iter(_state_cache)))


def _parse_row(row: Any) -> _Parsed | None:
    """(state, posted) of a story row (id, title, article_count, state as JSON text); None for
    an empty state."""
    raw = row[3]
    if not raw:
        return None
    key = (int(row[0]), int(row[2]), row[1] or "")
    with _state_cache_lock:
        hit = _state_cache.pop(key, None)
        if hit is not None:
            _state_cache[key] = hit  # most recently used last
            if hit[0] == raw:
                return hit[1]
    state = json.loads(raw)
    if not state:
        return None
    parsed = (_row_state(row, state), _row_posted(state))
    _cache_put(key, raw, parsed)
    return parsed


def _remember_written(story_id: int, s: story_model.StoryState, raw: str, state: Mapping[str, Any]) -> None:
    """Cache a story row this process has just written as :func:`_parse_row` would read it back
    (``state`` is what ``raw`` encodes: its floats read back as themselves), so that the next
    article or the refinement pass does not decode it again. Used only while the row's text is
    ``raw``, like every entry: a write rolled back leaves an entry no row matches."""
    row = (story_id, s.title, s.article_count, raw)
    _cache_put((story_id, s.article_count, s.title or ""), raw, (_row_state(row, state), _row_posted(state)))


class _DfCache:
    """Document frequencies this process has read, as of one document count.

    The counters change only when pending documents are folded in (every DF_FOLD_EVERY
    documents), and every fold adds to the document count (the row of term ''), so the count
    names the counters' state: counts read at document count ``n`` hold while it is ``n``.
    An article's stats statement sends the terms held here without probing them, unless the
    document count has moved on, in which case it probes them too (one statement either way);
    about half of an article's terms were read by an article since the last fold (probing each
    was most of that statement's database CPU)."""

    MAX_TERMS = 200_000  # a bound should folding stop (each fold starts afresh)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gen: int | None = None
        self._counts: dict[str, int] = {}

    def read(self) -> tuple[int | None, dict[str, int]]:
        with self._lock:
            return self._gen, self._counts

    def add(self, gen: int, counts: Mapping[str, int]) -> None:
        with self._lock:
            if gen != self._gen:
                return  # another thread saw a newer fold meanwhile
            if len(self._counts) + len(counts) > self.MAX_TERMS:
                self._counts = {}
            # a held dict only ever gains counts of its own document count (a reader may hold it;
            # a newer count or the bound gets a new dict)
            self._counts.update(counts)

    def reset(self, gen: int, counts: Mapping[str, int]) -> None:
        with self._lock:
            self._gen, self._counts = gen, dict(counts)


# one per engine (a database), kept as long as the engine is
_df_caches: weakref.WeakKeyDictionary[Engine, _DfCache] = weakref.WeakKeyDictionary()
_df_caches_lock = threading.Lock()
_FOLDED_IN = "story_index.folded_in"  # Connection.info: the transaction that last folded counts


def _folded_here(conn: Connection) -> bool:
    """Whether the connection's current transaction has folded counts (see _fold)."""
    folded = conn.info.get(_FOLDED_IN)
    return folded is not None and folded() is not None and folded() is conn.get_transaction()


def _df_cache(conn: Connection) -> _DfCache:
    with _df_caches_lock:
        cache = _df_caches.get(conn.engine)
        if cache is None:
            cache = _df_caches[conn.engine] = _DfCache()
        return cache


def _lite_time(t: datetime) -> str:
    """A time as SQLAlchemy's DateTime stores it on SQLite (storage.types.UTCDateTime: UTC, naive)."""
    aware = as_utc(t)
    assert aware is not None
    return aware.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _story_params(
    s: story_model.StoryState, posted: _Posted, pg: bool, stored: Mapping[str, float] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The story row's values as the parameters of _R_SAVE_STORY / _R_CREATE_STORY, and the
    state they encode (for :func:`_remember_written`)."""
    first, last = (
        (as_utc(s.first_time), as_utc(s.last_time)) if pg else (_lite_time(s.first_time), _lite_time(s.last_time))
    )
    state = _state_json(s, posted, stored)
    params = {
        "title": s.title,
        "first_at": first,
        "last_at": last,
        "count": s.article_count,
        "source_count": len(s.sources),
        "top_terms": json.dumps(s.top_terms(10)),
        "state": json.dumps(state),
        "pending": True,
    }
    return params, state


@dataclass
class SqlStoryIndex:
    """:class:`worker.stories.link.StoryIndex` over one connection, inside the caller's transaction."""

    conn: Connection
    at: datetime | None = None
    repoint: Repoint | None = None
    # PostgreSQL: hold the story row's update (and its postings), the document counts and the
    # member's vector until flush() and send them as one statement (three round trips fewer per
    # article that joins a story)
    defer_writes: bool = False
    # serialise linkers less than this apart at ``at`` (lock_window); on PostgreSQL the locks
    # go with the first statement (document_stats), one round trip fewer
    lock: timedelta | None = None

    def __post_init__(self) -> None:
        self.pg = self.conn.dialect.name == "postgresql"
        self._posted: dict[int, _Posted] = {}
        # each story's centroid as read from its row (rounded as stored; see _state_json)
        self._stored: dict[int, Mapping[str, float]] = {}
        self._deferred_document: dict[str, Any] | None = None
        # the outlet read with the last document_stats: (source, cities, articles)
        self._source: tuple[str, dict[str, int], int] | None = None
        self._deferred_vector: dict[str, Any] | None = None
        # (story id, the update's parameters, the postings' parameters if they are rewritten)
        self._deferred_save: tuple[int, dict[str, Any], dict[str, Any] | None] | None = None
        self._lock_bucket: int | None = None
        self._cur: Any = None
        if self.lock is not None:
            at = self.at or datetime.now(UTC)
            if self.pg:
                self._lock_bucket = _bucket(at, self.lock)
            else:
                lock_window(self.conn, at, self.lock)

    def _raw(self, stmt: _Raw, params: Mapping[str, Any]) -> Any:
        """Run a hot-path statement on the driver's own cursor, in the connection's transaction.

        SQLAlchemy's work per statement (compiled-cache lookup, parameter processing, result
        objects) was a third of linking's client CPU over seven statements an article. Driver
        errors are raised as SQLAlchemy raises them (OperationalError stays transient)."""
        cur = self._cur
        if cur is None:
            if not self.conn.in_transaction():
                self.conn.begin()  # as SQLAlchemy's autobegin would: the caller commits
            cur = self._cur = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        sql = stmt.pg if self.pg else stmt.lite
        try:
            cur.execute(sql, params)
        except Exception as exc:
            self.conn._handle_dbapi_exception(exc, sql, params, cur, None)
        return cur

    def _locked(self) -> None:
        """Take the window locks now if no statement has taken them yet."""
        if self._lock_bucket is not None:
            self.conn.execute(_PG_LOCK, {"ns": LOCK_NAMESPACE, "b": self._lock_bucket})
            self._lock_bucket = None

    def flush(self) -> None:
        """Send what ``defer_writes`` held back."""
        self._locked()
        doc, vec, save = self._deferred_document, self._deferred_vector, self._deferred_save
        self._deferred_document = self._deferred_vector = self._deferred_save = None
        if doc is None:
            if save is not None:
                self._write_story(*save)
            if vec is not None:
                self._raw(_R_VECTOR, vec)
            return
        vec = vec or {"article_id": None, "at": 0.0, "vector": "{}", "evidence": "[]"}
        if save is None:
            self._counted(self._raw(_R_DOCUMENT_AND_VECTOR, {**doc, **vec}).fetchone()[1:])
            return
        story_id, params, posting = save
        if posting is None:
            row = self._raw(_R_SAVE_AND_DOCUMENT, {**params, **doc, **vec}).fetchone()
        else:
            posting = {"p_terms": posting["terms"], "p_weights": posting["weights"], **posting}
            del posting["terms"], posting["weights"]
            row = self._raw(_R_SAVE_REPOST_AND_DOCUMENT, {**params, **posting, **doc, **vec}).fetchone()
        if row[0] != 1:
            raise StoryConflict(f"story {story_id} changed while linking")
        self._counted(row[1:])

    def _write_story(self, story_id: int, params: Mapping[str, Any], posting: Mapping[str, Any] | None) -> None:
        """Update a story row (optimistic check on its count), then its postings if given."""
        if self._raw(_R_SAVE_STORY, params).rowcount != 1:
            raise StoryConflict(f"story {story_id} changed while linking")
        if posting is not None:
            if not self.pg:  # PostgreSQL drops the terms gone in _R_REPOST itself
                self._raw(_R_UNPOST_GONE, {"sid": posting["sid"], "terms": posting["terms"]})
                if "pairs" not in posting:
                    return  # no postings left
            self._raw(_R_REPOST, posting)

    def _counted(self, pending: Any) -> None:
        """A document's pending row (id, documents folded so far) was written: fold the batch
        it completes, or at once while the index is young."""
        pending_id, folded = int(pending[0]), int(pending[1] or 0)
        if pending_id % story_model.DF_FOLD_EVERY == 0 or folded < story_model.DF_EAGER_DOCS:
            _fold(self.conn, pending_id)

    def _remember(self, row: Any) -> story_model.StoryState | None:
        """The row's state (None if empty), noting what its postings say."""
        parsed = _parse_row(row)
        if parsed is None:
            return None
        state, posted = parsed
        if posted is not None:
            self._posted[state.story_id] = posted
        self._stored[state.story_id] = state.centroid
        return state

    def boilerplate(self, source: str, keys: Sequence[str]) -> frozenset[str]:
        self._locked()
        if not keys:
            return frozenset()
        if self.pg:
            rows = self.conn.execute(
                _PG_BOILERPLATE,
                {"source": source, "keys": _pg_array(keys), "min": story_model.BOILERPLATE_MIN_DOCS},
            )
            return frozenset(r[0] for r in rows)
        t = story_boilerplate
        rows = self.conn.execute(
            select(t.c.sentence_key).where(
                t.c.source == source,
                t.c.sentence_key.in_(keys),
                t.c.docs >= story_model.BOILERPLATE_MIN_DOCS,
            )
        )
        return frozenset(r[0] for r in rows)

    def doc_freqs(self, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        self._locked()
        if self.pg:
            rows = self.conn.execute(_PG_DF, {"terms": _pg_array([N_DOCS_KEY, *terms])}).all()
        else:
            rows = self.conn.execute(
                select(story_df.c.term, story_df.c.df).where(story_df.c.term.in_([N_DOCS_KEY, *terms]))
            ).all()
        df = {r[0]: int(r[1]) for r in rows}
        n = df.pop(N_DOCS_KEY, 0)
        return df, n

    def document_stats(
        self, source: str, keys: Sequence[str], terms: Sequence[str]
    ) -> tuple[frozenset[str], tuple[dict[str, int], int]]:
        # counts this process read since the last fold are sent back unprobed (see _DfCache)
        cache = None if _folded_here(self.conn) else _df_cache(self.conn)
        gen, known = cache.read() if cache is not None else (None, {})
        missing = [t for t in terms if t not in known]
        cached = [t for t in terms if t in known] if known else []
        params: dict[str, Any] = {
            "source": source,
            "keys": list(keys),
            "min": story_model.BOILERPLATE_MIN_DOCS,
            "terms": [N_DOCS_KEY, *missing],
            "cached": cached,
            "gen": gen,
        }
        if self.pg:
            params.update(keys=_pg_array(params["keys"]), terms=_pg_array(params["terms"]), cached=_pg_array(cached))
            if self._lock_bucket is not None:
                params.update(ns=LOCK_NAMESPACE, b=self._lock_bucket)
                self._lock_bucket = None
                rows = self._raw(_R_LOCKED_STATS, params).fetchall()  # its 'l' row is skipped below
            else:
                rows = self._raw(_R_STATS, params).fetchall()
        else:
            params.update(keys=_json_list(params["keys"]), terms=_json_list(params["terms"]), cached=_json_list(cached))
            rows = self._raw(_R_STATS, params).fetchall()
        drop = frozenset(r[1] for r in rows if r[0] == "b")
        df = {r[1]: int(r[2]) for r in rows if r[0] not in ("b", "s")}
        self._source = (source, *next((_source_row(r) for r in rows if r[0] == "s"), ({}, 0)))
        n = df.pop(N_DOCS_KEY, 0)
        if cache is None:
            return drop, (df, n)
        if n == gen:  # the cached terms were not probed: their counts are the ones held
            fresh = {t: df.get(t, 0) for t in missing}
            df.update((t, c) for t in cached if (c := known[t]))
            cache.add(n, fresh)
        else:  # the counts moved on: every term was probed
            cache.reset(n, {t: df.get(t, 0) for t in terms})
        return drop, (df, n)

    def source_cities(self, source: str) -> tuple[dict[str, int], int]:
        if self._source is not None and self._source[0] == source:  # read with document_stats
            return dict(self._source[1]), self._source[2]
        self._locked()
        row = self._raw(_R_SOURCE_ROW, {"source": source}).fetchone()
        return _source_row(row) if row is not None else ({}, 0)

    def candidates(
        self, terms: Sequence[str], at: datetime, window: timedelta, limit: int
    ) -> list[story_model.StoryState]:
        self._locked()
        if not terms:
            return []
        now = story_model.epoch_seconds(at)
        lo, hi = now - window.total_seconds(), now + window.total_seconds()
        params = {"terms": list(terms), "lo": lo, "hi": hi, "hi_last": hi + SPAN_CAP.total_seconds(), "k": limit}
        # (PostgreSQL: terms distinct, each posting is summed once)
        params["terms"] = _pg_array(list(dict.fromkeys(terms))) if self.pg else _json_list(terms)
        found = self._raw(_R_CANDIDATES, params).fetchall()
        return [s for s in map(self._remember, found) if s is not None]

    def _posting_params(
        self, story_id: int, posts: Mapping[str, float], span: tuple[float, float], replace: bool
    ) -> dict[str, Any]:
        """The parameters of _R_POST (``replace``: _R_REPOST) for a story's postings ``posts``
        over ``span``; on SQLite, "terms" (the terms kept) and "pairs" (only if there are any)."""
        pairs = sorted(posts.items())
        params: dict[str, Any] = {"sid": story_id, "first": span[0], "last": span[1]}
        if self.pg:
            params.update(terms=_pg_array([t for t, _ in pairs]), weights=_pg_array([w for _, w in pairs]))
        else:
            if replace:
                params["terms"] = _json_list([t for t, _ in pairs])
            if pairs:
                params["pairs"] = _json_list(pairs)
        if replace:
            params["slack"] = POSTING_WEIGHT_SLACK
        return params

    def _unpost(self, story_id: int) -> None:
        self._raw(_R_UNPOST, {"sid": story_id})

    def create_story(self, state: story_model.StoryState) -> story_model.StoryState:
        self._locked()
        postings = state.postings()  # the same for the new id: computed once
        posted = _Posted(
            _posting_key(state, postings),
            story_model.epoch_seconds(state.first_time),
            story_model.epoch_seconds(state.last_time),
        )
        created = datetime.now(UTC)
        params, encoded = _story_params(state, posted, self.pg)
        params["created_at"] = created if self.pg else _lite_time(created)
        span = (posted.first, posted.last)
        if self.pg:  # the row and its postings in one statement
            post = self._posting_params(0, postings, span, replace=False)
            params.update(first=post["first"], last=post["last"], p_terms=post["terms"], p_weights=post["weights"])
            sid = self._raw(_R_CREATE_AND_POST, params).fetchone()[0]
        else:
            sid = self._raw(_R_CREATE_STORY, params).fetchone()[0]
            if postings:
                self._raw(_R_POST, self._posting_params(int(sid), postings, span, replace=False))
        _remember_written(int(sid), state, params["state"], encoded)
        new = story_model.StoryState(
            story_id=int(sid),
            centroid=state.centroid,
            first_time=state.first_time,
            last_time=state.last_time,
            article_count=state.article_count,
            sources=state.sources,
            title=state.title,
            title_score=state.title_score,
            keys=state.keys,
        )
        return new

    def save_story(self, old: story_model.StoryState, new: story_model.StoryState) -> None:
        # Postings steer the candidate lookup only, and rewriting them for every article was the
        # largest share of server work. They are rewritten when the story's top terms change, its
        # first time moves, or its last time moved by more than POSTING_SLACK; and then only the
        # rows that change: terms gone and new, the span if it moved, a kept term's weight if it
        # moved by more than POSTING_WEIGHT_SLACK (an unchanged row is not written again).
        self._locked()
        first, last = story_model.epoch_seconds(new.first_time), story_model.epoch_seconds(new.last_time)
        postings = new.postings()
        key = _posting_key(new, postings)
        prev = self._posted.get(old.story_id)
        span_fresh = prev is not None and prev.first == first and last - prev.last < POSTING_SLACK.total_seconds()
        fresh = span_fresh and prev is not None and prev.key == key
        if prev is not None and span_fresh:
            posted = prev if fresh else _Posted(key, prev.first, prev.last)
        else:
            posted = _Posted(key, first, last)
        stored = old.centroid if self._stored.get(old.story_id) is old.centroid else None
        params, encoded = _story_params(new, posted, self.pg, stored)
        params.update(b_id=old.story_id, b_count=old.article_count)
        posting = None if fresh else self._posting_params(new.story_id, postings, (posted.first, posted.last), True)
        if self.pg and self.defer_writes:  # sent with the document (flush); a conflict is raised there
            if self._deferred_save is not None:
                self._write_story(*self._deferred_save)
            self._deferred_save = (old.story_id, params, posting)
        else:
            self._write_story(old.story_id, params, posting)
        # (a write that then conflicts leaves an entry that no row matches: see _remember_written)
        _remember_written(new.story_id, new, params["state"], encoded)
        self._posted[new.story_id] = posted

    def merge_stories(self, keep: story_model.StoryState, gone: Sequence[story_model.StoryState], at: datetime) -> None:
        self._locked()
        ids = [g.story_id for g in gone]
        for g in gone:
            params = {"keep": keep.story_id, "empty": "{}", "sid": g.story_id, "count": g.article_count}
            if self._raw(_R_VANISH, params).rowcount != 1:
                raise StoryConflict(f"story {g.story_id} changed while merging")
            self._unpost(g.story_id)
        # earlier merges into a story that now vanishes point straight at the survivor
        encoded = _pg_array(ids) if self.pg else _json_list(ids)
        self._raw(_R_REDIRECT, {"keep": keep.story_id, "ids": encoded})
        now = datetime.now(UTC)
        self._raw(_R_MERGE_LOG, {"keep": keep.story_id, "ids": encoded, "at": now if self.pg else _lite_time(now)})
        if self.repoint is not None:
            self.repoint(self.conn, ids, keep.story_id)

    def record_document(
        self, source: str, keys: Sequence[str], terms: Sequence[str], cities: Sequence[str] = ()
    ) -> None:
        self._locked()
        self._source = None
        tally = {
            "source": source,
            "cities": json.dumps(dict.fromkeys(sorted(cities), 1)),
            "cap": story_model.SOURCE_CITIES,
        }
        # sorted, so that concurrent upserts take row locks in one order (no deadlocks)
        all_terms = sorted({N_DOCS_KEY, *terms})
        ukeys = sorted(set(keys))
        seen = story_model.epoch_seconds(self.at or datetime.now(UTC))
        terms_json = _json_list(all_terms)
        if self.pg:
            if self.defer_writes:  # sent with the member's vector in one statement (flush)
                self._deferred_document = {
                    **tally,
                    "terms": terms_json,
                    "keys": _pg_array(ukeys),
                    "seen": seen,
                }
                return
            # the outlet's row first, then its sentences, as the deferred statement's CTEs run
            # (one order of row locks for every linker of an outlet: no deadlocks)
            self._raw(_R_SOURCE_UPSERT, tally)
            if ukeys:
                self._raw(_R_BOILERPLATE_UPSERT, {"source": source, "keys": _pg_array(ukeys), "seen": seen})
            self._counted(self._raw(_R_PENDING, {"terms": terms_json}).fetchone())
            return
        if ukeys:
            self._raw(_R_BOILERPLATE_UPSERT, {"source": source, "keys": _json_list(ukeys), "seen": seen})
        self._raw(_R_SOURCE_UPSERT, tally)
        self._counted(self._raw(_R_PENDING, {"terms": terms_json}).fetchone())

    # ---- members and refinement (worker.stories.refine.RefineIndex) ----
    def record_member(self, member: story_model.Member) -> None:
        self._locked()
        # what the JSON columns store (json.dumps, as SQLAlchemy's JSON type writes them)
        encoded = {
            "article_id": member.article_id,
            "at": story_model.epoch_seconds(member.at),
            "vector": json.dumps({t: round(v, 6) for t, v in member.vector.items()}),
            "evidence": json.dumps(list(member.keys)),
        }
        if self.pg and self.defer_writes:
            self._deferred_vector = encoded
            return
        self._raw(_R_VECTOR, encoded)

    def story(self, story_id: int) -> story_model.StoryState | None:
        return self.stories_by_id([story_id]).get(story_id)

    def stories_by_id(self, story_ids: Sequence[int]) -> dict[int, story_model.StoryState]:
        self._locked()
        if not story_ids:
            return {}
        rows = self.conn.execute(
            select(
                stories.c.id, stories.c.title, stories.c.article_count, cast(stories.c.state, Text).label("state")
            ).where(stories.c.id.in_(list(story_ids)), stories.c.merged_into.is_(None))
        ).all()
        found = {int(r[0]): self._remember(r) for r in rows}
        return {sid: s for sid, s in found.items() if s is not None}

    def members(self, story_ids: Sequence[int]) -> list[story_model.Member]:
        """The stories' linked articles that have a vector (duplicates follow their original)."""
        self._locked()
        if not story_ids:
            return []
        ids = sorted(set(story_ids))
        rows = self._raw(_R_MEMBERS, {"ids": _pg_array(ids) if self.pg else _json_list(ids)}).fetchall()
        return [
            story_model.Member(
                article_id=int(r[0]),
                story_id=int(r[1]),
                at=_dt(float(r[4])),
                vector=json.loads(r[5]),
                keys=tuple(json.loads(r[6]) or ()) if r[6] is not None else (),
                source=site_of(r[2]),
                title=r[3] or "",
                shared_text=bool(r[7]),
            )
            for r in rows
        ]

    def move_members(self, moves: Mapping[int, int]) -> None:
        """Articles (and their duplicates) to the stories the refinement pass put them in."""
        self._locked()
        by_story: dict[int, list[int]] = {}
        for article_id, story_id in sorted(moves.items()):
            by_story.setdefault(story_id, []).append(article_id)
        a = articles
        for story_id, ids in sorted(by_story.items()):
            self.conn.execute(
                update(a).where(or_(a.c.id.in_(ids), a.c.duplicate_of.in_(ids))).values(story_id=story_id)
            )

    def dirty_stories(self, limit: int) -> list[int]:
        if self.pg:
            rows = self.conn.execute(
                select(stories.c.id)
                .where(stories.c.refine_pending, stories.c.merged_into.is_(None), stories.c.article_count > 1)
                .order_by(stories.c.id)
                .limit(limit)
            )
        else:
            rows = self.conn.execute(_LITE_DIRTY, {"limit": limit})
        return [int(r[0]) for r in rows]

    def settle_single_article_stories(self) -> int:
        if self.pg:
            res = self.conn.execute(
                update(stories)
                .where(stories.c.refine_pending, stories.c.article_count <= 1)
                .values(refine_pending=False)
            )
        else:
            res = self.conn.execute(_LITE_SETTLE_SINGLE)
        return int(res.rowcount or 0)

    def mark_refined(self, story_ids: Iterable[int]) -> None:
        ids = sorted(set(story_ids))
        if ids:
            self.conn.execute(update(stories).where(stories.c.id.in_(ids)).values(refine_pending=False))

    def mark_refined_if_unchanged(self, counts: Mapping[int, int]) -> None:
        """Clear the flag of stories still as they were read (a story a linker grew since
        stays pending for the next pass)."""
        if not counts:
            return
        pairs = sorted(counts.items())
        if self.pg:
            self._raw(_R_SETTLE, {"ids": _pg_array([s for s, _ in pairs]), "counts": _pg_array([n for _, n in pairs])})
        else:
            self._raw(_R_SETTLE, {"pairs": _json_list(pairs)})


def lock_window(conn: Connection, at: datetime, window: timedelta) -> None:
    """Serialise linkers whose articles are less than ``window`` apart (see module doc)."""
    if conn.dialect.name == "postgresql":
        conn.execute(_PG_LOCK, {"ns": LOCK_NAMESPACE, "b": _bucket(at, window)})
    elif conn.dialect.name == "sqlite":
        # take SQLite's write lock now, not at the first write after our reads (a transaction
        # from storage.db.Database.transaction() already holds it: BEGIN IMMEDIATE; this
        # covers connections from any other engine, e.g. link_with_retry's)
        conn.execute(_LITE_LOCK, {"lock": "\x00lock"})


def fold_document_counts(conn: Connection) -> int:
    """Fold every pending document into the document frequencies now (linkers fold every
    DF_FOLD_EVERY documents on their own); how many documents were folded."""
    upto = int(conn.execute(select(func.coalesce(func.max(story_df_pending.c.id), 0))).scalar_one())
    before = _folded_docs(conn)
    _fold(conn, upto)
    return _folded_docs(conn) - before


def _fold(conn: Connection, upto: int) -> None:
    """Add the pending documents with ids up to ``upto`` to the counters and forget them."""
    # counts read after this in the same transaction are not cached: it may still roll back, and
    # a fold that commits later could reach the same document count with other counts
    tx = conn.get_transaction()
    if tx is not None:
        conn.info[_FOLDED_IN] = weakref.ref(tx)
    if conn.dialect.name == "postgresql":
        conn.execute(_PG_FOLD, {"upto": upto})
    else:
        conn.execute(_LITE_FOLD, {"upto": upto})
        conn.execute(_LITE_FOLDED, {"upto": upto})


def _folded_docs(conn: Connection) -> int:
    return int(conn.execute(select(story_df.c.df).where(story_df.c.term == N_DOCS_KEY)).scalar_one_or_none() or 0)


def _bucket(at: datetime, window: timedelta) -> int:
    return math.floor(story_model.epoch_seconds(at) / window.total_seconds())


def prune_story_vectors(conn: Connection, before: datetime) -> int:
    """Forget vectors of articles linked before ``before``: older stories are not regrouped."""
    res = conn.execute(delete(story_vectors).where(story_vectors.c.at < story_model.epoch_seconds(before)))
    return int(res.rowcount or 0)


def resolve_story(conn: Connection, story_id: int) -> int:
    """The live story an id stands for now (follows ``merged_into``)."""
    seen: set[int] = set()
    while story_id not in seen:
        seen.add(story_id)
        nxt = conn.execute(select(stories.c.merged_into).where(stories.c.id == story_id)).scalar_one_or_none()
        if nxt is None:
            return story_id
        story_id = int(nxt)
    return story_id


def prune_boilerplate(conn: Connection, before: datetime, min_docs: int) -> int:
    """Forget sentences seen too rarely to be boilerplate and not seen since ``before``."""
    b = story_boilerplate
    res = conn.execute(delete(b).where(and_(b.c.docs < min_docs, b.c.last_seen < story_model.epoch_seconds(before))))
    return int(res.rowcount or 0)


def story_count(conn: Connection) -> int:
    return int(
        conn.execute(select(func.count()).select_from(stories).where(stories.c.merged_into.is_(None))).scalar_one()
    )


def live_story_last_article_at(conn: Connection, story_id: int) -> datetime | None:
    """When a live (not merged) story's last article appeared; None if merged away or gone."""
    value: datetime | None = conn.execute(
        select(stories.c.last_article_at).where(stories.c.id == story_id, stories.c.merged_into.is_(None))
    ).scalar_one_or_none()
    return value


_ORIGINAL = articles.alias("original")
# Core, one statement: the ORM's identity map (and the expire_all it then needs after a merge
# repoints rows) cost more than the link itself on short articles
_SUBJECT = (
    select(
        articles.c.id,
        articles.c.story_id,
        articles.c.url,
        articles.c.title,
        articles.c.text,
        articles.c.published_at,
        articles.c.language,
        articles.c.created_at,
        articles.c.page_kind,
        articles.c.dateline,
        articles.c.agency,
        articles.c.duplicate_of,
        _ORIGINAL.c.id.label("original_id"),
        _ORIGINAL.c.title.label("original_title"),
        _ORIGINAL.c.story_id.label("original_story_id"),
    )
    .select_from(articles.outerjoin(_ORIGINAL, _ORIGINAL.c.id == articles.c.duplicate_of))
    .where(articles.c.id == bindparam("article_id"))
)
_SET_STORY = (
    update(articles)
    .where(articles.c.id == bindparam("article_id"))
    .values(story_id=bindparam("story_id"), processed_at=bindparam("processed_at"))
)
_SET_STORY_ONLY = (
    update(articles).where(articles.c.id == bindparam("article_id")).values(story_id=bindparam("story_id"))
)


def link_subject(session: Session, article_id: int) -> LinkSubject | None:
    """What linking needs to know about a stored article (None if it is gone)."""
    row = session.connection().execute(_SUBJECT, {"article_id": article_id}).one_or_none()
    if row is None:
        return None
    return LinkSubject(
        article_id=row.id,
        story_id=row.story_id,
        original_story_id=row.original_story_id,
        url=row.url,
        title=row.title,
        text=row.text,
        published_at=row.published_at,
        language=row.language,
        created_at=row.created_at,
        page_kind=row.page_kind,
        dateline=row.dateline,
        agency=row.agency,
        original_title=row.original_title,
    )


def set_article_story(
    session: Session, article_id: int, story_id: int | None, *, processed_at: datetime | None = None
) -> None:
    """The article's story (and, with ``processed_at``, that linking is done: one statement)."""
    params = {"article_id": article_id, "story_id": story_id}
    if processed_at is None:
        session.connection().execute(_SET_STORY_ONLY, params)
    else:
        session.connection().execute(_SET_STORY, {**params, "processed_at": processed_at})


def repoint_articles(conn: Connection, old_ids: Sequence[int], new_id: int) -> None:
    """Stories merged: their articles now belong to the survivor (nothing points to a vanished story)."""
    conn.execute(update(Article).where(Article.story_id.in_(list(old_ids))).values(story_id=new_id))


def article_stories(conn: Connection, article_ids: Sequence[int]) -> dict[int, int | None]:
    """The story each article is in now (the refinement pass records where moved articles came from)."""
    ids = sorted(article_ids)
    found: dict[int, int | None] = {}
    for start in range(0, len(ids), 500):
        rows = conn.execute(select(Article.id, Article.story_id).where(Article.id.in_(ids[start : start + 500])))
        found.update({int(a): (int(s) if s is not None else None) for a, s in rows})
    return found
