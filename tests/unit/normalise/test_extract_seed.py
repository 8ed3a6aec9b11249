"""Golden test on the seed wire article, as a realistic page and as plain imported text.

The article text is read from the shared data (not copied into the repo); the page
around it is the committed template ``tests/data/extract/seed-page.html.tmpl``, a
WordPress-style news page with navigation, cookie and newsletter blocks, share buttons,
related links, the photo caption printed twice and the agency footer.
"""

from __future__ import annotations

import html
import os
import re
from datetime import date
from pathlib import Path

import pytest

from worker.model.article import FeedHints
from worker.normalise.extract import article_from_content, extract_article

REPO = Path(__file__).resolve().parents[3]
TEMPLATE = REPO / "tests" / "data" / "extract" / "seed-page.html.tmpl"
URL = "https://en.minanews.example/bashar-assad-said-to-refuse-iran-asylum-offer/"

BOILERPLATE = (
    "(Photo: ARA News)",
    "Also Read",
    "SYRIA UN ENVOY TO HEAD GOVERNMENT TEAM IN MOSCOW",
    "UN PLEA TO SAVE PALESTINIAN REFUGEES",
    "(T/R07/R01)",
    "Mi’raj Islamic News Agency",
    "(MINA)",
    "Tehran, 16 Rajab",
    "cookies",
    "newsletter",
    "Share on Facebook",
    "Related Posts",
    "Most Popular",
    "All rights reserved",
)


def _seed_path() -> Path:
    env = os.environ.get("NEWSWORKER_SHARED_DATA")
    base = Path(env) if env else REPO / ".." / "shared" / "data"
    return base / "seed-article.txt"


@pytest.fixture(scope="module")
def seed() -> str:
    path = _seed_path()
    if not path.is_file():
        pytest.skip(f"seed article not available at {path}")
    return path.read_text("utf-8")


def _blocks(seed: str) -> list[str]:
    return [b.strip() for b in re.split(r"\n\s*\n", seed) if b.strip()]


def _story_paragraphs(seed: str) -> list[str]:
    """What a reader should get: every story paragraph, dateline prefix and desk code gone."""
    out = []
    for block in _blocks(seed)[1:]:
        if "(Photo:" in block or block.startswith("Also Read") or block.startswith("Mi’raj"):
            continue
        block = re.sub(r"^Tehran, 16 Rajab 2437/24 April 2016 \(MINA\) – ", "", block)
        block = block.replace("(T/R07/R01)", "")
        out.append(" ".join(block.split()))
    return out


def _page(seed: str, charset: str = "utf-8") -> str:
    blocks = _blocks(seed)
    title = blocks[0]
    body = []
    for block in blocks[1:]:
        lines = block.splitlines()
        if "(Photo:" in block:
            # WordPress prints the caption under the image and again as a paragraph.
            body.append(
                '<figure class="wp-caption"><img src="/wp-content/uploads/2016/04/assad.jpg"'
                ' alt="">'
                f"<figcaption>{html.escape(lines[0])}</figcaption></figure>"
            )
            body.extend(f"<p>{html.escape(line)}</p>" for line in lines[1:])
        elif block.startswith("Also Read:"):
            headline = block.split(":", 1)[1].strip()
            body.append(f'<p><strong>Also Read:</strong>  <a href="/{len(body)}/">{html.escape(headline)}</a></p>')
        else:
            body.append(f"<p>{html.escape(block)}</p>")
    page = TEMPLATE.read_text("utf-8")
    return (
        page.replace("{{TITLE}}", html.escape(title))
        .replace("{{BODY}}", "\n".join(body))
        .replace("{{CHARSET}}", charset)
    )


def _assert_clean_story(text: str, seed: str) -> None:
    for marker in BOILERPLATE:
        assert marker.casefold() not in text.casefold(), marker
    paragraphs = text.split("\n\n")
    expected = _story_paragraphs(seed)
    positions = []
    for par in expected:
        assert par in paragraphs, f"story paragraph missing: {par[:60]}"
        positions.append(paragraphs.index(par))
    assert positions == sorted(positions)
    assert paragraphs[0].startswith("Tehran offered Syrian President Bashar Assad")
    assert text.count("Syrian President Bashar al-Assad.") == 0


