"""The shared page parse: the same tree as trafilatura's ``load_html``, and the element bound
that lets most pages skip counting their elements."""

from __future__ import annotations

import random

import pytest
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.utils import INVALID_XML_CHARS, load_html

from worker.normalise.extract import MAX_PAGE_ELEMENTS, _may_be_too_complex
from worker.normalise.parsing import has_invalid_chars, parse_html

PAGES = [
    "<html><head><title>T</title></head><body><p>One</p><p>Two</p></body></html>",
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1.dtd"/>\n'
    "<html><body><p>Doctype repaired</p></body></html>",
    '<html lang="en"/>\n<head><title>x</title></head><body><p>self-closing html</p></body></html>',
    "<html><body><p>control\x00 chars\x0b and\x1f\ufffe here\uffff</p></body></html>",
    '<?xml version="1.0" encoding="utf-8"?><html><body><p>declared encoding</p></body></html>',
    "<html><body><form><input value=1><label>L</label><select><option>o</select>"
    "<textarea>t</textarea></form><!-- c --><?pi x?></body></html>",
    "<div><p>a fragment</p><p>of two blocks</p></div>",
    "<p>one block alone</p>",
    "just some text, not HTML at all",
    "<html><body><table><tr><td>cell<td>cell</table>\u00e9\U0001f600</body></html>",
]


def _same(a: HtmlElement | None, b: HtmlElement | None) -> bool:
    if a is None or b is None:
        return a is b
    return bool(etree.tostring(a, encoding="unicode") == etree.tostring(b, encoding="unicode"))


@pytest.mark.parametrize("text", PAGES)
def test_the_page_parses_to_the_tree_trafilatura_builds(text: str) -> None:
    ours = parse_html(text)
    assert _same(ours, load_html(text))
    if ours is not None:
        assert all(isinstance(el, HtmlElement) for el in ours.iter(etree.Element))
        assert ours.text_content()  # lxml.html's helpers are there


def test_control_characters_are_found_like_trafilaturas_regex() -> None:
    for code in [*range(0xD800), *range(0xE000, 0x10000), 0x1F600, 0x10FFFF]:
        text = f"<p>a{chr(code)}b</p>"
        assert has_invalid_chars(text) == (INVALID_XML_CHARS.search(text) is not None), hex(code)
    assert has_invalid_chars("lone \udc80 surrogate, then \x01") and not has_invalid_chars("lone \udc80")


def test_no_page_has_more_elements_than_the_bound_on_its_tags() -> None:
    """Every element starts at a ``<`` but the implied html, head and body, and an implied
    paragraph takes a text run: random tag soup never beats ``2 * count("<") + 3``."""
    pieces = [
        "x", " ", "\n", "<p>", "</p>", "<br>", "</br>", "<div>", "</div>", "<li>", "</li>", "<td>",
        "</td>", "<tr>", "<table>", "</table>", "<html>", "</html>", "<head>", "</head>", "<body>",
        "</body>", "<title>", "<!-- c -->", "<?pi?>", "<option>", "<select>", "<dd>", "<dt>",
        "<b>", "</b>", "<a>", "<form>", "</form>", "<frameset>", "<meta>", "&amp;", "<", "</>",
        "<![CDATA[x]]>", "<script>", "</script>", "<textarea>", "<plaintext>", "<svg>", "<hr>",
    ]  # fmt: skip
    rng = random.Random(16)
    for _ in range(3000):
        start = rng.choice(["", "<html>", "<!doctype html>", "x"])
        text = start + "".join(rng.choice(pieces) for _ in range(rng.randint(1, 60)))
        tree = parse_html(text)
        if tree is not None:
            assert sum(1 for _ in tree.iter()) <= 2 * text.count("<") + 3, text


def test_only_pages_with_many_tags_are_counted() -> None:
    assert not _may_be_too_complex("<p>x</p>" * 1000)
    assert _may_be_too_complex("<td>" * (MAX_PAGE_ELEMENTS // 2))
