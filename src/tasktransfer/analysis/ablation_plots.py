"""Figures of the paper's analyses (ablations.py tables), as PNG for the report."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on clusters and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from tasktransfer.analysis.plots import save_figure  # noqa: E402


def _errorbars(part: pd.DataFrame, value: str) -> np.ndarray | None:
    lo, hi = part[f"{value}_lo"].to_numpy(float), part[f"{value}_hi"].to_numpy(float)
    if np.isnan(lo).all():
        return None
    v = part[value].to_numpy(float)
    return np.vstack([np.nan_to_num(v - lo), np.nan_to_num(hi - v)])


def sweep_figure(table: pd.DataFrame, key: str, path: Path, xlabel: str, log_x: bool = False) -> None:
    """Figures 2 and 3: gain of the scorer's best-of-top-k pick and its Spearman against ``key``;
    brute force as a dashed line per k."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8))
    scorer = table[table.method == "scorer"]
    reference = table[table.method != "scorer"]
    for i, k in enumerate(sorted(scorer.k.unique())):
        part = scorer[scorer.k == k].sort_values(key)
        colour = plt.get_cmap("tab10")(i)
        left.errorbar(part[key], part.gain, yerr=_errorbars(part, "gain"), marker="o", capsize=3, color=colour,
                      label=f"scorer, best of top-{k}")
        bf = reference[(reference.method == "brute_force") & (reference.k == k)]
        if len(bf) and k == scorer.k.min():
            left.axhline(float(bf.gain.iloc[0]), color="grey", ls="--", lw=1, label="brute force")
        if k == scorer.k.min():
            right.errorbar(part[key], part.spearman, yerr=_errorbars(part, "spearman"), marker="o", capsize=3,
                           color=colour, label="scorer")
    bf = reference[(reference.method == "brute_force") & (reference.k == scorer.k.min())]
    if len(bf) and np.isfinite(float(bf.spearman.iloc[0])):
        right.axhline(float(bf.spearman.iloc[0]), color="grey", ls="--", lw=1, label="brute force (seed-mean order)")
    values = sorted(scorer[key].dropna().unique())
    for ax in (left, right):
        ax.set_xlabel(xlabel)
        if log_x:
            ax.set_xscale("log")
            ax.minorticks_off()
        ax.set_xticks(values, [f"{v:g}" for v in values])
        ax.axhline(0, color="black", lw=0.6)
        ax.legend(fontsize=7)
    left.set_ylabel("gain over no transfer (points)")
    right.set_ylabel("Spearman with the true gains")
    left.set_title("Gain of the pick, mean over targets\n(bars: interval over seeds)", fontsize=9)
    right.set_title("Ranking quality per seed, mean over targets\n(bars: interval over seeds)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


def unseen_type_figure(table: pd.DataFrame, path: Path) -> None:
    """Section 4.6.2: top-1 gain and Spearman per method, one group per held-out type."""
    part = table[table.k == table.k.min()] if "k" in table and table.k.notna().any() else table.iloc[0:0]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    if part.empty:
        for ax in (left, right):
            ax.text(0.5, 0.5, "no task type among both sources and targets", ha="center", va="center",
                    transform=ax.transAxes)
            ax.set_axis_off()
        save_figure(fig, path)
        return
    labels = [f"{r.type}\n{r.method}" for r in part.itertuples(index=False)]
    x = np.arange(len(part))
    colours = ["tab:red" if m == "scorer_without_type" else "tab:blue" if m == "scorer" else "grey"
               for m in part.method]
    left.bar(x, part.gain, yerr=_errorbars(part, "gain"), color=colours, capsize=3)
    right.bar(x, part.spearman, yerr=_errorbars(part, "spearman"), color=colours, capsize=3)
    for ax, label in ((left, "top-1 gain (points)"), (right, "Spearman with the true gains")):
        ax.set_xticks(x, labels, rotation=60, ha="right", fontsize=7)
        ax.axhline(0, color="black", lw=0.6)
        ax.set_ylabel(label)
    fig.suptitle("Targets of a task type never seen by the scorer (red) vs the full scorer (blue) and baselines",
                 fontsize=9)
    save_figure(fig, path)


def size_figure(table: pd.DataFrame, path: Path) -> None:
    """Figure 4: absolute gain of each method's top-1 source against the target's training size."""
    mean = table[table.target == "(mean)"].copy()
    sizes = sorted(mean["size"].astype(str).unique(), key=lambda s: float("inf") if s == "all" else float(s))
    x = {s: i for i, s in enumerate(sizes)}
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    methods = sorted(mean.method.unique())
    for i, (method, part) in enumerate(mean.groupby("method", sort=True)):
        shift = 0.06 * (i - (len(methods) - 1) / 2)  # side by side, so the bars do not hide each other
        part = part.assign(_x=[x[str(s)] + shift for s in part["size"]]).sort_values("_x")
        ax.errorbar(part._x, part.gain, yerr=_errorbars(part, "gain"), marker="o", capsize=3, label=str(method))
    ax.set_xticks(range(len(sizes)), sizes)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xlabel("target training examples")
    ax.set_ylabel("gain over no transfer at that size (points)")
    ax.set_title("Transfer from each method's top-1 source, mean over targets", fontsize=9)
    ax.legend(fontsize=8)
    save_figure(fig, path)


def finetune_figure(table: pd.DataFrame, path: Path) -> None:
    """Table 3 as bars: each target's fully fine-tuned score from the pretrained weights and after
    the method's chosen source."""
    part = table[table.target != "(mean)"]
    fig, ax = plt.subplots(figsize=(1.5 + 1.2 * max(1, len(part)), 3.8))
    x = np.arange(len(part))
    ax.bar(x - 0.2, part.no_transfer, 0.4, label="from pretrained")
    ax.bar(x + 0.2, part.score, 0.4, label="after the chosen source")
    for i, r in enumerate(part.itertuples(index=False)):
        ax.text(i + 0.2, r.score, f"{r.gain:+.1f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, [f"{r.target}\n({r.method}: {r.source})" for r in part.itertuples(index=False)], fontsize=7)
    ax.set_ylabel("dev score after full fine-tuning (x100)")
    ax.set_title("Intermediate-task full fine-tuning (numbers: gain)", fontsize=9)
    ax.legend(fontsize=8)
    save_figure(fig, path)
