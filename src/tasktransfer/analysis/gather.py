"""Gathering finished runs into long tables, and averaging them over seeds."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from tasktransfer.affinity.pairs import mean_gains  # noqa: F401  (its one home; gathered tables' readers import it here)
from tasktransfer.errors import ArtefactError
from tasktransfer.io import read_record
from tasktransfer.run_layout import CONTROL

NO_TRANSFER_COLUMNS = ["task", "seed", "metric", "score", "lr"]
GAIN_COLUMNS = ["source", "target", "seed", "metric", "r1", "r2", "gain"]


def gather_no_transfer(paths: Iterable[str | Path]) -> pd.DataFrame:
    rows = [{k: read_record(p, tuple(NO_TRANSFER_COLUMNS))[k] for k in NO_TRANSFER_COLUMNS} for p in paths]
    return pd.DataFrame(rows, columns=NO_TRANSFER_COLUMNS).sort_values(["task", "seed"]).reset_index(drop=True)


def gather_gains(paths: Iterable[str | Path]) -> pd.DataFrame:
    rows = [{k: read_record(p, tuple(GAIN_COLUMNS))[k] for k in GAIN_COLUMNS} for p in paths]
    df = pd.DataFrame(rows, columns=GAIN_COLUMNS)
    return df.sort_values(["target", "source", "seed"]).reset_index(drop=True)


def mean_no_transfer(no_transfer: pd.DataFrame) -> pd.DataFrame:
    grouped = no_transfer.groupby("task", sort=True)
    out = grouped.agg(score=("score", "mean"), score_sd=("score", "std"), seeds=("seed", "nunique"), metric=("metric", "first"))
    out["score_sd"] = out["score_sd"].fillna(0.0)
    return out.reset_index()


def _dev_predictions(
    prompt_paths: Iterable[str | Path], transfer_paths: Iterable[str | Path]
) -> tuple[dict[tuple[str, int], list], dict[tuple[str, str], dict[int, list]]]:
    """Each run's dev predictions: no transfer by (task, seed), transfers by (source, target) then seed."""
    runs_r1: dict[tuple[str, int], list] = {}
    for p in prompt_paths:
        m = read_record(p)
        runs_r1[(m["task"], int(m["seed"]))] = m.get("dev_predictions", [])
    runs_r2: dict[tuple[str, str], dict[int, list]] = {}
    for p in transfer_paths:
        m = read_record(p)
        runs_r2.setdefault((m["source"], m["target"]), {})[int(m["seed"])] = m.get("dev_predictions", [])
    return runs_r1, runs_r2


def _pair_row(
    pair: tuple[str, str],
    by_seed: dict[int, list],
    base_runs: dict[tuple[str, int], list],
    control: dict[int, list],
    scorer: tuple,
    bootstrap: tuple[int, float, int],
) -> dict:
    """One pair's row: its gain over no transfer and, where the control ran at all its seeds, over
    the control; ``scorer`` is the target's (score function, dev rows), ``bootstrap`` (n_boot, level, seed)."""
    from tasktransfer.bootstrap import paired_bootstrap

    (source, target), (score, dev) = pair, scorer
    seeds = sorted(by_seed)
    new = [by_seed[s] for s in seeds]
    base = [base_runs.get((target, s), []) for s in seeds]
    if any(len(x) != len(dev) for x in [*new, *base]):
        raise ArtefactError(
            f"pair {source} -> {target}: a run lacks dev predictions for {len(dev)} examples; "
            "rerun its prompt_tune / transfer job with this version"
        )
    over_none = paired_bootstrap(score, dev, new, base, *bootstrap)
    row = {
        "source": source,
        "target": target,
        "seeds": len(seeds),
        "gain": over_none.mean,
        "gain_lo": over_none.lo,
        "gain_hi": over_none.hi,
        "gain_se": over_none.se,
        "inside_noise": over_none.inside_noise,
    }
    if source != CONTROL and all(s in control for s in seeds):
        over_control = paired_bootstrap(score, dev, new, [control[s] for s in seeds], *bootstrap)
        row.update(
            gain_vs_control=over_control.mean,
            gain_vs_control_lo=over_control.lo,
            gain_vs_control_hi=over_control.hi,
            gain_vs_control_se=over_control.se,
            control_inside_noise=over_control.inside_noise,
        )
    return row


def gain_summary(
    prompt_paths: Iterable[str | Path],
    transfer_paths: Iterable[str | Path],
    data_dir: str | Path,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    log=None,
) -> pd.DataFrame:
    """One row per pair: mean gain over no transfer and over the control, each with its interval.

    Intervals come from a paired bootstrap over seeds and dev examples (uncertainty.py). The
    control's own rows (source ``_control``) carry the warm-start gain of any trained prompt.
    """
    from tasktransfer.data.prepare import read_jsonl, read_meta
    from tasktransfer.prompting.formats import get_format

    runs_r1, runs_r2 = _dev_predictions(prompt_paths, transfer_paths)
    scorers: dict[str, tuple] = {}  # target -> (its score function, its dev rows), read once
    rows = []
    started, last = time.perf_counter(), 0.0
    for done, ((source, target), by_seed) in enumerate(sorted(runs_r2.items())):
        elapsed = time.perf_counter() - started
        if log is not None and (elapsed - last >= 10 or done == 0):
            last = elapsed
            log(f"bootstrap of pair {done + 1}/{len(runs_r2)} ({source} -> {target}) | elapsed {elapsed:.0f}s")
        if target not in scorers:
            meta = read_meta(Path(data_dir) / target)
            scorers[target] = (get_format(meta).score, read_jsonl(Path(data_dir) / target / "dev.jsonl"))
        control = runs_r2.get((CONTROL, target), {})
        rows.append(_pair_row((source, target), by_seed, runs_r1, control, scorers[target], (n_boot, level, seed)))
    return pd.DataFrame(rows)
