"""Article pages through the real fetcher and HTTP server: fetched, or stored from the feed and retried."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from storage import queries, repo
from storage.db import Database
from storage.models import Article
from tests.support.httpserver import LocalHTTPServer, Reply
from worker.cli.common import jsonable
from worker.model.clock import utcnow
from worker.service import handlers
from worker.service.messages import LocalDispatcher
from worker.service.runtime import Runtime
from worker.settings import load_settings

PARAGRAPHS = [
    "Tehran offered Syrian President Bashar Assad and his family an asylum in Iran from where he could safely "
    "command his army, but the leader refused to leave the war-torn country, the minister said on Saturday.",
    "According to the Lebanese channel Al-Mayadeen, the Iranian Minister of Intelligence Mahmoud Alavi said his "
    "country offered to have Assad and his family resettled in Iran, from which he could lead his campaign.",
    "According to Alavi, Assad refused the offer, saying his family was like any other Syrian family and would "
    "remain in Damascus with the people of the country through the war.",
]
PAGE = (
    '<html><head><title>Assad refuses asylum</title><meta property="og:type" content="article">'
    '<meta property="article:published_time" content="2016-04-24T09:12:00+07:00"></head>'
    "<body><nav>Home | World | Sport</nav><article><h1>Assad refuses asylum</h1>"
    + "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    + "</article><footer>Contact us</footer></body></html>"
).encode()


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as srv:
        yield srv


@pytest.fixture
def rt(database: Database) -> Iterator[Runtime]:
    runtime = Runtime.build(load_settings(database_url=database.url, allow_private_networks=True), LocalDispatcher())
    runtime.db = database
    yield runtime
    runtime.fetcher.close()


def _feed(server: LocalHTTPServer, link: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>F</title><item><title>Assad refuses asylum</title>'
        f"<link>{link}</link><guid>g1</guid><description>Short teaser.</description></item></channel></rss>"
    ).encode()


def _run(rt: Runtime) -> None:
    dispatcher = rt.dispatcher
    assert isinstance(dispatcher, LocalDispatcher)
    dispatcher.drain(rt)


def _poll_new_feed(rt: Runtime, server: LocalHTTPServer) -> int:
    """Add the server's /feed.xml, poll it and run every follow-up (page fetch, linking)."""
    with rt.db.transaction() as session:
        feed, _ = repo.add_feed(session, server.url("/feed.xml"))
    handlers.poll_feed(rt, feed.id)
    _run(rt)
    return feed.id


def test_page_text_replaces_the_feed_teaser(rt: Runtime, server: LocalHTTPServer) -> None:
    server.route("/feed.xml", Reply(200, {}, _feed(server, server.url("/story"))))
    server.route("/story", Reply(200, {"Content-Type": "text/html; charset=utf-8"}, PAGE))
    _poll_new_feed(rt, server)
    with rt.db.reader() as session:
        article = session.scalars(select(Article)).one()
    assert article.content_source == "page" and article.fetch_error is None
    assert "Mahmoud Alavi" in article.text and "Home | World" not in article.text


def test_a_page_stated_time_is_exported_on_the_publishers_clock(rt: Runtime, server: LocalHTTPServer) -> None:
    """09:12 in Jakarta on 24 April is 02:12 UTC the same day; at 01:12 it would be 23 April in UTC
    and the publisher's day in the export must still be the 24th."""
    server.route("/feed.xml", Reply(200, {}, _feed(server, server.url("/story"))))
    server.route("/story", Reply(200, {"Content-Type": "text/html; charset=utf-8"}, PAGE.replace(b"T09:12", b"T01:12")))
    _poll_new_feed(rt, server)
    with rt.db.reader() as session:
        article = session.scalars(select(Article)).one()
        assert article.published_at == datetime(2016, 4, 23, 18, 12, tzinfo=UTC)  # the instant, in UTC
        assert article.published_offset_minutes == 420
        rows = list(queries.export_rows(session))
        detail = queries.article_detail(session, article.id, with_html=False)
    assert [r["published_at"] for r in rows] == ["2016-04-24T01:12:00+07:00"]
    assert jsonable(detail)["published_at"] == "2016-04-24T01:12:00+07:00"


def test_article_pages_are_fetched_with_the_feeds_user_agent(rt: Runtime, server: LocalHTTPServer) -> None:
    """A site that lets a named bot read its feed expects the same name on its article pages."""
    replies = iter([Reply(503, {}, b"busy"), Reply(200, {"Content-Type": "text/html"}, PAGE)])
    server.route("/feed.xml", Reply(200, {}, _feed(server, server.url("/story"))))
    server.route("/story", lambda h: next(replies)(h))
    with rt.db.transaction() as session:
        feed, _ = repo.add_feed(session, server.url("/feed.xml"))
        feed.user_agent = "FeedBot/2 (+https://ops.example/bot)"
    handlers.poll_feed(rt, feed.id)
    _run(rt)
    with rt.db.transaction() as session:  # the page failed once: its retry comes due
        article = session.scalars(select(Article)).one()
        article.next_fetch_at = utcnow() - timedelta(seconds=1)
    handlers.dispatch_due_feeds(rt)
    _run(rt)
    agents = [(h.path, h.headers.get("User-Agent")) for h in server.hits]
    assert (
        agents
        == [("/feed.xml", "FeedBot/2 (+https://ops.example/bot)")]
        + [("/story", "FeedBot/2 (+https://ops.example/bot)")] * 2
    )


