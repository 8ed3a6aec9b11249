"""Reader HTML for an extracted article: trafilatura's blocks with the page's own inline markup.

trafilatura extracts the main text best without links and images (turning them on changes
what it keeps), so the extraction runs once, without them, and its blocks (paragraphs,
headings, list items, quotes) are mapped back onto the parsed page: a block whose text is
the text of a page element takes that element's inline content (links, emphasis, code,
line breaks, inline images). Content images between two mapped blocks are put back as
figures. Paragraphs the text cleaner dropped are dropped here too, so the HTML carries
the same paragraphs as ``text``; the result still goes through :mod:`worker.normalise.sanitize`.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from copy import deepcopy
from itertools import pairwise
from urllib.parse import urljoin, urlsplit

from lxml import etree
from lxml.etree import _Element
from lxml.html import HtmlElement
from trafilatura.htmlprocessing import convert_to_html

from worker.normalise.sanitize import sanitize_html
from worker.normalise.textclean import is_desk_code

# Blocks of trafilatura's HTML that take their content from the page.
_ENRICHED = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "td", "th"})
# Page elements looked up first (cheap: small subtrees); the rest only when needed.
_SOURCE_TAGS = (
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "td", "th", "dd", "dt",
    "figcaption", "caption",
)  # fmt: skip
_ORDERED = (*_SOURCE_TAGS, "img")
_ORDERED_SET = frozenset(_ORDERED)
_SKIP_SOURCES = frozenset({"script", "style", "noscript", "template", "head", "title", "html", "body"})
# Block-level page markup that must not end up inside a <p> or a heading.
_BLOCK_TAGS = (
    "p", "div", "section", "article", "ul", "ol", "li", "table", "tbody", "thead", "tr", "td",
    "th", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "figure", "figcaption", "pre",
    "header", "footer", "aside", "main", "dl", "dd", "dt", "form", "nav",
)  # fmt: skip
_INLINE_TARGETS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th"})
_LAZY_SRC = ("data-src", "data-lazy-src", "data-original", "data-lazy", "data-url", "data-hi-res-src")
_SRCSET = ("srcset", "data-srcset", "data-lazy-srcset")
# Containers of images that are not the story's: related links, share bars, ads, avatars.
_NOT_CONTENT = re.compile(
    r"related|share|sharing|social|promo|advert|\bads?\b|\bad[-_]|sponsor|newsletter|subscri"
    r"|author|avatar|byline|logo|icon|comment|sidebar|widget|recommend|teaser|outbrain|taboola"
    r"|\bnav|menu|footer|banner|popup|modal|cookie|rating",
    re.I,
)
_NOT_CONTENT_TAGS = frozenset({"nav", "aside", "footer", "form", "button", "noscript", "template"})
_IMAGE_PATH = re.compile(r"\.(?:jpe?g|png|gif|webp|avif)(?:$|[?#])", re.I)
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_LINK_SCHEMES = frozenset({"http", "https", "mailto"})
_MIN_SIDE = 80  # px: smaller stated sizes are icons, avatars or tracking pixels
_MAX_GAP = 40  # page blocks and images between two kept blocks beyond which the gap is not the story's


def _key(text: str) -> str:
    return "".join(text.split())


def base_url(tree: HtmlElement, page_url: str) -> str:
    """Where the page's relative links resolve: its ``<base href>`` (if http/https), else the page."""
    for base in tree.iter("base"):
        href = str(base.get("href") or "").strip()
        if href:
            resolved: str = urljoin(page_url, href)
            if urlsplit(resolved).scheme.lower() in ("http", "https"):
                return resolved
            break
    return page_url


