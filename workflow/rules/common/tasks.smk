# Task and pair lists, and the runs the gathering rules read (through file lists: rule file_list
# in transfer.smk). No rules here. A list that the checkpoint design_pairs can change is a
# function (scorer_pairs and what derives from it), never a module constant.
from functools import cache

from tasktransfer.affinity.pairs import brute_force_pairs, sample_pairs

# every held-out target's complete row, and the control init into each target
TARGET_PAIRS = brute_force_pairs(SOURCES, TARGETS)
CONTROL_PAIRS = [(CONTROL, t) for t in TARGETS] if CONTROL_INIT != "none" else []
NOVEL_METHODS = sorted((set(METHODS) | {"scorer"}) - {"brute_force"})


@cache
def sampled_pairs():
    """The scorer pairs known when the workflow is read: the paper's uniform sample among the
    sources; none where they come from design_pairs or a shared pool's scorer is used.
    """
    if POOL_SCORER or DESIGNED:
        return []
    return sample_pairs(SOURCES, config["pairs"]["m"], config["pairs"]["seed"])


def scorer_pairs():
    """The scorer's training pairs: the sample, or (DESIGNED) the checkpoint design_pairs' table
    (call it from input functions only: it waits for the checkpoint)."""
    if not DESIGNED:
        return sampled_pairs()
    return designed_pairs(checkpoints.design_pairs.get().output.pairs)


def pair_targets(pairs):
    return sorted({t for _, t in pairs})


def target_role_tasks():
    """Tasks tuned in the target role: held-out and novel targets, the pool tasks a scorer pair
    enters and (with `pairs.learnable_only`) every task: the learnability check reads its r1.
    """
    return sorted(
        set(pair_targets(scorer_pairs())) | set(TARGETS) | set(NOVEL) | set(LEARN_TASKS)
    )


def scorer_pair_runs():
    return [transfer_metrics(s, t, seed) for s, t in scorer_pairs() for seed in SEEDS]


def target_pair_runs():
    return [transfer_metrics(s, t, seed) for s, t in TARGET_PAIRS for seed in SEEDS]


def control_runs():
    return [transfer_metrics(s, t, seed) for s, t in CONTROL_PAIRS for seed in SEEDS]


def target_role_runs():
    return [target_metrics(t, seed) for t in target_role_tasks() for seed in SEEDS]


def pool_runs():
    return [prompt_metrics(t, seed) for t in SOURCES for seed in POOL_SEEDS]


# --- learned methods and leave-one-target-out (selection.smk; config/README.md, "Selection") ------
# source_prior and feature_ranker train on gains, logme, hscore and knn on nothing; every held-out target's learned
# ranking reads a training table without its own rows: the scorer pairs' gains, or in the
# leave-one-target-out mode (`selection.loto`) results/loto/{target}/train_gains.tsv, gathered
# from the scorer pairs' and the *other* targets' transfer runs (never from target_pairs.tsv, so a
# change in the target's own rows never reruns its learned rankings).
LOTO_METHODS = (
    [
        f"{m}{layout.LOTO_SUFFIX}"
        for m in ("feature_ranker", "source_prior")
        if m in METHODS
    ]
    + (
        ["scorer_loto"]
        if config["selection"]["loto_scorer"]
        and "scorer" in METHODS
        and not POOL_SCORER
        else []
    )
    if config["selection"]["loto"]
    else []
)


def loto_runs(target):
    """The transfer runs a held-out target's leave-one-target-out methods train on: the scorer
    pairs and every other target's complete row (never a run into ``target``)."""
    return scorer_pair_runs() + [
        transfer_metrics(s, t, seed)
        for s, t in TARGET_PAIRS
        if t != target
        for seed in SEEDS
    ]


FILE_LISTS = {
    "scorer_pairs": scorer_pair_runs,
    "target_pairs": target_pair_runs,
    "control_pairs": control_runs,
    "target_role": target_role_runs,
    "pool": pool_runs,
    **{f"loto_{t}": (lambda _t=t: loto_runs(_t)) for t in TARGETS},
}


def learned_training_targets(target, loto):
    """The targets whose rows a learned method ranking ``target`` trains on, as far as they are
    known before the checkpoint design_pairs (never ``target``; designed_features adds the rest).
    """
    others = [t for t in TARGETS if t != target] if loto else []
    return sorted((set(pair_targets(sampled_pairs())) | set(others)) - {target})


def ranking_files():
    return [ranking_file(m, t) for m in [*METHODS, *LOTO_METHODS] for t in TARGETS]
