"""Language: ISO 639-1 codes, detected from the text, declared by the page or the feed."""

from __future__ import annotations

import py3langid


def lang_code(value: str | None) -> str | None:
    code = (value or "").strip().replace("_", "-").split("-")[0].lower()
    return code if len(code) == 2 and code.isalpha() else None


def warm_up() -> None:
    """Load py3langid's model now (about 2 s of LZMA decompression on first use): a worker
    calls this before forking, so its children share the loaded model instead of each paying
    for it on its first article (and again after every restart)."""
    py3langid.classify("a sentence long enough to load the language identification model")


def detect_language(text: str, declared: str | None) -> str | None:
    """ISO 639-1 code: py3langid on the text (model ships in the wheel, no downloads), the
    page's own declaration when there is too little text to judge."""
    sample = text[:600]
    if len(sample) >= 40:
        lang, _score = py3langid.classify(sample)
        return str(lang)
    return lang_code(declared)

