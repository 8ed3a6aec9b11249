"""``newsworker import``: one JSON object a line, validated into a frozen item.

Every line that can be kept is kept: a date that cannot be read leaves the article undated
(with a warning), bytes that are not UTF-8 are decoded by detection (with a warning). A line is
skipped, with its number and the reason, only when it cannot be an article: not JSON, an address
that is not one, no text, a date far in the future, or larger than the size limit. A line without
an address (an archive or a corpus keeps text, title, date and outlet) gets one made from what it
holds (:func:`address_for`): the same line always gets the same address, so importing a file
again stores nothing twice, and the outlet is the article's site, as a page's host is.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import IO, Any, Literal

from charset_normalizer import from_bytes

from worker.model.article import FeedHints, NormalisedArticle
from worker.model.urls import InvalidURL, canonical_url
from worker.normalise.dates import FIRST_YEAR, parse_iso_datetime, parse_iso_instant, parse_loose_date
from worker.normalise.extract import PageTooComplex, article_from_import
from worker.normalise.title import learn_site_names, strip_site_names

DateOrder = Literal["auto", "dmy", "mdy"]

# A published date this far after now is a typo or a broken feed, not news.
FUTURE_LIMIT = timedelta(days=2)
EARLIEST_YEAR = FIRST_YEAR  # the normaliser's plausible-year check, one place


class ImportLineError(ValueError):
    """A line that cannot be imported; the message says what is wrong with it."""


@dataclass(frozen=True)
class ImportItem:
    url: str
    title: str | None
    text: str | None
    html: str | None
    published_at: datetime | None
    source: str | None
    warnings: tuple[str, ...] = ()


class UnreadableDate(ValueError):
    """A date in none of the accepted forms; the line is kept without it."""


_NUMERIC = re.compile(
    r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:,?[ T](\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([AaPp])\.?[Mm]?\.?)?)?$"
)
_EPOCH = re.compile(r"^\d{9,10}(?:\.\d+)?$")
_WRITTEN = ("%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%b %d %Y", "%Y/%m/%d")


def parse_published(value: Any, *, date_order: DateOrder = "auto") -> datetime | None:
    """A publication time from the common forms, in UTC; None for no value.

    ISO 8601 (``Z`` allowed; naive is UTC), RFC 822 (``Tue, 05 Mar 2024 10:00:00 GMT``), epoch
    seconds (number or digits), ``DD/MM/YYYY`` or ``MM/DD/YYYY`` (``date_order``; ``auto`` reads
    only what is unambiguous), and written dates (``5 March 2024``, ``March 5, 2024``).
    Raises :class:`UnreadableDate` otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise UnreadableDate(f"{value!r} is not a date")
    if isinstance(value, int | float):
        return _from_epoch(float(value))
    if not isinstance(value, str):
        raise UnreadableDate(f"a date must be a string or a number, got {type(value).__name__}")
    text = value.strip()
    if _EPOCH.match(text):
        return _from_epoch(float(text))
    try:
        return parse_iso_instant(text)
    except ValueError:
        pass
    numeric = _NUMERIC.match(text)
    if numeric:
        return _numeric(numeric, date_order, text)
    if "," in text[:5] or text[-3:].upper() in ("GMT", "UTC") or re.search(r"[+-]\d{4}$", text):
        try:
            return _utc(parsedate_to_datetime(text))
        except (TypeError, ValueError, IndexError):
            pass
    for form in _WRITTEN:
        try:
            return _utc(datetime.strptime(text, form))
        except ValueError:
            continue
    # the forms archives also write, read by the pages' own date parser: "2016-03-05 14:22:00 UTC",
    # "Saturday, March 5, 2016", "Mar. 5, 2016", "5 Mar 2016 14:22" (the day; a time after a
    # written date is not kept)
    stated = parse_iso_datetime(text)
    if stated is not None and text[:4].isdigit():
        return stated.utc
    day = parse_loose_date(text)
    if day is not None:
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    raise UnreadableDate(f"{value!r} is not a date newsworker can read (use ISO 8601, e.g. 2024-05-01)")


# a numeric date as the value of a line's date field, as JSON writes it
_NUMERIC_FIELD = re.compile(r'"(?:published_at|date)"\s*:\s*"\s*(\d{1,2})[/.-](\d{1,2})[/.-]\d{4}\b')
_SITE_TITLES_MAX = 200  # titles read per outlet to learn its name from
_SITE_OUTLETS_MAX = 50_000