class _Sources:
    """Page elements by whitespace-free text, in document order, indexed lazily.

    ``order`` numbers the page's block elements and images; elements indexed later (a
    ``div`` of bare text) get a position between their neighbours in that numbering. The
    blocks and images are indexed as far into the page as the lookups need (the extracted
    blocks come in page order, so what follows the last of them, comments, related stories
    and footers, usually never is); the other elements only when a lookup fails.
    """

    def __init__(self, tree: HtmlElement) -> None:
        self.tree = tree
        self.order: dict[_Element, float] = {}
        self.images: list[_Element] = []
        self.by_key: dict[str, list[_Element]] = {}
        self._ordered: Iterator[tuple[int, _Element]] | None = enumerate(tree.iter(*_ORDERED))
        self._full = False

    def _index_next(self, want: str | None = None) -> bool:
        """Index the page's next blocks and images, up to one whose key is ``want`` (through
        the end of the page with ``None``); whether ``want`` was found."""
        if self._ordered is None:
            return False
        for i, el in self._ordered:
            self.order[el] = i
            if el.tag == "img":
                self.images.append(el)
                continue
            key = _key(el.text_content())
            if key:
                self.by_key.setdefault(key, []).append(el)
                if key == want:
                    return True
        self._ordered = None
        return False

    def _index_rest(self) -> None:
        """Other text-bearing elements (a ``div`` of bare text and ``<br>`` lines, a ``span``)."""
        self._index_next()
        self._full = True
        passed = 0
        for el in self.tree.iter():
            tag = el.tag
            if not isinstance(tag, str) or tag in _SKIP_SOURCES:
                continue
            if tag in _ORDERED_SET:
                passed += 1
                continue
            if (el.text and not el.text.isspace()) or any(c.tail and not c.tail.isspace() for c in el):
                key = _key(el.text_content())
                if key:
                    self.order[el] = passed - 0.5
                    self.by_key.setdefault(key, []).append(el)
        for els in self.by_key.values():
            if len(els) > 1:
                els.sort(key=self.order.__getitem__)

    def find(self, key: str, after: float) -> _Element | None:
        """The first element with this text after position ``after`` (else the first one)."""
        found = self.by_key.get(key)  # in page order
        if found and self.order[found[-1]] > after:
            return next(el for el in found if self.order[el] > after)
        # every element indexed so far with this text comes before ``after``: index on (what
        # is not indexed yet comes after every element matched so far)
        if self._index_next(key):
            return self.by_key[key][-1]
        found = self.by_key.get(key)
        if not found and not self._full:
            self._index_rest()
            found = self.by_key.get(key)
        if not found:
            return None
        if len(found) > 1:
            for el in found:
                if self.order[el] > after:
                    return el
        return found[0]


def _innermost(el: _Element, key: str) -> _Element:
    """``<div><p>x</p></div>``: the ``p``, so that blocks do not nest in blocks."""
    while len(el) == 1 and not (el.text and el.text.strip()) and not (el[0].tail and el[0].tail.strip()):
        child = el[0]
        if not isinstance(child.tag, str) or child.tag not in _BLOCK_TAGS or _key(child.text_content()) != key:
            break
        el = child
    return el


def _fill(target: _Element, source: _Element) -> None:
    """Give ``target`` a copy of ``source``'s content (text, inline children, their tails)."""
    for child in list(target):
        target.remove(child)
    target.text = source.text
    for child in source:
        target.append(deepcopy(child))
    if target.tag in _INLINE_TARGETS:
        inner = list(target.iterdescendants(*_BLOCK_TAGS))
        if inner:
            for el in inner:
                el.tail = " " + (el.tail or "")
            etree.strip_tags(target, *_BLOCK_TAGS)


def fix_images(root: _Element) -> None:
    """Lazy-loaded images get their real ``src``; images without one, and pixels, go."""
    for img in list(root.iter("img")):
        src = real_src(img)
        if src is None or _tiny(img):
            _remove_keep_tail(img)
        else:
            img.set("src", src)


def real_src(img: _Element) -> str | None:
    """The image's address: ``src`` unless it is a placeholder, else a lazy-loading attribute."""
    for attr in ("src", *_LAZY_SRC, *_SRCSET):
        value = str(img.get(attr) or "").strip()
        if attr in _SRCSET and value:
            value = value.split(",")[0].split()[0] if value.split(",")[0].split() else ""
        if not value:
            continue
        scheme = _SCHEME.match(value)
        if scheme is None or scheme.group(1).lower() in ("http", "https"):
            return value
    return None


def _tiny(img: _Element) -> bool:
    for attr in ("width", "height"):
        value = (img.get(attr) or "").strip().removesuffix("px")
        if value.isdigit() and int(value) < _MIN_SIDE:
            return True
    return False


def unwrap_dead_links(root: _Element, base: str) -> None:
    """Links that would lose their target in the sanitiser (none, ``javascript:``, ``tel:``)
    become their text instead of an ``<a>`` that goes nowhere."""
    dead = []
    for a in root.iter("a"):
        href = str(a.get("href") or "").strip()
        scheme = _SCHEME.match(href)
        if not href or (scheme and scheme.group(1).lower() not in _LINK_SCHEMES):
            dead.append(a)
    for a in dead:
        a.tag = "span"
        a.attrib.clear()


