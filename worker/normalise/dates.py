"""Dates, in one place: parsing (ISO 8601, printed dates, loose text, permalinks), the one
plausible-year check, the one month table, the page's stated dates (JSON-LD, meta tags,
microdata), the dates a page prints next to its headline or under a "Published" label,
htmldate as the last resort, and how a feed's date and a page's date combine.

Every date is kept twice: the publisher's calendar day as printed (``local``) and the
instant in UTC.
"""

from __future__ import annotations

import re
from copy import copy
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from htmldate import find_date
from lxml import etree
from lxml.html import HtmlElement

from worker.normalise.pagemeta import PageMeta, squash

# Years outside this range are not publication dates: Hijri or Buddhist calendar years,
# copyright notices of the last century, typos.
FIRST_YEAR = 1990
LAST_YEAR = 2100


def plausible_year(year: int) -> bool:
    """The one check that a year can be a news publication's."""
    return FIRST_YEAR <= year <= LAST_YEAR


MONTHS: dict[str, int] = {
    m: i
    for i, names in enumerate(
        [
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
            ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
            ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for m in names
}  # fmt: skip
# Three-letter stems of the month names, for patterns that recognise a date in passing.
MONTH_STEMS = tuple(dict.fromkeys(name[:3] for name in MONTHS))
_DMY_RE = re.compile(r"\b(\d{1,2})\.?\s+([A-Za-z]{3,9})\.?,?\s+(\d{4})\b")
_MDY_RE = re.compile(r"\b([A-Za-z]{3,9})\.?\s+(\d{1,2}),?\s+(\d{4})\b")
_ISO_RE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_YMD_TEXT_RE = re.compile(r"\b(\d{4})\s+([A-Za-z]{3,9})\.?\s+(\d{1,2})\b")


def parse_loose_date(text: str) -> date | None:
    """A Gregorian date out of free text ("16 Rajab 2437/24 April 2016" → 2016-04-24).

    Non-Gregorian parts (Hijri month names, impossible years) simply fail to match a
    Gregorian month or a plausible year and are skipped.
    """
    for regex, order in (
        (_DMY_RE, "dmy"),
        (_MDY_RE, "mdy"),
        (_ISO_RE, "ymd"),
        (_YMD_TEXT_RE, "ymd-text"),
    ):
        for m in regex.finditer(text):
            a, b, c = m.groups()
            try:
                if order == "dmy":
                    day, month, year = int(a), MONTHS.get(b.lower(), 0), int(c)
                elif order == "mdy":
                    month, day, year = MONTHS.get(a.lower(), 0), int(b), int(c)
                elif order == "ymd-text":
                    year, month, day = int(a), MONTHS.get(b.lower(), 0), int(c)
                else:
                    year, month, day = int(a), int(b), int(c)
                if plausible_year(year) and month:
                    return date(year, month, day)
            except ValueError:
                continue
    return None


def parse_iso_instant(value: str) -> datetime:
    """A strict ISO 8601 date or datetime (``Z`` allowed) as an aware UTC instant; naive values
    are taken as UTC. Raises ``ValueError`` on anything else (import lines must be exact)."""
    text = value.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


_ISO_DT = re.compile(
    r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"
    r"(?:[T ](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.\d+)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2}|[+-]\d{2}\b|UTC|GMT)?)?"
)


@dataclass(frozen=True)
class PageDate:
    """A date as the publisher printed it (``local``) and the instant in UTC; ``offset_minutes``:
    the publisher's UTC offset when the page states one ("2023-05-12T21:30:00-04:00")."""

    local: date
    utc: datetime
    offset_minutes: int | None = None


def day_date(day: date) -> PageDate:
    """A calendar day without a time, taken as midnight UTC."""
    return PageDate(day, datetime(day.year, day.month, day.day, tzinfo=UTC))


def parse_iso_datetime(value: str) -> PageDate | None:
    """ISO-8601-ish strings from meta tags and JSON-LD; naive times are taken as UTC."""
    m = _ISO_DT.search(value or "")
    if not m:
        return None
    try:
        day = date(int(m["y"]), int(m["m"]), int(m["d"]))
    except ValueError:
        return None
    if not plausible_year(day.year):
        return None
    if m["H"] is None:
        return day_date(day)
    try:
        hour, minute, second = int(m["H"]), int(m["M"]), int(m["S"] or 0)
        naive = datetime(day.year, day.month, day.day, hour, minute, second)
    except ValueError:
        return day_date(day)
    tz = m["tz"]
    offset = timedelta(0)
    if tz and tz.upper() not in ("Z", "UTC", "GMT"):
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        hours = int(digits[:2])
        minutes = int(digits[2:4]) if len(digits) >= 4 else 0
        if hours > 14 or minutes > 59:
            return day_date(day)
        offset = sign * timedelta(hours=hours, minutes=minutes)
    aware = naive.replace(tzinfo=timezone(offset))
    return PageDate(day, aware.astimezone(UTC), int(offset.total_seconds()) // 60 if tz else None)


def _loose(value: str) -> PageDate | None:
    """Textual dates in meta tags ("2023 Jan 7", "January 7, 2023"), taken as UTC days."""
    day = parse_loose_date(value)
    return day_date(day) if day else None


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


# Measured (docs/normalisation.md, "Dates"): dotted all-digit dates read day-first even where the page declares
# no language or US English.
DOTTED_DAY_FIRST = True


def parse_printed_date(text: str, numeric_order: str = "mdy") -> date | None:
    """A date matched by ``PRINTED_DATE``. Ordinals ("11th", "3rd of") are dropped before
    the month-name parser sees them; an all-digit date is read in ``numeric_order`` unless
    one of its parts can only be a day (13-31)."""
    m = _NUMERIC_DATE.fullmatch(text.strip())
    if m is None:
        return parse_loose_date(_ORDINAL.sub(r"\1", text))
    first, second, year = int(m[1]), int(m[2]), int(m[3])
    # dots are day-first wherever they are written (03.04.2025); only slashes follow the locale
    month_first = numeric_order == "mdy" and not (DOTTED_DAY_FIRST and "." in text)
    month, day = (first, second) if month_first else (second, first)
    if month > 12 and day <= 12:
        month, day = day, month
    if not plausible_year(year):
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
    return day_date(day)


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


def publisher_offset(published_at: datetime | None, page: PageDate | None) -> int | None:
    """The page's stated UTC offset (minutes) for ``published_at`` when the page states that very
    instant: exports then show the publisher's own clock and calendar day."""
    if published_at is None or page is None or page.offset_minutes is None or page.utc != published_at:
        return None
    local = published_at + timedelta(minutes=page.offset_minutes)
    return page.offset_minutes if local.date() == page.local else None


def feed_or_page_date(hint: datetime | None, page: PageDate | None) -> tuple[datetime | None, date | None]:
    if hint is not None:
        aware = hint if hint.tzinfo is not None else hint.replace(tzinfo=UTC)
        aware = aware.astimezone(UTC)
        return aware, page.local if page and page.utc.date() == aware.date() else aware.date()
    if page is not None:
        return page.utc, page.local
    return None, None


_AFTER_NODES = 80
_UPDATED_LABEL = re.compile(r"(?:updated|modified|reviewed|edited)\W{0,3}(?:on\W{0,3})?$", re.I)
_SKIP_TEXT_IN = frozenset({"script", "style", "noscript", "template"})
# A date that is (nearly) all of its text node is a printed stamp ("Mar 06, 2025",
# "February 4 2026 - 12 min read"); one inside a longer sentence is the story talking.
_STAMP_SLACK = 40
_STAMPS_BEFORE = 5


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
    prose: bool = False  # inside a sentence of a long text node (the story's own words)


# A date inside the story's own sentences (a text node over 150 characters, the date more than
# 40 characters into it: "a report the institute released on April 15, 2020 shows ...") is
# what the story talks about, not when it was printed: below the headline only a stamp or a
# short line counts, and such pages are left to the labelled date and htmldate. Measured on
# dated pages with extract_article: t-eval 0.872 -> 0.874 (+1 page, -0; one half +1, the
# other unchanged), WCXB 0.940 unchanged.
SKIP_PROSE_DATES = True
PROSE_PIECE_CHARS = 150
PROSE_DATE_OFFSET = 40


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
        start_in_piece = m.start() - (ends[piece_at] - piece_len)
        prose = piece_len > PROSE_PIECE_CHARS and start_in_piece > PROSE_DATE_OFFSET
        out.append(_Printed(day, stamp, updated, prose))
    return out


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
            return day_date(p.day), False
    # Above the headline only within its own header block (parent or grandparent): a
    # sidebar or a "recent comments" list that happens to end right above it is another block.
    block = headline.getparent()
    if block is not None and (outer := block.getparent()) is not None and outer.tag not in ("body", "html"):
        block = outer
    before = _text_pieces(_texts_before_in(block, headline))[-_STAMPS_BEFORE:] if block is not None else []
    for p in reversed(_printed_dates(before, order)):
        if p.stamp and not p.updated:
            return day_date(p.day), False
    for p in found_after:
        if not p.updated and not (SKIP_PROSE_DATES and p.prose):
            return day_date(p.day), False
    if found_after:
        return day_date(found_after[0].day), True
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
_PUBLISHED_LABEL_AFTER = re.compile(r"^\W{0,4}(?:(?:originally|first)\s+published|date\s+(?:published|posted))\b", re.I)
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
                        return day_date(day)
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
        found = find_date(scope, url=url, extensive_search=False, original_date=True, outputformat="%Y-%m-%d")
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


def printed_page_date(tree: HtmlElement, url: str, headline: HtmlElement | None, pm: PageMeta) -> PageDate | None:
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


# A stated (JSON-LD / meta) publication day a few days off the day printed by the headline is a
# time-zone shift or a re-save: readers, and the labels of the development sets, see the printed
# day. Measured (bench/extraction_quality.py, docs/normalisation.md): on trafilatura-eval's 851 labelled
# pages it changes 17 dates and gains 15 (both halves of a split by language and by page id gain);
# it never fires on the WCXB articles; AEB labels no dates. A larger gap is another date (an event,
# a related story), not the same publication: the stated date stays.
_PRINTED_BEATS_STATED_DAYS = 3


# A printed day more than 3 days off the stated one, which htmldate's extensive search (original
# date) finds too: two independent readings of the page against its markup. Measured on dated
# pages: t-eval +3/-1 pages (0.870 -> 0.872, both halves of a split by page id gain), WCXB never
# fires. Costs an htmldate run on those pages only.
PRINTED_WITH_HTMLDATE = True


def reconcile_stated(
    stated: PageDate,
    headline: HtmlElement | None,
    pm: PageMeta,
    tree: HtmlElement | None = None,
    url: str | None = None,
) -> PageDate:
    """The stated publication date, or the day printed by the headline when the two are 1-3 days
    apart (or further, when htmldate's extensive search agrees with the printed day)."""
    near, only_updated = _date_near_headline(headline, numeric_date_order(_declared_locale(pm)))
    if near is None or only_updated or near.local == stated.local:
        return stated
    if abs((near.local - stated.local).days) > _PRINTED_BEATS_STATED_DAYS:
        # further off, the printed day wins only with htmldate's extensive search on its side
        if tree is not None and PRINTED_WITH_HTMLDATE:
            found = last_resort_date(tree, url)
            if found is not None and found.local == near.local:
                return near
        return stated
    if stated.utc.date() == near.local:
        return PageDate(near.local, stated.utc)  # the stated instant, read in the printed day's zone (offset unknown)
    return near


# htmldate's extensive search (original date) over the whole page, the last resort when neither
# the page's markup, its address nor its printed dates give a day. A year alone (htmldate answers
# 1 January: copyright lines, "© 2019") is not a publication day. Measured per set in docs/normalisation.md
# ("Dates"): on pages labelled with a date it dates pages nothing else dates; on pages labelled
# undated it guesses (``extract.LAST_RESORT_DATE`` says where it is asked).
# Blocks whose dates are other pages' or readers': comment sections, link lists of other stories.
# (Attributes tested as nodes: half the time of one predicate on every element, same elements.)
_OTHER_DATES = etree.XPath(
    "//body/descendant::aside | //body/descendant::nav"
    " | //body/descendant::*/@class[contains(.,'comment') or contains(.,'recent') or contains(.,'related')"
    " or contains(.,'popular') or contains(.,'sidebar') or contains(.,'widget')]/.."
    " | //body/descendant::*/@id[contains(.,'comment')]/.."
)


def last_resort_date(tree: HtmlElement, url: str | None) -> PageDate | None:
    """htmldate extensive (original date) on a copy of the page without comment sections and
    lists of other stories; ``None`` for a year alone."""
    scope = copy(tree)
    for el in reversed(_OTHER_DATES(scope)):
        parent = el.getparent()
        if parent is not None:
            parent.remove(el)
    try:
        found = find_date(scope, url=url, extensive_search=True, original_date=True, outputformat="%Y-%m-%d")
    except (ValueError, TypeError):
        return None
    if not found or found.endswith("-01-01"):
        return None
    return parse_iso_datetime(found)
