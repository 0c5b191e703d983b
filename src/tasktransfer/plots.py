"""Figures of a finished run (PNG, for the Snakemake report)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on clusters and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .results import mean_gains  # noqa: E402


def _save(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)


def gain_heatmap(gains: pd.DataFrame, tasks: pd.DataFrame, path: Path) -> None:
    """Mean gain of every trained pair: rows are sources, columns targets (pool tasks first)."""
    g = mean_gains(gains)
    order = list(tasks.sort_values(["role", "task"], ascending=[False, True]).task)
    rows = [t for t in order if t in set(g.source)]
    cols = [t for t in order if t in set(g.target)]
    matrix = g.pivot(index="source", columns="target", values="gain").reindex(index=rows, columns=cols)
    values = matrix.to_numpy(dtype=float)
    limit = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 1.0
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * len(cols), 1.0 + 0.42 * len(rows)))
    im = ax.imshow(values, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    targets = set(tasks[tasks.role == "target"].task)
    for label in ax.get_xticklabels():
        if label.get_text() in targets:
            label.set_fontweight("bold")
    for i in range(len(rows)):
        for j in range(len(cols)):
            if np.isfinite(values[i, j]):
                ax.text(j, i, f"{values[i, j]:+.1f}", ha="center", va="center", fontsize=7)
    ax.set_xlabel("target (bold: held-out target)")
    ax.set_ylabel("source")
    fig.colorbar(im, ax=ax, label="gain over no transfer (points)")
    ax.set_title("Transfer gain r2 - r1 (blank: pair not trained)")
    _save(fig, path)


def scorer_held_out(scorer_metrics: dict, path: Path) -> None:
    """Cross-validated predicted gain against the true gain of the scorer's training pairs."""
    held = pd.DataFrame(scorer_metrics["held_out"])
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.scatter(held.gain, held.predicted, s=18, alpha=0.8)
    lo = float(min(held.gain.min(), held.predicted.min()))
    hi = float(max(held.gain.max(), held.predicted.max()))
    ax.plot([lo, hi], [lo, hi], color="grey", lw=1, ls="--")
    ax.set_xlabel("true gain")
    ax.set_ylabel("predicted gain (held-out fold)")
    from .metrics import pearson, spearman

    ax.set_title(f"Scorer on unseen pairs: Spearman {spearman(held.gain, held.predicted):.2f}, "
                 f"Pearson {pearson(held.gain, held.predicted):.2f}", fontsize=9)
    _save(fig, path)


def method_gains(summary: pd.DataFrame, path: Path) -> None:
    """Mean gain over no transfer of each method's best-of-top-k pick."""
    ks = sorted(summary.k.unique())
    methods = list(summary[summary.k == ks[0]].sort_values("mean_gain", ascending=False).method)
    width = 0.8 / len(ks)
    fig, ax = plt.subplots(figsize=(1.5 + 0.6 * len(methods), 4))
    for i, k in enumerate(ks):
        part = summary[summary.k == k].set_index("method").reindex(methods)
        ax.bar(np.arange(len(methods)) + i * width, part.mean_gain, width, label=f"top-{k}")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(np.arange(len(methods)) + width * (len(ks) - 1) / 2, methods, rotation=40, ha="right")
    ax.set_ylabel("mean gain over no transfer (points)")
    ax.legend()
    ax.set_title("Gain of each method's pick, mean over targets")
    _save(fig, path)


def make_figures(results: Path, out: Path, tasks_table: Path) -> None:
    gains = pd.read_csv(results / "gains.tsv", sep="\t")
    tasks = pd.read_csv(tasks_table, sep="\t")
    gain_heatmap(gains, tasks, out / "heatmap.png")
    scorer_held_out(json.loads((results / "scorer" / "metrics.json").read_text()), out / "scorer_held_out.png")
    method_gains(pd.read_csv(results / "eval" / "summary.tsv", sep="\t"), out / "methods.png")
