"""Admin commands through the real click entry point (CliRunner), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select, update

from storage.db import Database
from storage.models import Article, ArticleUrl, Entry, Feed, FetchLog, ReingestItem, Story
from worker.cli import cli
from worker.dedupe.minhash import fingerprint

REPO = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC).replace(microsecond=0)  # set again before each test (see _now)


@pytest.fixture(autouse=True)
def _now() -> None:
    """The seeded rows' "now", taken when the test starts, not when the module was collected: a
    suite that runs past midnight UTC counted articles stored "now" as yesterday's ("today": 0).
    A test that would start in the last seconds of a UTC day waits for the next one."""
    global NOW
    now = datetime.now(UTC)
    left = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1) - now
    if left < timedelta(seconds=10):
        time.sleep(left.total_seconds() + 0.5)
    NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Seeded:
    feed_a: int
    feed_b: int
    gone_feed: int
    story: int
    original: int
    duplicate: int
    failed: int
    imported: int
    old: int


def _article(session: Any, url: str, title: str, text: str, **extra: Any) -> Article:
    article = Article(
        url=url,
        title=title,
        text=text,
        html="".join(f"<p>{p}</p>" for p in text.split("\n\n")),
        word_count=len(text.split()),
        content_hash=fingerprint(text).content_hash,
        created_at=extra.pop("created_at", NOW),
        modified_at=NOW,
        **extra,
    )
    session.add(article)
    session.flush()
    session.add(ArticleUrl(url=url, identity=url.split("://", 1)[1], article_id=article.id, first_seen_at=NOW))
    return article


def _entry(session: Any, feed_id: int | None, article: Article, html: str | None, source: str | None = None) -> None:
    session.add(
        Entry(
            source=source or f"feed:{feed_id}",
            feed_id=feed_id,
            entry_key=f"guid:{article.url}",
            url=article.url,
            title=article.title,
            content_html=html,
            published_at=article.published_at,
            state="ingested",
            article_id=article.id,
            first_seen_at=NOW - timedelta(hours=2),
            last_seen_at=NOW - timedelta(hours=1),
        )
    )


def seed(db: Database) -> Seeded:
    """Two feeds carrying one story (an original and its copy), a failed page fetch, an import, an old article."""
    with db.transaction() as s:
        feed_a = Feed(url="https://a.example/rss", title="Alpha", tags=["world"], next_poll_at=NOW)
        feed_b = Feed(
            url="https://b.example/rss",
            title="Beta",
            status="failing",
            consecutive_errors=7,
            first_error_at=NOW - timedelta(days=2),
            last_error="HTTP 503",
            next_poll_at=NOW + timedelta(hours=20),
        )
        gone = Feed(url="https://c.example/rss", title="Gone", status="gone", next_poll_at=NOW + timedelta(days=3650))
        s.add_all([feed_a, feed_b, gone])
        s.flush()
        story = Story(
            title="Flood in the valley",
            first_article_at=NOW - timedelta(hours=3),
            last_article_at=NOW - timedelta(hours=1),
            article_count=2,
            source_count=2,
        )
        s.add(story)
        s.flush()
        text = "The river rose overnight.\n\nTwo villages were evacuated."
        original = _article(
            s, "https://a.example/flood", "Flood", text, published_at=NOW - timedelta(hours=3), story_id=story.id
        )
        _entry(s, feed_a.id, original, "<p>The river rose overnight.</p><p>Two villages were evacuated.</p>")
        duplicate = _article(
            s,
            "https://b.example/flood-copy",
            "Flood (copy)",
            text,
            published_at=NOW - timedelta(hours=1),
            story_id=story.id,
        )
        s.flush()
        duplicate.duplicate_of = original.id
        _entry(s, feed_b.id, duplicate, "<p>The river rose overnight.</p><p>Two villages were evacuated.</p>")
        failed = _article(
            s,
            "https://a.example/paywalled",
            "Paywalled",
            "Only the teaser.",
            published_at=NOW - timedelta(hours=5),
            content_source="failed",
            fetch_error="HTTP 403",
        )
        _entry(s, feed_a.id, failed, "<p>Only the teaser.</p>")
        imported = _article(s, "https://wire.example/1", "Wire", "Imported text.", published_at=None)
        _entry(s, None, imported, None, source="import:wire.jsonl")
        old = _article(
            s,
            "https://a.example/old",
            "Old news",
            "Something happened long ago.",
            published_at=datetime(2020, 1, 5, tzinfo=UTC),
            created_at=NOW - timedelta(days=3),
        )
        _entry(s, feed_a.id, old, "<p>Something happened long ago.</p>")
        s.add_all(
            [
                FetchLog(
                    feed_id=feed_b.id,
                    url=feed_b.url,
                    started_at=NOW - timedelta(hours=1),
                    http_status=503,
                    outcome="http_error",
                    bytes=120,
                    duration_ms=40,
                    error="HTTP 503",
                ),
                FetchLog(
                    feed_id=feed_b.id,
                    url=feed_b.url,
                    started_at=NOW - timedelta(days=3),
                    http_status=200,
                    outcome="ok",
                    bytes=5120,
                    duration_ms=80,
                    new_entries=1,
                ),
            ]
        )
        s.add(
            Entry(
                source=f"feed:{feed_a.id}",
                feed_id=feed_a.id,
                entry_key="guid:pending",
                url="https://a.example/pending",
                state="pending",
                first_seen_at=NOW - timedelta(minutes=42),
                last_seen_at=NOW,
            )
        )
        s.flush()
        return Seeded(
            feed_a.id, feed_b.id, gone.id, story.id, original.id, duplicate.id, failed.id, imported.id, old.id
        )


@pytest.fixture
def env(database: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("NEWSWORKER_DATABASE_URL", database.url)
    return database


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="newsworker", catch_exceptions=False)


def json_out(result: Result) -> Any:
    assert result.exit_code == 0, result.output + result.stderr
    return json.loads(result.stdout)


def article_count(db: Database) -> int:
    with db.reader() as s:
        return int(s.scalar(select(func.count()).select_from(Article)) or 0)


# ---------------------------------------------------------------- looking at the system


def test_stats_counts_what_is_stored(env: Database) -> None:
    seeded = seed(env)
    data = json_out(run("stats", "--json"))
    assert data["feeds"] == {"total": 3, "ok": 1, "failing": 1, "gone": 1}
    assert data["articles"] == {"total": 5, "today": 4, "duplicates": 1, "failed": 1}
    assert data["stories"] == 1
    assert data["entries_pending"] == 1
    assert data["reingest"] == {"active_runs": 0, "pending_items": 0}
    assert data["queues"] is None  # embedded mode: no broker
    oldest = datetime.fromisoformat(data["oldest_pending_at"].replace("Z", "+00:00"))
    assert abs((NOW - oldest) - timedelta(minutes=42)) < timedelta(seconds=2)
    table = run("stats")
    assert table.exit_code == 0 and "embedded mode" in table.stdout
    assert seeded.story  # the seed made a story


def test_stats_reads_queue_depths_from_redis(env: Database, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import redis

    monkeypatch.setenv("NEWSWORKER_BROKER_URL", redis_url)
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.lpush("poll", "a", "b")
    client.lpush("reingest\x06\x169", "c")  # kombu's list for priority 9
    try:
        data = json_out(run("stats", "--json"))
    finally:
        client.flushdb()
        client.close()
    assert data["queues"] == {"poll": 2, "fetch": 0, "process": 0, "reingest": 1, "unacked": 0}
    monkeypatch.setenv("NEWSWORKER_BROKER_URL", "redis://127.0.0.1:1/0")
    down = run("stats", "--json")
    assert down.exit_code == 1 and "cannot read queue depths" in json.loads(down.stdout)["queues_error"]


def test_feeds_list_show_and_reset(env: Database) -> None:
    seeded = seed(env)
    failing = run("feeds", "list", "--failing", "--json")
    assert [json.loads(line)["id"] for line in failing.stdout.splitlines()] == [seeded.feed_b]
    detail = json_out(run("feeds", "show", str(seeded.feed_b), "--json"))
    assert detail["status"] == "failing" and detail["consecutive_errors"] == 7
    assert [(f["outcome"], f["http_status"], f["bytes"]) for f in detail["fetches"]] == [
        ("http_error", 503, 120),
        ("ok", 200, 5120),
    ]
    assert detail["entries"] == 1 and detail["articles"] == 1
    shown = run("feeds", "show", "https://b.example/rss")
    assert shown.exit_code == 0 and "recent fetches" in shown.stdout and "HTTP 503" in shown.stdout
    reset = run("feeds", "reset", str(seeded.feed_b))
    assert reset.exit_code == 0 and "was failing with 7 error(s)" in reset.stdout
    with env.reader() as s:
        feed = s.get(Feed, seeded.feed_b)
        assert feed is not None
        assert (feed.status, feed.consecutive_errors, feed.first_error_at, feed.last_error) == ("ok", 0, None, None)
        assert feed.next_poll_at <= datetime.now(UTC)
    missing = run("feeds", "show", "999")
    assert missing.exit_code == 2 and "no feed" in missing.stderr and "feeds list" in missing.stderr


def test_feeds_opml_import_and_export(env: Database, tmp_path: Path) -> None:
    seed(env)
    (tmp_path / "in.opml").write_text(
        """<?xml version="1.0"?>
