"""Story refinement: regroup recent stories with hindsight, as a periodic pass.

The online linker (worker.stories.link) decides once, when an article arrives, from what it has
seen so far. Its errors are look-alike events (two quakes on one island, two offers for one
player) whose first articles joined the wrong story before the evidence that separates them
had arrived. Later articles supply that evidence: articles of one event have the *same nearest
neighbours*, articles of its look-alike have different ones, even when each article is close to
both. This pass therefore compares articles by their neighbourhoods (second-order similarity:
the cosine of their top-k similarity rows), clusters a neighbourhood of stories by average link
over that similarity, and moves articles to match. It runs over stories that changed since
they were last refined (a beat task, ``newsworker stories refine``), so stored story ids settle
within minutes while the online step stays a few milliseconds.

Second-order similarity alone over-groups templated local news (two house fires in two towns
share every neighbour): pairs count only where the linker's own evidence agrees (time factor,
a shared strongest name, the who/where/when parts), and two groups from different stories join
only if the linker would accept every article of one into the other. So the pass splits what
the linker mixed and re-joins what it split, but never joins what the linker refuses.

Why these constants: measured on ECB+ (bench/story_quality.py, bench/story_ceiling.py) and the
time-ordered streams; ``REFINE_NEIGHBOURS`` must stay below a typical story's size and
``SELF_WEIGHT`` keeps two-article stories from falling apart (with no self weight, two articles
that are each other's only neighbour have no neighbour in common).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

import numpy as np

from worker.model import story as story_model
from worker.model.story import RefineOutcome
from worker.stories import evidence as incident
from worker.stories import link as st

REFINE_NEIGHBOURS = 8  # k of the top-k similarity rows compared
REFINE_FLOOR = 0.10  # plain cosine (x time factor) two articles need before they may group
REFINE_THRESHOLD = 0.35  # average second-order similarity at which two groups join
NEIGHBOURHOOD_MIN = 0.20  # centroid cosine that pulls a nearby story into the regrouping
SELF_WEIGHT = 0.5  # an article is its own nearest neighbour: two-article stories stay together
MAX_POPULATION = 300  # articles regrouped together at most (bounds one pass's CPU)
MIN_POPULATION = 3  # fewer articles than this: the linker's decision stands
PIN_KINDS = ("pn:", "pb:", "ps:", "ph:")  # what a pinned article shares with the members it is kept with
STRONG_FIRST = 0.5  # first-order similarity of two articles that share strong incident evidence


@dataclass(frozen=True)
class Group:
    """One story after regrouping: the stored story it keeps (None: a new story), its new state."""

    story_id: int | None
    state: story_model.StoryState


@dataclass(frozen=True)
class Regrouping:
    """What one refinement changes; ``vanished`` maps a story that lost every member to the
    index (in ``groups``) of the group that took most of them."""

    groups: tuple[Group, ...]
    moves: Mapping[int, int]  # article id -> index in groups
    vanished: tuple[tuple[story_model.StoryState, int], ...]
    before: Mapping[int, story_model.StoryState]  # the stories as read, for optimistic writes
    origin: Mapping[int, int]  # article id -> story it was in

    @property
    def changed(self) -> bool:
        return bool(self.moves or self.vanished)


class RefineIndex(st.StoryIndex, Protocol):
    """A story index that also knows its stories' members (see MemoryStoryIndex)."""

    def story(self, story_id: int) -> story_model.StoryState | None: ...

    def stories_by_id(self, story_ids: Sequence[int]) -> dict[int, story_model.StoryState]: ...

    def members(self, story_ids: Sequence[int]) -> list[story_model.Member]: ...

    def move_members(self, moves: Mapping[int, int]) -> None: ...

    def dirty_stories(self, limit: int) -> list[int]: ...

    def settle_single_article_stories(self) -> int: ...

    def mark_refined(self, story_ids: Iterable[int]) -> None: ...


# --------------------------------------------------------------------------------------
# Pure part: partition a population of articles
# --------------------------------------------------------------------------------------
def _matrix(vectors: Sequence[Mapping[str, float]], vocab: dict[str, int]) -> np.ndarray:
    """Rows of the vectors over ``vocab`` (which grows to hold every term), unit length."""
    rows, cols, vals = [], [], []
    for i, v in enumerate(vectors):
        for t, x in v.items():
            rows.append(i)
            cols.append(vocab.setdefault(t, len(vocab)))
            vals.append(x)
    mat = np.zeros((len(vectors), max(1, len(vocab))))
    mat[rows, cols] = vals
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    out: np.ndarray = mat / np.where(norms == 0, 1.0, norms)
    return out


