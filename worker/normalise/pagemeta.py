"""Article metadata read cheaply from one parsed page.

trafilatura's ``with_metadata=True`` roughly doubles extraction time; most of what a
news pipeline needs is stated outright in ``<meta>`` tags and JSON-LD, so we read those
in a single pass over the tree and fall back to htmldate only for the date.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from lxml.html import HtmlElement

_WS = re.compile(r"\s+")

ARTICLE_TYPES = frozenset(
    {
        "article",
        "newsarticle",
        "blogposting",
        "reportagenewsarticle",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "reviewnewsarticle",
        "backgroundnewsarticle",
        "scholarlyarticle",
        "socialmediaposting",
        "liveblogposting",
        "report",
        "review",
        "medicalscholarlyarticle",
        "satiricalarticle",
        "advertisertcontentarticle",
        "askpublicnewsarticle",
        "posting",
        "techarticle",
        "howto",
        "recipe",
    }
)


def squash(text: str | None) -> str:
    return _WS.sub(" ", text or "").strip()


@dataclass
class PageMeta:
    """Everything the page states about itself; raw strings, not yet judged."""

    meta: dict[str, str] = field(default_factory=dict)
    jsonld: list[dict[str, Any]] = field(default_factory=list)
    types: set[str] = field(default_factory=set)
    title_tag: str | None = None
    h1: list[str] = field(default_factory=list)
    # the text nodes of each h1: a kicker in its own element ("<span>Tunesien</span> Große ...")
    h1_parts: list[tuple[str, ...]] = field(default_factory=list)
    canonical: str | None = None
    html_lang: str | None = None
    time_nodes: list[str] = field(default_factory=list)

    def first(self, *keys: str) -> str | None:
        for key in keys:
            value = self.meta.get(key)
            if value:
                return value
        return None

    def ld_article(self) -> dict[str, Any] | None:
        """The most article-like JSON-LD object (NewsArticle over Article over WebPage)."""
        best: dict[str, Any] | None = None
        best_rank = 99
        for obj in self.jsonld:
            types = {t.lower() for t in _as_list(obj.get("@type")) if isinstance(t, str)}
            if types & ARTICLE_TYPES:
                rank = 0 if any("news" in t or t == "blogposting" for t in types) else 1
            elif types & {"webpage", "itempage", "mediaobject", "videoobject"}:
                rank = 2
            else:
                continue
            if rank < best_rank:
                best, best_rank = obj, rank
        return best


def _as_list(value: object) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _walk_jsonld(data: object) -> Iterator[dict[str, Any]]:
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            if "@type" in item:
                yield item
            graph = item.get("@graph")
            if graph is not None:
                stack.append(graph)
            main = item.get("mainEntity")
            if isinstance(main, (dict, list)):
                stack.append(main)


_MULTI_KEYS = frozenset(
    {
        "article:author",
        "author",
        "parsely-author",
        "sailthru.author",
        "dc.creator",
        "citation_author",
        "dcterms.creator",
        "byl",
    }
)
_BYLINE_BAD_CLASS = re.compile(r"avatar|bio|image|photo|img|box|social|follow|comment|more-by", re.I)
# Inside an author block, what the markup names as the author's role or employer is not a name
# ("blog-author__role": "Head of Product Marketing and GTM Strategy", "field-author-org": "Your
# Part-Time Controller"). Whole class-name parts only: "pc-position-relative" is layout.
_BYLINE_ROLE_CLASS = re.compile(
    r"(?:^|[\s_-])(?:role|jobtitle|job-title|org|organi[sz]ation|company|affiliation|occupation|designation)(?=$|[\s_-])",
    re.I,
)
_BYLINE_ROLE_PROPS = frozenset({"jobTitle", "affiliation", "worksFor"})


def _is_role(el: Any) -> bool:
    return bool(_BYLINE_ROLE_CLASS.search(el.get("class") or "")) or el.get("itemprop") in _BYLINE_ROLE_PROPS


def _byline_pieces(el: Any) -> Iterator[str]:
    """``el``'s text nodes, without those of the role and employer elements inside it."""
    if el.text:
        yield el.text
    for child in el:
        if isinstance(child.tag, str) and not _is_role(child):
            yield from _byline_pieces(child)
        if child.tail:
            yield child.tail


