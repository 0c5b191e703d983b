"""Task metrics (scores of predictions) and ranking metrics (scores of source rankings).

Task metrics return fractions in [0, 1] (or [-1, 1] for correlations); callers multiply by 100.
Ranking metrics compare a method's scores for the candidate sources of one target with the true
transfer results of brute force.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats


# --- task metrics -----------------------------------------------------------------------------
def accuracy(gold: Sequence, pred: Sequence) -> float:
    if len(gold) == 0:
        return 0.0
    return sum(int(g == p) for g, p in zip(gold, pred, strict=True)) / len(gold)


def matthews(gold: Sequence[int], pred: Sequence[int]) -> float:
    """Matthews correlation (multi-class form of Gorodkin 2004); 0 when undefined."""
    labels = sorted(set(gold) | set(pred))
    index = {label: i for i, label in enumerate(labels)}
    c = np.zeros((len(labels), len(labels)))
    for g, p in zip(gold, pred, strict=True):
        c[index[g], index[p]] += 1
    t, p_, s = c.sum(1), c.sum(0), c.sum()
    cov = np.trace(c) * s - t @ p_
    denom = math.sqrt((s * s - p_ @ p_) * (s * s - t @ t))
    return float(cov / denom) if denom else 0.0


def f1_macro(gold: Sequence[int], pred: Sequence[int]) -> float:
    scores = []
    for label in sorted(set(gold)):
        tp = sum(1 for g, p in zip(gold, pred) if g == label and p == label)
        fp = sum(1 for g, p in zip(gold, pred) if g != label and p == label)
        fn = sum(1 for g, p in zip(gold, pred) if g == label and p != label)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson correlation; 0 when either side is constant (undefined)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return 0.0
    return float(stats.pearsonr(x, y).statistic)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation; 0 when either side is constant (undefined)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 2 or np.all(x == x[0]) or np.all(y == y[0]):
        return 0.0
    return float(stats.spearmanr(x, y).statistic)


def f1_binary(gold: Sequence[int], pred: Sequence[int], positive: int = 1) -> float:
    """F1 of the positive class (MultiRC's F1a over all answer options); 0 when undefined."""
    tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == positive and p == positive)
    fp = sum(1 for g, p in zip(gold, pred) if g != positive and p == positive)
    fn = sum(1 for g, p in zip(gold, pred) if g == positive and p != positive)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles (a, an, the), single spaces."""
    import re
    import string

    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _token_f1(gold: str, pred: str) -> float:
    g, p = normalize_answer(gold).split(), normalize_answer(pred).split()
    if not g or not p:  # an unanswerable question: right only if both are empty
        return float(g == p)
    common: dict[str, int] = {}
    for t in g:
        common[t] = common.get(t, 0) + 1
    same = 0
    for t in p:
        if common.get(t, 0) > 0:
            common[t] -= 1
            same += 1
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def qa_token_f1(golds: Sequence[Sequence[str]], preds: Sequence[str]) -> float:
    """Mean over questions of the best token F1 against any gold answer (no answers: gold is '')."""
    if len(golds) == 0:
        return 0.0
    return sum(max(_token_f1(g, p) for g in (gs or [""])) for gs, p in zip(golds, preds, strict=True)) / len(golds)


def qa_exact_match(golds: Sequence[Sequence[str]], preds: Sequence[str]) -> float:
    """Share of questions whose normalised prediction equals a normalised gold answer."""
    if len(golds) == 0:
        return 0.0
    hits = sum(
        max(float(normalize_answer(g) == normalize_answer(p)) for g in (gs or [""]))
        for gs, p in zip(golds, preds, strict=True)
    )
    return hits / len(golds)


def bio_spans(tags: Sequence[str]) -> set[tuple[int, int, str]]:
    """Entity spans (start, end exclusive, type) of a BIO / IOB2 tag sequence.

    An ``I-X`` that does not continue an ``X`` entity starts a new one (the conlleval rule), so
    IOB1-style sequences are read sensibly too; ``O`` and unprefixed tags end an entity.
    """
    spans: set[tuple[int, int, str]] = set()
    start, kind = None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, label = tag.partition("-") if "-" in tag else (tag, "", "")
        if prefix in ("B", "I", "E", "S") and label:
            if prefix in ("B", "S") or kind != label or start is None:
                if start is not None:
                    spans.add((start, i, kind))
                start, kind = i, label
        else:
            if start is not None:
                spans.add((start, i, kind))
            start, kind = None, None
    return spans


def entity_f1(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> float:
    """Micro entity-level F1 over sentences: an entity counts only with exact span and type."""
    tp = n_gold = n_pred = 0
    for i, (g, p) in enumerate(zip(gold, pred, strict=True)):
        gs = {(i, *s) for s in bio_spans(g)}
        ps = {(i, *s) for s in bio_spans(p)}
        tp += len(gs & ps)
        n_gold += len(gs)
        n_pred += len(ps)
    return 2 * tp / (n_gold + n_pred) if tp else 0.0


def token_accuracy(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> float:
    """Share of words tagged right, over all sentences."""
    total = sum(len(g) for g in gold)
    if total == 0:
        return 0.0
    right = sum(int(a == b) for g, p in zip(gold, pred, strict=True) for a, b in zip(g, p, strict=True))
    return right / total


# --- ranking metrics --------------------------------------------------------------------------
def top_k(scores: dict[str, float], k: int) -> list[str]:
    """The k best sources by score, ties broken by name so the pick is deterministic."""
    return [s for s, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


def regret_at_k(predicted: dict[str, float], transferred: dict[str, float], k: int) -> float:
    """Regret@k = 100 * (max_s T(s,t) - max_{s in top-k} T(s,t)) / max_s T(s,t).

    ``transferred`` maps each source s to T(s,t), the target's score after transfer from s;
    ``predicted`` holds the method's scores over the same sources.
    """
    best = max(transferred.values())
    picked = max(transferred[s] for s in top_k(predicted, k))
    return 100.0 * (best - picked) / best if best else 0.0


def ndcg(predicted: dict[str, float], gains: dict[str, float], k: int | None = None) -> float:
    """NDCG of the method's ranking with relevance = max(gain, 0), at k (all sources by default)."""
    sources = sorted(gains)
    k = k or len(sources)
    rel = {s: max(gains[s], 0.0) for s in sources}

    def dcg(order: list[str]) -> float:
        return sum(rel[s] / math.log2(i + 2) for i, s in enumerate(order[:k]))

    ideal = dcg(top_k(rel, len(sources)))
    return dcg(top_k({s: predicted[s] for s in sources}, len(sources))) / ideal if ideal else 0.0
