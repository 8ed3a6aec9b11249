"""Reader HTML: the page's own links and images on the extracted paragraphs, sanitised."""

from __future__ import annotations

import re

from lxml import etree

from worker.normalise.extract import article_from_content, extract_article

PARAS = [
    "The city council approved a new transport budget on Tuesday after months of debate, raising "
    "spending on buses and trams by a fifth over the next three years.",
    "Supporters said the plan would cut congestion in the centre, while opponents argued that the "
    "money would be better spent on repairing roads in the outer districts of the city.",
    "The mayor, who had campaigned on the issue, called the vote a turning point for the city and "
    "promised that the first new routes would open before the end of the year.",
    "Officials said fares would stay frozen until at least next spring, and that a review of night "
    "services would be published in the autumn after a public consultation.",
]
URL = "https://www.cityherald.example/news/2024/03/05/transport-budget"


def _page(body: str, head: str = "") -> bytes:
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Council approves "
        f"transport budget | City Herald</title>{head}</head><body>"
        "<nav><a href='/'>Home</a> <a href='/news/'>News</a><img src='/logo.png' class='logo'></nav>"
        f"<article><h1>Council approves transport budget</h1><div class='entry-content'>{body}</div>"
        "</article><aside class='related'><a href='/other'><img src='/thumb.jpg'>Other story</a>"
        "</aside><footer><p>Contact us</p></footer></body></html>"
    ).encode()


def _links(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]*)"', html)


def _html_paragraphs(html: str) -> list[str]:
    root = etree.fromstring(f"<div>{html}</div>", etree.HTMLParser())
    return [" ".join("".join(p.itertext()).split()) for p in root.iter("p")]


def test_links_are_kept_and_made_absolute() -> None:
    body = (
        f"<p>{PARAS[0][:20]}<a href='../budget.html'>{PARAS[0][20:50]}</a>{PARAS[0][50:]}</p>"
        f"<p>{PARAS[1][:30]}<a href='https://other.example/x?a=1&amp;b=2'>{PARAS[1][30:60]}</a>"
        f"<em>{PARAS[1][60:90]}</em>{PARAS[1][90:]}</p>"
        f"<p>{PARAS[2]} <a href='mailto:desk@cityherald.example'>Write to us</a></p><p>{PARAS[3]}</p>"
    )
    art = extract_article(_page(body), url="https://t.example/r/1", final_url=URL)
    assert _links(art.html) == [
        "https://www.cityherald.example/news/2024/03/budget.html",
        "https://other.example/x?a=1&amp;b=2",
        "mailto:desk@cityherald.example",
    ]
    assert 'rel="noopener noreferrer nofollow"' in art.html
    assert f"<em>{PARAS[1][60:90]}</em>" in art.html
    assert "Home" not in art.html and "Other story" not in art.html


def test_base_href_is_respected() -> None:
    body = f"<p>{PARAS[0][:20]}<a href='budget.html'>{PARAS[0][20:50]}</a>{PARAS[0][50:]}</p>" + "".join(
        f"<p>{p}</p>" for p in PARAS[1:]
    )
    art = extract_article(_page(body, head="<base href='https://static.cityherald.example/a/'>"), url=URL)
    assert _links(art.html) == ["https://static.cityherald.example/a/budget.html"]


def test_unsafe_links_and_attributes_are_dropped() -> None:
    body = (
        f"<p onclick='steal()' style='color:red'>{PARAS[0][:20]}<a href='javascript:alert(1)'>"
        f"{PARAS[0][20:50]}</a>{PARAS[0][50:]}</p>"
        f"<p>{PARAS[1][:30]}<a href=' JaVaScRiPt:alert(2)'>{PARAS[1][30:60]}</a>{PARAS[1][60:]}"
        "<iframe src='https://evil.example/'></iframe></p>"
        f"<p>{PARAS[2]}<img src='javascript:alert(3)' alt='x'></p><p>{PARAS[3]}</p>"
    )
    art = extract_article(_page(body), url=URL)
    low = art.html.lower()
    for bad in ("javascript", "onclick", "style=", "<iframe", "<a "):
        assert bad not in low, bad
    assert art.text == "\n\n".join(PARAS)


