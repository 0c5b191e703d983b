"""Figures of a finished run (PNG, for the Snakemake report)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on clusters and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from tasktransfer.analysis.gather import mean_gains  # noqa: E402


def save_figure(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)


def gain_heatmap(
    gains: pd.DataFrame, tasks: pd.DataFrame, path: Path, intervals: pd.DataFrame | None = None
) -> dict[tuple[str, str], str]:
    """Mean gain of every trained pair: rows are sources, columns targets (pool tasks first).

    With ``intervals`` (gain_intervals.tsv), a gain whose interval holds 0 is printed in grey
    parentheses: inside noise. Returns the label drawn in each cell, keyed by (source, target).
    """
    drawn: dict[tuple[str, str], str] = {}
    noisy = set()
    if intervals is not None and len(intervals):
        noisy = {(r.source, r.target) for r in intervals.itertuples(index=False) if bool(r.inside_noise)}
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
                inside = (rows[i], cols[j]) in noisy
                text = f"({values[i, j]:+.1f})" if inside else f"{values[i, j]:+.1f}"
                drawn[(rows[i], cols[j])] = text
                ax.text(j, i, text, ha="center", va="center", fontsize=7, color="dimgrey" if inside else "black")
    ax.set_xlabel("target (bold: held-out target)")
    ax.set_ylabel("source")
    fig.colorbar(im, ax=ax, label="gain over no transfer (points)")
    title = "Transfer gain r2 - r1 (blank: pair not trained)"
    if noisy:
        title += "\n(grey, in parentheses: inside noise, the interval holds 0)"
    ax.set_title(title)
    save_figure(fig, path)
    return drawn


def held_out_points(scorer_metrics: dict) -> tuple[pd.DataFrame, str]:
    """The scorer's cross-validated predictions beside the label it learned for each pair (the gain
    as ``scorer.target_label`` makes it: centred within its target by default), and that label's
    kind; metrics written before labels were recorded give the raw gain."""
    held = pd.DataFrame(scorer_metrics["held_out"])
    if held.empty:
        return pd.DataFrame(columns=["source", "target", "truth", "predicted"]), "raw"
    if "label" in held:
        return held.assign(truth=held["label"]), scorer_metrics.get("target_label", "raw")
    return held.assign(truth=held["gain"]), "raw"


def scorer_held_out(scorer_metrics: dict, path: Path) -> None:
    """Cross-validated prediction against the label learned, for the scorer's training pairs (folds
    grouped by target task: each prediction comes from a model that saw no pair of its target),
    so the diagonal is what a perfect scorer would reach."""
    held, kind = held_out_points(scorer_metrics)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    if held.empty:
        ax.text(0.5, 0.5, "no held-out predictions:\ntoo few pairs for cross-validation\ngrouped by target task",
                ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        save_figure(fig, path)
        return
    ax.scatter(held.truth, held.predicted, s=18, alpha=0.8)
    lo = float(min(held.truth.min(), held.predicted.min()))
    hi = float(max(held.truth.max(), held.predicted.max()))
    ax.plot([lo, hi], [lo, hi], color="grey", lw=1, ls="--")
    ax.set_xlabel("true gain" if kind == "raw" else f"true gain, {kind} within its target (the label learned)")
    ax.set_ylabel("prediction (fold without the target's pairs)")
    from tasktransfer.metrics import pearson, spearman

    ax.set_title(f"Scorer on unseen targets: Spearman {spearman(held.truth, held.predicted):.2f}, "
                 f"Pearson {pearson(held.truth, held.predicted):.2f}", fontsize=9)
    save_figure(fig, path)


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
    save_figure(fig, path)


def _type_colours(types) -> dict[str, tuple]:
    """One colour per task type, the same type always the same colour within a figure."""
    kinds = sorted(set(types))
    cmap = plt.get_cmap("tab10" if len(kinds) <= 10 else "tab20")
    return {t: cmap(i % cmap.N) for i, t in enumerate(kinds)}


def gains_by_target(gains: pd.DataFrame, tasks: pd.DataFrame, path: Path, targets: list[str] | None = None) -> None:
    """The paper's Figure 5: every source's gain on each target, coloured by the source's task type.

    A violin shows the spread where a target has at least three sources; each point is one source
    (mean over seeds, jittered sideways); the dashed line is no transfer (gain 0).
    """
    g = mean_gains(gains)
    control = g[g.source.astype(str).str.startswith("_")]  # a control init, not a pool task
    g = g[~g.source.astype(str).str.startswith("_")]
    if targets is None:
        targets = sorted(tasks[tasks.role == "target"].task)
    targets = [t for t in targets if t in set(g.target)]
    kind = dict(zip(tasks.task, tasks["type"].astype(str)))
    colours = _type_colours(kind.get(s, "?") for s in g.source)
    fig, ax = plt.subplots(figsize=(1.8 + 1.3 * max(1, len(targets)), 4))
    rng = np.random.default_rng(0)  # jitter only; the same figure every run
    for i, target in enumerate(targets):
        part = g[g.target == target].sort_values("source")
        if len(part) >= 3 and part.gain.nunique() > 1:
            body = ax.violinplot(part.gain, positions=[i], widths=0.8, showextrema=False)
            for b in body["bodies"]:
                b.set_facecolor("lightgrey")
                b.set_alpha(0.6)
        x = i + rng.uniform(-0.18, 0.18, len(part))
        ax.scatter(x, part.gain, c=[colours[kind.get(s, "?")] for s in part.source], s=28, edgecolor="black", lw=0.4, zorder=3)
        ctrl = control[control.target == target]
        if len(ctrl):
            ax.scatter([i] * len(ctrl), ctrl.gain, marker="x", color="black", s=60, lw=1.5, zorder=4)
    ax.axhline(0, color="black", lw=0.8, ls="--")
    ax.set_xticks(range(len(targets)), targets, rotation=30, ha="right")
    ax.set_xlim(-0.6, len(targets) - 0.4)
    ax.set_ylabel("gain over no transfer (points)")
    ax.set_xlabel("target")
    handles = [plt.Line2D([], [], ls="", marker="o", color=c, markeredgecolor="black", label=t) for t, c in colours.items()]
    if len(control):
        handles.append(plt.Line2D([], [], ls="", marker="x", color="black", label="control init"))
    ax.legend(handles=handles, title="source type", bbox_to_anchor=(1.02, 1), loc="upper left", fontsize=8)
    ax.set_title("Gain of every source on each target")
    save_figure(fig, path)


def pca_2d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of x projected on their first two principal components (numpy SVD); and the explained shares."""
    centred = x - x.mean(0, keepdims=True)
    u, sv, _ = np.linalg.svd(centred, full_matrices=False)
    coords = u[:, :2] * sv[:2]
    if coords.shape[1] < 2:
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
    total = float((sv**2).sum())
    shares = (sv[:2] ** 2) / total if total else np.zeros(2)
    return coords, np.pad(shares, (0, 2 - len(shares)))


