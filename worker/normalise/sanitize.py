"""Allowlist HTML sanitising for everything newsworker stores as HTML.

feedparser's own sanitiser lets ``javascript:`` through in SVG/MathML
``xlink:href`` and entity-split schemes; nh3 (ammonia) parses like a browser and
keeps only what is on the list below, so we always run stored HTML through it.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import nh3

_ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "dfn",
        "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6",
        "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "small",
        "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
        "time", "tr", "u", "ul",
    }
)  # fmt: skip
_ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "time": {"datetime"},
    "abbr": {"title"},
    "blockquote": {"cite"},
    "q": {"cite"},
}
_URL_SCHEMES = frozenset({"http", "https", "mailto"})
_URL_ATTRIBUTES = frozenset({("a", "href"), ("img", "src"), ("blockquote", "cite"), ("q", "cite")})


def _absolutise(base_url: str | None):  # type: ignore[no-untyped-def]
    def filter_attribute(tag: str, attribute: str, value: str) -> str | None:
        if (tag, attribute) not in _URL_ATTRIBUTES:
            return value
        absolute = urljoin(base_url, value.strip()) if base_url else value.strip()
        scheme = urlsplit(absolute).scheme.lower()
        if scheme and scheme not in _URL_SCHEMES:
            return None
        return absolute

    return filter_attribute


def sanitize_html(html: str, base_url: str | None = None) -> str:
    """Return ``html`` with only allowlisted tags/attributes and absolute, safe links."""
    if not html:
        return ""
    return nh3.clean(
        html,
        tags=set(_ALLOWED_TAGS),
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=set(_URL_SCHEMES),
        attribute_filter=_absolutise(base_url),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
        clean_content_tags={"script", "style", "noscript", "template", "iframe", "object"},
    )
