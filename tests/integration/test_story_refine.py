"""The refinement pass on real PostgreSQL and SQLite, through the same handlers beat and the
CLI call: it regroups stored articles exactly as the in-memory pass does, keeps duplicates with
their originals, records the stories it empties, leaves consistent counts, and settles."""

from __future__ import annotations

import json
import os
import random
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench.data import load_ecbplus, shared_data
from storage import story_index as si
from storage.db import Database
from storage.models import Article, Story
from tests.support.processes import run_cli
from worker.model import story as story_model
from worker.model.urls import site_of
from worker.service import handlers
from worker.service.imports import ImportItem
from worker.service.messages import LocalDispatcher
from worker.service.runtime import Runtime
from worker.settings import load_settings
from worker.stories import link as st
from worker.stories import refine as sr

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def runtime(database: Database) -> Iterator[Runtime]:
    settings = load_settings(database_url=database.url, allow_private_networks=True)
    rt = Runtime.build(settings, LocalDispatcher())
    rt.db = database
    yield rt
    rt.fetcher.close()


def _docs() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    if not (shared_data() / "ecbplus.jsonl").exists():
        pytest.skip("shared ECB+ data not available")
    rows = load_ecbplus()
    topics = {"10", "20"}
    docs = sorted((r for r in rows if str(r["topic"]) in topics), key=lambda r: str(r["id"]))
    random.Random(0).shuffle(docs)
    return docs, [r for r in rows if str(r["topic"]) not in topics]


def _ingest(rt: Runtime, docs: list[dict[str, object]], background: list[dict[str, object]]) -> list[int]:
    with rt.db.transaction() as session:  # a deployed linker has seen earlier news
        index = si.SqlStoryIndex(session.connection())
        for r in background:
            f = st.story_features(str(r["title"]), str(r["text"]), None, f"bg:{r['id']}", "en")
            index.record_document(f.source, [], sorted(f.vocabulary()))
    ids = []
    for i, r in enumerate(docs):
        item = ImportItem(
            url=f"https://doc{i % 7}.example/{r['id']}",
            title=str(r["title"]),
            text=str(r["text"]),
            html=None,
            published_at=None,
            source=None,
        )
        ids.append(handlers.import_item(rt, item, default_source="test").article_id)
    # one syndicated copy under another address: a duplicate that must follow its original
    first = docs[0]
    copy = ImportItem(
        f"https://mirror.example/{first['id']}", str(first["title"]), str(first["text"]), None, None, None
    )
    ids.append(handlers.import_item(rt, copy, default_source="test").article_id)
    assert isinstance(rt.dispatcher, LocalDispatcher)
    rt.dispatcher.drain(rt)
    return ids


def _stored_partition(db: Database, ids: list[int]) -> dict[int, int]:
    with db.reader() as session:
        rows = session.execute(select(Article.id, Article.story_id).where(Article.id.in_(ids))).all()
    return {int(a): int(s) for a, s in rows}


def _same_groups(a: dict[int, int], b: dict[int, int]) -> bool:
    def groups(assign: dict[int, int]) -> list[list[int]]:
        out: dict[int, list[int]] = defaultdict(list)
        for article, story in sorted(assign.items()):
            out[story].append(article)
        return sorted(out.values())

    return groups(a) == groups(b)


def _memory_replay(db: Database, ids: list[int], background: list[dict[str, object]]) -> st.MemoryStoryIndex:
    """The same articles, as stored, through the in-memory index and the in-memory pass."""
    index = st.MemoryStoryIndex()
    for r in background:
        f = st.story_features(str(r["title"]), str(r["text"]), None, f"bg:{r['id']}", "en")
        index.record_document(f.source, [], sorted(f.vocabulary()))
    with db.reader() as session:
        articles = session.scalars(select(Article).where(Article.id.in_(ids)).order_by(Article.id)).all()
        for a in articles:
            if a.duplicate_of is not None:
                continue
            f = st.story_features(a.title, a.text, a.published_at, site_of(a.url), a.language)
            st.link_article(index, f, a.created_at, article_id=a.id)
    return index


