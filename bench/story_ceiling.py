"""How far could any linker get with newsworker's story features? An offline ceiling on ECB+.

    python -m bench.story_ceiling

The online linker (bench/story_quality.py) sees each article once, in stream order. This
bench removes that handicap: it vectorises every ECB+ document with the linker's own features
(:func:`worker.stories.link.story_features` + :func:`worker.stories.link.vectorize`, document frequencies
from the same background pages plus the whole corpus) and then

* scores how well cosine similarity separates the two look-alike events of each topic: the
  ROC AUC over all same-topic document pairs (same event = positive), and
* clusters all documents offline with average-link agglomeration at several thresholds and
  reports the best BCubed / pairwise F1 and how many topics still mix their two events.

If offline clustering with full hindsight cannot pass a score, no online rule over the same
similarity will: the lever is then the representation, not the linking procedure. The same is
then done with the refinement pass's second-order similarity (worker.stories.refine): comparing
documents by their nearest neighbours separates look-alike events that plain cosine cannot.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from bench.story_quality import Doc, bcubed, ecb_docs, load_ecbplus, pairwise, topic_mixing, warm_index
from worker.model import story as story_model
from worker.stories import link as st
from worker.stories import refine as sr

THRESHOLDS = (0.15, 0.20, 0.25, 0.30, 0.35)
NOW = datetime(2020, 1, 1, tzinfo=UTC)


def similarity_matrix(docs: Sequence[object]) -> np.ndarray:
    feats = [st.story_features(d.title, d.text, None, d.source, "en") for d in docs]  # type: ignore[attr-defined]
    index = warm_index()
    for f in feats:
        index.record_document(f.source, [], sorted(f.vocabulary()))
    vectors = []
    for f in feats:
        df, n = index.doc_freqs(sorted(f.vocabulary()))
        vectors.append(st.vectorize(f, df, n))
    vocab = {t: i for i, t in enumerate(sorted({t for v in vectors for t in v}))}
    m = np.zeros((len(vectors), len(vocab)))
    for i, v in enumerate(vectors):
        for t, x in v.items():
            m[i, vocab[t]] = x
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    m /= np.where(norms == 0, 1.0, norms)
    sim: np.ndarray = m @ m.T
    return sim


def within_topic_auc(sim: np.ndarray, topics: np.ndarray, events: np.ndarray) -> float:
    """P(a same-event pair scores above a different-event pair of the same topic)."""
    i, j = np.triu_indices(len(topics), 1)
    same_topic = topics[i] == topics[j]
    positive = (events[i] == events[j])[same_topic]
    scores = sim[i, j][same_topic]
    ranks = np.empty(len(scores))
    ranks[np.argsort(scores, kind="mergesort")] = np.arange(len(scores))
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos - 1) / 2) / (n_pos * n_neg))


def second_order_matrix(docs: Sequence[object]) -> tuple[np.ndarray, np.ndarray]:
    """(first-order, second-order) similarity as the refinement pass computes them
    (worker.stories.refine.second_order), all documents at one time."""
    feats = [st.story_features(d.title, d.text, None, d.source, "en") for d in docs]  # type: ignore[attr-defined]
    index = warm_index()
    for f in feats:
        index.record_document(f.source, [], sorted(f.vocabulary()))
    members = []
    for i, f in enumerate(feats):
        df, n = index.doc_freqs(sorted(f.vocabulary()))
        members.append(story_model.Member(i, 0, NOW, st.vectorize(f, df, n), f.source, f.title))
    return sr.second_order(members)


def main(argv: Sequence[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    docs = ecb_docs(load_ecbplus())
    sim = similarity_matrix(docs)
    topics = np.array([d.topic for d in docs])
    events = np.array([d.gold for d in docs])
    print(f"ECB+ {len(docs)} documents, linker features and weights as in worker/stories.py")
    print(f"within-topic ROC AUC (same event vs the look-alike event): {within_topic_auc(sim, topics, events):.4f}")
    gold = {d.id: d.gold for d in docs}
    _cluster_report("offline average-link", sim, THRESHOLDS, docs, gold)
    first, second = second_order_matrix(docs)
    gated = np.where(first >= sr.REFINE_FLOOR, second, 0.0)
    print(
        "second-order similarity (the refinement pass's), within-topic ROC AUC:"
        f" {within_topic_auc(gated, topics, events):.4f}"
    )
    _cluster_report("offline second-order average-link", gated, (0.30, sr.REFINE_THRESHOLD, 0.40), docs, gold)


def _cluster_report(
    label: str, sim: np.ndarray, thresholds: Sequence[float], docs: Sequence[Doc], gold: dict[str, str]
) -> None:
    """Average-link clustering (worker.stories.refine.average_link, no veto) at each threshold."""
    for threshold in thresholds:
        labels = sr.average_link(sim, threshold)
        pred = {d.id: labels[k] for k, d in enumerate(docs)}
        b = bcubed(pred, gold)
        p = pairwise(pred, gold)
        mixed, merged = topic_mixing(pred, docs)
        print(
            f"{label} at {threshold:.2f}: BCubed P/R/F1 {b[0]:.3f}/{b[1]:.3f}/{b[2]:.3f}"
            f"  pairwise P/R/F1 {p[0]:.3f}/{p[1]:.3f}/{p[2]:.3f}  clusters {len(set(labels))}"
            f"  topics mixed {mixed} merged {merged}"
        )


if __name__ == "__main__":
    main()
