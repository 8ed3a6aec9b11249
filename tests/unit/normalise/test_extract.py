from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from worker.model.article import FeedHints
from worker.normalise.extract import (
    KindSignals,
    article_from_content,
    classify_page,
    clean_authors,
    clean_title,
    decode_body,
    extract_article,
)
from worker.normalise.title import learn_site_names, strip_site_names

PARAS = [
    "The city council voted on Tuesday to approve a new budget that raises spending on public "
    "transport by a fifth, after months of debate between the mayor and opposition members.",
    "Officials said the money would pay for new buses, longer opening hours on the metro and a "
    "study of a tram line to the airport, which residents have demanded for more than a decade.",
    "Opposition members said the plan relied on optimistic forecasts of ticket sales and warned "
    "that fares could rise next year if the city's revenue fell short of the projections.",
    "The mayor told reporters after the vote that the budget was balanced and that the city had "
    "kept a reserve large enough to cover any shortfall without raising fares for commuters.",
    "The budget takes effect on the first of January and will be reviewed by the council in June, "
    "when the first figures on ridership and revenue from the new services become available.",
]


def page(
    *,
    title: str = "Council approves transport budget | City Herald",
    h1: str = "Council approves transport budget",
    head: str = "",
    byline: str = "",
    paras: list[str] = PARAS,
    charset: str = "utf-8",
) -> str:
    body = "".join(f"<p>{p}</p>" for p in paras)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta'
        f' charset="{charset}"><title>{title}</title>{head}</head>'
        f'<body><nav><a href="/">Home</a> <a href="/news/">News</a> <a'
        f' href="/sport/">Sport</a></nav>'
        f"<article><h1>{h1}</h1>{byline}<div class='body'>{body}</div></article>"
        "<footer><p>Contact us</p></footer></body></html>"
    )


URL = "https://www.cityherald.example/news/2024/03/05/council-budget"


def test_title_site_suffix_removed_using_site_name() -> None:
    head = '<meta property="og:site_name" content="City Herald">'
    art = extract_article(page(head=head, h1="Something else entirely").encode(), url=URL)
    assert art.title == "Council approves transport budget"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Council approves budget | City Herald", "Council approves budget"),
        ("Council approves budget - City Herald", "Council approves budget"),
        ("City Herald: Council approves budget", "Council approves budget"),
        ("Council approves budget – cityherald.example", "Council approves budget"),
        ("Why the budget matters: a guide", "Why the budget matters: a guide"),
    ],
)
def test_clean_title(raw: str, expected: str) -> None:
    assert clean_title(raw, site_names=["City Herald"], url=URL, h1=[]) == expected


def test_title_prefers_visible_headline_over_seo_title() -> None:
    head = '<meta property="og:title" content="Transport budget 2024: everything you need to know">'
    art = extract_article(page(head=head, h1="Council approves the 2024 transport budget").encode(), url=URL)
    assert art.title == "Council approves the 2024 transport budget"


@pytest.mark.parametrize(
    ("title", "h1", "og", "expected"),
    [
        # the kicker is its own element in the h1; og:title has the headline alone
        (
            "Council approves budget | City Herald",
            "<span>Transport</span> Council approves budget",
            "Council approves budget",
            "Council approves budget",
        ),
        # the kicker opens the stated title ("Kicker: headline"); the h1 is the headline alone
        (
            "Transport: Council approves budget - City Herald",
            "Council approves budget",
            None,
            "Council approves budget",
        ),
        # the h1 agrees with og:title: it wins over a different <title>
        (
            "Budget passes after long debate",
            "Council approves budget",
            "Council approves budget",
            "Council approves budget",
        ),
        # one text node: "Most" is part of the headline, not a kicker
        (
            "Common budget questions",
            "Most common budget questions",
            "Common budget questions",
            "Most common budget questions",
        ),
    ],
)
def test_title_kicker_and_agreeing_h1(title: str, h1: str, og: str | None, expected: str) -> None:
    head = f'<meta property="og:title" content="{og}">' if og else ""
    art = extract_article(page(title=title, h1=h1, head=head).encode(), url=URL)
    assert art.title == expected


def test_one_word_title_that_shares_nothing_with_a_long_h1_is_the_site_name() -> None:
    html = page(title="Integralist", h1="Rust ownership, borrowing and lifetimes")
    assert extract_article(html.encode(), url="http://127.0.0.1:8000/copy/2").title == (
        "Rust ownership, borrowing and lifetimes"
    )


