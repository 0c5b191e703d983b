# Configuration: the registry, the data folder, a shared pool, the roles of the run's tasks and
# the settings of one job. No rules here (common.smk includes this file first).
#
# Two roles of a task (config/README.md, "Roles and seeds"):
# - a *source* (pool task) is tuned once per pool seed on its whole training set: its prompt
#   encoder initialises transfers, its output P is the source-side task embedding;
# - a *target of transfer* (a held-out target, a novel target, or a pool task that a scorer pair
#   transfers into) is tuned on its first `data.target_train` training examples, once per seed:
#   that run gives r1 and the target-side embedding, and every transfer into it reads the same
#   subset with the same seeds, so gain = mean r2 - mean r1 over paired seeds.
import gc
import json
import os

from tasktransfer import run_layout as layout
from tasktransfer.code_versions import all_code_versions
from tasktransfer.configuration import check_config_files
from tasktransfer.data.providers import DATA_ENV, data_dir
from tasktransfer.data.registry import get_task, load_registry
from tasktransfer.names import NAME_PATTERN, SEED_PATTERN, SOURCE_PATTERN

# Planning builds tens of thousands of job objects: with Python's default threshold (a collection
# every 700 new objects) the cyclic garbage collector took 15-20 % of planning 100 tasks' pairs
# (bench/plan_scale.py). Collecting every 50,000 new objects keeps it rare, memory still bounded.
gc.set_threshold(50_000, 20, 20)

# configs are data: a key given twice or a templated (YTE) config file stops the run here
check_config_files(workflow.configfiles)
REGISTRY = load_registry(config["tasks_registry"])
# The data folder (config data_dir, else $TASKTRANSFER_DATA): the jobs read it through the
# environment, not a param, since another provider of the same pinned bytes changes no result.
DATA_DIR = data_dir(config.get("data_dir"))
if DATA_DIR is not None:
    DATA_DIR = DATA_DIR.resolve()
    os.environ[DATA_ENV] = str(DATA_DIR)
SOURCES = sorted(config["sources"])
# the targets whose rows are built now: the first `targets_first` of `targets` in the config's
# order (a matrix built in increments, config/matrix.yaml; 0: all of them). Every listed target is
# prepared, tuned and checked for learnability from the first increment on, so the learnability
# table, and the pool pairs designed from it, stay as they are while rows are added.
PLANNED_TARGETS = sorted(config["targets"])
TARGETS = sorted(config["targets"][: config["targets_first"] or None])
# novel targets: tuned once, ranked by the scorer, transferred from its top-k only (selection.smk)
NOVEL = sorted(config.get("novel_targets", []))
TASKS = sorted(set(SOURCES) | set(PLANNED_TARGETS) | set(NOVEL))
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
_overlap = sorted(set(SOURCES) & set(PLANNED_TARGETS))
if _overlap:
    raise ValueError(
        f"tasks {_overlap} are both sources and targets; a target must stay out of the pool"
    )
_overlap = sorted(set(NOVEL) & (set(SOURCES) | set(PLANNED_TARGETS)))
if _overlap:
    raise ValueError(
        f"novel targets {_overlap} are also sources or targets; list each task in one role only"
    )
METHODS = sorted(config["selection"]["methods"])
CODE = all_code_versions()
# the pool's own scorer replaces train_scorer: no scorer pair, no learnability check
POOL_SCORER = bool(POOL and POOL.scorer)
# the scorer's pairs come from the checkpoint design_pairs (design.smk) with `pairs.design:
# balanced` or `pairs.learnable_only`; in the paper's setting they are a uniform sample, known now
DESIGNED = not POOL_SCORER and (
    config["pairs"]["design"] != "random" or config["pairs"]["learnable_only"]
)
LEARNABILITY = config["pairs"]["learnable_only"] and not POOL_SCORER
LEARN_TASKS = TASKS if LEARNABILITY else []
# the control init (prompting/control.py) enters every target like a source named CONTROL
CONTROL = layout.CONTROL
CONTROL_INIT = config["control"]["init"]
# the first seed of each role gives the task embeddings (source side and target side)
POOL_EMBEDDING_SEED = POOL_SEEDS[0]
TARGET_EMBEDDING_SEED = SEEDS[0]
# the target-role training size, as it appears in paths: n128, or nall without a cap
SIZE = layout.size_tag(config["data"].get("target_train"))
# with data.target_train_per_task, a task whose registry entry records the size it learns at
# (`target_train`, from the task survey) takes that size in the target role instead
TASK_SIZES = (
    {t: REGISTRY[t].target_train for t in TASKS if REGISTRY[t].target_train}
    if config["data"]["target_train_per_task"]
    else {}
)
for _task, _size in TASK_SIZES.items():
    if _size > config["data"]["max_train"]:
        raise ValueError(
            f"task {_task!r} learns at {_size} training examples (its registry's target_train) but "
            f"data.max_train is {config['data']['max_train']}: raise data.max_train to {_size} or "
            "more, or set data.target_train_per_task: false"
        )


def target_size(task):
    """A task's target-role size as it appears in paths (data.target_train, or its own)."""
    return layout.size_tag(TASK_SIZES[task]) if task in TASK_SIZES else SIZE


PRIOR_LAMBDA = config["selection"]["prior_lambda"]


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
    """What `prepare` reads of `data` (the target caps only pick a prefix later, so they are left out)."""
    target_caps = ("target_train", "target_train_per_task")
    return as_json({k: v for k, v in config["data"].items() if k not in target_caps})


def features_spec(task):
    """What the pair features of a target read of its target-role settings (LogME's encoding)."""
    spec = target_spec(task)
    keys = ("length", "mlp_hidden", "pooling", "max_length", "precision")
    return as_json({k: spec[k] for k in keys if k in spec})


def scorer_spec():
    """The scorer's settings as its jobs take them (its seed is a flag of its own)."""
    return as_json({k: v for k, v in config["scorer"].items() if k != "seed"})


def scorer_params(**overrides):
    """The params every scorer job shares (the main one, leave-one-target-out, the analyses'),
    with a rule's own in `overrides`."""
    return {
        "backbone": config["backbone"],
        "sources": ",".join(SOURCES),
        "prompts": pool_root,
        "m": config["pairs"]["m"],
        "pair_seed": config["pairs"]["seed"],
        "spec": scorer_spec(),
        "seed": config["scorer"]["seed"],
        "embedding_seed": POOL_EMBEDDING_SEED,
        "target_prompts": target_root(),
        # a target of its own size (data.target_train_per_task) is read from its size's folder
        "target_roots": (
            [
                "--target-prompt-roots",
                as_json({t: target_root(target_size(t)) for t in TASK_SIZES}),
            ]
            if TASK_SIZES
            else []
        ),
        "target_seed": TARGET_EMBEDDING_SEED,
        # the designed pairs (design.smk) replace the sample of --m and --pair-seed
        "pairs": lambda wc, input: (
            ["--pairs", input.pairs] if "pairs" in input.keys() else []
        ),
        **overrides,
    }


def task_fingerprint(wildcards):
    return REGISTRY[wildcards.task].fingerprint()


def pool_seed_for(seed):
    """The pool seed whose source prompt a transfer at `seed` starts from: the same seed where the
    pool has it, else the first pool seed."""
    seed = int(seed)
    return seed if seed in POOL_SEEDS else POOL_SEEDS[0]
