"""Print a finished run's findings as Markdown, for the README and docs/measured.md.

    .venv/bin/python scripts/findings.py runs/study_design

Reads only the run's own tables (results/eval/*.tsv, logs/design_pairs.log, benchmarks/): the
signal shares with their permutation null and p-values, which tasks learn, every method's mean
Spearman, NDCG, Regret@1/@3, regret_xfit@1 and top-1 gain with t intervals over targets,
each method's difference from cosine_mean (the primary comparison first, the rest Holm-corrected),
each method's cross-fitted best of top 1 and 3 against brute force's gain and job-seconds, the
gain's variance components (source, target, source x target, seed), the split-half reliability of
the source ranking with each method's mean Spearman beside the noise ceiling, the ILP's solve and
the job-seconds by rule.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pandas as pd

from tasktransfer.analysis.design_power import RELIABILITY_COLUMNS
from tasktransfer.analysis.versus_baseline import t_interval


def _fmt(mean: float, low: float, high: float, digits: int) -> str:
    if pd.isna(mean):
        return ""
    if pd.isna(low):
        return f"{mean:+.{digits}f}"
    return f"{mean:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def method_table(intervals: pd.DataFrame) -> str:
    metrics = [("spearman", 2), ("ndcg", 2), ("regret@1", 1), ("regret@3", 1), ("regret_xfit@1", 1), ("top1_gain", 2)]
    present = [(m, d) for m, d in metrics if m in set(intervals.metric)]
    gains = intervals[intervals.metric == "top1_gain"].set_index("method")["mean"]
    oracle = gains.get("brute_force_xfit")  # the share of the honest oracle's top-1 gain a method recovers
    share = ["of xfit top-1"] if oracle is not None and oracle > 0 else []
    lines = ["| method | " + " | ".join([*(m for m, _ in present), *share]) + " |", "|---" * (len(present) + len(share) + 1) + "|"]
    for method, part in intervals.groupby("method", sort=False):
        row = part.set_index("metric")
        cells = [_fmt(*row.loc[m, ["mean", "low", "high"]], d) if m in row.index else "" for m, d in present]
        if share:
            cells.append(f"{100 * gains[method] / oracle:.0f} %" if method in gains.index else "")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def versus_table(versus: pd.DataFrame) -> str:
    metrics = list(dict.fromkeys(versus.metric))
    lines = ["| method − cosine_mean | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for method, part in versus.groupby("method", sort=False):
        row = part.set_index("metric")
        cells = []
        for m in metrics:
            if m not in row.index:
                cells.append("")
                continue
            text = _fmt(row.loc[m, "diff"], row.loc[m, "low"], row.loc[m, "high"], 2)
            cells.append(f"**{text}**" if str(row.loc[m, "beats_baseline"]) == "True" else text)
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def budget_table(summary: pd.DataFrame, ks: tuple[int, ...] = (1, 3)) -> str:
    """Each method's cross-fitted best of its top k (k = 1, 3): gain, its share of the cross-fitted
    brute force's, and the share of brute force's job-seconds it costs."""
    rows = summary[summary.k.isin(ks)]
    if rows.empty:
        return "\n## Best of top k against the transfer budget\n\nnot computed (needs 2 seeds or more)"
    paired = "minus_brute_force" in rows.columns  # evaluations before the paired difference lack it
    lines = ["\n## Best of top k against the transfer budget (cross-fitted; gains and differences: t intervals over "
             "targets, shares: bootstrap over targets)\n",
             "| method | k | gain | share of brute force's gain | minus brute force's gain | share of its job-seconds |",
             "|---|---|---|---|---|---|"]
    for r in rows.sort_values(["k", "gain"], ascending=[True, False]).itertuples():
        share = _fmt(100 * r.gain_share, 100 * r.gain_share_lo, 100 * r.gain_share_hi, 0)
        minus = _fmt(r.minus_brute_force, r.minus_brute_force_lo, r.minus_brute_force_hi, 2) if paired else ""
        lines.append(f"| {r.method} | {r.k} | {_fmt(r.gain, r.gain_lo, r.gain_hi, 2)} | {share} % | {minus} "
                     f"| {100 * r.seconds_share:.0f} % |")
    bf = rows.brute_force_gain.iloc[0]
    lines.append(f"\nbrute force, cross-fitted: {bf:+.2f} points at top-1 over {int(rows.targets.max())} targets")
    return "\n".join(lines)


def ceiling_table(ceiling: pd.DataFrame) -> str:
    """Means over targets of the split-half reliability, its Spearman-Brown step-up and the noise
    ceiling, then each method's mean Spearman and its share of the mean ceiling (what a method could
    reach if it ranked the true gains perfectly, given the seed noise of the matrix)."""
    ceiling = ceiling[ceiling["target"] != "mean"]  # the table's own last row: the means, recomputed here with intervals
    top = float(ceiling["ceiling"].mean())
    lines = [f"\n## Noise ceiling: per target the split-half reliability of the source ranking, over {len(ceiling)} targets "
             "[95 % t interval over targets]\n", "| quantity | mean | share of the ceiling |", "|---|---|---|"]
    for name in ["split_half", "reliability", "ceiling"]:
        lines.append(f"| {name} | {_fmt(*t_interval(ceiling[name].dropna())[:3], 2)} | |")
    methods = [c for c in ceiling.columns if c not in RELIABILITY_COLUMNS]
    spearman = {m: t_interval(ceiling[m].dropna())[:3] for m in methods}  # mean, low, high
    for method in sorted(methods, key=lambda m: -spearman[m][0]):
        share = f"{100 * spearman[method][0] / top:.0f} %" if top > 0 else ""
        lines.append(f"| {method} (Spearman) | {_fmt(*spearman[method], 2)} | {share} |")
    return "\n".join(lines)


def job_seconds(run: Path) -> pd.DataFrame:
    rows = []
    for path in sorted((run / "benchmarks").rglob("*.tsv")):
        rule = path.relative_to(run / "benchmarks").parts[0].removesuffix(".tsv")
        table = pd.read_csv(path, sep="\t")
        rows.append({"rule": rule, "s": float(table["s"].iloc[-1]), "cpu_time": float(table["cpu_time"].iloc[-1])})
    if not rows:
        return pd.DataFrame(columns=["rule", "jobs", "s", "cpu_time"])
    table = pd.DataFrame(rows)
    return table.groupby("rule").agg(jobs=("s", "size"), s=("s", "sum"), cpu_time=("cpu_time", "sum")).reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the run's working directory (holds results/, logs/, benchmarks/)")
    run = parser.parse_args().run
    ev = run / "results" / "eval"

    signal = pd.read_csv(ev / "signal.tsv", sep="\t")
    print("## Variance of the pair mean gains\n")
    print(signal.to_markdown(index=False, floatfmt=".3f"))
    components = ev / "variance_components.tsv"
    if components.exists():
        print("\n## Variance components of the gain (the seed row: its variance on a mean over the seeds)\n")
        print(pd.read_csv(components, sep="\t").to_markdown(index=False, floatfmt=".3f"))
    headline = (ev / "headline.txt").read_text().strip() if (ev / "headline.txt").exists() else ""
    learn = pd.read_csv(ev / "learnability.tsv", sep="\t") if (ev / "learnability.tsv").exists() else None
    if learn is not None:
        print("\n## Learnability (r1 against the trivial baseline)\n")
        print(learn[["task", "type", "r1", "baseline", "baseline_kind", "margin", "learns"]].to_markdown(index=False, floatfmt=".1f"))
    intervals = pd.read_csv(ev / "intervals.tsv", sep="\t")
    targets = int(intervals.targets.max())
    print(f"\n## Methods: mean over {targets} targets [95 % t interval over targets]\n")
    print(method_table(intervals))
    print("\n## Against cosine_mean (bold: the primary's interval clears zero, or an exploratory row survives Holm, on the good side)\n")
    print(versus_table(pd.read_csv(ev / "versus_cosine.tsv", sep="\t")))
    if headline:
        print(f"\n{headline}")
    if (ev / "noise_ceiling.tsv").exists():
        print(ceiling_table(pd.read_csv(ev / "noise_ceiling.tsv", sep="\t")))
    budget = ev / "budget_summary.tsv"
    if budget.exists():
        print(budget_table(pd.read_csv(budget, sep="\t")))
    log = run / "logs" / "design_pairs.log"
    if log.exists():
        print("\n## Pair design\n")
        for line in log.read_text().splitlines():
            if re.search(r"solver status|scorer pairs into|cost model|learnable pool tasks", line):
                print(f"    {line.strip()}")
    jobs = job_seconds(run)
    if len(jobs):
        print("\n## Job-seconds by rule (benchmarks/)\n")
        print(jobs.sort_values("s", ascending=False).to_markdown(index=False, floatfmt=".0f"))
        print(f"\ntotal: {jobs.s.sum():.0f} job-seconds wall, {jobs.cpu_time.sum():.0f} CPU-seconds, {int(jobs.jobs.sum())} jobs with a benchmark")


if __name__ == "__main__":
    main()
