"""The transfer-budget tables and figure of an evaluation (definitions: :mod:`tasktransfer.analysis.budget`).

- ``budget.tsv``: one row per method, k and target (:data:`tasktransfer.analysis.budget.COLUMNS`);
- ``budget_summary.tsv``: per method and k, the mean over targets with intervals, the share of the
  cross-fitted brute force's gain, the paired difference from it, and the share of its
  job-seconds; ``budget.html`` the same at the requested ks (and brute force), for the report;
- ``budget.png``: the cross-fitted gain of the source kept against the budget, per method, with
  brute force and random: by k (transfers tried per target) and by job-seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on clusters and CI
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from tasktransfer import run_layout as layout  # noqa: E402
from tasktransfer.analysis.budget import budget_summary, budget_table, gather_run_seconds  # noqa: E402
from tasktransfer.analysis.evaluation import BRUTE_FORCE_XFIT, DISPLAY, RANDOM_EXPECTED  # noqa: E402
from tasktransfer.analysis.plots import save_figure  # noqa: E402
from tasktransfer.analysis.report_tables import read_table, write_html  # noqa: E402
from tasktransfer.io import atomic_write_text  # noqa: E402

NOTE = (
    "Best of each method's top k sources, cross-fitted: the k candidates are compared on one half of "
    "the target's seeds and the chosen one is scored on the other half, both ways, averaged (with two "
    "seeds: chosen on one seed, scored on the other). gain: mean over targets (points), with its "
    "{level:.0%} Student-t interval over targets; gain_share: its share of the cross-fitted brute force's "
    "mean gain (all sources tried), a ratio of means with a {level:.0%} percentile bootstrap interval over "
    "targets (none where brute force's own gain is too near zero for a ratio); minus_brute_force: the paired "
    "difference gain - brute force's gain over the same targets, with its t interval; seconds: the "
    "job-seconds of the k transfers per target (mean over targets), "
    "seconds_share: their share of brute force's. random_expected: the exact expectation over random "
    "k-subsets. Empty without two or more seeds per target."
)


@dataclass(frozen=True)
class BudgetPaths:
    table: Path
    summary: Path
    html: Path
    figure: Path

    @classmethod
    def in_folder(cls, out: str | Path, figure: str | Path | None = None) -> BudgetPaths:
        """The layout's file names in ``out`` (the figure there too unless named)."""
        out = Path(out)
        names = [Path(p).name for p in (layout.BUDGET, layout.BUDGET_SUMMARY, layout.BUDGET_HTML)]
        return cls(*(out / n for n in names), Path(figure) if figure else out / Path(layout.BUDGET_FIGURE).name)


def _html_rows(summary: pd.DataFrame, ks: list[int]) -> pd.DataFrame:
    """The summary at the requested ks, brute force at its own k."""
    keep = summary["k"].isin(ks) | (summary["method"] == BRUTE_FORCE_XFIT)
    return summary[keep].assign(method=lambda d: d["method"].map(lambda m: DISPLAY.get(m, m)))


def write_budget(
    per_seed: pd.DataFrame,
    rankings: pd.DataFrame | None,
    seconds: pd.DataFrame | None,
    paths: BudgetPaths,
    ks: list[int],
    level: float = 0.95,
) -> pd.DataFrame:
    """Compute and write the budget tables and figure; returns the summary."""
    table = budget_table(per_seed, rankings, seconds)
    summary = budget_summary(table, level)
    paths.table.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(paths.table, table.to_csv(sep="\t", index=False, float_format="%.4f"))
    atomic_write_text(paths.summary, summary.to_csv(sep="\t", index=False, float_format="%.4f"))
    write_html(paths.html, _html_rows(summary, ks), "Best of top k, cross-fitted, against the transfer budget",
               NOTE.format(level=level), digits=2)
    budget_figure(summary, paths.figure)
    return summary


def terminal_text(summary: pd.DataFrame, ks: list[int]) -> str:
    if summary.empty:
        return "Transfer budget: nothing to cross-fit (no target has two or more seeds)."
    shown = _html_rows(summary, ks)[["method", "k", "targets", "gain", "gain_lo", "gain_hi", "gain_share",
                                     "gain_share_lo", "gain_share_hi", "minus_brute_force", "minus_brute_force_lo",
                                     "minus_brute_force_hi", "seconds_share"]]
    return ("Transfer budget: cross-fitted gain of the best of each method's top k, its share of the "
            "cross-fitted brute force's gain and of its job-seconds:\n"
            + shown.round(3).to_string(index=False, na_rep="-"))


