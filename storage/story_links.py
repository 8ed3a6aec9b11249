"""Attach a stored article to its story: the storage side of story linking.

Duplicates join their original's story without touching the linker's statistics;
every other article goes through :func:`storage.story_index.link_in_transaction`
in the caller's transaction, so the article's ``story_id`` and the story state
commit together. Linking is idempotent: an article that has a story keeps it
(following merges), so a re-delivered task or a re-ingest changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from storage.models import Article
from storage.story_index import StoryConflict, link_in_transaction, resolve_story
from worker.stories import story_features
from worker.urls import site_of

__all__ = ["StoryConflict", "StoryLink", "link_story"]


@dataclass(frozen=True)
class StoryLink:
    story_id: int | None
    created: bool = False
    merged: tuple[int, ...] = ()
    via: str = "linker"  # linker | kept | duplicate | skipped


def _repoint(conn: Connection, old_ids: Sequence[int], new_id: int) -> None:
    """Stories merged: their articles now belong to the survivor (nothing points to a vanished story)."""
    conn.execute(update(Article).where(Article.story_id.in_(list(old_ids))).values(story_id=new_id))


def link_story(session: Session, article_id: int) -> StoryLink:
    """Give the article its story; raises :class:`StoryConflict` when the caller must retry."""
    article = session.get(Article, article_id)
    if article is None:
        return StoryLink(None, via="skipped")
    conn = session.connection()
    if article.story_id is not None:
        survivor = resolve_story(conn, article.story_id)
        article.story_id = survivor
        return StoryLink(survivor, via="kept")
    if article.duplicate_of is not None:
        original = session.get(Article, article.duplicate_of)
        if original is not None and original.story_id is not None:
            article.story_id = resolve_story(conn, original.story_id)
            return StoryLink(article.story_id, via="duplicate")
    if not article.text.strip():
        return StoryLink(None, via="skipped")
    features = story_features(
        article.title, article.text, article.published_at, source=site_of(article.url), language=article.language
    )
    result = link_in_transaction(conn, features, arrived_at=article.created_at, repoint=_repoint)
    session.expire_all()  # _repoint may have moved rows this session holds
    article = session.get(Article, article_id)
    assert article is not None
    article.story_id = result.story_id
    return StoryLink(result.story_id, result.created, tuple(result.merged))
