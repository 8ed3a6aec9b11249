"""Publication dates read from what the page prints when its markup states none.

Hand-written snippets, one per rule: where the date sits relative to the headline, which
labels make a date the publication date, how all-digit dates are read.
"""

from __future__ import annotations

from datetime import date

import pytest

from worker.normalise.dates import numeric_date_order, parse_printed_date
from worker.normalise.extract import extract_article
from worker.normalise.pagemeta import read_page_meta

BODY = "".join(
    f"<p>{s}</p>"
    for s in (
        "The council voted on Tuesday to approve a budget that raises spending on public transport"
        " by a fifth, after months of debate between the mayor and the opposition benches.",
        "Officials said the money would pay for new buses, longer opening hours on the metro and a"
        " study of a tram line to the airport, which residents have wanted for over a decade.",
        "Opposition members said the plan relied on optimistic forecasts of ticket sales and warned"
        " that fares could rise next year if the revenue fell short of what had been projected.",
        "The mayor told reporters after the vote that the budget was balanced and that the city had"
        " kept a reserve large enough to cover any shortfall without raising fares for commuters.",
    )
)
TITLE = "Council approves transport budget"
URL = "https://www.cityherald.example/news/council-approves-transport-budget"  # no date in it


def page(header: str, *, lang: str = "en", head: str = "", before: str = "", after: str = "") -> bytes:
    """A page whose markup states no date: ``header`` is the article's header block."""
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><title>{TITLE} | City Herald</title>{head}</head>'
        f"<body><nav><a href='/'>Home</a> <a href='/news/'>News</a></nav>{before}"
        f"<article><header>{header}</header><div class='body'>{BODY}</div></article>"
        f"{after}<footer><p>Contact us</p></footer></body></html>"
    ).encode()


def published(body: bytes) -> date | None:
    return extract_article(body, url=URL).published_date


def test_ordinal_date_under_headline() -> None:
    assert published(page(f"<h1>{TITLE}</h1><p>By Ann Lee</p><p>January 11th 2023</p>")) == date(2023, 1, 11)
    assert published(page(f"<h1>{TITLE}</h1><p>3rd of March 2024</p>")) == date(2024, 3, 3)


def test_empty_h1_is_not_the_headline() -> None:
    # The logo's empty <h1> comes first; the date is 100+ text nodes of navigation away from it.
    nav = "".join(f"<li><a href='/s{i}'>Section {i}</a></li>" for i in range(120))
    body = (
        f'<!DOCTYPE html><html lang="en"><head><title>{TITLE}</title></head><body>'
        f"<h1><a href='/'><img src='/logo.png' alt=''></a></h1><ul>{nav}</ul>"
        f"<article><h1>{TITLE}</h1><span>02 Feb 2026</span><div>{BODY}</div></article></body></html>"
    ).encode()
    assert published(body) == date(2026, 2, 2)


def test_h2_headline_when_h1_is_not_the_story() -> None:
    # Themes that spend <h1> on "0 Comments" or the site name; the <h2> carries the title.
    header = f"<p class='meta'>blog | February 01, 2022</p><h2>{TITLE}</h2>"
    discussion = (
        "<div class='wrap'><section><div><h1>0 Comments</h1><p>Be the first to comment.</p></div></section></div>"
    )
    body = page(header, after=discussion)
    assert published(body) == date(2022, 2, 1)


def test_date_stamp_above_headline_in_its_header_block() -> None:
    header = f"<div class='hero'><p>May 23, 2025</p><span>Blog Post</span><h1>{TITLE}</h1></div>"
    assert published(page(header)) == date(2025, 5, 23)


def test_date_of_a_list_above_the_header_block_is_not_taken() -> None:
    recent = (
        "<section class='recent'><ol><li><a href='/a'>Another story about something else</a>"
        " <span>on <time>2023-10-05 05:47:31</time></span></li></ol></section>"
    )
    assert published(page(f"<h1>{TITLE}</h1>", before=recent)) is None


def test_stamp_beats_a_date_inside_the_standfirst() -> None:
    header = (
        f"<h1>{TITLE}</h1><h3>10 April 2025, 18:00 - Rome time: an evening conversation on the"
        " philosophy of money and finance with the authors of the new volume</h3>"
        "<div class='byline'>Emiliano Rossi</div><div class='date'>Mar 06, 2025</div>"
    )
    assert published(page(header)) == date(2025, 3, 6)


