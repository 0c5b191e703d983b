"""``select``: a source for a target within a transfer budget.

Two modes: ``--ranking R --budget K`` cuts a ranking's top K (the workflow's novel targets, whose
transfers Snakemake runs); ``--pool POOL --task FILE --budget K`` ranks a shared pool for a new
task, runs the top K transfers for real and hands out the best source's trained prompt
(``pool/select_source.py``; docs/selection.md says when to use ``rank`` and when ``select``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tasktransfer.cli.common import list_arg
from tasktransfer.cli.pool_commands import add_rank_pool_args, file_task_spec, local_backbone
from tasktransfer.errors import TaskTransferError
from tasktransfer.runtime import log


def cmd_select(a: argparse.Namespace) -> None:
    if a.pool:
        return cmd_select_pool(a)
    if not a.ranking or not a.out:
        raise TaskTransferError("select needs --ranking RANKING.tsv and --out (or --pool and --task to run transfers)")
    import pandas as pd

    from tasktransfer.affinity.selection import select_top_k
    from tasktransfer.io import atomic_write_text

    ranking = pd.read_csv(a.ranking, sep="\t")
    top = select_top_k(ranking, a.budget)
    atomic_write_text(a.out, top.to_csv(sep="\t", index=False))
    log(f"top-{a.budget} of {a.ranking}: {', '.join(top.source)}")


def cmd_select_pool(a: argparse.Namespace) -> None:
    from tasktransfer.pool.rank_new_task import RankRequest
    from tasktransfer.pool.select_source import DEFAULT_METHOD, SelectRequest, select_source

    rank = RankRequest(
        pool=Path(a.pool),
        spec=file_task_spec(a),
        backbone=a.backbone or local_backbone(a.config),
        embedding_seed=a.embedding_seed,
        threads=a.threads,
        resources=Path(a.resources),
        work=Path(a.work) if a.work else None,
        quiet=a.quiet,
    )
    select_source(
        SelectRequest(
            rank=rank,
            budget=a.budget,
            method=a.method or DEFAULT_METHOD,
            seeds=tuple(int(s) for s in a.seeds),
            halving=a.halving,
            out=Path(a.out) if a.out else None,
        )
    )


def add_commands(sub) -> None:
    """Register ``select``."""
    s = sub.add_parser(
        "select",
        help="a source within a transfer budget: a ranking's top k (--ranking), or rank a pool for a new task, "
        "run the top K transfers and hand out the best prompt (--pool)",
    )
    s.add_argument("--budget", "--k", dest="budget", type=int, required=True,
                   help="transfers to run (--pool), or sources to keep (--ranking)")
    s.add_argument("--ranking", help="TSV of `tasktransfer rank`: keep its top --budget sources (no transfers run)")
    s.add_argument("--out", help="--ranking: the TSV to write; --pool: the folder of the chosen prompt "
                   "(default WORK/selected; new, or one select wrote)")
    s.add_argument("--method", help="the ranking method (--pool; default logme, the highest mean Spearman on the "
                   "project's 40-target matrix, not told apart from cosine: docs/measured.md); scorer, "
                   "source_prior, feature_ranker or a similarity also work")
    s.add_argument("--seeds", type=list_arg, default=[],
                   help="seeds of every run (--pool; default 0,1): r1 and each transfer per seed, from the source's pool "
                   "prompt of that seed where the pool has it, else of its embedding seed")
    s.add_argument("--halving", action="store_true",
                   help="successive halving (--pool): all K train one seed for a third of the epochs, the better "
                   "half goes on to the full transfers")
    s.add_argument("--backbone", help="this machine's backbone (--pool; default: --config's)")
    s.add_argument("--embedding-seed", type=int, default=0, help="seed of the pool prompts the ranking compares")
    s.add_argument("--threads", type=int, default=0)
    s.add_argument("--quiet", action="store_true", help="do not print the table")
    s.set_defaults(func=cmd_select)
    add_rank_pool_args(s)
