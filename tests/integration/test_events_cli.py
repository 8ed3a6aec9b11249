"""``newsworker run`` writes and relays events; ``events tail`` follows them (consumer group,
or the database outbox without Redis); ``stats`` shows the backlog. Real processes, real Redis."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.httpserver import LocalHTTPServer, Reply
from tests.support.processes import run_cli

FEEDS = Path(__file__).resolve().parents[1] / "data" / "feeds"


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as srv:
        srv.route("/rss2.xml", Reply(200, {"Content-Type": "application/xml"}, (FEEDS / "rss2.xml").read_bytes()))
        yield srv


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWORKER_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    env["NEWSWORKER_DATABASE_URL"] = f"sqlite:///{tmp_path / 'nw.db'}"
    env["NEWSWORKER_ALLOW_PRIVATE_NETWORKS"] = "true"
    env.update(extra)
    return env


def _lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_without_redis_tail_reads_the_outbox(tmp_path: Path, server: LocalHTTPServer) -> None:
    (tmp_path / "feeds.txt").write_text(server.url("/rss2.xml"))
    env = _env(tmp_path)
    run_cli("run", "--once", "--feeds", "feeds.txt", env=env, cwd=tmp_path)
    tail = run_cli("events", "tail", "--from", "0", "--no-follow", "--json", env=env, cwd=tmp_path)
    got = _lines(tail.stdout)
    assert "following the database outbox" in tail.stderr
    assert [e["type"] for e in got].count("article.created") == 2
    assert {e["type"] for e in got} <= {"article.created", "article.duplicate", "story.created", "story.updated"}
    only = run_cli(
        "events", "tail", "--from", str(got[0]["id"]), "--no-follow", "--json", "--type", "story.created",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert {e["type"] for e in _lines(only.stdout)} == {"story.created"}
    stats = json.loads(run_cli("stats", "--json", env=env, cwd=tmp_path).stdout)
    assert stats["events"]["unpublished"] == len(got) and stats["events"]["sinks"] == []


def test_run_relays_to_the_stream_and_tail_reads_it_through_a_consumer_group(
    tmp_path: Path, server: LocalHTTPServer, redis_url: str
) -> None:
    (tmp_path / "feeds.txt").write_text(server.url("/rss2.xml"))
    stream = f"test:cli:{uuid.uuid4().hex}"
    env = _env(tmp_path, NEWSWORKER_REDIS_URL=redis_url, NEWSWORKER_EVENTS_STREAM=stream)
    run_cli("run", "--once", "--feeds", "feeds.txt", env=env, cwd=tmp_path)
    stats = json.loads(run_cli("stats", "--json", env=env, cwd=tmp_path).stdout)
    assert stats["events"]["unpublished"] == 0 and stats["events"]["sinks"] == ["stream"]
    first = _lines(run_cli("events", "tail", "--from", "0", "--no-follow", "--json", "--limit", "2",
                           env=env, cwd=tmp_path).stdout)  # fmt: skip
    rest = _lines(run_cli("events", "tail", "--no-follow", "--json", env=env, cwd=tmp_path).stdout)
    assert len(first) == 2 and rest  # the group went on where the first tail stopped
    assert not {e["id"] for e in first} & {e["id"] for e in rest}
    everything = _lines(run_cli("events", "tail", "--group", "other", "--from", "0", "--no-follow", "--json",
                                env=env, cwd=tmp_path).stdout)  # fmt: skip
    assert [e["id"] for e in everything] == [e["id"] for e in first + rest]
    assert [e["type"] for e in everything].count("article.created") == 2
    again = run_cli("events", "tail", "--no-follow", env=env, cwd=tmp_path)
    assert again.stdout == ""


def test_a_gone_feed_and_its_reset_are_announced(tmp_path: Path) -> None:
    with LocalHTTPServer() as server:
        server.route("/gone.xml", Reply(410))
        (tmp_path / "feeds.txt").write_text(server.url("/gone.xml"))
        env = _env(tmp_path)
        run_cli("run", "--once", "--feeds", "feeds.txt", env=env, cwd=tmp_path, expect=1)  # the feed failed
    run_cli("feeds", "reset", "1", env=env, cwd=tmp_path)
    got = _lines(run_cli("events", "tail", "--from", "0", "--no-follow", "--json", env=env, cwd=tmp_path).stdout)
    assert [(e["type"], e["data"]) for e in got] == [  # type: ignore[index]
        ("feed.gone", {"feed_id": 1, "previous_status": "ok", "status": "gone", "reason": "http_410"}),
        ("feed.recovered", {"feed_id": 1, "previous_status": "gone", "status": "ok", "reason": "reset"}),
    ]