def _draw(ax, summary: pd.DataFrame, x: str) -> None:
    """One panel: each method's curve, random dashed, brute force a star with its level dotted."""
    methods = [m for m in summary["method"].unique() if m not in (BRUTE_FORCE_XFIT, RANDOM_EXPECTED)]
    # tab10 without its grey (random's), then the same colours with another line style and marker
    colours = [c for i, c in enumerate(plt.get_cmap("tab10").colors) if i != 7]
    styles = [("-", "o"), ("-.", "s"), (":", "^")]
    for i, method in enumerate(methods):
        part = summary[summary["method"] == method]
        line, marker = styles[(i // len(colours)) % len(styles)]
        ax.plot(part[x], part["gain"], ls=line, marker=marker, ms=3.5, color=colours[i % len(colours)],
                lw=2.4 if method == "scorer" else 1.2, zorder=3 if method == "scorer" else 2, label=method)
    random = summary[summary["method"] == RANDOM_EXPECTED]
    ax.plot(random[x], random["gain"], ls="--", color="0.45", lw=1.5, label="random (expected)")
    oracle = summary[summary["method"] == BRUTE_FORCE_XFIT]
    for row in oracle.itertuples(index=False):
        ax.axhline(row.gain, color="black", ls=":", lw=1)
        ax.plot([getattr(row, x)], [row.gain], marker="*", ms=12, color="black", ls="none")
    ax.plot([], [], marker="*", ms=10, color="black", ls=":", label=DISPLAY[BRUTE_FORCE_XFIT])
    ax.axhline(0, color="0.7", lw=0.8)


def budget_figure(summary: pd.DataFrame, path: Path) -> None:
    """Cross-fitted gain (mean over targets) against k and against job-seconds, per method."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    if summary.empty:
        for ax in axes:
            ax.text(0.5, 0.5, "no target has two or more seeds:\nnothing to cross-fit", ha="center", va="center")
            ax.set_axis_off()
        save_figure(fig, path)
        return
    _draw(axes[0], summary, "k")
    axes[0].set_xlabel("transfers tried per target (k)")
    axes[0].set_ylabel("gain of the source kept, cross-fitted (points)")
    if summary["seconds"].notna().any():
        _draw(axes[1], summary, "seconds")
        axes[1].set_xlabel("job-seconds of the k transfers per target (mean over targets)")
    else:
        axes[1].text(0.5, 0.5, "the transfer runs record no job-seconds", ha="center", va="center")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.subplots_adjust(right=0.82)
    fig.legend(handles, labels, fontsize=7, loc="center left", bbox_to_anchor=(0.83, 0.5))
    fig.suptitle("Best of a method's top k, cross-fitted, against the transfer budget (mean over targets)", fontsize=10)
    save_figure(fig, path)


def read_seconds(transfer_metrics: list[str | Path] | None, seconds: str | Path | None) -> pd.DataFrame | None:
    """Per-run job-seconds: from a TSV (source, target, seed, seconds), else from the runs' records."""
    if seconds:
        return read_table(seconds, "job-seconds table")
    return gather_run_seconds(transfer_metrics) if transfer_metrics else None


def run_budget(
    per_seed: pd.DataFrame,
    rankings: list[str | Path] | None,
    seconds: pd.DataFrame | None,
    paths: BudgetPaths,
    ks: list[int],
    level: float = 0.95,
    targets: list[str] | None = None,
) -> str:
    """The budget of a run or of plain tables (``targets``: judge only these); returns the terminal text."""
    ranks = pd.concat([read_table(r, "rankings table") for r in rankings], ignore_index=True) if rankings else None
    if targets:
        keep = {str(t) for t in targets}
        per_seed = per_seed[per_seed["target"].astype(str).isin(keep)]
        ranks = ranks[ranks["target"].astype(str).isin(keep)] if ranks is not None else None
    summary = write_budget(per_seed, ranks, seconds, paths, ks, level)
    return terminal_text(summary, ks)
