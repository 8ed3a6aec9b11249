"""Incident evidence: names, places and days that survive a story's evolution (issue 19)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from worker.model.story import same_headline
from worker.stories import evidence as ev
from worker.stories import link as st
from worker.stories.refine import refine_dirty

# a Tuesday
PUB = datetime(2015, 6, 16, 9, 0, tzinfo=UTC)

FIRST = (
    "A 20-year-old man was shot and killed late Saturday night in the Englewood neighborhood, police said. "
    "Officers responded about 11:40 p.m. to the 1200 block of West Michigan Boulevard and found him "
    "with gunshot wounds. Anyone with information is asked to call Chicago police."
)
IDENTIFIED = (
    "The medical examiner has identified the man killed in Saturday's shooting in the 1200 block of "
    "West Michigan Blvd. as Tavon Abernathy, 20, of Chicago. Abernathy was shot several times."
)
TRIAL = (
    "Jury selection began Monday in the trial of Marcus Grant, accused of killing Tavon Abernathy "
    "in the 1200 block of West Michigan Boulevard in June 2015. Grant has pleaded not guilty."
)
OTHER = (
    "A 34-year-old man was wounded Saturday night in the Englewood neighborhood, police said. "
    "He was found in the 6500 block of South Halsted Street and taken to a hospital. "
    "Chicago police said no one is in custody."
)


def keys(text: str, at: datetime = PUB) -> set[str]:
    return set(ev.incident_keys("", text, at))


def test_keys_name_people_places_and_resolved_days() -> None:
    k = keys(IDENTIFIED, PUB + timedelta(days=1))
    assert {"pn:tavon abernathy", "a:20", "pr:chicago"} <= k  # "of Chicago": where he is from
    assert {"pb:1200|michigan", "ps:michigan"} <= k  # the kind ("Blvd.") and the direction left out
    assert "t:2015-06-13" in k  # Saturday, resolved against a Wednesday publication date
    first = keys(FIRST)
    assert {"ph:englewood", "a:20", "t:2015-06-13", "tm:2015-06", "pb:1200|michigan"} <= first
    assert not any(x.startswith("pn:") for x in first)  # nobody is named yet
    later = keys(TRIAL, datetime(2016, 2, 3, tzinfo=UTC))
    assert {"pn:marcus grant", "pn:tavon abernathy", "tm:2015-06"} <= later
    assert not any(k.startswith("t:") for k in keys(FIRST, None))  # no publication date: no days


def test_names_after_their_age_and_surnames_that_are_also_place_words() -> None:
    k = keys("Police identified the victim as 17-year-old Jamal Carter, a junior at Lincoln High School.")
    assert {"pn:jamal carter", "a:17"} <= k
    k = keys("Demetrius Hall, 25, died Monday. Marcus West, 19, was charged.")
    assert {"pn:demetrius hall", "pn:marcus west", "a:25", "a:19"} <= k
    # without an age after it, "Hall" and "West" end no name; place words before them still
    # end any run, age or not
    assert not any(x.startswith("pn:") for x in keys("They met at Union Hall. The City Hall, 12 blocks away."))
    assert not any(x.startswith("pn:") for x in keys("A 23-year-old South Side man and a 20-year-old Near West man."))


def test_a_surname_alone_with_an_age_gives_the_age_of_the_full_name() -> None:
    text = "Omar Mateen made several calls during the attack. Mateen, 29, told the negotiator he had a vest."
    assert {"pn:omar mateen", "a:29"} <= keys(text)
    # a surname alone that names nobody in full gives no age (it is cued as a surname only)
    assert "a:29" not in keys("Police spoke to witnesses. Mateen, 29, told the negotiator he had a vest.")


def test_a_reporters_credit_names_no_participant() -> None:
    # the desk's reporter is in many stories of one city: a shared "name" would join them all
    for credit in ("Written by Dana Kowalski", "Story by Dana Kowalski", "Photos by Dana Kowalski"):
        assert not any(k.startswith("pn:") for k in keys(f"{credit}\n\nA man was shot Saturday night."))
    assert "pn:marcus grant" in keys("He was shot by Marcus Grant on Saturday night.")
    for bio in ("Dana Kowalski is a Tribune staff writer.", "Dana Kowalski covers public safety for the Tribune."):
        assert not any(k.startswith("pn:") for k in keys(f"A man was shot Saturday night.\n\n{bio}"))
    assert "pn:marcus grant" in keys("Tavon Abernathy was shot Saturday. Marcus Grant is a suspect.")


def test_officials_who_speak_for_the_city_are_no_participants() -> None:
    for text in (
        "Superintendent Eddie Johnson said the shooting was gang-related. Johnson said more officers would patrol.",
        "Police spokesman Anthony Guglielmi said no arrests were made. Guglielmi has asked for witnesses.",
        "Ald. Howard Brookins said the block needs help. Brookins has called for more police.",
        "The Rev. Michael Pfleger led a march. Pfleger said the city is tired.",
    ):
        assert not any(k.startswith(("pn:", "sn:")) for k in keys(text)), text
    # the people of the story keep their names, doctors included, and an officer given an age
    # is one who was shot, not one speaking for the force
    assert "pn:ana ruiz" in keys("Dr. Ana Ruiz, 45, was wounded in the shooting.")
    assert {"pn:jason moore", "a:31"} <= keys("Officer Jason Moore, 31, was shot. Officer Jose Estrada said.")
    assert not any(k.endswith("estrada") for k in keys("Officer Jason Moore, 31, was shot. Officer Jose Estrada said."))


def test_a_number_word_opening_a_sentence_makes_no_surname() -> None:
    # "One man is dead" does not make "Regional One" (a hospital) a person named again by surname
    assert not any(
        k.startswith("pn:") for k in keys("One man is dead. He was rushed to Regional One in critical condition.")
    )


def test_capitalised_runs_that_are_not_people_are_not_names() -> None:
    k = keys("Cook County Jail said Crime Stoppers and Police Chief Eddie Johnson met Monday.")
    assert not any(x.startswith("pn:") for x in k)


def test_strength_joins_follow_ups_and_keeps_look_alikes_apart() -> None:
    first, identified = keys(FIRST), keys(IDENTIFIED, PUB + timedelta(days=1))
    assert ev.joins(identified, first, near=True) > 0.0  # block, day and age agree
    assert ev.joins(keys(OTHER), first, near=True) == 0.0  # same night and neighbourhood, another block
    story = ev.add_keys(ev.add_keys({}, first), identified)
    trial = keys(TRIAL, datetime(2016, 2, 3, tzinfo=UTC))
    assert ev.joins(trial, story, near=False) > 0.0  # name, block and month, eight months later
    # names alone never join: two events may involve the same people
    assert ev.strength({"pn:a b", "pn:c d"}, {"pn:a b", "pn:c d"}) == (0.0, False)
    # two cities: however alike, two incidents
    assert ev.strength(identified | {"pc:gary"}, identified - {"pc:chicago"} | {"pc:memphis"})[0] == 0.0


def test_where_someone_is_from_supports_a_city_but_never_vetoes_one() -> None:
    """ECB+'s shooting in Troy, Michigan: its people are "of Warren", "of Sterling Heights"."""
    victim = keys("Jason Reid, 31, of Sterling Heights, was shot at 2100 Maple Road on Friday.")
    police = keys("Troy police said a man was shot at 2100 Maple Road on Friday.")
    assert "pr:sterling heights" in victim and "pc:sterling heights" not in victim and "pc:troy" in police
    assert not ev.cities_conflict(victim, police)  # a home town is not where it happened
    assert ev.cities_conflict(police, keys("WARREN — Police said a man was shot."))  # where it happened: two cities
    both = {"t:2015-06-12", "ps:maple road"}
    assert ev.strength(both | {"pr:gary"}, both | {"pc:gary"})[0] > ev.strength(both, both)[0]  # one city
    assert ev.strength(both | {"pr:gary"}, both | {"pc:memphis"})[0] > 0.0
    assert ev.strength(both | {"pc:gary"}, both | {"pc:memphis"})[0] == 0.0