def _time_factor(members: Sequence[story_model.Member]) -> np.ndarray:
    """worker.stories.link.time_factor for every pair, vectorised."""
    secs = np.array([story_model.epoch_seconds(m.at) for m in members])
    gaps = np.abs(secs[:, None] - secs[None, :])
    grace, half, window = (x.total_seconds() for x in (st.GRACE, st.HALF_LIFE, story_model.WINDOW))
    decayed = 0.5 ** (np.maximum(gaps - grace, 0.0) / half)
    out: np.ndarray = np.where(gaps > window, 0.0, np.where(gaps <= grace, 1.0, decayed))
    return out


def _evidence_agrees(members: Sequence[story_model.Member]) -> np.ndarray:
    """The linker's own gates, pairwise: the who/where/when parts agree at least ENTITY_MIN
    and one side's strongest name appears in the other's. Look-alike local stories (two
    house fires) share neighbours but not names; without this they would group."""
    evidence = [st.Evidence.of(m.vector) for m in members]
    vocab: dict[str, int] = {}
    specific = _matrix([e.specific for e in evidence], vocab)
    agree: np.ndarray = (specific @ specific.T) >= st.ENTITY_MIN
    present = (specific > 0.0).astype(np.float64)
    # anchors are specific terms, so they index into the same vocabulary (same width)
    anchors = (_matrix([e.anchors for e in evidence], vocab) > 0.0).astype(np.float64)
    shared = (anchors @ present.T) > 0.0
    shared[[not e.anchors for e in evidence], :] = True  # no names: nothing to require
    out: np.ndarray = agree & (shared | shared.T)
    return out


def _strong_pairs(members: Sequence[story_model.Member]) -> np.ndarray:
    """Pairs of articles whose incident evidence (names, places, days, ages) is enough for the
    linker to join them, at their distance in time (worker.stories.evidence)."""
    n = len(members)
    out = np.zeros((n, n), dtype=bool)
    keyed = [i for i, m in enumerate(members) if m.keys]
    if len(keyed) < 2:
        return out
    window, long_window = story_model.WINDOW.total_seconds(), st.LONG_WINDOW.total_seconds()
    secs = [story_model.epoch_seconds(m.at) for m in members]
    for x, i in enumerate(keyed):
        for j in keyed[x + 1 :]:
            gap = abs(secs[i] - secs[j])
            if gap <= long_window and incident.joins(members[i].keys, members[j].keys, near=gap <= window) > 0.0:
                out[i, j] = out[j, i] = True
    return out


def _pins(members: Sequence[story_model.Member]) -> tuple[np.ndarray, np.ndarray]:
    """Pairs the pass must keep together: an article whose incident evidence is enough to join
    the rest of its story (the linker joined it on that evidence, not on words), with each
    member further than WINDOW away it shares a name or place with, and each nearer member it
    shares a block address, or a place and a day with; a page whose text tells nothing, with
    each member its headline's place and kind join it to (``headline_place_joins``).
    Second-order similarity cannot see such pairs (a trial months later has no neighbour in
    common with the first report: the time factor is 0). Returns (pins, the pins months apart
    or sharing a full name)."""
    n = len(members)
    out = np.zeros((n, n), dtype=bool)
    hard = np.zeros((n, n), dtype=bool)
    by_story: dict[int, list[int]] = {}
    for i, m in enumerate(members):
        by_story.setdefault(m.story_id, []).append(i)
    window = story_model.WINDOW.total_seconds()
    secs = [story_model.epoch_seconds(m.at) for m in members]
    for ix in by_story.values():
        if len(ix) < 2:
            continue
        for i in ix:
            if not members[i].keys:
                continue
            others = [j for j in ix if j != i]
            rest: dict[str, int] = {}
            for j in others:
                rest = incident.add_keys(rest, members[j].keys)
            near = min(abs(secs[i] - secs[j]) for j in others) <= window
            if near and incident.headline_place_joins(members[i].keys, rest):
                # a page whose text tells nothing, joined on its headline's place and kind: its
                # words are a sign-in prompt's, so only that evidence can keep it in its story
                for j in others:
                    if incident.headline_place_joins(members[i].keys, members[j].keys):
                        out[i, j] = out[j, i] = True
                continue
            if incident.joins(members[i].keys, rest, near=near) <= 0.0 and not incident.headline_joins(
                members[i].keys, rest
            ):
                continue
            mine = {k for k in members[i].keys if k.startswith(PIN_KINDS)}
            days = {k for k in members[i].keys if k.startswith("t:")}
            for j in others:
                shared = mine.intersection(members[j].keys)
                if not shared:
                    continue
                # beyond the window nothing else can keep the pair together; within it, only
                # the same day and place does (look-alike events may share a person, and
                # second-order similarity is there to split them)
                far = abs(secs[i] - secs[j]) > window
                if far or any(k.startswith("pb:") for k in shared) or days.intersection(members[j].keys):
                    out[i, j] = out[j, i] = True
                    if far or any(k.startswith("pn:") for k in shared):
                        hard[i, j] = hard[j, i] = True
    return out, hard


