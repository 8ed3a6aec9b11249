"""Article normalisation (provisional skeleton version; the full extractor replaces it).

Builds a clean article from a feed entry's own content or an import line.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

import lxml.html

from worker.sanitize import sanitize_html
from worker.urls import canonical_url

_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060-\u2064\ufeff\u00ad]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")


@dataclass(frozen=True)
class FeedHints:
    title: str | None = None
    authors: tuple[str, ...] = ()
    published_at: datetime | None = None
    updated_at: datetime | None = None
    content_html: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class NormalisedArticle:
    url: str
    title: str | None
    text: str
    html: str
    authors: tuple[str, ...]
    published_at: datetime | None
    updated_at: datetime | None
    language: str | None
    image_url: str | None
    dateline: str | None
    agency: str | None
    word_count: int
    page_kind: str
    source: str
    warnings: tuple[str, ...] = ()

    @property
    def is_article(self) -> bool:
        return self.page_kind == "article"


def clean_text(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub("", text)
    paragraphs = [_SPACES.sub(" ", p).strip() for p in re.split(r"\n\s*\n|\r\n\s*\r\n", text)]
    return "\n\n".join(p for p in paragraphs if p)


def _html_to_text(html: str) -> str:
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (ValueError, lxml.etree.ParserError):
        return ""
    for bad in root.xpath("//script|//style"):
        bad.drop_tree()
    blocks = root.xpath("//p|//li|//h1|//h2|//h3|//blockquote")
    if blocks:
        return "\n\n".join(b.text_content() for b in blocks)
    return str(root.text_content())


def article_from_content(
    *,
    url: str,
    title: str | None,
    html: str | None = None,
    text: str | None = None,
    hints: FeedHints | None = None,
) -> NormalisedArticle:
    hints = hints or FeedHints()
    body_text = clean_text(text if text is not None else _html_to_text(html or ""))
    return NormalisedArticle(
        url=canonical_url(url),
        title=clean_text(title or hints.title or "") or None,
        text=body_text,
        html=sanitize_html(html, url) if html else "",
        authors=hints.authors,
        published_at=hints.published_at,
        updated_at=hints.updated_at,
        language=hints.language,
        image_url=None,
        dateline=None,
        agency=None,
        word_count=len(body_text.split()),
        page_kind="article" if body_text else "empty",
        source="feed",
    )


def extract_article(
    body: bytes,
    *,
    url: str,
    final_url: str | None = None,
    content_type: str | None = None,
    hints: FeedHints | None = None,
) -> NormalisedArticle:
    import trafilatura

    hints = hints or FeedHints()
    html = body.decode("utf-8", errors="replace")
    text = trafilatura.extract(html, fast=True, include_comments=False) or ""
    text = clean_text(text.replace("\n", "\n\n"))
    return NormalisedArticle(
        url=canonical_url(final_url or url),
        title=hints.title,
        text=text,
        html="",
        authors=hints.authors,
        published_at=hints.published_at,
        updated_at=hints.updated_at,
        language=hints.language,
        image_url=None,
        dateline=None,
        agency=None,
        word_count=len(text.split()),
        page_kind="article" if text else "empty",
        source="page",
    )
