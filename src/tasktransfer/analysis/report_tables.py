"""The evaluation tables, written as TSV for the report and printed for the terminal.

- ``per_target.tsv``: method, k, target, chosen source, its score, no-transfer score, gain, regret;
- ``summary.tsv``: per method and k, mean score, mean gain, mean Regret@k;
- ``table1.tsv`` (the paper's Table 1): rows are methods (best-of-top-k), columns the target's
  score after transfer per target and the mean gain over no transfer; the first row is no transfer;
- ``table2.tsv`` (the paper's Table 2): per method Spearman, Pearson, NDCG (mean over targets,
  where the method scores every source) and Regret@k for each k;
- ``ranking.tsv`` / ``ranking_summary.tsv``: Spearman, Pearson, NDCG, Regret@k per method and
  target, and their means, when rankings with scores are given;
- ``novel.tsv``: for novel targets, the pool ranked by the scorer and the result of the top-k;
- ``intervals.tsv``: per method and metric (Spearman, NDCG, Regret@k, regret_xfit@1, top-1 gain)
  the mean over targets with a t interval over targets;
- ``versus_cosine.tsv``: every method against ``cosine_mean``, per metric, the mean per-target
  difference with a t interval over targets and its p-value, the primary comparison of the config
  first, the others exploratory with Holm-adjusted p-values (:mod:`tasktransfer.analysis.versus_report`);
  ``headline.txt`` / ``headline.html``: the primary verdict with its null, the learned methods'
  and the power of the design;
- ``variance_components.tsv``, ``noise_ceiling.tsv``, ``design.html`` (with per-seed gains): the
  gain's variance components, per target the split-half reliability of the source ranking and the
  noise ceiling beside each method's Spearman (:mod:`tasktransfer.analysis.design_power`).

Definitions are in :mod:`tasktransfer.analysis.evaluation`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tasktransfer.analysis.evaluation import (
    BRUTE_FORCE,
    BRUTE_FORCE_XFIT,
    DISPLAY,
    evaluate_selections,
    method_order,
    ranking_quality,
    selections_from_rankings,
    summarise,
)
from tasktransfer.analysis.gather import mean_gains, mean_no_transfer
from tasktransfer.analysis.versus_baseline import PRIMARY_ROLE, Primary, learned_methods
from tasktransfer.analysis.versus_report import (
    BASELINE,
    INTERVALS_NOTE,
    VERSUS_NOTE,
    design_tables,
    method_intervals,
    power_inputs,
    versus_cosine,
)
from tasktransfer.errors import TaskTransferError
from tasktransfer.io import atomic_write_text


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


def _label(method: str, k: int) -> str:
    if method in (BRUTE_FORCE, BRUTE_FORCE_XFIT):
        return DISPLAY.get(method, method)
    return f"{method} (top-{k})"


CONTROL_PREFIX = "_"


def split_controls(transfer: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Transfer rows from candidate sources, and from controls (a source named ``_...``, e.g. ``_control``).

    A control init (say the mean of the pool's prompts) is no pool task: it is never a candidate of
    any method nor of brute force, but Table 1 shows it next to no transfer.
    """
    is_control = transfer["source"].astype(str).str.startswith(CONTROL_PREFIX)
    return transfer[~is_control], transfer[is_control]


def table1(per_target: pd.DataFrame, no_transfer: pd.DataFrame, controls: pd.DataFrame | None = None) -> pd.DataFrame:
    """The paper's Table 1: one row per method and k, the target scores and the mean gain.

    Brute force is the same at every k, so it appears once. Columns: method, k, one per target
    (score after transfer, metric x100), mean_gain (mean over targets of score - no transfer).
    The first rows are no transfer and each control init (a ``_...`` source), if any.
    """
    targets = sorted(per_target.target.unique())
    base = {str(r.target): float(r.score) for r in no_transfer.itertuples(index=False)}
    rows = [{"method": "no_transfer", "k": 0, **{t: base.get(t) for t in targets}, "mean_gain": 0.0}]
    if controls is not None and len(controls):
        for source, part in controls.groupby("source", sort=True):
            score = {str(r.target): float(r.score) for r in part.itertuples(index=False) if str(r.target) in targets}
            gains = [score[t] - base[t] for t in score if t in base]
            label = f"control init ({str(source).lstrip(CONTROL_PREFIX)})"
            rows.append({"method": label, "k": 0, **{t: score.get(t) for t in targets}, "mean_gain": sum(gains) / len(gains) if gains else None})
    for method in method_order(per_target.method.unique()):
        part = per_target[per_target.method == method]
        for k in sorted(part.k.unique()):
            if method in (BRUTE_FORCE, BRUTE_FORCE_XFIT) and k != part.k.min():
                continue
            at = part[part.k == k].set_index("target")
            row = {"method": _label(method, int(k)), "k": int(k)}
            row.update({t: (float(at.loc[t, "score"]) if t in at.index else None) for t in targets})
            row["mean_gain"] = float(at["gain"].mean())
            rows.append(row)
    return pd.DataFrame(rows, columns=["method", "k", *targets, "mean_gain"])


