"""Task scores that are sums over examples: the fast path of the paired bootstrap.

Most task metrics are a function of per-example statistics summed over the examples scored:
accuracy (right answers), token accuracy (right words, words), entity F1 and MultiRC's F1a (true
positives and the gold and predicted counts), the QA scores (a value per question), MCC and
macro-F1 (the confusion counts). For these a bootstrap replicate only sums the drawn rows of an
array computed once per run, instead of rebuilding lists of predictions and rows and rescoring
them (:func:`tasktransfer.bootstrap.paired_bootstrap`). Pearson and Spearman (float moments,
ranks) are no such sum: they keep the generic path.

The finishing arithmetic repeats :mod:`tasktransfer.metrics` operation by operation on the same
numbers (integer counts summed exactly; float values summed by Python's ``sum`` in the drawn
order, as the metric does), so a replicate scores to the last bit what the format's own score
gives; tests/test_score_sums.py holds each metric to that.

The task formats are recognised by their ``score`` method (its module and qualified name) rather
than asked through a hook: this module sits below :mod:`tasktransfer.prompting` (bootstrap.py
uses it), and prompting/formats.py is in the tune stage's code version, so a hook there would rerun
every prompt tuning of every finished run. A score method the table below does not name (a new
format, a subclass that scores its own way) takes the generic path.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tasktransfer import metrics

FORMATS_MODULE = "tasktransfer.prompting.formats"


class SummedScore(ABC):
    """A task metric x100 that is a function of per-example statistics summed over the examples.

    One instance per dev set (it holds the gold side); :meth:`stats` is computed once per run, and
    :meth:`scores` rescores that run on many draws of examples at once.
    """

    @abstractmethod
    def stats(self, predictions: Sequence) -> np.ndarray | None:
        """One run's per-example statistics (row i: dev example i), or None where its predictions
        break the decomposition (say, a MultiRC question with another number of options): the
        generic score then decides, error messages included."""

    def totals(self, stats: np.ndarray, idx: np.ndarray) -> Sequence:
        """Per draw (a row of ``idx``: example indices, a repeat counts again), the statistics
        summed over its examples; integer counts, so the order of the additions cannot matter."""
        return stats[idx].sum(axis=1)

    @abstractmethod
    def finish(self, total: Any, n: int) -> float:
        """The metric x100 of ``n`` examples whose statistics sum to ``total``."""

    def finish_all(self, totals: Sequence, n: int) -> np.ndarray:
        """:meth:`finish` of each draw's total; a metric may do it as array arithmetic where that is
        the same IEEE operations on the same numbers."""
        return np.array([self.finish(t, n) for t in totals], dtype=np.float64)

    def scores(self, stats: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """The metric x100 of the run on each draw (row) of ``idx``."""
        return self.finish_all(self.totals(stats, idx), idx.shape[1])


class Accuracy(SummedScore):
    """Share of right answers: metrics.accuracy, per example ``int(gold == pred)``."""

    def __init__(self, gold: Sequence):
        self.gold = list(gold)

    def stats(self, predictions):
        return np.array([int(g == p) for g, p in zip(self.gold, predictions, strict=True)], dtype=np.int64)

    def finish(self, total, n):
        return 100 * (int(total) / n)

    def finish_all(self, totals, n):
        return 100 * (totals / n)  # int64 counts (exact in float64) / n, then x100: finish's two roundings


class TokenAccuracy(SummedScore):
    """Share of words tagged right over all sentences: metrics.token_accuracy, per sentence (right, words)."""

    def __init__(self, gold: Sequence[Sequence[str]]):
        self.gold = [list(g) for g in gold]

    def stats(self, predictions):
        if any(len(g) != len(p) for g, p in zip(self.gold, predictions, strict=True)):
            return None  # metrics.token_accuracy raises on such a sentence: let it
        out = [(sum(int(a == b) for a, b in zip(g, p)), len(g)) for g, p in zip(self.gold, predictions)]
        return np.array(out, dtype=np.int64).reshape(-1, 2)

    def finish(self, total, n):
        right, words = int(total[0]), int(total[1])
        return 100 * (right / words) if words else 100 * 0.0


class EntityF1(SummedScore):
    """Micro entity F1: metrics.entity_f1, per sentence (true positives, gold entities, predicted ones).

    The metric keys each entity by its sentence's position in the list scored, so a sentence drawn
    twice counts twice: its counts simply add."""

    def __init__(self, gold: Sequence[Sequence[str]]):
        self.gold = [metrics.bio_spans(g) for g in gold]

    def stats(self, predictions):
        out = []
        for gs, p in zip(self.gold, predictions, strict=True):
            ps = metrics.bio_spans(p)
            out.append((len(gs & ps), len(gs), len(ps)))
        return np.array(out, dtype=np.int64).reshape(-1, 3)

    def finish(self, total, n):
        tp, n_gold, n_pred = (int(x) for x in total)
        return 100 * (2 * tp / (n_gold + n_pred) if tp else 0.0)


class OptionF1(SummedScore):
    """MultiRC's F1a (metrics.f1_binary over all answer options), per question (tp, fp, fn)."""

    def __init__(self, gold: Sequence[Sequence[int]]):
        self.gold = [list(g) for g in gold]

    def stats(self, predictions):
        if any(len(g) != len(p) for g, p in zip(self.gold, predictions, strict=True)):
            return None  # the metric pairs the flattened lists: options would shift between questions
        out = []
        for g, p in zip(self.gold, predictions):
            pairs = list(zip(g, p))
            tp = sum(1 for a, b in pairs if a == 1 and b == 1)
            fp = sum(1 for a, b in pairs if a != 1 and b == 1)
            out.append((tp, fp, sum(1 for a, b in pairs if a == 1 and b != 1)))
        return np.array(out, dtype=np.int64).reshape(-1, 3)

    def finish(self, total, n):
        tp, fp, fn = (int(x) for x in total)
        return 100 * (2 * tp / (2 * tp + fp + fn) if tp else 0.0)