<opml version="2.0"><head><title>mine</title></head><body>
  <outline text="Science">
    <outline text="Nature" xmlUrl="https://nature.example/rss"/>
    <outline text="Nature again" xmlUrl="https://NATURE.example/rss?utm_source=x"/>
  </outline>
  <outline text="Alpha" xmlUrl="https://a.example/rss"/>
  <outline text="Bad" xmlUrl="file:///etc/passwd"/>
</body></opml>"""
    )
    result = run("feeds", "import", str(tmp_path / "in.opml"), "--json")
    assert result.exit_code == 1  # one outline was unusable
    assert json.loads(result.stdout) == {"added": 1, "present": 1, "duplicates": 1, "invalid": 1}
    assert "Bad" in result.stderr
    with env.reader() as s:
        nature = s.scalar(select(Feed).where(Feed.url == "https://nature.example/rss"))
        assert nature is not None and nature.tags == ["Science"] and nature.title == "Nature"
    out = tmp_path / "out.opml"
    assert run("feeds", "export", "-o", str(out)).exit_code == 0
    from worker.poll.opml import parse_feed_list

    exported = parse_feed_list(out.read_bytes())
    assert {f.url for f in exported.feeds} == {
        "https://a.example/rss",
        "https://b.example/rss",
        "https://c.example/rss",
        "https://nature.example/rss",
    }
    assert {f.url: f.tags for f in exported.feeds}["https://nature.example/rss"] == ("Science",)
    again = run("feeds", "import", str(out), "--json")
    assert json.loads(again.stdout)["added"] == 0 and again.exit_code == 0


def test_articles_show_lists_sightings_duplicates_and_story(env: Database) -> None:
    seeded = seed(env)
    data = json_out(run("articles", "show", str(seeded.original), "--json"))
    assert data["story_id"] == seeded.story and data["story_title"] == "Flood in the valley"
    assert [d["id"] for d in data["duplicates"]] == [seeded.duplicate]
    assert [s["feed_url"] for s in data["sightings"]] == ["https://a.example/rss"]
    by_address = json_out(run("articles", "show", "http://A.example/flood?utm_source=feed", "--json"))
    assert by_address["id"] == seeded.original
    copy = json_out(run("articles", "show", str(seeded.duplicate), "--json"))
    assert copy["duplicate_of"]["id"] == seeded.original
    table = run("articles", "show", str(seeded.original))
    assert "sightings" in table.stdout and "duplicates of this article" in table.stdout
    assert run("articles", "show", "4242").exit_code == 2
    assert run("articles", "show", "https://nowhere.example/x").exit_code == 2


def test_stories_list_and_show(env: Database) -> None:
    seeded = seed(env)
    listed = run("stories", "list", "--json", "--min-articles", "2")
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [seeded.story]
    assert run("stories", "list", "--json", "--min-articles", "3").stdout == ""
    assert run("stories", "list", "--json", "--since", "2099-01-01").stdout == ""
    detail = json_out(run("stories", "show", str(seeded.story), "--json"))
    assert [a["id"] for a in detail["articles"]] == [seeded.original, seeded.duplicate]  # time order
    assert detail["articles"][0]["sources"] == ["https://a.example/rss"]
    assert detail["articles"][1]["duplicate_of"] == seeded.original
    assert run("stories", "show", "777").exit_code == 2


def test_export_filters(env: Database) -> None:
    seeded = seed(env)

    def ids(*args: str) -> list[int]:
        result = run("export", *args)
        assert result.exit_code == 0, result.stderr
        return [json.loads(line)["id"] for line in result.stdout.splitlines()]

    assert len(ids()) == 5
    assert ids("--feed", str(seeded.feed_a)) == [seeded.original, seeded.failed, seeded.old]
    assert ids("--feed", "https://b.example/rss") == [seeded.duplicate]
    assert ids("--story", str(seeded.story)) == [seeded.original, seeded.duplicate]
    # --since uses the publication time, and the storing time for undated articles
    assert ids("--since", "2021-01-01") == [seeded.original, seeded.duplicate, seeded.failed, seeded.imported]
    assert ids("--until", "2021-01-01") == [seeded.old]
    assert ids("--since", "4h", "--feed", str(seeded.feed_a)) == [seeded.original]
    assert run("export", "--feed", "https://nowhere.example/rss").exit_code == 2
    unwritable = run("export", "-o", "/nonexistent-dir/out.jsonl")
    assert unwritable.exit_code == 2 and "cannot write" in unwritable.stderr
    assert run("export", "--story", "999").exit_code == 2


def test_export_and_show_carry_what_was_extracted(env: Database) -> None:
    seeded = seed(env)
    with env.transaction() as s:
        row = s.get(Article, seeded.original)
        assert row is not None
        row.authors, row.dateline, row.agency = ["Ana Ruiz"], "Valencia", "EFE"
        row.image_url, row.page_kind = "https://a.example/flood.jpg", "article"
    lines = [json.loads(line) for line in run("export", "--story", str(seeded.story)).stdout.splitlines()]
    first = lines[0]
    assert {k: first[k] for k in ("authors", "dateline", "agency", "image_url", "page_kind", "word_count")} == {
        "authors": ["Ana Ruiz"],
        "dateline": "Valencia",
        "agency": "EFE",
        "image_url": "https://a.example/flood.jpg",
        "page_kind": "article",
        "word_count": 8,
    }
    assert first["canonical_url"] == first["url"] == "https://a.example/flood"
    assert "html" not in first
    with_html = json.loads(run("export", "--story", str(seeded.story), "--with-html").stdout.splitlines()[0])
    assert with_html["html"] == "<p>The river rose overnight.</p><p>Two villages were evacuated.</p>"
    shown = json_out(run("articles", "show", str(seeded.original), "--json"))
    assert (shown["dateline"], shown["agency"], shown["image_url"], shown["page_kind"]) == (
        "Valencia",
        "EFE",
        "https://a.example/flood.jpg",
        "article",
    )
    assert shown["authors"] == ["Ana Ruiz"] and shown["canonical_url"] == shown["url"] and "html" not in shown
    assert "<p>The river" in json_out(run("articles", "show", str(seeded.original), "--json", "--with-html"))["html"]
    table = run("articles", "show", str(seeded.original)).stdout
    assert "Valencia (EFE)" in table and "page kind" in table


# ---------------------------------------------------------------- re-ingest in-process


def _snapshot(db: Database) -> dict[str, Any]:
    with db.reader() as s:
        return {
            "articles": sorted(s.execute(select(Article.id, Article.url, Article.story_id)).all()),
            "urls": sorted(s.execute(select(ArticleUrl.url, ArticleUrl.article_id)).all()),
            "entries": sorted(s.execute(select(Entry.id, Entry.feed_id, Entry.article_id)).all()),
        }


def test_reingest_in_process_updates_rows_in_place(env: Database) -> None:
    seeded = seed(env)
    before = _snapshot(env)
    with env.transaction() as s:  # the feed now carries a corrected text for the original article
        s.execute(
            update(Entry)
            .where(Entry.article_id == seeded.original)
            .values(content_html="<p>The river rose overnight.</p><p>Three villages were evacuated.</p>")
        )
        old_hash = s.scalar(select(Article.content_hash).where(Article.id == seeded.original))
    dry = json_out(run("reingest", "--all", "--dry-run", "--json"))
    assert dry["count"] == 5 and [a["id"] for a in dry["sample"]][:2] == [seeded.original, seeded.duplicate]
    with env.reader() as s:
        assert s.scalar(select(Article.content_hash).where(Article.id == seeded.original)) == old_hash

    summary = json_out(run("reingest", "--all", "--json"))
    assert summary["status"] == "done" and summary["percent"] == 100.0
    assert summary["total"] == 5 and summary["done"] == 5 and summary["failed"] == 0
    assert summary["changed"] == 1
    after = _snapshot(env)
    # Same rows, ids, addresses and sightings; story links kept where they existed, and articles
    # seeded without a story were linked by the re-run of story linking.
    assert {k: v for k, v in after.items() if k != "articles"} == {k: v for k, v in before.items() if k != "articles"}
    assert [(i, u) for i, u, _ in after["articles"]] == [(i, u) for i, u, _ in before["articles"]]
    for (_, _, old_story), (_, _, new_story) in zip(before["articles"], after["articles"], strict=True):
        assert new_story is not None and (old_story is None or new_story == old_story)
    with env.reader() as s:
        article = s.get(Article, seeded.original)
        assert article is not None
        assert "Three villages" in article.text
        assert article.previous_hash == old_hash and article.previous_changed_at is not None
        assert article.content_hash == fingerprint(article.text).content_hash
        assert article.processed_at is not None  # dedupe and story linking ran again
        untouched = s.get(Article, seeded.imported)
        assert untouched is not None and untouched.previous_hash is None

    again = json_out(run("reingest", "--all", "--json"))
    assert again["changed"] == 0 and again["unchanged"] + again["updated"] == 5
    status = json_out(run("reingest", "status", str(summary["run_id"]), "--json"))
    assert status["done"] == 5 and status["finished"] is True
    listed = run("reingest", "status", "--json")
    assert [json.loads(line)["run_id"] for line in listed.stdout.splitlines()] == [again["run_id"], summary["run_id"]]
    assert article_count(env) == 5


def test_reingest_selectors(env: Database) -> None:
    seeded = seed(env)

    def selected(*args: str) -> int:
        return int(json_out(run("reingest", *args, "--dry-run", "--json"))["count"])

    assert selected("--failed") == 1
    assert selected("--feed", str(seeded.feed_a)) == 3
    assert selected("--feed", "https://b.example/rss") == 1
    assert selected("--story", str(seeded.story)) == 2
    assert selected("--article", str(seeded.old), "--article", str(seeded.imported)) == 2
    assert selected("--since", "2021-01-01", "--until", "2h") == 2  # original (3h ago) and failed (5h ago)
    assert selected("--feed", str(seeded.feed_a), "--failed") == 1
    done = json_out(run("reingest", "--failed", "--json"))
    assert done["total"] == 1 and done["done"] == 1
    with env.reader() as s:
        items = s.execute(select(ReingestItem.article_id, ReingestItem.state)).all()
    assert items == [(seeded.failed, "done")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "say what to re-ingest"),
        (("--all", "--failed"), "leave it out"),
        (("--feed", "https://nowhere.example/rss"), "no feed"),
        (("--article", "999"), "no article with id 999"),
        (("--story", "999"), "no story with id 999"),
        (("--all", "--no-wait"), "--no-wait needs a broker"),
        (("--since", "2024-01-02", "--until", "2024-01-01"), "--since must be before --until"),
        (("--since", "last tuesday"), "is not a date: use 2024-05-01"),
        (("--until", "2024-13-45"), "is not a date"),
    ],
)
def test_reingest_usage_errors_say_what_to_do(env: Database, args: tuple[str, ...], message: str) -> None:
    seed(env)
    result = run("reingest", *args)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    with env.reader() as s:  # nothing was started
        assert s.scalar(select(func.count()).select_from(ReingestItem)) == 0


def test_reingest_failure_is_reported_with_exit_1(env: Database) -> None:
    seeded = seed(env)
    with env.transaction() as s:  # nothing left to rebuild the text from
        s.execute(update(Entry).where(Entry.article_id == seeded.old).values(content_html="<p> </p>"))
    result = run("reingest", "--article", str(seeded.old), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["failed"] == 1
    failures = run("reingest", "status", str(json.loads(result.stdout)["run_id"]), "--failures", "--json")
    assert "text is empty" in json.loads(failures.stdout)["failures"][0]["error"]
    with env.reader() as s:  # the stored version was kept
        article = s.get(Article, seeded.old)
        assert article is not None and article.text == "Something happened long ago."


def test_reingest_ctrl_c_while_enqueuing_stops_cleanly(
    env: Database, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(env)
    monkeypatch.setenv("NEWSWORKER_BROKER_URL", redis_url)
    import tasks.reingest

    sent: list[list[int]] = []

    def send(run_id: int, ids: list[int]) -> None:
        if len(sent) == 2:
            raise KeyboardInterrupt
        sent.append(ids)

    monkeypatch.setattr(tasks.reingest, "enqueue_batch", send)
    result = run("reingest", "--all", "--batch-size", "2")
    assert result.exit_code == 130
    assert "4 article(s) were enqueued" in result.stderr and "1 were not enqueued" in result.stderr
    assert "reingest status 1" in result.stderr
    with env.reader() as s:
        states = dict(s.execute(select(ReingestItem.article_id, ReingestItem.state)).all())
    assert sorted(states.values()) == ["cancelled", "pending", "pending", "pending", "pending"]
    assert {i for batch in sent for i in batch} == {a for a, st in states.items() if st == "pending"}

    # resume enqueues only what was never sent; the four already queued are not sent twice
    resent: list[list[int]] = []
    monkeypatch.setattr(tasks.reingest, "enqueue_batch", lambda run_id, ids: resent.append(ids))
    resumed = run("reingest", "resume", "1", "--no-wait", "--json")
    assert resumed.exit_code == 0, resumed.stderr
    assert resent == [[a for a, st in states.items() if st == "cancelled"]]
    assert json.loads(resumed.stdout)["total"] == 1


def test_reingest_resume_force_takes_a_run_whose_enqueuer_died(
    env: Database, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SIGKILL leaves no interrupt handler to run: the run stays "enqueuing" with no items
    cancelled. ``resume --force`` hands out what the counter says was never sent."""
    seed(env)
    monkeypatch.setenv("NEWSWORKER_BROKER_URL", redis_url)
    import tasks.reingest

    sent: list[list[int]] = []

    def send(run_id: int, ids: list[int]) -> None:
        if len(sent) == 2:
            raise SystemExit(137)  # the process is gone: no cleanup, no status change
        sent.append(ids)

    monkeypatch.setattr(tasks.reingest, "enqueue_batch", send)
    assert run("reingest", "--all", "--batch-size", "2", "--no-wait").exit_code == 137
    with env.reader() as s:
        states = dict(s.execute(select(ReingestItem.article_id, ReingestItem.state)).all())
    assert sorted(states.values()) == ["pending"] * 5

    plain = run("reingest", "resume", "1")
    assert plain.exit_code == 2 and "is enqueuing" in plain.stderr and "--force" in plain.stderr

    resent: list[list[int]] = []
    monkeypatch.setattr(tasks.reingest, "enqueue_batch", lambda run_id, ids: resent.append(ids))
    resumed = run("reingest", "resume", "1", "--force", "--no-wait", "--json")
    assert resumed.exit_code == 0, resumed.stderr
    already = {i for batch in sent for i in batch}
    assert len(already) == 4
    assert resent == [sorted(set(states) - already)]  # the one never sent, and only it


