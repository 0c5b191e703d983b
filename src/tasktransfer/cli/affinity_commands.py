"""Commands that choose sources: train the affinity scorer, rank a pool's sources (``select``: select_commands.py)."""

from __future__ import annotations

import argparse

from tasktransfer.cli.common import add_pool_args, json_arg, list_arg, max_train_arg
from tasktransfer.cli.pool_commands import add_rank_pool_args
from tasktransfer.errors import TaskTransferError
from tasktransfer.runtime import log, set_threads


def cmd_train_scorer(a: argparse.Namespace) -> None:
    from tasktransfer.affinity.scorer import ScorerSpec
    from tasktransfer.affinity.scorer_job import ScorerJob, train_scorer_job

    set_threads(a.threads)
    job = ScorerJob(
        gains=a.gains, sources=a.sources, prompts=a.prompts, backbone=a.backbone, spec=ScorerSpec.from_dict(a.spec),
        m=a.m, pair_seed=a.pair_seed, pairs=a.pairs, subsample=a.subsample, exclude_tasks=a.exclude_tasks,
        extra_gains=a.extra_gains, exclude_targets=a.exclude_targets, target_prompts=a.target_prompts,
        target_prompt_roots=a.target_prompt_roots,
        embedding_seed=a.embedding_seed, target_seed=a.target_seed, seed=a.seed,
    )
    train_scorer_job(job, a.out_model, a.out_metrics)


def cmd_rank(a: argparse.Namespace) -> None:
    """Rank the pool's sources for a target by one or more methods; write (--out) and print the table."""
    if a.pool:  # a new task against a shared pool (pool_commands.py)
        from tasktransfer.cli.pool_commands import cmd_rank_pool

        return cmd_rank_pool(a)
    if not a.prompts:
        raise TaskTransferError("rank needs --prompts (a run's results/prompts) or --pool (a shared pool)")
    import pandas as pd

    from tasktransfer.affinity.rank_job import RankJob, rank
    from tasktransfer.affinity.selection import side_by_side
    from tasktransfer.io import atomic_write_text

    set_threads(a.threads)
    methods = list_arg(a.method or "scorer")
    ranked = rank(
        RankJob(
            prompts=a.prompts, methods=methods, target=a.target, target_prompt=a.target_prompt, sources=a.sources,
            backbone=a.backbone, embedding_seed=a.embedding_seed, seed=a.seed, scorer=a.scorer, gains=a.gains,
            train_gains=a.train_gains, features=a.features, prior_lambda=a.prior_lambda,
        )
    )
    if a.out:
        atomic_write_text(a.out, pd.concat(ranked.tables, ignore_index=True).to_csv(sep="\t", index=False))
    if not a.quiet:
        print(f"Sources for {ranked.target}, best first by {methods[0]} (scores: predicted gain for scorer, similarity otherwise):")
        print(side_by_side(ranked.tables).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    log(f"{', '.join(methods)} for {ranked.target}: top {', '.join(ranked.tables[0].source.head(3))}")


def cmd_features(a: argparse.Namespace) -> None:
    """Pair features of every source for one target: prompt cosines and LogME (pair_features.py)."""
    from tasktransfer.affinity.features_job import FeaturesJob, write_features

    set_threads(a.threads)
    job = FeaturesJob(
        target=a.target, target_prompt=a.target_prompt, data=a.data, prompts=a.prompts, sources=a.sources,
        backbone=a.backbone, spec=a.spec, embedding_seed=a.embedding_seed, max_train=a.max_train,
    )
    write_features(job, a.out)


def cmd_prior(a: argparse.Namespace) -> None:
    """Leave-one-target-out source-prior rankings of every target of a long gains table."""
    import pandas as pd

    from tasktransfer.affinity.source_prior import loto_prior_rankings
    from tasktransfer.io import atomic_write_text

    gains = pd.read_csv(a.gains, sep="\t")
    rankings = loto_prior_rankings(gains, a.prior_lambda)
    atomic_write_text(a.out, rankings.to_csv(sep="\t", index=False))
    log(f"source prior (lambda {a.prior_lambda:g}), leave-one-target-out: {rankings['target'].nunique()} targets ranked into {a.out}")


# long: a flat table of argparse options, one subcommand after another
def add_commands(sub) -> None:
    """Register this family's subcommands: train-scorer, rank, features, prior."""
    s = sub.add_parser("train-scorer", help="train the affinity scorer on sampled source pairs")
    add_pool_args(s)
    s.add_argument("--gains", required=True)
    s.add_argument("--target-prompts", help="folder of the target-role runs (target side; default: --prompts)")
    s.add_argument("--target-prompt-roots", type=json_arg, default={},
                   help="JSON {task: folder}: the target-role runs of targets tuned at a size of their own")
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

    s = sub.add_parser("features", help="pair features of every pool source for one target (prompt cosines, LogME, H-score, kNN)")
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
    s.add_argument("--out", required=True, help="TSV: source, target, cosine_mean, cosine_tokens, cosine_centred, logme, hscore, knn")
    s.set_defaults(func=cmd_features)

    s = sub.add_parser(
        "prior",
        help="leave-one-target-out source-prior ranking of every target of a long gains table (for `evaluate`)",
    )
    s.add_argument("--gains", required=True, help="TSV with columns source, target, gain (seed optional)")
    s.add_argument("--prior-lambda", type=float, default=1.0, help="shrinkage n / (n + lambda); 0: none")
    s.add_argument("--out", required=True, help="TSV: method, target, source, score, rank (1 best)")
    s.set_defaults(func=cmd_prior)
