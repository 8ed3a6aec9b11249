"""Duplicates through the real ingest path (import → normalise → dedupe → store) on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import queries
from storage.db import Database
from worker.service import handlers
from worker.service.imports import parse_import_line
from worker.service.messages import LocalDispatcher
from worker.service.runtime import Runtime
from worker.settings import load_settings


@pytest.fixture
def rt(database: Database) -> Iterator[Runtime]:
    runtime = Runtime.build(load_settings(database_url=database.url), LocalDispatcher())
    runtime.db = database
    yield runtime
    runtime.fetcher.close()


def _import(rt: Runtime, url: str, text: str, title: str = "T") -> int:
    line = json.dumps({"url": url, "title": title, "text": text, "published_at": "2016-04-24"})
    return handlers.import_item(rt, parse_import_line(line), default_source="test").article_id


def test_copies_point_to_the_first_seen_original_and_different_reports_do_not(rt: Runtime, shared_data: Path) -> None:
    seed = (shared_data / "seed-article.txt").read_text(encoding="utf-8")
    story = "\n\n".join(p for p in seed.split("\n\n")[3:] if not p.startswith(("Also Read", "Mi’raj")))
    original = _import(rt, "https://en.minanews.net/assad-asylum", story)
    mirror = _import(rt, "https://mirror.example.net/world/assad-asylum", story)
    wire = _import(
        rt,
        "https://wire.example.org/2016/04/24/assad",
        "DAMASCUS (Wire Agency) — "
        + story
        + "\n\nReporting by A. Writer; editing by B. Editor.\n\nRead more: Syria talks",
    )
    excerpt = _import(rt, "https://digest.example.com/a", " ".join(story.split()[: len(story.split()) // 2]))
    other = _import(
        rt,
        "https://other.example.com/assad",
        "Syrian President Bashar al-Assad rejected an offer of asylum in Iran, Israeli television reported on "
        "Sunday, citing a Lebanese channel close to Hezbollah. The report could not be independently verified, and "
        "officials in Damascus declined to comment on the claim when asked by reporters during a press briefing.",
    )
    again = _import(rt, "https://en.minanews.net/assad-asylum?utm_source=twitter", story)
    assert again == original
    with rt.db.reader() as session:
        rows = {row["id"]: row for row in queries.export_rows(session)}
    assert rows[original]["duplicate_of"] is None
    assert rows[mirror]["duplicate_of"] == original
    assert rows[wire]["duplicate_of"] == original
    assert rows[excerpt]["duplicate_of"] == original
    assert rows[other]["duplicate_of"] is None
    assert len(rows) == 5


REPORT_B = (
    "Iran offered Syrian President Bashar al-Assad asylum, but he turned it down, Iranian Intelligence Minister "
    "Mahmoud Alavi told the Lebanese broadcaster Al-Mayadeen on Saturday.\n\n"
    "Alavi said the offer was conveyed by Qassem Soleimani, commander of the Quds Force of the Revolutionary Guards, "
    "and would have let Assad and his family live in Tehran while directing the war in Syria.\n\n"
    "Assad rejected the proposal and told Soleimani that his family would stay in Damascus like any other Syrian "
    "family, the minister said, according to Israel's Channel 2, which cited the interview."
)
OTHER_EVENT = (
    "A magnitude 6.1 earthquake struck off the coast of Chile on Tuesday, the US Geological Survey said, shaking "
    "buildings in Valparaiso and Santiago.\n\nChile's emergency office ONEMI said there were no immediate reports of "
    "damage or casualties and no tsunami warning was issued for the Pacific coast.\n\nThe quake hit at a depth of "
    "25 kilometres about 40 kilometres west of Valparaiso, officials said."
)


def test_story_linking_through_the_pipeline(rt: Runtime, shared_data: Path) -> None:
    """Two reports of one event share a story, a copy joins its original's story, another event does not."""

    title, body = (shared_data / "seed-article.txt").read_text(encoding="utf-8").split("\n", 1)
    seed_id = _import(rt, "https://en.minanews.net/assad-asylum", body, title)
    report = _import(rt, "https://other.example.org/assad", REPORT_B, "Assad turned down Iranian asylum offer")
    quake = _import(rt, "https://quake.example.net/chile", OTHER_EVENT, "Quake shakes central Chile")
    copy = _import(rt, "https://mirror.example.com/assad", body, "Copy of the wire story")
    dispatcher = rt.dispatcher
    assert isinstance(dispatcher, LocalDispatcher)
    dispatcher.drain(rt)
    with rt.db.reader() as session:
        rows = {row["id"]: row for row in queries.export_rows(session)}
    assert rows[seed_id]["story_id"] is not None
    assert rows[report]["story_id"] == rows[seed_id]["story_id"]
    assert rows[quake]["story_id"] not in (None, rows[seed_id]["story_id"])
    assert rows[copy]["duplicate_of"] == seed_id and rows[copy]["story_id"] == rows[seed_id]["story_id"]
    # Processing again (a re-delivered task) changes nothing.
    for article_id in rows:
        handlers.process_article(rt, article_id)
    with rt.db.reader() as session:
        again = {row["id"]: row["story_id"] for row in queries.export_rows(session)}
    assert again == {i: r["story_id"] for i, r in rows.items()}