def test_title_site_suffix_recognised_from_canonical_host() -> None:
    """A page served from another address (a mirror, a local copy) names its site in its canonical link."""
    head = '<link rel="canonical" href="https://www.cityherald.example/news/council-budget">'
    html = page(title="CityHerald: Council approves transport budget", h1="", head=head)
    copy = "http://127.0.0.1:8000/copy/1"
    assert extract_article(html.encode(), url=copy).title == "Council approves transport budget"
    assert extract_article(html.replace(head, "").encode(), url=copy).title != "Council approves transport budget"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["By Jane Doe, Staff Writer"], ("Jane Doe",)),
        (["By JANE DOE and John Smith"], ("Jane Doe", "John Smith")),
        (["Written by Ana María López | Senior Reporter"], ("Ana María López",)),
        (["Angela Holliday-Bell, MD"], ("Angela Holliday-Bell, MD",)),
        (["https://www.facebook.com/janedoe"], ()),
        (["jane@example.com"], ()),
        (["admin"], ()),
    ],
)
def test_clean_authors(raw: list[str], expected: tuple[str, ...]) -> None:
    assert clean_authors(raw, site_keys=set()) == expected


def test_authors_from_jsonld_person_not_publisher() -> None:
    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": "Council approves transport budget",
        "author": [
            {"@type": "Person", "name": "Jane Doe"},
            {"@type": "Organization", "name": "City Herald"},
        ],
        "datePublished": "2024-03-05T21:30:00-05:00",
        "dateModified": "2024-03-06T08:00:00Z",
    }
    head = f'<script type="application/ld+json">{json.dumps(ld)}</script>'
    art = extract_article(page(head=head).encode(), url=URL)
    assert art.authors == ("Jane Doe",)
    # 21:30 in New York is the next day in UTC; the publisher's calendar day is kept too.
    assert art.published_at == datetime(2024, 3, 6, 2, 30, tzinfo=UTC)
    assert art.published_date == date(2024, 3, 5)
    assert art.published_offset_minutes == -300  # and the publisher's clock, for exports
    assert art.updated_at == datetime(2024, 3, 6, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stated", "offset"),
    [
        ("2024-03-05T21:30:00+05:30", 330),
        ("2024-03-05T21:30:00Z", 0),
        ("2024-03-05T21:30:00", None),  # no zone stated: taken as UTC, no publisher's clock
        ("2024-03-05", None),
    ],
)
def test_the_publishers_utc_offset_is_kept_only_where_the_page_states_it(stated: str, offset: int | None) -> None:
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "datePublished": stated}
    art = extract_article(page(head=f'<script type="application/ld+json">{json.dumps(ld)}</script>').encode(), url=URL)
    assert art.published_offset_minutes == offset


def test_byline_on_page_when_no_metadata() -> None:
    byline = '<div class="meta"><span class="byline">By <a href="/author/jd">Jane Doe</a></span> March 5, 2024</div>'
    art = extract_article(page(byline=byline).encode(), url=URL)
    assert art.authors == ("Jane Doe",)
    assert art.published_date == date(2024, 3, 5)


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ('<link rel="canonical" href="/news/2024/03/05/council-budget?utm_source=x">', URL),
        ('<link rel="canonical" href="https://other.example/copy">', URL),  # other site: ignored
        ('<link rel="canonical" href="https://www.cityherald.example/">', URL),  # homepage: ignored
        ('<meta property="og:url" content="https://WWW.cityherald.example/story-123#top">',
         "https://www.cityherald.example/story-123"),
    ],
)  # fmt: skip
def test_canonical_url(link: str, expected: str) -> None:
    art = extract_article(page(head=link).encode(), url=URL + "?fbclid=1&utm_medium=social")
    assert art.url == expected


def test_final_url_used_when_no_canonical() -> None:
    art = extract_article(page().encode(), url="https://t.example/abc", final_url=URL + "?gclid=9#x")
    assert art.url == URL


def test_html_is_sanitised() -> None:
    paras = [
        *PARAS[:2],
        PARAS[2] + '<script>alert(1)</script><img src="x" onerror="alert(2)">',
        *PARAS[3:],
    ]
    art = extract_article(page(paras=paras).encode(), url=URL)
    assert "<script" not in art.html and "onerror" not in art.html
    assert "<p>" in art.html