def second_order(members: Sequence[story_model.Member]) -> tuple[np.ndarray, np.ndarray]:
    """(first-order similarity x time factor x the linker's gates, raised where the articles
    share strong incident evidence; second-order similarity)."""
    n = len(members)
    mat = _matrix([m.vector for m in members], {})
    first: np.ndarray = (mat @ mat.T) * _time_factor(members) * _evidence_agrees(members)
    first = np.maximum(first, np.where(_strong_pairs(members), STRONG_FIRST, 0.0))
    rows = first.copy()
    np.fill_diagonal(rows, 0.0)
    k = min(REFINE_NEIGHBOURS, n - 1)
    kth = np.sort(rows, axis=1)[:, -k][:, None]
    top = np.where((rows >= kth) & (rows > 0.0), rows, 0.0)
    np.fill_diagonal(top, SELF_WEIGHT)
    norms = np.linalg.norm(top, axis=1, keepdims=True)
    top = top / np.where(norms == 0, 1.0, norms)
    second: np.ndarray = top @ top.T
    return first, second


def average_link(
    sim: np.ndarray,
    threshold: float,
    may_join: Callable[[list[int], list[int]], bool] | None = None,
    must_link: np.ndarray | None = None,
) -> list[int]:
    """Cluster labels: join the two clusters of highest mean similarity while it is at least
    ``threshold`` and ``may_join(members_a, members_b)`` agrees (ties: lowest indices, so the
    result is deterministic). Pairs in ``must_link`` start in one cluster (with their
    transitive closure)."""
    n = len(sim)
    sums = sim.astype(np.float64).copy()
    np.fill_diagonal(sums, 0.0)
    size = np.ones(n)
    active = np.ones(n, dtype=bool)
    blocked = np.zeros((n, n), dtype=bool)
    label = np.arange(n)

    def join(a: int, b: int) -> None:  # cluster b into cluster a (a < b)
        sums[a, :] += sums[b, :]
        sums[:, a] += sums[:, b]
        sums[a, a] = 0.0
        size[a] += size[b]
        active[b] = False
        blocked[a, :] |= blocked[b, :]
        blocked[:, a] |= blocked[:, b]
        label[label == b] = a

    if must_link is not None:
        for i, j in zip(*np.nonzero(np.triu(must_link, 1)), strict=True):
            a, b = sorted((int(label[i]), int(label[j])))
            if a != b:
                join(a, b)
    while active.sum() > 1:
        mean = sums / np.outer(size, size)
        mean[~active, :] = -1.0
        mean[:, ~active] = -1.0
        mean[blocked] = -1.0
        np.fill_diagonal(mean, -1.0)
        a, b = divmod(int(np.argmax(mean)), n)
        if mean[a, b] < threshold:
            break
        a, b = min(a, b), max(a, b)
        if may_join is not None and not may_join(
            [int(i) for i in np.flatnonzero(label == a)], [int(i) for i in np.flatnonzero(label == b)]
        ):
            blocked[a, b] = blocked[b, a] = True
            continue
        join(a, b)
    return [int(x) for x in label]


def _linker_agrees(members: Sequence[story_model.Member], linker: st.Linker) -> Callable[[list[int], list[int]], bool]:
    """Two groups from different stories may join only if the online linker accepts every
    article of one into the other: second-order similarity decides how to split, and never
    lets through what the linker's threshold and name gates refuse (look-alike local stories
    share nearest neighbours; with any weaker rule the dense stream lost precision)."""

    def state(ix: list[int]) -> story_model.StoryState:
        return st.state_from_members(0, [members[i] for i in ix])

    def may_join(a: list[int], b: list[int]) -> bool:
        if {members[i].story_id for i in a} & {members[i].story_id for i in b}:
            return True  # the linker already put them together; only S2 may split them
        sa, sb = state(a), state(b)
        for side, other in ((a, sb), (b, sa)):
            if all(
                linker.score(members[i].vector, members[i].at, other, keys=members[i].keys) >= linker.threshold
                or linker.strong(members[i].keys, members[i].at, other) > 0.0
                for i in side
            ):
                return True
        return False

    return may_join


