"""The `newsworker` command through its real entry point (a subprocess), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.httpserver import LocalHTTPServer, Reply
from tests.support.processes import run_cli

FEEDS = Path(__file__).resolve().parents[1] / "data" / "feeds"


def newsworker(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=env, cwd=cwd, expect=None)


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as srv:
        for name in ("rss2.xml", "atom.xml", "rss1.rdf"):
            srv.route(f"/{name}", Reply(200, {"Content-Type": "application/xml"}, (FEEDS / name).read_bytes()))
        yield srv


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWORKER_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    env.update(extra)
    return env


@pytest.fixture(params=["sqlite", "postgresql"])
def db_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if request.param == "sqlite":
        return _env(NEWSWORKER_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}")
    from tests.support.services import temporary_postgres_database

    context = temporary_postgres_database("nwcli")
    url = context.__enter__()
    request.addfinalizer(lambda: context.__exit__(None, None, None))
    return _env(NEWSWORKER_DATABASE_URL=url)


def test_run_once_ingests_a_feed_list_on_the_embedded_default(tmp_path: Path, server: LocalHTTPServer) -> None:
    (tmp_path / "feeds.txt").write_text("\n".join(server.url(f"/{n}") for n in ("rss2.xml", "atom.xml", "rss1.rdf")))
    env = _env(NEWSWORKER_ALLOW_PRIVATE_NETWORKS="true")  # default database: ./newsworker.db
    first = newsworker("run", "--once", "--feeds", "feeds.txt", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "feeds polled: 3, articles new: 6" in first.stdout
    assert (tmp_path / "newsworker.db").exists()
    exported = newsworker("export", env=env, cwd=tmp_path)
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    assert len(rows) == 6
    assert set(rows[0]) == {
        "id",
        "url",
        "urls",
        "title",
        "text",
        "published_at",
        "language",
        "duplicate_of",
        "story_id",
        "sources",
        "canonical_url",
        "authors",
        "dateline",
        "agency",
        "image_url",
        "page_kind",
        "word_count",
    }
    assert {r["title"] for r in rows} >= {"Bashar Assad Said to Refuse Iran Asylum Offer", "First RDF story"}
    again = newsworker("run", "--once", env=env, cwd=tmp_path)  # nothing is due yet
    assert again.returncode == 0 and "articles new: 0" in again.stdout


def test_run_once_polls_every_due_feed_whatever_the_dispatch_batch(tmp_path: Path, server: LocalHTTPServer) -> None:
    """A pass is every feed due at its start, sent NEWSWORKER_DISPATCH_BATCH_SIZE at a time (a
    first `run --once` over 3,000 feeds polled 500 and stopped)."""
    names = ("rss2.xml", "atom.xml", "rss1.rdf")
    (tmp_path / "feeds.txt").write_text("\n".join(server.url(f"/{n}?copy={k}") for n in names for k in range(2)))
    env = _env(NEWSWORKER_ALLOW_PRIVATE_NETWORKS="true", NEWSWORKER_DISPATCH_BATCH_SIZE="2")
    result = newsworker("run", "--once", "--feeds", "feeds.txt", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "pass 1: 6 feed(s) due" in result.stdout and "feeds polled: 6," in result.stdout
    listed = newsworker("feeds", "list", "--json", env=env, cwd=tmp_path)
    assert all(json.loads(line)["last_success_at"] for line in listed.stdout.splitlines())


def test_private_addresses_are_refused_by_default(tmp_path: Path, server: LocalHTTPServer) -> None:
    env = _env()
    assert newsworker("feeds", "add", server.url("/rss2.xml"), env=env, cwd=tmp_path).returncode == 2  # no schema yet
    result = newsworker("run", "--once", "--feeds", str(FEEDS / "rss2.xml"), env=env, cwd=tmp_path)
    assert result.returncode == 2 and "OPML" in result.stderr
    (tmp_path / "feeds.txt").write_text(server.url("/rss2.xml"))
    result = newsworker("run", "--once", "--feeds", "feeds.txt", env=env, cwd=tmp_path)
    assert result.returncode == 1  # the listed feed was unusable: skipped, naming the settings that would allow it
    assert "0 feed(s) added" in result.stdout and "articles new: 0" in result.stdout
    assert "not a public address" in result.stderr and "NEWSWORKER_ALLOW_PRIVATE_NETWORKS" in result.stderr
    assert server.hit_count() == 0
    assert newsworker("feeds", "list", "--json", env=env, cwd=tmp_path).stdout == ""


def test_feeds_add_list_remove_and_schema_message(db_env: dict[str, str], tmp_path: Path) -> None:
    missing = newsworker("feeds", "list", env=db_env, cwd=tmp_path)
    assert missing.returncode == 2 and "newsworker db upgrade" in missing.stderr and "Traceback" not in missing.stderr
    assert newsworker("db", "upgrade", env=db_env, cwd=tmp_path).returncode == 0
    added = newsworker(
        "feeds", "add", "https://News.Example.com/rss?utm_source=x", "--title", "Example", env=db_env, cwd=tmp_path
    )
    assert added.returncode == 0 and "added: feed 1 https://news.example.com/rss" in added.stdout
    again = newsworker("feeds", "add", "https://news.example.com/rss", env=db_env, cwd=tmp_path)
    assert "already present" in again.stdout
    bad = newsworker("feeds", "add", "file:///etc/passwd", env=db_env, cwd=tmp_path)
    assert bad.returncode == 2 and "http" in bad.stderr
    listed = newsworker("feeds", "list", "--json", env=db_env, cwd=tmp_path)
    assert [json.loads(line)["title"] for line in listed.stdout.splitlines()] == ["Example"]
    assert newsworker("feeds", "remove", "https://news.example.com/rss", env=db_env, cwd=tmp_path).returncode == 0
    unknown = newsworker("feeds", "remove", "42", env=db_env, cwd=tmp_path)
    assert unknown.returncode == 2 and "no feed" in unknown.stderr


def test_import_reports_bad_lines_and_keeps_the_rest(db_env: dict[str, str], tmp_path: Path) -> None:
    assert newsworker("db", "upgrade", env=db_env, cwd=tmp_path).returncode == 0
    lines = [
        json.dumps(
            {"url": "https://a.example/1", "title": "One", "text": "First.", "published_at": "2016-04-24T10:00:00Z"}
        ),
        "{broken json",
        json.dumps(
            {
                "url": "https://a.example/2",
                "title": "Two",
                "html": "<p>Second <b>para</b>.</p>",
                "published_at": None,
                "source": "wire",
            }
        ),
        json.dumps({"url": "ftp://a.example/3", "text": "x"}),
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    result = newsworker("import", "in.jsonl", env=db_env, cwd=tmp_path)
    assert result.returncode == 1
    assert "in.jsonl:2: skipped: not valid JSON" in result.stderr
    assert "in.jsonl:4: skipped" in result.stderr
    assert "imported 2 new article(s)" in result.stdout
    rows = [json.loads(x) for x in newsworker("export", env=db_env, cwd=tmp_path).stdout.splitlines()]
    assert [(r["url"], r["published_at"], r["sources"]) for r in rows] == [
        ("https://a.example/1", "2016-04-24T10:00:00Z", ["in.jsonl"]),
        ("https://a.example/2", None, ["wire"]),
    ]
    assert rows[1]["text"] == "Second para."


WHOLE_PAGE = (
    "<!DOCTYPE html><html lang='en'><head><title>Assad refuses asylum | Daily Example</title>"
    "<meta property='og:site_name' content='Daily Example'>"
    "<meta property='article:published_time' content='2016-04-24T09:12:00+07:00'>"
    "<meta name='author' content='Jane Doe'></head><body><nav>Home | World | Sport</nav>"
    "<!-- ad slot --><article><h1>Assad refuses asylum</h1>"
    + "".join(
        f"<p>{p}</p>"
        for p in [
            "Tehran offered Syrian President Bashar Assad and his family an asylum in Iran from where he could"
            " safely command his army, but the leader refused to leave the war-torn country, the minister said.",
            "According to the Lebanese channel Al-Mayadeen, the Iranian Minister of Intelligence Mahmoud Alavi"
            " said his country offered to have Assad and his family resettled in Iran.",
            "According to Alavi, Assad refused the offer, saying his family was like any other Syrian family and"
            " would remain in Damascus with the people of the country through the war.",
        ]
    )
    + "</article><div class='comments'><p>Great article!</p></div><footer>Contact us</footer></body></html>"
)


def test_import_extracts_whole_pages_and_keeps_fragments_as_content(db_env: dict[str, str], tmp_path: Path) -> None:
    assert newsworker("db", "upgrade", env=db_env, cwd=tmp_path).returncode == 0
    lines = [
        json.dumps({"url": "https://daily.example/2016/04/24/assad", "html": WHOLE_PAGE}),
        json.dumps({"url": "https://a.example/frag", "html": "<p>Home</p><!-- c --><p>Only a fragment.</p>"}),
    ]
    (tmp_path / "pages.jsonl").write_text("\n".join(lines) + "\n")
    result = newsworker("import", "pages.jsonl", env=db_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(x) for x in newsworker("export", env=db_env, cwd=tmp_path).stdout.splitlines()]
    page, fragment = rows
    assert page["title"] == "Assad refuses asylum"
    assert page["published_at"] == "2016-04-24T09:12:00+07:00" and page["authors"] == [
        "Jane Doe"
    ]  # the page states +07:00
    assert "Mahmoud Alavi" in page["text"]
    assert "Home | World" not in page["text"] and "Contact us" not in page["text"]
    assert page["page_kind"] == "article"
    assert fragment["text"] == "Home\n\nOnly a fragment."  # a fragment is the article's own content


def test_config_masks_secrets(tmp_path: Path) -> None:
    env = _env(NEWSWORKER_BROKER_URL="redis://:topsecret@redis:6379/0")
    result = newsworker("config", "--json", env=env, cwd=tmp_path)
    values = json.loads(result.stdout)
    assert values["broker_url"] == "redis://:***@redis:6379/0"
    bad = newsworker("config", env=_env(NEWSWORKER_MAX_BODY_BYTES="lots"), cwd=tmp_path)
    assert bad.returncode == 2 and "NEWSWORKER_MAX_BODY_BYTES" in bad.stderr
