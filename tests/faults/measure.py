"""What a fault run left in the database, counted against what the site holds.

- **expected**: every page of the site that must be stored (originals and syndicated copies;
  the poison page is not expected);
- **stored**: expected addresses that belong to a stored article (its address or a sighting);
- **stored twice**: per text (an original and its copies), the articles beyond one that are not
  marked as a duplicate: the same text kept twice as an original;
- **without a story**: stored articles with text whose ``story_id`` is empty. A page that is
  legitimately not an article (empty text: the linker skips it) is counted apart, as
  ``not_articles``; the site serves none, so it is 0 unless extraction broke;
- **work queued**: ``work_items`` rows still queued (not done, not failed for good).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from storage.db import Database
from storage.models import Article, ArticleUrl, Entry, Feed, WorkItem
from tests.faults.site import Site
from worker.model.urls import canonical_url


@dataclass(frozen=True)
class Counts:
    expected: int
    stored: int
    missing: int
    stored_twice: int
    without_story: int
    not_articles: int
    unprocessed: int
    work_queued: int  # the poison page's own item left out: it is reported in poison_page
    work_failed: int
    poison_page: str | None = None  # how the poison page ended (None: no poison page)
    poison_feed: str | None = None
    missing_paths: tuple[str, ...] = field(default=())

    @property
    def settled(self) -> bool:
        return self.missing == 0 and self.without_story == 0 and self.unprocessed == 0 and self.work_queued == 0


def count(db: Database, site: Site) -> Counts:
    paths = site.article_paths()
    url_of = {path: canonical_url(site.url(path)) for path in paths}
    with db.reader() as session:
        owner: dict[str, int] = {}
        for url, article_id in session.execute(select(ArticleUrl.url, ArticleUrl.article_id)):
            owner[url] = int(article_id)
        rows = session.execute(
            select(Article.id, Article.url, Article.duplicate_of, Article.story_id, Article.processed_at, Article.text)
        ).all()
        for row in rows:
            owner.setdefault(row.url, int(row.id))
        queued = session.scalars(select(WorkItem).where(WorkItem.state == "queued")).all()
        failed = session.scalars(select(WorkItem).where(WorkItem.state == "failed")).all()
        poison_page = poison_feed = None
        entry = None
        if site.poison_page:
            entry = session.scalar(select(Entry).where(Entry.url == site.url(site.POISON_PAGE)).limit(1))
            item = next((f for f in failed if entry is not None and f.key == str(entry.id)), None)
            if entry is None:
                poison_page = "not seen yet"
            elif item is not None:
                poison_page = f"failed: {item.last_error}"
            else:
                article = session.get(Article, entry.article_id) if entry.article_id is not None else None
                if article is not None and article.fetch_error:
                    # refused before extraction: kept from the feed, the page's failure recorded
                    poison_page = f"failed page, kept from the feed: {article.fetch_error}"
                else:
                    poison_page = f"entry {entry.state}" + (f": {entry.last_error}" if entry.last_error else "")
        if site.poison_feed:
            feed = session.scalar(select(Feed).where(Feed.url == canonical_url(site.url(site.POISON_FEED))))
            if feed is not None and feed.last_error:
                poison_feed = f"error recorded ({feed.consecutive_errors} in a row, backing off): {feed.last_error}"
            else:
                poison_feed = "no error recorded"
    by_id = {int(r.id): r for r in rows}
    stored_paths = [p for p in paths if url_of[p] in owner]
    missing = [p for p in paths if url_of[p] not in owner]
    twice = 0
    for members in site.groups().values():
        originals = {
            owner[url_of[p]] for p in members if url_of[p] in owner and by_id[owner[url_of[p]]].duplicate_of is None
        }
        twice += max(0, len(originals) - 1)
    ours = {owner[url_of[p]] for p in stored_paths}
    without_story = sum(1 for i in ours if by_id[i].story_id is None and (by_id[i].text or "").strip())
    not_articles = sum(1 for i in ours if not (by_id[i].text or "").strip())
    unprocessed = sum(1 for i in ours if by_id[i].processed_at is None)
    return Counts(
        expected=len(paths),
        stored=len(stored_paths),
        missing=len(missing),
        stored_twice=twice,
        without_story=without_story,
        not_articles=not_articles,
        unprocessed=unprocessed,
        work_queued=sum(1 for q in queued if entry is None or q.key != str(entry.id)),
        work_failed=len(failed),
        poison_page=poison_page,
        poison_feed=poison_feed,
        missing_paths=tuple(missing[:10]),
    )
