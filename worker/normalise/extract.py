"""Article pages (or a feed entry's own content) into clean, normalised articles: the public API.

trafilatura finds the main block of the page (fast mode, no comments). On top of it the
modules of this package add what a news pipeline knows and a generic extractor does not:

- ``decoding``: bytes to text, charsets, mojibake repair;
- ``pagemeta``: JSON-LD and ``<meta>`` read cheaply from the same parsed tree;
- ``extraction``: the trafilatura calls (main text and its XML body);
- ``title``: titles without site-name parts, the headline element;
- ``authors``: cleaned bylines;
- ``dates``: dates in UTC with the publisher's calendar day kept, in one place;
- ``textclean``: wire datelines and agencies, boilerplate that survives extraction (inserts,
  repeated captions, desk codes, agency footers);
- ``language``, ``canonical`` (the page's and its image's addresses), ``pagekind`` (listings,
  forums and shops are flagged instead of stored as articles);
- ``content``: articles from a feed entry's own content or an import line;
- ``fallback``: when the feed's content stands in for the page (one place).

Decision on datelines: the prefix (``WASHINGTON (Reuters) -``) is parsed into
``dateline``/``agency`` and removed from ``text``; the story's first sentence is
kept intact. Syndicated copies of one story then start with the same words.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import islice

from worker.model.article import FeedHints, NormalisedArticle
from worker.normalise.authors import choose_authors, clean_authors
from worker.normalise.canonical import choose_url, image_url
from worker.normalise.content import article_from_content, is_whole_page
from worker.normalise.contenthtml import page_html
from worker.normalise.dates import (
    day_date,
    feed_or_page_date,
    last_resort_date,
    page_dates,
    printed_page_date,
    publisher_offset,
    reconcile_stated,
    url_date,
)
from worker.normalise.decoding import decode_body
from worker.normalise.extraction import caption_elements, extract_main
from worker.normalise.fallback import unparseable_page, with_feed_content
from worker.normalise.language import detect_language, lang_code
from worker.normalise.pagekind import KindSignals, classify_page
from worker.normalise.pagemeta import read_page_meta, squash
from worker.normalise.parsing import parse_html
from worker.normalise.textclean import (
    caption_keys,
    clean_paragraphs,
    normalise_unicode,
    paragraphs_of,
    text_key,
)
from worker.normalise.textclean import clean_text as _clean_text
from worker.normalise.title import (
    choose_title,
    clean_title,
    drop_leading_title,
    find_headline,
    learn_site_names,
    publisher_names,
    site_keys,
    site_urls,
    strip_site_names,
)

__all__ = [
    "MAX_PAGE_ELEMENTS",
    "KindSignals",
    "PageTooComplex",
    "article_from_content",
    "article_from_import",
    "classify_page",
    "clean_authors",
    "clean_text",
    "clean_title",
    "decode_body",
    "extract_article",
]


# Where htmldate extensive is asked when nothing else dates a page: "all", "article" (pages
# classified as articles) or "none". Measured (docs/normalisation.md, "Dates"): "all" dates the most labelled
# pages and guesses on pages labelled undated; "article" keeps most of the guesses and few gains.
LAST_RESORT_DATE = "all"


def extract_article(
    body: bytes,
    *,
    url: str,
    final_url: str | None = None,
    content_type: str | None = None,
    hints: FeedHints | None = None,
    site_names: tuple[str, ...] = (),
) -> NormalisedArticle:
    """Normalise a fetched article page. ``site_names``: names the site is known by, used to
    strip title suffixes (``hints.site_titles``, the feed's other titles, add learned ones)."""
    hints = hints or FeedHints()
    warnings: list[str] = []
    page_url = final_url or url
    text_doc, decode_warnings = decode_body(body, content_type)
    warnings.extend(decode_warnings)
    tree = parse_html(text_doc) if text_doc and not text_doc.isspace() else None
    if tree is None:
        warnings.append("unparseable_html")
        return unparseable_page(page_url=page_url, hints=hints, warnings=warnings)
    if _may_be_too_complex(text_doc) and sum(1 for _ in islice(tree.iter(), MAX_PAGE_ELEMENTS + 1)) > MAX_PAGE_ELEMENTS:
        raise PageTooComplex(
            f"the page has more than {MAX_PAGE_ELEMENTS:,} HTML elements"
            " (news pages have a few thousand): not extracted"
        )

    pm = read_page_meta(tree)
    learned_names = learn_site_names(hints.site_titles)
    raw_text, main_body = extract_main(tree, page_url)
    captions = caption_keys([normalise_unicode(squash(c.text_content())) for c in caption_elements(tree)])
    cleaned = clean_paragraphs(paragraphs_of(normalise_unicode(raw_text)), captions=captions)
    site_name_list = [
        n
        for n in (
            pm.first("og:site_name", "application-name", "al:android:app_name", "twitter:site"),
            *publisher_names(pm),
            *site_names,
            *learned_names,
        )
        if n
    ]
    site_name_list = [n.lstrip("@") for n in site_name_list]
    keys = site_keys(site_name_list, site_urls(pm, page_url))

    title = (hints.title and squash(normalise_unicode(hints.title))) or choose_title(pm, page_url, site_name_list)
    title = strip_site_names(title, learned_names)
    cleaned = drop_leading_title(cleaned, title)
    headline = find_headline(tree, title)  # bylines and printed dates sit next to it
    authors = tuple(a for a in (squash(normalise_unicode(a)) for a in hints.authors) if a) or choose_authors(
        pm, tree, keys, headline
    )
    published, modified = page_dates(pm)
    stated_date = published is not None
    if published is not None and hints.published_at is None:
        published = reconcile_stated(published, headline, pm, tree, page_url)
    if published is None and hints.published_at is None:
        # The permalink's date, else what the page prints: by the headline, under a
        # "Published" label, htmldate's scan of the headline's surroundings.
        published = url_date(page_url) or printed_page_date(tree, page_url, headline, pm)
        if published is None and cleaned.dateline and cleaned.dateline.day:
            published = day_date(cleaned.dateline.day)
    published_at, published_date = feed_or_page_date(hints.published_at, published)
    updated_at, _ = feed_or_page_date(hints.updated_at, modified)

    text = cleaned.text
    html = page_html(
        main_body,
        tree,
        page_url,
        dropped=cleaned.dropped,
        dateline_prefix=cleaned.dateline.prefix if cleaned.dateline else None,
        key=text_key,
    )
    if not text.strip():
        warnings.append("no_text")
    words = len(text.split())
    sig = KindSignals(
        types=pm.types,
        has_date=published is not None,
        stated_date=stated_date,
        has_author=bool(authors),
        words=words,
        paragraphs=len(cleaned.paragraphs),
        long_paragraphs=sum(1 for p in cleaned.paragraphs if len(p.split()) >= 30),
    )
    kind = classify_page(sig, page_url, text)
    if (
        published is None
        and hints.published_at is None
        and LAST_RESORT_DATE != "none"
        and (LAST_RESORT_DATE == "all" or kind == "article")
    ):
        published = last_resort_date(tree, page_url)
        published_at, published_date = feed_or_page_date(None, published)
    if kind != "article":
        warnings.append("non_article")
    declared_lang = hints.language or pm.html_lang or pm.first("content-language", "og:locale", "dc.language")
    language = lang_code(hints.language) or detect_language(text, declared_lang)
    image = image_url(pm, page_url)
    description = pm.first("og:description", "description", "twitter:description")
    page = NormalisedArticle(
        url=choose_url(pm, url, final_url),
        title=title or None,
        text=text,
        html=html,
        authors=authors,
        published_at=published_at,
        updated_at=updated_at,
        language=language,
        image_url=image,
        dateline=cleaned.dateline.place if cleaned.dateline else None,
        agency=cleaned.dateline.agency if cleaned.dateline else None,
        word_count=words,
        page_kind=kind,
        source="page",
        warnings=tuple(dict.fromkeys(warnings)),
        published_date=published_date,
        published_offset_minutes=publisher_offset(published_at, published),
        site_name=site_name_list[0] if site_name_list else None,
        description=squash(normalise_unicode(description)) if description else None,
    )
    # Paywall, script-only page, consent wall: the feed's own content stands in.
    return with_feed_content(page, url=url, hints=hints)


# Real news pages have a few thousand elements (1,682 pages of AEB, WCXB and trafilatura-eval:
# median 749, 99th percentile 2,881, largest 10,112). Extraction time grows with the markup, and
# malformed markup (200,000 unclosed table cells, 1.6 MB) held a worker for 22 s of CPU and 1.2 GB
# of memory, a slower machine past the task's time limit, every attempt: such a page is refused
# at once, with this reason, before any extraction runs.
MAX_PAGE_ELEMENTS = 50_000


def _may_be_too_complex(text: str) -> bool:
    """Whether the page's markup could hold more than MAX_PAGE_ELEMENTS elements (counting them
    walks the whole tree). Each element but the implied html, head and body starts at a ``<``,
    and the parser's implied paragraphs take one text run each, so a page has at most
    ``2 * count("<") + 3`` elements."""
    return 2 * text.count("<") + 3 > MAX_PAGE_ELEMENTS


class PageTooComplex(ValueError):
    """A page with more markup than any article page has: not extracted (see MAX_PAGE_ELEMENTS)."""


def article_from_import(
    *, url: str, title: str | None, html: str | None, text: str | None, hints: FeedHints
) -> NormalisedArticle:
    """An import line: ``html`` that is a whole page goes through the same page extraction as a
    fetched page (title, date, authors, text, html, page kind; ``title`` and the hints win as a
    feed's would); a fragment, or plain ``text``, is the article's own content. A page that yields
    no text falls back to the line's ``text`` when it has one."""
    if html and is_whole_page(html):
        try:
            page = extract_article(
                html.encode("utf-8", "replace"),
                url=url,
                content_type="text/html; charset=utf-8",
                hints=replace(hints, content_html=None),
            )
        except PageTooComplex:
            if not (text and text.strip()):
                raise
            page = None
        if page is not None and (page.text or not (text and text.strip())):
            return page
        html = None
    return article_from_content(url=url, title=title, html=html, text=text, hints=hints)


def clean_text(text: str) -> str:
    """Unicode and boilerplate cleaning of plain text, shared with the page path."""
    return _clean_text(text)
