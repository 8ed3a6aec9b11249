"""py3langid's model read from a decompressed copy in the cache directory: the same identifier
(same arrays, same answers) as the one py3langid builds from its packaged, compressed model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from py3langid import langid

from worker.normalise import language

SAMPLES = [
    "The minister said on Tuesday that the talks would resume next week in Geneva.",
    "Der Minister sagte am Dienstag, die Gespräche würden nächste Woche in Genf fortgesetzt.",
    "Le ministre a déclaré mardi que les pourparlers reprendraient la semaine prochaine.",
    "El ministro dijo el martes que las conversaciones se reanudarían la próxima semana.",
    "大臣は火曜日、協議は来週ジュネーブで再開されると述べた。",
    "Министр заявил во вторник, что переговоры возобновятся на следующей неделе.",
    "x y z",
]


@pytest.fixture
def fresh_identifier(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test loads the model itself; the process's identifier is put back afterwards."""
    monkeypatch.setattr(langid, "IDENTIFIER", None)


@pytest.fixture(scope="module")
def packaged() -> langid.LanguageIdentifier:
    return langid.LanguageIdentifier.from_model_file(langid.MODEL_FILE)


def test_the_cached_model_is_the_packaged_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_identifier: None, packaged: langid.LanguageIdentifier
) -> None:
    monkeypatch.setenv(language.CACHE_DIR_ENV, str(tmp_path / "cache"))
    language._ensure_model()  # writes the copy, then reads it
    written = langid.IDENTIFIER
    assert written is not None
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")] == []  # no temporary left
    monkeypatch.setattr(langid, "IDENTIFIER", None)
    language._ensure_model()  # reads the copy written above
    for identifier in (written, langid.IDENTIFIER):
        assert identifier is not None and identifier is not packaged
        assert identifier.nb_classes == packaged.nb_classes
        assert np.array_equal(identifier.nb_ptc, packaged.nb_ptc)
        assert np.array_equal(identifier.nb_pc, packaged.nb_pc)
        assert identifier.tk_nextmove == packaged.tk_nextmove
        assert identifier.tk_row == packaged.tk_row
        assert identifier.tk_output == packaged.tk_output
        for text in SAMPLES:
            assert identifier.classify(text) == packaged.classify(text)
    assert language.detect_language(SAMPLES[1], None) == "de"


def test_off_leaves_the_loading_to_py3langid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_identifier: None
) -> None:
    monkeypatch.setenv(language.CACHE_DIR_ENV, "off")
    language._ensure_model()
    assert langid.IDENTIFIER is None  # py3langid loads its packaged model on first use
    assert language.detect_language(SAMPLES[2], None) == "fr"


def test_an_unwritable_cache_falls_back_to_the_packaged_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_identifier: None
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(language.CACHE_DIR_ENV, str(blocker / "cache"))
    language._ensure_model()
    assert langid.IDENTIFIER is None
    assert language.detect_language(SAMPLES[3], None) == "es"


def test_a_worker_warm_up_uses_the_cache(tmp_path: Path) -> None:
    """The copy is made by the first process and used by the next (what a ``run`` or a worker
    restart pays: reading 65 MB instead of decompressing them)."""
    probe = (
        "from py3langid import langid; from worker.normalise import language; language.warm_up();"
        "print(langid.IDENTIFIER is not None)"
    )
    env = {"PATH": "/usr/bin:/bin", language.CACHE_DIR_ENV: str(tmp_path)}
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120, env=env
        )
        assert done.stdout.strip() == "True"
    assert len([p for p in tmp_path.iterdir() if p.suffix == ".npz"]) == 1
