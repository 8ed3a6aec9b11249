"""The SQL story index on real PostgreSQL and on SQLite: same decisions as the in-memory
index, merges recorded, one story when workers race on a new event, stale writes refused."""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from storage import story_index as si
from storage.models import Base, story_boilerplate, story_df, story_df_pending, story_terms
from tests.support.plans import whole_table_scans
from worker.model import story as story_model
from worker.service import stories as story_service
from worker.stories import link as st

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)

_TOWNS = ["Ashford", "Kelso", "Marston", "Penrith", "Olney", "Rydal"]
_NAMES = ["Mary Novak", "Paul Ortega", "Ruth Haldane", "Kevin Mbeki", "Lisa Moreau", "Brian Petrov"]
_STREETS = ["Mill", "Oak", "Church", "Bridge", "Market", "Station"]


def _article(event: int, variant: int) -> tuple[str, str]:
    """Variant ``variant`` of local event ``event``: same kind of story, its own details."""
    town, name, street = _TOWNS[event], _NAMES[event], _STREETS[event]
    age = 30 + 7 * event
    leads = [
        f"A fire destroyed a house on {street} Street in {town} on Tuesday night.",
        f"Firefighters fought a blaze at a home on {street} Street in {town}.",
        f"A house on {street} Street in {town} burned down overnight.",
    ]
    rest = [
        f"{name}, {age}, was taken to hospital with burns, officials in {town} said.",
        f"Neighbours said {name} had lived on {street} Street for many years.",
        f"Crews from {event + 2} stations spent two hours at the scene.",
        "The cause of the fire is under investigation.",
    ]
    k = variant % len(rest)
    title = [f"{town} house fire injures {name}", f"Fire on {street} Street", f"{town} blaze"]
    return title[variant % 3], " ".join([leads[variant % 3], *rest[k:], *rest[:k]])


def _stream() -> list[tuple[int, story_model.StoryFeatures, datetime]]:
    """Four look-alike events (two of them in the same hours), follow-ups, one a month later."""
    out = []
    plan = [(0, 0, 0), (1, 0, 1), (0, 1, 2), (2, 0, 30), (1, 1, 3), (0, 2, 26), (3, 0, 50)]
    plan += [(2, 1, 40), (3, 1, 60), (1, 2, 70), (2, 2, 75), (0, 3, 24 * 30)]
    for event, variant, hours in plan:
        t = T0 + timedelta(hours=hours)
        title, body = _article(event, variant)
        out.append((event, st.story_features(title, body, t, f"site{variant}.example"), t))
    return out


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = "story_index_test_" + uuid.uuid4().hex[:10]
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:  # pragma: no cover - environment without PostgreSQL
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    eng = create_engine(PG_ADMIN.rsplit("/", 1)[0] + "/" + name, pool_size=10)
    Base.metadata.create_all(eng)
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    eng = create_engine(f"sqlite:///{tmp_path / 'stories.db'}")
    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest) -> Engine:
    return request.getfixturevalue("pg_engine" if request.param == "postgresql" else "sqlite_engine")


def _partition(ids: Sequence[int]) -> list[list[int]]:
    groups: dict[int, list[int]] = {}
    for i, s in enumerate(ids):
        groups.setdefault(s, []).append(i)
    return sorted(groups.values())


def test_sql_index_links_like_the_memory_index(engine: Engine) -> None:
    stream = _stream()
    mem = st.MemoryStoryIndex()
    mem_ids = [mem.resolve(st.link_article(mem, f, t).story_id) for _, f, t in stream]
    sql_raw = [story_service.link_with_retry(engine, f, t).story_id for _, f, t in stream]
    with engine.connect() as c:
        sql_ids = [si.resolve_story(c, s) for s in sql_raw]
        live = si.story_count(c)
        row = c.execute(select(si.stories).where(si.stories.c.id == sql_ids[0])).one()
    assert _partition(sql_ids) == _partition(mem_ids)
    # and the partition is the right one: four events; the month-later follow-up names the same
    # person, age and street, incident evidence that joins beyond the 10-day window
    events = [e for e, _, _ in stream]
    assert _partition(sql_ids) == _partition(events)
    assert live == 4
    assert row.article_count == 4 and row.source_count == 4  # event 0 with its month-later follow-up
    assert row.first_article_at is not None and row.title
    assert any(t.startswith("e:") for t in row.top_terms)


def _bridge_setup() -> tuple[st.Linker, list[tuple[story_model.StoryFeatures, datetime]]]:
    """Two halves of one event that a strict linker keeps apart until an article bridges them."""
    a = ("Ashford fire", "Mary Novak escaped a fire on Mill Street in Ashford. Smoke filled it.")
    b = ("Ashford blaze", "Firefighters in Ashford praised neighbour Paul Ortega for the rescue.")
    c = (
        "Ashford fire rescue",
        "Mary Novak escaped a fire on Mill Street in Ashford. "
        "Firefighters in Ashford praised neighbour Paul Ortega for the rescue.",
    )
    items = [
        (st.story_features(x, y, T0 + timedelta(hours=i), "s"), T0 + timedelta(hours=i))
        for i, (x, y) in enumerate((a, b, c))
    ]
    linker = st.Linker(threshold=0.6, merge_threshold=0.45, merge_centroid_min=0.05)
    return linker, items