def regroup(members: Sequence[story_model.Member], linker: st.Linker | None = None) -> list[list[story_model.Member]]:
    """Partition the articles by average link over second-order similarity; largest first.

    An article whose text other articles carry under other headlines (a site network's sign-in
    prompt: ``Member.shared_text``) gives the similarity nothing of its own to compare: it
    stays with its story's other articles, where the linker put it on its headline."""
    told = [m for m in members if not m.shared_text]
    if len(told) < len(members):
        return _with_shared_texts(_regroup(told, linker), [m for m in members if m.shared_text])
    return _regroup(members, linker)


def _with_shared_texts(
    parts: list[list[story_model.Member]], pages: Sequence[story_model.Member]
) -> list[list[story_model.Member]]:
    """Each such page into the part that took most of its story's other articles; a story of
    such pages alone stays one part."""
    alone: dict[int, list[story_model.Member]] = {}
    for page in pages:
        took = [sum(1 for m in part if m.story_id == page.story_id) for part in parts]
        best = max(range(len(parts)), key=lambda i: (took[i], -i), default=None)
        if best is not None and took[best] > 0:
            parts[best].append(page)
        else:
            alone.setdefault(page.story_id, []).append(page)
    parts.extend(alone.values())
    return sorted(parts, key=lambda g: (-len(g), min(m.article_id for m in g)))


def _regroup(members: Sequence[story_model.Member], linker: st.Linker | None) -> list[list[story_model.Member]]:
    if len(members) < 2:
        return [list(members)] if members else []
    first, second = second_order(members)
    pins, must = _pins(members)
    # pinned pairs months apart or sharing a full name start in one cluster whatever their
    # neighbours: in a story of dozens of articles the first reports and the arrest coverage
    # each fill the other's top-k, and an average over hundreds of pairs drowns the few that
    # share a name. (Pairs pinned by a street and a day only weigh 1.0: on the built
    # look-alike stream, starting those together cost pairwise precision.)
    labels = average_link(
        np.where(pins, np.maximum(second, 1.0), np.where(first >= REFINE_FLOOR, second, 0.0)),
        REFINE_THRESHOLD,
        _linker_agrees(members, linker or st.Linker()),
        must_link=must,
    )
    groups: dict[int, list[story_model.Member]] = {}
    for m, label in zip(members, labels, strict=True):
        groups.setdefault(label, []).append(m)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0].article_id))


def reconcile(
    members: Sequence[story_model.Member],
    parts: Sequence[Sequence[story_model.Member]],
    before: Mapping[int, story_model.StoryState],
) -> Regrouping:
    """Give each part a stored story (the one most of its members came from, once each, largest
    part first); parts left without one become new stories; stories left with no members
    vanish into the part that took most of them."""
    taken: set[int] = set()
    keeps: list[int | None] = []
    for part in parts:
        counts = Counter(m.story_id for m in part)
        options = sorted((c for c in counts if c not in taken), key=lambda c: (-counts[c], c))
        keep = options[0] if options else None
        if keep is not None:
            taken.add(keep)
        keeps.append(keep)
    groups = tuple(Group(keep, st.state_from_members(keep or 0, part)) for keep, part in zip(keeps, parts, strict=True))
    where = {m.article_id: i for i, part in enumerate(parts) for m in part}
    moves = {m.article_id: where[m.article_id] for m in members if keeps[where[m.article_id]] != m.story_id}
    vanished = []
    for sid in sorted({m.story_id for m in members} - taken):
        into = Counter(where[m.article_id] for m in members if m.story_id == sid)
        best = min(into, key=lambda i: (-into[i], i))
        vanished.append((before[sid], best))
    return Regrouping(groups, moves, tuple(vanished), before, {m.article_id: m.story_id for m in members})


