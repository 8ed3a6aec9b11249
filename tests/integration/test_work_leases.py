"""Work in flight lives in the database: leased while it runs, sent again once when lost.

Each test drives the real service layer and the real tables on SQLite and PostgreSQL; a worker's
death is what it leaves behind in the database (a lease nobody renews), a lost message is a row
whose message never arrives.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, event, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from storage import work as store
from storage.db import Database
from storage.models import Article, Entry, WorkItem
from storage.upsert import insert_ignore
from worker.model.clock import utcnow
from worker.normalise.fallback import PageOutcome
from worker.service import handlers, work
from worker.service import stories as story_links
from worker.service.imports import ImportItem, normalise_item
from worker.service.messages import IngestEntry, LocalDispatcher, ProcessArticle
from worker.service.owners import embedded_owner
from worker.service.runtime import Runtime
from worker.service.staged import Fetching
from worker.settings import load_settings

TEXT = (
    "The city council of Springfield voted on Tuesday to rebuild the old river bridge after engineers "
    "found cracks in two of its supports, the mayor said in a statement after the meeting."
)


@pytest.fixture
def runtime(database: Database) -> Iterator[Runtime]:
    rt = Runtime.build(load_settings(database_url=database.url), LocalDispatcher())
    rt.db = database
    yield rt
    rt.fetcher.close()


def _import(rt: Runtime, n: int = 1) -> list[int]:
    ids = []
    for i in range(n):
        item = ImportItem(f"https://news.example/{i}", f"Bridge {i}", f"{TEXT} Item {i}.", None, None, None)
        ids.append(handlers.import_item(rt, item, default_source="test").article_id)
    return ids


def _rows(rt: Runtime) -> list[WorkItem]:
    with rt.db.reader() as session:
        return list(session.scalars(select(WorkItem).order_by(WorkItem.id)))


def _dispatcher(rt: Runtime) -> LocalDispatcher:
    assert isinstance(rt.dispatcher, LocalDispatcher)
    return rt.dispatcher


def _expire_leases(rt: Runtime) -> None:
    with rt.db.transaction() as session:
        session.execute(update(WorkItem).values(lease_until=utcnow() - timedelta(seconds=1)))


def _start_as(rt: Runtime, message: ProcessArticle, owner: str) -> bool:
    return work.begin(rt, message, owner)  # ProcessArticle is tracked: begin is the claim


def test_work_is_recorded_with_its_change_and_gone_when_done(runtime: Runtime) -> None:
    [article_id] = _import(runtime)
    [row] = _rows(runtime)
    assert (row.kind, row.key, row.args, row.state) == (ProcessArticle.NAME, str(article_id), [article_id], "queued")
    assert _dispatcher(runtime).drain(runtime) == 1
    assert _rows(runtime) == []
    with runtime.db.reader() as session:
        assert session.get(Article, article_id).processed_at is not None  # type: ignore[union-attr]


def test_a_dead_workers_item_is_sent_again_once(runtime: Runtime) -> None:
    [article_id] = _import(runtime)
    message = _dispatcher(runtime).pending.popleft()  # a worker took it...
    assert _start_as(runtime, message, "worker-that-dies")  # ...started it, and was killed
    assert work.sweep(runtime).resent == 0  # its lease still runs: nobody else may take it
    _expire_leases(runtime)
    assert work.sweep(runtime).resent == 1
    assert work.sweep(runtime).resent == 0  # claimed: sent once, not at every tick
    assert list(_dispatcher(runtime).pending) == [ProcessArticle(article_id)]
    _dispatcher(runtime).drain(runtime)
    assert _rows(runtime) == []


def test_a_lost_message_is_sent_again_only_when_its_queue_is_idle(runtime: Runtime) -> None:
    [first, second] = _import(runtime, 2)
    dispatcher = _dispatcher(runtime)
    dispatcher.pending.popleft()  # the first message is lost (e.g. with a broker that died)
    with runtime.db.transaction() as session:
        session.execute(update(WorkItem).values(queued_at=utcnow() - timedelta(minutes=5)))
    assert work.sweep(runtime).resent == 0  # the second still waits in the queue: nothing is lost yet
    dispatcher.drain(runtime)
    assert [r.key for r in _rows(runtime)] == [str(first)]
    with runtime.db.transaction() as session:
        session.execute(update(WorkItem).values(queued_at=utcnow() - timedelta(minutes=5)))
    assert work.sweep(runtime).resent == 1
    assert list(dispatcher.pending) == [ProcessArticle(first)]
    dispatcher.drain(runtime)
    assert _rows(runtime) == [] and second != first


def test_an_item_that_kills_its_worker_is_given_up_with_the_reason(runtime: Runtime) -> None:
    [article_id] = _import(runtime)
    message = _dispatcher(runtime).pending.popleft()
    for crash in range(work.MAX_CRASHES):
        assert _start_as(runtime, message, f"worker-{crash}")
        _expire_leases(runtime)
        work.sweep(runtime)
    assert not _start_as(runtime, message, "worker-last")
    [row] = _rows(runtime)
    assert row.state == "failed" and row.last_error is not None and "died 3 times" in row.last_error
    with runtime.db.reader() as session:
        assert [f.key for f in store.failures(session, kind=ProcessArticle.NAME)] == [str(article_id)]
    _dispatcher(runtime).pending.clear()
    assert work.sweep(runtime).resent == 0  # a failed item is never resent by itself


def test_an_item_that_runs_past_the_time_limit_every_time_is_given_up_with_the_reason(runtime: Runtime) -> None:
    """What a task does on its soft time limit (tasks/pipeline.py): keep the lease for its retry,
    counted as a crash; the third gives the item up, recorded with why."""
    [article_id] = _import(runtime)
    message = _dispatcher(runtime).pending.popleft()
    for attempt in range(work.MAX_CRASHES):
        # a retry keeps its task id: the retried run takes over the lease kept for it
        assert _start_as(runtime, message, "task-1")
        work.keep_lease(runtime, message, "task-1", timedelta(seconds=1), crashed=True)
        [row] = _rows(runtime)
        assert (row.state == "failed") == (attempt == work.MAX_CRASHES - 1), (attempt, row.last_error)
    [row] = _rows(runtime)
    assert row.state == "failed" and row.last_error == f"gave up: it ran past the time limit {work.MAX_CRASHES} times"
    with runtime.db.reader() as session:
        assert [f.key for f in store.failures(session, kind=ProcessArticle.NAME)] == [str(article_id)]
    assert not _start_as(runtime, message, "worker-last")


def test_a_data_error_is_recorded_and_not_retried(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    [article_id] = _import(runtime)

    def bad_data(rt: Runtime, article_id: int) -> None:
        raise ValueError("value too long for type character varying(200)")

    monkeypatch.setattr(handlers, "process_article", bad_data)
    assert _dispatcher(runtime).drain(runtime) == 1  # no exception escapes: the worker lives on
    [row] = _rows(runtime)
    assert row.state == "failed" and "value too long" in (row.last_error or "")
    assert row.key == str(article_id)


def test_a_transient_error_keeps_the_lease_for_the_retry(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    [article_id] = _import(runtime)
    message = _dispatcher(runtime).pending.popleft()
    # the linking itself fails: the embedded mode takes this item's lease in the linking
    # transaction, which the failure rolls back with the claim
    real = story_links.link_story
    calls = []

    def database_away(session: Session, article_id: int, **kwargs: Any) -> story_links.StoryLink:
        calls.append(article_id)
        if len(calls) == 1:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        return real(session, article_id, **kwargs)

    monkeypatch.setattr(story_links, "link_story", database_away)
    with pytest.raises(OperationalError):
        work.run(runtime, message, owner="task-1")
    [row] = _rows(runtime)
    assert row.state == "queued" and row.lease_owner == "task-1" and row.lease_until > utcnow()  # type: ignore[operator]
    assert row.attempts == 1  # the start counts, though its claim was rolled back with the linking
    assert work.run(runtime, message, owner="task-2") == work.Skipped("held")  # a duplicate waits
    work.run(runtime, message, owner="task-1")  # Celery's retry of the same task id
    assert _rows(runtime) == [] and calls == [article_id, article_id]


def test_a_transient_errors_lease_covers_the_retry_countdown_not_the_longest_back_off(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A task retried in 4 s kept its item for the longest back-off (30 min + one lease): when the
    # retry never came (its worker killed during the countdown, or the retry refused by a broker
    # that had just died), the item waited half an hour. Now it waits the countdown plus a lease.
    [article_id] = _import(runtime)
    message = _dispatcher(runtime).pending.popleft()

    def database_away(rt: Runtime, article_id: int) -> object:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(handlers, "process_article", database_away)
    before = utcnow()
    with pytest.raises(OperationalError):
        work.run(runtime, message, owner="task-1", retry_in=4)
    [row] = _rows(runtime)
    lease = work.lease_length(runtime)
    assert row.lease_until is not None
    assert before + lease + timedelta(seconds=4) <= row.lease_until <= utcnow() + lease + timedelta(seconds=5)
    assert work.sweep(runtime).resent == 0  # the retry is still due: nobody else sends it
    with runtime.db.transaction() as session:  # the countdown and the lease passed, no retry came
        session.execute(update(WorkItem).values(lease_until=row.lease_until - lease - timedelta(seconds=5)))
    assert work.sweep(runtime).resent == 1
    assert list(_dispatcher(runtime).pending) == [ProcessArticle(article_id)]


def test_a_retry_the_broker_refused_is_due_for_the_next_sweep(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The short Redis-kill run: a task whose host limiter lost Redis was retried, the retry's
    # publish was refused (Celery: "reject requeue=False"), and the item waited out the lease kept
    # for that retry. Now the task says so and the sweeper's next tick sends the item, no crash.
    [article_id] = _import(runtime)
    message = _dispatcher(runtime).pending.popleft()

    def redis_away(rt: Runtime, article_id: int) -> object:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(handlers, "process_article", redis_away)
    with pytest.raises(OperationalError):
        work.run(runtime, message, owner="task-1", retry_in=30)
    assert work.sweep(runtime).resent == 0  # leased for the retry
    work.retry_lost(runtime, message, "task-2")  # another owner's word changes nothing
    assert work.sweep(runtime).resent == 0
    work.retry_lost(runtime, message, "task-1")
    assert work.sweep(runtime).resent == 1
    assert list(_dispatcher(runtime).pending) == [ProcessArticle(article_id)]
    [row] = _rows(runtime)
    assert row.crashes == 0


def test_ctrl_c_in_the_embedded_drain_frees_the_item_for_the_next_run(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `newsworker import` interrupted with Ctrl-C, then run again to the end: one process_article
    # item stayed leased by the interrupted process (so the second import's start-up sweep sent
    # it and its claim found it "held"), and `stats` showed it running after a finished import.
    [article_id] = _import(runtime)
    real = handlers.process_article

    def interrupted(rt: Runtime, article_id: int) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(handlers, "process_article", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _dispatcher(runtime).drain(runtime)
    [row] = _rows(runtime)
    assert row.lease_owner is None and row.lease_until is None  # free, no crash counted
    monkeypatch.setattr(handlers, "process_article", real)
    assert handlers.resume_embedded(runtime) == 1  # the next run takes it up...
    _dispatcher(runtime).drain(runtime)
    assert _rows(runtime) == []  # ...and finishes it
    with runtime.db.reader() as session:
        article = session.get(Article, article_id)
        assert article is not None and article.story_id is not None


def test_a_running_item_is_leased_briefly_and_kept_by_its_heartbeat(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A whole worker SIGKILLed left its items leased for the hard time limit + 15 s (90 s with the
    # defaults) before the sweeper could send them again. A Celery task leases its item for a
    # live lease only and renews it while it runs: a dead worker's item is free within one live
    # lease, a live one's never.
    _import(runtime)
    message = _dispatcher(runtime).pending.popleft()
    monkeypatch.setattr(work, "live_lease", lambda rt: timedelta(seconds=2))  # a beat every 0.67 s
    seen: list[tuple[float, int]] = []
    real = handlers.process_article
    started = utcnow()

    def slow(rt: Runtime, article_id: int) -> object:
        for _ in range(6):  # 3 s: one and a half live leases
            [row] = _rows(rt)
            assert row.lease_until is not None and row.lease_owner == "task-1"
            left = (row.lease_until - utcnow()).total_seconds()
            seen.append((left, work.sweep(rt).resent))
            threading.Event().wait(0.5)
        return real(rt, article_id)

    monkeypatch.setattr(handlers, "process_article", slow)
    work.run(runtime, message, owner="task-1", heartbeat=True)
    assert _rows(runtime) == []  # done
    assert all(0 < left <= 2.1 for left, _ in seen), seen  # live and renewed: never the full 25 s+
    assert (utcnow() - started).total_seconds() > 2.5  # it ran past its first live lease
    assert all(resent == 0 for _, resent in seen)  # never taken for dead while it ran
    assert _dispatcher(runtime).pending == deque()


def test_a_heartbeat_never_shortens_a_lease_kept_for_a_retry(runtime: Runtime) -> None:
    _import(runtime)
    message = _dispatcher(runtime).pending.popleft()
    assert work.begin(runtime, message, "task-1", live=True)
    now = utcnow()
    work.keep_lease(runtime, message, "task-1", timedelta(seconds=60))
    with runtime.db.transaction() as session:
        store.renew(session, message.NAME, message.key(), "task-1", now + timedelta(seconds=5), now)
        store.renew(session, message.NAME, message.key(), "someone-else", now + timedelta(hours=5), now)
    [row] = _rows(runtime)
    assert row.lease_until is not None and row.lease_owner == "task-1"
    assert now + timedelta(seconds=60) < row.lease_until < now + timedelta(hours=1)


def test_concurrent_sweepers_send_each_lost_item_once(database: Database) -> None:
    if database.url.startswith("sqlite"):
        pytest.skip("SQLite has one writer: sweepers cannot overlap there")
    rts = [Runtime.build(load_settings(database_url=database.url), LocalDispatcher()) for _ in range(4)]
    try:
        ids = _import(rts[0], 60)
        _dispatcher(rts[0]).pending.clear()
        with rts[0].db.transaction() as session:
            session.execute(update(WorkItem).values(queued_at=utcnow() - timedelta(minutes=5)))
        barrier = threading.Barrier(len(rts))
        counts: list[int] = []

        def sweep(rt: Runtime) -> None:
            barrier.wait()
            counts.append(work.sweep(rt).resent)

        threads = [threading.Thread(target=sweep, args=(rt,)) for rt in rts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sent = [m.args()[0] for rt in rts for m in _dispatcher(rt).pending]
        assert sorted(sent) == sorted(ids) and sum(counts) == len(ids)
    finally:
        for rt in rts:
            rt.close()


def test_a_failed_item_is_visible_to_admins(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """stats, `articles show` and `reingest --failed` all name it, with the reason."""
    from storage import queries

    [article_id] = _import(runtime)

    def bad_data(rt: Runtime, article_id: int) -> None:
        raise ValueError("value too long for type character varying(200)")

    monkeypatch.setattr(handlers, "process_article", bad_data)
    _dispatcher(runtime).drain(runtime)
    with runtime.db.reader() as session:
        numbers = queries.stats(session, utcnow())
        detail = queries.article_detail(session, article_id)
        failed_ids = [i for page in queries.iter_article_ids(session, queries.ArticleFilter(failed=True)) for i in page]
    assert numbers.work["process_article"]["failed"] == 1
    assert [(f.item, "value too long" in f.error) for f in numbers.work_failures] == [(str(article_id), True)]
    assert [f.kind for f in detail.failures] == [ProcessArticle.NAME]
    assert failed_ids == [article_id]


def test_the_start_up_sweep_skips_items_a_worker_is_finishing(database: Database) -> None:
    # The 1,000-page fault run's writers: 8 `newsworker import` processes started while Celery
    # workers had a backlog, and all 8 crashed in their start-up sweep (StaleDataError: the
    # workers deleted finished items between its select and its update).
    if not database.url.startswith("postgresql"):
        pytest.skip("row locks: PostgreSQL")
    rt = Runtime.build(load_settings(database_url=database.url), LocalDispatcher())
    rt.db = database
    try:
        first, second = _import(rt, 2)
        _dispatcher(rt).pending.clear()
        with database.transaction() as worker:  # a worker finishing the first item holds its row
            worker.execute(select(WorkItem).where(WorkItem.key == str(first)).with_for_update()).all()
            resumed: list[int] = []
            sweeper = threading.Thread(target=lambda: resumed.append(handlers.resume_embedded(rt)), daemon=True)
            sweeper.start()
            sweeper.join(timeout=20)  # without SKIP LOCKED it waits for the worker's lock
            assert resumed == [1]
            worker.execute(delete(WorkItem).where(WorkItem.key == str(first)))
        assert list(_dispatcher(rt).pending) == [ProcessArticle(second)]
    finally:
        rt.fetcher.close()


@contextmanager
def _commits(rt: Runtime) -> Iterator[list[object]]:
    """The transactions committed in the block."""
    commits: list[object] = []

    def committed(conn: object) -> None:
        commits.append(conn)

    event.listen(rt.db.engine, "commit", committed)
    try:
        yield commits
    finally:
        event.remove(rt.db.engine, "commit", committed)


def _entry(rt: Runtime, url: str | None = "https://news.example/entry") -> int:
    """A feed entry waiting for its ingest, with its work item recorded as the poll records it."""
    with rt.db.transaction() as session:
        entry = Entry(source="import:test", entry_key=url or "no-link", url=url, title="Bridge")
        session.add(entry)
        session.flush()
        work.send_after_commit(rt, session, [IngestEntry(entry.id)], now=utcnow())
    return entry.id


def test_the_embedded_mode_claims_links_and_ends_an_item_in_one_transaction(runtime: Runtime) -> None:
    # The lease's own begin and done transactions were ~4 commits per article in the embedded mode,
    # beside the handlers' own; ProcessArticle now takes and ends its lease in the linking one.
    [article_id] = _import(runtime)
    with _commits(runtime) as commits:
        assert _dispatcher(runtime).drain(runtime) == 1
    assert len(commits) == 1
    assert _rows(runtime) == []
    with runtime.db.reader() as session:
        article = session.get(Article, article_id)
        assert article is not None and article.story_id is not None and article.processed_at is not None


def test_an_item_a_live_worker_holds_is_not_run_by_a_claim_in_the_handler(runtime: Runtime) -> None:
    [article_id] = _import(runtime)
    message = _dispatcher(runtime).pending.popleft()
    assert _start_as(runtime, message, "worker-alive")
    assert work.run(runtime, message, owner="pool-1") == work.Skipped("held")
    [row] = _rows(runtime)
    assert row.lease_owner == "worker-alive" and row.attempts == 1
    with runtime.db.reader() as session:
        article = session.get(Article, article_id)
        assert article is not None and article.processed_at is None and article.story_id is None


def test_an_ingest_holds_its_lease_from_its_first_transaction_until_its_store(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The claim rides on the ingest's first transaction, committed before the page is fetched: a
    # worker killed during the fetch leaves a lease that runs out, and the item is sent again with
    # the crash counted, as with a claim of its own.
    entry_id = _entry(runtime)
    _dispatcher(runtime).pending.clear()
    message = IngestEntry(entry_id)
    lease = work.lease(runtime, message, "pool-dies")
    assert lease.pending  # the handler takes it
    step = work.attempt(runtime, message, "pool-dies", lambda: message.start(runtime), lease=lease)
    assert isinstance(step, Fetching)
    [row] = _rows(runtime)
    assert (row.lease_owner, row.attempts) == ("pool-dies", 1) and row.lease_until is not None
    assert work.sweep(runtime).resent == 0  # leased: nobody else takes it
    _expire_leases(runtime)  # the process died during the fetch
    assert work.sweep(runtime).resent == 1
    [row] = _rows(runtime)
    assert row.crashes == 1

    # the next worker finishes it; the page's article is stored and the item ends with that store
    page = PageOutcome(normalise_item(ImportItem("https://news.example/entry", "Bridge", TEXT, None, None, None)), None)
    monkeypatch.setattr(handlers, "fetch_page", lambda rt, **kwargs: page)
    _dispatcher(runtime).pending.clear()
    _dispatcher(runtime).send(message)
    with _commits(runtime) as commits:
        _dispatcher(runtime).drain(runtime)
    assert [r.kind for r in _rows(runtime)] == []  # the ingest's item and the follow-up's are done
    with runtime.db.reader() as session:
        entry = session.get(Entry, entry_id)
        assert entry is not None and entry.state == "ingested" and entry.article_id is not None
    assert len(commits) == 3  # start (with the claim), store (with the end), linking (both)


def test_an_entry_without_a_link_fails_and_ends_its_item_in_one_transaction(runtime: Runtime) -> None:
    entry_id = _entry(runtime, url=None)
    assert work.run(runtime, IngestEntry(entry_id), owner="pool-1") is None
    assert _rows(runtime) == []
    with runtime.db.reader() as session:
        entry = session.get(Entry, entry_id)
        assert entry is not None and entry.state == "failed" and "no usable link" in (entry.last_error or "")


def test_recording_work_counts_what_it_inserted_and_touches_only_what_was_there(runtime: Runtime) -> None:
    # On PostgreSQL the insert's rowcount said 0 for every batch, so every newly recorded item
    # was updated again in the same transaction (one more statement per message).
    now = utcnow()
    fresh = [("k", f"item-{i}", [i]) for i in range(3)]
    with runtime.db.transaction() as session:
        assert (
            insert_ignore(session, WorkItem.__table__, [store.queued_row(*f, now) for f in fresh], ["kind", "key"]) == 3
        )
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(runtime.db.engine, "before_cursor_execute", seen)
    try:
        with runtime.db.transaction() as session:
            store.record(session, [("k", "item-9", [9])], now + timedelta(seconds=1))  # new: inserted only
        assert not [s for s in statements if s.lstrip().upper().startswith("UPDATE")]
        with runtime.db.transaction() as session:
            store.record(session, [fresh[0], ("k", "item-8", [8])], now + timedelta(seconds=2))
        assert len([s for s in statements if s.lstrip().upper().startswith("UPDATE")]) == 1  # the one already there
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", seen)
    assert {r.key: r.queued_at > now for r in _rows(runtime)} == {
        "item-0": True,
        "item-1": False,
        "item-2": False,
        "item-8": True,
        "item-9": True,
    }


def _owner_of_a_stopped_process() -> str:
    """The lease owner a real embedded process of this host used before it exited."""
    out = subprocess.run(
        [sys.executable, "-c", "from worker.service.owners import embedded_owner; print(embedded_owner('pool'))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return out.stdout.strip()


def test_an_embedded_start_frees_what_a_stopped_run_left_leased_and_nothing_a_live_worker_holds(
    runtime: Runtime,
) -> None:
    # The Ctrl-C test once finished with 14 pages never fetched: the interrupted run's leases
    # were still held (full lease: the hard time limit and a margin), and the next run skipped them.
    stopped, alive, worker = _import(runtime, 3)
    _dispatcher(runtime).pending.clear()
    gone = _owner_of_a_stopped_process()
    assert _start_as(runtime, ProcessArticle(stopped), gone)
    assert _start_as(runtime, ProcessArticle(alive), embedded_owner("pool"))  # this process: alive
    assert _start_as(runtime, ProcessArticle(worker), "3f1c2a9e-celery-task-id")  # a Celery worker's
    assert handlers.resume_embedded(runtime) == 3
    owners = {int(row.key): row.lease_owner for row in _rows(runtime)}
    assert owners == {stopped: None, alive: owners[alive], worker: "3f1c2a9e-celery-task-id"}
    assert owners[alive] is not None and owners[alive].startswith("pool:")
    _dispatcher(runtime).drain(runtime)  # the freed item runs now; the held ones are skipped
    assert {int(row.key) for row in _rows(runtime)} == {alive, worker}