def test_bridging_article_merges_and_records_it(engine: Engine) -> None:
    linker, items = _bridge_setup()
    repointed: list[tuple[list[int], int]] = []

    def repoint(conn: Connection, old: Sequence[int], new: int) -> None:
        repointed.append((list(old), new))

    results = [story_service.link_with_retry(engine, f, t, linker=linker, repoint=repoint) for f, t in items]
    first, second, bridge = results
    assert first.created and second.created and first.story_id != second.story_id
    assert bridge.merged == (second.story_id,) and bridge.story_id == first.story_id
    assert repointed == [([second.story_id], first.story_id)]
    with engine.connect() as c:
        merges = c.execute(select(si.story_merges)).all()
        gone = c.execute(select(si.stories).where(si.stories.c.id == second.story_id)).one()
        kept = c.execute(select(si.stories).where(si.stories.c.id == first.story_id)).one()
        orphan_postings = c.execute(
            select(func.count()).select_from(si.story_terms).where(si.story_terms.c.story_id == second.story_id)
        ).scalar_one()
        assert si.resolve_story(c, second.story_id) == first.story_id
    assert [(m.old_story_id, m.new_story_id) for m in merges] == [(second.story_id, first.story_id)]
    assert gone.merged_into == first.story_id and gone.article_count == 0
    assert kept.article_count == 3 and orphan_postings == 0


def test_stale_story_write_is_refused(engine: Engine) -> None:
    f, t = st.story_features(*_article(0, 0), T0, "s"), T0
    created = story_service.link_with_retry(engine, f, t).state
    grown = st.add_to_story(created, dict(created.centroid), t, "s2", "x")
    with engine.begin() as c:
        si.SqlStoryIndex(c).save_story(created, grown)
    with pytest.raises(si.StoryConflict), engine.begin() as c:
        si.SqlStoryIndex(c).save_story(created, grown)  # based on the old article_count


def test_a_deferred_stale_story_write_is_refused_at_flush_and_writes_nothing(engine: Engine) -> None:
    """The linker's index (defer_writes) sends the story's update with its postings and the
    document at flush: a story changed meanwhile is refused there, before any fold, and the
    transaction rolls back whole (no posting, pending document or sentence count of the refused
    link). (SQLite writes at once: refused at save_story.)"""
    f, t = st.story_features(*_article(0, 0), T0, "s"), T0
    created = story_service.link_with_retry(engine, f, t).state
    moved = T0 + 2 * si.POSTING_SLACK  # the span moves: the postings are rewritten too
    grown = st.add_to_story(created, {"w:boat": 1.0, **created.centroid}, moved, "s2", "x")
    with engine.begin() as c:
        si.SqlStoryIndex(c).save_story(created, grown)
    sentences = select(func.count()).select_from(story_boilerplate)
    with engine.connect() as c:
        postings, pending, counted = _postings(engine, created.story_id), _pending_ids(c), c.execute(sentences).scalar()
    with pytest.raises(si.StoryConflict), engine.begin() as c:
        index = si.SqlStoryIndex(c, at=moved, defer_writes=True)
        index.save_story(created, grown)  # based on the old article_count: held until flush
        index.record_document("s2", ["k1"], ["w:boat"])
        index.flush()
    with engine.connect() as c:
        assert _postings(engine, created.story_id) == postings and _pending_ids(c) == pending
        assert c.execute(sentences).scalar() == counted


def _pending_ids(c: Connection) -> list[int]:
    return [int(r[0]) for r in c.execute(select(story_df_pending.c.id))]


