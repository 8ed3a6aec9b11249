"""The page parsed once, into the tree every later step shares (trafilatura, metadata, dates,
content HTML): trafilatura's ``load_html`` for a decoded page, made cheaper without changing
the tree.

- lxml.html's parser asks a Python method which class each element gets, once per element
  proxy (about 2,600 calls a page, through trafilatura's passes too); here the classes come
  from a C-level lookup: every element is an ``HtmlElement`` (no ``FormElement`` etc., whose
  form helpers nothing here uses), comments and PIs their lxml.html classes.
- ``load_html`` runs a regex over the whole page for control characters libxml2 rejects; a
  page has none almost always, which a byte table finds out in a third of the time.

The rest is ``load_html``'s own logic, step for step; the parser's options are its
``HTML_PARSER``'s. Like that parser, this one is module-level: one thread at a time.
"""

from __future__ import annotations

from lxml import etree
from lxml.html import HtmlComment, HtmlElement, HtmlEntity, HTMLParser, HtmlProcessingInstruction, fromstring
from trafilatura.utils import DOCTYPE_TAG, FAULTY_HTML, INVALID_XML_CHARS

_PARSER = HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True, remove_pis=True)
_PARSER.set_element_class_lookup(
    etree.ElementDefaultClassLookup(
        element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity
    )
)

# INVALID_XML_CHARS' control characters, as UTF-8 bytes (each is its own byte there): 0 in the table.
_CONTROL_TABLE = bytes(0 if i < 0x20 and i not in (0x09, 0x0A, 0x0D) else 1 for i in range(256))


def has_invalid_chars(text: str) -> bool:
    """Whether ``text`` has a character of trafilatura's ``INVALID_XML_CHARS``."""
    if "\ufffe" in text or "\uffff" in text:
        return True
    return b"\x00" in text.encode("utf-8", "surrogatepass").translate(_CONTROL_TABLE)


def _repair(text: str, beginning: str) -> str:
    """trafilatura's ``repair_faulty_html``."""
    if has_invalid_chars(text):
        text = INVALID_XML_CHARS.sub("", text)
    if "doctype" in beginning:
        firstline, _, rest = text.partition("\n")
        text = DOCTYPE_TAG.sub("", firstline, count=1) + "\n" + rest
    for line in text[:4096].splitlines()[:4]:
        if "<html" in line and line.endswith("/>"):
            text = FAULTY_HTML.sub(r"\1>", text, count=1)
            break
    return text


def _from_bytes(text: str) -> HtmlElement | None:
    try:
        tree: HtmlElement = fromstring(text.encode("utf8", "surrogatepass"), parser=_PARSER)
    except Exception:
        return None
    return tree


def parse_html(text: str) -> HtmlElement | None:
    """The tree of a decoded page, as ``trafilatura.utils.load_html(text)`` builds it; ``None``
    when it is not HTML."""
    beginning = text[:50].lower()
    dubious = "html" not in beginning
    text = _repair(text, beginning)
    tree: HtmlElement | None = None
    fallback = False
    try:
        tree = fromstring(text, parser=_PARSER)
    except ValueError:  # a str with an encoding declaration
        tree = _from_bytes(text)
        fallback = True
    except Exception:
        tree = None
    if (tree is None or len(tree) < 1) and not fallback:
        tree = _from_bytes(text)
    if tree is not None and dubious and len(tree) < 2:
        return None
    return tree
