"""Feed parsing: bytes in, a frozen ``ParsedFeed`` out. No network, no files.

feedparser is only ever given an in-memory stream (given a string it may open
a URL or a local file), and documents that declare a DTD internal subset or
entities are refused before parsing: feedparser's loose fallback parser would
expand an entity bomb into gigabytes.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import re
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import feedparser
import feedparser.encodings

from worker.model.feed import ParsedEntry, ParsedFeed
from worker.model.urls import InvalidURL, canonical_url, identity_url

_PROLOG_LIMIT = 4096
_DOCTYPE = re.compile(rb"<!DOCTYPE\b", re.IGNORECASE)
_ENTITY = re.compile(rb"<!ENTITY\b", re.IGNORECASE)
_HTML_DOCTYPE = re.compile(rb"<!DOCTYPE\s+html\b", re.IGNORECASE)
_ELEMENT_START = re.compile(rb"<[A-Za-z_]")
# FreshRSS's rule of thumb: when more than 5% of a feed's GUIDs are unusable,
# GUIDs are not trusted for that feed at all and links become the identity.
BROKEN_GUID_SHARE = 0.05


# feedparser asks chardet (or cchardet) for a guess before trying UTF-8 and windows-1252 when a
# feed's bytes do not decode as declared, but only when that package happens to be installed
# (readability-lxml, among others, pulls it in): the same feed then stores "crčme" on one machine
# and "crème" on another. Off, so the order is always declared, BOM, UTF-8, windows-1252.
feedparser.encodings.lazy_chardet_encoding = None


class FeedParseError(ValueError):
    """The bytes are not a feed we will ingest; the message says why."""


_XML_ENCODING = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']""")
# Encodings in which "<!ENTITY" is spelled with the same bytes as in ASCII: scanning the raw
# bytes is enough. Anything else (UTF-16/32, UTF-7, EBCDIC…) is decoded and scanned as text,
# or a declaration could hide from the byte scan and reach the parser.
_ASCII_TRANSPARENT = re.compile(
    r"^(utf[-_]?8(-sig)?|(us[-_]?)?ascii|latin[-_]?\d*|iso[-_]?8859[-_]\d+|(cp|windows-)125\d|koi8.*)$"
)


def _scan_views(body: bytes) -> list[bytes]:
    """The document as bytes to scan: raw, plus UTF-8 re-encodings for non-ASCII-transparent encodings."""
    views = [body]
    head = body[:_PROLOG_LIMIT]
    names: list[str] = []
    if b"\x00" in head[:4] or head.startswith((b"\xfe\xff", b"\xff\xfe")):
        names += ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"]
    if head.startswith(b"\x4c\x6f\xa7\x94"):  # "<?xm" in EBCDIC
        names.append("cp037")
    declared = _XML_ENCODING.search(head)
    if declared and not _ASCII_TRANSPARENT.match(declared.group(1).decode("ascii").lower()):
        names.append(declared.group(1).decode("ascii"))
    for name in names:
        try:
            views.append(body.decode(name, errors="replace").encode("utf-8"))
        except LookupError:  # an encoding Python does not know: feedparser cannot use it either
            continue
    return views


def check_xml_safety(body: bytes) -> None:
    """Refuse entity declarations and DTD internal subsets (billion laughs, quadratic blow-up),
    in whatever encoding the document is written."""
    for view in _scan_views(body):
        _check_view(view)


def _check_view(body: bytes) -> None:
    if _ENTITY.search(body):
        raise FeedParseError("feed declares XML entities (<!ENTITY>): refused as a possible entity bomb")
    doctype = _DOCTYPE.search(body, 0, _PROLOG_LIMIT)
    if doctype is None or _ELEMENT_START.search(body, 0, doctype.start()):
        # None, or after the root element opened: then it is text (an item's page in CDATA), not a
        # declaration; entity declarations anywhere were refused above.
        return
    if _HTML_DOCTYPE.match(body, doctype.start()):
        raise FeedParseError("the address returned an HTML page, not a feed")
    end = body.find(b">", doctype.end())
    declaration = body[doctype.start() : end if end != -1 else len(body)]
    if b"[" in declaration:
        raise FeedParseError("feed has a DTD internal subset: refused as a possible entity bomb")


def _struct_to_datetime(value: time.struct_time | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, OSError):
        return None


# C0/C1 control characters (whitespace aside) and non-characters: never text, and PostgreSQL
# refuses NUL outright, which would make a feed unstorable. feedparser's loose parser keeps them.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    stripped = " ".join(_CONTROL.sub("", value).split())
    return stripped or None


