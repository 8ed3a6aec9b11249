"""Feed lists in and out: OPML (folders become tags) or a plain list of addresses."""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element, SubElement, tostring

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from worker.model.urls import InvalidURL, canonical_url


class FeedListError(ValueError):
    """The file is neither OPML nor a list of addresses."""


@dataclass(frozen=True)
class FeedSpec:
    url: str
    title: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeedList:
    feeds: tuple[FeedSpec, ...]
    skipped: tuple[str, ...]  # human-readable reasons, one per skipped line/outline


def parse_feed_list(data: bytes) -> FeedList:
    """OPML if it looks like XML, else one address per line (``#`` starts a comment)."""
    if data.lstrip().startswith(b"<"):
        return _parse_opml(data)
    feeds: list[FeedSpec] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for number, raw in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            url = canonical_url(line)
        except InvalidURL as exc:
            skipped.append(f"line {number}: {exc}")
            continue
        if url in seen:
            skipped.append(f"line {number}: duplicate of an earlier line")
            continue
        seen.add(url)
        feeds.append(FeedSpec(url))
    return FeedList(tuple(feeds), tuple(skipped))


def _parse_opml(data: bytes) -> FeedList:
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except (SafeET.ParseError, DefusedXmlException) as exc:
        raise FeedListError(f"not a valid OPML file: {exc}") from None
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise FeedListError("not an OPML file (no <opml><body>)")
    feeds: list[FeedSpec] = []
    skipped: list[str] = []
    seen: set[str] = set()

    def walk(node: Element, folders: tuple[str, ...]) -> None:
        for outline in node.findall("outline"):
            xml_url = outline.get("xmlUrl") or outline.get("xmlurl")
            label = outline.get("title") or outline.get("text")
            if not xml_url:
                walk(outline, folders + ((label,) if label else ()))
                continue
            try:
                url = canonical_url(xml_url)
            except InvalidURL as exc:
                skipped.append(f"{label or xml_url}: {exc}")
                continue
            if url in seen:
                skipped.append(f"{label or xml_url}: duplicate")
                continue
            seen.add(url)
            # OPML 2.0 "category": comma-separated; a tag is a category without slashes.
            categories = [c.strip().strip("/") for c in (outline.get("category") or "").split(",")]
            tags = tuple(dict.fromkeys([*folders, *(c for c in categories if c and "/" not in c)]))
            feeds.append(FeedSpec(url, label, tags))

    walk(body, ())
    return FeedList(tuple(feeds), tuple(skipped))


def render_opml(feeds: list[FeedSpec], title: str = "newsworker feeds") -> bytes:
    """OPML 2.0 with one folder level per first tag; every tag is also in the outline's ``category``."""
    opml = Element("opml", version="2.0")
    head = SubElement(opml, "head")
    SubElement(head, "title").text = title
    body = SubElement(opml, "body")
    folders: dict[str, Element] = {}
    for feed in feeds:
        parent = body
        if feed.tags:
            tag = feed.tags[0]
            if tag not in folders:
                folders[tag] = SubElement(body, "outline", text=tag, title=tag)
            parent = folders[tag]
        attrs = {"type": "rss", "xmlUrl": feed.url, "text": feed.title or feed.url}
        if feed.title:
            attrs["title"] = feed.title
        if len(feed.tags) > 1:
            attrs["category"] = ",".join(feed.tags)
        SubElement(parent, "outline", attrs)
    body_bytes: bytes = tostring(opml, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body_bytes