def test_declared_cp1252_is_honoured() -> None:
    text = page(paras=[p + " Café señor." for p in PARAS], charset="windows-1252")
    art = extract_article(text.encode("cp1252"), url=URL)
    assert "Café señor." in art.text
    assert "charset_repaired" not in art.warnings


def test_undeclared_legacy_charset_is_detected() -> None:
    body = page(paras=[p + " Ça coûte très cher, déclare-t-il." for p in PARAS]).replace('<meta charset="utf-8">', "")
    decoded, warnings = decode_body(body.encode("cp1252"))
    assert "Ça coûte très cher" in decoded
    assert "charset_repaired" in warnings


def test_language_detected_from_text() -> None:
    german = [
        "Der Stadtrat hat am Dienstag einen neuen Haushalt beschlossen, der die Ausgaben für den "
        "öffentlichen Nahverkehr um ein Fünftel erhöht, nachdem monatelang gestritten wurde.",
    ] * 5
    art = extract_article(page(paras=[f"{p} ({i})" for i, p in enumerate(german)]).encode(), url=URL)
    assert art.language == "de"


def test_empty_page_falls_back_to_feed_content() -> None:
    hints = FeedHints(
        title="Council approves transport budget",
        content_html="<p>" + "</p><p>".join(PARAS[:2]) + "</p><p>READ MORE: other story</p>",
        published_at=datetime(2024, 3, 5, 12, tzinfo=UTC),
    )
    paywall = extract_article(
        b"<html><head><title>Subscribe</title></head><body><div id='app'></div></body></html>",
        url=URL,
        hints=FeedHints(content_html="<p>PARIS (AFP) - " + PARAS[0] + "</p>"),
    )
    assert paywall.source == "feed" and "no_text" in paywall.warnings
    assert paywall.text == PARAS[0] and (paywall.dateline, paywall.agency) == ("Paris", "AFP")
    art = extract_article(b"", url=URL, hints=hints)
    assert art.source == "feed"
    assert art.text == "\n\n".join(PARAS[:2])
    assert art.title == hints.title
    assert art.published_at == hints.published_at
    assert "READ MORE" not in art.html


def test_page_without_text_and_without_feed_content() -> None:
    art = extract_article(b"", url=URL)
    assert art.word_count == 0 and art.text == ""
    assert art.page_kind == "empty" and not art.is_article
    assert "no_text" in art.warnings
    nav_only = extract_article(b"<html><body><nav><a href='/'>Home</a></nav></body></html>", url=URL)
    assert not nav_only.is_article and "non_article" in nav_only.warnings


def test_article_from_html_content() -> None:
    html = "<div><p>LONDON (AP) — " + PARAS[0] + "</p><p>" + PARAS[1] + "</p><p>Related: Other</p></div>"
    art = article_from_content(url=URL, title="Budget", html=html)
    assert art.text == PARAS[0] + "\n\n" + PARAS[1]
    assert (art.dateline, art.agency) == ("London", "AP")
    assert art.source == "feed" and art.is_article


@pytest.mark.parametrize(
    ("signals", "url", "expected"),
    [
        (KindSignals(types={"newsarticle"}, has_date=True, stated_date=True, has_author=True,
                     words=600,
                     paragraphs=10, long_paragraphs=8), URL, "article"),
        (KindSignals(types={"product"}, words=300, paragraphs=12, long_paragraphs=1),
         "https://shop.example/products/red-shoes", "product"),
        (KindSignals(types={"og:website"}, has_date=True, words=900, paragraphs=30,
                     long_paragraphs=6),
         "https://forum.example/threads/how-to-fix-my-bike.123/", "forum"),
        (KindSignals(types={"collectionpage"}, words=500, paragraphs=40, long_paragraphs=0),
         "https://www.cityherald.example/category/politics/", "listing"),
        (KindSignals(words=0), URL, "empty"),
    ],
)  # fmt: skip
def test_classify_page(signals: KindSignals, url: str, expected: str) -> None:
    assert classify_page(signals, url, "") == expected


