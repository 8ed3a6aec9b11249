"""Bad input and interruptions lose nothing: ``import`` keeps every line it can, re-ingest runs are
always left resumable, and a run whose process is gone can be continued or cancelled."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from storage import reingest_runs
from storage.db import Database
from storage.models import Article, ReingestItem, ReingestRun, Story
from storage.story_index import SqlStoryIndex
from worker.cli import cli
from worker.service import reingest as ops
from worker.service.messages import LocalDispatcher
from worker.service.runtime import Runtime
from worker.settings import load_settings

BODY = "The council voted to rebuild the river bridge after engineers found cracks in two of its supports. "


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="newsworker", catch_exceptions=False)


@pytest.fixture
def env(database: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("NEWSWORKER_DATABASE_URL", database.url)
    return database


def _line(n: int, **fields: object) -> bytes:
    data = {"url": f"https://news.example/{n}", "title": f"Bridge {n}", "text": f"{BODY * 3} Article {n}.", **fields}
    return json.dumps(data).encode() + b"\n"


def _articles(db: Database) -> dict[str, datetime | None]:
    with db.reader() as session:
        return dict(session.execute(select(Article.url, Article.published_at)).all())


def test_import_keeps_every_line_it_can_and_says_why_it_skipped_the_rest(
    env: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWORKER_IMPORT_MAX_LINE_BYTES", "4000")
    latin1 = json.dumps(
        {"url": "https://news.example/latin", "title": "Café", "text": f"{BODY * 3} crème"}, ensure_ascii=False
    )
    lines = [
        _line(1, published_at="2024-03-05T10:00:00Z"),
        _line(2, published_at="Tue, 05 Mar 2024 10:00:00 GMT"),  # RFC 822
        _line(3, published_at=1709632800),  # epoch seconds
        _line(4, published_at="25/03/2024"),  # unambiguous day first
        _line(5, published_at="05/03/2024"),  # ambiguous alone: read day-first as line 4 shows the file writes
        _line(6, published_at="sometime last week"),  # unreadable: kept undated
        _line(7, published_at="2999-01-01"),  # far in the future: refused
        _line(8, text="x" * 5000),  # over the size limit: refused, never held whole
        latin1.encode("latin-1") + b"\n",  # not UTF-8: decoded by detection
        b"{not json\n",
        _line(9, published_at="March 5, 2024"),
    ]
    path = tmp_path / "articles.jsonl"
    path.write_bytes(b"".join(lines))
    result = run("import", str(path))
    assert result.exit_code == 1, result.output  # some lines were skipped
    assert "imported 8 new article(s), 0 already stored, 3 line(s) skipped" in result.stdout
    assert "2 warning(s)" in result.stdout
    assert "numeric dates are read day first: 1 line(s) of articles.jsonl" in result.stderr
    assert f"{path}:7: skipped: published_at 2999-01-01 is in the future" in result.stderr
    assert f"{path}:8: skipped: line is" in result.stderr and "over the limit of 4,000" in result.stderr
    assert f"{path}:10: skipped: not valid JSON" in result.stderr
    assert f"{path}:9: warning: not UTF-8" in result.stderr
    stored = _articles(env)
    day = datetime(2024, 3, 5, 10, tzinfo=UTC)
    assert stored["https://news.example/1"] == day
    assert stored["https://news.example/2"] == day
    assert stored["https://news.example/3"] == datetime.fromtimestamp(1709632800, tz=UTC)
    assert stored["https://news.example/4"] == datetime(2024, 3, 25, tzinfo=UTC)
    assert stored["https://news.example/5"] == datetime(2024, 3, 5, tzinfo=UTC)
    assert stored["https://news.example/6"] is None
    assert stored["https://news.example/9"] == datetime(2024, 3, 5, tzinfo=UTC)
    assert "https://news.example/7" not in stored and "https://news.example/8" not in stored
    with env.reader() as session:
        assert session.scalar(select(Article.title).where(Article.url == "https://news.example/latin")) == "Café"

    again = run("import", "--date-order", "mdy", str(path))
    assert "imported 0 new article(s), 8 already stored" in again.stdout  # a second run is safe


def test_a_cut_emoji_and_a_page_without_text_are_stored_and_said(env: Database, tmp_path: Path) -> None:
    """JSON may escape half a UTF-16 pair (a cut emoji); no database can store it. A whole page
    whose text nothing can reach (nested past what the parser reads) is still stored, flagged."""
    deep = "<html><body>" + "<div>" * 5000 + "words" + "</div>" * 5000 + "</body></html>"
    path = tmp_path / "odd.jsonl"
    path.write_text(
        '{"url": "https://news.example/emoji", "title": "Cut \\ud83d", "text": "'
        + BODY
        + ' ok \\ud83d"}\n'
        + json.dumps({"url": "https://news.example/deep", "title": "Deep page", "html": deep})
        + "\n"
    )
    result = run("import", str(path))
    assert result.exit_code == 0, result.output
    assert "imported 2 new article(s)" in result.stdout
    assert f"{path}:1: warning: title, text: lone UTF-16 surrogates" in result.stderr
    assert f"{path}:2: warning: no text could be extracted (page kind: empty)" in result.stderr
    with env.reader() as session:
        rows = dict(session.execute(select(Article.url, Article.title)).all())
        kind = session.scalar(select(Article.page_kind).where(Article.url == "https://news.example/deep"))
    assert rows["https://news.example/emoji"] == "Cut \ufffd"
    assert rows["https://news.example/deep"] == "Deep page" and kind == "empty"


def test_an_outlets_name_its_titles_share_is_taken_off_them(env: Database, tmp_path: Path) -> None:
    """Titles taken from pages keep the outlet's name ("... - Chicago Tribune"); the outlet's
    other titles in the file show it is the name, as a feed's titles do."""
    heads = ["Man shot in Austin", "Council approves budget", "Teen wounded in Roseland"]
    lines = [{"title": f"{h} - Chicago Tribune", "text": f"{BODY} {h}.", "source": "Tribune"} for h in heads]
    lines.append({"title": "Flood warning - National Weather Service", "text": f"{BODY} Flood.", "source": "NWS"})
    path = tmp_path / "titles.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = run("import", str(path))
    assert result.exit_code == 0, result.output
    with env.reader() as session:
        titles = set(session.scalars(select(Article.title)))
    # one title of an outlet teaches nothing: its dash part stays
    assert titles == {*heads, "Flood warning - National Weather Service"}


