from __future__ import annotations

import re
import unicodedata
from datetime import date

import pytest

from worker.normalise.dates import parse_loose_date
from worker.normalise.textclean import (
    clean_text,
    clean_text_full,
    dateline_prefix,
    drop_boilerplate,
    normalise_unicode,
    paragraphs_of,
    parse_dateline,
)

STORY = "The committee approved the budget on Tuesday after a long debate among its members."


def test_normalise_unicode_removes_invisibles_and_folds_spaces() -> None:
    raw = "Caf\u0065\u0301\u00a0news\u200b wire\u2009copy\u00ad here\x07 \ufeffend\u3000x"
    assert normalise_unicode(raw) == "Café news wire copy here end x"


def test_normalise_unicode_is_nfc() -> None:
    out = normalise_unicode("e\u0301")
    assert out == "\u00e9" and len(out) == 1


def test_paragraphs_join_hard_wrapped_prose_but_keep_lines() -> None:
    wrapped = (
        "The five-year Syrian civil war has claimed over 250,000 lives and\n"
        "has displaced millions of people across the region, the United\n"
        "Nations said in its latest report published in Geneva on Friday."
    )
    assert paragraphs_of(wrapped) == [" ".join(wrapped.split("\n"))]
    assert paragraphs_of("Headline\nCaption one.\nCaption two.") == [
        "Headline",
        "Caption one.",
        "Caption two.",
    ]


@pytest.mark.parametrize(
    "insert",
    [
        "Also Read:  SYRIA UN ENVOY TO HEAD GOVERNMENT TEAM IN MOSCOW",
        "READ MORE: Markets slide as oil tops $100",
        "Related: How the vote unfolded",
        "Read more",
        "Share this article",
        "Sign up for our newsletter to get the latest headlines delivered to your inbox.",
        "We use cookies to improve your experience on our website.",
        # US local desks' inserts, which name another incident's victim, corner or day
        "MORE: Chicago man, 19, shot dead in Englewood",
        "PREVIOUS COVERAGE: Woman shot in Sherman Park neighborhood",
        "[Related: Man, 31, charged in October shooting death of Terrell Banks]",
        "RELATED VIDEO: Vigil held for slain teen",
        # the page's own stamps
        "Updated at 1:23 p.m.",
        "UPDATED: Tue., Nov. 19, 2019",
        "Posted: Thursday, April 21, 2022. 10:11 pm CST.",
        "Last updated on August 2, 2025 by Shannon",
        "posted 19 years ago",
    ],
)
def test_drop_boilerplate_inserts_and_prompts(insert: str) -> None:
    kept, dropped = drop_boilerplate([STORY, insert, STORY + " More."])
    assert kept == [STORY, STORY + " More."]
    assert dropped == [insert]


def test_a_trailing_list_of_other_stories_goes_with_its_label() -> None:
    teasers = ["Woman killed in Englewood shooting Friday", "2 wounded in Roseland drive-by Sunday"]
    kept, dropped = drop_boilerplate([STORY, "MORE FROM WGN:", *teasers, "Trending: Teen shot near the park"])
    assert kept == [STORY]
    assert set(dropped) == {"MORE FROM WGN:", *teasers, "Trending: Teen shot near the park"}
    # a label followed by the story going on: only the label goes
    kept, _ = drop_boilerplate([STORY, "Related stories", "Short line", STORY + " It ended late."])
    assert kept == [STORY, "Short line", STORY + " It ended late."]
    # a list of headlines under a label inside the text goes too ("RELATED STORIES:" then two)
    kept, dropped = drop_boilerplate([STORY, "RELATED STORIES:", *teasers, STORY + " It ended late."])
    assert kept == [STORY, STORY + " It ended late."]
    assert dropped == ["RELATED STORIES:", *teasers]
    # "See also" and "Watch" head a manual's own lists and videos, not other stories
    kept, _ = drop_boilerplate([STORY, "See also", "ansible-config(1)", "ansible-doc(1)"])
    assert kept == [STORY, "ansible-config(1)", "ansible-doc(1)"]


@pytest.mark.parametrize(
    "par",
    [
        "Related research published last year found that newsletters and cookies are a small "
        "part of how readers find stories, the authors said.",
        "More than 700 people have been shot in the city since January, police said.",
        "Previously, the man had been arrested twice on weapons charges.",
        "UP NEXT",  # an AP sports story's own last section
        "PUBLISHED",  # a section's heading
        "Published in Fall 2025",
        "Updated carrying case",
        "Posted on",  # its date left in markup: the headline after it must not open the text
    ],
)
def test_story_paragraph_mentioning_related_words_is_kept(par: str) -> None:
    kept, _ = drop_boilerplate([par])
    assert kept == [par]