@dataclass(frozen=True)
class FilePrescan:
    """What an import learns from reading its whole file once before importing it.

    ``date_order``: the order the file's numeric dates can only be read in (``shown``: how many
    lines show it). An archive writes every date one way: where some of its dates can only be
    day-first ("25/03/2024") and none only month-first (or the reverse), its ambiguous ones
    ("05/03/2024") are read the same way instead of being imported undated; "auto" when the file
    shows neither order, or both.
    ``site_names``: each outlet's name as its titles show it ("Man shot in Austin - Chicago
    Tribune", "Council approves budget - Chicago Tribune"): the part at one end of at least three
    of its titles and a quarter of them (``title.learn_site_names``, as a feed's titles teach it).
    A title that keeps its outlet's name shares those words with every story of the outlet."""

    date_order: DateOrder = "auto"
    shown: int = 0
    site_names: dict[str, tuple[str, ...]] = field(default_factory=dict)


def prescan_file(handle: IO[bytes], *, max_bytes: int, default_source: str) -> FilePrescan:
    """Read the file once, as the import reads it (``read_lines``): see :class:`FilePrescan`."""
    dmy = mdy = 0
    titles: dict[str, list[str]] = {}
    for line in read_lines(handle, max_bytes=max_bytes):
        if line.text is None:
            continue
        found = _NUMERIC_FIELD.search(line.text)
        if found is not None:
            first, second = int(found.group(1)), int(found.group(2))
            dmy += first > 12 >= second
            mdy += second > 12 >= first
        try:
            data = json.loads(line.text)
        except json.JSONDecodeError:
            continue
        if not isinstance(data, dict) or not isinstance(title := data.get("title"), str):
            continue
        source = data.get("source")
        outlet = source if isinstance(source, str) and source else default_source
        bucket = titles.get(outlet)
        if bucket is None:
            if len(titles) >= _SITE_OUTLETS_MAX:
                continue
            bucket = titles[outlet] = []
        if len(bucket) < _SITE_TITLES_MAX:
            bucket.append(title)
    learned = {outlet: learn_site_names(found) for outlet, found in titles.items() if len(found) >= 3}
    names = {outlet: found for outlet, found in learned.items() if found}
    if dmy and not mdy:
        return FilePrescan("dmy", dmy, names)
    if mdy and not dmy:
        return FilePrescan("mdy", mdy, names)
    return FilePrescan("auto", 0, names)


def without_site_names(item: ImportItem, names: dict[str, tuple[str, ...]], *, default_source: str) -> ImportItem:
    """The item with its outlet's learned name taken off its title (see :class:`FilePrescan`)."""
    found = names.get(item.source or default_source)
    if not found or not item.title:
        return item
    return replace(item, title=strip_site_names(item.title, found))


def _numeric(match: re.Match[str], order: DateOrder, text: str) -> datetime:
    first, second, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
    if order == "auto":
        if first > 12 >= second:
            order = "dmy"
        elif second > 12 >= first:
            order = "mdy"
        elif first == second:
            order = "dmy"
        else:
            raise UnreadableDate(f"{text!r} could be day/month or month/day: pass --date-order dmy or mdy")
    day, month = (first, second) if order == "dmy" else (second, first)
    hour, minute, sec = (int(match.group(i) or 0) for i in (4, 5, 6))
    meridiem = (match.group(7) or "").lower()
    if meridiem and not 1 <= hour <= 12:
        raise UnreadableDate(f"{text!r} is not a time of day")
    if meridiem:  # 12:30 AM is 00:30, 12:30 PM 12:30
        hour = hour % 12 + (12 if meridiem == "p" else 0)
    try:
        return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)
    except ValueError:
        raise UnreadableDate(f"{text!r} is not a calendar date (read as {order})") from None


def _from_epoch(seconds: float) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise UnreadableDate(f"{seconds!r} is not a time in epoch seconds") from None


def _utc(parsed: datetime) -> datetime:
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _optional_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ImportLineError(f"{key} must be a string")
    return value