def test_a_follow_up_months_later_joins_its_story_and_a_look_alike_does_not() -> None:
    index = st.MemoryStoryIndex()
    docs = [
        ("Man killed in Englewood shooting", FIRST, PUB, "a.example"),
        ("Victim identified", IDENTIFIED, PUB + timedelta(days=1), "b.example"),
        ("Man wounded in Englewood", OTHER, PUB + timedelta(hours=3), "c.example"),
        ("Trial begins in Abernathy killing", TRIAL, datetime(2016, 2, 3, tzinfo=UTC), "a.example"),
    ]
    out = []
    for n, (title, text, at, source) in enumerate(docs):
        f = st.story_features(title, text, at, source, "en")
        out.append(st.link_article(index, f, at, article_id=n))
        refine_dirty(index, at)
    member = {m.article_id: index.resolve(m.story_id) for m in index.members_by_id.values()}
    assert member[0] == member[1] == member[3]  # 232 days later, through names and the address
    assert member[2] != member[0]


def test_same_headline() -> None:
    assert same_headline("Man shot on Main Street", "Man shot on Main Street, police say")
    assert not same_headline("Victim in Englewood shooting identified", "Arrest made in Austin shooting")
    assert same_headline(None, "Anything")


def test_courts_forces_and_brands_are_not_places() -> None:
    # seen in ECB+ and the extraction sets' news pages: a court is not a street, "riot police"
    # is not a city, and a county is no conflict with its city
    k = keys("Orozco appeared in Norwalk Superior Court. Riot police and the California Highway Patrol came.")
    assert not any(x.startswith(("ps:", "pc:")) for x in k)
    assert "ps:elm" in keys("He lived on Elm Court.") and "ps:high" in keys("A fire on High Street.")
    assert "pc:detroit" in keys("A spokesman for the Detroit Police Department said he died.")
    assert not ev.cities_conflict({"pc:macomb county"}, {"pc:sterling heights"})
    assert ev.cities_conflict({"pc:troy"}, {"pc:sterling heights"})


def test_where_someone_lives_is_not_where_it_happened() -> None:
    # how medical examiners and police identify people: their home block or address
    home = (
        "The medical examiner identified the man killed Saturday on West Michigan Boulevard as Tavon "
        "Abernathy, 20, of the 3900 block of West Monroe Street. Police arrested Marcus Grant, 29, of "
        "4512 S. Ashland Ave., and Lee Burton, who resides at 2134 Caldwell Place."
    )
    k = keys(home, PUB + timedelta(days=1))
    assert "ps:michigan" in k  # the scene
    assert not any("monroe" in x or "ashland" in x or "caldwell" in x for x in k), k  # three homes
    assert {"pn:tavon abernathy", "a:20", "t:2015-06-13"} <= k
    # so the first report (the scene's block, "a 20-year-old", Saturday) and the identification
    # agree on the street, the day and the age, and no home block contradicts the scene's
    assert ev.joins(k, keys(FIRST), near=True) > 0.0
    # the scene stays a scene, however it is introduced
    for scene in (
        "He was shot at his home in the 3900 block of West Monroe Street.",
        "Residents of the 3900 block of West Monroe Street heard shots.",
        "Officers were called to the 3900 block of West Monroe Street.",
    ):
        assert "pb:3900|monroe" in keys(scene), scene


def test_a_block_is_one_block_with_or_without_the_street_kind() -> None:
    # some city desks print "in the 3900 block of West Monroe"; others add "Street"
    short = keys("A man was shot in the 3900 block of West Monroe Wednesday night, police said.")
    full = keys("A man, 24, was shot in the 3900 block of West Monroe St. on Wednesday.")
    assert {"pb:3900|monroe", "ps:monroe"} <= short & full  # the weekday is no part of the street
    assert ev.joins(short, full, near=True) > 0.0
    assert "pb:100|court" in keys("in the 100 block of Court Street")  # a street named Court
    # keys stored before the kind was left out still meet the new ones, as a block and a street
    old = {"pb:3900|monroe street", "ps:monroe street", "t:2015-06-10", "tm:2015-06"}
    assert ev.strength(short, old) == ev.strength(short, {"pb:3900|monroe", "ps:monroe", "t:2015-06-10", "tm:2015-06"})
    other_block = {"pb:1200|monroe street", "ps:monroe street", "t:2015-06-10"}
    assert ev.strength(short, other_block)[0] < ev.strength(short, old)[0]


def test_a_direction_and_a_name_after_on_are_a_street() -> None:
    # desks that print no "Street": "shot on West Monroe" is the street of "... West Monroe Street"
    short = keys("A man was shot on West Monroe late Friday, police said.")
    assert "ps:monroe" in short & keys("Officers found him on West Monroe Street.")
    assert not any(k.startswith("ps:") for k in keys("He lives on West Adams. A ban on South Korea."))