def test_date_in_a_sentence_still_used_when_no_stamp() -> None:
    header = f"<h1>{TITLE}</h1><p>Filed by our city desk on March 5, 2024 after the late session ended.</p>"
    assert published(page(header)) == date(2024, 3, 5)


def test_a_date_inside_the_storys_own_sentences_is_not_its_date() -> None:
    prose = (
        "<p>Now it is official: the reproduction number fell below one before the shutdown began. A report"
        " the institute released on April 15, 2020 shows the peak had passed three days before it.</p>"
    )
    # the page prints its date elsewhere, labelled: that one, not the report's
    labelled = "<div class='meta'>Published: March 2, 2020</div>"
    assert published(page(f"<h1>{TITLE}</h1>{prose}", after=labelled)) == date(2020, 3, 2)
    # the same date as a stamp under the headline is the page's
    assert published(page(f"<h1>{TITLE}</h1><p>April 15, 2020</p>{prose}", after=labelled)) == date(2020, 4, 15)


@pytest.mark.parametrize(
    ("lang", "head", "expected"),
    [
        ("en-US", "", date(2025, 3, 4)),
        ("en", "", date(2025, 3, 4)),
        ("en", '<meta property="og:locale" content="en_GB">', date(2025, 4, 3)),
        ("de", "", date(2025, 4, 3)),
    ],
)
def test_numeric_date_read_in_the_page_locale(lang: str, head: str, expected: date) -> None:
    assert published(page(f"<h1>{TITLE}</h1><span>Ann Lee</span> <span>3/4/2025</span>", lang=lang, head=head)) == (
        expected
    )


def test_unambiguous_numeric_date_whatever_the_locale() -> None:
    assert published(page(f"<h1>{TITLE}</h1><span>17/08/2025</span>", lang="en-US")) == date(2025, 8, 17)


def test_labelled_published_date_anywhere_on_the_page() -> None:
    box = "<aside><div><strong>(Re)Published:</strong><br>May 25, 2025</div><div>Last edit: Nov 18, 2025</div></aside>"
    assert published(page(f"<h1>{TITLE}</h1>", after=box)) == date(2025, 5, 25)


def test_label_after_the_date() -> None:
    history = "<ol><li><h6>3 Sept 2024 <span>| Originally published</span></h6></li></ol>"
    assert published(page(f"<h1>{TITLE}</h1>", after=history)) == date(2024, 9, 3)
    blurb = "<div class='blurb'><h3><span>17/08/2025</span></h3><div><p>Date Posted</p></div></div>"
    assert published(page(f"<h1>{TITLE}</h1>", after=blurb)) == date(2025, 8, 17)


def test_publication_labels_inside_comments_are_ignored() -> None:
    comments = (
        "<div id='comments'><ol class='comment-list'><li><p>Posted on March 4, 2022 by Bob</p>"
        "<p>Great piece, thanks.</p></li></ol></div>"
    )
    assert published(page(f"<h1>{TITLE}</h1>", after=comments)) is None


def test_updated_date_gives_way_to_the_original_one() -> None:
    header = f"<h1>{TITLE}</h1><p>Last updated 12 Jan 2026</p>"
    history = "<ol><li><h6>3 Sept 2024 <span>| Originally published</span></h6></li></ol>"
    assert published(page(header, after=history)) == date(2024, 9, 3)
    # With nothing earlier on the page the update is the best date there is.
    assert published(page(header)) == date(2026, 1, 12)


def test_comment_microdata_is_not_the_article_date() -> None:
    comments = (
        "<div class='comments-area'><article class='comment'><div class='comment-metadata'>"
        "<time datetime='2022-07-11T18:56:58+00:00' itemprop='datePublished'>July 11, 2022</time>"
        "</div><p>Nice.</p></article></div>"
    )
    body = page(f"<h1>{TITLE}</h1><p>by Marek</p>", after=comments)
    assert published(body) is None
    article_microdata = page(
        f"<h1>{TITLE}</h1><meta itemprop='datePublished' content='2021-05-01T10:00:00Z'>", after=comments
    )
    assert published(article_microdata) == date(2021, 5, 1)


