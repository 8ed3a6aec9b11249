"""Language: ISO 639-1 codes, detected from the text, declared by the page or the feed."""

from __future__ import annotations

import py3langid


def lang_code(value: str | None) -> str | None:
    code = (value or "").strip().replace("_", "-").split("-")[0].lower()
    return code if len(code) == 2 and code.isalpha() else None


def detect_language(text: str, declared: str | None) -> str | None:
    """ISO 639-1 code: py3langid on the text (model ships in the wheel, no downloads), the
    page's own declaration when there is too little text to judge."""
    sample = text[:600]
    if len(sample) >= 40:
        lang, _score = py3langid.classify(sample)
        return str(lang)
    return lang_code(declared)