def test_a_numbered_street_makes_a_corner_without_kinds() -> None:
    # "near 79th and Halsted": the way Chicago's desks give a corner
    a = keys("The shooting happened near 79th and Halsted Wednesday night.")
    b = keys("Police found him at Halsted Street and 79th Street.")
    assert "px:79th|halsted" in a & b
    assert "px:63rd|cottage grove" in keys("He was shot near 63rd and Cottage Grove.")
    # no number, no kind: two names joined by "and" are no corner
    assert not any(k.startswith("px:") for k in keys("He was seen near Smith and Jones on Friday."))


def test_intersections_are_places() -> None:
    a = keys("He was shot at the intersection of Main Street and Elm Avenue on Saturday.")
    b = keys("Police found the victim near Elm and Main streets late Saturday.")
    assert "px:elm|main" in a & b
    assert ev.strength(a, b)[0] >= ev.NEAR_STRENGTH  # a corner and a day, like a block and a day
    assert not any(x.startswith("px:") for x in keys("John Smith and Mary Jones met at the park."))


def test_back_references_to_the_month_and_older_ages_months_later() -> None:
    later = keys("Reed was sentenced for the July 2015 shooting. The March killing was his second.", PUB)
    assert {"tm:2015-07", "tm:2015-03"} <= later
    arrest = {"pn:travis hamilton", "pn:terrell davis", "a:29", "tm:2014-03", "pc:milwaukee"}
    verdict = {"pn:travis hamilton", "pn:terrell davis", "a:30", "tm:2014-03"}
    # a year later the defendant is a year older: no age conflict, the age still counts
    assert ev.strength(verdict, arrest, near=False)[0] > ev.strength(verdict, arrest - {"a:29"}, near=False)[0]
    assert ev.strength({"a:29", "t:2015-06-13", "ph:x"}, {"a:30", "t:2015-06-13", "ph:x"}, near=True)[0] < 2.5


def test_a_surname_alone_matches_a_full_name() -> None:
    k = set(ev.incident_keys("Grant sentenced in Englewood killing", "Grant, 29, pleaded guilty.", PUB))
    assert "sn:grant" in k and not any(x.startswith("pn:") for x in k)
    story = {"pn:marcus grant", "t:2015-06-13", "ph:englewood"}
    assert ev.strength({"sn:grant", "ph:englewood"}, story)[0] == ev.W_SURNAME + ev.W_HOOD
    # an article naming another Grant in full gives no surname key, so no match
    other = set(ev.incident_keys("", "Ann Grant, 30, was shot. Grant was taken to a hospital.", PUB))
    assert "pn:ann grant" in other and "sn:grant" not in other
    assert ev.strength(other | {"ph:englewood"}, story)[0] == ev.W_HOOD
    assert "sn:he" not in keys("He was shot.")
    assert "sn:cleveland" not in keys("Cleveland police said it. Cleveland has seen a rise.")


def test_a_place_named_after_the_deed_matches_a_neighbourhood() -> None:
    vigil = keys("Friends remembered the 43-year-old man shot and killed Tuesday in Oak Hill.")
    first = keys("A 43-year-old man was shot Tuesday night in the Oak Hill neighborhood.")
    assert "pi:oak hill" in vigil and "ph:oak hill" in first
    with_hood = ev.strength(vigil, first)[0]
    assert with_hood == ev.strength(vigil | {"ph:oak hill"}, first)[0] > ev.strength(vigil - {"pi:oak hill"}, first)[0]
    assert "pi:chicago" not in keys("The mayor spoke in Chicago on Monday.")  # no deed before it


def test_a_street_named_without_its_kind_after_the_deed_is_a_street() -> None:
    first = keys("Officers responded to reports of shots fired on Burleigh Street and found two victims.")
    named = keys("Corey Robertson was shot multiple times about 11:40 a.m. at a gas station on Burleigh.")
    assert "ps:burleigh" in first and "ps:burleigh" in named  # "a.m." ends no sentence
    assert ev.strength(named, first)[0] > ev.strength(named - {"ps:burleigh"}, first)[0]
    # a day, a holiday, a network, where someone lives, or no deed in the sentence: no street
    for text in (
        "He was shot on Friday.",
        "He was killed on Christmas Eve.",
        "He was shot on Election Day.",
        "Police said on Facebook that he was shot.",
        "Tyrone Hill, 23, who was shot Monday, lives on Halsted.",
        "The mayor will speak on Halsted.",
        "He was shot on Chicago's West Side.",
    ):
        assert not any(k.startswith("ps:") for k in keys(text)), text
    assert "pi:oak hill" in keys("He was shot at 2 p.m. in Oak Hill.")  # "p.m." neither


def test_a_street_the_day_and_the_city_join_within_the_window() -> None:
    # the first report gives the block, the follow-up only the street; both the day and the city
    first = keys(
        "A 19-year-old man was shot and killed Saturday night in the 2400 block of West Burleigh Street, "
        "Milwaukee police said."
    )
    later = keys(
        "Milwaukee police on Thursday asked for help finding whoever shot and killed a teenager "
        "Saturday on West Burleigh Street.",
        PUB + timedelta(days=2),
    )
    shared = {"ps:burleigh", "t:2015-06-13", "pc:milwaukee"}
    assert shared <= later and {"t:2015-06-13", "pc:milwaukee"} <= first, (first, later)
    assert ev.strength(later, first)[0] < ev.NEAR_STRENGTH  # not enough before this rule
    assert ev.joins(later, first, near=True) > 0.0
    assert ev.joins(later - {"pc:milwaukee"}, first, near=True) == 0.0  # no city in common: no
    assert ev.joins(later - {"t:2015-06-13"}, first, near=True) == 0.0  # no day: no
    # a neighbourhood, the day and the city are not enough this close in time: a busy weekend
    # has several shootings in one neighbourhood
    hood = {"ph:englewood", "t:2015-06-13", "pc:chicago", "k:shooting"}
    assert ev.joins(hood | {"a:34"}, hood | {"a:34"}, near=True) > 0.0  # (an age would be)
    assert ev.joins(hood, hood, near=True) == 0.0
    # another kind of event on that street that day: no
    assert ev.joins(later - {"k:shooting"} | {"k:fire"}, first, near=True) == 0.0


