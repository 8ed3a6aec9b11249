"""A small deterministic slice of the ECB+ duplicate test set, end to end in memory."""

from __future__ import annotations

import pytest

from bench.data import load_ecbplus, shared_data
from bench.dedupe_quality import evaluate
from bench.dupset import COPY_KINDS, build

EXPECTED_KINDS = {
    "tracking": {"exact"},
    "mirror": {"exact"},
    "wire": {"near", "excerpt"},
    "edited": {"near", "excerpt"},
    "excerpt": {"excerpt", "near"},
}


@pytest.fixture(scope="module")
def records() -> list[dict[str, object]]:
    path = shared_data() / "ecbplus.jsonl"
    if not path.exists():
        pytest.skip(f"shared data not found: {path}")
    return load_ecbplus(path)


def test_slice_links_every_copy_to_its_original_and_merges_nothing_else(
    records: list[dict[str, object]],
) -> None:
    ds = build(n_originals=8, n_boilerplate=16, seed=7, records=records)
    assert len(ds.copies) == 8 * len(COPY_KINDS)
    rep = evaluate(ds, seed=7)
    for kind in COPY_KINDS:
        found, total = rep.recall[kind]
        assert (kind, found) == (kind, total)
        assert set(rep.verdict_kinds[kind]) <= EXPECTED_KINDS[kind], (kind, rep.verdict_kinds[kind])
    assert rep.address_recall == (8, 8)
    assert rep.false_links == []
    assert rep.boilerplate_merges == []
    assert rep.pair_merges["same event"] == 0 and rep.pair_totals["same event"] > 1000
