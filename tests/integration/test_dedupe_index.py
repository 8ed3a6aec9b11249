"""The database-backed duplicate index on real PostgreSQL (and on SQLite)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    func,
    select,
    text,
)

from bench.dedupe_cost import inserter  # the bench's ingest step, so both measure the same code
from storage.dedupe_index import (
    ArticleColumns,
    SqlDuplicateIndex,
    add_bands,
    band_table,
    dedupe_and_store,
    dedupe_existing,
    lock_fingerprint,
    rebuild_bands,
)
from tests.support.plans import whole_table_scans
from worker.dedupe.minhash import check_duplicate, fingerprint
from worker.model.dedupe import DuplicateVerdict

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data" / "dedupe"
STORY_A = (DATA / "story_a.txt").read_text(encoding="utf-8")
STORY_B = (DATA / "story_b.txt").read_text(encoding="utf-8")
ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def wire_copy(body: str) -> str:
    paras = body.strip().split("\n")
    paras[0] = "SPRINGFIELD (AP) — " + paras[0]
    paras.insert(2, "Also Read: Mayor unveils harbour leisure centre plans")
    return "\n".join(["By Jane Doe", *paras, "Copyright AP. All rights reserved."])


def schema() -> tuple[MetaData, Table, Table]:
    metadata = MetaData()
    id_type = BigInteger().with_variant(Integer, "sqlite")
    articles = Table(
        "articles",
        metadata,
        Column("id", id_type, primary_key=True, autoincrement=True),
        Column("url", String(2048), unique=True, nullable=False),
        Column("text", Text, nullable=False),
        Column("title", Text),
        Column("content_hash", String(64), index=True),
        Column("duplicate_of", id_type, ForeignKey("articles.id"), index=True),
    )
    bands = band_table(metadata, articles_fk="articles.id")
    return metadata, articles, bands


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    name = f"nw_dedupe_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", pool_size=10)
    try:
        yield engine
    finally:
        engine.dispose()
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'dedupe.db'}")
    yield engine
    engine.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest) -> Engine:
    name = "pg_engine" if request.param == "postgresql" else "sqlite_engine"
    eng: Engine = request.getfixturevalue(name)
    return eng


def ingest(engine: Engine, articles: Table, bands: Table, url: str, body: str) -> tuple[int, DuplicateVerdict]:
    fp = fingerprint(body)
    with engine.begin() as conn:
        index = SqlDuplicateIndex(conn, bands, ArticleColumns.from_table(articles))
        return dedupe_and_store(conn, index, fp, inserter(conn, articles, url, body, fp), check=check_duplicate)


def test_index_links_copies_and_keeps_different_reports_apart(engine: Engine) -> None:
    metadata, articles, bands = schema()
    metadata.create_all(engine)

    a_id, verdict = ingest(engine, articles, bands, "https://a.test/pool", STORY_A)
    assert verdict.kind is None
    b_id, verdict = ingest(engine, articles, bands, "https://b.test/pool-vote", STORY_B)
    assert verdict.kind is None, "a different report of the same event must stay apart"

    mirror = "\n\n".join(STORY_A.replace('"', "“").split("\n"))
    _, verdict = ingest(engine, articles, bands, "https://mirror.test/pool", mirror)
    assert (verdict.kind, verdict.original_id) == ("exact", a_id)

    wire_id, verdict = ingest(engine, articles, bands, "https://wire.test/pool", wire_copy(STORY_A))
    assert (verdict.kind, verdict.original_id) == ("near", a_id)
    assert 0.6 <= verdict.score < 1.0

    excerpt = "\n".join(STORY_A.split("\n")[:3])
    _, verdict = ingest(engine, articles, bands, "https://excerpt.test/pool", excerpt)
    assert (verdict.kind, verdict.original_id) == ("excerpt", a_id)

    with engine.connect() as conn:
        index = SqlDuplicateIndex(conn, bands, ArticleColumns.from_table(articles))
        fp = fingerprint(wire_copy(STORY_A))
        # Re-delivered task: re-checking a stored article does not find itself
        # and registering it again changes nothing.
        again = check_duplicate(fp, index, exclude_id=wire_id)
        assert again.original_id == a_id
        before = conn.execute(select(func.count()).select_from(bands)).scalar_one()
        assert add_bands(conn, bands, [(wire_id, fp)]) == len(set(fp.band_keys))
        after = conn.execute(select(func.count()).select_from(bands)).scalar_one()
        assert before == after
        assert b_id not in index.candidates(fingerprint(STORY_A).band_keys)
        assert [(s.id, s.site, s.duplicate_of) for s in index.load([a_id, wire_id])] == [
            (a_id, "a.test", None),
            (wire_id, "wire.test", a_id),
        ]


def test_rebuild_recreates_the_same_index(engine: Engine) -> None:
    metadata, articles, bands = schema()
    metadata.create_all(engine)
    ingest(engine, articles, bands, "https://a.test/pool", STORY_A)
    ingest(engine, articles, bands, "https://b.test/pool", STORY_B)
    ingest(engine, articles, bands, "https://c.test/stub", "Video unavailable.")
    ingest(engine, articles, bands, "https://w.test/pool", wire_copy(STORY_A))
    order = (bands.c.band_key, bands.c.article_id)
    with engine.begin() as conn:
        before = conn.execute(select(bands).order_by(*order)).all()
        assert rebuild_bands(conn, bands, ArticleColumns.from_table(articles), fingerprint, batch=2) == 4
        after = conn.execute(select(bands).order_by(*order)).all()
    assert len(before) == 3 * len(fingerprint(STORY_A).band_keys)  # the stub has no bands
    assert after == before


def test_dedupe_existing_replaces_bands_and_never_finds_itself(engine: Engine) -> None:
    metadata, articles, bands = schema()
    metadata.create_all(engine)
    a_id, _ = ingest(engine, articles, bands, "https://a.test/pool", STORY_A)
    # Stored from its feed entry first: a summary too short to compare.
    stub_id, verdict = ingest(engine, articles, bands, "https://w.test/pool", "Council votes to close the pool.")
    assert verdict.kind is None
    cols = ArticleColumns.from_table(articles)
    full = wire_copy(STORY_A)
    fp = fingerprint(full)
    for _ in range(2):  # the page arrives; then the task is delivered again
        with engine.begin() as conn:
            index = SqlDuplicateIndex(conn, bands, cols)
            verdict = dedupe_existing(conn, index, stub_id, fp, check=check_duplicate, site="w.test")
            conn.execute(
                articles.update()
                .where(articles.c.id == stub_id)
                .values(text=full, content_hash=fp.content_hash, duplicate_of=verdict.original_id)
            )
        assert (verdict.kind, verdict.original_id) == ("near", a_id)
    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(bands).where(bands.c.article_id == stub_id)).scalar_one()
    assert rows == len(set(fp.band_keys))


def _waiting_on_advisory_lock(engine: Engine, pid: int) -> bool:
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE pid = :pid"),
            {"pid": pid},
        ).first()
    return row is not None and tuple(row) == ("Lock", "advisory")


def _run_pair(pg_engine: Engine, use_lock: bool) -> list[DuplicateVerdict]:
    """Two copies checked at the same moment on two connections.

    Without the lock the first waits (after its check, before its insert)
    until the second has checked too: the classic check-then-insert race.
    With the lock the first holds it until the test has seen the second
    blocked on the advisory lock, then inserts and commits.
    """
    metadata, articles, bands = schema()
    metadata.create_all(pg_engine)
    cols = ArticleColumns.from_table(articles)
    first_checked = threading.Event()
    second_checked = threading.Event()
    release_first = threading.Event()
    second_pid: list[int] = []
    results: dict[str, DuplicateVerdict] = {}
    errors: list[BaseException] = []

    def worker(name: str, url: str, body: str) -> None:
        try:
            fp = fingerprint(body)
            with pg_engine.begin() as conn:
                if name == "second":
                    second_pid.append(int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one()))
                    first_checked.wait(10)
                if use_lock:
                    lock_fingerprint(conn, fp)
                verdict = check_duplicate(fp, SqlDuplicateIndex(conn, bands, cols))
                if name == "first":
                    first_checked.set()
                    (release_first if use_lock else second_checked).wait(10)
                else:
                    second_checked.set()
                article_id = inserter(conn, articles, url, body, fp)(verdict)
                add_bands(conn, bands, [(article_id, fp)])
                results[name] = verdict
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    first = threading.Thread(target=worker, args=("first", "https://a.test/x", STORY_A))
    second = threading.Thread(target=worker, args=("second", "https://b.test/x", wire_copy(STORY_A)))
    first.start()
    second.start()
    if use_lock:
        assert first_checked.wait(10)
        for _ in range(500):
            if second_pid and _waiting_on_advisory_lock(pg_engine, second_pid[0]):
                break
            threading.Event().wait(0.01)
        else:
            release_first.set()
            pytest.fail("the second copy never waited on the advisory lock")
        release_first.set()
    first.join(20)
    second.join(20)
    assert not errors, errors
    return [results["first"], results["second"]]


def test_without_lock_the_race_is_real(pg_engine: Engine) -> None:
    first, second = _run_pair(pg_engine, use_lock=False)
    assert first.kind is None and second.kind is None  # both think they are the original


def test_advisory_lock_links_simultaneous_copies(pg_engine: Engine) -> None:
    first, second = _run_pair(pg_engine, use_lock=True)
    assert first.kind is None
    assert second.kind == "near" and second.original_id is not None


def test_many_workers_one_original(pg_engine: Engine) -> None:
    metadata, articles, bands = schema()
    metadata.create_all(pg_engine)
    bodies = [
        STORY_A,
        wire_copy(STORY_A),
        STORY_A.replace("\n", "\n\n"),
        "\n".join(STORY_A.split("\n")[:-1]),
        wire_copy(STORY_A).replace("AP", "Reuters"),
        STORY_A.upper(),
    ]
    start = threading.Barrier(len(bodies))
    out: dict[int, DuplicateVerdict] = {}
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            start.wait(10)
            article_id, verdict = ingest(pg_engine, articles, bands, f"https://s{n}.test/a", bodies[n])
            out[article_id] = verdict
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    originals = [i for i, v in out.items() if v.kind is None]
    assert len(originals) == 1
    assert originals[0] == min(out)  # first-seen (lowest id) is the original
    assert {v.original_id for i, v in out.items() if i != originals[0]} == {originals[0]}


def test_lookups_probe_the_index_even_when_planned_on_an_empty_table(pg_engine: Engine) -> None:
    """A generic plan PostgreSQL made while the deployment was new must still fetch the stored
    candidates by key: a whole scan of the articles, text included, on every later check was the
    alternative (psycopg prepares statements after a few runs; see storage.story_index)."""
    metadata, articles, bands = schema()
    metadata.create_all(pg_engine)

    with pg_engine.connect() as conn:
        index = SqlDuplicateIndex(conn, bands, ArticleColumns.from_table(articles))
        for query, types in [
            (index._load, {"ids": "bigint[]", "param_1": "int"}),
            (index._candidates, {"keys": "bigint[]", "limit": "int"}),
        ]:
            sql = str(query.compile(dialect=conn.dialect))
            assert whole_table_scans(conn, sql, types) == [], sql