def embedding_map(embeddings: dict, tasks: pd.DataFrame, path: Path) -> None:
    """Task embeddings P (mean-pooled over the L prompt tokens) in 2-D by PCA, coloured by task type."""
    names = sorted(embeddings)
    x = np.stack([np.asarray(embeddings[n], dtype=np.float64).mean(0) for n in names])
    coords, shares = pca_2d(x)
    info = tasks.set_index("task")
    kind = {n: str(info.loc[n, "type"]) if n in info.index else "?" for n in names}
    role = {n: str(info.loc[n, "role"]) if n in info.index else "source" for n in names}
    colours = _type_colours(kind.values())
    markers = {"source": "o", "target": "*", "novel": "D"}
    fig, ax = plt.subplots(figsize=(6, 4.8))
    for r, marker in markers.items():
        idx = [i for i, n in enumerate(names) if role[n] == r]
        if idx:
            ax.scatter(coords[idx, 0], coords[idx, 1], c=[colours[kind[names[i]]] for i in idx], marker=marker,
                       s=110 if marker == "*" else 50, edgecolor="black", lw=0.4, zorder=3)
    for i, n in enumerate(names):
        ax.annotate(n, coords[i], textcoords="offset points", xytext=(4, 4), fontsize=7)
    handles = [plt.Line2D([], [], ls="", marker="o", color=c, markeredgecolor="black", label=t) for t, c in colours.items()]
    handles += [plt.Line2D([], [], ls="", marker=m, color="white", markeredgecolor="black", label=r)
                for r, m in markers.items() if r in set(role.values())]
    ax.legend(handles=handles, title="type / role", bbox_to_anchor=(1.02, 1), loc="upper left", fontsize=8)
    ax.set_xlabel(f"PC1 ({100 * shares[0]:.0f}% of variance)")
    ax.set_ylabel(f"PC2 ({100 * shares[1]:.0f}% of variance)")
    ax.set_title("Task embeddings (mean-pooled prompt), PCA")
    save_figure(fig, path)