def _at_once(workers: int, work: Callable[[int], None]) -> None:
    """``work(k)`` for k in range(workers), one thread each, released together by a barrier;
    the first error any of them raised is raised here."""
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            barrier.wait()
            work(k)
        except BaseException as exc:  # re-raised below, not swallowed
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(workers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise errors[0]


def _race(engine: Engine, feats: Sequence[story_model.StoryFeatures]) -> list[story_model.LinkResult]:
    """Link all articles at once, one thread each."""
    results: list[story_model.LinkResult] = []

    def work(k: int) -> None:
        results.append(story_service.link_with_retry(engine, feats[k], feats[k].published_at or T0))

    _at_once(len(feats), work)
    return results


def test_concurrent_workers_on_a_new_event_make_one_story(pg_engine: Engine) -> None:
    for event in range(3):  # three rounds, each a brand-new event raced by 6 workers
        feats = [st.story_features(*_article(event, v), T0 + timedelta(days=20 * event), f"s{v}") for v in range(6)]
        results = _race(pg_engine, feats)
        with pg_engine.connect() as c:
            final = {si.resolve_story(c, r.story_id) for r in results}
        assert len(final) == 1, f"round {event}: {len(final)} stories"
        assert sum(r.created for r in results) == 1


def test_document_stats_read_boilerplate_and_frequencies_in_one_go(engine: Engine) -> None:
    """The SQL index answers the linker's two questions about a new article (which of its
    sentences are site boilerplate, how common its terms are) as the memory index does."""
    mem = st.MemoryStoryIndex()
    with engine.begin() as c:
        sql = si.SqlStoryIndex(c)
        for index in (mem, sql):
            for i in range(story_model.BOILERPLATE_MIN_DOCS):
                index.record_document("site.example", ["paywall", f"own{i}"], ["fire", f"town{i}"])
            index.record_document("other.example", ["paywall"], ["fire"])
        expected = mem.document_stats("site.example", ["paywall", "own0", "new"], ["fire", "town0", "unseen"])
        got = sql.document_stats("site.example", ["paywall", "own0", "new"], ["fire", "town0", "unseen"])
    assert got == expected
    assert got == (frozenset({"paywall"}), ({"fire": 4, "town0": 1}, 4))


def test_an_outlets_cities_are_counted_as_the_memory_index_counts_them(engine: Engine) -> None:
    """Each outlet's tally (its articles, the cities they name, its SOURCE_CITIES most named,
    ties by name) is what the memory index keeps, written alone or with the member's vector
    (PostgreSQL's deferred statement), read with the document statistics or alone."""
    cap = story_model.SOURCE_CITIES
    towns = [f"town {i:02d}" for i in range(cap + 6)] + ["são paulo", "o'fallon"]  # (then full)
    plan: list[list[str]] = [[], ["milwaukee"], ["milwaukee", "wauwatosa"], ["milwaukee"], []]
    plan += [[towns[(5 * i) % len(towns)]] for i in range(2 * len(towns))]
    mem = st.MemoryStoryIndex()
    with engine.begin() as c:
        for i, named in enumerate(plan):
            deferred = i % 2 == 1
            sql = si.SqlStoryIndex(c, defer_writes=deferred)
            sql.document_stats("wsn.example", [], ["w:fire"])
            assert sql.source_cities("wsn.example") == mem.source_cities("wsn.example"), i
            assert si.SqlStoryIndex(c).source_cities("wsn.example") == mem.source_cities("wsn.example"), i
            for index in (mem, sql):
                index.record_document("wsn.example", [], ["w:fire"], named)
            if deferred:
                sql.flush()
        si.SqlStoryIndex(c).record_document("other.example", [], ["w:fire"], ["chicago"])
    with engine.connect() as c:
        cities, articles = si.SqlStoryIndex(c).source_cities("wsn.example")
        assert (cities, articles) == mem.source_cities("wsn.example")
        assert si.SqlStoryIndex(c).source_cities("other.example") == ({"chicago": 1}, 1)
        assert si.SqlStoryIndex(c).source_cities("nobody.example") == ({}, 0)
    assert articles == len(plan) and len(cities) == cap and cities["milwaukee"] == 3


def test_terms_with_quotes_commas_and_accents_round_trip(engine: Engine) -> None:
    """Terms travel as JSON (SQLite) or array parameters (PostgreSQL), never spliced into SQL:
    quotes, commas, braces, backslashes and accents count and are found like any other term."""
    odd = ["e:o'brien", "n:1,000", 'e:"quoted"', "{brace}", "back\\slash", "e:zoë", "e:são paulo"]
    key = "a,\"b'c"  # sentence keys are short digests; this one is made awkward on purpose
    mem = st.MemoryStoryIndex()
    with engine.begin() as c:
        sql = si.SqlStoryIndex(c)
        for index in (mem, sql):
            for _ in range(story_model.BOILERPLATE_MIN_DOCS):
                index.record_document("site.example", [key], odd)
        expected = mem.document_stats("site.example", [key], [*odd, "e:other"])
        got = sql.document_stats("site.example", [key], [*odd, "e:other"])
        story = sql.create_story(
            st.new_story_state(0, {t: 1.0 for t in odd}, T0, "site.example", "A title", ["pn:o'brien"])
        )
        found = sql.candidates(["e:o'brien", "{brace}"], T0, story_model.WINDOW, 5)
        by_key = sql.candidates([story_model.KEY_PREFIX + "pn:o'brien"], T0, story_model.WINDOW, 5)
    assert got == expected
    assert got == (frozenset({key}), ({t: 3 for t in odd}, 3))
    assert [s.story_id for s in found] == [story.story_id] == [s.story_id for s in by_key]
    assert found[0].centroid == {t: 1.0 for t in odd}


def test_terms_with_control_characters_spaces_and_null_round_trip(engine: Engine) -> None:
    """PostgreSQL gets arrays as literals written by json.dumps, except where JSON escapes
    differently (control characters): both kinds of term, and NULL and blanks, are counted
    and found as they are (the empty string is the document counter's own key)."""
    odd = ["tab\there", "new\nline", "NULL", "two words", " ", 'q\\"x']
    mem = st.MemoryStoryIndex()
    with engine.begin() as c:
        sql = si.SqlStoryIndex(c)
        for index in (mem, sql):
            index.record_document("site.example", [], odd)
        got = sql.document_stats("site.example", [], [*odd, "e:other"])
        story = sql.create_story(st.new_story_state(0, {t: 1.0 for t in odd}, T0, "site.example", "A title"))
        found = sql.candidates(["NULL", "new\nline"], T0, story_model.WINDOW, 5)
    assert got == mem.document_stats("site.example", [], [*odd, "e:other"])
    assert got[1] == ({t: 1 for t in odd}, 1)
    assert [s.story_id for s in found] == [story.story_id]
    assert found[0].centroid == {t: 1.0 for t in odd}


def test_a_story_rewritten_under_the_same_count_is_read_afresh(engine: Engine) -> None:
    """Parsed story rows are cached per process by their whole content: a state rewritten
    without a new article (as the refinement pass may) is never served from the cache."""
    with engine.begin() as c:
        sql = si.SqlStoryIndex(c)
        story = sql.create_story(st.new_story_state(0, {"w:fire": 1.0, "w:dock": 0.5}, T0, "a.example", "Fire"))
        first = sql.candidates(["w:fire"], T0, story_model.WINDOW, 5)[0]
        again = sql.candidates(["w:fire"], T0, story_model.WINDOW, 5)[0]
        assert again is first  # the same parsed row: its norms are computed once
        changed = st.new_story_state(0, {"w:fire": 1.0, "w:flood": 2.0}, T0, "a.example", "Fire")
        sql.save_story(first, changed.__class__(**{**changed.__dict__, "story_id": story.story_id}))
        c.execute(si.stories.update().where(si.stories.c.id == story.story_id).values(article_count=1))
        fresh = sql.stories_by_id([story.story_id])[story.story_id]
        listed = sql.candidates(["w:fire"], T0, story_model.WINDOW, 5)[0]
    assert fresh.article_count == first.article_count == 1
    assert dict(fresh.centroid) == dict(listed.centroid) == {"w:fire": 1.0, "w:flood": 2.0}
    assert fresh.norm == listed.norm == (1.0 + 4.0) ** 0.5


def _documents(n: int, seed: int) -> list[list[str]]:
    """``n`` documents' term lists: a few common terms, many rare ones, some in every document."""
    rng = random.Random(seed)
    common = [f"w:common{i}" for i in range(30)]
    return [
        sorted({"w:always", *rng.sample(common, 8), *(f"w:rare{rng.randrange(400)}" for _ in range(12))})
        for _ in range(n)
    ]


def _counters(engine: Engine) -> dict[str, int]:
    with engine.connect() as c:
        return {r.term: int(r.df) for r in c.execute(select(story_df.c.term, story_df.c.df))}


def _seed_documents(engine: Engine, n: int) -> None:
    """An index that has counted ``n`` documents already (past the young index's eager folding)."""
    with engine.begin() as c:
        c.execute(story_df.insert().values(term=si.N_DOCS_KEY, df=n))


def test_document_frequencies_fold_in_batches_to_the_sum_of_the_documents(engine: Engine) -> None:
    """Each linked document writes one pending row; every DF_FOLD_EVERY documents they are
    folded into the counters, which then equal the sum of the documents' terms exactly, and
    the memory index sees the same frequencies at every step."""
    _seed_documents(engine, story_model.DF_EAGER_DOCS)
    mem = st.MemoryStoryIndex(n_docs=story_model.DF_EAGER_DOCS)
    docs = _documents(2 * story_model.DF_FOLD_EVERY + 17, seed=3)
    probe = ["w:always", "w:common1", "w:rare7", "w:never"]
    for i, terms in enumerate(docs, start=1):
        with engine.begin() as c:
            sql = si.SqlStoryIndex(c)
            sql.record_document("site.example", [], terms)
            mem.record_document("site.example", [], terms)
            assert sql.document_stats("site.example", [], probe) == mem.document_stats("site.example", [], probe), i
    folded = 2 * story_model.DF_FOLD_EVERY
    expected = Counter(t for terms in docs[:folded] for t in terms)
    counters = _counters(engine)
    assert counters.pop(si.N_DOCS_KEY) == story_model.DF_EAGER_DOCS + folded
    assert counters == expected
    with engine.begin() as c:
        assert si.fold_document_counts(c) == len(docs) - folded
        assert c.execute(select(func.count()).select_from(story_df_pending)).scalar_one() == 0
    counters = _counters(engine)
    assert counters.pop(si.N_DOCS_KEY) == story_model.DF_EAGER_DOCS + len(docs)
    assert counters == Counter(t for terms in docs for t in terms)


def test_a_young_index_folds_each_document_at_once(engine: Engine) -> None:
    with engine.begin() as c:
        si.SqlStoryIndex(c).record_document("site.example", [], ["w:fire"])
    with engine.begin() as c:
        assert si.SqlStoryIndex(c).document_stats("site.example", [], ["w:fire"]) == (frozenset(), ({"w:fire": 1}, 1))
        assert c.execute(select(func.count()).select_from(story_df_pending)).scalar_one() == 0


def test_a_rolled_back_document_is_never_counted(engine: Engine) -> None:
    _seed_documents(engine, story_model.DF_EAGER_DOCS)
    with pytest.raises(RuntimeError), engine.begin() as c:
        si.SqlStoryIndex(c).record_document("site.example", [], ["w:lost"])
        raise RuntimeError("the link failed")
    with engine.begin() as c:
        si.SqlStoryIndex(c).record_document("site.example", [], ["w:kept"])
        si.fold_document_counts(c)
    counters = _counters(engine)
    assert counters == {si.N_DOCS_KEY: story_model.DF_EAGER_DOCS + 1, "w:kept": 1}


def test_concurrent_linkers_fold_every_document_exactly_once(pg_engine: Engine) -> None:
    """Six workers record documents at once, each in its own transactions; whichever completes a
    batch folds it while the others keep writing (rows claimed with SKIP LOCKED): the counters end
    equal to the sum of all documents, none lost, none counted twice."""
    _seed_documents(pg_engine, story_model.DF_EAGER_DOCS)
    per_worker = 45
    docs = _documents(6 * per_worker, seed=11)

    def work(k: int) -> None:
        for terms in docs[k * per_worker : (k + 1) * per_worker]:
            with pg_engine.begin() as c:
                si.SqlStoryIndex(c).record_document(f"s{k}.example", [], terms)

    _at_once(6, work)
    with pg_engine.begin() as c:
        si.fold_document_counts(c)
    counters = _counters(pg_engine)
    assert counters.pop(si.N_DOCS_KEY) == story_model.DF_EAGER_DOCS + len(docs)
    assert counters == Counter(t for terms in docs for t in terms)


def test_concurrent_linkers_of_one_outlet_count_its_articles_without_deadlocks(pg_engine: Engine) -> None:
    """Six workers link articles of one outlet at once, each in its own time window (so no window
    lock orders them): every article's transaction writes the outlet's tally row and its shared
    sentence rows. None fails, none is lost: the tally ends with every article and city."""
    per_worker = 6
    footer = "Follow WSN Milwaukee on Facebook and Twitter for the latest updates on this story."

    def work(k: int) -> None:
        for i in range(per_worker):
            at = T0 + timedelta(days=60 * k + i)
            city = "Milwaukee police said." if i % 2 == 0 else "Police said."
            text = f"A {20 + i}-year-old man was shot on Center Street number {k}{i}. {city} {footer}"
            features = st.story_features(f"Shooting {k}-{i}", text, at, "wsn.example", "en")
            story_service.link_with_retry(pg_engine, features, at)

    _at_once(6, work)
    with pg_engine.connect() as c:
        cities, articles = si.SqlStoryIndex(c).source_cities("wsn.example")
    assert articles == 6 * per_worker
    assert cities == {"milwaukee": 6 * per_worker // 2}


def _postings(engine: Engine, story_id: int) -> dict[str, tuple[float, float, float]]:
    t = story_terms
    with engine.connect() as c:
        rows = c.execute(select(t.c.term, t.c.weight, t.c.first_time, t.c.last_time).where(t.c.story_id == story_id))
        return {r.term: (r.weight, r.first_time, r.last_time) for r in rows}


def test_a_repost_writes_only_the_postings_that_change(engine: Engine) -> None:
    """A story whose top terms change within POSTING_SLACK: terms gone are unposted, new ones
    posted with the span as posted, a kept weight rewritten only when it moved by more than
    POSTING_WEIGHT_SLACK; the lookup finds the story by its new terms and not by the gone ones."""
    base = {"w:fire": 1.0, "w:dock": 0.6, "w:crane": 0.4}
    with engine.begin() as c:
        sql = si.SqlStoryIndex(c)
        story = sql.create_story(st.new_story_state(0, base, T0, "a.example", "Dock fire"))
    before = _postings(engine, story.story_id)
    later = T0 + si.POSTING_SLACK / 2
    # unit-normalised: fire 0.81 -> 0.71 (within the slack), dock 0.49 -> 0.64, crane gone, boat new
    centroid = {"w:fire": 1.0, "w:dock": 0.9, "w:boat": 0.4}
    grown = st.add_to_story(story, {}, later, "b.example", "Dock fire")
    grown = grown.__class__(**{**grown.__dict__, "centroid": centroid})
    with engine.begin() as c:
        sql = si.SqlStoryIndex(c)
        old = sql.stories_by_id([story.story_id])[story.story_id]
        sql.save_story(old, grown)
        by_new = sql.candidates(["w:boat"], later, story_model.WINDOW, 5)
        by_gone = sql.candidates(["w:crane"], later, story_model.WINDOW, 5)
    after = _postings(engine, story.story_id)
    posts = grown.postings()
    assert set(after) == set(posts)
    assert after["w:fire"] == before["w:fire"]  # moved by less than the slack: not written again
    assert after["w:dock"][0] == pytest.approx(posts["w:dock"]) and after["w:dock"][0] != before["w:dock"][0]
    span = before["w:fire"][1:]
    assert after["w:boat"][0] == pytest.approx(posts["w:boat"]) and after["w:boat"][1:] == span  # the span as posted
    assert [s.story_id for s in by_new] == [story.story_id] and by_gone == []
    # beyond the slack the span is written anew, on every posting
    much_later = T0 + 2 * si.POSTING_SLACK
    moved = grown.__class__(**{**grown.__dict__, "last_time": much_later, "article_count": 3})
    with engine.begin() as c:
        sql = si.SqlStoryIndex(c)
        sql.save_story(sql.stories_by_id([story.story_id])[story.story_id], moved)
    last = story_model.epoch_seconds(much_later)
    assert {v[2] for v in _postings(engine, story.story_id).values()} == {last}


# The linker's PostgreSQL lookups by a list of keys, with a type for each parameter.
_LOOKUPS = {
    "_PG_DF": {"terms": "text[]"},
    "_PG_BOILERPLATE": {"keys": "text[]", "source": "text", "min": "int"},
    "_PG_DOCUMENT_STATS": {
        "keys": "text[]",
        "source": "text",
        "min": "int",
        "terms": "text[]",
        "cached": "text[]",
        "gen": "bigint",
    },
    "_PG_CANDIDATES": {"terms": "text[]", "lo": "float8", "hi_last": "float8", "hi": "float8", "k": "int"},
    "_PG_MEMBERS": {"ids": "bigint[]"},
    "_PG_SETTLE": {"ids": "bigint[]", "counts": "int[]"},
    "_PG_REDIRECT": {"keep": "bigint", "ids": "bigint[]"},
}


@pytest.mark.parametrize("name", sorted(_LOOKUPS))
def test_lookups_probe_the_index_even_when_planned_on_empty_tables(pg_engine: Engine, name: str) -> None:
    """psycopg prepares a statement after a few runs, and PostgreSQL may keep the generic plan it
    made while the deployment was new. A plan made on empty, never-analyzed tables must still
    look keys up one by one: a full scan there grew to ~40 ms per article (80% of the database's
    CPU in the distributed bench) until something ran ANALYZE."""
    with pg_engine.connect() as conn:
        assert whole_table_scans(conn, getattr(si, name).text, _LOOKUPS[name]) == []


# The linker's writes at flush (PostgreSQL), with a type for each parameter.
_ROW = {
    "title": "text",
    "first_at": "timestamptz",
    "last_at": "timestamptz",
    "count": "int",
    "source_count": "int",
    "top_terms": "text",
    "state": "text",
    "pending": "bool",
}
_DOCUMENT = {
    "terms": "text",
    "source": "text",
    "keys": "text[]",
    "seen": "float8",
    "article_id": "bigint",
    "at": "float8",
    "vector": "text",
    "evidence": "text",
    "cities": "text",
    "cap": "int",
}
_SPAN = {"first": "float8", "last": "float8", "p_terms": "text[]", "p_weights": "float8[]"}
_WRITES = {
    "_PG_SAVE_AND_DOCUMENT": {**_ROW, "b_id": "bigint", "b_count": "int", **_DOCUMENT},
    "_PG_SAVE_REPOST_AND_DOCUMENT": {
        **_ROW,
        "b_id": "bigint",
        "b_count": "int",
        "sid": "bigint",
        **_SPAN,
        "slack": "float8",
        **_DOCUMENT,
    },
    "_PG_CREATE_AND_POST": {**_ROW, "created_at": "timestamptz", **_SPAN},
}


@pytest.mark.parametrize("name", sorted(_WRITES))
def test_writes_find_their_rows_by_key_even_when_planned_on_empty_tables(pg_engine: Engine, name: str) -> None:
    """The story row, its postings (the terms gone are found through the key's story_id), the
    sentence counts: by key, never a scan of a whole table, whatever the plan was made on."""
    with pg_engine.connect() as conn:
        assert whole_table_scans(conn, getattr(si, name), _WRITES[name]) == []


def test_a_story_written_is_cached_exactly_as_it_reads_back(engine: Engine) -> None:
    """The row a linker writes is cached as parsed from its own text: the same centroid (rounded
    as stored, in the same order), times, keys and posted span as a fresh decode of the row."""
    vector = {"w:fire": 0.123456789, "e:mary novak": 0.7, "n:3": 0.25, "w:dock": 1e-7}
    with engine.begin() as c:
        sql = si.SqlStoryIndex(c)
        story = sql.create_story(st.new_story_state(0, vector, T0, "a.example", "Fire", ["pn:mary novak"]))
        grown = st.add_to_story(story, {"w:fire": 0.5, "w:boat": 0.3}, T0 + timedelta(days=2), "b.example", "Blaze")
        sql.save_story(story, grown)
        cached = sql.stories_by_id([story.story_id])[story.story_id]
        si._state_cache.clear()
        fresh = sql.stories_by_id([story.story_id])[story.story_id]
    assert cached is not fresh
    assert list(cached.centroid.items()) == list(fresh.centroid.items())
    assert cached.centroid["w:fire"] == round(0.123456789 + 0.5, 6)  # as stored, not as computed
    for attr in ("story_id", "first_time", "last_time", "article_count", "sources", "title", "title_score", "keys"):
        assert getattr(cached, attr) == getattr(fresh, attr), attr
    assert cached.norm == fresh.norm and cached.numbers == fresh.numbers == ("n:3",)


def test_driver_errors_surface_as_sqlalchemy_errors(engine: Engine) -> None:
    """Hot-path statements run on the driver's cursor; their errors are still SQLAlchemy's
    (OperationalError is what the service layer retries)."""
    with engine.begin() as c:
        c.execute(text("DROP TABLE story_terms"))
        with pytest.raises(DBAPIError) as err:
            si.SqlStoryIndex(c).candidates(["w:fire"], T0, story_model.WINDOW, 5)
    assert "story_terms" in str(err.value)
    if engine.dialect.name == "sqlite":
        assert isinstance(err.value, OperationalError)


def test_a_pass_settles_only_the_stories_still_as_it_read_them(engine: Engine) -> None:
    with engine.begin() as c:
        sql = si.SqlStoryIndex(c)
        a = sql.create_story(st.new_story_state(0, {"w:fire": 1.0}, T0, "a.example", "Fire"))
        b = sql.create_story(st.new_story_state(0, {"w:flood": 1.0}, T0, "a.example", "Flood"))
        sql.mark_refined_if_unchanged({a.story_id: 1, b.story_id: 2})  # b has one article, not two
        pending = dict(c.execute(select(si.stories.c.id, si.stories.c.refine_pending)).all())
    assert pending == {a.story_id: False, b.story_id: True}


def test_a_pass_lists_pending_stories_and_settles_single_article_ones(engine: Engine) -> None:
    """The pass starts from pending stories of two or more articles, in id order; pending
    single-article stories are settled (they are looked at as neighbours); merged ones are not
    starting points; many pairs are settled in one statement, each on its own count."""
    with engine.begin() as c:
        sql = si.SqlStoryIndex(c)
        made = [sql.create_story(st.new_story_state(0, {f"w:t{i}": 1.0}, T0, "a.example", f"S{i}")) for i in range(6)]
        ids = [s.story_id for s in made]
        c.execute(si.stories.update().where(si.stories.c.id.in_(ids[1:5])).values(article_count=3))
        c.execute(si.stories.update().where(si.stories.c.id == ids[2]).values(merged_into=ids[1]))
        c.execute(si.stories.update().where(si.stories.c.id == ids[4]).values(refine_pending=False))
        assert sql.settle_single_article_stories() == 2  # ids[0] and ids[5]
        assert sql.dirty_stories(10) == [ids[1], ids[3]]
        assert sql.dirty_stories(1) == [ids[1]]
        sql.mark_refined_if_unchanged({ids[1]: 3, ids[3]: 2, **{i: 1 for i in range(10**6, 10**6 + 300)}})
        assert sql.dirty_stories(10) == [ids[3]]  # its count was not as read
        pending = dict(c.execute(select(si.stories.c.id, si.stories.c.refine_pending)).all())
    assert [pending[i] for i in ids] == [False, False, True, True, False, False]


def test_sqlite_pass_reads_pending_stories_through_their_partial_index(sqlite_engine: Engine) -> None:
    """SQLite uses a partial index only when the query repeats its WHERE term, and preferred the
    index on merged_into (nearly every story) even then: each pass read every story row, some
    240 ms per statement at 1M stored articles. The pass's statements must not scan stories."""
    with sqlite_engine.begin() as c:
        sql = si.SqlStoryIndex(c)
        for i in range(50):
            sql.create_story(st.new_story_state(0, {f"w:t{i}": 1.0}, T0, "a.example", f"S{i}"))
        c.execute(text("UPDATE stories SET refine_pending = 0"))
        c.execute(text("ANALYZE"))
        plans = {
            name: " | ".join(str(r[3]) for r in c.execute(text("EXPLAIN QUERY PLAN " + stmt), params))
            for name, stmt, params in (
                ("dirty", si._LITE_DIRTY.text, {"limit": 10}),
                ("single", si._LITE_SETTLE_SINGLE.text, {}),
                ("settle", si._LITE_SETTLE, {"pairs": "[[1, 2]]"}),
            )
        }
    assert "ix_stories_refine_pending" in plans["dirty"] and "ix_stories_refine_pending" in plans["single"]
    for plan in plans.values():
        assert "SCAN stories" not in plan.replace("SCAN stories USING INDEX ix_stories_refine_pending", ""), plans


def _stats(engine: Engine, terms: Sequence[str]) -> tuple[dict[str, int], int]:
    with engine.begin() as c:
        return si.SqlStoryIndex(c).document_stats("site.example", [], terms)[1]


def test_counts_read_since_the_last_fold_are_not_probed_again(engine: Engine) -> None:
    """While the document count stands, a term's count this process has read is sent back
    unprobed (a counter changed behind the count's back, which no fold does, shows it); once
    the count moves on every term is read afresh."""
    _seed_documents(engine, story_model.DF_EAGER_DOCS)
    with engine.begin() as c:
        c.execute(story_df.insert(), [{"term": "w:fire", "df": 7}, {"term": "w:dock", "df": 2}])
    assert _stats(engine, ["w:fire", "w:never"]) == ({"w:fire": 7}, story_model.DF_EAGER_DOCS)
    with engine.begin() as c:
        c.execute(story_df.update().where(story_df.c.term.in_(["w:fire", "w:dock"])).values(df=99))
    # w:fire (and w:never's zero) held, w:dock probed
    assert _stats(engine, ["w:dock", "w:fire", "w:never"]) == ({"w:dock": 99, "w:fire": 7}, story_model.DF_EAGER_DOCS)
    for terms in [["w:fire", "w:never"]] * story_model.DF_FOLD_EVERY:  # a fold: the count moves on
        with engine.begin() as c:
            si.SqlStoryIndex(c).record_document("site.example", [], terms)
    n = story_model.DF_EAGER_DOCS + story_model.DF_FOLD_EVERY
    assert _stats(engine, ["w:dock", "w:fire", "w:never"]) == (
        {"w:dock": 99, "w:fire": 99 + story_model.DF_FOLD_EVERY, "w:never": story_model.DF_FOLD_EVERY},
        n,
    )


def test_counts_read_after_a_fold_that_rolls_back_are_not_kept(engine: Engine) -> None:
    """A transaction that folded reads its own, uncommitted counts: they are not cached, since
    another fold may reach the same document count with other documents."""
    _seed_documents(engine, story_model.DF_EAGER_DOCS)
    fold = story_model.DF_FOLD_EVERY
    with pytest.raises(RuntimeError), engine.begin() as c:
        sql = si.SqlStoryIndex(c)
        for _ in range(fold):
            sql.record_document("site.example", [], ["w:lost"])
        assert sql.document_stats("site.example", [], ["w:lost", "w:kept"])[1] == (
            {"w:lost": fold},
            story_model.DF_EAGER_DOCS + fold,
        )
        raise RuntimeError("the link failed")
    for _ in range(fold):
        with engine.begin() as c:
            si.SqlStoryIndex(c).record_document("site.example", [], ["w:kept"])
    assert _stats(engine, ["w:lost", "w:kept"]) == ({"w:kept": fold}, story_model.DF_EAGER_DOCS + fold)


def _stored_centroid(c: Connection, story_id: int) -> dict[str, float]:
    raw = c.execute(select(si.stories.c.state).where(si.stories.c.id == story_id)).scalar_one()
    return dict(raw["centroid"])


def test_every_centroid_value_is_stored_rounded(engine: Engine) -> None:
    """Values a save takes over unchanged from the row it read are not rounded again (they are
    as stored); every other value is, whatever state the caller calls the old one."""
    vector = {"w:fire": 0.123456789, "e:mary novak": 0.7000000001, "w:dock": 1e-7}
    with engine.begin() as c:
        sql = si.SqlStoryIndex(c)
        created = sql.create_story(st.new_story_state(0, vector, T0, "a.example", "Fire"))
        # the state create_story returns holds the values as computed, not as stored
        grown = st.add_to_story(created, {"w:boat": 0.3333333333}, T0 + timedelta(hours=1), "b.example", "Blaze")
        sql.save_story(created, grown)
        assert _stored_centroid(c, created.story_id) == {t: round(v, 6) for t, v in grown.centroid.items()}
        read = sql.stories_by_id([created.story_id])[created.story_id]
        again = st.add_to_story(read, {"w:fire": 0.1111111111}, T0 + timedelta(hours=2), "c.example", "Blaze")
        sql.save_story(read, again)
        stored = _stored_centroid(c, created.story_id)
    assert stored == {t: round(v, 6) for t, v in again.centroid.items()}
    assert stored["w:dock"] == 0.0 and stored["e:mary novak"] == 0.7 and stored["w:boat"] == 0.333333