def test_lines_without_an_address_are_imported_under_one_made_from_their_outlet_and_content(
    env: Database, tmp_path: Path
) -> None:
    """A corpus keeps text, title, date and outlet, not always the address: each line gets a
    stable one whose host is its outlet (its site for story linking), and a second run is safe."""
    lines = [
        {
            "title": "Man shot on Main Street",
            "text": f"{BODY * 3} First report.",
            "date": "2015-03-07",
            "source": "WXYZ Detroit",
        },
        {"title": "Victim named", "text": f"{BODY * 3} Follow-up.", "date": "2015-03-09", "source": "Free Press"},
        {"title": "Victim named", "text": f"{BODY * 3} Follow-up.", "date": "2015-03-09", "source": "WXYZ Detroit"},
        {"title": "No outlet given", "text": f"{BODY * 3} Wire copy.", "published_at": "2015-03-10T08:00:00Z"},
    ]
    path = tmp_path / "stream.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    first = run("import", "--source", "Archive", str(path))
    assert first.exit_code == 0, first.output
    assert "imported 4 new article(s), 0 already stored, 0 line(s) skipped" in first.stdout
    stored = _articles(env)
    hosts = sorted(url.split("/")[2] for url in stored)
    assert hosts == ["archive.invalid", "free-press.invalid", "wxyz-detroit.invalid", "wxyz-detroit.invalid"]
    assert datetime(2015, 3, 9, tzinfo=UTC) in stored.values()
    again = run("import", "--source", "Archive", str(path))
    assert "imported 0 new article(s), 4 already stored" in again.stdout
    assert _articles(env) == stored


def _import_dated(path: Path, field: str, *days: str) -> tuple[Path, Result]:
    """Import one line per date (``field``: the line's date key); the command succeeded."""
    path.write_bytes(b"".join(_line(n, **{field: day}) for n, day in enumerate(days, 1)))
    result = run("import", str(path))
    assert result.exit_code == 0, result.output
    return path, result