def table2(summary: pd.DataFrame, ranking_means: pd.DataFrame | None, ks: list[int]) -> pd.DataFrame:
    """The paper's Table 2: per method Spearman, Pearson, NDCG and Regret@k (mean over targets).

    Correlations and NDCG need a method's scores of every source (rankings); methods given only as
    selections (and the random expectation) have Regret@k alone.
    """
    methods = method_order(summary.method.unique())
    quality = ranking_means.set_index("method") if ranking_means is not None and len(ranking_means) else None
    rows = []
    for method in methods:
        row: dict = {"method": method}
        for col in ("spearman", "pearson", "ndcg"):
            row[col] = float(quality.loc[method, col]) if quality is not None and method in quality.index else None
        part = summary[summary.method == method].set_index("k")
        for k in sorted({int(k) for k in ks} | {1}):
            row[f"regret@{k}"] = float(part.loc[k, "mean_regret"]) if k in part.index else None
        if "mean_regret_xfit" in summary.columns:
            row["regret_xfit@1"] = float(part.loc[1, "mean_regret_xfit"]) if 1 in part.index else None
        rows.append(row)
    return pd.DataFrame(rows)


def _display(table: pd.DataFrame) -> pd.DataFrame:
    """The HTML view's method names (brute_force_xfit as 'brute force (cross-fitted)')."""
    return table.assign(method=table["method"].map(lambda m: DISPLAY.get(m, m))) if "method" in table else table


def _write(path: Path, table: pd.DataFrame, digits: int = 4) -> None:
    atomic_write_text(path, table.to_csv(sep="\t", index=False, float_format=f"%.{digits}f"))


_CSS = """
body { font-family: system-ui, sans-serif; font-size: 14px; margin: 1em; color: #1e293b; background: #fff; }
h1 { font-size: 17px; } p { max-width: 60em; color: #475569; }
table { border-collapse: collapse; } caption { text-align: left; padding: 4px 0; color: #475569; }
th, td { border: 1px solid #cbd5e1; padding: 3px 8px; } th { background: #f1f5f9; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } tbody tr:nth-child(even) { background: #f8fafc; }
"""


def html_table(table: pd.DataFrame, title: str, note: str = "", digits: int = 2) -> str:
    """A self-contained HTML page of one table (no scripts, no external resources): the report's view."""
    import html

    def cell(v) -> str:
        if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)):
            return '<td class="num">-</td>'
        if isinstance(v, bool):
            return f"<td>{'yes' if v else 'no'}</td>"
        if isinstance(v, (int, float)):
            return f'<td class="num">{v:.{digits}f}</td>' if isinstance(v, float) else f'<td class="num">{v}</td>'
        return f"<td>{html.escape(str(v))}</td>"

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    body = "\n".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in table.astype(object).itertuples(index=False))
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_CSS}</style></head><body>\n<h1>{html.escape(title)}</h1>\n"
        + (f"<p>{html.escape(note)}</p>\n" if note else "")
        + f'<table class="results"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>\n</body></html>\n'
    )


def write_html(path: Path, table: pd.DataFrame, title: str, note: str = "", digits: int = 2) -> None:
    atomic_write_text(path, html_table(table, title, note, digits))


