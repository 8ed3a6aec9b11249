"""Metrics in one process and across forked pool processes, and the task signal hooks that feed them."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from worker import logging as nwlog
from worker import metrics


@pytest.fixture
def fresh_metrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.delenv(metrics.MULTIPROC_ENV, raising=False)
    directory = tmp_path / "metrics"
    metrics.setup(directory)
    yield directory
    metrics.teardown()


def values(name: str) -> dict[tuple[tuple[str, str], ...], float]:
    out: dict[tuple[tuple[str, str], ...], float] = {}
    for family in metrics.registry().collect():
        for sample in family.samples:
            if sample.name == name:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def test_observations_are_no_ops_without_setup() -> None:
    assert not metrics.enabled()
    metrics.observe_poll("ok", 0.1)
    metrics.observe_task("newsworker.poll_feed", "success", 0.1)
    with pytest.raises(RuntimeError):
        metrics.registry()


def test_counts_of_forked_processes_are_summed(fresh_metrics: Path) -> None:
    metrics.observe_poll("ok", 0.2)
    metrics.observe_article(created=True)
    pids = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:  # a pool child: writes its own file
            try:
                metrics.observe_poll("ok", 0.3)
                metrics.observe_poll("http_error", 1.5)
                metrics.observe_article(created=True)
                metrics.observe_article(created=False)
                metrics.observe_throttled("feeds.example.com", "concurrency")
            finally:
                os._exit(0)
        pids.append(pid)
    for pid in pids:
        assert os.waitpid(pid, 0)[1] == 0
    assert values("newsworker_polls_total") == {(("outcome", "ok"),): 3, (("outcome", "http_error"),): 2}
    assert values("newsworker_fetch_duration_seconds_count") == {(("kind", "feed"),): 5}
    assert values("newsworker_articles_ingested_total") == {(): 3}
    assert values("newsworker_articles_existing_total") == {(): 2}
    assert values("newsworker_host_throttled_total") == {(("host", "feeds.example.com"), ("reason", "concurrency")): 2}
    assert len(list(fresh_metrics.glob("counter_*.db"))) == 3  # parent and two children


def test_setup_empties_its_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(metrics.MULTIPROC_ENV, raising=False)
    directory = tmp_path / "m"
    metrics.setup(directory)
    metrics.observe_duplicate()
    assert values("newsworker_articles_duplicate_total") == {(): 1}
    metrics.teardown()
    assert list(directory.glob("*.db"))
    metrics.setup(directory)
    try:
        # The count of the previous run is gone (the new file holds fresh zeros).
        assert values("newsworker_articles_duplicate_total") == {(): 0}
    finally:
        metrics.teardown()
    assert metrics.MULTIPROC_ENV not in os.environ


def _task(name: str) -> Any:
    return SimpleNamespace(name=name)


def test_task_signal_hooks_log_one_event_and_count(fresh_metrics: Path) -> None:
    from tasks import signals

    stream = io.StringIO()
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    nwlog.configure_logging("INFO", "json", stream)
    try:
        poll = _task("newsworker.poll_feed")
        record = SimpleNamespace(outcome="ok", new_entry_ids=(4, 5))
        signals._task_prerun(task_id="t1", task=poll, args=[7], kwargs={})
        signals._task_postrun(task_id="t1", task=poll, args=[7], kwargs={}, retval=record, state="SUCCESS")
        ingest = _task("newsworker.ingest_entry")
        signals._task_prerun(task_id="t2", task=ingest, args=[9], kwargs={})
        signals._task_retry(sender=ingest, reason="database went away")
        signals._task_postrun(task_id="t2", task=ingest, args=[9], kwargs={}, retval=None, state="RETRY")
        signals._task_prerun(task_id="t3", task=ingest, args=[], kwargs={"entry_id": 10})
        signals._task_failure(sender=ingest, task_id="t3", exception=KeyError("gone"))
        signals._task_postrun(task_id="t3", task=ingest, args=[], kwargs={"entry_id": 10}, retval=None, state="FAILURE")
        signals._task_prerun(task_id="t4", task=ingest, args=[11], kwargs={})
        signals._task_postrun(task_id="t4", task=ingest, args=[11], kwargs={}, retval=None, state=None)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    finished = [e for e in events if e["event"] == "task finished"]
    assert [(e["task_name"], e["outcome"], e.get("feed_id"), e.get("entry_id")) for e in finished] == [
        ("newsworker.poll_feed", "success", 7, None),
        ("newsworker.ingest_entry", "retry", None, 9),
        ("newsworker.ingest_entry", "failure", None, 10),
        ("newsworker.ingest_entry", "interrupted", None, 11),
    ]
    assert finished[0]["task_id"] == "t1" and finished[0]["poll_outcome"] == "ok" and finished[0]["new_entries"] == 2
    assert all(e["duration_ms"] >= 0 for e in finished)
    assert finished[2]["error"] == "KeyError: 'gone'" and finished[2]["level"] == "error"
    retry = next(e for e in events if e["event"] == "task retry scheduled")
    assert retry["task_id"] == "t2" and retry["entry_id"] == 9 and retry["reason"] == "database went away"
    assert nwlog.bound() == {}
    assert values("newsworker_tasks_total") == {
        (("state", "success"), ("task", "newsworker.poll_feed")): 1,
        (("state", "retry"), ("task", "newsworker.ingest_entry")): 1,
        (("state", "failure"), ("task", "newsworker.ingest_entry")): 1,
        (("state", "interrupted"), ("task", "newsworker.ingest_entry")): 1,
    }
    assert values("newsworker_task_retries_total") == {(("task", "newsworker.ingest_entry"),): 1}
    assert values("newsworker_task_failures_total") == {
        (("exception", "KeyError"), ("task", "newsworker.ingest_entry")): 1
    }


def test_the_event_backlog_is_read_at_scrape_time(fresh_metrics: Path) -> None:
    backlog = [(3, 42.5)]

    def read() -> tuple[int, float]:
        return backlog[-1]

    def scrape() -> dict[str, float]:
        return {
            s.name: s.value
            for family in metrics.registry(event_backlog=read).collect()
            for s in family.samples
            if s.name.startswith("newsworker_events_")
        }

    assert scrape() == {
        "newsworker_events_unpublished": 3,
        "newsworker_events_oldest_unpublished_age_seconds": 42.5,
    }
    backlog.append((0, 0.0))
    assert scrape()["newsworker_events_unpublished"] == 0

    def broken() -> tuple[int, float]:
        raise OSError("database away")

    families = list(metrics.registry(event_backlog=broken).collect())  # the scrape still answers
    assert not any(f.name.startswith("newsworker_events_") for f in families)