def test_an_outlets_home_city_stands_for_the_city_its_articles_do_not_name() -> None:
    # a local station: most of its reports name the city, this one only the block
    first = keys(
        "A 19-year-old man was shot Saturday in the 2400 block of West Burleigh Street, Milwaukee police said."
    )
    station = keys("Police are looking for whoever shot a man Saturday night on West Burleigh Street.")
    assert ev.cities_named(station) == [] and ev.cities_named(first) == ["milwaukee"]
    assert ev.joins(station, first, near=True) == 0.0  # a street and the day, no city in common
    tally: dict[str, int] = {}
    for named in (["milwaukee"], ["milwaukee"], [], ["milwaukee", "wauwatosa"]):
        tally = ev.count_cities(tally, named)
    assert tally == {"milwaukee": 3, "wauwatosa": 1}
    home = ev.home_city(tally, 4)
    assert home == "milwaukee"
    assert ev.joins(ev.with_home_city(sorted(station), home), first, near=True) > 0.0
    # a stated city always wins, and still vetoes another city's look-alike
    chicago = sorted(station | {"pc:chicago"})
    assert ev.with_home_city(chicago, home) == tuple(chicago)
    # too few articles, or a city named by fewer than half of them (a wire or national outlet)
    assert ev.home_city({"milwaukee": 2}, 2) is None
    assert ev.home_city({"milwaukee": 3, "chicago": 2}, 7) is None
    assert ev.home_city({"b": 4, "a": 4}, 8) == "a"  # ties by name: the same answer everywhere
    assert ev.with_home_city(sorted(station), None) == tuple(sorted(station))


def test_datelines_as_web_pages_print_them_and_metropolitan_forces_name_their_city() -> None:
    def cities(text: str) -> list[str]:
        return [k for k in keys(text) if k.startswith("pc:")]

    assert cities("Milwaukee, Wis. — A man was shot Saturday night.") == ["pc:milwaukee"]
    assert cities("Gary, IN (WGN) -- A man was shot Saturday night.") == ["pc:gary"]
    assert cities("St. Louis, Missouri - A man was shot Saturday night.") == ["pc:st louis"]
    assert cities("The Indianapolis Metropolitan Police Department said a man was shot.") == ["pc:indianapolis"]
    assert cities("Update - A man was shot Saturday night.") == []  # no state: no dateline
    assert cities("Police said a man was shot in Gary, Indiana.") == []  # not a dateline (see docs)


def test_a_place_naming_the_deed_itself_matches_a_neighbourhood() -> None:
    arrest = set(ev.incident_keys("Arrest made in Kensington shooting", "Police arrested a 22-year-old man.", PUB))
    first = keys("Four were shot and killed early Wednesday in the Kensington neighborhood.")
    assert "pi:kensington" in arrest and "ph:kensington" in first
    assert ev.strength(arrest, first)[0] > ev.strength(arrest - {"pi:kensington"}, first)[0]
    assert "pi:hough" in keys("Police named the victim of the Hough shooting.")
    assert "pi:labor day" in keys("He was charged in the Labor Day killing.")  # an occasion: one event too
    # a day is no place; nor is a Title Cased headline's adjective
    assert not any(k.startswith("pi:") for k in keys("He was charged in the Friday shooting."))
    assert not any(k.startswith("pi:") for k in ev.incident_keys("Man Arrested In Deadly Shooting", "", PUB))


def test_the_kind_of_event_in_the_lede_tells_a_fire_from_a_shooting() -> None:
    shooting = set(ev.incident_keys("Man shot on Elm Street", "A man was shot on Elm Street on Saturday.", PUB))
    fire = set(
        ev.incident_keys("House fire on Elm Street", "Firefighters fought a blaze on Elm Street on Saturday.", PUB)
    )
    assert "k:shooting" in shooting and "k:fire" in fire
    assert "k:fire" not in keys("Police said the gunman opened fire on the crowd.")  # "fire" alone is no kind
    assert ev.strength(shooting, fire)[0] == ev.strength(shooting, fire | {"k:shooting"})[0] - ev.KIND_CONFLICT
    trial = set(ev.incident_keys("Trial begins", "Jury selection began in the trial of Marcus Grant.", PUB))
    assert not any(k.startswith("k:") for k in trial)  # no kind named: no conflict either


def test_kinds_are_found_in_any_case_as_the_regexes_match_them() -> None:
    """The kinds' words are looked up in the lower-cased lede before their regexes run; whatever
    the regexes (re.I) match must lower-case to the words, or be one of _FOLDS_APART."""
    import re
    import sys

    for cp in range(sys.maxunicode + 1):
        c = chr(cp)
        if re.fullmatch("[a-z ]", c, re.I):
            assert c.lower() in "abcdefghijklmnopqrstuvwxyz " or c in ev._FOLDS_APART, hex(cp)
    assert ev._kinds_of("SHOOTING, STABBING and a CRASH") == ["k:shooting", "k:stabbing", "k:crash"]
    assert ev._kinds_of("GUNſHOTS rang out") == ["k:shooting"]  # re.I: ſ is s
    assert ev._kinds_of("Man MISSİNG since the CRAſH") == ["k:crash", "k:missing"]
    assert ev._kinds_of("Shots were heard; the shooter fled.") == []  # whole words only


NAMELESS = (
    "A 53-year-old man was wounded early Tuesday morning in the Carver Park neighborhood, police said. "
    "Anyone with information is asked to call New Orleans police."
)
ARREST = (
    "New Orleans police have arrested Robert Hayes, 35, in connection with the March shooting that "
    "wounded Reginald Palmer, 53, in the Carver Park neighborhood."
)


def test_where_and_when_join_a_nameless_first_report_months_later() -> None:
    first = keys(NAMELESS, datetime(2014, 3, 19, tzinfo=UTC))  # a Wednesday: Tuesday is March 18
    arrest = keys(ARREST, datetime(2014, 7, 16, tzinfo=UTC))
    # no name and no address in common: the neighbourhood, the month and the victim's age
    assert ev.joins(arrest, first, near=False) > 0.0
    # the same without the exact age (a suspect 52 is chance), or without the place: no join
    assert ev.joins(arrest - {"a:53"} | {"a:52"}, first, near=False) == 0.0
    assert ev.joins(arrest - {"ph:carver park"}, first, near=False) == 0.0
    # a place and the day itself ("the Nov. 11 shooting on Ashland Road") joins too
    a = {"ps:ashland road", "t:2015-11-11", "tm:2015-11", "pc:birmingham", "pb:7900|ashland road"}
    b = {"ps:ashland road", "t:2015-11-11", "tm:2015-11", "pc:birmingham", "pn:antonio hamilton"}
    assert ev.joins(b, a, near=False) > 0.0
    assert ev.joins(b - {"t:2015-11-11"}, a, near=False) == 0.0  # a street and a month alone: no


