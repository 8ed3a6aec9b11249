"""Article pages (or a feed entry's own content) into clean, normalised articles.

trafilatura finds the main block of the page (fast mode, no comments). On top of it
this module adds what a news pipeline knows and a generic extractor does not:
metadata read cheaply from the same parsed tree (JSON-LD and ``<meta>``), titles
without site-name suffixes, cleaned bylines, dates in UTC with the publisher's
calendar day kept, wire datelines and agencies, boilerplate that survives
extraction (inserts, repeated captions, desk codes, agency footers), charset
repair, language detection and a page-kind check so that listings, forums and
shops are flagged instead of stored as articles.

Decision on datelines: the prefix (``WASHINGTON (Reuters) -``) is parsed into
``dateline``/``agency`` and removed from ``text``; the story's first sentence is
kept intact. Syndicated copies of one story then start with the same words.
"""

from __future__ import annotations

import re
import unicodedata
from copy import copy
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from html import unescape as html_unescape
from typing import Any
from urllib.parse import urlsplit

import ftfy
import py3langid
from charset_normalizer import from_bytes
from htmldate import find_date
from lxml import etree
from lxml.html import HtmlElement
from trafilatura import bare_extraction
from trafilatura.utils import load_html
from trafilatura.xml import xmltotxt

from worker.model.article import FeedHints, NormalisedArticle
from worker.model.urls import InvalidURL, canonical_url, site_of
from worker.normalise.contenthtml import content_html, page_html
from worker.normalise.pagemeta import (
    ARTICLE_TYPES,
    PRINTED_DATE,
    PageDate,
    PageMeta,
    byline_texts,
    jsonld_names,
    numeric_date_order,
    page_dates,
    parse_iso_datetime,
    parse_printed_date,
    read_page_meta,
    squash,
    url_date,
)
from worker.normalise.textclean import (
    CleanedText,
    Dateline,
    caption_keys,
    clean_paragraphs,
    normalise_unicode,
    paragraphs_of,
)
from worker.normalise.textclean import clean_text as _clean_text

# ---------------------------------------------------------------- decoding

_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.I)
_CT_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_:.-]+)", re.I)
_MOJIBAKE = re.compile("[ÂÃ][\u0080-\u00bf]|â€[\u0080-\u00bf™œ˜“”¦]|Ã[©¨¢ª«®¶¼]|ï»¿")
# WHATWG: these labels mean windows-1252 in browsers.
_ALIASES = {
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso8859-1": "cp1252",
    "x-sjis": "shift_jis",
    "gb2312": "gb18030",
    "gbk": "gb18030",
}


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().lower()
    label = _ALIASES.get(label, label)
    try:
        import codecs

        return codecs.lookup(label).name
    except LookupError:
        return None


def decode_body(body: bytes, content_type: str | None = None) -> tuple[str, list[str]]:
    """Bytes to text, trusting valid UTF-8 over a declared charset that contradicts it."""
    warnings: list[str] = []
    for bom, codec in (
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, errors="replace"), warnings
    declared = None
    if content_type and (m := _CT_CHARSET.search(content_type)):
        declared = _codec(m.group(1))
    if declared is None and (m2 := _META_CHARSET.search(body[:4096])):
        declared = _codec(m2.group(1).decode("ascii", "replace"))
    text = _strict_decode(body, "utf-8")
    if text is not None:
        if declared not in (None, "utf-8") and not body.isascii():
            warnings.append("charset_repaired")  # declared something else, but it is UTF-8
    else:
        if declared and declared != "utf-8":
            text = _strict_decode(body, declared)
        if text is None:
            encoding = _guess_encoding(body[:200_000])
            text = body.decode(encoding, errors="replace")
            warnings.append("charset_repaired")
    if _maybe_mojibake(text):
        fixed = ftfy.fix_encoding(text)
        if fixed != text:
            text = fixed
            warnings.append("mojibake_repaired")
    return text, warnings