# --------------------------------------------------------------------------------------
# The pass over any index
# --------------------------------------------------------------------------------------
def neighbourhood(index: RefineIndex, start: story_model.StoryState) -> list[story_model.StoryState]:
    """The story and the stories close to it (one candidate lookup), up to MAX_POPULATION
    articles: where the linker may have put an article in the wrong one of them."""
    found = [start]
    total = start.article_count
    at = start.last_time
    for cand in index.candidates(st.query_terms(start.centroid), at, story_model.WINDOW, st.MAX_CANDIDATES):
        if cand.story_id == start.story_id or total + cand.article_count > MAX_POPULATION:
            continue
        if st.time_factor(st.story_gap(at, cand)) == 0.0:
            continue
        if start.similarity(cand) < NEIGHBOURHOOD_MIN:
            continue
        total += cand.article_count
        found.append(cand)
    return found


@dataclass(frozen=True)
class Plan:
    """What a pass would do around one story, computed from reads only."""

    counts: Mapping[int, int]  # every story looked at -> its article count as read
    regrouping: Regrouping | None  # None: nothing to write

    @property
    def story_ids(self) -> tuple[int, ...]:
        return tuple(sorted(self.counts))


def plan_around(index: RefineIndex, story_id: int, start: story_model.StoryState | None = None) -> Plan:
    """Regroup one story's neighbourhood in memory; nothing is written. ``start``: the story's
    state when the caller already read it (a pass reads its pending stories in one query)."""
    start = start if start is not None else index.story(story_id)
    if start is None or start.article_count > MAX_POPULATION:
        return Plan({story_id: start.article_count if start else 0}, None)
    population = neighbourhood(index, start)
    before = {s.story_id: s for s in population}
    counts = {sid: s.article_count for sid, s in before.items()}
    if sum(counts.values()) < MIN_POPULATION:
        return Plan(counts, None)
    members = index.members(sorted(before))
    # a story some of whose articles have no stored vector (linked before vectors were kept,
    # or pruned) cannot be rebuilt from its members: it is left as it is
    have = Counter(m.story_id for m in members)
    complete = {sid for sid, s in before.items() if have[sid] == s.article_count}
    if story_id not in complete:
        return Plan(counts, None)
    before = {sid: s for sid, s in before.items() if sid in complete}
    members = [m for m in members if m.story_id in complete]
    plan = reconcile(members, regroup(members), before)
    return Plan(counts, plan if plan.changed else None)


def refine_around(index: RefineIndex, story_id: int, at: datetime) -> RefineOutcome:
    """Regroup one story's neighbourhood and write the result through the index."""
    plan = plan_around(index, story_id)
    if plan.regrouping is None:
        return RefineOutcome(plan.story_ids, 0, (), ())
    return apply_regrouping(index, plan.regrouping, at, plan.story_ids)


def apply_regrouping(index: RefineIndex, plan: Regrouping, at: datetime, ids: tuple[int, ...]) -> RefineOutcome:
    story_of: list[int] = []
    created: list[int] = []
    for g in plan.groups:
        if g.story_id is None:
            state = index.create_story(g.state)
            created.append(state.story_id)
            story_of.append(state.story_id)
        else:
            story_of.append(g.story_id)
    index.move_members({a: story_of[i] for a, i in plan.moves.items()})
    vanished: list[tuple[int, int]] = []
    for old, into in plan.vanished:
        keep = plan.groups[into]
        index.merge_stories(replace(keep.state, story_id=story_of[into]), [old], at)
        vanished.append((old.story_id, story_of[into]))
    changed: set[int] = set(plan.moves.values())
    kept_at = {g.story_id: i for i, g in enumerate(plan.groups) if g.story_id is not None}
    for a, _ in plan.moves.items():
        src = plan.origin[a]
        if src in kept_at:
            changed.add(kept_at[src])
    for i in sorted(changed):
        g = plan.groups[i]
        if g.story_id is not None:
            index.save_story(plan.before[g.story_id], replace(g.state, story_id=g.story_id))
    return RefineOutcome(ids, len(plan.moves), tuple(created), tuple(vanished))


def refine_dirty(index: RefineIndex, at: datetime, limit: int = 1000) -> list[RefineOutcome]:
    """Refine every story that changed since its last refinement (each neighbourhood once).

    Single-article stories are not starting points (they are looked at as neighbours of the
    stories around them): most new stories are one article, and alone they cannot split."""
    index.settle_single_article_stories()
    done: set[int] = set()
    out = []
    for sid in index.dirty_stories(limit):
        if sid in done:
            continue
        outcome = refine_around(index, sid, at)
        done.update(outcome.story_ids)
        done.update(outcome.created)
        index.mark_refined([*outcome.story_ids, *outcome.created])
        out.append(outcome)
    return out