def test_content_images_with_absolute_src_alt_and_caption() -> None:
    body = (
        f"<p>{PARAS[0]}</p>"
        "<figure><img src='data:image/gif;base64,R0lGOD' data-src='/img/tram.jpg' alt='A tram'>"
        "<figcaption>A tram in the centre. (Photo: City Herald)</figcaption></figure>"
        f"<p>{PARAS[1]}<img src='/pixel.gif' width='1' height='1'></p>"
        "<div class='share-bar'><img src='/icons/facebook.png'></div>"
        f"<p>{PARAS[2]} <img src='chart.png' alt='Spending chart'></p><p>{PARAS[3]}</p>"
    )
    art = extract_article(_page(body), url=URL)
    srcs = re.findall(r'<img src="([^"]*)"', art.html)
    assert srcs == [
        "https://www.cityherald.example/img/tram.jpg",
        "https://www.cityherald.example/news/2024/03/05/chart.png",
    ]
    assert 'alt="A tram"' in art.html and 'alt="Spending chart"' in art.html
    assert "<figcaption>A tram in the centre. (Photo: City Herald)</figcaption>" in art.html
    assert "data:" not in art.html and "logo" not in art.html and "thumb" not in art.html
    # The figure sits between the paragraphs it sat between on the page.
    assert art.html.index("tram.jpg") > art.html.index(PARAS[0][-20:]) > -1
    assert art.html.index("tram.jpg") < art.html.index(PARAS[1][:20])
    assert art.text == "\n\n".join(PARAS)


def test_boilerplate_the_text_drops_is_absent_from_html() -> None:
    body = (
        f"<p><strong>LONDON (Reuters)</strong> - {PARAS[0]}</p>"
        "<p><strong>Also Read:</strong> <a href='/other'>Mayor unveils cycling plan for the city</a></p>"
        f"<p>{PARAS[1]}</p><p>{PARAS[1]}</p>"
        f"<p>{PARAS[2]}</p>"
        "<p><em>Updated March 6, 2024</em><br><em>Updated March 7, 2024</em></p>"
        f"<p>{PARAS[3]} (T/R07/R01)</p>"
        "<p>City Herald News Agency (CHNA)</p>"
    )
    art = extract_article(_page(body), url=URL)
    assert art.text == "\n\n".join(PARAS)
    assert (art.dateline, art.agency) == ("London", "Reuters")
    for gone in ("LONDON", "Reuters", "Also Read", "cycling", "Updated", "T/R07", "CHNA"):
        assert gone not in art.html, gone
    # The html says what the text says, paragraph for paragraph.
    assert _html_paragraphs(art.html) == art.text.split("\n\n")


def test_numbered_lists_and_headings_keep_their_shape() -> None:
    body = (
        f"<p>{PARAS[0]}</p><h2>What <a href='/changes'>changes</a> for riders</h2>"
        "<ol><li>Fares are frozen until next spring for all riders.</li>"
        "<li>Night buses run every twenty minutes on weekends.</li></ol>" + "".join(f"<p>{p}</p>" for p in PARAS[1:])
    )
    art = extract_article(_page(body), url=URL)
    assert "<ol><li>Fares are frozen" in art.html
    assert '<h2>What <a href="https://www.cityherald.example/changes"' in art.html


def test_feed_content_links_absolute_against_entry_and_sanitised() -> None:
    html = (
        f"<p><b>PARIS (AFP)</b> - {PARAS[0]} <a href='/more'>More</a> "
        "<a href='javascript:x()'>bad</a></p>"
        f"<p onmouseover='x()'>{PARAS[1]}<img src='/a/pic.jpg' alt='Pic'>"
        "<img src='https://t.example/p.gif' width='1' height='1'></p><p>Related: Other story</p>"
    )
    art = article_from_content(url="https://feed.example.com/2024/story", title="Budget", html=html)
    assert art.text == PARAS[0] + " More bad\n\n" + PARAS[1]
    assert _links(art.html) == ["https://feed.example.com/more"]
    assert '<img src="https://feed.example.com/a/pic.jpg" alt="Pic">' in art.html
    for gone in ("PARIS", "AFP", "javascript", "onmouseover", "p.gif", "Related"):
        assert gone not in art.html, gone


def test_page_elements_are_found_in_page_order_however_far_the_index_has_gone() -> None:
    """The index of page elements grows as lookups need it: a text found before the last match
    is looked for after it, else the first one is taken; a div's bare text is found too."""
    from worker.normalise.contenthtml import _key, _Sources
    from worker.normalise.parsing import parse_html

    tree = parse_html(
        "<html><body><p>Teaser</p><p>One</p><div>Bare <b>text</b></div><p>Teaser</p><p>Two</p>"
        "<p>One</p><img src='a.jpg'><p>Footer</p></body></html>"
    )
    assert tree is not None
    paras = tree.findall(".//p")
    sources = _Sources(tree)
    assert sources.find(_key("One"), -1) is paras[1]
    assert sources.images == []  # nothing past the first "One" indexed yet
    assert sources.find(_key("Teaser"), sources.order[paras[1]]) is paras[2]  # the later one
    assert sources.find(_key("One"), sources.order[paras[2]]) is paras[4]
    assert sources.find(_key("Teaser"), sources.order[paras[4]]) is paras[0]  # none after: the first
    assert sources.find(_key("Bare text"), -1) is tree.find(".//div")
    assert sources.find(_key("nowhere"), -1) is None
    assert len(sources.images) == 1 and sources.find(_key("Footer"), 0) is paras[5]
