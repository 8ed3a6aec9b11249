"""When a feed entry's own content stands in for its page: the one place that decides.

In order:

- the page could not be fetched, answered an error or is not HTML: the feed's content,
  and the page is asked for again later (``feed_only``);
- the page could not be parsed: the feed's content (``unparseable_page``);
- the page yields no text (paywall, script-only page, consent wall): the page's metadata
  with the feed's content (``with_feed_content``);
- the page still has no text: the feed's content, not asked again (``choose``);
- the feed carries more words than the page (a paywall or teaser page): the feed's content
  (``choose``).

A page classified as something other than an article (listing, forum, product...) keeps its
text and metadata: ``page_kind`` is a label for consumers, never a reason to throw away what
was extracted (dedupe and story linking pass such pages over).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from worker.model.article import FeedHints, NormalisedArticle
from worker.normalise.content import article_from_content, content_word_count


@dataclass(frozen=True)
class PageOutcome:
    article: NormalisedArticle
    error: str | None  # why the page was not used; None when it was
    retryable: bool = True  # False when the page answered but is not an article: asking again won't help

    @property
    def from_page(self) -> bool:
        return self.error is None


def feed_only(
    url: str, title: str | None, feed_html: str | None, hints: FeedHints, error: str, *, retryable: bool = True
) -> PageOutcome:
    """The feed's content, because of ``error``."""
    article = article_from_content(url=url, title=title, html=feed_html or "", hints=hints)
    return PageOutcome(article, error, retryable)


def unparseable_page(*, page_url: str, hints: FeedHints, warnings: list[str]) -> NormalisedArticle:
    """A page that is not HTML at all: the feed's content (empty without one), with the page's warnings."""
    art = article_from_content(url=page_url, title=hints.title, html=hints.content_html, hints=hints)
    return replace(art, warnings=tuple(dict.fromkeys([*warnings, *art.warnings])))


def with_feed_content(page: NormalisedArticle, *, url: str, hints: FeedHints) -> NormalisedArticle:
    """``page``, or, when it has no text and the feed has content, the page's metadata with the
    feed's content (text, html, dateline) and, failing the page's, the feed content's date."""
    if page.text.strip() or not hints.content_html:
        return page
    feed = article_from_content(url=url, title=page.title, html=hints.content_html, hints=hints)
    kind = "article" if feed.word_count else "empty"
    warnings = [w for w in page.warnings if w != "non_article"]
    if kind != "article":
        warnings.append("non_article")
    published_at, published_date = page.published_at, page.published_date
    if published_at is None:
        published_at, published_date = feed.published_at, feed.published_date
    return replace(
        page,
        text=feed.text,
        html=feed.html,
        source="feed",
        dateline=feed.dateline,
        agency=feed.agency,
        published_at=published_at,
        published_date=published_date,
        word_count=feed.word_count,
        page_kind=kind,
        language=feed.language or page.language,
        warnings=tuple(dict.fromkeys(warnings)),
    )


def choose(
    page: NormalisedArticle, *, url: str, title: str | None, feed_html: str | None, hints: FeedHints
) -> PageOutcome:
    """The page as extracted (``with_feed_content`` already applied) against the feed's own content."""
    if not page.text:
        # An empty page (consent wall, script-only) and no feed content to stand in: asking again won't help.
        return feed_only(url, title, feed_html, hints, f"no_text: the page is {page.page_kind}", retryable=False)
    # The feed's words first: its whole article (HTML, language) only when it wins.
    feed_words = content_word_count(title=title, html=feed_html or "", hints=hints)
    if feed_words > page.word_count:
        # A paywall or teaser page carries less than the feed did.
        feed_version = article_from_content(url=url, title=title, html=feed_html or "", hints=hints)
        return PageOutcome(
            feed_version, f"short_page: page has {page.word_count} words, feed {feed_version.word_count}"
        )
    return PageOutcome(page, None)