def test_a_file_that_writes_dates_both_ways_leaves_the_ambiguous_ones_undated(env: Database, tmp_path: Path) -> None:
    path, result = _import_dated(tmp_path / "mixed.jsonl", "published_at", "25/03/2024", "03/26/2024", "05/03/2024")
    assert "numeric dates are read" not in result.stderr
    assert f"{path}:3: warning:" in result.stderr and "--date-order" in result.stderr
    stored = _articles(env)
    assert stored["https://news.example/1"] == datetime(2024, 3, 25, tzinfo=UTC)
    assert stored["https://news.example/2"] == datetime(2024, 3, 26, tzinfo=UTC)
    assert stored["https://news.example/3"] is None


def test_a_us_archive_is_read_month_first_without_being_told(env: Database, tmp_path: Path) -> None:
    path, result = _import_dated(tmp_path / "us.jsonl", "date", "03/04/2015 09:30", "03/14/2015", "12/01/2015")
    assert "read month first: 1 line(s) of us.jsonl" in result.stderr
    stored = _articles(env)
    assert stored["https://news.example/1"] == datetime(2015, 3, 4, 9, 30, tzinfo=UTC)
    assert stored["https://news.example/3"] == datetime(2015, 12, 1, tzinfo=UTC)
    told = run("import", "--date-order", "dmy", str(path))  # an explicit order is never overridden
    assert "numeric dates are read" not in told.stderr


def test_date_order_reads_numeric_dates(env: Database, tmp_path: Path) -> None:
    path = tmp_path / "us.jsonl"
    path.write_bytes(_line(1, published_at="05/03/2024"))
    assert run("import", "--date-order", "mdy", str(path)).exit_code == 0
    assert _articles(env)["https://news.example/1"] == datetime(2024, 5, 3, tzinfo=UTC)


def _runtime(db: Database) -> Runtime:
    rt = Runtime.build(load_settings(database_url=db.url), LocalDispatcher())
    rt.db = db
    return rt


def _start_run(env: Database, tmp_path: Path) -> int:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"".join(_line(n) for n in range(4)))
    assert run("import", str(path)).exit_code == 0
    rt = _runtime(env)
    plan = ops.plan_run(rt, ops.queries.ArticleFilter(), select_all=True, mode="inline", refetch_feeds=False)
    rt.fetcher.close()
    return plan.run_id


def _status(db: Database, run_id: int) -> str:
    with db.reader() as session:
        return str(session.scalar(select(ReingestRun.status).where(ReingestRun.id == run_id)))


def test_a_run_whose_process_died_is_resumed_with_force_or_cancelled(env: Database, tmp_path: Path) -> None:
    run_id = _start_run(env, tmp_path)
    assert _status(env, run_id) == "running"  # as a killed `reingest` process leaves it
    refused = run("reingest", "resume", str(run_id))
    assert refused.exit_code == 2 and "--force" in refused.stderr and "reingest cancel" in refused.stderr
    cancelled = run("reingest", "cancel", str(run_id))
    assert cancelled.exit_code == 0 and "4 pending article(s)" in cancelled.stdout
    assert _status(env, run_id) == "cancelled"
    resumed = run("reingest", "resume", str(run_id), "--json")
    assert resumed.exit_code in (0, 1), resumed.stderr  # offline pages fail; the run still finishes
    with env.reader() as session:
        pending = session.scalar(
            select(func.count()).select_from(ReingestItem).where(ReingestItem.state.in_(("pending", "cancelled")))
        )
    assert pending == 0 and _status(env, run_id) == "done"


def test_resume_force_continues_a_running_run_left_by_a_dead_process(env: Database, tmp_path: Path) -> None:
    run_id = _start_run(env, tmp_path)
    result = run("reingest", "resume", str(run_id), "--force", "--json")
    assert result.exit_code in (0, 1), result.stderr
    assert _status(env, run_id) == "done"