def test_failed_page_keeps_feed_content_then_refetch_updates_in_place(rt: Runtime, server: LocalHTTPServer) -> None:
    pages = iter([Reply(503, {}, b"busy"), Reply(200, {"Content-Type": "text/html"}, PAGE)])
    server.route("/feed.xml", Reply(200, {}, _feed(server, server.url("/story"))))
    server.route("/story", lambda h: next(pages)(h))
    _poll_new_feed(rt, server)
    with rt.db.reader() as session:
        first = session.scalars(select(Article)).one()
    assert first.content_source == "failed" and first.fetch_error and "503" in first.fetch_error
    assert first.text == "Short teaser." and first.next_fetch_at is not None
    assert first.next_fetch_at > utcnow() + timedelta(minutes=10)

    with rt.db.transaction() as session:  # the retry time comes
        session.get(Article, first.id).next_fetch_at = utcnow() - timedelta(seconds=1)  # type: ignore[union-attr]
    assert handlers.dispatch_due_feeds(rt).articles_refetched == 1
    _run(rt)
    with rt.db.reader() as session:
        again = session.scalars(select(Article)).one()
    assert again.id == first.id
    assert again.content_source == "page" and again.fetch_error is None and again.next_fetch_at is None
    assert "Mahmoud Alavi" in again.text
    assert again.previous_hash == first.content_hash and again.previous_changed_at is not None


PRODUCT_PAGE = (
    "<html><head><title>Stainless kettle 1.7 l</title>"
    '<script type="application/ld+json">{"@type": "Product", "name": "Stainless kettle 1.7 l"}</script></head>'
    "<body><nav>Shop | Kitchen</nav><main><h1>Stainless kettle 1.7 l</h1>"
    + "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    + "<p>Add to cart. Free shipping. In stock.</p></main></body></html>"
).encode()


def test_a_flagged_page_keeps_its_text_and_is_linked_to_no_story(rt: Runtime, server: LocalHTTPServer) -> None:
    """The classification is a label: a page flagged as a product page keeps what was extracted."""
    server.route("/feed.xml", Reply(200, {}, _feed(server, server.url("/kettle"))))
    server.route("/kettle", Reply(200, {"Content-Type": "text/html; charset=utf-8"}, PRODUCT_PAGE))
    _poll_new_feed(rt, server)
    with rt.db.reader() as session:
        article = session.scalars(select(Article)).one()
    assert article.page_kind == "product"
    assert article.content_source == "page" and article.fetch_error is None and article.next_fetch_at is None
    assert "Mahmoud Alavi" in article.text and article.word_count > 50
    assert article.story_id is None and article.processed_at is not None


_STORIES = [
    ("Council approves the transport budget", "council voted on Tuesday to approve a new budget for buses"),
    ("Harbour bridge closes for repairs", "harbour bridge will close for six weeks while engineers replace cables"),
    ("Library extends its opening hours", "central library will open until ten in the evening from next month"),
    ("Schools plan a longer summer break", "school board proposed adding a week to the summer holidays next year"),
]


def _story_page(headline: str, sentence: str) -> bytes:
    paras = [f"The {sentence}, officials said in a statement on {day}." for day in ("Monday", "Friday", "Sunday")]
    paras += [f"Residents asked about the plan said the {sentence} was overdue, according to a survey."]
    return (
        f"<html><head><title>{headline}</title></head><body><article><h1>{headline}</h1>"
        + "".join(f"<p>{p} {p}</p>" for p in paras)
        + "</article></body></html>"
    ).encode()


def test_a_site_name_the_feeds_titles_share_is_learned_and_dropped(rt: Runtime, server: LocalHTTPServer) -> None:
    """A feed whose titles all end in " - Morning Gazette": one title alone cannot tell a subtitle
    from the site's name, the feed's other titles can (storage supplies them)."""
    items = ""
    for i, (headline, sentence) in enumerate(_STORIES):
        server.route(
            f"/s{i}", Reply(200, {"Content-Type": "text/html; charset=utf-8"}, _story_page(headline, sentence))
        )
        items += (
            f"<item><title>{headline} - Morning Gazette</title><link>{server.url(f'/s{i}')}</link>"
            f"<guid>g{i}</guid></item>"
        )
    feed_xml = f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{items}</channel></rss>'
    server.route("/feed.xml", Reply(200, {}, feed_xml.encode()))
    feed_id = _poll_new_feed(rt, server)
    with rt.db.reader() as session:
        titles = sorted(a.title or "" for a in session.scalars(select(Article)))
        assert repo.recent_feed_titles(session, feed_id)  # what the learning was given
    assert titles == sorted(h for h, _ in _STORIES)


def test_a_page_with_pathological_markup_is_refused_before_extraction(rt: Runtime, server: LocalHTTPServer) -> None:
    """Unclosed table cells by the hundred thousand: refused at once with the reason, the article
    kept from the feed, no refetch planned (the same page would be refused again)."""
    poison = b"<html><body><h1>Results</h1><table>" + b"<tr><td>x" * 60_000 + b"</body></html>"
    server.route("/feed.xml", Reply(200, {}, _feed(server, server.url("/story"))))
    server.route("/story", Reply(200, {"Content-Type": "text/html"}, poison))
    _poll_new_feed(rt, server)
    with rt.db.reader() as session:
        article = session.scalars(select(Article)).one()
    assert article.fetch_error and article.fetch_error.startswith("too_complex:")
    assert "HTML elements" in article.fetch_error
    assert article.text == "Short teaser." and article.next_fetch_at is None