def _remove_keep_tail(el: _Element) -> None:
    parent = el.getparent()
    if parent is None:
        return
    if el.tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def _walk(el: _Element) -> Iterator[_Element]:
    """Top-most enrichable blocks of trafilatura's HTML, in order."""
    for child in el:
        if not isinstance(child.tag, str):
            continue
        if child.tag in _ENRICHED:
            yield child
        else:
            yield from _walk(child)


def enrich(body: _Element, tree: HtmlElement) -> tuple[list[tuple[_Element, _Element]], _Sources]:
    """Replace the content of ``body``'s blocks by the matching page elements' content.

    Returns the (block, page element) pairs that were matched, in order, and the index.
    """
    sources = _Sources(tree)
    pairs: list[tuple[_Element, _Element]] = []
    last: float = -1
    pending = list(_walk(body))
    while pending:
        block = pending.pop(0)
        key = _key("".join(block.itertext()))
        source = sources.find(key, last) if key else None
        if source is None:
            # A quote or a table cell of several paragraphs: try its parts.
            inner = list(_walk(block))
            pending[:0] = inner
            continue
        matched = source
        source = _innermost(source, key)
        _fill(block, source)
        if block.tag == "li":
            parent = block.getparent()
            source_list = source.getparent()
            if parent is not None and parent.tag == "ul" and source_list is not None and source_list.tag == "ol":
                parent.tag = "ol"
        pairs.append((block, matched))
        last = max(last, sources.order[matched])
    etree.strip_elements(body, etree.Comment, "script", "style", "noscript", "template", with_tail=False)
    fix_images(body)
    return pairs, sources


# ---------------------------------------------------------------- images between blocks


def _is_descendant(el: _Element, ancestor: _Element) -> bool:
    return any(a is ancestor for a in el.iterancestors())


def _content_image(img: _Element, scope: _Element) -> bool:
    if _tiny(img) or real_src(img) is None:
        return False
    for anc in img.iterancestors():
        if anc is scope:
            return True
        if anc.tag in _NOT_CONTENT_TAGS:
            return False
        if anc.tag == "a" and not _IMAGE_PATH.search(anc.get("href") or ""):
            return False  # a thumbnail linking to another page
        marks = f"{anc.get('class') or ''} {anc.get('id') or ''}"
        if marks.strip() and _NOT_CONTENT.search(marks):
            return False
    return False


def _lca(img: _Element, a: _Element | None, b: _Element) -> _Element:
    """The smallest element holding ``a`` and ``b`` (an ancestor of ``img``, between them)."""
    ancestors = {id(x) for x in (a.iterancestors() if a is not None else ())}
    for x in b.iterancestors():
        if id(x) in ancestors:
            return x
    return img.getroottree().getroot()


def _caption_of(img: _Element, scope: _Element) -> str | None:
    for anc in img.iterancestors():
        if anc is scope:
            return None
        if anc.tag == "figure" or "caption" in (anc.get("class") or ""):
            for cap in anc.iter("figcaption", "p"):
                if cap.tag == "figcaption" or "caption" in (cap.get("class") or ""):
                    text = " ".join(cap.text_content().split())
                    return text or None
            return None
    return None


def _figure(img: _Element, caption: str | None) -> _Element:
    fig = etree.Element("figure")
    new = etree.SubElement(fig, "img", src=real_src(img) or "")
    for attr in ("alt", "title", "width", "height"):
        value = img.get(attr)
        if value:
            new.set(attr, value)
    if caption:
        etree.SubElement(fig, "figcaption").text = caption
    return fig


