"""Article pages: fetch (through the one fetcher), extract, and decide what to keep.

A page that cannot be fetched or yields no usable text never loses the
article: it is stored from the feed's own content, marked with why, and
retried later with back-off (``refetch_delay``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from worker.model.article import FeedHints, NormalisedArticle
from worker.model.fetch import ARTICLE_ACCEPT, FetchError, HttpFetcher
from worker.normalise.extract import article_from_content, extract_article

# Page fetches are retried this many times (about a day of back-off), then the
# feed's content stays and the article is listed by `reingest --failed`.
MAX_PAGE_ATTEMPTS = 7
_FIRST_RETRY = timedelta(minutes=15)
_RETRY_CAP = timedelta(hours=12)


@dataclass(frozen=True)
class PageOutcome:
    article: NormalisedArticle
    error: str | None  # why the page was not used; None when it was
    retryable: bool = True  # False when the page answered but is not an article: asking again won't help

    @property
    def from_page(self) -> bool:
        return self.error is None


def refetch_delay(attempts: int) -> timedelta:
    """Back-off before page fetch attempt ``attempts + 1``."""
    delay: timedelta = _FIRST_RETRY * (2 ** max(attempts - 1, 0))
    return min(_RETRY_CAP, delay)


def _fallback(
    url: str, title: str | None, feed_html: str | None, hints: FeedHints, error: str, *, retryable: bool = True
) -> PageOutcome:
    article = article_from_content(url=url, title=title, html=feed_html or "", hints=hints)
    return PageOutcome(article, error, retryable)


def fetch_article(
    fetcher: HttpFetcher,
    *,
    url: str,
    title: str | None,
    feed_html: str | None,
    hints: FeedHints,
    user_agent: str | None = None,
) -> PageOutcome:
    """Fetch and normalise the page behind ``url``; fall back to the feed's content.

    ``user_agent``: the feed's own, when an admin set one (a site that allows a named bot
    for its feed usually means its articles too)."""
    try:
        result = fetcher.get(url, accept=ARTICLE_ACCEPT, user_agent=user_agent)
    except FetchError as exc:
        return _fallback(url, title, feed_html, hints, f"{exc.reason}: {exc}")
    if result.status != 200:
        return _fallback(url, title, feed_html, hints, f"http_{result.status}: HTTP {result.status}")
    content_type = (result.content_type or "").lower()
    if content_type and "html" not in content_type and "xml" not in content_type:
        return _fallback(url, title, feed_html, hints, f"not_html: content type {content_type}")
    page = extract_article(
        result.body, url=url, final_url=result.final_url, content_type=result.headers.get("content-type"), hints=hints
    )
    if not page.is_article or not page.text:
        # A listing, forum or product page (or an empty one) is flagged, never stored as the article's text.
        return _fallback(
            url, title, feed_html, hints, f"non_article: the page is a {page.page_kind} page", retryable=False
        )
    feed_version = article_from_content(url=url, title=title, html=feed_html or "", hints=hints)
    if feed_version.word_count > page.word_count:
        # A paywall or teaser page carries less than the feed did.
        return PageOutcome(
            feed_version, f"short_page: page has {page.word_count} words, feed {feed_version.word_count}"
        )
    return PageOutcome(page, None)
