"""Authors from small golden pages (tests/data/extract/authors): each file is one pattern seen on
the development sets, reduced to the markup that carries (or must not carry) the author."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from worker.normalise.extract import clean_authors, extract_article

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "extract" / "authors"
EXPECTED: dict[str, list[str]] = json.loads((FIXTURES / "expected.json").read_text("utf-8"))
URL = "https://blog.example/2020/01/council-budget/"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_golden_page_authors(name: str) -> None:
    art = extract_article((FIXTURES / name).read_bytes(), url=URL)
    assert art.authors == tuple(EXPECTED[name])


def test_every_fixture_has_an_expectation() -> None:
    assert sorted(p.name for p in FIXTURES.glob("*.html")) == sorted(EXPECTED)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["Veröffentlicht von\x1fChris Jung"], ("Chris Jung",)),
        (["Alle Beiträge von Birgit Posselt"], ("Birgit Posselt",)),
        (["Publié par Didier Roy"], ("Didier Roy",)),
        (["FOCUS-Online-Experte Robin Tschöpe"], ("Robin Tschöpe",)),
        (["Autoren Jelko Djuren und Jutta Klaukien"], ("Jelko Djuren", "Jutta Klaukien")),
        (["Olympia-Verlag GmbH, Nürnberg, Germany"], ()),
        (["Bund der Energieverbraucher e.V."], ()),
        (["No Author"], ()),
        (["Redacci&oacute;n Diario Pagina Siete"], ("Redacción Diario Pagina Siete",)),
        (["Posted by Jane Doe 21.10.2019"], ("Jane Doe",)),
        (["Andrea Valeria - Remote Jobs"], ("Andrea Valeria",)),  # a display name with a tagline
        (["Iberische Weine in Berlin - Vinos Y Tapas und Vinho Iberico"], ()),
        (["Jane Doe | Senior Writer"], ("Jane Doe",)),
    ],
)
def test_clean_authors_labels_and_organisations(raw: list[str], expected: tuple[str, ...]) -> None:
    assert clean_authors(raw, site_keys=set()) == expected
