"""The evaluation tables, written as TSV for the report and printed for the terminal.

- ``per_target.tsv``: method, k, target, chosen source, its score, no-transfer score, gain, regret;
- ``summary.tsv``: per method and k, mean score, mean gain, mean Regret@k (the paper's Table 1);
- ``ranking.tsv`` / ``ranking_summary.tsv``: Spearman, Pearson, NDCG, Regret@k per method
  (the paper's Table 2), when rankings with scores are given.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .errors import TaskTransferError
from .evaluation import evaluate_selections, ranking_quality, selections_from_rankings, summarise
from .io import atomic_write_text
from .results import mean_gains, mean_no_transfer


def read_table(path: str | Path, what: str) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise TaskTransferError(f"{what} {path} does not exist")
    sep = "," if path.suffix == ".csv" else "\t"
    return pd.read_csv(path, sep=sep)


def run_tables(gains_path: str | Path, no_transfer_path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The workflow's gathered runs as the plain evaluate inputs: T (source, target, score), N (target, score)."""
    gains = mean_gains(read_table(gains_path, "gains table"))
    base = mean_no_transfer(read_table(no_transfer_path, "no-transfer table"))
    transfer = gains.rename(columns={"r2": "score"})[["source", "target", "score"]]
    no_transfer = base.rename(columns={"task": "target"})[["target", "score"]]
    return transfer, no_transfer


def _pivot_for_print(per_target: pd.DataFrame, k: int) -> pd.DataFrame:
    rows = per_target[per_target.k == k]
    score = rows.pivot(index="target", columns="method", values="score")
    return score.round(2)


def run_evaluation(
    transfer: str | Path | pd.DataFrame,
    no_transfer: str | Path | pd.DataFrame,
    selections: str | Path | None,
    rankings: list[str | Path] | None,
    ks: list[int],
    out_dir: Path,
) -> str:
    """Evaluate and write the tables; returns a text rendering for the terminal."""
    t = transfer if isinstance(transfer, pd.DataFrame) else read_table(transfer, "transfer table")
    n = no_transfer if isinstance(no_transfer, pd.DataFrame) else read_table(no_transfer, "no-transfer table")
    chosen = []
    ranks = pd.concat([read_table(r, "rankings table") for r in rankings], ignore_index=True) if rankings else None
    if ranks is not None and len(ranks):
        chosen.append(selections_from_rankings(ranks))
    if selections:
        chosen.append(read_table(selections, "selections table"))
    sel = pd.concat(chosen, ignore_index=True) if chosen else None
    per_target = evaluate_selections(t, n, sel, ks)
    summary = summarise(per_target)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "per_target.tsv", per_target.to_csv(sep="\t", index=False, float_format="%.4f"))
    atomic_write_text(out_dir / "summary.tsv", summary.to_csv(sep="\t", index=False, float_format="%.4f"))
    text = ["Mean over targets, per method and k (gain = score - no transfer; regret in %):", summary.round(2).to_string(index=False)]
    for k in ks:
        text += [f"\nTarget score of each method's best-of-top-{k} pick:", _pivot_for_print(per_target, k).to_string()]
    if ranks is not None and len(ranks):
        quality = ranking_quality(ranks, t, n, ks)
        atomic_write_text(out_dir / "ranking.tsv", quality.to_csv(sep="\t", index=False, float_format="%.4f"))
        if len(quality):
            mean = quality.drop(columns=["target"]).groupby("method", sort=True).mean().reset_index()
        else:
            mean = quality
        atomic_write_text(out_dir / "ranking_summary.tsv", mean.to_csv(sep="\t", index=False, float_format="%.4f"))
        text += ["\nRanking quality against brute force (mean over targets):", mean.round(3).to_string(index=False)]
    return "\n".join(text)