def test_read_page_meta_skips_comment_microdata() -> None:
    from lxml.html import fromstring

    tree = fromstring(
        "<html><body><div id='comment-77'><time itemprop='datePublished' datetime='2022-01-01'></time></div>"
        "<span itemprop='dateModified' content='2023-02-02'></span></body></html>"
    )
    meta = read_page_meta(tree).meta
    assert "itemprop:datepublished" not in meta
    assert meta["itemprop:datemodified"] == "2023-02-02"


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("January 11th 2023", "mdy", date(2023, 1, 11)),
        ("Mar. 3rd 2024", "dmy", date(2024, 3, 3)),
        ("3rd of March 2024", "mdy", date(2024, 3, 3)),
        ("3/4/2025", "mdy", date(2025, 3, 4)),
        ("3/4/2025", "dmy", date(2025, 4, 3)),
        ("04.03.2025", "dmy", date(2025, 3, 4)),
        ("12/31/2025", "dmy", date(2025, 12, 31)),  # 31 can only be the day
        ("13/13/2025", "mdy", None),
        ("3/4/1890", "mdy", None),
    ],
)
def test_parse_printed_date(text: str, order: str, expected: date | None) -> None:
    assert parse_printed_date(text, order) == expected


@pytest.mark.parametrize(
    ("lang", "order"),
    [(None, "mdy"), ("en", "mdy"), ("en-US", "mdy"), ("en_GB", "dmy"), ("en-AU", "dmy"), ("fr-FR", "dmy")],
)
def test_numeric_date_order(lang: str | None, order: str) -> None:
    assert numeric_date_order(lang) == order


# a date printed after a long related-stories block, unlabelled: none of the page's own date rules reach it
FAR_DATE = f"<section class='more'>{BODY}{BODY}</section><div class='meta'><span>5 March 2024</span></div>"
# an article by its markup (schema.org NewsArticle with an author), whose markup states no date
NEWS_ARTICLE = (
    '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Council approves transport'
    ' budget", "author": {"@type": "Person", "name": "Jane Doe"}}</script>'
)


def test_htmldate_extensive_dates_an_article_nothing_else_dates() -> None:
    """A date far below the headline, unlabelled: htmldate's extensive search is the last resort."""
    assert published(page(f"<h1>{TITLE}</h1>", after=FAR_DATE, head=NEWS_ARTICLE)) == date(2024, 3, 5)


def test_a_copyright_year_alone_is_not_a_publication_day() -> None:
    assert published(page(f"<h1>{TITLE}</h1>", after="<p>© 2019 City Herald</p>", head=NEWS_ARTICLE)) is None


def test_last_resort_date_for_articles_only_when_so_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    from worker.normalise import extract

    body = page(f"<h1>{TITLE}</h1>", after=FAR_DATE, head=NEWS_ARTICLE)
    monkeypatch.setattr(extract, "classify_page", lambda *_: "listing")
    monkeypatch.setattr(extract, "LAST_RESORT_DATE", "article")
    assert published(body) is None
    monkeypatch.setattr(extract, "LAST_RESORT_DATE", "all")
    assert published(body) == date(2024, 3, 5)


def test_dotted_numeric_dates_are_day_first_whatever_the_locale() -> None:
    assert parse_printed_date("04.03.2025", "mdy") == date(2025, 3, 4)
    assert published(page(f"<h1>{TITLE}</h1><span>Ann Lee</span> <span>07.11.2023</span>", lang="en-US")) == (
        date(2023, 11, 7)
    )


def test_printed_day_far_from_the_stated_one_wins_when_htmldate_agrees(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stated day months off the printed one: htmldate's extensive search decides between them."""
    from worker.normalise import dates

    stale = '<meta name="sailthru.date" content="2023-01-05">'
    body = page(f"<h1>{TITLE}</h1><p>March 5, 2024</p>", head=stale)
    assert published(body) == date(2023, 1, 5)  # htmldate reads the same stale meta tag
    monkeypatch.setattr(dates, "last_resort_date", lambda *_: dates.day_date(date(2024, 3, 5)))
    assert published(body) == date(2024, 3, 5)
    monkeypatch.setattr(dates, "PRINTED_WITH_HTMLDATE", False)
    assert published(body) == date(2023, 1, 5)
