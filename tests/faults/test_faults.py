"""The short fault-injection run (CI): every scenario of issue #14 on a small local site.

The same code as the full run (``python -m tests.faults.run --scenario all --pages 1000``), with
the ``SHORT`` profile: 33 pages, time limits of 5/10 s (a lease of 25 s) and a dispatch tick
every 2 s, so that a lost item comes back within seconds rather than minutes. Each scenario must
end with every page stored once and linked into a story, and the poison recorded as failed with
its reason. How fast it settled is printed (and reported in the README from the full run), never
asserted: this machine's speed is not the product's.
"""

from __future__ import annotations

import pytest

from tests.faults.scenarios import SCENARIOS, SHORT, Result, run_scenario, table


def _check(result: Result) -> None:
    print("\n" + table([result]))
    c = result.counts
    assert result.settled_after is not None, table([result])
    assert (c.missing, c.stored_twice, c.without_story, c.unprocessed) == (0, 0, 0, 0), table([result])
    assert c.stored == c.expected


@pytest.mark.parametrize(
    "scenario",
    [s for s in SCENARIOS if s not in ("baseline", "poison")],
)
def test_every_page_is_stored_once_and_linked_after_the_fault(scenario: str) -> None:
    _check(run_scenario(scenario, SHORT))


def test_a_poison_page_and_a_poison_feed_are_recorded_failed_and_block_nothing() -> None:
    result = run_scenario("poison", SHORT)
    _check(result)
    c = result.counts
    # refused before extraction (more markup than any article page): the page's failure is
    # recorded on the article kept from the feed (the time-limit give-up path has its own test in
    # tests/integration/test_work_leases.py)
    assert c.poison_page is not None and c.poison_page.startswith("failed page, kept from the feed: too_complex"), (
        c.poison_page
    )
    assert c.poison_feed is not None and c.poison_feed.startswith("error recorded"), c.poison_feed