def test_archived_stories_are_reached_by_month_and_place() -> None:
    first = keys(NAMELESS, datetime(2014, 3, 19, tzinfo=UTC))
    arrest = keys(ARREST, datetime(2014, 7, 16, tzinfo=UTC))
    story = st.new_story_state(1, {"w": 1.0}, datetime(2014, 3, 19, tzinfo=UTC), "a.example", "t", sorted(first))
    posted = {k for k in story.postings() if k.startswith("@")}
    assert "@ww:2014-03|ph:carver park" in posted
    assert "ww:2014-03|ph:carver park" in ev.lookup_keys(arrest)
    assert "@px:elm|main" in st.new_story_state(1, {"w": 1.0}, PUB, "a", "t", ["px:elm|main"]).postings()
    # linked through the memory index four months later (beyond the window), the look-alike
    # of another month in the same neighbourhood stays apart
    index = st.MemoryStoryIndex()
    docs = [
        ("Man wounded in Carver Park shooting", NAMELESS, datetime(2014, 3, 19, 8, tzinfo=UTC), "a.example"),
        ("Man hurt in Carver Park", NAMELESS.replace("53", "41"), datetime(2014, 5, 7, 8, tzinfo=UTC), "c.example"),
        ("Man arrested after New Orleans shooting", ARREST, datetime(2014, 7, 16, 8, tzinfo=UTC), "b.example"),
    ]
    out = [
        st.link_article(index, st.story_features(t, x, at, src, "en"), at, article_id=n).story_id
        for n, (t, x, at, src) in enumerate(docs)
    ]
    assert out[2] == out[0] != out[1]


def test_an_ap_date_does_not_end_the_sentence_before_a_place() -> None:
    k = keys("Friends remembered Jamal Simpson, the man shot and killed Nov. 11 in Fruitvale.")
    assert "pi:fruitvale" in k  # "Nov." is no full stop: "killed" is in the same sentence
    assert "pi:fruitvale" not in keys("He was killed. Nov. 11 in Fruitvale was quiet.")


def _story(sid: int, first: datetime, keys: set[str], days: int = 0) -> st.StoryState:
    return st.StoryState(
        story_id=sid,
        centroid={f"w{sid}": 1.0},
        first_time=first,
        last_time=first + timedelta(days=days),
        article_count=2,
        sources=frozenset({"a.example"}),
        title=f"story {sid}",
        title_score=0.5,
        keys=dict.fromkeys(keys, 1),
    )


def test_an_article_whose_evidence_joins_two_stories_of_one_incident_merges_them() -> None:
    first = keys(FIRST)  # the first reports: block, neighbourhood, Saturday, age 20
    arrest = {"pn:marcus grant", "pn:tavon abernathy", "a:20", "ph:englewood", "t:2015-06-13", "pc:chicago"}
    reports = _story(4, PUB, first)
    coverage = _story(2, PUB + timedelta(days=3), arrest)  # the arrest coverage, a story of its own
    identified = keys(IDENTIFIED, PUB + timedelta(days=1))
    d = st.Linker().decide({"w9": 1.0}, PUB + timedelta(days=1), [coverage, reports], sorted(identified))
    assert d.story_id == 4 and d.merges == (2,)  # kept: the older story
    # a look-alike the article also matches, whose own evidence does not join: not merged
    other = _story(6, PUB, {"pn:tavon abernathy", "t:2015-06-13", "a:20", "ph:austin", "pc:chicago"})
    assert ev.joins(identified, other.keys, near=True) > 0.0 and not st._stories_join(reports, other)
    d2 = st.Linker().decide({"w9": 1.0}, PUB + timedelta(days=1), [other, reports], sorted(identified))
    assert d2.story_id in (4, 6) and d2.merges == ()


SIGN_IN = "Sign in to continue reading. Already a subscriber? Log in to your account to read this story."


def test_a_page_whose_text_tells_nothing_joins_the_one_story_its_headline_names() -> None:
    page = set(ev.incident_keys("Marcus Grant charged with murder in Englewood killing", SIGN_IN, PUB))
    assert "hn:marcus grant" in page
    # a headline naming nobody is not specific enough; a page whose text tells where and when
    # is linked on its text, as any article
    assert not any(k.startswith("hn:") for k in ev.incident_keys("Man killed in Englewood shooting", SIGN_IN, PUB))
    assert "hn:tavon abernathy" not in ev.incident_keys("Tavon Abernathy identified", IDENTIFIED, PUB)
    # a long text without places, days or ages is other news (sports), not a prompt
    sports = "The team offered him an eight-year contract worth about 160 million dollars. " * 8
    head = "Mark Teixeira found his price"
    assert "hn:mark teixeira" in ev.incident_keys(head, SIGN_IN, PUB)
    assert "hn:mark teixeira" not in ev.incident_keys(head, sports, PUB)
    assert "pn:travis hayes" in ev.incident_keys("Jury convicts Travis Hayes", SIGN_IN, PUB)
    grant = _story(3, PUB - timedelta(days=40), {"pn:marcus grant", "ph:englewood", "pc:chicago"}, days=2)
    other = _story(5, PUB - timedelta(days=1), {"pn:tavon abernathy", "ph:englewood", "pc:chicago"})
    assert ev.headline_joins(page, grant.keys) and not ev.headline_joins(page, other.keys)
    assert not ev.headline_joins(page | {"pc:memphis"}, grant.keys)  # another city's Marcus Grant
    d = st.Linker().decide({"w9": 1.0}, PUB, [other, grant], sorted(page))
    assert d.story_id == 3
    # two stories name a Marcus Grant: ambiguous, the page stays alone
    twin = _story(8, PUB - timedelta(days=3), {"pn:marcus grant", "pb:100|oak street"})
    assert st.Linker().decide({"w9": 1.0}, PUB, [other, grant, twin], sorted(page)).story_id is None