class QuestionMean(SummedScore):
    """Mean over questions of a per-question value (QA token F1 or exact match).

    The values are floats: summed with Python's ``sum`` over the drawn values in the drawn order,
    the very additions the metric makes, so the rounding is the same."""

    def __init__(self, golds: Sequence[Sequence[str]], contexts: Sequence[str], metric: Callable):
        self.golds, self.contexts, self.metric = list(golds), list(contexts), metric

    def stats(self, predictions):
        texts = ["" if p is None else c[p[0] : p[1]] for p, c in zip(predictions, self.contexts, strict=True)]
        # the metric of one question is that question's value: sum([v]) / 1 == v
        return np.array([self.metric([gs], [t]) for gs, t in zip(self.golds, texts)], dtype=np.float64)

    def totals(self, stats, idx):
        return [sum(values) for values in stats[idx].tolist()]

    def finish(self, total, n):
        return 100 * (total / n)


class Confusion(SummedScore):
    """MCC or macro-F1 of a classification: functions of the confusion counts.

    A run's statistic is each example's cell ``gold * L + pred`` over the task's L labels; a draw's
    total is the count of each cell. The metrics build their matrix over the labels a list holds,
    the finish here over all L: the extra rows and columns are zeros, which change no sum below.
    """

    #: macro-F1's mean over labels is a plain left-to-right sum up to 8 labels (numpy's pairwise
    #: summation starts at 9), so zeros of absent labels leave it bit for bit; beyond, draw by draw
    summed_labels = 8

    def __init__(self, gold: Sequence[int], n_labels: int, metric: str):
        self.gold, self.n_labels, self.metric = list(gold), n_labels, metric

    def stats(self, predictions):
        if not all(type(p) is int and 0 <= p < self.n_labels for p in predictions):
            return None  # not a label index: the metric's own sets decide
        return np.array([g * self.n_labels + p for g, p in zip(self.gold, predictions, strict=True)], dtype=np.int64)

    def totals(self, stats, idx):
        cells = self.n_labels**2
        codes = stats[idx] + cells * np.arange(len(idx))[:, None]  # each draw counts in its own cells
        return np.bincount(codes.ravel(), minlength=cells * len(idx)).reshape(len(idx), self.n_labels, self.n_labels)

    def finish(self, total, n):
        return 100 * (float(_matthews(total[None])[0]) if self.metric == "mcc" else _f1_macro_one(total))

    def finish_all(self, totals, n):
        if self.metric == "mcc":
            return 100 * _matthews(totals)
        if self.n_labels <= self.summed_labels:
            return 100 * _f1_macro(totals)
        return super().finish_all(totals, n)


