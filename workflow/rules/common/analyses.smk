# The paper's analyses (ablations.smk): their plan, on the main scorer's pairs. No rules here.
from functools import cache

from tasktransfer.analysis.ablation_plan import PRETRAINED, SIZE_METHODS, plan_ablations


@cache
def _ablation_plan(pairs):
    return plan_ablations(
        config,
        {t: REGISTRY[t].type for t in [*SOURCES, *TARGETS]},
        SOURCES,
        TARGETS,
        list(pairs),
    )


def ablation_plan():
    """The analyses' lists, checked against the run (analysis/ablation_plan.py), on the main
    scorer's pairs: call it from input functions and params only (it waits for design_pairs).
    """
    return _ablation_plan(tuple(scorer_pairs()))


def ablation_settings():
    """What the config alone decides (targets, picks, fine-tuning): known when the workflow is
    read, so its mistakes fail before any job (a plan without pairs)."""
    return _ablation_plan(())


ablation_settings()  # check the `ablations` block now


def ablation_scorer_args(variant):
    """A variant's flags beside the main scorer's: the first M of its pairs, the tasks of a type
    left out (none where it keeps the main scorer's, so its pairs keep their order)."""
    plan = ablation_plan()
    scorer = plan.scorers[variant]
    args = []
    if scorer["m"] < plan.main_scorer["m"]:
        args += ["--subsample", str(scorer["m"])]
    if scorer["exclude"]:
        args += ["--exclude-tasks", ",".join(scorer["exclude"])]
    return args
