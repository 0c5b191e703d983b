"""The paired bootstrap over seeds and dev examples: a gain's interval (tasktransfer.bootstrap)."""

import pytest

from tasktransfer.bootstrap import paired_bootstrap


def accuracy(preds, rows):
    return 100.0 * sum(p == r["label"] for p, r in zip(preds, rows)) / len(rows)


ROWS = [{"label": i % 2} for i in range(40)]


def test_identical_runs_have_a_zero_width_interval():
    preds = [r["label"] for r in ROWS]
    iv = paired_bootstrap(accuracy, ROWS, [preds], [preds], n_boot=200)
    assert (iv.mean, iv.lo, iv.hi, iv.se) == (0.0, 0.0, 0.0, 0.0)
    assert iv.inside_noise


def test_a_clear_gain_is_outside_noise_and_a_tiny_one_inside():
    gold = [r["label"] for r in ROWS]
    wrong = [1 - g for g in gold]
    half = gold[:20] + wrong[20:]
    clear = paired_bootstrap(accuracy, ROWS, [gold], [half], n_boot=300)
    assert clear.mean == pytest.approx(50.0)
    assert clear.lo > 0 and not clear.inside_noise
    one_more = gold[:21] + wrong[21:]  # one example better: 2.5 points
    tiny = paired_bootstrap(accuracy, ROWS, [one_more], [half], n_boot=300)
    assert tiny.mean == pytest.approx(2.5)
    assert tiny.inside_noise


def test_seed_spread_widens_the_interval():
    gold = [r["label"] for r in ROWS]
    wrong = [1 - g for g in gold]
    base = gold[:20] + wrong[20:]
    # seed 0 gains 10 points, seed 1 loses 10: mean 0, but the seed draw spreads it
    up = gold[:24] + wrong[24:]
    down = gold[:16] + wrong[16:]
    spread = paired_bootstrap(accuracy, ROWS, [up, down], [base, base], n_boot=400, seed=1)
    same = paired_bootstrap(accuracy, ROWS, [up, up], [base, base], n_boot=400, seed=1)
    assert spread.mean == pytest.approx(0.0)
    assert spread.hi - spread.lo > same.hi - same.lo


def test_a_formats_accuracy_takes_the_fast_path(monkeypatch):
    """get_format(meta).score of an accuracy task is never called: the per-example statistics
    are summed instead; wrapped in a function, the same score runs every replicate."""
    from tasktransfer.data.prepare import TaskMeta
    from tasktransfer.prompting import formats

    fmt = formats.get_format(TaskMeta("t", "t", "classification", "accuracy", ["0", "1"], 0, 40, None))
    rows = [{"label": str(r["label"])} for r in ROWS]
    gold = [r["label"] for r in ROWS]
    half = gold[:20] + [1 - g for g in gold[20:]]
    calls = []
    real_score = formats.Classification.score

    def counted(self, predictions, rows):
        calls.append(len(rows))
        return real_score(self, predictions, rows)

    generic = paired_bootstrap(lambda p, r: counted(fmt, p, r), rows, [gold, half], [half, half], n_boot=50)
    assert len(calls) == 2 * 2 + 50 * 2 * 2  # the point (2 seeds x 2 runs), then 2 seeds x 2 runs a replicate
    monkeypatch.setattr(formats.metrics, "accuracy", lambda *a: pytest.fail("the generic score ran"))
    fast = paired_bootstrap(fmt.score, rows, [gold, half], [half, half], n_boot=50)
    assert fast == generic
