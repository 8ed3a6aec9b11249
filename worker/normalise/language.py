"""Language: ISO 639-1 codes, detected from the text, declared by the page or the feed."""

from __future__ import annotations

import logging
import lzma
import os
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np
import py3langid
from py3langid import langid, modelio

log = logging.getLogger("newsworker.language")

# Where a decompressed copy of py3langid's model is kept (see _load_model): this directory, else
# $XDG_CACHE_HOME/newsworker, else ~/.cache/newsworker. "off": never written nor read.
CACHE_DIR_ENV = "NEWSWORKER_CACHE_DIR"
_LOADING = threading.Lock()


def lang_code(value: str | None) -> str | None:
    code = (value or "").strip().replace("_", "-").split("-")[0].lower()
    return code if len(code) == 2 and code.isalpha() else None


def warm_up() -> None:
    """Load py3langid's model now (about 2 s of LZMA decompression on first use): a worker
    calls this before forking, so its children share the loaded model instead of each paying
    for it on its first article (and again after every restart)."""
    _ensure_model()
    py3langid.classify("a sentence long enough to load the language identification model")


def detect_language(text: str, declared: str | None) -> str | None:
    """ISO 639-1 code: py3langid on the text (model ships in the wheel, no downloads), the
    page's own declaration when there is too little text to judge."""
    sample = text[:600]
    if len(sample) >= 40:
        _ensure_model()
        lang, _score = py3langid.classify(sample)
        return str(lang)
    return lang_code(declared)


def cache_dir() -> Path | None:
    """The directory of the model's decompressed copy (None: ``NEWSWORKER_CACHE_DIR=off``)."""
    configured = os.environ.get(CACHE_DIR_ENV, "").strip()
    if configured.lower() == "off":
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "newsworker"


def _ensure_model() -> None:
    if langid.IDENTIFIER is None:
        with _LOADING:
            if langid.IDENTIFIER is None:
                _load_model()


def _load_model() -> None:
    """Give py3langid its identifier, built from a decompressed copy of its model.

    Why: the model ships LZMA-compressed (4.4 MB of xz, 65 MB of arrays) and py3langid
    decompresses it in every process that classifies, ~0.45 s of CPU, ~2 ms an article in a
    ``run --once`` of a few hundred. The first process writes the arrays uncompressed to the
    cache directory (atomically: a temporary file renamed), later ones read them in ~0.1 s.
    The identifier is built as ``LanguageIdentifier.from_model_file`` builds it, from the same
    arrays (same results). Anything unexpected (no writable cache, another py3langid layout):
    py3langid loads its model itself, as before."""
    where = cache_dir()
    if where is None:
        return
    source = langid.MODEL_DIR / langid.MODEL_FILE
    try:
        stat = source.stat()
        version = getattr(py3langid, "__version__", "unknown")
        cached = where / f"py3langid-{version}-{stat.st_size}-{stat.st_mtime_ns}.npz"
        if not cached.is_file():
            where.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=where, prefix=".py3langid-", suffix=".tmp", delete=False) as out:
                try:
                    with lzma.open(source) as compressed:
                        shutil.copyfileobj(compressed, out, length=1 << 20)
                except BaseException:
                    os.unlink(out.name)
                    raise
            os.chmod(out.name, 0o644)  # other users of a shared cache directory may read it
            os.replace(out.name, cached)
        with np.load(cached, allow_pickle=False) as data:
            identifier = langid.LanguageIdentifier(
                np.asarray(data["ptc"]),
                np.asarray(data["pc"]),
                data["classes"].tolist(),
                modelio._to_array(data["nextmove"]),
                data["out_feat"].tolist(),
                tk_row=modelio._to_array(data["nextmove_row"]),
            )
    except Exception as exc:  # py3langid loads the packaged model on its own
        log.debug("language model cache not used", extra={"error": repr(exc)[:300]})
        return
    langid.IDENTIFIER = identifier