def test_reingest_ctrl_c_in_process_keeps_what_was_done(env: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(env)
    import worker.service.reingest as ops

    real = ops.reingest_article
    calls = 0

    def flaky(rt: Any, article_id: int) -> ops.ReingestResult:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt
        return real(rt, article_id)

    monkeypatch.setattr(ops, "reingest_article", flaky)
    result = run("reingest", "--all", "--json")
    assert result.exit_code == 130
    assert "2 article(s) re-ingested (kept), 3 not started" in result.stderr
    data = json.loads(result.stdout)
    assert (data["status"], data["done"], data["cancelled"], data["pending"]) == ("interrupted", 2, 3, 0)
    assert "newsworker reingest resume 1" in result.stderr

    resumed = run("reingest", "resume", "1", "--json")
    assert resumed.exit_code == 0, resumed.stderr
    data = json.loads(resumed.stdout)
    assert (data["status"], data["done"], data["cancelled"], data["pending"]) == ("done", 5, 0, 0)
    assert calls == 3 + 3  # the two done before the interrupt were not redone
    again = run("reingest", "resume", "1")
    assert again.exit_code == 2 and "not interrupted" in again.stderr
    assert run("reingest", "resume", "99").exit_code == 2
    assert article_count(env) == 5


# ---------------------------------------------------------------- the command as a whole


def _all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.extend(_all_commands(command, (*prefix, name)))
        else:
            found.append((*prefix, name))
    return found


def test_every_command_has_help() -> None:
    commands = _all_commands(cli)
    assert ("reingest", "status") in commands and ("feeds", "show") in commands and ("stats",) in commands
    for path in commands:
        result = run(*path, "--help")
        assert result.exit_code == 0, path
        assert "Usage: newsworker" in result.stdout


def test_entry_point_runs_reingest_and_stats(tmp_path: Path) -> None:
    """`python -m worker` end to end on the embedded default (SQLite file in the working directory)."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWORKER_")}
    env["PYTHONPATH"] = str(REPO)

    def cli_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "worker", *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )

    (tmp_path / "in.jsonl").write_text(
        "\n".join(
            json.dumps({"url": f"https://x.example/{i}", "title": f"T{i}", "text": f"Text {i}."}) for i in range(3)
        )
    )
    assert cli_run("import", "in.jsonl").returncode == 0
    result = cli_run("reingest", "--all")
    assert result.returncode == 0, result.stderr
    assert "run 1 done: 3 of 3 article(s) re-ingested" in result.stdout
    stats = json.loads(cli_run("stats", "--json").stdout)
    assert stats["articles"]["total"] == 3


def test_reingest_dry_run_names_the_feeds_to_repoll(env: Database) -> None:
    seeded = seed(env)

    def feeds(*args: str) -> list[int]:
        return list(json_out(run("reingest", *args, "--refetch-feeds", "--dry-run", "--json"))["refetch_feeds"])

    assert feeds("--all") == [seeded.feed_a, seeded.feed_b]  # not the gone feed
    assert feeds("--story", str(seeded.story)) == [seeded.feed_a, seeded.feed_b]
    assert feeds("--failed") == [seeded.feed_a]
    assert feeds("--feed", str(seeded.feed_b)) == [seeded.feed_b]
