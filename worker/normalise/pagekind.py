"""Page kind: article or not (listing, forum, product, other, empty), from what the page says
it is, its address and what its text looks like."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from worker.normalise.pagemeta import ARTICLE_TYPES

# Address conventions of the web at large (not of particular sites).
_FORUM_URL = re.compile(
    r"^https?://(?:forums?|community|discuss|discussions?|boards?|talk)\.|/(?:forums?|threads?|topics?"
    r"|discussions?|community|questions/\d+|viewtopic\.php|showthread\.php|t/[\w-]+/\d+)(?:/|$|\?|\.)"
    r"|[?&](?:threads?|topic|tid)=",
    re.I,
)
_DOCS_URL = re.compile(
    r"^https?://(?:docs?|developer|developers|help|support|wiki|manual|learn)\.|/(?:docs?|documentation"
    r"|manual|reference|api-reference|wiki|knowledge-?base|kb|help-?center|support|guides?/reference)"
    r"(?:/|$)|/wiki/[\w:]+",
    re.I,
)
_PRODUCT_URL = re.compile(r"/(?:products?|item|dp|shop|store|browse|buy|cart|collections?)(?:/|$)", re.I)
_LISTING_URL = re.compile(
    r"/(?:tags?|topics?|categor(?:y|ies)|section|archives?|search|authors?|page/\d+|latest|index"
    r"|events?|calendar|jobs?|careers|directory|listings?|results|blog|news|articles|stories)/?(?:$|\?)",
    re.I,
)
_SERVICE_URL = re.compile(
    r"/(?:services?|solutions?|pricing|plans|quote|get-a-quote|contact|about(?:-us)?|locations?"
    r"|service-areas?|features?)(?:/|$|-)",
    re.I,
)
_DATE_PATH = re.compile(r"/(?:19|20)\d{2}/\d{1,2}(?:/|$)|/(?:19|20)\d{2}-\d{2}-\d{2}|[-/]\d{7,}(?:[./-]|$)")
_PRODUCT_TEXT = re.compile(
    r"add to (?:cart|bag|basket|wishlist)|buy now|in stock|out of stock|free shipping|sku\b"
    r"|quantity"
    r"|select (?:size|colou?r)|write a review|customer reviews",
    re.I,
)
_FORUM_TEXT = re.compile(
    r"\b(?:reply|replies|quote|joined|posts:|thread starter|original poster|upvote|likes received"
    r"|registered user|member since|#\d+)\b",
    re.I,
)
_STATED_ARTICLE = ARTICLE_TYPES - {"techarticle", "howto", "recipe", "posting"}


@dataclass
class KindSignals:
    types: set[str] = field(default_factory=set)
    has_date: bool = False
    stated_date: bool = False  # in JSON-LD/meta, not guessed from the text
    has_author: bool = False
    words: int = 0
    paragraphs: int = 0
    long_paragraphs: int = 0


def classify_page(sig: KindSignals, url: str, text: str) -> str:
    """Article or not, from what the page says it is, its address, and what its text looks like.

    WordPress-style sites mark every page ``og:type=article``, so that alone proves
    little; a schema.org Article/NewsArticle/BlogPosting, a stated publication date and
    a byline together are what news and blog posts have and service or shop pages lack.
    """
    types = sig.types
    if sig.words == 0:
        return "empty"
    ld_article = bool(types & _STATED_ARTICLE)
    if types & {"product", "productgroup", "og:product", "og:og:product"} and not ld_article:
        return "product"
    if types & {"discussionforumposting", "qapage", "question", "md:discussionforumposting", "md:qapage"}:
        return "forum"
    path_url = url.split("#")[0]
    path = urlsplit(url).path or "/"
    score = 0.0
    score += 2.5 if ld_article else 0.0
    score += 0.5 if "og:article" in types else 0.0
    score -= 2.0 if types & {"collectionpage", "itemlist", "searchresultspage", "profilepage"} else 0.0
    score += 2.0 if sig.stated_date else (0.75 if sig.has_date else -1.0)
    score += 1.5 if sig.has_author else -0.5
    score += 1.0 if _DATE_PATH.search(path) else 0.0
    score += 0.5 if sig.long_paragraphs >= 4 else -1.0
    score -= 1.0 if sig.words < 150 else 0.0
    score -= 3.0 if path in ("", "/") else 0.0
    kind = "other"
    if _FORUM_URL.search(path_url):
        score -= 3.0
        kind = "forum"
    elif _DOCS_URL.search(path_url):
        score -= 2.5
    elif _PRODUCT_URL.search(path):
        score -= 2.5
        kind = "product"
    elif _LISTING_URL.search(path):
        score -= 2.0
        kind = "listing"
    elif _SERVICE_URL.search(path):
        score -= 1.5
    # The text's forum and shop words can only lower the score: scanning for them (regexes over
    # the text, the dearest part of this) is skipped when the page stays an article without them.
    if score - (1.0 if ld_article else 2.0) >= -0.5:
        return "article"
    if len(_FORUM_TEXT.findall(text[:20000])) >= 8:
        score -= 1.0
        kind = "forum" if kind == "other" else kind
    if not ld_article and len(_PRODUCT_TEXT.findall(text[:8000])) >= 5:
        score -= 1.0
        kind = "product" if kind == "other" else kind
    if score >= -0.5:
        return "article"
    if types & {"collectionpage", "itemlist", "searchresultspage"}:
        return "listing"
    if kind == "other" and sig.long_paragraphs < 2 and sig.paragraphs >= 10:
        return "listing"
    return kind