def make_figures(
    out: Path,
    gains: pd.DataFrame,
    tasks: pd.DataFrame,
    summary: pd.DataFrame,
    scorer_metrics: dict,
    intervals: pd.DataFrame | None = None,
    prompts: dict[str, Path] | None = None,
) -> None:
    """Every figure of the report; ``prompts`` (task -> prompt file) adds the embedding map."""
    gain_heatmap(gains, tasks, out / "heatmap.png", intervals)
    gains_by_target(gains, tasks, out / "gains_by_target.png")
    scorer_held_out(scorer_metrics, out / "scorer_held_out.png")
    method_gains(summary, out / "methods.png")
    if prompts:
        from tasktransfer.prompting.prompt_files import load_embeddings

        emb = {name: e.float().numpy() for name, e in load_embeddings(prompts).items()}
        embedding_map(emb, tasks, out / "embeddings.png")


def signal_figure(
    shares: dict[str, float],
    gains: pd.DataFrame,
    targets: pd.DataFrame,
    path: Path,
    adjusted: dict[str, float] | None = None,
) -> None:
    """Left: the shares of gain variance, raw and (``adjusted``) beyond what a permutation null
    with no source main effect gives on the same design. Right: per target, every source's mean gain (dots) against the seed noise of such
    a mean (grey band of +-1 noise_se around the target's mean gain): dots spread well beyond the
    band are a source choice that matters more than seed noise."""
    means = gains.groupby(["target", "source"], sort=True)["gain"].mean().reset_index()
    order = list(targets["target"]) if len(targets) else sorted(means["target"].unique())
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(4.5 + 0.9 * max(3, len(order)), 3.8), gridspec_kw={"width_ratios": [1.4, max(3, len(order))]}
    )
    colours = {"source": "tab:blue", "target": "tab:orange", "residual": "lightgrey"}
    bars = [("raw", shares)] + ([("beyond\nnoise", adjusted)] if adjusted else [])
    for x, (name, values) in enumerate(bars):
        bottom = 0.0
        for factor in ("source", "target", "residual"):
            # an adjusted share can fall below 0 (less than noise gives): drawn as 0, named in the legend
            value = values.get(factor, float("nan"))
            if np.isfinite(value):
                label = f"{factor} {100 * value:.0f} %" if x == 0 else f"{factor} beyond noise {100 * value:.0f} %"
                left.bar(x, max(0.0, value), bottom=bottom, color=colours[factor], label=label,
                         hatch="//" if x else None, edgecolor="white")
                bottom += max(0.0, value)
    left.set_xticks(range(len(bars)), [name for name, _ in bars], fontsize=8)
    left.set_ylim(0, 1)
    left.set_ylabel("share of the variance of mean gains")
    left.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    spread = targets.set_index("target")["noise_se"] if "noise_se" in targets else pd.Series(dtype=float)
    centre = targets.set_index("target")["gain_mean"] if "gain_mean" in targets else pd.Series(dtype=float)
    for x, target in enumerate(order):
        sd, mid = float(spread.get(target, np.nan)), float(centre.get(target, 0.0))
        if np.isfinite(sd):
            right.add_patch(plt.Rectangle((x - 0.35, mid - sd), 0.7, 2 * sd, color="lightgrey", alpha=0.6, lw=0))
        ys = means[means.target == target]["gain"].to_numpy()
        right.scatter(np.full(len(ys), x) + np.linspace(-0.2, 0.2, len(ys)) if len(ys) > 1 else [x] * len(ys), ys, s=14)
    right.axhline(0, color="black", lw=0.8)
    right.set_xticks(range(len(order)), order, rotation=30, ha="right")
    right.set_ylabel("mean gain over seeds (points)")
    right.set_title("sources per target (dots) against the seed noise of a mean (grey: +-1 SE of r2)", fontsize=9)
    fig.subplots_adjust(wspace=0.35, bottom=0.3)
    save_figure(fig, path)
