"""Articles from content without a page: a feed entry's own HTML, or an import line's text."""

from __future__ import annotations

import re
from copy import copy
from datetime import UTC, datetime

from trafilatura.utils import load_html

from worker.model.article import FeedHints, NormalisedArticle
from worker.model.urls import InvalidURL, canonical_url
from worker.normalise.authors import clean_authors
from worker.normalise.contenthtml import content_html
from worker.normalise.dates import feed_or_page_date
from worker.normalise.decoding import repair_mojibake
from worker.normalise.language import detect_language, lang_code
from worker.normalise.pagemeta import squash
from worker.normalise.textclean import CleanedText, clean_paragraphs, normalise_unicode, paragraphs_of, text_key
from worker.normalise.title import drop_leading_title, learn_site_names, strip_site_names

_WHOLE_PAGE = re.compile(r"<(?:html|head|body)\b|<!doctype\s+html", re.I)


def is_whole_page(html: str) -> bool:
    """A whole page (``<html>``, ``<head>``, ``<body>`` or a doctype near the start) rather than
    an article's own content: such HTML carries navigation and comments and needs page extraction."""
    return _WHOLE_PAGE.search(html[:5000]) is not None


_BLOCKS = ("p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "td", "dd", "dt")


def _html_to_text(html: str) -> str:
    """Feed content as paragraphs: one per block element; bare text and <br> lines kept."""
    tree = load_html(f"<html><body><div>{html}</div></body></html>")
    if tree is None:
        return ""
    for el in list(tree.iter("script", "style", "noscript", "template", "figcaption")):
        el.drop_tree()
    for br in tree.iter("br"):
        br.tail = "\n" + (br.tail or "")
    pars: list[str] = []
    for el in tree.iter(*_BLOCKS):
        if not any(anc.tag in _BLOCKS for anc in el.iterancestors()):
            pars.append(el.text_content())
    loose = copy(tree)  # text outside any block (feeds often use bare text and <br>)
    for el in list(loose.iter(*_BLOCKS)):
        if el.getparent() is not None:
            el.drop_tree()
    rest = loose.text_content().strip()
    if rest and (not pars or len(rest) > 40):
        pars.insert(0, rest)
    return "\n\n".join(pars)


def _content_text(
    title: str | None, raw_html: str | None, text: str | None, hints: FeedHints, warnings: list[str]
) -> tuple[CleanedText, str | None]:
    """The cleaned text of the content and its title (the part of ``article_from_content`` that
    its word count comes from)."""
    if text is None and raw_html:
        text = _html_to_text(raw_html)
    text = text or ""
    text = repair_mojibake(text, warnings)
    pars = paragraphs_of(normalise_unicode(text))
    cleaned = clean_paragraphs(pars)
    final_title = strip_site_names(
        squash(normalise_unicode(title or hints.title or "")) or None, learn_site_names(hints.site_titles)
    )
    if final_title is None and _looks_like_headline(cleaned.paragraphs):
        final_title = cleaned.paragraphs[0]
    return drop_leading_title(cleaned, final_title), final_title


def content_word_count(*, title: str | None, html: str, hints: FeedHints) -> int:
    """``article_from_content(url=..., title=title, html=html, hints=hints).word_count`` without
    the rest of the article (its HTML, language, dates): what a page is weighed against."""
    cleaned, _ = _content_text(title, html, None, hints, [])
    return len(cleaned.text.split())


def article_from_content(
    *,
    url: str,
    title: str | None,
    html: str | None = None,
    text: str | None = None,
    hints: FeedHints | None = None,
) -> NormalisedArticle:
    """An article from a feed entry's own content or an import line (no page)."""
    hints = hints or FeedHints()
    warnings: list[str] = []
    raw_html = html if html is not None else hints.content_html
    cleaned, final_title = _content_text(title, raw_html, text, hints, warnings)
    out_text = cleaned.text
    if raw_html:
        out_html = content_html(
            raw_html,
            url,
            dropped=cleaned.dropped,
            dateline_prefix=cleaned.dateline.prefix if cleaned.dateline else None,
            key=text_key,
        )
    else:
        out_html = "".join(f"<p>{_escape(p)}</p>" for p in cleaned.paragraphs)
    words = len(out_text.split())
    if not words:
        warnings.append("no_text")
    published_at, published_date = feed_or_page_date(hints.published_at, None)
    if published_at is None and cleaned.dateline and cleaned.dateline.day:
        d = cleaned.dateline.day
        published_at, published_date = datetime(d.year, d.month, d.day, tzinfo=UTC), d
    updated_at, _ = feed_or_page_date(hints.updated_at, None)
    try:
        final_url = canonical_url(url)
    except InvalidURL:
        final_url = url
    return NormalisedArticle(
        url=final_url,
        title=final_title,
        text=out_text,
        html=out_html,
        authors=clean_authors(list(hints.authors), site_keys=set()) if hints.authors else (),
        published_at=published_at,
        updated_at=updated_at,
        language=lang_code(hints.language) or detect_language(out_text, None),
        image_url=None,
        dateline=cleaned.dateline.place if cleaned.dateline else None,
        agency=cleaned.dateline.agency if cleaned.dateline else None,
        word_count=words,
        page_kind="article" if words else "empty",
        source="feed",
        warnings=tuple(warnings),
        published_date=published_date,
    )


def _looks_like_headline(pars: tuple[str, ...]) -> bool:
    """Imported text often opens with its headline: short, unpunctuated, before the story."""
    if len(pars) < 3:
        return False
    first = pars[0]
    return len(first.split()) <= 20 and "\n" not in first and not first.endswith((".", "!", ":", ",", ";"))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")