def test_forum_and_shop_words_still_decide_a_page_that_is_only_just_an_article() -> None:
    """The text is scanned only when its words could make a page no article: a page that stays
    an article whatever its text says, and one that its text makes a forum."""
    text_forum = "Reply quote replies joined upvote #12 registered user member since. " * 2
    text_shop = " add to cart, buy now, in stock, free shipping, quantity."
    strong = KindSignals(has_date=True, stated_date=True, has_author=True, words=600, paragraphs=9,
                         long_paragraphs=5)  # fmt: skip
    weak = KindSignals(has_date=True, words=400, paragraphs=9, long_paragraphs=5)  # 0.75 - 0.5 + 0.5
    url = "https://news.example/story-of-the-day"
    assert classify_page(strong, url, text_forum + text_shop) == "article"
    assert classify_page(weak, url, text_forum) == "article"  # 0.75 - 1: still an article
    assert classify_page(weak, url, text_shop) == "article"
    assert classify_page(weak, url, text_forum + text_shop) == "forum"  # 0.75 - 2


def test_listing_page_is_not_an_article() -> None:
    items = "".join(
        f'<li><a href="/news/2024/03/0{i}/story-{i}">Story number {i} about the council</a> '
        f"<span>March {i}, 2024</span></li>"
        for i in range(1, 10)
    )
    html = (
        '<html><head><title>Politics | City Herald</title><script type="application/ld+json">'
        '{"@type": "CollectionPage", "name": "Politics"}</script></head>'
        f"<body><h1>Politics</h1><ul>{items}</ul></body></html>"
    )
    art = extract_article(html.encode(), url="https://www.cityherald.example/category/politics/")
    assert art.page_kind != "article"
    assert "non_article" in art.warnings


def test_microdata_question_page_is_a_forum_and_microdata_comments_leave_an_article_alone() -> None:
    """Q&A and forum software declares its pages in microdata, not JSON-LD: a dated, signed
    question with long answers looks like an article on every other signal."""
    head = (
        '<meta property="og:type" content="article">'
        '<meta property="article:published_time" content="2024-03-05T09:00:00Z">'
        '<meta name="author" content="Jane Reporter">'
    )
    qa = page(head=head).replace("<body>", '<body itemscope itemtype="https://schema.org/QAPage">')
    assert extract_article(qa.encode(), url=URL).page_kind == "forum"
    comments = page(head=head).replace(
        "<footer>", '<div itemscope itemtype="https://schema.org/Comment"><p>Nice piece.</p></div><footer>'
    )
    assert extract_article(comments.encode(), url=URL).page_kind == "article"


def test_feed_language_wins_and_is_normalised() -> None:
    art = extract_article(page().encode(), url=URL, hints=FeedHints(language="en-GB"))
    assert art.language == "en"
    short = article_from_content(url=URL, title="T", text="Kurz.", hints=FeedHints(language="de_DE"))
    assert short.language == "de"


def test_feed_html_with_bare_text_and_breaks() -> None:
    html = (
        "<figure><img src='/a.jpg'><figcaption>Photo: Reuters</figcaption></figure>"
        + PARAS[0]
        + "<br><br>"
        + PARAS[1]
        + "<script>track()</script>"
    )
    art = article_from_content(url=URL, title="Budget", html=html)
    assert PARAS[0] in art.text and PARAS[1] in art.text
    assert "Photo: Reuters" not in art.text and "track()" not in art.text
    assert "<script" not in art.html and "<img" in art.html


def test_permalink_date_when_page_states_none() -> None:
    art = extract_article(page().encode(), url="https://blog.example/2015/01/08/a-working-mother/")
    assert art.published_date == date(2015, 1, 8)
    assert art.published_at == datetime(2015, 1, 8, tzinfo=UTC)


def test_textual_meta_date() -> None:
    head = '<meta name="citation_publication_date" content="2023 Jan 7">'
    art = extract_article(page(head=head).encode(), url="https://journal.example/articles/PMC1/")
    assert art.published_date == date(2023, 1, 7)


def test_site_names_are_learned_from_what_a_sites_titles_share() -> None:
    titles = [
        "Council approves budget - Morning Gazette",
        "Bridge closes for repairs - Morning Gazette",
        "Gazette Live: Library opens late",
        "Gazette Live: Schools plan longer break",
        "Gazette Live: Harbour fair returns",
        "Mayor resigns - a quiet exit",
        "Morning Gazette | Tram line study begins",
    ]
    learned = learn_site_names(titles)
    assert set(learned) == {"Morning Gazette", "Gazette Live"}  # 3 titles each; "a quiet exit" once
    assert strip_site_names("Fares rise - Morning Gazette", learned) == "Fares rise"
    assert strip_site_names("Gazette Live: Fares rise", learned) == "Fares rise"
    assert strip_site_names("Fares rise - a subtitle", learned) == "Fares rise - a subtitle"
    assert strip_site_names("Morning Gazette", learned) == "Morning Gazette"  # never to nothing
    assert learn_site_names(titles[:2]) == ()  # two titles are not enough