def add_images(pairs: list[tuple[_Element, _Element]], sources: _Sources, body: _Element) -> None:
    """Put the page's content images that sit between two kept blocks back between them.

    Only blocks still in ``body`` count; a caption that is also a kept paragraph is not
    repeated as a figcaption.
    """
    images = sources.images
    if not images:
        return
    kept = [(block, source) for block, source in pairs if _attached(block, body)]
    if not kept:
        return
    order = sources.order
    positions = [order[img] for img in images]
    # (block to put images before, source before, source after, scope, start, end)
    gaps: list[tuple[_Element, _Element | None, _Element, _Element | None, float, float]] = []
    first_block, first_source = kept[0]
    parent = first_source.getparent()
    lead_scope = parent.getparent() if parent is not None else None
    if lead_scope is not None and lead_scope.tag not in ("body", "html"):
        first_inside = next(lead_scope.iter(*_ORDERED), None)
        if first_inside is not None:
            gaps.append((first_block, None, first_source, lead_scope, order[first_inside] - 1, order[first_source]))
    for (_, prev_source), (block, source) in pairwise(kept):
        start, end = order[prev_source], order[source]
        if 0 < end - start <= _MAX_GAP:
            gaps.append((block, prev_source, source, None, start, end))
    known_texts: set[str] | None = None
    seen = {img.get("src") for block, _ in kept for img in block.iter("img")}
    for block, prev_source, next_source, scope, start, end in gaps:
        for i in range(bisect_right(positions, start), bisect_left(positions, end)):
            img = images[i]
            if prev_source is not None and _is_descendant(img, prev_source):
                continue
            src = real_src(img)
            if src is None or src in seen:
                continue
            if scope is None:
                scope = _lca(img, prev_source, next_source)
            if not _content_image(img, scope):
                continue
            seen.add(src)
            caption = _caption_of(img, scope)
            if caption:
                if known_texts is None:
                    known_texts = {_key("".join(el.itertext())) for el in body.iter(*_TEXT_BLOCKS)}
                if _key(caption) in known_texts:
                    caption = None
            block.addprevious(_figure(img, caption))