def test_repeated_caption_dropped_but_repeated_story_lines_kept() -> None:
    caption = "Syrian President Bashar al-Assad. (Photo: ARA News)"
    kept, dropped = drop_boilerplate([caption, caption, STORY, "1 cup flour", STORY, "1 cup flour"])
    assert caption not in kept and dropped.count(caption) == 2
    assert kept.count("1 cup flour") == 2  # recipes and tables repeat lines legitimately


def test_desk_code_and_agency_footer() -> None:
    kept, dropped = drop_boilerplate(
        [STORY, "The war has displaced millions.(T/R07/R01)", "Mi’raj Islamic News Agency (MINA)"]
    )
    assert kept == [STORY, "The war has displaced millions."]
    assert "(T/R07/R01)" in dropped and "Mi’raj Islamic News Agency (MINA)" in dropped


def test_story_ending_in_parenthesis_is_not_a_desk_code() -> None:
    last = "He said the deal was fair (and/or balanced)"
    kept, _ = drop_boilerplate([STORY, last])
    assert kept[-1] == last


@pytest.mark.parametrize(
    ("opening", "place", "agency", "day", "rest"),
    [
        (
            "Tehran, 16 Rajab 2437/24 April 2016 (MINA) – Tehran offered Syrian President"
            " Bashar Assad asylum",
            "Tehran", "MINA", date(2016, 4, 24), "Tehran offered",
        ),
        ("WASHINGTON (Reuters) - The U.S. Senate on Tuesday voted to",
         "Washington", "Reuters", None, "The U.S."),
        ("LONDON (AP) — Britain said on Monday that it would", "London", "AP", None, "Britain"),
        ("SAN FRANCISCO, Calif. (AP) -- Tech firms said on Monday",
         "San Francisco, Calif.", "AP", None, "Tech"),
        ("Berlin (dpa) - Die Bundesregierung hat am Montag beschlossen",
         "Berlin", "dpa", None, "Die"),
        ("NEW YORK, May 4 — The city said today that it", "New York", None, None, "The city"),
    ],
)  # fmt: skip
def test_parse_dateline(opening: str, place: str, agency: str | None, day: date | None, rest: str) -> None:
    found = parse_dateline(opening)
    assert found is not None
    assert (found.place, found.agency, found.day) == (place, agency, day)
    assert opening[len(found.prefix) :].startswith(rest)


@pytest.mark.parametrize(
    "opening",
    [
        "Update: The company said that it would not comment on the report",
        "The company (NYSE: X) - said that it would not",
        "In a statement, officials said the road would reopen on Monday.",
    ],
)
def test_parse_dateline_rejects_ordinary_openings(opening: str) -> None:
    assert parse_dateline(opening) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("16 Rajab 2437/24 April 2016", date(2016, 4, 24)),
        ("April 24, 2016", date(2016, 4, 24)),
        ("Sept. 3, 2021", date(2021, 9, 3)),
        ("published 2019-11-05 at noon", date(2019, 11, 5)),
        ("2023 Jan 7", date(2023, 1, 7)),
        ("16 Rajab 2437", None),
        ("31 February 2020", None),
    ],
)
def test_parse_loose_date(text: str, expected: date | None) -> None:
    assert parse_loose_date(text) == expected


def test_clean_text_strips_dateline_keeps_sentence() -> None:
    text = "WASHINGTON (Reuters) - The U.S. Senate on Tuesday voted to pass the bill.\n\nREAD MORE: Other news"
    result = clean_text_full(text)
    assert result.text == "The U.S. Senate on Tuesday voted to pass the bill."
    assert result.dateline is not None and result.dateline.agency == "Reuters"
    assert clean_text(text) == result.text


def test_normalise_unicode_maps_every_character_as_its_table_says() -> None:
    """The regex that finds the characters to map changes nothing str.translate would not."""
    from worker.normalise.textclean import _TRANSLATE

    text = "".join(chr(c) for c in range(0x3100) if not 0xD800 <= c < 0xE000 and c != 0x0D)
    expected = unicodedata.normalize("NFC", text.translate(_TRANSLATE))
    assert normalise_unicode(text) == re.sub(r" {2,}", " ", expected)


@pytest.mark.parametrize(
    "opening",
    ["BALTIMORE (AP) — ", "SPRINGFIELD, Ill. (AP) — ", "WEST PALM BEACH — ", "WASHINGTON (Reuters) — "],
)
def test_a_stored_dateline_prints_as_it_was_parsed(opening: str) -> None:
    # story linking reads the city back from it (worker.service.stories)
    parsed = parse_dateline(opening + STORY)
    assert parsed is not None
    assert dateline_prefix(parsed.place, parsed.agency) == opening
    assert dateline_prefix(None, "AP") == ""
