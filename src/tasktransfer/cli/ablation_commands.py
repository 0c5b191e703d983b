"""Command line of the paper's analyses (workflow/rules/ablations.smk): full fine-tuning, the
picks they transfer, and one table plus figure per analysis. Thin over ablations.py, finetune.py
and ablation_plots.py.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tasktransfer.cli.common import json_arg, keyed_arg, list_arg
from tasktransfer.errors import TaskTransferError
from tasktransfer.runtime import set_threads


def _number(text: str) -> float | int:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def _read_rankings(paths: list[str]):
    import pandas as pd

    from tasktransfer.analysis.report_tables import read_table

    return pd.concat([read_table(p, "rankings table") for p in paths], ignore_index=True)


def _write_table(path: str, table) -> None:
    from tasktransfer.io import atomic_write_text

    atomic_write_text(path, table.to_csv(sep="\t", index=False, float_format="%.4f"))


def _show(table) -> None:
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="-"))


# --- full fine-tuning ------------------------------------------------------------------------------
def cmd_finetune(a: argparse.Namespace) -> None:
    """Fine-tune the whole backbone and a head on one task, optionally from a fine-tuned backbone."""
    from tasktransfer.prompting.finetune_job import FinetuneJob, run_finetune

    set_threads(a.threads)
    job = FinetuneJob(
        data=a.data, backbone=a.backbone, spec=a.spec, seed=a.seed, init_from=a.init_from, max_train=a.max_train
    )
    run_finetune(job, a.out_metrics, a.out_model)


# --- the sources each analysis transfers -------------------------------------------------------------
def cmd_picks(a: argparse.Namespace) -> None:
    from tasktransfer.analysis.ablations import top_picks

    picks = top_picks(_read_rankings(a.rankings), a.methods)
    _write_table(a.out, picks)
    _show(picks)


# --- tables and figures ------------------------------------------------------------------------------
def cmd_sweep(a: argparse.Namespace) -> None:
    """Beta (Figure 2) or M (Figure 3): one scorer per value, its picks' gains and Spearman."""
    from tasktransfer.analysis.ablation_plots import sweep_figure
    from tasktransfer.analysis.ablations import sweep_table
    from tasktransfer.analysis.report_tables import read_table

    by_value: dict = {}
    for key, path in a.rankings:
        by_value.setdefault(_number(key), []).append(path)
    rankings = {value: _read_rankings(paths) for value, paths in sorted(by_value.items())}
    table = sweep_table(a.key, rankings, read_table(a.gains, "gains table"), [int(k) for k in a.ks], a.level)
    _write_table(a.out, table)
    labels = {"beta": "smooth L1 threshold beta", "m": "training pairs M"}
    sweep_figure(table, a.key, Path(a.figure), labels.get(a.key, a.key), log_x=True)
    _show(table)


def cmd_unseen_type(a: argparse.Namespace) -> None:
    """Section 4.6.2: the scorer without a task type, against the full scorer and baselines."""
    from tasktransfer.analysis.ablation_plots import unseen_type_figure
    from tasktransfer.analysis.ablations import unseen_type_table
    from tasktransfer.analysis.report_tables import read_table

    grouped: dict[str, dict[str, list[str]]] = {}
    for key, path in a.rankings:
        kind, sep, method = key.rpartition("/")
        if not sep:
            raise TaskTransferError(f"--rankings {key}=...: the key must be TYPE/METHOD")
        grouped.setdefault(kind, {}).setdefault(method, []).append(path)
    rankings = {kind: {m: _read_rankings(p) for m, p in methods.items()} for kind, methods in grouped.items()}
    table = unseen_type_table(rankings, read_table(a.gains, "gains table"), [int(k) for k in a.ks], a.level, a.skipped)
    _write_table(a.out, table)
    unseen_type_figure(table, Path(a.figure))
    _show(table)


def cmd_size(a: argparse.Namespace) -> None:
    """Figure 4: the gain of each method's top-1 source at each target training size."""
    import pandas as pd

    from tasktransfer.analysis.ablation_plots import size_figure
    from tasktransfer.analysis.ablations import size_of_path, size_table
    from tasktransfer.analysis.gather import GAIN_COLUMNS
    from tasktransfer.io import read_record

    runs = pd.DataFrame([{"size": size_of_path(p), **{k: read_record(p)[k] for k in GAIN_COLUMNS}} for p in a.transfer_metrics])
    picks = pd.concat([pd.read_csv(p, sep="\t") for p in a.picks], ignore_index=True)
    picks = picks[picks.method.isin(a.methods)]
    table = size_table(runs, picks, a.level)
    _write_table(a.out, table)
    size_figure(table, Path(a.figure))
    _show(table)