def _entry_content(entry: Any) -> str | None:
    contents = entry.get("content") or []
    # Prefer the longest full-content block; fall back to the summary.
    best = max((c.get("value") or "" for c in contents), key=len, default="")
    if best.strip():
        return str(best)
    summary = entry.get("summary")
    return str(summary) if summary else None


def _authors(entry: Any) -> tuple[str, ...]:
    names: list[str] = []
    for author in entry.get("authors") or []:
        name = _clean(author.get("name")) if isinstance(author, dict) else None
        if name and name not in names:
            names.append(name)
    if not names and _clean(entry.get("author")):
        names.append(str(_clean(entry.get("author"))))
    return tuple(names)


def _absolute_link(entry: Any, base: str) -> str | None:
    link = entry.get("link")
    if not link:
        for candidate in entry.get("links") or []:
            if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
                link = candidate["href"]
                break
    if not link:
        return None
    try:
        return canonical_url(str(link), base=base)
    except InvalidURL:
        return None


def _fallback_key(title: str | None, published: datetime | None, content: str | None) -> str:
    basis = "\x1f".join([title or "", published.isoformat() if published else "", (content or "")[:500]])
    return "hash:" + hashlib.sha256(basis.encode("utf-8")).hexdigest()[:40]


def _link_key(link: str | None) -> str | None:
    if not link:
        return None
    try:
        return identity_url(link)
    except InvalidURL:
        return None


def _guids_broken(guids: list[str | None]) -> bool:
    if not guids:
        return False
    counts = Counter(g for g in guids if g)
    unusable = sum(1 for g in guids if not g) + sum(n - 1 for n in counts.values() if n > 1)
    return unusable / len(guids) > BROKEN_GUID_SHARE


def parse_feed(body: bytes, *, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse RSS 0.9x/1.0/2.0 or Atom bytes into entries with stable identities."""
    if not body.strip():
        raise FeedParseError("empty response body")
    check_xml_safety(body)
    headers = {"content-type": content_type} if content_type else {}
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers=headers,
        sanitize_html=False,  # nh3 sanitises what we store; feedparser's sanitiser leaks
        resolve_relative_uris=False,
    )
    warnings: list[str] = []
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        warnings.append(f"malformed feed: {type(exc).__name__}: {exc}"[:500])
    if not parsed.get("version") and not parsed.entries:
        detail = f" ({warnings[0]})" if warnings else ""
        raise FeedParseError("not an RSS or Atom feed" + detail)

    meta = parsed.get("feed", {})
    base = url
    raw: list[tuple[str | None, ParsedEntry]] = []
    for entry in parsed.entries:
        link = _absolute_link(entry, base)
        title = _clean(entry.get("title"))
        # dict.get: feedparser's own .get maps updated->published with a deprecation warning.
        updated = _struct_to_datetime(dict.get(entry, "updated_parsed"))
        published = _struct_to_datetime(dict.get(entry, "published_parsed")) or updated
        guid = _clean(entry.get("id"))
        raw.append(
            (
                guid,
                ParsedEntry(
                    guid=guid,
                    link=link,
                    title=title,
                    content_html=_entry_content(entry),
                    authors=_authors(entry),
                    published_at=published,
                    updated_at=updated,
                ),
            )
        )

    guids = [g for g, _ in raw]
    guid_mode = "link" if not any(guids) or _guids_broken(guids) else "guid"
    if guid_mode == "link" and any(guids):  # a feed without any GUID is not broken, just plain
        warnings.append("more than 5% of GUIDs are empty or repeated: entries are identified by link")
    entries: list[ParsedEntry] = []
    seen: set[str] = set()
    for guid, entry in raw:
        link_key = _link_key(entry.link)
        if guid_mode == "guid" and guid:
            key = "guid:" + guid
        elif link_key:
            key = "url:" + link_key
        else:
            key = _fallback_key(entry.title, entry.published_at, entry.content_html)
        if key in seen:  # the same item twice in one document
            continue
        seen.add(key)
        entries.append(ParsedEntry(**{**entry.__dict__, "entry_key": key[:2048], "link_key": link_key}))

    ttl = meta.get("ttl")
    try:
        ttl_minutes = int(ttl) if ttl is not None else None
    except (TypeError, ValueError):
        ttl_minutes = None
    site = meta.get("link")
    try:
        site_url = canonical_url(site, base=base) if site else None
    except InvalidURL:
        site_url = None
    return ParsedFeed(
        title=_clean(meta.get("title")),
        site_url=site_url,
        ttl_minutes=ttl_minutes if ttl_minutes and ttl_minutes > 0 else None,
        entries=tuple(entries),
        warnings=tuple(warnings),
        guid_mode=guid_mode,
    )
