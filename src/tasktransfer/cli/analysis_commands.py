"""Commands that analyse a run: evaluation, task table, noise, signal, figures, novel targets."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tasktransfer.cli.common import json_arg, list_arg
from tasktransfer.runtime import log


def cmd_evaluate(a: argparse.Namespace) -> None:
    from tasktransfer.analysis.report_tables import run_evaluation

    from tasktransfer.analysis.report_tables import read_table

    printed = run_evaluation(
        transfer=a.transfer,
        no_transfer=a.no_transfer,
        selections=a.selections,
        rankings=a.rankings,
        ks=[int(k) for k in a.ks],
        out_dir=Path(a.out),
        per_seed=read_table(a.per_seed, "per-seed gains table") if a.per_seed else None,
        level=a.level,
        primary=_primary(a),
    )
    print(printed)


def _primary(a: argparse.Namespace):
    """The comparison named before the run (``selection.primary``), from --primary*."""
    from tasktransfer.analysis.versus_baseline import Primary

    return Primary(method=a.primary, baseline=a.primary_baseline, metric=a.primary_metric)


def _add_primary_args(s) -> None:
    """--primary, --primary-baseline, --primary-metric: the one comparison named before the run."""
    s.add_argument("--primary", default="logme", help="the primary comparison's method (reported first, tested alone)")
    s.add_argument("--primary-baseline", default="cosine_mean", help="the primary comparison's baseline")
    s.add_argument("--primary-metric", default="spearman", choices=["spearman", "ndcg", "regret@1", "top1_gain"],
                   help="the primary comparison's metric (per target, then the mean over targets)")


def cmd_evaluate_run(a: argparse.Namespace) -> None:
    from tasktransfer.run_layout import CONTROL
    from tasktransfer.analysis.budget_report import BudgetPaths, read_seconds, run_budget
    from tasktransfer.analysis.report_tables import read_table, run_evaluation, run_tables
    from tasktransfer.io import atomic_write_text

    transfer, no_transfer = run_tables(a.gains, a.no_transfer)
    # one row per transfer run: the cross-fitted brute force picks on half the seeds
    per_seed = read_table(a.gains, "gains table")
    per_seed = per_seed[per_seed.target.isin(a.targets) & (per_seed.source != CONTROL)]
    # the sampled pool pairs train the scorer; only the held-out targets are judged
    # the control init is judged in the noise table, never picked as a source
    transfer = transfer[transfer.target.isin(a.targets) & (transfer.source != CONTROL)]
    no_transfer = no_transfer[no_transfer.target.isin(a.targets)]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    # the plain tables that `tasktransfer evaluate` takes, so any run can be re-scored by hand
    atomic_write_text(out / "transfer.tsv", transfer.to_csv(sep="\t", index=False))
    atomic_write_text(out / "no_transfer.tsv", no_transfer.to_csv(sep="\t", index=False))
    atomic_write_text(out / "per_seed.tsv", per_seed[["source", "target", "seed", "gain"]].to_csv(sep="\t", index=False))
    print(run_evaluation(transfer, no_transfer, None, a.rankings, [int(k) for k in a.ks], out, per_seed, a.level,
                         _primary(a)))
    # each method's best of top k, cross-fitted, against the job-seconds of its k transfers
    paths = BudgetPaths.in_folder(out, a.budget_figure)
    seconds = read_seconds(a.transfer_metrics, None)
    print(run_budget(per_seed, a.rankings, seconds, paths, [int(k) for k in a.ks], a.level, a.targets))


def cmd_budget(a: argparse.Namespace) -> None:
    from tasktransfer.analysis.budget_report import BudgetPaths, read_seconds, run_budget
    from tasktransfer.analysis.report_tables import read_table

    paths = BudgetPaths.in_folder(a.out, a.figure)
    seconds = read_seconds(a.transfer_metrics, a.seconds)
    per_seed = read_table(a.per_seed, "per-seed gains table")
    print(run_budget(per_seed, a.rankings, seconds, paths, [int(k) for k in a.ks], a.level, a.targets))


def cmd_task_table(a: argparse.Namespace) -> None:
    from tasktransfer.analysis.task_table import task_rows, write_task_table

    table = task_rows(a.meta, a.no_transfer, a.pool_scores, a.types, a.target_train, a.targets, a.novel,
                      a.target_sizes)
    write_task_table(table, a.out, a.out_html)


def cmd_noise(a: argparse.Namespace) -> None:
    import pandas as pd

    from tasktransfer.analysis.uncertainty import method_noise_table
    from tasktransfer.io import atomic_write_text

    per_target = pd.read_csv(a.per_target, sep="\t")
    intervals = pd.read_csv(a.intervals, sep="\t")
    table = method_noise_table(per_target, intervals, a.level)
    atomic_write_text(a.out, table.to_csv(sep="\t", index=False, float_format="%.3f"))
    print(table.round(2).to_string(index=False))


def cmd_signal(a: argparse.Namespace) -> None:
    """Two-way variance shares of the gains beside their permutation null, the like-with-like
    seed-noise verdict, and per-target spreads against the noise of a mean."""
    from tasktransfer.analysis.signal_report import write_signal

    shares, found = write_signal(a.gains, a.no_transfer, a.permutations, a.seed, a.out, a.figure)
    print(shares.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(found.sentence())


def cmd_figures(a: argparse.Namespace) -> None:
    import pandas as pd

    from tasktransfer.analysis.plots import make_figures
    from tasktransfer.analysis.report_tables import read_table
    from tasktransfer.prompting.prompt_files import load_prompt

    gains = pd.concat([read_table(g, "gains table") for g in a.gains], ignore_index=True)
    intervals = read_table(a.intervals, "intervals table") if a.intervals else None
    # a task's embedding is named by the task its prompt file records
    prompts = {str(load_prompt(f).metadata.get("task") or Path(f).parent.parent.name): Path(f) for f in a.prompt_files}
    make_figures(
        Path(a.out),
        gains=gains,
        tasks=read_table(a.tasks, "task table"),
        summary=read_table(a.summary, "summary table"),
        scorer_metrics=json.loads(Path(a.scorer_metrics).read_text()),
        intervals=intervals,
        prompts=prompts or None,
    )
    log(f"figures written to {a.out}")


def cmd_novel_table(a: argparse.Namespace) -> None:
    import pandas as pd

    from tasktransfer.analysis.gather import gather_gains
    from tasktransfer.analysis.report_tables import novel_table
    from tasktransfer.io import atomic_write_text

    rankings = pd.concat([pd.read_csv(f, sep="\t") for f in a.rankings], ignore_index=True)
    selected = pd.concat([pd.read_csv(f, sep="\t") for f in a.selected], ignore_index=True)
    table = novel_table(rankings, selected, gather_gains(a.transfer_metrics))
    atomic_write_text(a.out, table.to_csv(sep="\t", index=False, float_format="%.4f"))
    if a.out_html:
        from tasktransfer.analysis.report_tables import NOVEL_NOTE, write_html

        write_html(Path(a.out_html), table, "Novel targets: the pool ranked by the scorer", NOVEL_NOTE)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}", na_rep="-"))


# long: a flat table of argparse options, one subcommand after another
def add_commands(sub) -> None:
    """Register this family's subcommands: evaluate, evaluate-run, budget, task-table, noise, signal, figures,
    novel-table."""
    s = sub.add_parser("evaluate", help="score selections against brute force, from plain tables")
    s.add_argument("--transfer", required=True, help="TSV: source, target, score")
    s.add_argument("--no-transfer", required=True, help="TSV: target, score")
    s.add_argument("--selections", help="TSV: method, target, source (best first)")
    s.add_argument("--rankings", nargs="*", default=[], help="TSVs: method, target, source, score")
    s.add_argument("--ks", type=list_arg, default=["1", "3"])
    s.add_argument("--per-seed", help="TSV: source, target, seed, gain (one row per run): adds the cross-fitted brute force")
    s.add_argument("--level", type=float, default=0.95,
                   help="coverage of the t intervals over targets (1 - level: the tests' alpha)")
    _add_primary_args(s)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("evaluate-run", help="evaluate a workflow run (its gains, no-transfer scores, rankings)")
    s.add_argument("--gains", required=True)
    s.add_argument("--no-transfer", required=True)
    s.add_argument("--rankings", nargs="*", default=[])
    s.add_argument("--targets", type=list_arg, required=True, help="the targets to judge")
    s.add_argument("--ks", type=list_arg, default=["1", "3"])
    s.add_argument("--level", type=float, default=0.95,
                   help="coverage of the t intervals over targets (1 - level: the tests' alpha)")
    _add_primary_args(s)
    s.add_argument("--transfer-metrics", nargs="*", default=[],
                   help="the judged pairs' transfer metrics.json files (or @list): the budget's job-seconds")
    s.add_argument("--budget-figure", help="PNG of the budget (default: OUT/budget.png)")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_evaluate_run)

    s = sub.add_parser("budget", help="each method's best of top k, cross-fitted, against the job-seconds it costs")
    s.add_argument("--per-seed", required=True, help="TSV: source, target, seed, gain (one row per transfer run)")
    s.add_argument("--rankings", nargs="*", default=[], help="TSVs: method, target, source, score")
    s.add_argument("--seconds", help="TSV: source, target, seed, seconds (job-seconds per run)")
    s.add_argument("--transfer-metrics", nargs="*", default=[],
                   help="transfer metrics.json files (or @list), read for job-seconds where --seconds is not given")
    s.add_argument("--targets", type=list_arg, default=[], help="judge only these targets (default: all)")
    s.add_argument("--ks", type=list_arg, default=["1", "3"], help="the ks of the HTML view and the printed table")
    s.add_argument("--level", type=float, default=0.95, help="bootstrap interval over targets")
    s.add_argument("--out", required=True, help="folder for budget.tsv, budget_summary.tsv, budget.html")
    s.add_argument("--figure", help="PNG of the budget (default: OUT/budget.png)")
    s.set_defaults(func=cmd_budget)

    s = sub.add_parser("task-table", help="one row per task: type, sizes, metric, pool score and no-transfer score")
    s.add_argument("--meta", nargs="+", required=True)
    s.add_argument("--no-transfer", required=True, help="target-role r1 per task and seed")
    s.add_argument("--pool-scores", help="pool prompts' dev scores per task and seed")
    s.add_argument("--types", type=json_arg, default={}, help="JSON task -> type (from the registry)")
    s.add_argument("--target-train", type=int, default=0, help="data.target_train of the run (0: no cap)")
    s.add_argument("--target-sizes", type=json_arg, default={},
                   help="JSON {task: size}: the tasks tuned at a size of their own as targets")
    s.add_argument("--sources", type=list_arg, default=[])
    s.add_argument("--targets", type=list_arg, default=[])
    s.add_argument("--novel", type=list_arg, default=[], help="novel targets (role 'novel')")
    s.add_argument("--out", required=True)
    s.add_argument("--out-html", help="the same table as a web page (report view)")
    s.set_defaults(func=cmd_task_table)

    s = sub.add_parser("noise", help="each method's mean gain with intervals, over no transfer and over the control")
    s.add_argument("--per-target", required=True, help="per_target.tsv of an evaluation")
    s.add_argument("--intervals", required=True, help="gain_intervals.tsv of the gains step")
    s.add_argument("--level", type=float, default=0.95)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_noise)

    s = sub.add_parser("signal", help="how much of the gains' variance the source explains, against seed noise")
    s.add_argument("--gains", nargs="+", required=True, help="long TSVs: source, target, seed, gain (more columns allowed)")
    s.add_argument("--no-transfer", help="TSV: task, seed, score (r1 per seed), for per-target seed spreads")
    s.add_argument("--out", required=True, help="folder for signal.tsv, signal_targets.tsv, signal.txt, signal.html")
    s.add_argument("--figure", help="PNG of the shares and per-target spreads (default: OUT/signal.png)")
    s.add_argument("--permutations", type=int, default=999, help="draws of the permutation null of the shares")
    s.add_argument("--seed", type=int, default=0, help="seed of the permutation null")
    s.set_defaults(func=cmd_signal)

    s = sub.add_parser("figures", help="draw the report's figures from a finished run")
    s.add_argument("--gains", nargs="+", required=True, help="long gains TSVs (source, target, seed, gain, ...)")
    s.add_argument("--intervals", help="gain_intervals.tsv: marks gains inside noise on the heatmap")
    s.add_argument("--tasks", required=True, help="the task table (results/eval/tasks.tsv)")
    s.add_argument("--summary", required=True, help="results/eval/summary.tsv")
    s.add_argument("--scorer-metrics", required=True, help="results/scorer/metrics.json")
    s.add_argument("--prompt-files", nargs="*", default=[], help="prompt files of the embedding map")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_figures)

    s = sub.add_parser("novel-table", help="per novel target: the pool ranked by the scorer and the top-k's results")
    s.add_argument("--rankings", nargs="+", required=True, help="rank TSVs of the novel targets (scorer and baselines)")
    s.add_argument("--selected", nargs="+", required=True, help="selected.tsv of each novel target")
    s.add_argument("--transfer-metrics", nargs="*", default=[])
    s.add_argument("--out", required=True)
    s.add_argument("--out-html", help="the same table as a web page (report view)")
    s.set_defaults(func=cmd_novel_table)