_TEXT_BLOCKS = ("p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "figcaption")


def _attached(el: _Element, body: _Element) -> bool:
    return any(a is body for a in el.iterancestors())


def prune_like_text(
    body: _Element, dropped: Iterable[str], dateline_prefix: str | None, key: Callable[[str], str]
) -> None:
    """Make the HTML say what the cleaned text says: the blocks whose text the cleaner dropped
    go (as many times as it dropped that text), the dateline prefix and a closing desk code
    are cut from their paragraphs. ``key``: the comparison key of paragraph texts."""
    dropped = [d for d in dropped if d]
    counts = Counter(k for k in (key(d) for d in dropped) if k)
    if counts:
        for el in list(body.iter(*_TEXT_BLOCKS)):
            if not _attached(el, body):
                continue  # inside a block removed already
            k = key("".join(el.itertext()))
            if k and counts[k] > 0:
                counts[k] -= 1
                _remove_keep_tail(el)
    if counts.total() > 0:
        for el in list(body.iter("body", "p", "li", "blockquote", "pre", "div")):
            if not (el is body or _attached(el, body)) or not _drop_lines(el, counts, key):
                continue
            if el is not body and not "".join(el.itertext()).strip():
                _remove_keep_tail(el)
    blocks = [el for el in body.iter(*_TEXT_BLOCKS) if el.tag != "blockquote"]
    if dateline_prefix:
        for el in blocks[:4]:
            if strip_prefix(el, dateline_prefix):
                break
    codes = [d for d in dropped if is_desk_code(d)]
    if codes and blocks:
        last = blocks[-1]
        for code in codes:
            strip_suffix(last, code)


_NEWLINE = "\n"


def _drop_lines(el: _Element, counts: Counter[str], key: Callable[[str], str]) -> bool:
    """Drop the lines of a block that the cleaner dropped: the text reads a ``<br>``, a newline
    or a nested block as a paragraph break, so one block can carry several paragraphs."""
    items: list[str | _Element] = []

    def add_text(value: str | None) -> None:
        if value:
            parts = value.split(_NEWLINE)
            for i, part in enumerate(parts):
                if i:
                    items.append(_NEWLINE)
                if part:
                    items.append(part)

    add_text(el.text)
    for child in el:
        items.append(child)
        add_text(child.tail)
    lines: list[list[int]] = [[]]
    for i, item in enumerate(items):
        is_break = item == _NEWLINE if isinstance(item, str) else item.tag == "br"
        is_block = not isinstance(item, str) and item.tag in _BLOCK_TAGS
        if is_break or is_block:
            lines.append([i] if is_block else [])
            if is_block:
                lines.append([])
            continue
        lines[-1].append(i)
    if len([line for line in lines if line]) < 2:
        return False
    removed: set[int] = set()
    for line in lines:
        text = "".join(item if isinstance(item, str) else _visible_text(item) for item in (items[i] for i in line))
        k = key(text)
        if k and counts[k] > 0:
            counts[k] -= 1
            removed.update(line)
    if not removed:
        return False
    for item in items:
        if not isinstance(item, str):
            item.tail = None
    el.text = None
    kept = _trim_breaks([item for i, item in enumerate(items) if i not in removed])
    for child in list(el):
        el.remove(child)
    for item in kept:
        if isinstance(item, str):
            last = el[-1] if len(el) else None
            if last is None:
                el.text = (el.text or "") + item
            else:
                last.tail = (last.tail or "") + item
        else:
            el.append(item)
    return True


def _visible_text(el: _Element) -> str:
    """An element's text; none for comments and processing instructions (not elements to lxml)."""
    return "".join(el.itertext()) if isinstance(el.tag, str) else ""


def _trim_breaks(items: list[str | _Element]) -> list[str | _Element]:
    """No ``<br>`` left opening or closing the block or doubled where a line went."""
    out: list[str | _Element] = []
    for item in items:
        if not isinstance(item, str) and item.tag == "br":
            previous = [x for x in out if not (isinstance(x, str) and not x.strip())]
            if not previous or (not isinstance(previous[-1], str) and previous[-1].tag == "br"):
                continue
        out.append(item)
    while out and (not out[-1].strip() if isinstance(out[-1], str) else out[-1].tag == "br"):
        out.pop()
    return out


def strip_prefix(el: _Element, prefix: str) -> bool:
    """Remove ``prefix`` (compared without whitespace) from the start of ``el``'s text."""
    want = _key(prefix)
    if not want or not _key("".join(el.itertext())).startswith(want):
        return False
    remaining = len(want)
    for node, attr in _text_slots(el):
        value = getattr(node, attr) or ""
        cut = 0
        while cut < len(value) and remaining:
            if not value[cut].isspace():
                remaining -= 1
            cut += 1
        setattr(node, attr, value[cut:].lstrip() if not remaining else value[cut:])
        if not remaining:
            break
    return True


def strip_suffix(el: _Element, suffix: str) -> bool:
    """Remove ``suffix`` (compared without whitespace) from the end of ``el``'s text."""
    want = _key(suffix)
    if not want or not _key("".join(el.itertext())).endswith(want):
        return False
    remaining = len(want)
    for node, attr in reversed(list(_text_slots(el))):
        value = getattr(node, attr) or ""
        cut = len(value)
        while cut > 0 and remaining:
            if not value[cut - 1].isspace():
                remaining -= 1
            cut -= 1
        setattr(node, attr, value[:cut].rstrip() if not remaining else value[:cut])
        if not remaining:
            break
    return True


def _text_slots(el: _Element) -> Iterator[tuple[_Element, str]]:
    """(node, "text" | "tail") in reading order, for the text inside ``el``."""
    yield el, "text"
    for child in el:
        if isinstance(child.tag, str):
            yield from _text_slots(child)
        yield child, "tail"


def _serialise(body: _Element) -> str:
    return (body.text or "") + "".join(etree.tostring(child, encoding="unicode", method="html") for child in body)


def page_html(
    main: _Element | None,
    tree: HtmlElement,
    page_url: str,
    *,
    dropped: Iterable[str],
    dateline_prefix: str | None,
    key: Callable[[str], str],
) -> str:
    """Sanitised reader HTML of a page from trafilatura's extracted body (``main``, XML)."""
    if main is None:
        return ""
    body = convert_to_html(main)[0]  # renames main's elements in place; html > body
    pairs, sources = enrich(body, tree)
    prune_like_text(body, dropped, dateline_prefix, key)
    add_images(pairs, sources, body)
    base = base_url(tree, page_url)
    unwrap_dead_links(body, base)
    return sanitize_html(_serialise(body), base)


def content_html(
    html: str, base: str, *, dropped: Iterable[str], dateline_prefix: str | None, key: Callable[[str], str]
) -> str:
    """Sanitised HTML of a feed entry's own content, cleaned like its text; links against ``base``."""
    if not html:
        return ""
    try:
        root = etree.fromstring(f"<html><body>{html}</body></html>", parser=etree.HTMLParser())
    except (etree.ParserError, ValueError):
        return sanitize_html(html, base)
    body = root.find("body") if root is not None else None
    if body is None:
        return sanitize_html(html, base)
    # Comments and processing instructions are invisible; whole pages sent as content carry many.
    etree.strip_elements(body, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    prune_like_text(body, dropped, dateline_prefix, key)
    fix_images(body)
    unwrap_dead_links(body, base)
    return sanitize_html(_serialise(body), base)