def test_an_interrupt_waits_out_a_busy_database_and_leaves_the_run_interrupted(env: Database, tmp_path: Path) -> None:
    if not env.url.startswith("sqlite"):
        pytest.skip("the lock that made Ctrl-C crash is SQLite's")
    run_id = _start_run(env, tmp_path)
    holder = sqlite3.connect(env.url.removeprefix("sqlite:///"), timeout=0, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the database, as at a Ctrl-C mid-write
    released = threading.Event()

    def release_later() -> None:
        time.sleep(1.0)
        holder.rollback()
        released.set()

    threading.Thread(target=release_later).start()
    rt = _runtime(env)
    rt.db.engine.dispose()
    from sqlalchemy import event

    @event.listens_for(rt.db.engine, "connect")
    def _no_wait(dbapi_connection: sqlite3.Connection, _: object) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout = 50")  # fail fast, as an unlucky Ctrl-C did

    report = ops._interrupt(rt, run_id, after=0, handed_over=0)
    released.wait(5)
    holder.close()
    assert report.cancelled == 4
    assert _status(env, run_id) == "interrupted"
    with env.reader() as session:
        assert reingest_runs.progress(session, run_id).total == 4


def test_reingest_of_imported_articles_that_cannot_reach_their_pages_agrees_with_stats(
    env: Database, tmp_path: Path
) -> None:
    """The run and `stats` tell the same story: the imported text stays, nothing awaits a page."""
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"".join(_line(n) for n in range(3)))  # news.example is not reachable from here
    assert run("import", str(path)).exit_code == 0
    summary = json.loads(run("reingest", "--all", "--json").stdout)
    assert (summary["unchanged"], summary["failed"]) == (3, 0)
    stats = json.loads(run("stats", "--json").stdout)
    assert stats["articles"]["failed"] == 0