def _matthews(counts: np.ndarray) -> np.ndarray:
    """metrics.matthews of each (draw, gold, pred) count matrix. Every sum is of whole numbers below
    2**53 (n**2 at most), so exact in any order; the product, square root and division are then
    single IEEE operations on the metric's very operands, rounded as it rounds them."""
    c = counts.astype(float)
    t, p_, s = c.sum(2), c.sum(1), c.sum((1, 2))
    cov = np.trace(c, axis1=1, axis2=2) * s - (t * p_).sum(1)
    denom = np.sqrt((s * s - (p_ * p_).sum(1)) * (s * s - (t * t).sum(1)))
    return np.where(denom != 0, cov / np.where(denom != 0, denom, 1.0), 0.0)


def _f1_macro(counts: np.ndarray) -> np.ndarray:
    """metrics.f1_macro of each (draw, gold, pred) count matrix: each gold label's F1 (2tp / (2tp +
    fp + fn), whose denominator is its gold plus predicted count), averaged over the labels present."""
    tp = np.diagonal(counts, axis1=1, axis2=2)
    gold, pred = counts.sum(2), counts.sum(1)
    f1 = np.where(tp > 0, 2 * tp / np.maximum(gold + pred, 1), 0.0)
    present = (gold > 0).sum(1)
    return np.where(present > 0, f1.sum(1) / np.maximum(present, 1), 0.0)


def _f1_macro_one(counts: np.ndarray) -> float:
    """metrics.f1_macro of one draw, with the metric's own list of F1s averaged by np.mean."""
    scores = []
    for label in np.flatnonzero(counts.sum(1)):
        tp = int(counts[label, label])
        fp, fn = int(counts[:, label].sum()) - tp, int(counts[label].sum()) - tp
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores)) if scores else 0.0


# --- the formats' scores ----------------------------------------------------------------------
def _classification(meta, rows: list[dict]) -> SummedScore:
    gold = [meta.labels.index(str(r["label"])) for r in rows]
    if meta.metric in ("mcc", "f1_macro"):
        return Confusion(gold, len(meta.labels), meta.metric)
    return Accuracy(gold)


def _tagging(meta, rows: list[dict]) -> SummedScore:
    gold = [[str(t) for t in r["tags"]] for r in rows]
    return EntityF1(gold) if meta.metric == "entity_f1" else TokenAccuracy(gold)


def _extractive_qa(meta, rows: list[dict]) -> SummedScore:
    golds = [[str(a["text"]) for a in (r["answers"] or [])] for r in rows]
    metric = metrics.qa_exact_match if meta.metric == "exact_match" else metrics.qa_token_f1
    return QuestionMean(golds, [str(r["context"]) for r in rows], metric)


#: each format's score method (qualified name in prompting/formats.py) -> its summed form, built
#: from the format's meta and the dev rows the way that method reads them; Regression is absent
MAKERS: dict[str, Callable[[Any, list[dict]], SummedScore]] = {
    "Classification.score": _classification,
    "MultipleChoice.score": lambda meta, rows: Accuracy([int(r["label"]) for r in rows]),
    "Tagging.score": _tagging,
    "ExtractiveQA.score": _extractive_qa,
    "MultiRC.score": lambda meta, rows: OptionF1([[int(a["label"]) for a in r["answers"]] for r in rows]),
}


def summed_score(score: Callable, rows: list[dict]) -> SummedScore | None:
    """The summed form of ``score`` on these dev rows where it is a format's own score method
    (``get_format(meta).score``), else None (any other callable: the generic path)."""
    func, owner = getattr(score, "__func__", None), getattr(score, "__self__", None)
    if func is None or getattr(func, "__module__", None) != FORMATS_MODULE:
        return None
    make = MAKERS.get(getattr(func, "__qualname__", ""))
    return make(owner.meta, rows) if make is not None else None
