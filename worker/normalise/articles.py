"""Article pages: fetch (through the one fetcher), extract, and keep the page or the feed's
content (decided in ``fallback``).

A page that cannot be fetched or yields no usable text never loses the
article: it is stored from the feed's own content, marked with why, and
retried later with back-off (``refetch_delay``).
"""

from __future__ import annotations

from datetime import timedelta

from worker.model.article import FeedHints
from worker.model.fetch import ARTICLE_ACCEPT, FetchError, HttpFetcher
from worker.normalise.extract import PageTooComplex, extract_article
from worker.normalise.fallback import PageOutcome, choose, feed_only

# Page fetches are retried this many times (about a day of back-off), then the
# feed's content stays and the article is listed by `reingest --failed`.
MAX_PAGE_ATTEMPTS = 7
_FIRST_RETRY = timedelta(minutes=15)
_RETRY_CAP = timedelta(hours=12)


def refetch_delay(attempts: int) -> timedelta:
    """Back-off before page fetch attempt ``attempts + 1``."""
    delay: timedelta = _FIRST_RETRY * (2 ** max(attempts - 1, 0))
    return min(_RETRY_CAP, delay)


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
        return feed_only(url, title, feed_html, hints, f"{exc.reason}: {exc}")
    if result.status != 200:
        return feed_only(url, title, feed_html, hints, f"http_{result.status}: HTTP {result.status}")
    content_type = (result.content_type or "").lower()
    if content_type and "html" not in content_type and "xml" not in content_type:
        return feed_only(url, title, feed_html, hints, f"not_html: content type {content_type}")
    try:
        page = extract_article(
            result.body,
            url=url,
            final_url=result.final_url,
            content_type=result.headers.get("content-type"),
            hints=hints,
        )
    except PageTooComplex as exc:
        # the same page again would be refused again: kept from the feed, not asked for again
        return feed_only(url, title, feed_html, hints, f"too_complex: {exc}", retryable=False)
    return choose(page, url=url, title=title, feed_html=feed_html, hints=hints)


__all__ = ["MAX_PAGE_ATTEMPTS", "PageOutcome", "fetch_article", "refetch_delay"]