def test_run_takes_up_what_a_killed_run_left(env: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `run` killed after recording a feed's entries (before ingesting them) loses nothing: the
    next `run` ingests them, though the feed is not due again for a while."""
    from storage import repo
    from storage.models import Entry
    from tests.support.httpserver import LocalHTTPServer, Reply
    from worker.service import handlers

    monkeypatch.setenv("NEWSWORKER_ALLOW_PRIVATE_NETWORKS", "true")
    items = "".join(
        f"<item><guid>g{n}</guid><title>Bridge {n}</title><link>http://127.0.0.1:1/a{n}</link>"
        f"<description>{BODY * 3} Number {n}.</description></item>"
        for n in range(3)
    )
    feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>'
    with LocalHTTPServer() as server:
        server.route("/feed.xml", Reply(200, {"Content-Type": "application/rss+xml"}, feed.encode()))
        rt = Runtime.build(load_settings(database_url=env.url, allow_private_networks=True), LocalDispatcher())
        with rt.db.transaction() as session:
            added, _ = repo.add_feed(session, server.url("/feed.xml"))
        handlers.poll_feed(rt, added.id)  # entries recorded, their ingest messages sent...
        rt.close()  # ...and the process is killed before it runs them
        result = run("run", "--once")
    assert result.exit_code == 0, result.output
    with env.reader() as session:
        states = session.scalars(select(Entry.state)).all()
        processed = session.scalars(select(Article.processed_at)).all()
    assert sorted(states) == ["ingested"] * 3
    assert len(processed) == 3 and all(p is not None for p in processed)


def test_a_wire_dateline_taken_out_of_the_text_still_tells_linking_the_city(env: Database, tmp_path: Path) -> None:
    """Normalisation moves "BALTIMORE (AP) —" out of the text into ``dateline``; story linking
    reads it back, so two look-alike shootings on one night in two cities stay two stories."""
    first = (
        "BALTIMORE (AP) — A 23-year-old man was shot and killed late Saturday night outside a corner "
        "store, police said. Officers responded to reports of gunfire and found the man with several "
        "gunshot wounds. He was pronounced dead at a hospital. No arrests have been made."
    )
    second = (
        "MEMPHIS (AP) — Police said a 23-year-old man died after he was shot late Saturday night near a "
        "corner store. Officers found him with gunshot wounds after reports of gunfire; he was pronounced "
        "dead at a hospital. Police have made no arrests and asked witnesses to call."
    )
    lines = [
        {"title": "Man killed in overnight shooting", "text": first, "date": "2016-03-06T09:00:00Z", "source": "One"},
        {"title": "Man dies after overnight shooting", "text": second, "date": "2016-03-06T10:00:00Z", "source": "Two"},
    ]
    path = tmp_path / "wire.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = run("import", str(path))
    assert result.exit_code == 0, result.output
    with env.reader() as session:
        rows = session.execute(select(Article.dateline, Article.text, Article.story_id, Article.duplicate_of)).all()
    assert {r.dateline for r in rows} == {"Baltimore", "Memphis"}
    assert not any(r.text.startswith(("BALTIMORE", "MEMPHIS")) for r in rows)  # the text keeps no dateline
    assert all(r.story_id is not None and r.duplicate_of is None for r in rows)
    assert rows[0].story_id != rows[1].story_id  # two cities: two incidents


def test_a_local_outlets_report_that_names_no_city_is_read_in_its_home_city(env: Database, tmp_path: Path) -> None:
    """An outlet whose reports mostly name one city ("Milwaukee police said") is taken to report
    from that city when a report names none: the arrest on "West Burleigh Street" joins the first
    report of the shooting there that Saturday, though the two share few words."""
    station = "WSN Milwaukee"
    earlier = [
        (
            "Man wounded on North Avenue",
            "A 31-year-old man was wounded Tuesday on North Avenue, Milwaukee police said.",
        ),
        ("Fire on Capitol Drive", "Milwaukee firefighters put out a fire at a duplex on Capitol Drive on Wednesday."),
        ("Crash closes Hwy 41", "A crash closed part of Highway 41 on Thursday morning, Milwaukee police said."),
    ]
    first = (
        "A 19-year-old man was shot and killed late Saturday night in the 2400 block of West Burleigh "
        "Street, Milwaukee police said. Officers found him on the sidewalk with gunshot wounds."
    )
    arrest = (
        "Detectives arrested a suspect Thursday in connection with the deadly Saturday "
        "shooting on West Burleigh Street. Prosecutors are expected to review charges next week."
    )
    lines = [
        {"title": title, "text": text, "date": f"2016-03-0{day}T09:00:00Z", "source": station}
        for day, (title, text) in zip((1, 2, 3), earlier, strict=True)
    ]
    lines.append(
        {"title": "Teen killed in Burleigh shooting", "text": first, "date": "2016-03-06T09:00:00Z", "source": station}
    )
    lines.append({"title": "Arrest made", "text": arrest, "date": "2016-03-10T15:00:00Z", "source": station})
    path = tmp_path / "station.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = run("import", str(path))
    assert result.exit_code == 0, result.output
    with env.reader() as session:
        rows = dict(session.execute(select(Article.title, Article.story_id)).tuples().all())
    assert rows["Arrest made"] is not None
    assert rows["Arrest made"] == rows["Teen killed in Burleigh shooting"]


def test_one_sign_in_prompt_under_many_headlines_is_many_articles(env: Database, tmp_path: Path) -> None:
    """A site network shows one sign-in prompt on every paywalled page: the pages are different
    stories (none a duplicate of another), while a second page under one of their headlines is
    that story's copy."""
    prompt = (
        "Sign in to continue reading. Already a subscriber? Log in to your account to read this story. "
        "Get unlimited digital access for 99 cents for the first month. Cancel anytime."
    )
    lines = [
        ("Herald", "Man shot in Austin on Tuesday night"),
        ("Courier", "Woman killed in Sherman Park shooting"),
        ("Post", "Woman killed in Sherman Park shooting"),
    ]
    path = tmp_path / "prompts.jsonl"
    path.write_text(
        "".join(
            json.dumps({"title": title, "text": prompt, "date": f"2016-03-0{n}T09:00:00Z", "source": source}) + "\n"
            for n, (source, title) in enumerate(lines, 1)
        )
    )
    result = run("import", str(path))
    assert result.exit_code == 0, result.output
    with env.reader() as session:
        rows = session.execute(select(Article.id, Article.text, Article.duplicate_of).order_by(Article.id)).all()
    assert [r.text for r in rows] == [prompt] * 3  # the prompt is all these pages say
    assert [r.duplicate_of for r in rows] == [None, None, rows[1].id]
    # the refinement pass sees the two originals as saying nothing of their own (the copy
    # follows its original); an article of its own text is no such page
    text = f"{BODY * 3} The bridge reopens in May."
    path.write_text(
        json.dumps({"title": "Bridge reopens", "text": text, "date": "2016-03-04", "source": "Post"}) + "\n"
    )
    assert run("import", str(path)).exit_code == 0
    with env.transaction() as session:
        stories = session.scalars(select(Article.story_id).where(Article.story_id.is_not(None))).all()
        members = SqlStoryIndex(session.connection()).members(sorted(set(stories)))
    assert {(m.title, m.shared_text) for m in members} == {
        ("Man shot in Austin on Tuesday night", True),
        ("Woman killed in Sherman Park shooting", True),
        ("Bridge reopens", False),
    }


def test_a_page_left_with_only_its_headline_joins_the_story_it_names(env: Database, tmp_path: Path) -> None:
    """A newsletter prompt is dropped as boilerplate, leaving the page its headline: it is linked
    on that headline (place and kind), not left without a story."""
    report = (
        "A 24-year-old man was shot and killed late Saturday in the Dutchtown neighborhood, St. Louis "
        "police said. Officers found the man with a gunshot wound to the chest on a sidewalk. No arrests "
        "have been made."
    )
    lines = [
        {"title": "Man killed in Dutchtown shooting", "text": report, "source": "KSDK"},
        {
            "title": "Man killed in Dutchtown shooting",
            "text": "Sign up for our newsletter to get breaking news delivered to your inbox every morning.",
            "source": "Post-Dispatch",
        },
        {"title": "Council approves the river bridge", "text": f"{BODY * 3}", "source": "Post-Dispatch"},
    ]
    path = tmp_path / "pages.jsonl"
    path.write_text("".join(json.dumps({**line, "date": "2016-03-06T09:00:00Z"}) + "\n" for line in lines))
    assert run("import", str(path)).exit_code == 0
    with env.reader() as session:
        rows = session.execute(select(Article.text, Article.page_kind, Article.story_id).order_by(Article.id)).all()
    assert [(r.text == "", r.page_kind) for r in rows] == [(False, "article"), (True, "empty"), (False, "article")]
    assert rows[1].story_id == rows[0].story_id != rows[2].story_id


@pytest.mark.parametrize("every", [0, 2])
def test_import_refines_stories_as_the_file_goes(
    env: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, every: int
) -> None:
    """An archive's stories settle as a live stream's do: a refinement pass after every
    ``NEWSWORKER_IMPORT_REFINE_EVERY`` new articles (0: none, the story stays pending)."""
    monkeypatch.setenv("NEWSWORKER_IMPORT_REFINE_EVERY", str(every))
    texts = [
        "A 24-year-old man was shot and killed late Saturday in the Dutchtown neighborhood, St. Louis police "
        "said. Officers found the man with a gunshot wound to the chest on a sidewalk. No arrests have been made.",
        "St. Louis police are investigating after a 24-year-old man was shot and killed late Saturday in "
        "Dutchtown. The man was found on a sidewalk with a gunshot wound to the chest, police said.",
    ]
    path = tmp_path / "two.jsonl"
    path.write_text(
        "".join(
            json.dumps({"title": "Man killed in Dutchtown shooting", "text": text, "date": "2016-03-06", "source": s})
            + "\n"
            for s, text in zip(("KSDK", "Fox 2"), texts, strict=True)
        )
    )
    assert run("import", str(path)).exit_code == 0
    with env.reader() as session:
        stories = session.execute(select(Story.article_count, Story.refine_pending)).all()
    assert [s.article_count for s in stories] == [2]  # one story of both reports
    assert stories[0].refine_pending is (every == 0)


def test_a_duplicate_follows_its_original_only_under_its_headline(env: Database, tmp_path: Path) -> None:
    """A long text republished under the same headline joins its original's story as a
    duplicate; under another headline (an update about another event) it is linked on its own."""
    from worker.service import stories as story_links

    text = f"{BODY * 6} Engineers will report in May."
    lines = [
        {"title": "Council votes to rebuild the river bridge", "source": "Herald"},
        {"title": "Council votes to rebuild the river bridge", "source": "Courier"},
        {"title": "Storm closes the ferry for a week", "source": "Post"},
    ]
    path = tmp_path / "copies.jsonl"
    path.write_text("".join(json.dumps({**line, "text": text, "date": "2016-03-06"}) + "\n" for line in lines))
    assert run("import", str(path)).exit_code == 0
    with env.transaction() as session:
        ids = session.scalars(select(Article.id).order_by(Article.id)).all()
        dups = session.scalars(select(Article.duplicate_of).order_by(Article.id)).all()
        assert dups == [None, ids[0], ids[0]]  # a long text is a copy whatever its headline
        session.execute(Article.__table__.update().where(Article.id.in_(ids[1:])).values(story_id=None))
        vias = [story_links.link_story(session, i).via for i in ids[1:]]
    assert vias == ["duplicate", "linker"]