def read_page_meta(tree: HtmlElement) -> PageMeta:
    """One pass over head-ish elements; tolerant of every kind of broken markup."""
    pm = PageMeta()
    root = tree.getroottree().getroot() if tree.getparent() is not None else tree
    lang = root.get("lang") or root.get("xml:lang")
    pm.html_lang = lang.strip() if lang else None
    for el in tree.iter("meta", "title", "link", "script", "h1", "time"):
        tag = el.tag
        if tag == "meta":
            content = el.get("content")
            if content is None:
                continue
            key = el.get("property") or el.get("name") or el.get("itemprop") or el.get("http-equiv")
            if key:
                key = key.strip().lower()
                content = content.strip()
                if content and key not in pm.meta:
                    pm.meta[key] = content
                # Several article:author / author tags: keep them all.
                if key in _MULTI_KEYS:
                    pm.meta.setdefault(f"{key}#all", "")
                    pm.meta[f"{key}#all"] += content + "\x1f"
        elif tag == "title":
            if pm.title_tag is None and el.getparent() is not None and el.getparent().tag != "svg":
                pm.title_tag = squash(el.text_content())
        elif tag == "link":
            rel = (el.get("rel") or "").lower().split()
            if "canonical" in rel and pm.canonical is None:
                pm.canonical = (el.get("href") or "").strip() or None
        elif tag == "script":
            if (el.get("type") or "").strip().lower() == "application/ld+json" and el.text:
                try:
                    data = json.loads(el.text.strip().rstrip(";"), strict=False)
                except ValueError:
                    continue
                for obj in _walk_jsonld(data):
                    pm.jsonld.append(obj)
                    for t in _as_list(obj.get("@type")):
                        if isinstance(t, str):
                            pm.types.add(t.lower())
        elif tag == "h1":
            text = squash(el.text_content())
            if text and len(pm.h1) < 5:
                pm.h1.append(text)
                pm.h1_parts.append(tuple(p for p in (squash(t) for t in el.itertext()) if p))
        elif tag == "time":
            value = el.get("datetime")
            if value and len(pm.time_nodes) < 10:
                pm.time_nodes.append(value.strip())
    for el in _ITEMPROP_DATES(tree):
        value = el.get("content") or el.get("datetime")
        key = "itemprop:" + el.get("itemprop", "").lower()
        if value and key not in pm.meta:
            pm.meta[key] = value.strip()
    og_type = pm.meta.get("og:type")
    if og_type:
        pm.types.add("og:" + og_type.lower())
    # microdata types, kept apart from JSON-LD ones ("md:qapage"): Q&A and forum software
    # (Stack Exchange, XenForo, WoltLab) declare their pages this way
    for itemtype in _ITEMTYPES(tree):
        for t in str(itemtype).split():
            name = t.rstrip("/").rsplit("/", 1)[-1].lower()
            if name:
                pm.types.add("md:" + name)
    return pm


def byline_texts(
    tree: HtmlElement,
    headline: HtmlElement | None = None,
    limit: int = 8,
    xpath: Callable[[HtmlElement], Any] | None = None,
    whole_page: bool = False,
) -> list[str]:
    """Visible bylines in document order; child texts joined by U+001F so names stay apart.

    ``headline``: the story's headline element when the caller has found it (else the first
    ``<h1>``); bylines sit in its surroundings. ``xpath``: what counts as a byline (default:
    author markup and text opening with "By")."""
    out: list[str] = []
    scope = tree
    if headline is None and not whole_page:
        first = _FIRST_H1(tree)
        headline = first[0] if first else None
    if headline is not None and not whole_page:
        ancestors = [a for a in headline.iterancestors() if a.tag not in ("body", "html")]
        if ancestors:
            scope = ancestors[min(3, len(ancestors) - 1)]
    for hit in (xpath or _BYLINE_XPATH)(scope):
        # Text nodes starting with "By " stand for their parent element.
        node: Any = hit  # element, or an lxml "smart string" text node that knows its parent
        el = node if isinstance(node, etree._Element) else node.getparent()
        if el is None:
            continue
        if el is not hit and len(el) == 0 and " " not in squash(el.text) and el.getparent() is not None:
            # "By" alone in its element ("<span>By</span><span><a>Alex Bozarjian</a></span>"):
            # the byline is the element around it, the name its sibling
            el = el.getparent()
        tag = el.tag
        if not isinstance(tag, str) or tag in _BYLINE_SKIP_TAGS:
            continue
        cls = (el.get("class") or "") + " " + (el.get("id") or "")
        if _BYLINE_BAD_CLASS.search(cls) or _is_role(el):
            continue
        pieces = [squash(t) for t in _byline_pieces(el)]
        text = "\x1f".join(p for p in pieces if p)
        if text and len(text) < 200 and text not in out:
            out.append(text)
        if len(out) >= limit:
            break
    return out


