"""Log formats: one JSON object a line with the task fields, or a short text line for terminals."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from worker import health
from worker import logging as nwlog


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    nwlog.clear()


def _lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_json_lines_carry_bound_task_fields_and_extras(restore_root: None) -> None:
    stream = io.StringIO()
    nwlog.configure_logging("INFO", "json", stream)
    log = logging.getLogger("newsworker.test")
    nwlog.bind(task_name="newsworker.poll_feed", task_id="abc", feed_id=7, article_id=None)
    log.info("task finished", extra={"duration_ms": 12.5, "outcome": "success", "note": "multi\nline"})
    nwlog.clear()
    log.info("after the task")
    first, second = (json.loads(line) for line in _lines(stream))
    assert first["event"] == "task finished" and first["level"] == "info" and first["logger"] == "newsworker.test"
    assert first["task_name"] == "newsworker.poll_feed" and first["task_id"] == "abc" and first["feed_id"] == 7
    assert first["duration_ms"] == 12.5 and first["outcome"] == "success" and first["note"] == "multi\nline"
    assert "article_id" not in first  # None values are not bound
    assert first["ts"].endswith("Z")
    assert "task_id" not in second and second["event"] == "after the task"
    # Fields come in a fixed order after the envelope, so lines are easy to scan.
    keys = list(first)
    assert keys[:4] == ["ts", "level", "logger", "event"]
    assert keys.index("task_name") < keys.index("task_id") < keys.index("feed_id") < keys.index("duration_ms")


def test_json_keeps_one_line_per_event_for_exceptions_and_odd_values(restore_root: None) -> None:
    stream = io.StringIO()
    nwlog.configure_logging("INFO", "json", stream)
    log = logging.getLogger("newsworker.test")
    try:
        raise ValueError("bad\nfeed")
    except ValueError:
        log.exception("poll failed", extra={"path": Path("/x"), "raw": b"\xff"})
    (line,) = _lines(stream)
    event = json.loads(line)
    assert event["exc_type"] == "ValueError" and "bad\\nfeed" in json.dumps(event["exc"])
    assert event["path"] == "/x" and event["level"] == "error"


def test_bound_fields_block_restores_the_previous_fields(restore_root: None) -> None:
    nwlog.bind(task_id="outer")
    with nwlog.bound_fields(feed_id=3):
        assert nwlog.bound() == {"task_id": "outer", "feed_id": 3}
    assert nwlog.bound() == {"task_id": "outer"}


def test_text_format_for_terminals_and_auto_choice(restore_root: None) -> None:
    terminal = _Terminal()
    nwlog.configure_logging("DEBUG", "auto", terminal)
    nwlog.bind(task_name="newsworker.ingest_entry", entry_id=5)
    logging.getLogger("newsworker.test").debug("stored", extra={"article_id": 9})
    (line,) = _lines(terminal)
    assert "DEBUG" in line and "newsworker.test: stored" in line
    assert line.endswith("task_name=newsworker.ingest_entry entry_id=5 article_id=9")
    assert nwlog.resolve_format("auto", io.StringIO()) == "json"
    assert nwlog.resolve_format("auto", _Terminal()) == "console"
    assert nwlog.resolve_format("text", io.StringIO()) == "console"
    assert nwlog.resolve_format("console", io.StringIO()) == "console"


def test_level_comes_from_the_setting_and_celery_chatter_is_quiet(restore_root: None) -> None:
    stream = io.StringIO()
    nwlog.configure_logging("warning", "json", stream)
    logging.getLogger("newsworker.test").info("hidden")
    logging.getLogger("newsworker.test").warning("shown")
    assert [json.loads(line)["event"] for line in _lines(stream)] == ["shown"]
    stream = io.StringIO()
    nwlog.configure_logging("INFO", "json", stream)
    logging.getLogger("celery.app.trace").info("Task x succeeded in 0.1s")
    logging.getLogger("celery.app.trace").error("Task x raised")
    assert [json.loads(line)["event"] for line in _lines(stream)] == ["Task x raised"]


def test_beat_heartbeat_health(tmp_path: Path) -> None:
    schedule = tmp_path / "celerybeat-schedule"
    healthy, message = health.check_beat(schedule, max_age=120)
    assert not healthy and "no heartbeat" in message
    health.touch(health.heartbeat_path(schedule))
    assert health.check_beat(schedule, max_age=120)[0]
    assert health.main(["beat", "--schedule", str(schedule), "--max-age", "120"]) == 0
    import os

    old = health.heartbeat_path(schedule).stat().st_mtime - 600
    os.utime(health.heartbeat_path(schedule), (old, old))
    assert health.main(["beat", "--schedule", str(schedule), "--max-age", "120"]) == 1
    assert health.beat_max_age(30) == 120 and health.beat_max_age(60) == 240
