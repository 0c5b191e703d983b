"""A run's score recomputed from its saved dev predictions: shared by tests/prompting/test_formats.py
and tests/workflow/test_formats_run.py (a helper, not a test file)."""

from __future__ import annotations

from tasktransfer.data.prepare import TaskMeta
from tasktransfer.prompting.formats import get_format


def rescore(meta: TaskMeta, predictions: list, dev: list[dict]) -> float:
    """A run's score recomputed from its saved dev predictions and the gold dev rows, with the
    shape of every prediction checked against its row."""
    assert len(predictions) == len(dev), (meta.name, len(predictions), len(dev))
    for p, row in zip(predictions, dev):
        if meta.format == "regression":
            assert isinstance(p, float)
        elif meta.format in ("classification", "multiple_choice"):
            n = len(meta.labels) if meta.format == "classification" else len(row["choices"])
            assert isinstance(p, int) and 0 <= p < n, (meta.name, p)
        elif meta.format == "tagging":
            assert len(p) == len(row["tokens"]), meta.name
        elif meta.format == "multirc":
            assert len(p) == len(row["answers"]), meta.name
        else:  # extractive QA: a character span of the context, or None for "no answer"
            assert p is None or 0 <= p[0] <= p[1] <= len(row["context"]), (meta.name, p)
    return get_format(meta).score(predictions, dev)
