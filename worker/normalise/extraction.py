"""Main text: trafilatura (fast mode, favour recall, no comments) over the shared tree, with a
slower second run when the fast one returns next to nothing from a page full of words."""

from __future__ import annotations

from typing import Any

from lxml.etree import _Element
from lxml.html import HtmlElement
from trafilatura import bare_extraction

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
SHORT_RESULT_WORDS = 100
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


def caption_elements(tree: _Element) -> list[_Element]:
    """``//figcaption | //p[@class='wp-caption-text']``, in page order: one walk over the tags
    instead of an XPath union (a walk per part, then a sort)."""
    return [el for el in tree.iter("figcaption", "p") if el.tag == "figcaption" or el.get("class") == "wp-caption-text"]


# trafilatura's fast mode (no readability/jusText comparison) first; bench.extraction_quality
# --full-extraction measures the other choice.
FAST_FIRST = True


def _text_of(doc: Any) -> str:
    """The extraction's plain text: bare_extraction has made it already (``xmltotxt`` of its
    body, no formatting), so it is not made twice."""
    return str(doc.text or "") if doc is not None and doc.body is not None else ""


def extract_main(tree: HtmlElement, url: str | None) -> tuple[str, Any]:
    """Main text and trafilatura's extracted body (XML) from one extraction (two if it fails)."""
    doc = _run_trafilatura(tree, url, fast=FAST_FIRST)
    text = _text_of(doc)
    if FAST_FIRST and len(text.split()) < SHORT_RESULT_WORDS:
        body = tree.find("body")
        page_words = len((body if body is not None else tree).text_content().split())
        if page_words >= _PAGE_WORDS_FOR_RETRY:
            retry = _run_trafilatura(tree, url, fast=False)
            retry_text = _text_of(retry)
            if len(retry_text.split()) > len(text.split()):
                doc, text = retry, retry_text
    if doc is None or doc.body is None:
        return "", None
    return text, doc.body
