"""Bytes to text: BOMs, declared charsets checked against the bytes, WHATWG aliases,
charset guessing when nothing fits, and repair of UTF-8 read as Latin-1 (mojibake)."""

from __future__ import annotations

import codecs
import re

import ftfy
from charset_normalizer import from_bytes

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
    return repair_mojibake(text, warnings), warnings


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
        if match.encoding == "cp1252" and match.chaos <= best.chaos and match.coherence >= best.coherence - 0.01:
            return "cp1252"
    return str(best.encoding)


def maybe_mojibake(text: str) -> bool:
    """UTF-8 read as Latin-1/cp1252 leaves "Ã", "Â" or "â€" behind; test cheaply first."""
    return ("Ã" in text or "Â" in text or "â€" in text) and _MOJIBAKE.search(text) is not None


def repair_mojibake(text: str, warnings: list[str]) -> str:
    """``text`` with UTF-8-read-as-Latin-1 repaired; notes ``mojibake_repaired`` when it was."""
    if maybe_mojibake(text):
        fixed = ftfy.fix_encoding(text)
        if fixed != text:
            warnings.append("mojibake_repaired")
            return fixed
    return text
