"""Article metadata read cheaply from one parsed page.

trafilatura's ``with_metadata=True`` roughly doubles extraction time; most of what a
news pipeline needs is stated outright in ``<meta>`` tags and JSON-LD, so we read those
in a single pass over the tree and fall back to htmldate only for the date.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from lxml import etree
from lxml.html import HtmlElement

from worker.normalise.textclean import parse_loose_date

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
_BYLINE_BAD_CLASS = re.compile(
    r"avatar|bio|image|photo|img|box|social|follow|comment|more-by", re.I
)


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


def byline_texts(tree: HtmlElement, headline: HtmlElement | None = None, limit: int = 8) -> list[str]:
    """Visible bylines in document order; child texts joined by U+001F so names stay apart.

    ``headline``: the story's headline element when the caller has found it (else the first
    ``<h1>``); bylines sit in its surroundings."""
    out: list[str] = []
    scope = tree
    if headline is None:
        first = _FIRST_H1(tree)
        headline = first[0] if first else None
    if headline is not None:
        ancestors = [a for a in headline.iterancestors() if a.tag not in ("body", "html")]
        if ancestors:
            scope = ancestors[min(3, len(ancestors) - 1)]
    for hit in _BYLINE_XPATH(scope):
        # Text nodes starting with "By " stand for their parent element.
        node: Any = hit  # element, or an lxml "smart string" text node that knows its parent
        el = node if isinstance(node, etree._Element) else node.getparent()
        if el is None:
            continue
        tag = el.tag
        if not isinstance(tag, str) or tag in _BYLINE_SKIP_TAGS:
            continue
        cls = (el.get("class") or "") + " " + (el.get("id") or "")
        if _BYLINE_BAD_CLASS.search(cls):
            continue
        pieces = [squash(t) for t in el.itertext()]
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
# Attribute tests only, plus text nodes that open with "By": both cheap for libxml2.
_BYLINE_XPATH = etree.XPath(
    ".//*[@rel='author' or @itemprop='author' or contains(@class,'byline')"
    " or contains(@class,'author') or contains(@class,'Author') or contains(@href,'/author')]"
    " | .//text()[starts-with(normalize-space(.),'By ') or starts-with(normalize-space(.),'by ')"
    " or starts-with(normalize-space(.),'BY ') or starts-with(normalize-space(.),'Written by')]"
)
_FIRST_H1 = etree.XPath("(//body//h1)[1]")
# Microdata dates of the page, not of its comments: WordPress themes mark every comment's
# <time> with itemprop=datePublished, so on a page that states no date of its own the first
# reader comment would otherwise pass for the article's publication.
_ITEMTYPES = etree.XPath("//@itemtype")
_ITEMPROP_DATES = etree.XPath(
    "//body//*[@itemprop='datePublished' or @itemprop='dateModified']"
    "[not(ancestor::*[not(self::body)][contains(@class,'comment') or contains(@id,'comment')"
    " or contains(@itemtype,'Comment')])]"
)


# ---------------------------------------------------------------- dates

_ISO_DT = re.compile(
    r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"
    r"(?:[T ](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.\d+)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2}|[+-]\d{2}\b|UTC|GMT)?)?"
)


@dataclass(frozen=True)
class PageDate:
    """A date as the publisher printed it (``local``) and the instant in UTC."""

    local: date
    utc: datetime


def parse_iso_datetime(value: str) -> PageDate | None:
    """ISO-8601-ish strings from meta tags and JSON-LD; naive times are taken as UTC."""
    m = _ISO_DT.search(value or "")
    if not m:
        return None
    try:
        day = date(int(m["y"]), int(m["m"]), int(m["d"]))
    except ValueError:
        return None
    if not 1990 <= day.year <= 2100:
        return None
    if m["H"] is None:
        return PageDate(day, datetime(day.year, day.month, day.day, tzinfo=UTC))
    try:
        hour, minute, second = int(m["H"]), int(m["M"]), int(m["S"] or 0)
        naive = datetime(day.year, day.month, day.day, hour, minute, second)
    except ValueError:
        return PageDate(day, datetime(day.year, day.month, day.day, tzinfo=UTC))
    tz = m["tz"]
    offset = timedelta(0)
    if tz and tz.upper() not in ("Z", "UTC", "GMT"):
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        hours = int(digits[:2])
        minutes = int(digits[2:4]) if len(digits) >= 4 else 0
        if hours > 14 or minutes > 59:
            return PageDate(day, datetime(day.year, day.month, day.day, tzinfo=UTC))
        offset = sign * timedelta(hours=hours, minutes=minutes)
    aware = naive.replace(tzinfo=timezone(offset))
    return PageDate(day, aware.astimezone(UTC))


def _loose(value: str) -> PageDate | None:
    """Textual dates in meta tags ("2023 Jan 7", "January 7, 2023"), taken as UTC days."""
    day = parse_loose_date(value)
    return PageDate(day, datetime(day.year, day.month, day.day, tzinfo=UTC)) if day else None


# Dates as pages print them: "March 3, 2024", "3rd of March 2024", "Mar. 3rd 2024",
# "2024-03-03", "3/4/2024", "03.04.2024".
PRINTED_DATE = re.compile(
    r"\b\d{1,2}(?:st|nd|rd|th)?\.?\s+(?:of\s+)?[A-Za-z]{3,9}\.?,?\s+\d{4}\b"
    r"|\b[A-Za-z]{3,9}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}\b"
    r"|\b\d{4}-\d{2}-\d{2}\b"
    r"|(?<![\w./])\d{1,2}([/.])\d{1,2}\1\d{4}\b(?![./]\d)"
)
_ORDINAL = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)\b(?:\s+of\b)?", re.I)
_NUMERIC_DATE = re.compile(r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})")
_MONTH_FIRST_REGIONS = frozenset({"", "us", "ph"})


def numeric_date_order(lang: str | None) -> str:
    """How to read an all-digit date such as 3/4/2025: month first ("mdy") in US English and
    where no language is declared (dateparser's default too), day first ("dmy") in British and
    other Englishes and the languages that write numeric dates with dots or slashes."""
    code = (lang or "").strip().lower().replace("_", "-")
    if not code:
        return "mdy"
    language, _, region = code.partition("-")
    if language == "en" and region.split("-")[0] in _MONTH_FIRST_REGIONS:
        return "mdy"
    return "dmy"


def parse_printed_date(text: str, numeric_order: str = "mdy") -> date | None:
    """A date matched by ``PRINTED_DATE``. Ordinals ("11th", "3rd of") are dropped before
    the month-name parser sees them; an all-digit date is read in ``numeric_order`` unless
    one of its parts can only be a day (13-31)."""
    m = _NUMERIC_DATE.fullmatch(text.strip())
    if m is None:
        return parse_loose_date(_ORDINAL.sub(r"\1", text))
    first, second, year = int(m[1]), int(m[2]), int(m[3])
    month, day = (first, second) if numeric_order == "mdy" else (second, first)
    if month > 12 and day <= 12:
        month, day = day, month
    if not 1990 <= year <= 2100:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


_URL_DATE = re.compile(r"/((?:19|20)\d{2})/(\d{1,2})/(\d{1,2})(?:/|$)")


def url_date(url: str) -> PageDate | None:
    """Permalinks such as /2015/01/08/slug carry the publication day."""
    m = _URL_DATE.search(url)
    if not m:
        return None
    try:
        day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None
    return PageDate(day, datetime(day.year, day.month, day.day, tzinfo=UTC))


def page_dates(pm: PageMeta) -> tuple[PageDate | None, PageDate | None]:
    """(published, modified) from JSON-LD and meta tags, in order of dependability."""
    published: PageDate | None = None
    modified: PageDate | None = None
    art = pm.ld_article()
    candidates_pub: list[object] = []
    candidates_mod: list[object] = []
    if art is not None:
        candidates_pub += [art.get("datePublished"), art.get("dateCreated")]
        candidates_mod.append(art.get("dateModified"))
    candidates_pub += [
        pm.first(
            "article:published_time",
            "og:article:published_time",
            "og:published_time",
            "datepublished",
            "itemprop:datepublished",
            "article.published",
            "published-date",
            "publish-date",
            "publishdate",
            "pubdate",
            "sailthru.date",
            "parsely-pub-date",
            "dc.date.issued",
            "dcterms.created",
            "dc.date",
            "dcterms.date",
            "date",
            "citation_publication_date",
            "citation_date",
            "article:published",
            "og:pubdate",
            "cxenseparse:recs:publishtime",
        )
    ]
    candidates_mod += [
        pm.first(
            "article:modified_time",
            "og:updated_time",
            "datemodified",
            "itemprop:datemodified",
            "dcterms.modified",
            "last-modified",
            "lastmod",
            "article:modified",
        )
    ]
    for obj in pm.jsonld if art is None else []:
        candidates_pub.append(obj.get("datePublished"))
        candidates_mod.append(obj.get("dateModified"))
    for value in candidates_pub:
        if isinstance(value, str) and (parsed := parse_iso_datetime(value) or _loose(value)):
            published = parsed
            break
    for value in candidates_mod:
        if isinstance(value, str) and (parsed := parse_iso_datetime(value)):
            modified = parsed
            break
    return published, modified


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