def test_refinement_regroups_stored_articles_like_the_memory_pass(runtime: Runtime) -> None:
    docs, background = _docs()
    ids = _ingest(runtime, docs, background)
    duplicate = ids[-1]
    memory = _memory_replay(runtime.db, ids, background)
    online = _stored_partition(runtime.db, ids)
    originals = {a: s for a, s in online.items() if a != duplicate}
    assert _same_groups(originals, {a: m.story_id for a, m in memory.members_by_id.items()})

    report = handlers.refine_stories(runtime)
    sr.refine_dirty(memory, T0)
    refined = _stored_partition(runtime.db, ids)
    assert report.articles_moved > 0 and report.conflicts == 0
    assert _same_groups(
        {a: s for a, s in refined.items() if a != duplicate}, {a: m.story_id for a, m in memory.members_by_id.items()}
    )

    # the look-alike events of each topic no longer share their main story
    event_of = {aid: str(r["event"]) for aid, r in zip(ids, docs, strict=False)}
    mains: dict[str, Counter[int]] = defaultdict(Counter)
    for aid, event in event_of.items():
        mains[event][refined[aid]] += 1
    main = {e: c.most_common(1)[0][0] for e, c in mains.items()}
    assert main["10-ecb"] != main["10-ecbplus"] and main["20-ecb"] != main["20-ecbplus"]

    with runtime.db.reader() as session:
        dup = session.get(Article, duplicate)
        assert dup is not None and dup.duplicate_of is not None
        assert refined[duplicate] == refined[dup.duplicate_of]  # the copy followed its original
        live = {s.id: s for s in session.scalars(select(Story).where(Story.merged_into.is_(None)))}
        assert set(refined.values()) <= set(live)  # nothing points at a vanished story
        counts = Counter(s for a, s in refined.items() if a != duplicate)
        assert all(live[s].article_count == n for s, n in counts.items())
        assert not any(s.refine_pending for s in live.values())
        merges = session.execute(select(si.story_merges.c.old_story_id, si.story_merges.c.new_story_id)).all()
        conn = session.connection()
        for old, _new in merges:
            assert si.resolve_story(conn, int(old)) in live
    assert {old for old, _ in report.stories_merged} <= {int(o) for o, _ in merges}

    # settled: everything marked changed again, a second pass moves nothing
    with runtime.db.transaction() as session:
        session.execute(Story.__table__.update().values(refine_pending=True))
    again = handlers.refine_stories(runtime)
    assert again.articles_moved == 0 and _stored_partition(runtime.db, ids) == refined


def test_stories_refine_command_reports_as_json(runtime: Runtime, tmp_path: Path) -> None:
    docs, background = _docs()
    _ingest(runtime, docs[:12], background[:50])
    with runtime.db.reader() as session:
        pending_before = session.scalar(
            select(func.count()).select_from(Story).where(Story.refine_pending, Story.article_count > 1)
        )
    assert pending_before  # single-article stories are settled without being started from
    env = {**os.environ, "NEWSWORKER_DATABASE_URL": runtime.db.url}
    result = run_cli("stories", "refine", "--json", env=env, cwd=tmp_path)
    summary = json.loads(result.stdout)
    assert summary["stories_seen"] >= pending_before and summary["conflicts"] == 0
    with runtime.db.reader() as session:
        pending = session.scalar(select(func.count()).select_from(Story).where(Story.refine_pending))
    assert pending == 0


