"""Commands that choose sources: train the affinity scorer, rank a pool's sources, take a ranking's top-k."""

from __future__ import annotations

import argparse
from pathlib import Path

from tasktransfer.cli.common import add_pool_args, json_arg, list_arg
from tasktransfer.cli.pool_commands import add_rank_pool_args
from tasktransfer.errors import TaskTransferError
from tasktransfer.runtime import job_info, log, set_threads


def cmd_train_scorer(a: argparse.Namespace) -> None:
    import pandas as pd

    from tasktransfer.affinity.pairs import sample_pairs
    from tasktransfer.affinity.scorer import ScorerSpec, TrainingPair, fit_scorer
    from tasktransfer.analysis.gather import mean_gains
    from tasktransfer.io import atomic_write_json, save_tensors
    from tasktransfer.prompting.prompt_files import load_embeddings

    set_threads(a.threads)
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
    log(f"training the affinity scorer on {len(pairs)} pairs among {len(a.sources)} sources")
    model, report = fit_scorer(a.backbone, pairs, emb, spec, a.seed, log=log, target_emb=target_emb)
    save_tensors(a.out_model, model.state_dict(), {"backbone": a.backbone, "spec": spec.to_dict(), "lr": report["lr"]})
    atomic_write_json(
        a.out_metrics,
        {"spec": spec.to_dict(), "pairs": len(pairs), "excluded_tasks": sorted(a.exclude_tasks), **report, **job_info()},
    )
    held = pd.DataFrame(report["held_out"], columns=["source", "target", "gain", "predicted"])
    from tasktransfer.metrics import pearson, spearman

    log(
        f"held-out (CV grouped by target task, {len(held)} of {len(pairs)} pairs): "
        f"Spearman {spearman(held.gain, held.predicted):.3f}, Pearson {pearson(held.gain, held.predicted):.3f}"
    )


def cmd_rank(a: argparse.Namespace) -> None:
    """Rank the pool's sources for a target by one or more methods; write (--out) and print the table."""
    import pandas as pd

    from tasktransfer.affinity.selection import load_pool, pool_prompt_files, ranking_table, score_sources, side_by_side
    from tasktransfer.analysis.gather import mean_gains
    from tasktransfer.io import atomic_write_text, load_tensors

    if a.pool:  # a new task against a shared pool (pool_commands.py)
        from tasktransfer.cli.pool_commands import cmd_rank_pool

        return cmd_rank_pool(a)
    if not a.prompts:
        raise TaskTransferError("rank needs --prompts (a run's results/prompts) or --pool (a shared pool)")
    set_threads(a.threads)
    methods = list_arg(a.method or "scorer")
    if a.target_prompt:
        from tasktransfer.prompting.prompt_files import load_prompt

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
        from tasktransfer.affinity.scorer import build_scorer

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
    log(f"{', '.join(methods)} for {target}: top {', '.join(tables[0].source.head(3))}")


def cmd_select(a: argparse.Namespace) -> None:
    import pandas as pd

    from tasktransfer.affinity.selection import select_top_k
    from tasktransfer.io import atomic_write_text

    ranking = pd.read_csv(a.ranking, sep="\t")
    top = select_top_k(ranking, a.k)
    atomic_write_text(a.out, top.to_csv(sep="\t", index=False))
    log(f"top-{a.k} of {a.ranking}: {', '.join(top.source)}")


def add_commands(sub) -> None:
    """Register this family's subcommands: train-scorer, rank, select."""
    s = sub.add_parser("train-scorer", help="train the affinity scorer on sampled source pairs")
    add_pool_args(s)
    s.add_argument("--gains", required=True)
    s.add_argument("--target-prompts", help="folder of the target-role runs (target side; default: --prompts)")
    s.add_argument("--target-seed", type=int, help="seed of the target-side embeddings (default: --embedding-seed)")
    s.add_argument("--m", type=int, required=True)
    s.add_argument("--pair-seed", type=int, default=0)
    s.add_argument("--exclude-tasks", type=list_arg, default=[], help="drop the sampled pairs touching these tasks")
    s.add_argument("--spec", type=json_arg, default={})
    s.add_argument("--out-model", required=True)
    s.add_argument("--out-metrics", required=True)
    s.set_defaults(func=cmd_train_scorer)

    s = sub.add_parser(
        "rank",
        help="rank the pool's sources for a target (a pool task or a new one) by one or more methods; print the table",
    )
    s.add_argument("--prompts", help="folder of the prompt pool (results/prompts); or --pool")
    s.add_argument("--sources", type=list_arg, default=[], help="pool sources (default: every task under --prompts)")
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
    add_rank_pool_args(s)

    s = sub.add_parser("select", help="the top-k sources of one ranking (a novel target's transfer sources)")
    s.add_argument("--ranking", required=True, help="TSV of `tasktransfer rank`")
    s.add_argument("--k", type=int, required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_select)