def test_a_feed_title_loses_the_site_name_its_feeds_other_titles_share() -> None:
    others = (
        "Bridge closes - Morning Gazette",
        "Library opens late - Morning Gazette",
        "Fair returns - Morning Gazette",
    )
    hints = FeedHints(title="Council approves transport budget - Morning Gazette", site_titles=others)
    assert extract_article(page().encode(), url=URL, hints=hints).title == "Council approves transport budget"
    assert extract_article(page().encode(), url=URL, hints=FeedHints(title=hints.title)).title == hints.title
    feed_only = article_from_content(url=URL, title=hints.title, html="<p>Short teaser.</p>", hints=hints)
    assert feed_only.title == "Council approves transport budget"


@pytest.mark.parametrize(
    ("title", "h1", "og", "expected"),
    [
        # the h1 is the trailing part of the <title>: the blog's name over its posts
        ("Muffin base recipe : Muffin Recipes", "Muffin Recipes", None, "Muffin base recipe"),
        # ... but not after a short section name ("Section | Headline")
        ("Featured | Five tips for indie game design", "Five tips for indie game design", None,
         "Five tips for indie game design"),
        # WordPress's default template
        ("Four Years Remaining » Blog Archive » Interning of small integers", "Four Years Remaining", None,
         "Interning of small integers"),
        # a kicker in its own element of the h1, set apart by a dash in the stated title
        ("Olympic Games - Drinks reach the centre by boat",
         "<span>Olympic Games</span> <span>Drinks reach the centre by boat</span>", None,
         "Drinks reach the centre by boat"),
        # ... shown with its colon, it stays ("Kicker: Headline" reads as one title)
        ("Olympic Games: Drinks reach the centre by boat",
         "<span>Olympic Games:</span> <span>Drinks reach the centre by boat</span>", None,
         "Olympic Games: Drinks reach the centre by boat"),
        # the page's only h1 is the headline shown, whatever the SEO title says
        ("Buying guide", "Find an efficient vehicle that is right for you", "Hybrid and EV buying guide",
         "Find an efficient vehicle that is right for you"),
        # an h1 that is the stated title plus a subtitle or byline
        ("Enterprise cloud storage", "Enterprise cloud storage: the ultimate guide for teams", None,
         "Enterprise cloud storage"),
    ],
)  # fmt: skip
def test_title_rules_from_the_pages_own_structure(title: str, h1: str, og: str | None, expected: str) -> None:
    head = f'<meta property="og:title" content="{og}">' if og else ""
    art = extract_article(page(title=title, h1=h1, head=head).encode(), url="http://127.0.0.1:8000/p/1")
    assert art.title == expected


@pytest.mark.parametrize(
    ("ld_headline", "expected"),
    [
        # the publisher's JSON-LD headline states the dash part: it is the headline's own
        ("Dog scares off burglars – police ask for witnesses", "Dog scares off burglars – police ask for witnesses"),
        # without it, the part after the dash reads as furniture (a tagline, a site)
        (None, "Dog scares off burglars"),
        ("Dog scares off burglars", "Dog scares off burglars"),
    ],
)
def test_a_subtitle_the_json_ld_headline_states_is_kept(ld_headline: str | None, expected: str) -> None:
    shown = "Dog scares off burglars – police ask for witnesses"
    ld = f'<script type="application/ld+json">{{"@type": "NewsArticle", "headline": "{ld_headline}"}}</script>'
    head = f'<meta property="og:title" content="{shown}">' + (ld if ld_headline else "")
    art = extract_article(page(title=shown, h1=shown, head=head).encode(), url="http://127.0.0.1:8000/p/2")
    assert art.title == expected