def _strict_decode(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except UnicodeDecodeError:
        return None


def _guess_encoding(body: bytes) -> str:
    """charset_normalizer's guess; among equally good guesses, windows-1252 (the web's default)."""
    matches = list(from_bytes(body))
    if not matches:
        return "cp1252"
    best = matches[0]
    for match in matches[1:6]:
        if (
            match.encoding == "cp1252"
            and match.chaos <= best.chaos
            and match.coherence >= best.coherence - 0.01
        ):
            return "cp1252"
    return str(best.encoding)


def _maybe_mojibake(text: str) -> bool:
    """UTF-8 read as Latin-1/cp1252 leaves "Ã", "Â" or "â€" behind; test cheaply first."""
    return ("Ã" in text or "Â" in text or "â€" in text) and _MOJIBAKE.search(text) is not None


# ---------------------------------------------------------------- titles

_TITLE_SEP = re.compile(r"\s+(?:[|–—~·•»:]|-{1,2}|::|/)\s+|\s*\|\s*|\s*[»›]\s*")
_NONWORD = re.compile(r"[\W_]+")


def _key(text: str) -> str:
    return _NONWORD.sub("", unicodedata.normalize("NFKC", text).casefold())


def _site_keys(site_names: list[str], url: str) -> set[str]:
    keys = {_key(n) for n in site_names if n and len(_key(n)) >= 3}
    host = site_of(url)
    if host:
        labels = host.split(".")
        keys.add(_key(host))
        # "nytimes" for www.nytimes.com, "bbc" for bbc.co.uk
        core = [label for label in labels if label not in _HOST_NOISE and len(label) >= 3]
        if core:
            keys.add(_key(core[0] if len(core) == 1 else core[-1]))
            keys.update(_key(c) for c in core)
    return {k for k in keys if k}


_HOST_NOISE = frozenset(
    {
        "www",
        "com",
        "org",
        "net",
        "co",
        "uk",
        "news",
        "blog",
        "en",
        "de",
        "fr",
        "edu",
        "gov",
        "au",
        "ca",
        "in",
        "io",
        "info",
        "us",
        "m",
        "amp",
        "mobile",
    }
)


def _is_site_part(part: str, keys: set[str]) -> bool:
    k = _key(part)
    if not k:
        return True
    for site in keys:
        if k == site or (
            len(site) >= 4 and (k.startswith(site) or k.endswith(site)) and len(part.split()) <= 6
        ):
            return True
        if len(k) >= 4 and site.startswith(k) and len(part.split()) <= 4:
            return True
    return False


def clean_title(raw: str | None, *, site_names: list[str], url: str, h1: list[str]) -> str | None:
    """Strip "Title | Site", "Title - Site", "Site: Title" using what we know of the site."""
    if not raw:
        return None
    title = squash(normalise_unicode(raw))
    if not title:
        return None
    h1_keys = {_key(h): h for h in h1 if len(h) >= 3}
    if _key(title) in h1_keys:
        return title
    keys = _site_keys(site_names, url)
    prefix, colon, rest = title.partition(": ")
    if colon and rest and len(prefix.split()) <= 5 and _is_site_part(prefix, keys):
        title = rest.strip()
    parts = _TITLE_SEP.split(title)
    if len(parts) > 1:
        seps = _TITLE_SEP.findall(title)
        # Drop site-name parts from either end.
        start, end = 0, len(parts)
        while end - start > 1 and _is_site_part(parts[end - 1], keys):
            end -= 1
        while end - start > 1 and _is_site_part(parts[start], keys):
            start += 1
        if (start, end) != (0, len(parts)):
            return _join(parts, seps, start, end)
        # An h1 that is one side of the title is the headline.
        for i in range(len(parts)):
            for j in range(i + 1, len(parts) + 1):
                if (i, j) != (0, len(parts)) and _key(_join(parts, seps, i, j)) in h1_keys:
                    return _join(parts, seps, i, j)
        # Unknown trailing segment after a pipe is section/site furniture.
        if seps and "|" in seps[-1] and len(parts[-1].split()) <= 5 and len(parts[0].split()) >= 2:
            end = len(parts) - 1
            while end > 1 and "|" in seps[end - 1] and len(parts[end - 1].split()) <= 3:
                end -= 1
            return _join(parts, seps, 0, end)
    return title


def _join(parts: list[str], seps: list[str], start: int, end: int) -> str:
    out = parts[start]
    for i in range(start + 1, end):
        out += seps[i - 1] + parts[i]
    return out.strip()


def _word_overlap(a: str, b: str) -> float:
    wa, wb = set(_key_words(a)), set(_key_words(b))
    return len(wa & wb) / max(1, min(len(wa), len(wb)))


def _key_words(text: str) -> list[str]:
    return [w for w in (_key(w) for w in text.split()) if w]


_TRAILER_SEP = re.compile(r"\s+(?:[|–—]|-{1,2})\s+|\s*\|\s*")


def drop_trailer(title: str) -> str:
    """Drop what follows the first spaced dash or pipe: a site name or a tagline.

    "Title - Site" is the commonest shape of a stated title; when the site is unknown the
    trailing part is still far more often furniture (site, section, tagline) than headline.
    """
    parts = _TRAILER_SEP.split(title, maxsplit=1)
    if len(parts) == 2 and len(parts[0].split()) >= 2 and len(parts[0]) >= 10:
        return parts[0].strip()
    return title


def choose_title(pm: PageMeta, url: str, site_names: list[str]) -> str | None:
    """The headline as shown: a visible h1 that is not the site's logo wins over SEO titles."""
    art = pm.ld_article()
    ld_headline = None
    if art is not None:
        value = art.get("headline") or art.get("name")
        if isinstance(value, str):
            ld_headline = squash(html_unescape(value))
    og = pm.first("og:title", "twitter:title", "dc.title", "parsely-title", "sailthru.title")
    keys = _site_keys(site_names, url)
    stated = [
        squash(normalise_unicode(html_unescape(c))) for c in (og, ld_headline, pm.title_tag) if c
    ]
    stated = [c for c in stated if c and not _is_site_part(c, keys)]
    h1s = [squash(normalise_unicode(h)) for h in pm.h1]
    h1s = [h for h in h1s if h and not _is_site_part(h, keys) and len(h) <= 300]
    h1_keys = {_key(h) for h in h1s}
    cleaned_stated = [
        c for c in (clean_title(s, site_names=site_names, url=url, h1=h1s) for s in stated) if c
    ]
    # A stated title that is the first part of another one ("T" and "T | Blog").
    stated_keys = {_key(c) for c in stated}
    for c in stated:
        first = _TITLE_SEP.split(c)[0]
        if first != c and _key(first) in stated_keys:
            return drop_trailer(first)
    by_key = {_key(h): h for h in reversed(h1s)}
    for cleaned in cleaned_stated:
        if _key(cleaned) in h1_keys:
            return drop_trailer(by_key[_key(cleaned)])
    # The first h1 that shares words with a stated title (or any h1 if nothing is stated).
    firsts = [_TITLE_SEP.split(c)[0] for c in cleaned_stated]
    for h in h1s:
        if len(h.split()) < 2 and cleaned_stated:
            continue
        if not cleaned_stated or any(
            _word_overlap(h, c) >= 0.3 and len(set(_key_words(h)) & set(_key_words(c))) >= 2
            for c in firsts
        ):
            return drop_trailer(h)
    if cleaned_stated:
        return drop_trailer(cleaned_stated[0])
    return drop_trailer(h1s[0]) if h1s else None


# ---------------------------------------------------------------- authors

_BY_PREFIX = re.compile(
    r"^(?:(?:written|posted|reported|published|story|text|words|photos?|reviewed|edited|compiled"
    r"|medically reviewed|fact[- ]checked)\s+by|by|von|par|por|di|door|av|author|authors|autor"
    r"|auteur|reporter|writer|contributor|posted)\b\s*[:|-]?\s*",
    re.I,
)
_ROLE_WORDS = re.compile(
    r"\b(?:staff|senior|junior|chief|managing|executive|deputy|associate|contributing|guest|special"
    r"|political|foreign|business|science|health|technology|tech|sports?|news|digital|features?"
    r"|investigative|national|international|freelance|lead|former|white house|editorial)?\s*"
    r"(?:writer|reporter|editor|correspondent|columnist|contributor|journalist|producer|analyst"
    r"|photographer|critic|author|staff|team|desk|intern|anchor|host|blogger|expert)s?\b",
    re.I,
)
_CREDENTIAL = re.compile(
    r"^(?:md|m\.d\.|phd|ph\.d\.|rn|ms|msc|ma|mba|mph|rdn|ld|do|dds|cpa|cfp|jr\.?|sr\.?|ii|iii|iv"
    r"|facs|faap|lcsw|np|pa-c|cscs|cpt|bsn|esq\.?|dvm|rd|ibclc|cde|cdces|lmft|psyd)$",
    re.I,
)
_DATE_WORDS = re.compile(
    r"\b(?:updated|published|posted|last modified|on (?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct"
    r"|nov|dec)|\d{1,2}:\d{2}|\d{4}|(?:jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov"
    r"|dec)[a-z]*\.? \d)",
    re.I,
)
_SPLIT_AUTHORS = re.compile(
    r"\s*(?:;|&|\||\x1f|\band\b|\bund\b|\bet\b|\by\b|,|\bwith\b|·|•)\s*", re.I
)
_ROLE_SEP = re.compile(r"\s+[-–—|]\s+")
_NAME_OK = re.compile(r"^[^\W\d_][\w’'.\- ]*[\w.]$")
_PARTICLES = frozenset(
    {
        "de",
        "van",
        "von",
        "der",
        "den",
        "bin",
        "al",
        "da",
        "di",
        "la",
        "le",
        "du",
        "dos",
        "das",
        "del",
        "el",
        "ibn",
        "ter",
        "ten",
        "st.",
        "mc",
        "y",
    }
)
_NOT_NAMES = frozenset(
    {
        "admin",
        "administrator",
        "staff",
        "editor",
        "editors",
        "team",
        "guest",
        "user",
        "webmaster",
        "sign",
        "in",
        "community",
        "podcast",
        "marketing",
        "home",
        "about",
        "contact",
        "share",
        "our",
        "news",
        "blog",
        "read",
        "more",
        "follow",
        "subscribe",
        "login",
        "log",
        "menu",
        "search",
        "written",
        "posted",
        "updated",
        "published",
        "reviewed",
        "the",
        "a",
        "an",
        "of",
        "for",
        "to",
        "by",
        "view",
        "all",
        "posts",
        "articles",
        "profile",
        "bio",
        "email",
        "twitter",
        "facebook",
        "linkedin",
        "instagram",
        "comments",
        "comment",
        "reply",
        "min",
        "mins",
        "minute",
        "minutes",
        "featured",
        "sponsored",
        "partner",
        "content",
        "desk",
        "wire",
        "services",
        "service",
        "press",
        "media",
        "inc",
        "llc",
        "ltd",
        "company",
        "group",
        "magazine",
        "newsletter",
        "unknown",
        "anonymous",
        "hardware",
        "software",
        "support",
        "info",
        "help",
        "print",
        "save",
        "listen",
        "audio",
        "video",
        "photo",
        "photos",
        "image",
        "images",
        "source",
        "sources",
        "editorial",
        "board",
        "opinion",
        "multiplatform",
        "producer",
        "senior",
        "manager",
        "coordinator",
        "event",
        "director",
        "officer",
        "specialist",
        "founder",
        "ceo",
        "president",
        "head",
        "lead",
        "expert",
        "experts",
        "reviewer",
    }
)


def _person_like(name: str, strict: bool) -> bool:
    words = name.split(",")[0].split()
    if not words or len(words) > 5:
        return False
    lowered = [w.casefold().strip(".") for w in words]
    if any(w in _NOT_NAMES for w in lowered):
        return False
    if not strict:
        return True
    if not 2 <= len(words) <= 4:
        return False
    return all(w[0].isupper() or w.casefold() in _PARTICLES for w in words)


def clean_authors(
    raw_names: list[str], *, site_keys: set[str], strict: bool = False
) -> tuple[str, ...]:
    """Names only: no "By", roles, dates, e-mail addresses, URLs or site names.

    ``strict`` is for free text found on the page (bylines), where only person-shaped names
    (two to four capitalised words) are believed.
    """
    out: list[str] = []
    seen: set[str] = set()
    for raw in raw_names:
        text = normalise_unicode(raw.replace("\x1f", "\n")).replace("\n", "\x1f")
        text = re.sub(r"[ \t]+", " ", text).strip()
        if not text or "://" in text or text.startswith("www."):
            continue
        text = re.sub(r"\S+@\S+", " ", text)
        m = _DATE_WORDS.search(text)
        if m and m.start() > 2:
            text = text[: m.start()]
        text = _BY_PREFIX.sub("", text.strip(" |-–—:,\x1f"))
        names: list[str] = []
        # "Name - Role" / "Name | Site": what follows a spaced dash counts only if person-shaped.
        head, *tails = _ROLE_SEP.split(text)
        pieces = _SPLIT_AUTHORS.split(head)
        for tail in tails:
            pieces.extend(p for p in _SPLIT_AUTHORS.split(tail) if _person_like(p.strip(), True))
        for piece in pieces:
            piece = _BY_PREFIX.sub("", piece.strip(" .|-–—:,()"))
            if not piece:
                continue
            if _CREDENTIAL.match(piece):
                if names:
                    names[-1] = f"{names[-1]}, {piece}"
                continue
            stripped = _ROLE_WORDS.sub("", piece).strip(" ,.-|")
            if not stripped:
                continue
            names.append(stripped if _ROLE_WORDS.search(piece) else piece)
        for name in names:
            name = name.strip(" ,-|")
            base = name.split(",")[0]
            if not _NAME_OK.match(base) or len(base) < 2 or not _person_like(name, strict):
                continue
            if " " not in base and (base.islower() or (base.isupper() and len(base) <= 4)):
                continue  # handles and initials ("officialrajdeepsingh", "MCJ")
            k = _key(name)
            if k in seen or (strict and k in site_keys):
                continue
            if " " not in name.strip() and any(
                s.startswith(k) and len(s) <= len(k) + 3 for s in site_keys
            ):
                continue  # a one-word "author" that is the site's own name is the organisation
            if name.isupper() and len(name) > 4:
                name = name.title()
            seen.add(k)
            out.append(name)
    return tuple(out[:10])


def choose_authors(
    pm: PageMeta, tree: HtmlElement, site_keys: set[str], headline: HtmlElement | None = None
) -> tuple[str, ...]:
    """JSON-LD first, then author meta tags, then a visible byline on the page (next to
    ``headline`` when known).

    CMS display names are often a first name only; the visible byline has the full one.
    """
    names = _stated_authors(pm, site_keys)
    if not names:
        return _byline_authors(tree, site_keys, headline)
    if any(" " in n for n in names):
        return names
    for full in _byline_authors(tree, site_keys, headline):
        if full.split()[0].casefold() == names[0].casefold():
            return (full, *names[1:])
    return names


def _stated_authors(pm: PageMeta, site_keys: set[str]) -> tuple[str, ...]:
    art = pm.ld_article()
    if art is not None:
        names = clean_authors(
            jsonld_names(art.get("author") or art.get("creator")), site_keys=site_keys
        )
        if names:
            return names
    for key in (
        "author#all",
        "article:author#all",
        "parsely-author#all",
        "sailthru.author#all",
        "dc.creator#all",
        "citation_author#all",
        "dcterms.creator#all",
        "byl#all",
        "twitter:creator:name",
    ):
        value = pm.meta.get(key)
        if value:
            names = clean_authors([v for v in value.split("\x1f") if v], site_keys=site_keys)
            if names:
                return names
    for i in range(1, 4):
        label = pm.meta.get(f"twitter:label{i}", "").casefold()
        if label.startswith(("written by", "author")):
            names = clean_authors([pm.meta.get(f"twitter:data{i}", "")], site_keys=site_keys)
            if names:
                return names
    for obj in pm.jsonld:
        if obj is not art and obj.get("author"):
            names = clean_authors(jsonld_names(obj.get("author")), site_keys=site_keys)
            if names:
                return names
    return ()


def _byline_authors(tree: HtmlElement, site_keys: set[str], headline: HtmlElement | None) -> tuple[str, ...]:
    for node in byline_texts(tree, headline):
        names = clean_authors([node], site_keys=site_keys, strict=True)
        if names:
            return names
    return ()


# ---------------------------------------------------------------- page kind

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
_PRODUCT_URL = re.compile(
    r"/(?:products?|item|dp|shop|store|browse|buy|cart|collections?)(?:/|$)", re.I
)
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
_DATE_PATH = re.compile(
    r"/(?:19|20)\d{2}/\d{1,2}(?:/|$)|/(?:19|20)\d{2}-\d{2}-\d{2}|[-/]\d{7,}(?:[./-]|$)"
)
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
    score -= (
        2.0 if types & {"collectionpage", "itemlist", "searchresultspage", "profilepage"} else 0.0
    )
    score += 2.0 if sig.stated_date else (0.75 if sig.has_date else -1.0)
    score += 1.5 if sig.has_author else -0.5
    score += 1.0 if _DATE_PATH.search(path) else 0.0
    score += 0.5 if sig.long_paragraphs >= 4 else -1.0
    score -= 1.0 if sig.words < 150 else 0.0
    score -= 3.0 if path in ("", "/") else 0.0
    forum_hits = len(_FORUM_TEXT.findall(text[:20000]))
    product_hits = len(_PRODUCT_TEXT.findall(text[:8000]))
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
    if forum_hits >= 8:
        score -= 1.0
        kind = "forum" if kind == "other" else kind
    if product_hits >= 5 and not ld_article:
        score -= 1.0
        kind = "product" if kind == "other" else kind
    if score >= -0.5:
        return "article"
    if types & {"collectionpage", "itemlist", "searchresultspage"}:
        return "listing"
    if kind == "other" and sig.long_paragraphs < 2 and sig.paragraphs >= 10:
        return "listing"
    return kind


# ---------------------------------------------------------------- language


def _lang_code(value: str | None) -> str | None:
    code = (value or "").strip().replace("_", "-").split("-")[0].lower()
    return code if len(code) == 2 and code.isalpha() else None


def detect_language(text: str, declared: str | None) -> str | None:
    """ISO 639-1 code: py3langid on the text (model ships in the wheel, no downloads), the
    page's own declaration when there is too little text to judge."""
    sample = text[:600]
    if len(sample) >= 40:
        lang, _score = py3langid.classify(sample)
        return str(lang)
    return _lang_code(declared)


# ---------------------------------------------------------------- canonical


def choose_url(pm: PageMeta, url: str, final_url: str | None) -> str:
    """rel=canonical / og:url only when on the same site and not the homepage."""
    base = final_url or url
    try:
        fallback = canonical_url(base)
    except InvalidURL:
        return base
    for candidate in (pm.canonical, pm.first("og:url")):
        if not candidate:
            continue
        try:
            resolved = canonical_url(candidate, base=base)
        except InvalidURL:
            continue
        if site_of(resolved) != site_of(fallback):
            continue
        path = urlsplit(resolved).path
        if path in ("", "/") and urlsplit(fallback).path not in ("", "/"):
            continue
        return resolved
    return fallback


# ---------------------------------------------------------------- extraction

# Inserts that point at other stories; trafilatura keeps them as ordinary paragraphs.
_PRUNE_XPATH = [
    "//p[starts-with(normalize-space(.),'Also Read') or starts-with(normalize-space(.),'ALSO READ')"
    " or starts-with(normalize-space(.),'READ MORE:') or starts-with(normalize-space(.),'Read"
    " More:')"
    " or starts-with(normalize-space(.),'Read more:') or starts-with(normalize-space(.),'Related:')"
    " or starts-with(normalize-space(.),'RELATED:') or starts-with(normalize-space(.),'See"
    " also:')]",
]


# favor_recall + fast scored best with our cleaning on both benchmarks; when it returns
# next to nothing from a page full of words, the slower fallback comparison is worth it.
_SHORT_RESULT_WORDS = 100
_PAGE_WORDS_FOR_RETRY = 500


def _run_trafilatura(tree: HtmlElement, url: str | None, fast: bool) -> Any:
    return bare_extraction(
        tree,
        url=url,
        fast=fast,
        favor_recall=True,
        include_comments=False,
        include_tables=True,
        include_links=False,
        prune_xpath=_PRUNE_XPATH,
    )


_CAPTIONS = etree.XPath("//figcaption | //p[@class='wp-caption-text']")


def _extract_main(tree: HtmlElement, url: str | None) -> tuple[str, Any]:
    """Main text and trafilatura's extracted body (XML) from one extraction (two if it fails)."""
    doc = _run_trafilatura(tree, url, fast=True)
    text = xmltotxt(doc.body, False) if doc is not None and doc.body is not None else ""
    if len(text.split()) < _SHORT_RESULT_WORDS:
        body = tree.find("body")
        page_words = len((body if body is not None else tree).text_content().split())
        if page_words >= _PAGE_WORDS_FOR_RETRY:
            retry = _run_trafilatura(tree, url, fast=False)
            retry_text = (
                xmltotxt(retry.body, False) if retry is not None and retry.body is not None else ""
            )
            if len(retry_text.split()) > len(text.split()):
                doc, text = retry, retry_text
    if doc is None or doc.body is None:
        return "", None
    return text, doc.body


def _feed_or_page_date(
    hint: datetime | None, page: PageDate | None
) -> tuple[datetime | None, date | None]:
    if hint is not None:
        aware = hint if hint.tzinfo is not None else hint.replace(tzinfo=UTC)
        aware = aware.astimezone(UTC)
        return aware, page.local if page and page.utc.date() == aware.date() else aware.date()
    if page is not None:
        return page.utc, page.local
    return None, None


_H1 = etree.XPath("//body//h1")
_H2 = etree.XPath("//body//h2")
_AFTER_NODES = 80
_UPDATED_LABEL = re.compile(r"(?:updated|modified|reviewed|edited)\W{0,3}(?:on\W{0,3})?$", re.I)
_SKIP_TEXT_IN = frozenset({"script", "style", "noscript", "template"})
# A date that is (nearly) all of its text node is a printed stamp ("Mar 06, 2025",
# "February 4 2026 - 12 min read"); one inside a longer sentence is the story talking.
_STAMP_SLACK = 40
_STAMPS_BEFORE = 5


def _headline(tree: HtmlElement, title: str | None) -> HtmlElement | None:
    """The story's headline element: the first ``<h1>`` that reads like the page's title,
    else an ``<h2>`` that does (themes that spend ``<h1>`` on the logo or "0 Comments"),
    else the first non-empty ``<h1>`` (empty ones hold logos)."""
    title_words = set(_key_words(title or ""))

    def like_title(text: str) -> bool:
        words = set(_key_words(text))
        return bool(title_words) and len(words & title_words) >= 0.6 * max(len(words), len(title_words))

    first_h1: HtmlElement | None = None
    for el in _H1(tree):
        text = squash(el.text_content())
        if text and like_title(text):
            return el
        if text and first_h1 is None:
            first_h1 = el
    if title_words:
        for el in _H2(tree):
            if like_title(squash(el.text_content())):
                return el
    return first_h1


def _is_comments(el: Any) -> bool:
    return "comment" in (el.get("class") or "") or "comment" in (el.get("id") or "")


def _texts_after(el: HtmlElement, limit: int) -> list[tuple[Any, str]]:
    """(parent element, text) of the text nodes after ``el`` in document order, like XPath
    ``following::text()`` (a walk that stops early; the XPath builds the whole axis first).
    Comment sections are passed over: a short story's readers are not its byline."""
    out: list[tuple[Any, str]] = []
    node: Any = el
    while node is not None:
        if node.tail:
            out.append((node.getparent(), node.tail))
        for sib in node.itersiblings():
            walk = etree.iterwalk(sib, events=("start", "end"))
            for event, d in walk:
                if event == "start":
                    if not isinstance(d.tag, str):
                        continue
                    if _is_comments(d):
                        walk.skip_subtree()
                    elif d.text:
                        out.append((d, d.text))
                elif d is not sib and d.tail:
                    out.append((d.getparent(), d.tail))
                if len(out) >= limit:
                    return out
            if sib.tail:
                out.append((node.getparent(), sib.tail))
            if len(out) >= limit:
                return out[:limit]
        node = node.getparent()
    return out


def _texts_before_in(block: HtmlElement, el: HtmlElement) -> list[tuple[Any, str]]:
    """(parent element, text) of the text nodes of ``block`` that come before ``el``."""
    out: list[tuple[Any, str]] = []
    for event, d in etree.iterwalk(block, events=("start", "end")):
        if d is el:
            break
        if event == "start":
            if isinstance(d.tag, str) and d.text:
                out.append((d, d.text))
        elif d is not block and d.tail:
            out.append((d.getparent(), d.tail))
    return out


def _text_pieces(nodes: list[tuple[Any, str]]) -> list[str]:
    pieces = []
    for parent, text in nodes:
        if parent is not None and parent.tag in _SKIP_TEXT_IN:
            continue
        piece = squash(text)
        if piece:
            pieces.append(piece)
    return pieces


@dataclass(frozen=True)
class _Printed:
    day: date
    stamp: bool  # the date is (nearly) its whole text node
    updated: bool  # labelled "Updated", "Last modified", ...


def _printed_dates(pieces: list[str], order: str) -> list[_Printed]:
    """Dates printed in consecutive text pieces, in order; pieces are joined so that a label
    in one element ("Updated") still qualifies the date in the next."""
    text = ""
    ends: list[int] = []
    for piece in pieces:
        text += piece + " "
        ends.append(len(text) - 1)
    out = []
    piece_at = 0
    for m in PRINTED_DATE.finditer(text):
        day = parse_printed_date(m.group(0), order)
        if day is None:
            continue
        while ends[piece_at] <= m.start():
            piece_at += 1
        piece_len = len(pieces[piece_at])
        stamp = m.end() <= ends[piece_at] and piece_len - len(m.group(0)) <= _STAMP_SLACK
        updated = bool(_UPDATED_LABEL.search(text[max(0, m.start() - 25) : m.start()]))
        out.append(_Printed(day, stamp, updated))
    return out


def _as_page_date(day: date) -> PageDate:
    return PageDate(day, datetime(day.year, day.month, day.day, tzinfo=UTC))


def _date_near_headline(headline: HtmlElement | None, order: str) -> tuple[PageDate | None, bool]:
    """A printed date next to the headline, where bylines and article headers put it, and
    whether it is only an "Updated" date. In order: a date stamp below the headline, one
    just above it (headers that print date and section over the title), a date in the text
    below it, and last an "Updated"/"Modified" date (the original date is preferred)."""
    if headline is None:
        return None, False
    after: list[str] = []
    size = 0
    for piece in _text_pieces(_texts_after(headline, _AFTER_NODES)):
        after.append(piece)
        size += len(piece)
        if size > 700:
            break
    found_after = _printed_dates(after, order)
    for p in found_after:
        if p.stamp and not p.updated:
            return _as_page_date(p.day), False
    # Above the headline only within its own header block (parent or grandparent): a
    # sidebar or a "recent comments" list that happens to end right above it is another block.
    block = headline.getparent()
    if block is not None and (outer := block.getparent()) is not None and outer.tag not in ("body", "html"):
        block = outer
    before = _text_pieces(_texts_before_in(block, headline))[-_STAMPS_BEFORE:] if block is not None else []
    for p in reversed(_printed_dates(before, order)):
        if p.stamp and not p.updated:
            return _as_page_date(p.day), False
    for p in found_after:
        if not p.updated:
            return _as_page_date(p.day), False
    if found_after:
        return _as_page_date(found_after[0].day), True
    return None, False


# "Published: May 25, 2025", "Originally published on 3 March 2024", "Posted on ...", and
# what prints the label after the value: "3 Sept 2024 | Originally published", icon boxes
# with "17/08/2025" over "Date Posted".
# Plain contains() keeps the scan cheap (translate() for case folding costs 2-3 times more);
# the candidates are then checked with _PUBLISHED_WORD.
_PUBLISHED_TEXT = etree.XPath(
    "//body//text()[contains(., 'ublished') or contains(., 'UBLISHED') or contains(., 'osted')"
    " or contains(., 'OSTED')]"
    "[not(ancestor::*[not(self::body)][contains(@class,'comment') or contains(@id,'comment')])]"
)
_PUBLISHED_WORD = re.compile(r"\b(?:published|posted)\b", re.I)
_PUBLISHED_LABEL = re.compile(r"(?:published|posted)\s*(?:on\b)?\W{0,3}$", re.I)
_PUBLISHED_LABEL_AFTER = re.compile(
    r"^\W{0,4}(?:(?:originally|first)\s+published|date\s+(?:published|posted))\b", re.I
)
_BLOCK_CHARS = 300


def _labelled_published_date(tree: HtmlElement, order: str) -> PageDate | None:
    """A date the page itself labels as the publication date, anywhere outside comments.
    Asked only when nothing dates the page near its headline, or only an update does.
    Label and date sit in one small block ("<div><b>Published:</b> <br>May 25, 2025</div>"),
    so the label's enclosing blocks are read, up to three levels and a few hundred characters."""
    nodes = [n for n in _PUBLISHED_TEXT(tree) if _PUBLISHED_WORD.search(n)]
    for node in nodes[:20]:
        el = node.getparent()
        if el is None or el.tag in _SKIP_TEXT_IN:
            continue
        if node.is_tail:
            el = el.getparent()
        for _ in range(3):
            if el is None:
                break
            text = squash(el.text_content())
            if len(text) > _BLOCK_CHARS:
                break
            for m in PRINTED_DATE.finditer(text):
                before = _PUBLISHED_LABEL.search(text[max(0, m.start() - 30) : m.start()])
                after = _PUBLISHED_LABEL_AFTER.search(text[m.end() : m.end() + 30])
                if before or after:
                    day = parse_printed_date(m.group(0), order)
                    if day is not None:
                        return _as_page_date(day)
            el = el.getparent()
    return None


def _htmldate(tree: HtmlElement, url: str | None, headline: HtmlElement | None) -> PageDate | None:
    """htmldate over the headline's surroundings (a copy: lxml's // searches whole documents)."""
    scope = tree
    if headline is not None:
        ancestors = [a for a in headline.iterancestors() if a.tag not in ("body", "html")]
        if len(ancestors) >= 2:
            scope = copy(ancestors[min(4, len(ancestors) - 1)])
    try:
        found = find_date(
            scope, url=url, extensive_search=False, original_date=True, outputformat="%Y-%m-%d"
        )
    except (ValueError, TypeError):
        return None
    return parse_iso_datetime(found) if found else None


def _declared_locale(pm: PageMeta) -> str | None:
    """The most specific of the page's language declarations: ``lang="en"`` with
    ``og:locale=en_GB`` is British English, which decides how 3/4/2025 reads."""
    declared = [
        d.strip().replace("_", "-").lower()
        for d in (pm.html_lang, pm.first("og:locale"), pm.first("content-language", "dc.language"))
        if d and d.strip()
    ]
    if not declared:
        return None
    language = declared[0].split("-")[0]
    for d in declared:
        if d.startswith(language + "-"):
            return d
    return declared[0]


def _printed_page_date(
    tree: HtmlElement, url: str, headline: HtmlElement | None, pm: PageMeta
) -> PageDate | None:
    """The publication date a reader sees, for pages whose markup states none."""
    order = numeric_date_order(_declared_locale(pm))
    near, only_updated = _date_near_headline(headline, order)
    if near is not None and not only_updated:
        return near
    labelled = _labelled_published_date(tree, order)
    if labelled is not None:
        return labelled
    found = _htmldate(tree, url, headline)
    if near is None:
        return found
    # Only an update is printed by the headline: the publication cannot be later than it.
    return found if found is not None and found.local < near.local else near


def extract_article(
    body: bytes,
    *,
    url: str,
    final_url: str | None = None,
    content_type: str | None = None,
    hints: FeedHints | None = None,
    site_names: tuple[str, ...] = (),
) -> NormalisedArticle:
    """Normalise a fetched article page. ``site_names``: names the site is known by
    (e.g. learned from earlier pages of the same host), used to strip title suffixes."""
    hints = hints or FeedHints()
    warnings: list[str] = []
    page_url = final_url or url
    text_doc, decode_warnings = decode_body(body, content_type)
    warnings.extend(decode_warnings)
    tree = load_html(text_doc) if text_doc.strip() else None
    if tree is None:
        warnings.append("unparseable_html")
        return _from_content_only(url=url, page_url=page_url, hints=hints, warnings=warnings)

    pm = read_page_meta(tree)
    raw_text, main_body = _extract_main(tree, page_url)
    captions = caption_keys([normalise_unicode(squash(c.text_content())) for c in _CAPTIONS(tree)])
    cleaned = clean_paragraphs(paragraphs_of(normalise_unicode(raw_text)), captions=captions)
    site_name_list = [
        n
        for n in (
            pm.first("og:site_name", "application-name", "al:android:app_name", "twitter:site"),
            *_publisher_names(pm),
            *site_names,
        )
        if n
    ]
    site_name_list = [n.lstrip("@") for n in site_name_list]
    keys = _site_keys(site_name_list, page_url)

    title = (hints.title and squash(normalise_unicode(hints.title))) or choose_title(
        pm, page_url, site_name_list
    )
    cleaned = _drop_leading_title(cleaned, title)
    headline = _headline(tree, title)  # bylines and printed dates sit next to it
    authors = tuple(
        a for a in (squash(normalise_unicode(a)) for a in hints.authors) if a
    ) or choose_authors(pm, tree, keys, headline)
    published, modified = page_dates(pm)
    stated_date = published is not None
    if published is None and hints.published_at is None:
        # The permalink's date, else what the page prints: by the headline, under a
        # "Published" label, htmldate's scan of the headline's surroundings.
        published = url_date(page_url) or _printed_page_date(tree, page_url, headline, pm)
        if published is None and cleaned.dateline and cleaned.dateline.day:
            d = cleaned.dateline.day
            published = PageDate(d, datetime(d.year, d.month, d.day, tzinfo=UTC))
    published_at, published_date = _feed_or_page_date(hints.published_at, published)
    updated_at, _ = _feed_or_page_date(hints.updated_at, modified)

    text = cleaned.text
    html = page_html(
        main_body,
        tree,
        page_url,
        dropped=cleaned.dropped,
        dateline_prefix=cleaned.dateline.prefix if cleaned.dateline else None,
        key=_key,
    )
    source = "page"
    dateline = cleaned.dateline
    if not text.strip() and hints.content_html:
        # Paywall, script-only page, consent wall: the feed's own content stands in.
        warnings.append("no_text")
        fallback = article_from_content(url=url, title=title, html=hints.content_html, hints=hints)
        text, html, source = fallback.text, fallback.html, "feed"
        cleaned = _cleaned_of(fallback)
        dateline = _dateline_of(fallback)
        if published_at is None:
            published_at, published_date = fallback.published_at, fallback.published_date
    elif not text.strip():
        warnings.append("no_text")

    words = len(text.split())
    sig = KindSignals(
        types=pm.types,
        has_date=published is not None,
        stated_date=stated_date,
        has_author=bool(authors),
        words=words,
        paragraphs=len(cleaned.paragraphs),
        long_paragraphs=sum(1 for p in cleaned.paragraphs if len(p.split()) >= 30),
    )
    kind = (
        classify_page(sig, page_url, text)
        if source == "page"
        else ("article" if words else "empty")
    )
    if kind != "article":
        warnings.append("non_article")
    declared_lang = (
        hints.language or pm.html_lang or pm.first("content-language", "og:locale", "dc.language")
    )
    language = _lang_code(hints.language) or detect_language(text, declared_lang)
    image = _image(pm, page_url)
    description = pm.first("og:description", "description", "twitter:description")
    return NormalisedArticle(
        url=choose_url(pm, url, final_url),
        title=title or None,
        text=text,
        html=html,
        authors=authors,
        published_at=published_at,
        updated_at=updated_at,
        language=language,
        image_url=image,
        dateline=dateline.place if dateline else None,
        agency=dateline.agency if dateline else None,
        word_count=words,
        page_kind=kind,
        source=source,
        warnings=tuple(dict.fromkeys(warnings)),
        published_date=published_date,
        site_name=site_name_list[0] if site_name_list else None,
        description=squash(normalise_unicode(description)) if description else None,
    )


def _dateline_of(article: NormalisedArticle) -> Dateline | None:
    if article.dateline is None and article.agency is None:
        return None
    return Dateline(article.dateline, article.agency, article.published_date, "")


def _cleaned_of(article: NormalisedArticle) -> CleanedText:
    pars = tuple(article.text.split("\n\n")) if article.text else ()
    return CleanedText(article.text, pars, None, ())


def _publisher_names(pm: PageMeta) -> list[str]:
    names: list[str] = []
    for obj in pm.jsonld:
        raw = obj.get("@type")
        types = {str(t).lower() for t in (raw if isinstance(raw, list) else [raw])}
        if types & {"organization", "newsmediaorganization", "website"}:
            names.extend(jsonld_names(obj, people_only=False))
        names.extend(jsonld_names(obj.get("publisher"), people_only=False))
    return names[:4]


def _image(pm: PageMeta, base: str) -> str | None:
    raw: Any = pm.first(
        "og:image", "og:image:url", "og:image:secure_url", "twitter:image", "twitter:image:src"
    )
    if not raw:
        art = pm.ld_article()
        img = art.get("image") if art else None
        if isinstance(img, list) and img:
            img = img[0]
        if isinstance(img, dict):
            img = img.get("url")
        raw = img if isinstance(img, str) else None
    if not raw:
        return None
    try:
        return canonical_url(raw, base=base)
    except InvalidURL:
        return None


def _drop_leading_title(cleaned: CleanedText, title: str | None) -> CleanedText:
    """Extractors sometimes repeat the headline as the first paragraph; the title field has it."""
    if not title or not cleaned.paragraphs or _key(cleaned.paragraphs[0]) != _key(title):
        return cleaned
    pars = cleaned.paragraphs[1:]
    return CleanedText(
        "\n\n".join(pars), pars, cleaned.dateline, (*cleaned.dropped, cleaned.paragraphs[0])
    )


_BLOCKS = ("p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "td", "dd", "dt")


def _html_to_text(html: str) -> str:
    """Feed content as paragraphs: one per block element; bare text and <br> lines kept."""
    tree = load_html(f"<html><body><div>{html}</div></body></html>")
    if tree is None:
        return ""
    for el in list(tree.iter("script", "style", "noscript", "template", "figcaption")):
        el.drop_tree()
    for br in tree.iter("br"):
        br.tail = "\n" + (br.tail or "")
    pars: list[str] = []
    for el in tree.iter(*_BLOCKS):
        if not any(anc.tag in _BLOCKS for anc in el.iterancestors()):
            pars.append(el.text_content())
    loose = copy(tree)  # text outside any block (feeds often use bare text and <br>)
    for el in list(loose.iter(*_BLOCKS)):
        if el.getparent() is not None:
            el.drop_tree()
    rest = loose.text_content().strip()
    if rest and (not pars or len(rest) > 40):
        pars.insert(0, rest)
    return "\n\n".join(pars)


def article_from_content(
    *,
    url: str,
    title: str | None,
    html: str | None = None,
    text: str | None = None,
    hints: FeedHints | None = None,
) -> NormalisedArticle:
    """An article from a feed entry's own content or an import line (no page)."""
    hints = hints or FeedHints()
    warnings: list[str] = []
    raw_html = html if html is not None else hints.content_html
    if text is None and raw_html:
        text = _html_to_text(raw_html)
    text = text or ""
    if _maybe_mojibake(text):
        fixed = ftfy.fix_encoding(text)
        if fixed != text:
            text = fixed
            warnings.append("mojibake_repaired")
    pars = paragraphs_of(normalise_unicode(text))
    cleaned = clean_paragraphs(pars)
    final_title = squash(normalise_unicode(title or hints.title or "")) or None
    if final_title is None and _looks_like_headline(cleaned.paragraphs):
        final_title = cleaned.paragraphs[0]
    cleaned = _drop_leading_title(cleaned, final_title)
    out_text = cleaned.text
    if raw_html:
        out_html = content_html(
            raw_html,
            url,
            dropped=cleaned.dropped,
            dateline_prefix=cleaned.dateline.prefix if cleaned.dateline else None,
            key=_key,
        )
    else:
        out_html = "".join(f"<p>{_escape(p)}</p>" for p in cleaned.paragraphs)
    words = len(out_text.split())
    if not words:
        warnings.append("no_text")
    published_at, published_date = _feed_or_page_date(hints.published_at, None)
    if published_at is None and cleaned.dateline and cleaned.dateline.day:
        d = cleaned.dateline.day
        published_at, published_date = datetime(d.year, d.month, d.day, tzinfo=UTC), d
    updated_at, _ = _feed_or_page_date(hints.updated_at, None)
    try:
        final_url = canonical_url(url)
    except InvalidURL:
        final_url = url
    return NormalisedArticle(
        url=final_url,
        title=final_title,
        text=out_text,
        html=out_html,
        authors=clean_authors(list(hints.authors), site_keys=set()) if hints.authors else (),
        published_at=published_at,
        updated_at=updated_at,
        language=_lang_code(hints.language) or detect_language(out_text, None),
        image_url=None,
        dateline=cleaned.dateline.place if cleaned.dateline else None,
        agency=cleaned.dateline.agency if cleaned.dateline else None,
        word_count=words,
        page_kind="article" if words else "empty",
        source="feed",
        warnings=tuple(warnings),
        published_date=published_date,
    )


def _looks_like_headline(pars: tuple[str, ...]) -> bool:
    """Imported text often opens with its headline: short, unpunctuated, before the story."""
    if len(pars) < 3:
        return False
    first = pars[0]
    return (
        len(first.split()) <= 20
        and "\n" not in first
        and not first.endswith((".", "!", ":", ",", ";"))
    )


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")
    )


def _from_content_only(
    *, url: str, page_url: str, hints: FeedHints, warnings: list[str]
) -> NormalisedArticle:
    art = article_from_content(
        url=page_url, title=hints.title, html=hints.content_html, hints=hints
    )
    return NormalisedArticle(
        **{**art.__dict__, "warnings": tuple(dict.fromkeys([*warnings, *art.warnings]))}
    )


def clean_text(text: str) -> str:
    """Unicode and boilerplate cleaning of plain text, shared with the page path."""
    return _clean_text(text)