def test_seed_page_golden(seed: str) -> None:
    body = _page(seed).encode("utf-8")
    art = extract_article(body, url=URL + "?utm_source=rss&fbclid=abc", content_type="text/html; charset=utf-8")
    _assert_clean_story(art.text, seed)
    assert art.title == "Bashar Assad Said to Refuse Iran Asylum Offer"
    assert art.dateline == "Tehran"
    assert art.agency == "MINA"
    assert art.published_at is not None and art.published_at.date() == date(2016, 4, 24)
    assert art.published_date == date(2016, 4, 24)
    assert art.published_at.utcoffset() is not None and art.published_at.utcoffset().total_seconds() == 0
    assert art.authors == ("Rana Setiawan",)
    assert art.url == URL  # canonical link, tracking parameters gone
    assert art.image_url == "https://en.minanews.example/wp-content/uploads/2016/04/assad.jpg"
    assert art.language == "en"
    assert art.page_kind == "article" and art.is_article
    assert art.source == "page"
    assert art.word_count == len(art.text.split())
    assert "Also Read" not in art.html and "T/R07" not in art.html and "(MINA)" not in art.html
    assert "<script" not in art.html and "Tehran offered" in art.html
    # The photo comes back as a figure with its caption once (the repeated caption
    # paragraph is gone, as from the text); the html has the text's paragraphs.
    assert art.html.count("(Photo: ARA News)") == 1
    assert re.search(r"<figcaption>[^<]*\(Photo: ARA News\)</figcaption>", art.html)
    assert '<img src="https://en.minanews.example/wp-content/uploads/2016/04/assad.jpg"' in art.html
    assert _html_paragraphs(art.html) == art.text.split("\n\n")


def _html_paragraphs(fragment: str) -> list[str]:
    paragraphs = re.findall(r"<p>(.*?)</p>", fragment, flags=re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", "", p)).split()) for p in paragraphs]


def test_seed_page_with_lying_charset_is_repaired(seed: str) -> None:
    body = _page(seed, charset="iso-8859-1").encode("utf-8")
    art = extract_article(body, url=URL, content_type="text/html; charset=ISO-8859-1")
    assert "charset_repaired" in art.warnings
    assert "Assad’s military forces" in art.text  # not "Assadâ€™s"
    _assert_clean_story(art.text, seed)


def test_seed_page_mojibake_is_repaired(seed: str) -> None:
    # The publisher's CMS already double-encoded the text: UTF-8 bytes read as cp1252.
    broken = _page(seed).encode("utf-8").decode("cp1252", errors="replace").encode("utf-8")
    art = extract_article(broken, url=URL, content_type="text/html; charset=utf-8")
    assert "mojibake_repaired" in art.warnings
    assert "Assad’s military forces" in art.text


def test_feed_hints_win_over_the_page(seed: str) -> None:
    from datetime import UTC, datetime

    hints = FeedHints(
        title="Assad refused Iran's asylum offer",
        authors=("MINA Desk Writer",),
        published_at=datetime(2016, 4, 24, 3, 15, tzinfo=UTC),
    )
    art = extract_article(_page(seed).encode("utf-8"), url=URL, hints=hints)
    assert art.title == "Assad refused Iran's asylum offer"
    assert art.authors == ("MINA Desk Writer",)
    assert art.published_at == datetime(2016, 4, 24, 3, 15, tzinfo=UTC)


def test_seed_plain_text_import(seed: str) -> None:
    art = article_from_content(url=URL + "?utm_medium=email", title=None, text=seed)
    _assert_clean_story(art.text, seed)
    assert art.title == _blocks(seed)[0]  # the opening headline line becomes the title
    assert art.dateline == "Tehran"
    assert art.agency == "MINA"
    assert art.published_at is not None and art.published_at.date() == date(2016, 4, 24)
    assert art.source == "feed"
    assert art.url == URL
    assert art.language == "en"


def test_seed_plain_text_with_title_drops_repeated_headline(seed: str) -> None:
    title = _blocks(seed)[0]
    art = article_from_content(url=URL, title=title, text=seed)
    assert art.title == title
    assert not art.text.startswith(title)
    _assert_clean_story(art.text, seed)