def test_stories_refine_takes_every_changed_story_in_passes_of_the_batch_size(runtime: Runtime, tmp_path: Path) -> None:
    """After a large import more stories are pending than one pass starts from: the command
    runs passes until none is left; ``--limit`` asks for one pass."""
    _docs()  # (skips without the shared data)
    rows = load_ecbplus()
    topics = sorted({str(r["topic"]) for r in rows})[:8]  # eight unrelated events: eight neighbourhoods
    docs = [
        r for t in topics for r in sorted((r for r in rows if str(r["topic"]) == t), key=lambda r: str(r["id"]))[:3]
    ]
    _ingest(runtime, docs, [r for r in rows if str(r["topic"]) not in topics][:50])

    def mark_all_changed() -> None:
        with runtime.db.transaction() as session:  # every multi-article story changed, as after an import
            session.execute(Story.__table__.update().where(Story.article_count > 1).values(refine_pending=True))

    def left() -> int:
        with runtime.db.reader() as session:
            return int(session.scalar(select(func.count()).select_from(Story).where(Story.refine_pending)) or 0)

    mark_all_changed()
    before = left()
    assert before >= 4
    env = {**os.environ, "NEWSWORKER_DATABASE_URL": runtime.db.url, "NEWSWORKER_STORY_REFINE_BATCH_SIZE": "2"}
    one = json.loads(run_cli("stories", "refine", "--json", "--limit", "1", env=env, cwd=tmp_path).stdout)
    assert one["conflicts"] == 0 and 0 < left() < before  # one pass from one story (and its neighbours)
    mark_all_changed()
    run_cli("stories", "refine", "--json", env=env, cwd=tmp_path)
    assert left() == 0  # passes of two until none is left


def test_refinement_running_beside_linkers_leaves_consistent_stories(runtime: Runtime) -> None:
    """A beat pass and workers linking new articles of the same stories at the same time: the
    window locks and optimistic checks leave every article in a live story whose count is
    right, whatever the interleaving."""
    docs, background = _docs()
    _ingest(runtime, docs[:18], background[:100])
    assert isinstance(runtime.dispatcher, LocalDispatcher)
    late = []
    for i, r in enumerate(docs[18:]):
        item = ImportItem(f"https://late{i % 3}.example/{r['id']}", str(r["title"]), str(r["text"]), None, None, None)
        late.append(handlers.import_item(runtime, item, default_source="test").article_id)
    runtime.dispatcher.pending.clear()  # linked below, by the racing thread
    errors: list[BaseException] = []

    def link() -> None:
        try:
            for article_id in late:
                handlers.process_article(runtime, article_id)
        except BaseException as exc:  # re-raised below
            errors.append(exc)

    def refine() -> None:
        try:
            for _ in range(4):
                with runtime.db.transaction() as session:
                    session.execute(Story.__table__.update().values(refine_pending=True))
                handlers.refine_stories(runtime)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=link), threading.Thread(target=refine)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    handlers.refine_stories(runtime)
    with runtime.db.reader() as session:
        rows = session.execute(select(Article.id, Article.story_id, Article.duplicate_of)).all()
        live = {s.id: s for s in session.scalars(select(Story).where(Story.merged_into.is_(None)))}
    assert all(story_id in live for _, story_id, _ in rows), "an article points at a vanished story"
    counts = Counter(story_id for _, story_id, dup in rows if dup is None)
    assert {s: live[s].article_count for s in counts} == dict(counts)
    assert all(s.article_count == 0 or s.id in counts for s in live.values())


def test_daily_prune_forgets_old_vectors_and_rare_sentences_only(runtime: Runtime) -> None:
    docs, background = _docs()
    ids = _ingest(runtime, docs[:6], background[:20])
    old = story_model.epoch_seconds(datetime.now(UTC) - timedelta(days=90))
    with runtime.db.transaction() as session:
        session.execute(si.story_vectors.update().where(si.story_vectors.c.article_id == ids[0]).values(at=old))
        session.execute(
            si.story_boilerplate.insert(),
            [
                {"source": "old.example", "sentence_key": "rare", "docs": 1, "last_seen": old},
                {"source": "old.example", "sentence_key": "common", "docs": 9, "last_seen": old},
            ],
        )
    vectors, sentences = handlers.prune_story_state(runtime)
    assert (vectors, sentences) == (1, 1)
    with runtime.db.reader() as session:
        kept = set(session.scalars(select(si.story_vectors.c.article_id)))
        keys = set(
            session.scalars(
                select(si.story_boilerplate.c.sentence_key).where(si.story_boilerplate.c.source == "old.example")
            )
        )
    assert ids[0] not in kept and ids[1] in kept
    assert keys == {"common"}  # a sentence seen on many pages stays known as boilerplate