def test_a_page_whose_text_tells_nothing_joins_the_one_story_near_it_naming_its_headlines_place() -> None:
    page = set(ev.incident_keys("7 shot on West Hill Place", SIGN_IN, PUB))
    assert {"hq:page", "ps:hill"} <= page
    hill = _story(3, PUB - timedelta(days=1), {"ps:hill", "pb:2100|hill", "pc:baltimore", "t:2015-06-16", "k:shooting"})
    oak = _story(5, PUB - timedelta(days=1), {"ps:oak", "pc:baltimore", "t:2015-06-16", "k:shooting"})
    assert ev.headline_place_joins(page, hill.keys) and not ev.headline_place_joins(page, oak.keys)
    assert not ev.headline_place_joins(page | {"pc:memphis"}, hill.keys)  # another city's Hill Place
    # the same headline over a text that tells things is an ordinary article
    told = ev.incident_keys("7 shot on West Hill Place", "Seven people were shot Tuesday in Baltimore.", PUB)
    assert "hq:page" not in told and not ev.headline_place_joins(told, hill.keys)
    assert st.Linker().decide({"w9": 1.0}, PUB, [oak, hill], sorted(page)).story_id == 3
    # a neighbourhood named either way; a headline's day must be the story's
    hood = set(ev.incident_keys("Woman killed in Dutchtown shooting Tuesday", SIGN_IN, PUB))
    dutchtown = _story(6, PUB, {"ph:dutchtown", "pc:st louis", "t:2015-06-16", "k:shooting"})
    assert ev.headline_place_joins(hood, dutchtown.keys)
    assert not ev.headline_place_joins(hood, {"ph:dutchtown", "t:2015-06-13", "k:shooting"})
    assert not ev.headline_place_joins(hood, {"ph:dutchtown", "t:2015-06-16", "k:fire"})  # another kind
    menu = set(ev.incident_keys("Brunch menu at the Hill Place cafe", SIGN_IN, PUB))
    assert not ev.headline_place_joins(menu, hill.keys)  # a place, but no incident
    # two stories on that street: ambiguous, the page stays alone; a week before: too far
    twin = _story(8, PUB - timedelta(days=2), {"ps:hill", "pc:baltimore", "k:shooting"})
    assert st.Linker().decide({"w9": 1.0}, PUB, [oak, hill, twin], sorted(page)).story_id is None
    old = _story(10, PUB - timedelta(days=7), {"ps:hill", "pc:baltimore", "k:shooting"})
    assert st.Linker().decide({"w9": 1.0}, PUB, [oak, old], sorted(page)).story_id is None


def test_the_same_words_about_another_city_do_not_join() -> None:
    vec = {"shoot": 0.6, "wound": 0.5, "e:oak avenue": 0.6, "d:sat": 0.2}
    here = replace(_story(3, PUB, {"pc:milwaukee", "ps:oak avenue", "t:2015-06-13"}), centroid=vec)
    linker = st.Linker()
    same_city = linker.score(st._unit(vec), PUB, here, keys=("pc:milwaukee", "k:shooting"))
    assert same_city > linker.threshold
    assert linker.score(st._unit(vec), PUB, here, keys=("pc:detroit", "k:shooting")) == 0.0
    # a county is no other city (the sheriff's word for the same place)
    assert linker.score(st._unit(vec), PUB, here, keys=("pc:milwaukee county",)) == same_city


def test_month_regexes_started_where_they_can_first_match_find_every_match() -> None:
    texts = [
        "",
        "No month here at all.",
        "OctJan. 3 was cold; on Jan. 5, 2015 and Feb. 7 it snowed since March, in April 2014.",
        "xin March and in March; from December 2013 until Sept. 12th",
        "Mayday: May 4. Decimal 10 Dec 25",
    ]
    for rx in ev._SKIP_AHEAD:
        for text in texts:
            assert [m.span() for m in ev._matches(rx, text)] == [m.span() for m in rx.finditer(text)], text


def test_a_part_of_a_city_is_a_neighbourhood_and_a_city_no_persons_name() -> None:
    # as ECB+ prints them: "of Northeast Philadelphia" beside "Philadelphia police" read as a
    # name (a cue, and its last word alone elsewhere), and a name with the day joins: a region
    # that several shootings of one week share
    first = keys(
        "A 17-year-old boy was shot in Northeast Philadelphia on Saturday. Philadelphia police made no arrest."
    )
    other = keys("Marcus Hill, 27, of Southeast Washington, died at a hospital, Washington police said.")
    assert "pn:northeast philadelphia" not in first and "ph:northeast philadelphia" in first
    assert "pn:southeast washington" not in other and "ph:southeast washington" in other
    assert "pn:marcus hill" in other
    # ...the same part in two reports is a neighbourhood shared, not a name
    again = keys("A man was wounded in Northeast Philadelphia on Saturday night, Philadelphia police said.")
    assert ev.strength(first, again)[0] < ev.NEAR_STRENGTH
    # a state is no part of a city; a city's own first word makes no name either
    assert not any(
        k.startswith(("ph:north carolina", "pn:north carolina")) for k in keys("A man of North Carolina, 30, was shot.")
    )
    assert not any(
        k.startswith("pn:") for k in keys("The killing of San Antonio men shocked San Antonio. Antonio said.")
    )
    # ...while a street may still start with one
    assert "px:5th|central" in keys("A man was shot at Central Avenue and 5th Street on Sunday.")


def test_cities_as_forces_and_home_towns_are_printed() -> None:
    def places(text: str) -> set[str]:
        return {k for k in keys(text) if k.startswith(("pc:", "pr:"))}

    assert places("Louisville Metro Police are investigating a shooting.") == {"pc:louisville"}
    # the city's two names are one city (before: "pc:york city", which vetoed "pc:new york")
    assert places("New York City police said a man was shot.") == {"pc:new york"}
    assert places("New York police said a man was shot.") == {"pc:new york"}
    assert places("Los Angeles police said a man was shot.") == {"pc:los angeles"}
    # a force named for a state is no city; a Title Cased headline's "Police" before a verb is no cue
    assert places("He was found, Oregon State Police said.") == set()
    assert places("Man Shot Dead As Chicago Police Say Suspect Fled") == set()
    # a sentence's first word before "police" is no city (ECB+: "Although police ...")
    assert places("Although police said the boy was armed, those police who fired were charged.") == set()
    # where someone is from: supports a shared city, never vetoes one
    assert places("A 24-year-old Milwaukee man was shot and killed.") == {"pr:milwaukee"}
    assert places("A Spiro man was found guilty of murder.") == {"pr:spiro"}  # ECB+
    assert places("A Black man was shot and killed.") == set()


