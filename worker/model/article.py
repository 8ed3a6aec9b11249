"""An article as normalisation produces it, and what a feed says about one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

PAGE_KINDS = ("article", "listing", "forum", "product", "other", "empty")


@dataclass(frozen=True)
class FeedHints:
    """What the feed said about the entry; preferred for metadata when present."""

    title: str | None = None
    authors: tuple[str, ...] = ()
    published_at: datetime | None = None  # aware UTC
    updated_at: datetime | None = None
    content_html: str | None = None  # entry content/summary, raw (unsanitised)
    language: str | None = None
    # Titles of the same feed's recent entries and articles, as storage has them: a part that
    # many of them share at one end is the site's name (``normalise.title.learn_site_names``).
    site_titles: tuple[str, ...] = ()


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
    warnings: tuple[str, ...]
    # The publisher's calendar day of publication as printed (before conversion to UTC).
    published_date: date | None = None
    # The publisher's UTC offset for published_at, in minutes, when the page states it.
    published_offset_minutes: int | None = None
    site_name: str | None = None
    description: str | None = None

    @property
    def is_article(self) -> bool:
        return self.page_kind == "article" and self.word_count > 0