TABLE1_NOTE = (
    "Target score after transfer (metric x100, mean over seeds) of each method's best-of-top-k pick; "
    "mean_gain is the mean over targets of the gain over no transfer. brute_force is the best source in "
    "hindsight, picked and scored on the same seeds: the maximum of noisy means, biased upwards (winner's "
    "curse). brute force (cross-fitted) picks on one half of the seeds and is scored on the other (both ways, "
    "averaged): the unbiased upper bound (no transfer plus its cross-fitted gain; shown with two or more seeds). "
    "Each of its picks sees half the seeds: with 2 seeds it estimates what a brute force on 1 seed is worth."
)
NOVEL_NOTE = (
    "Each novel target is ranked against the pool by the scorer (predicted_gain) and transferred only from "
    "its top-k sources (transferred); score is its score after transfer, gain the gain over no transfer, "
    "best_of_top_k the best gain among the first k rows; <method>_rank: the baselines' ranks."
)
TABLE2_NOTE = (
    "Ranking quality against brute force, mean over targets: Spearman and Pearson correlation of the "
    "method's scores with the true gains, NDCG (relevance = gain clipped at 0), Regret@k in % against the "
    "in-sample brute force (all seeds: the ranking-quality definition). regret_xfit@1, with two or more "
    "seeds: the top-1 pick's regret in % against the cross-fitted brute force, both scored on the same "
    "half-seed footing; the honest shortfall from an oracle, since the in-sample best carries the "
    "winner's curse (negative for brute_force: minus its curse)."
)
def _read_selections(
    rankings: list[str | Path] | None, selections: str | Path | None
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The rankings (all files in one table), and the selections: those the rankings give, then the explicit ones."""
    chosen = []
    ranks = pd.concat([read_table(r, "rankings table") for r in rankings], ignore_index=True) if rankings else None
    if ranks is not None and len(ranks):
        chosen.append(selections_from_rankings(ranks))
    if selections:
        chosen.append(read_table(selections, "selections table"))
    return ranks, pd.concat(chosen, ignore_index=True) if chosen else None


def _write_ranking_quality(
    ranks: pd.DataFrame | None, t: pd.DataFrame, n: pd.DataFrame, ks: list[int], out_dir: Path
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Where rankings with scores are given: ranking quality per target and its means per method."""
    if ranks is None or not len(ranks):
        return None, None
    quality = ranking_quality(ranks, t, n, ks)
    _write(out_dir / "ranking.tsv", quality)
    if len(quality):
        mean = quality.drop(columns=["target"]).groupby("method", sort=True).mean().reset_index()
    else:
        mean = quality
    _write(out_dir / "ranking_summary.tsv", mean)
    return quality, mean


def _write_comparisons(
    per_target: pd.DataFrame,
    quality: pd.DataFrame | None,
    ks: list[int],
    level: float,
    out_dir: Path,
    design: tuple[pd.DataFrame | None, Primary | None] = (None, None),
) -> tuple[pd.DataFrame, str]:
    """Every method's intervals, every method against the baseline (the primary comparison first),
    the design's noise ceiling and power, and the headline; returns the comparison and the headline
    (the primary verdict, the learned methods' and the power sentence). ``design``: the per-seed
    gains and the primary comparison."""
    per_seed, primary = design
    intervals = method_intervals(per_target, quality, ks, level)
    _write(out_dir / "intervals.tsv", intervals)
    write_html(out_dir / "intervals.html", _display(intervals), "Every method: mean over targets with intervals",
               INTERVALS_NOTE.format(level=level), digits=3)
    versus, sentence = versus_cosine(per_target, quality, level, primary)
    components, ceiling, power, design_note = design_tables(
        per_seed, quality, power_inputs(per_target, quality, primary, versus), level)
    _write(out_dir / "variance_components.tsv", components)
    _write(out_dir / "noise_ceiling.tsv", ceiling)
    write_html(out_dir / "design.html", ceiling, "Noise ceiling and power of the design", design_note, digits=3)
    sentence = f"{sentence} {power}"
    _write(out_dir / "versus_cosine.tsv", versus)
    note = sentence + " " + VERSUS_NOTE.format(level=level, alpha=1.0 - level, baseline=BASELINE)
    write_html(out_dir / "versus_cosine.html", _display(versus), f"Every method against {BASELINE}", note, digits=3)
    atomic_write_text(out_dir / "headline.txt", sentence + "\n")
    shown = versus["method"].isin(learned_methods(versus["method"].unique())) | (versus.get("role") == PRIMARY_ROLE)
    write_html(out_dir / "headline.html", versus[shown], f"Do the learned methods beat {BASELINE}?", note, digits=3)
    return versus, sentence


def _terminal_text(
    first: pd.DataFrame, second: pd.DataFrame, versus: pd.DataFrame, sentence: str, level: float
) -> str:
    """Tables 1 and 2, the comparison with the baseline and the headline, for the terminal."""
    return "\n".join([
        "Table 1: target score after transfer (metric x100) of each method's best-of-top-k pick, "
        "and the mean gain over no transfer:",
        first.drop(columns=["k"]).round(2).to_string(index=False, na_rep="-"),
        "\nTable 2: ranking quality against brute force, mean over targets (regret in %):",
        second.round(3).to_string(index=False, na_rep="-"),
        f"\nAgainst {BASELINE} (mean per-target difference, {level:.0%} t interval over targets; the primary "
        "comparison first, the rest exploratory with Holm-adjusted p-values):",
        versus.round(3).to_string(index=False, na_rep="-") if len(versus) else "(none)",
        "\n" + sentence,
    ])


def run_evaluation(
    transfer: str | Path | pd.DataFrame,
    no_transfer: str | Path | pd.DataFrame,
    selections: str | Path | None,
    rankings: list[str | Path] | None,
    ks: list[int],
    out_dir: Path,
    per_seed: pd.DataFrame | None = None,
    level: float = 0.95,
    primary: Primary | None = None,
) -> str:
    """Evaluate and write the tables; returns a text rendering for the terminal.

    ``per_seed`` (source, target, seed, gain) adds the cross-fitted brute force, the variance
    components and the noise ceiling; ``level`` is the coverage of the t intervals over targets
    (and 1 - level the tests' alpha); ``primary`` the comparison named before the run (default:
    :class:`~tasktransfer.analysis.versus_baseline.Primary`'s).
    """
    primary = primary if primary is not None else Primary()
    t = transfer if isinstance(transfer, pd.DataFrame) else read_table(transfer, "transfer table")
    t, controls = split_controls(t) if "source" in t.columns else (t, None)
    n = no_transfer if isinstance(no_transfer, pd.DataFrame) else read_table(no_transfer, "no-transfer table")
    ranks, sel = _read_selections(rankings, selections)
    if per_seed is not None and "source" in per_seed.columns:
        per_seed, _ = split_controls(per_seed)
    per_target = evaluate_selections(t, n, sel, ks, per_seed)
    if per_target.empty:
        raise TaskTransferError("nothing to evaluate: the transfer table has no rows")
    summary = summarise(per_target)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write(out_dir / "per_target.tsv", per_target)
    _write(out_dir / "summary.tsv", summary)
    quality, mean = _write_ranking_quality(ranks, t, n, ks, out_dir)
    first = table1(per_target, n, controls)
    second = table2(summary, mean, ks)
    _write(out_dir / "table1.tsv", first, digits=2)
    _write(out_dir / "table2.tsv", second, digits=3)
    write_html(out_dir / "table1.html", first.drop(columns=["k"]), "Table 1: target score by method", TABLE1_NOTE)
    write_html(out_dir / "table2.html", _display(second), "Table 2: ranking quality", TABLE2_NOTE, digits=3)
    versus, sentence = _write_comparisons(per_target, quality, ks, level, out_dir, (per_seed, primary))
    return _terminal_text(first, second, versus, sentence, level)


def novel_table(rankings: pd.DataFrame, selected: pd.DataFrame, gains: pd.DataFrame) -> pd.DataFrame:
    """Per novel target: the pool ranked by the scorer, and what transfer from its top-k gave.

    ``rankings``: the rank files of the novel targets (method, target, source, score[, rank]); the
    scorer's order decides, other methods add a ``<method>_rank`` column. ``selected``: the sources
    that were transferred (results/novel/<target>/selected.tsv). ``gains``: their transfer runs
    (source, target, seed, r1, r2, gain). Rows: target, rank, source, predicted_gain, transferred,
    score (r2 after transfer, mean over seeds), no_transfer (r1), gain, best_of_top_k (the
    best-of-top-k gain, on the row of the k-th source).
    """
    from tasktransfer.analysis.gather import mean_gains

    _need = ["method", "target", "source", "score"]
    missing = [c for c in _need if c not in rankings.columns]
    if missing:
        raise TaskTransferError(f"the novel rankings lack columns {missing}")
    result = mean_gains(gains) if len(gains) else pd.DataFrame(columns=["source", "target", "r1", "r2", "gain"])
    out = []
    for target, by_target in rankings.groupby("target", sort=True):
        scorer = by_target[by_target.method == "scorer"]
        if scorer.empty:
            raise TaskTransferError(f"novel target {target} has no scorer ranking")
        table = scorer.sort_values(["score", "source"], ascending=[False, True])[["source", "score"]]
        table = table.rename(columns={"score": "predicted_gain"}).reset_index(drop=True)
        table.insert(0, "rank", range(1, len(table) + 1))
        table.insert(0, "target", target)
        chosen = set(selected[selected.target == target].source)
        table["transferred"] = table.source.isin(chosen)
        done = result[result.target == target].set_index("source")
        table["score"] = [float(done.loc[s, "r2"]) if s in done.index else None for s in table.source]
        table["no_transfer"] = [float(done.loc[s, "r1"]) if s in done.index else None for s in table.source]
        table["gain"] = [float(done.loc[s, "gain"]) if s in done.index else None for s in table.source]
        best, running = [], None
        for row in table.itertuples(index=False):
            if row.transferred and row.gain is not None and not pd.isna(row.gain):
                running = row.gain if running is None else max(running, row.gain)
                best.append(running)
            else:
                best.append(None)
        table["best_of_top_k"] = best
        for method, part in by_target[by_target.method != "scorer"].groupby("method", sort=True):
            order = part.sort_values(["score", "source"], ascending=[False, True]).source.tolist()
            table[f"{method}_rank"] = [order.index(s) + 1 if s in order else None for s in table.source]
        out.append(table)
    if not out:
        return pd.DataFrame(columns=["target", "rank", "source", "predicted_gain", "transferred", "score", "no_transfer", "gain"])
    return pd.concat(out, ignore_index=True)