_BYLINE_SKIP_TAGS = frozenset(
    {
        "script",
        "style",
        "meta",
        "link",
        "img",
        "body",
        "html",
        "main",
        "article",
        "section",
        "header",
        "footer",
        "nav",
        "aside",
        "form",
        "ul",
        "ol",
        "figure",
        "picture",
        "svg",
        "noscript",
        "button",
        "title",
        "h1",
        "h2",
    }
)
# Author elements below the context node: rel/itemprop "author", an "author" or "byline" class,
# a link to an /author/ page. Written as tests of the attributes themselves (each path visits
# only the elements that have that attribute): half the time of one predicate tried on every
# element, the same nodes, in document order.
AUTHOR_ELEMENT_PATHS = (
    "descendant::*/@class[contains(.,'byline') or contains(.,'author') or contains(.,'Author')]/.."
    " | descendant::*/@rel[.='author']/.. | descendant::*/@itemprop[.='author']/.."
    " | descendant::*/@href[contains(.,'/author') or contains(.,'/autor') or contains(.,'/auteur')]/.."
)
# Author elements, plus text nodes that open with "By".
_BYLINE_XPATH = etree.XPath(
    AUTHOR_ELEMENT_PATHS + " | .//text()[starts-with(normalize-space(.),'By ') or starts-with(normalize-space(.),'by ')"
    " or starts-with(normalize-space(.),'BY ') or starts-with(normalize-space(.),'Written by')]"
)
_FIRST_H1 = etree.XPath("(//body//h1)[1]")
# Microdata dates of the page, not of its comments: WordPress themes mark every comment's
# <time> with itemprop=datePublished, so on a page that states no date of its own the first
# reader comment would otherwise pass for the article's publication.
_ITEMTYPES = etree.XPath("//@itemtype")
# (The attribute tested as a node, then its element: a quarter of the time of a predicate on
# every element of the page, the same elements on every page of the development sets.)
_ITEMPROP_DATES = etree.XPath(
    "//body/descendant::*/@itemprop[.='datePublished' or .='dateModified']/parent::*"
    "[not(ancestor::*[not(self::body)][contains(@class,'comment') or contains(@id,'comment')"
    " or contains(@itemtype,'Comment')])]"
)


# ---------------------------------------------------------------- authors


_ORG_TYPES = frozenset(
    {
        "organization",
        "newsmediaorganization",
        "corporation",
        "localbusiness",
        "educationalorganization",
        "governmentorganization",
        "ngo",
        "brand",
    }
)


def jsonld_names(value: object, *, people_only: bool = True) -> list[str]:
    """Names out of a schema.org author/publisher value (string, object or list)."""
    names: list[str] = []
    for item in _as_list(value):
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict):
            kinds = {str(t).lower() for t in _as_list(item.get("@type"))}
            if people_only and kinds & _ORG_TYPES and not kinds & {"person"}:
                continue  # a publisher credited as author is not a byline
            name = item.get("name")
            if isinstance(name, list):
                name = " ".join(str(n) for n in name)
            if isinstance(name, str):
                names.append(name)
            elif item.get("givenName") or item.get("familyName"):
                names.append(f"{item.get('givenName', '')} {item.get('familyName', '')}")
    return [squash(n) for n in names if squash(n)]