def cmd_finetune_table(a: argparse.Namespace) -> None:
    """Table 3: full fine-tuning from the pretrained weights and after each method's chosen source."""
    import pandas as pd

    from tasktransfer.analysis.ablation_plots import finetune_figure
    from tasktransfer.analysis.ablation_plan import PRETRAINED
    from tasktransfer.analysis.ablations import finetune_table
    from tasktransfer.io import read_record

    rows = []
    for path in a.runs:
        record = read_record(path)
        init = PRETRAINED if record["init"] == "pretrained" else record["init"]
        rows.append({"init": init, "target": record["task"], "seed": int(record["seed"]), "score": float(record["score"])})
    picks = pd.concat([pd.read_csv(p, sep="\t") for p in a.picks], ignore_index=True)
    picks = picks[picks.method.isin(a.methods)]
    table = finetune_table(pd.DataFrame(rows), picks, a.level)
    _write_table(a.out, table)
    finetune_figure(table, Path(a.figure))
    _show(table)


def add_commands(sub) -> None:
    s = sub.add_parser("finetune", help="fully fine-tune the backbone and a head on one task (Table 3 analysis)")
    s.add_argument("--data", required=True, help="prepared task folder")
    s.add_argument("--backbone", required=True)
    s.add_argument("--init-from", help="a fine-tuned backbone (finetune --out-model) to start from (default: pretrained)")
    s.add_argument("--spec", type=json_arg, default={}, help="JSON of FinetuneSpec fields")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--threads", type=int, default=0)
    s.add_argument("--max-train", type=int, default=0, help="train on the first N examples only (0: all)")
    s.add_argument("--out-metrics", required=True)
    s.add_argument("--out-model", help="save the fine-tuned backbone (safetensors) for a later --init-from")
    s.set_defaults(func=cmd_finetune)

    s = sub.add_parser("ablation-picks", help="each method's top-1 source per target, from rank TSVs")
    s.add_argument("--rankings", nargs="+", required=True)
    s.add_argument("--methods", type=list_arg, default=["scorer", "brute_force", "random"])
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_picks)

    def common(s, rankings: bool = True):
        if rankings:
            s.add_argument("--gains", required=True, help="per-seed gains of the targets (results/gains/target_pairs.tsv)")
            s.add_argument("--ks", type=list_arg, default=["1", "3"])
        s.add_argument("--level", type=float, default=0.95, help="coverage of the intervals over seeds")
        s.add_argument("--out", required=True)
        s.add_argument("--figure", required=True)

    s = sub.add_parser("ablation-sweep", help="beta or M analysis: one scorer per value (Figures 2 and 3)")
    s.add_argument("--key", required=True, help="what varies: beta or m")
    s.add_argument("--rankings", nargs="+", type=keyed_arg, required=True, help="VALUE=rank TSV, one per target and value")
    common(s)
    s.set_defaults(func=cmd_sweep)

    s = sub.add_parser("ablation-unseen-type", help="the scorer on task types it never saw (Section 4.6.2)")
    s.add_argument("--rankings", nargs="*", type=keyed_arg, default=[], help="TYPE/METHOD=rank TSV")
    s.add_argument("--skipped", type=json_arg, default={}, help="JSON type -> why it was not analysed")
    common(s)
    s.set_defaults(func=cmd_unseen_type)

    s = sub.add_parser("ablation-size", help="gain of each method's pick by target training size (Figure 4)")
    s.add_argument("--transfer-metrics", nargs="+", required=True, help="transfer metrics.json under results/transfer/n<size>/")
    s.add_argument("--picks", nargs="+", required=True, help="ablation-picks TSVs")
    s.add_argument("--methods", type=list_arg, default=["scorer", "brute_force", "random"])
    common(s, rankings=False)
    s.set_defaults(func=cmd_size)

    s = sub.add_parser("ablation-finetune", help="full fine-tuning with and without the chosen source (Table 3)")
    s.add_argument("--runs", nargs="+", required=True, help="finetune metrics.json of the targets")
    s.add_argument("--picks", nargs="+", required=True, help="ablation-picks TSVs")
    s.add_argument("--methods", type=list_arg, default=["scorer"])
    common(s, rankings=False)
    s.set_defaults(func=cmd_finetune_table)
