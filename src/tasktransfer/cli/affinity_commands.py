"""Commands that choose sources: train the affinity scorer, rank a pool's sources, take a ranking's top-k."""

from __future__ import annotations

import argparse
from pathlib import Path

from tasktransfer.cli.common import add_pool_args, json_arg, list_arg, max_train_arg
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
    if a.pairs:
        # the pairs a run chose (design-pairs: a learnable-only sample or the balanced design)
        from tasktransfer.affinity.pair_plan import read_pairs

        sampled = read_pairs(a.pairs)
    else:
        sampled = sample_pairs(a.sources, a.m, a.pair_seed)
    if a.subsample is not None:
        # the M analysis: the first M of the main scorer's pairs (ablations.smk)
        from tasktransfer.affinity.pairs import subsample_pairs

        sampled = subsample_pairs(sampled, a.subsample, a.pair_seed)
    if a.exclude_tasks:
        # the unseen-task-type analysis: no pair that touches an excluded task, on either side
        excluded = set(a.exclude_tasks)
        sampled = [(s, t) for s, t in sampled if s not in excluded and t not in excluded]
    missing = [p for p in sampled if p not in lookup]
    if missing:
        raise TaskTransferError(f"gains table {a.gains} lacks sampled pairs {missing[:5]}...; rerun the gains rule")
    pairs = [TrainingPair(s, t, lookup[(s, t)]) for s, t in sampled]
    if a.extra_gains:
        # leave-one-target-out (scorer_loto): the other held-out targets' complete rows as well
        extra = mean_gains(pd.read_csv(a.extra_gains, sep="\t"))
        have = {(p.source, p.target) for p in pairs}
        pairs += [
            TrainingPair(str(r.source), str(r.target), float(r.gain))
            for r in extra.itertuples(index=False)
            if (str(r.source), str(r.target)) not in have and str(r.source) != str(r.target)
        ]
    if a.exclude_targets:
        # the held-out target (and anything named with it) never appears in a training pair
        pairs = [p for p in pairs if p.target not in set(a.exclude_targets)]
    unknown = sorted({p.source for p in pairs} - set(a.sources))
    if unknown:
        raise TaskTransferError(f"training pairs have sources {unknown[:5]} outside --sources; pass the run's pool")
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
        {
            "spec": spec.to_dict(),
            "pairs": len(pairs),
            "excluded_tasks": sorted(a.exclude_tasks),
            "excluded_targets": sorted(a.exclude_targets),
            **report,
            **job_info(),
        },
    )
    held = pd.DataFrame(report["held_out"], columns=["source", "target", "gain", "predicted"])
    from tasktransfer.metrics import pearson, spearman

    log(
        f"held-out (CV grouped by target task, {len(held)} of {len(pairs)} pairs): "
        f"Spearman {spearman(held.gain, held.predicted):.3f}, Pearson {pearson(held.gain, held.predicted):.3f}; "
        f"mean per-target Spearman {report['cv_spearman'].get(str(report['lr']))} (lr chosen on {report['selected_on']})"
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
    from tasktransfer.affinity.selection import FEATURE_METHODS, base_method, learned_scores

    methods = list_arg(a.method or "scorer")
    bases = {base_method(m) for m in methods}
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
    if "scorer" in bases:
        if not a.scorer:
            raise TaskTransferError("method scorer needs --scorer (results/scorer/model.safetensors)")
        scorer_state, scorer_meta = load_tensors(a.scorer)
    backbone = a.backbone or scorer_meta.get("backbone")
    emb, backbone = load_pool({**files, target: target_file}, backbone)
    model, true = None, None
    if "scorer" in bases:
        from tasktransfer.affinity.scorer import load_scorer

        if scorer_meta.get("backbone") != backbone:
            raise TaskTransferError(
                f"scorer {a.scorer} was trained on backbone {scorer_meta.get('backbone')}, but the prompts on {backbone}; "
                "rank with the scorer of this prompt pool or retrain it"
            )
        model = load_scorer(scorer_state, scorer_meta, backbone)
    if "brute_force" in methods:
        if not a.gains:
            raise TaskTransferError("method brute_force needs --gains (results/gains.tsv)")
        gains = mean_gains(pd.read_csv(a.gains, sep="\t"))
        true = {r.source: float(r.gain) for r in gains.itertuples(index=False) if r.target == target}
        lacking = sorted(set(files) - set(true))
        if lacking:
            raise TaskTransferError(f"brute_force needs the gain of every source on {target}; {a.gains} lacks {lacking[:5]}")
    sources = {s: emb[s] for s in sorted(files)}
    train_gains = pd.read_csv(a.train_gains, sep="\t") if a.train_gains else None
    features = None
    if a.features:
        from tasktransfer.affinity.pair_features import read_features

        features = read_features(a.features)
    tables = []
    for m in methods:
        if base_method(m) in FEATURE_METHODS:
            scores, info = learned_scores(m, target, list(sources), train_gains, features, a.prior_lambda)
            if info.get("decision"):
                log(f"{m} for {target}: {info['decision']} (alpha {info['alpha']}): {info['reason']}; weights "
                    + ", ".join(f"{k} {v:+.3f}" for k, v in info["weights"].items()))
        else:
            scores = score_sources(m, target, emb[target], sources, a.seed, model, true)
        tables.append(ranking_table(m, target, scores))
    if a.out:
        atomic_write_text(a.out, pd.concat(tables, ignore_index=True).to_csv(sep="\t", index=False))
    if not a.quiet:
        print(f"Sources for {target}, best first by {methods[0]} (scores: predicted gain for scorer, similarity otherwise):")
        print(side_by_side(tables).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    log(f"{', '.join(methods)} for {target}: top {', '.join(tables[0].source.head(3))}")


def cmd_features(a: argparse.Namespace) -> None:
    """Pair features of every source for one target: prompt cosines and LogME (pair_features.py)."""
    import time

    from tasktransfer.affinity.logme_features import logme_by_source
    from tasktransfer.affinity.pair_features import features_table
    from tasktransfer.data.prepare import read_jsonl, read_meta, training_subset
    from tasktransfer.io import atomic_write_text
    from tasktransfer.prompting.backbone import load_backbone
    from tasktransfer.prompting.prompt_files import check_compatible, load_prompt
    from tasktransfer.prompting.training import PromptSpec

    set_threads(a.threads)
    start = time.perf_counter()
    spec = PromptSpec.from_dict(a.spec)
    files = {t: Path(a.prompts) / t / f"seed{a.embedding_seed}" / "prompt.safetensors" for t in a.sources}
    missing = [str(f) for f in [*files.values(), Path(a.target_prompt)] if not f.exists()]
    if missing:
        raise TaskTransferError(f"prompt files {missing[:3]} do not exist; tune those prompts first")
    backbone = load_backbone(a.backbone)
    prompts = {t: load_prompt(f) for t, f in files.items()}
    for t, art in prompts.items():
        check_compatible(art, files[t], a.backbone, spec.length, backbone.hidden_size, spec.mlp_hidden)
    target_emb = load_prompt(a.target_prompt).embedding
    data = Path(a.data)
    meta = read_meta(data)
    rows = training_subset(read_jsonl(data / "train.jsonl"), a.max_train)
    setup = time.perf_counter() - start
    candidates = {t: art.prompt_state for t, art in prompts.items() if t != a.target}
    logme, seconds = logme_by_source(
        backbone, meta, rows, candidates, spec.length, spec.mlp_hidden, spec.pooling, spec.max_length,
        spec.precision, log=log,
    )
    table = features_table(a.target, target_emb, {t: art.embedding for t, art in prompts.items()}, logme)
    atomic_write_text(a.out, table.to_csv(sep="\t", index=False, float_format="%.6g"))
    per_pair = sum(seconds.values()) / max(1, len(seconds))
    log(
        f"features of {len(table)} sources for {a.target} ({len(rows)} training examples, {meta.format}): "
        f"setup {setup:.1f} s, LogME {per_pair:.2f} s per source, total {time.perf_counter() - start:.1f} s"
    )


def cmd_prior(a: argparse.Namespace) -> None:
    """Leave-one-target-out source-prior rankings of every target of a long gains table."""
    import pandas as pd

    from tasktransfer.affinity.source_prior import loto_prior_rankings
    from tasktransfer.io import atomic_write_text

    gains = pd.read_csv(a.gains, sep="\t")
    rankings = loto_prior_rankings(gains, a.prior_lambda)
    atomic_write_text(a.out, rankings.to_csv(sep="\t", index=False))
    log(f"source prior (lambda {a.prior_lambda:g}), leave-one-target-out: {rankings['target'].nunique()} targets ranked into {a.out}")


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
    s.add_argument(
        "--subsample", type=int, help="train on the first M of the pairs in --pair-seed's order (the M analysis)"
    )
    s.add_argument("--pairs", help="TSV of the pairs to train on (source, target; design-pairs): replaces --m's sample")
    s.add_argument("--exclude-tasks", type=list_arg, default=[], help="drop the sampled pairs touching these tasks")
    s.add_argument("--extra-gains", help="gains table whose pairs are added to the sampled ones (leave-one-target-out)")
    s.add_argument("--exclude-targets", type=list_arg, default=[],
                   help="drop every training pair into these targets (the held-out target of scorer_loto)")
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
    s.add_argument("--train-gains", help="training gains (source_prior, feature_ranker; rows of --target are dropped)")
    s.add_argument("--features", nargs="*", default=[],
                   help="pair features of the target and of every training target (logme, feature_ranker; "
                   "`tasktransfer features`; or @list)")
    s.add_argument("--prior-lambda", type=float, default=1.0, help="shrinkage n / (n + lambda) of the source prior")
    s.add_argument("--out", help="TSV to write: method, target, source, score, rank")
    s.add_argument("--quiet", action="store_true", help="do not print the table")
    s.set_defaults(func=cmd_rank)
    add_rank_pool_args(s)

    s = sub.add_parser("features", help="pair features of every pool source for one target (prompt cosines, LogME)")
    s.add_argument("--target", required=True, help="the target task")
    s.add_argument("--target-prompt", required=True, help="its target-role prompt file (target-side embedding)")
    s.add_argument("--data", required=True, help="its prepared data folder (train.jsonl, meta.json)")
    s.add_argument("--prompts", required=True, help="folder of the prompt pool (results/prompts)")
    s.add_argument("--sources", type=list_arg, required=True)
    s.add_argument("--embedding-seed", type=int, default=0)
    s.add_argument("--backbone", required=True)
    s.add_argument("--spec", type=json_arg, default={}, help="JSON of the target-role prompt spec (length, pooling, ...)")
    s.add_argument("--max-train", type=max_train_arg, default=0, help="the first N training examples (0 or 'all')")
    s.add_argument("--threads", type=int, default=0)
    s.add_argument("--out", required=True, help="TSV: source, target, cosine_mean, cosine_tokens, cosine_centred, logme")
    s.set_defaults(func=cmd_features)

    s = sub.add_parser(
        "prior",
        help="leave-one-target-out source-prior ranking of every target of a long gains table (for `evaluate`)",
    )
    s.add_argument("--gains", required=True, help="TSV with columns source, target, gain (seed optional)")
    s.add_argument("--prior-lambda", type=float, default=1.0, help="shrinkage n / (n + lambda); 0: none")
    s.add_argument("--out", required=True, help="TSV: method, target, source, score, rank (1 best)")
    s.set_defaults(func=cmd_prior)

    s = sub.add_parser("select", help="the top-k sources of one ranking (a novel target's transfer sources)")
    s.add_argument("--ranking", required=True, help="TSV of `tasktransfer rank`")
    s.add_argument("--k", type=int, required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_select)