@pytest.mark.parametrize(
    ("og", "title", "expected"),
    [
        # the site's template appends its name to the og:title: the dash part is the headline's
        ("Welpen kaufen – Tipps zu jeder Hunderasse", "Welpen kaufen – Tipps zu jeder Hunderasse | Hundeblog",
         "Welpen kaufen – Tipps zu jeder Hunderasse"),
        # og:title and <title> the same: nothing says the dash part is not furniture
        ("Welpen kaufen – Hundeblog", "Welpen kaufen – Hundeblog", "Welpen kaufen"),
        # a long tail is no site name: no template shown
        ("Welpen kaufen – Tipps", "Welpen kaufen – Tipps | alles was man beim Kauf eines Hundes wissen muss", "Welpen kaufen"),
    ],
)  # fmt: skip
def test_a_subtitle_the_og_title_states_before_the_sites_name_is_kept(og: str, title: str, expected: str) -> None:
    head = f'<meta property="og:title" content="{og}">'
    art = extract_article(page(title=title, h1="", head=head).encode(), url="http://127.0.0.1:8000/p/3")
    assert art.title == expected


def test_a_feed_that_mixes_sites_teaches_no_name_from_a_few_shared_words() -> None:
    titles = [f"Story {i} - Site {i}" for i in range(12)] + [f"Clip {i} - Video" for i in range(3)]
    assert learn_site_names(titles) == ()  # "Video" ends 3 of 15 titles: less than a quarter
    assert learn_site_names(titles[-3:] + titles[:5]) == ("Video",)


def test_a_page_with_more_markup_than_any_article_is_refused_and_an_ordinary_one_is_not() -> None:
    from worker.normalise.extract import MAX_PAGE_ELEMENTS, PageTooComplex, extract_article

    cells = MAX_PAGE_ELEMENTS // 2 + 10  # <tr><td>: two elements each
    poison = b"<html><body><table>" + b"<tr><td>x" * cells + b"</body></html>"
    with pytest.raises(PageTooComplex, match="HTML elements"):
        extract_article(poison, url="https://site.example/a")
    fine = b"<html><body><table>" + b"<tr><td>x" * (MAX_PAGE_ELEMENTS // 2 - 10) + b"</table></body></html>"
    assert extract_article(fine, url="https://site.example/b").source in ("page", "feed")


@pytest.mark.parametrize(
    ("title", "html"),
    [
        ("Council approves transport budget", "".join(f"<p>{p}</p>" for p in PARAS)),
        (None, "<p>Council approves transport budget</p>" + "".join(f"<p>{p}</p>" for p in PARAS)),
        ("T", "<p>PARIS (AFP) - " + PARAS[0] + "</p><p>Also Read: another story</p>"),
        ("T", ""),
    ],
)
def test_the_feed_contents_word_count_is_its_articles(title: str | None, html: str) -> None:
    from worker.normalise.content import content_word_count

    hints = FeedHints(title="Council approves transport budget", content_html=html)
    article = article_from_content(url=URL, title=title, html=html, hints=hints)
    assert content_word_count(title=title, html=html, hints=hints) == article.word_count


def test_a_page_shorter_than_its_feed_content_gives_way_to_the_feed_and_a_longer_one_does_not() -> None:
    from worker.normalise.fallback import choose

    feed_html = "".join(f"<p>{p}</p>" for p in PARAS)
    hints = FeedHints(title="Council approves transport budget", content_html=feed_html)
    long_page = extract_article(page().encode(), url=URL, hints=hints)
    teaser = extract_article(page(paras=PARAS[:1]).encode(), url=URL, hints=hints)
    kept = choose(long_page, url=URL, title=hints.title, feed_html=feed_html, hints=hints)
    assert kept.article is long_page and kept.error is None
    given_way = choose(teaser, url=URL, title=hints.title, feed_html=feed_html, hints=hints)
    expected = article_from_content(url=URL, title=hints.title, html=feed_html, hints=hints)
    assert given_way.article == expected
    assert given_way.error == f"short_page: page has {teaser.word_count} words, feed {expected.word_count}"


def test_trafilaturas_own_text_is_the_plain_text_of_its_body() -> None:
    """extract_main takes the text bare_extraction made instead of converting the body again."""
    from trafilatura.xml import xmltotxt

    from worker.normalise.extraction import _run_trafilatura, _text_of
    from worker.normalise.parsing import parse_html

    tree = parse_html(page(paras=[*PARAS, "A list:\n- one", "<b>bold</b> and <i>italic</i> text"]))
    assert tree is not None
    doc = _run_trafilatura(tree, URL, fast=True)
    assert doc is not None and doc.body is not None
    assert _text_of(doc) == xmltotxt(doc.body, False) and "Officials said" in _text_of(doc)