def test_an_age_in_apposition_and_a_numbered_corner_with_a_word_street() -> None:
    found = keys("Officers found the man, age 31, on West Broadway. He was shot near 35th and Center on Sunday.")
    assert {"a:31", "px:35th|center"} <= found
    assert not any(k.startswith("a:") for k in keys("Children under age 12, aged 5.5 or so, ride free."))


def test_a_prompt_naming_its_offers_days_is_still_a_page_that_tells_nothing() -> None:
    hill = _story(3, PUB - timedelta(days=1), {"ps:hill", "pb:2100|hill", "pc:baltimore", "t:2015-06-15", "k:shooting"})
    for prompt in (
        f"{SIGN_IN} This offer ends Sunday.",
        "Sign up for our Breaking News newsletter, delivered to your inbox Monday through Friday.",
        "Get unlimited digital access for $1 for 4 weeks. Offer valid through June 30, 2015.",
    ):
        page = set(ev.incident_keys("7 shot on West Hill Place", prompt, PUB))
        # no day of the offer: it would contradict the story's day
        assert "hq:page" in page and not any(k.startswith("t:") for k in page), prompt
        assert ev.headline_place_joins(page, hill.keys)
    # a brief that tells something, with the newsletter line under it, is an article
    brief = set(ev.incident_keys("7 shot", "Seven were shot Sunday, police said. Sign up for our newsletter.", PUB))
    assert "hq:page" not in brief and "t:2015-06-14" in brief
    named = set(ev.incident_keys("Victim named", "Subscribers can read how Tavon Abernathy, 20, died Sunday.", PUB))
    assert "hq:page" not in named
    # ...and so is a short report of another kind under a site's subscription line (no deed word,
    # no police: bench.story_quality's look-alike stream, whose pairwise precision fell to 0.81)
    fire = "A fire broke out at a warehouse on Elm Street on Tuesday. Firefighters from 3 stations responded."
    report = set(ev.incident_keys("Warehouse fire", f"{fire}\nSubscribe to News Daily for unlimited access.", PUB))
    assert "hq:page" not in report and {"ps:elm", "t:2015-06-16"} <= report


def test_a_city_whose_name_starts_with_st_new_or_fort_is_a_place_named_with_the_deed() -> None:
    page = set(ev.incident_keys("Coroner IDs 18-year-old killed in St. Louis shooting", SIGN_IN, PUB))
    assert "pi:st louis" in page
    told = keys("A man was shot and killed in New Orleans on Sunday. Another was shot in Fort Worth.")
    assert {"pi:new orleans", "pi:fort worth"} <= told
    # a compass word still starts no place (measured: "in East End" joins different shootings)
    assert not any(k.startswith("pi:east") for k in keys("A man was shot in East End on Sunday."))


def test_names_with_a_capitals_apostrophe_or_a_jr_are_names() -> None:
    assert {"pn:d'andre o'neal", "a:19"} <= keys("The victim, D'Andre O'Neal, 19, was pronounced dead.")
    found = keys("Marcus T. Williams Jr., 22, died at Sinai Hospital. Williams Jr. was a father of two.")
    assert {"pn:marcus williams", "a:22"} <= found
    # the same person as another desk prints him
    assert "pn:marcus williams" in keys("Marcus Williams, 22, was shot on Sunday.")


def test_a_weekday_to_come_is_no_day_of_the_incident() -> None:
    at = datetime(2016, 5, 9, 14, tzinfo=UTC)  # a Monday
    vigil = keys("A vigil will be held Friday for Tyree Carter, who was killed April 30.", at)
    assert "t:2016-04-30" in vigil and "t:2016-05-06" not in vigil
    for text in (
        "He is due in court Tuesday.",
        "The trial is scheduled to resume Wednesday.",
        "They meet next Sunday.",
    ):
        assert not any(k.startswith("t:") for k in keys(text, at)), text
    # a day past, after words that only look ahead
    assert "t:2016-05-04" in keys("A second protest came the next night, and another on Wednesday.", at)
    assert "t:2016-05-07" in keys("Flights were cancelled due to fog on Saturday.", at)


def test_a_neighbourhood_after_a_citys_possessive() -> None:
    assert "ph:sherman park" in keys("A man was shot Saturday in Milwaukee's Sherman Park neighborhood.")
    assert "ph:kensington" in keys("The shooting happened in the city's Kensington section about 9 p.m.")
    # the possessive is no city: "Brooklyn's" would veto "New York police"
    assert not any(k.startswith("pc:") for k in keys("A teen was shot in Brooklyn's Brownsville neighborhood."))


def test_two_ages_given_together() -> None:
    assert {"a:19", "a:23"} <= keys("The men, 19 and 23, were standing outside when someone opened fire.")
    assert {"a:34", "a:41"} <= keys("Two women, ages 34 and 41, were wounded.")
    assert not any(k.startswith("a:") for k in keys("Between 10 and 20 people, police said, ran."))


def test_a_part_of_a_city_in_lower_case_is_the_same_place() -> None:
    lower = keys("A man was killed in a shooting in southwest Atlanta on Saturday.")
    upper = keys("A man was killed Saturday in Southwest Atlanta, police said.")
    assert "ph:southwest atlanta" in lower and "ph:southwest atlanta" in upper
    assert not any(k.startswith("ph:") for k in keys("He lived in southwest Main Street apartments."))


def test_another_storys_headline_inside_the_text_is_no_evidence_of_this_one() -> None:
    # a "Related" link whose label the page or the scrape lost, between two paragraphs
    first = "A man was shot and killed Saturday night in the 2400 block of North 35th Street, police said."
    rest = "Officers found Marcus Green, 24, with gunshot wounds about 10 p.m.\n\nNo arrests have been made."
    story = keys(f"{first}\n\n{rest}")
    for other in (
        "Teen killed in shooting near 60th and Capitol on Friday",
        "Man, 31, charged in October shooting death of Terrell Banks",
        "Story by Latoya Jones",  # the reporter's credit
    ):
        assert keys(f"{first}\n\n{other}\n\n{rest}") == story, other
    # what the story's own first paragraph says, however short, and an embedded post's date stay
    assert "pn:marcus green" in keys("Marcus Green, 24, killed Saturday in Milwaukee\n\nNo arrests were made.")
    tweet = "Shots fired near 35th and Center.\n\n— Milwaukee Police (@MilwaukeePolice) June 13, 2015"
    assert "t:2015-06-13" in keys(tweet)