# Host of a made-up address: RFC 2606 reserves ".invalid", so it can never name a real server.
ADDRESS_DOMAIN = "invalid"
_LABEL_JUNK = re.compile(r"[^a-z0-9]+")


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_lone_surrogates(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The line's strings with lone surrogates replaced, and the fields that had them.

    JSON may escape half of a UTF-16 pair ("\\ud83d" of a cut emoji); Python keeps it as a
    lone surrogate, which no UTF-8 encoder (SQLite, PostgreSQL, the export) accepts."""
    repaired = [k for k, v in data.items() if isinstance(v, str) and _LONE_SURROGATE.search(v)]
    if not repaired:
        return data, []
    return {k: _LONE_SURROGATE.sub("\ufffd", v) if k in repaired else v for k, v in data.items()}, repaired


def address_for(source: str | None, title: str | None, published: str, content: str) -> str:
    """A stable address for a line that has none: ``https://<outlet>.invalid/import/<digest>``.

    The outlet (the line's ``source``, else the import's) becomes the host, so story linking
    sees one site per outlet as it does for fetched pages; the digest covers the outlet, title,
    date and content, so the same line gets the same address in every run."""
    outlet = (source or "").strip()
    label = _LABEL_JUNK.sub("-", outlet.lower()).strip("-")[:50].strip("-")
    if not label:  # no outlet, or one written without a letter or digit of ASCII
        label = "import" if not outlet else "source-" + hashlib.sha256(outlet.encode()).hexdigest()[:12]
    digest = hashlib.sha256(
        json.dumps([outlet, title or "", published, content], ensure_ascii=False).encode()
    ).hexdigest()[:32]
    return f"https://{label}.{ADDRESS_DOMAIN}/import/{digest}"


def parse_import_line(
    line: str, *, date_order: DateOrder = "auto", now: datetime | None = None, default_source: str | None = None
) -> ImportItem:
    """One line → an item (with its warnings), or :class:`ImportLineError` saying why not.

    ``default_source``: the import's outlet (``--source``, else the file's name), for a line
    without its own ``source`` and without an address."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ImportLineError(f"not valid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(data, dict):
        raise ImportLineError("each line must be a JSON object")
    warnings: list[str] = []
    data, repaired = _without_lone_surrogates(data)
    if repaired:
        warnings.append(f"{', '.join(repaired)}: lone UTF-16 surrogates (\\ud800-\\udfff escapes) replaced with U+FFFD")
    url = data.get("url")
    if url is not None and not isinstance(url, str):
        raise ImportLineError("url must be a string")
    text = _optional_str(data, "text")
    html = _optional_str(data, "html")
    if not (text and text.strip()) and not (html and html.strip()):
        raise ImportLineError("one of text or html is required")
    title = _optional_str(data, "title")
    source = _optional_str(data, "source")
    raw_date = data.get("published_at", data.get("date"))
    if url is None or not url.strip():
        stated = "" if raw_date is None else str(raw_date)
        url = address_for(source or default_source, title, stated, text or html or "")
    try:
        canonical = canonical_url(url)
    except InvalidURL as exc:
        raise ImportLineError(str(exc)) from None
    try:
        published = parse_published(raw_date, date_order=date_order)
    except UnreadableDate as exc:
        warnings.append(f"{exc}; imported without a date")
        published = None
    if published is not None:
        limit = (now or datetime.now(UTC)) + FUTURE_LIMIT
        if published > limit:
            raise ImportLineError(f"published_at {published.date().isoformat()} is in the future")
        if published.year < EARLIEST_YEAR:
            warnings.append(
                f"published_at {published.date().isoformat()} is before {EARLIEST_YEAR}; imported without a date"
            )
            published = None
    return ImportItem(
        url=canonical,
        title=title,
        text=text,
        html=html,
        published_at=published,
        source=source,
        warnings=tuple(warnings),
    )


@dataclass(frozen=True)
class ImportLine:
    """One line of an import file: its text (decoded), or why it was not read."""

    number: int
    text: str | None
    error: str | None = None
    warnings: tuple[str, ...] = ()


def read_lines(handle: IO[bytes], *, max_bytes: int) -> Iterator[ImportLine]:
    """The file's lines in order, each at most ``max_bytes`` (longer ones are reported and skipped
    without ever being held whole in memory); bytes that are not UTF-8 are decoded by detection."""
    number = 0
    while True:
        raw = handle.readline(max_bytes + 1)
        if not raw:
            return
        number += 1
        if len(raw) > max_bytes and not raw.endswith(b"\n"):
            size = len(raw)
            while raw and not raw.endswith(b"\n"):  # skip the rest of the line in bounded reads
                raw = handle.readline(1 << 20)
                size += len(raw)
            yield ImportLine(number, None, f"line is {size:,} bytes, over the limit of {max_bytes:,}")
            continue
        if not raw.strip():
            continue
        yield _decoded(number, raw)


def _decoded(number: int, raw: bytes) -> ImportLine:
    try:
        return ImportLine(number, raw.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    best = from_bytes(raw).best()
    encoding = best.encoding if best is not None else "cp1252"
    try:
        text = raw.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        encoding = "cp1252"
        text = raw.decode(encoding, errors="replace")
    return ImportLine(number, text, warnings=(f"not UTF-8: decoded as {encoding}",))


def with_warnings(item: ImportItem, warnings: tuple[str, ...]) -> ImportItem:
    return replace(item, warnings=(*warnings, *item.warnings)) if warnings else item


def normalise_item(item: ImportItem) -> NormalisedArticle:
    """The line's article: a whole page is extracted like a fetched one, a fragment or text is content."""
    hints = FeedHints(title=item.title, published_at=item.published_at)
    try:
        return article_from_import(url=item.url, title=item.title, html=item.html, text=item.text, hints=hints)
    except PageTooComplex as exc:
        raise ImportLineError(f"page too complex: {exc}") from exc