def test_a_pages_own_stamp_is_no_day_of_the_incident() -> None:
    story = "A man was shot and killed Monday night near 35th and Center in Milwaukee, police said."
    at = datetime(2016, 6, 22, 13, tzinfo=UTC)  # a Wednesday
    told = {k for k in ev.incident_keys("", story, at) if k.startswith("t:")}
    assert told == {"t:2016-06-20"}
    for stamp in (
        "Posted: Jun 21, 2016 10:31 PM CDT Updated: Jun 22, 2016 8:00 AM CDT",
        "By Jane Doe | Published June 21, 2016 | Crime",
        "First Published: Tuesday, June 21, 2016 08:38 AM",
    ):
        days = {k for k in ev.incident_keys("", f"{stamp}\n\n{story}", at) if k.startswith("t:")}
        assert days == told, stamp
    # a date the story tells stays, whatever comes after it
    assert "t:2016-06-19" in ev.incident_keys("", "Shots were fired June 19. Updated at 8 a.m.", at)


def test_a_round_up_of_several_incidents_is_evidence_of_none() -> None:
    at = datetime(2016, 6, 20, 12, tzinfo=UTC)
    scenes = (
        "A 24-year-old man was shot Saturday night in the 2400 block of West Burleigh Street.",
        "A 31-year-old man was wounded early Sunday in the 3100 block of North 35th Street.",
        "A 19-year-old man was shot Sunday afternoon in the 5600 block of West Capitol Drive.",
    )
    lead = "MILWAUKEE — Milwaukee police are investigating shootings over the weekend."
    three = ev.incident_keys("3 shot in weekend violence", "\n\n".join([lead, *scenes]), at)
    assert three and all(k.startswith(("k:", "pc:", "tm:")) for k in three)
    # two scenes are a round-up when the text says the shootings were separate
    two = "\n\n".join([lead.replace("shootings", "two separate shootings"), *scenes[:2]])
    assert not any(k.startswith(("pb:", "t:", "a:")) for k in ev.incident_keys("", two, at))
    # one incident told with two places (where it happened, where the victim was found) keeps them
    one = f"{scenes[0]} He was found in the 3100 block of North 35th Street after he drove away."
    assert {"pb:2400|burleigh", "pb:3100|35th"} <= set(ev.incident_keys("", one, at))


def test_a_corner_of_two_streets_of_one_kind() -> None:
    assert "px:11th|poplar" in keys("A vigil was held Thursday at their home at 11th and Poplar Streets.")


def test_a_round_up_does_not_join_the_stories_of_the_incidents_it_lists() -> None:
    # three weekend shootings in one city, a Monday round-up naming all three scenes, then each
    # victim identified: the round-up's blocks and days made it a bridge, and the identified
    # victims' reports merged the first two stories through it
    monday = datetime(2016, 6, 20, 12, tzinfo=UTC)
    scenes = {
        "a": ("2400 block of West Burleigh Street", "Sherman Park", "Marcus Green", 24, "Saturday night"),
        "b": ("3100 block of North 35th Street", "Metcalfe Park", "Tony Banks", 31, "early Sunday"),
        "c": ("5600 block of West Capitol Drive", "Capitol Heights", "Dana Wells", 19, "Sunday afternoon"),
    }
    stream: list[tuple[str, str, str, datetime, str]] = []
    for gold, (block, hood, _, age, when) in scenes.items():
        first = f"MILWAUKEE — A {age}-year-old man was shot {when} in the {block} in the {hood} neighborhood."
        stream.append((gold, f"Man shot in {hood}", first, monday - timedelta(hours=20), "wisn.com"))
    listed = "\n\n".join(f"A {a}-year-old man was shot {w} in the {b} in {h}." for b, h, _, a, w in scenes.values())
    lead = "MILWAUKEE — Three people were shot in separate incidents across Milwaukee over the weekend."
    stream.append(
        ("a", "3 shot in weekend violence", f"{lead}\n\n{listed}", monday - timedelta(hours=2), "jsonline.com")
    )
    for gold, (block, hood, name, age, when) in scenes.items():
        named = f"MILWAUKEE — The man shot {when} in the {block} has been identified as {name}, {age}, police said."
        stream.append((gold, f"Victim in {hood} shooting identified", named, monday + timedelta(hours=6), "wisn.com"))
    index = st.MemoryStoryIndex()
    linked: list[tuple[str, int]] = []
    for i, (gold, title, text, at, source) in enumerate(stream):
        result = st.link_article(index, st.story_features(title, text, at, source, "en"), at, article_id=i)
        if title.startswith(("Man shot", "Victim")):
            linked.append((gold, result.story_id))
    story_of: dict[str, set[int]] = {}
    for gold, story_id in linked:  # where each story ended up, after any merge
        story_of.setdefault(gold, set()).add(index.resolve(story_id))
    assert all(len(ids) == 1 for ids in story_of.values()), story_of
    assert len(set.union(*story_of.values())) == 3


def test_names_as_families_and_medical_examiners_give_them() -> None:
    # "Jr." ending the sentence, a nickname in quotes: the name other reports print
    assert "pn:marcus green" in keys("Family members identified the victim as Marcus Green Jr.")
    assert "pn:marcus green" in keys("Family members identified him as Marcus 'Mookie' Green.")
    assert {"pn:tyrone smith", "a:31"} <= keys("Tyrone “T-Bone” Smith, 31, was killed Saturday.")
    # in a headline, whose verb cues the name
    headline = ev.incident_keys("Marcus 'Mookie' Green charged with murder", "Charges were filed Monday.", PUB)
    assert "pn:marcus green" in headline
    # a street named for someone is no participant
    assert not any(k.startswith("pn:") for k in keys("A man was shot Saturday on Martin Luther King Jr. Drive."))


def test_a_rank_before_a_name_is_not_part_of_it() -> None:
    # "Deputy Jerry Ortiz" in one report, "Jerry Ortiz, 35," in the next: one name
    assert "pn:jerry ortiz" in keys("The gunman killed Deputy Jerry Ortiz in June.")
    assert "pn:jason moore" in keys("Police arrested a suspect in the killing of Officer Jason Moore.")
    # an officer speaking for the force is no participant
    assert not any(k.startswith("pn:") for k in keys("Officer Jason Moore said the victim was taken to a hospital."))
