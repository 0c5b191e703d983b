"""A run's file layout and the names its parts share: the one home of each.

The workflow's rules, the command line and the pool all address the same files of a run
(``results/prompts/{task}/seed{seed}/prompt.safetensors`` and the like). Each pattern is written
here once, as a ``str.format`` template whose fields are the workflow's wildcards: a rule uses the
template itself as its output (Snakemake fills the wildcards), an input function or the package
formats it (:func:`fill`). A file that one rule writes and one rule reads, with no wildcard and no
reader in the package (a report table), keeps its name in that rule.

Shared names: the control pseudo-source (:data:`CONTROL`, defined with the name patterns in
:mod:`tasktransfer.names`, re-exported here), the selection methods, and the stages whose code
versions the rules carry (their modules: :data:`tasktransfer.code_versions.STAGES`).
"""

from __future__ import annotations

from pathlib import Path

from tasktransfer.names import CONTROL

__all__ = ["CONTROL"]

#: a prompt run's two files: the prompt (safetensors, metadata in its header) and its record
PROMPT_FILE = "prompt.safetensors"
METRICS_FILE = "metrics.json"

# --- per task and seed ----------------------------------------------------------------------------
#: a prepared task (train.jsonl, dev.jsonl, meta.json, provenance.json)
DATA_ROOT = "results/data"
DATA_DIR = DATA_ROOT + "/{task}"
META = DATA_DIR + "/meta.json"
TRAIN = DATA_DIR + "/train.jsonl"
DEV = DATA_DIR + "/dev.jsonl"
PROVENANCE = DATA_DIR + "/provenance.json"
#: a pool (source-role) prompt run, once per pool seed
PROMPTS_ROOT = "results/prompts"
PROMPT_RUN = PROMPTS_ROOT + "/{task}/seed{seed}"
PROMPT = PROMPT_RUN + "/" + PROMPT_FILE
PROMPT_METRICS = PROMPT_RUN + "/" + METRICS_FILE
#: a target-role run on the first {size} training examples (n128, or nall without a cap): r1
TARGET_ROOT = "results/targets/n{size}"
TARGET_RUN = TARGET_ROOT + "/{task}/seed{seed}"
TARGET_PROMPT = TARGET_RUN + "/" + PROMPT_FILE
TARGET_METRICS = TARGET_RUN + "/" + METRICS_FILE
#: a transfer run from a source's prompt into a target at target size {size}: r2
TRANSFER_ROOT = "results/transfer/n{size}"
TRANSFER_METRICS = TRANSFER_ROOT + "/{source}/{target}/seed{seed}/" + METRICS_FILE

# --- gathered tables, the scorer and the rankings -------------------------------------------------
#: per-seed gains of one list of pairs: scorer_pairs, target_pairs, control_pairs
GAINS = "results/gains/{name}.tsv"
#: every target-role run's r1, and every pool prompt's dev score
NO_TRANSFER = "results/no_transfer.tsv"
POOL_SCORES = "results/pool_scores.tsv"
#: each held-out pair's gain with its interval (seed spread and dev-set sampling error)
GAIN_INTERVALS = "results/gain_intervals.tsv"
#: the scorer's pairs as the checkpoint design_pairs chose them
DESIGNED_PAIRS = "results/pairs/scorer_pairs.tsv"
#: one path a line: the runs a gathering rule reads (never through a shell line)
FILE_LIST = "results/lists/{name}.txt"
SCORER_MODEL = "results/scorer/model.safetensors"
SCORER_METRICS = "results/scorer/metrics.json"
#: pair features (prompt cosines, LogME) of every source for one target-role task
FEATURES = "results/features/{task}.tsv"
#: a held-out target's leave-one-target-out training rows and scorer
LOTO_GAINS = "results/loto/{target}/train_gains.tsv"
LOTO_SCORER_MODEL = "results/loto/{target}/scorer/model.safetensors"
LOTO_SCORER_METRICS = "results/loto/{target}/scorer/metrics.json"
RANKING = "results/rankings/{method}/{target}.tsv"
#: a novel target's selected sources (checkpoint select_novel)
NOVEL_SELECTED = "results/novel/{target}/selected.tsv"

# --- the evaluation's transfer budget (analysis/budget.py; rule evaluate) ------------------------
#: each method's cross-fitted best of top k per target, with the job-seconds of its k transfers
BUDGET = "results/eval/budget.tsv"
#: its means over targets with intervals and shares of brute force's gain and job-seconds
BUDGET_SUMMARY = "results/eval/budget_summary.tsv"
BUDGET_HTML = "results/eval/budget.html"
BUDGET_FIGURE = "results/figures/budget.png"

# --- the evaluation's design: variance components, noise ceiling, power (analysis/design_power.py) --
#: the gain's variance components: source, target, source x target, seed
VARIANCE_COMPONENTS = "results/eval/variance_components.tsv"
#: per target the split-half reliability of the source ranking, its noise ceiling, each method's Spearman
NOISE_CEILING = "results/eval/noise_ceiling.tsv"
DESIGN_HTML = "results/eval/design.html"

# --- the analyses (ablations.smk) ----------------------------------------------------------------
ABLATION_SCORER_MODEL = "results/ablations/scorers/{variant}/model.safetensors"
ABLATION_SCORER_METRICS = "results/ablations/scorers/{variant}/metrics.json"
ABLATION_RANKING = "results/ablations/rankings/{variant}/{target}.tsv"
ABLATION_PICKS = "results/ablations/picks/{target}.tsv"
FINETUNE_SOURCE_MODEL = "results/ablations/finetune/sources/{task}/seed{seed}/model.safetensors"
FINETUNE_SOURCE_METRICS = "results/ablations/finetune/sources/{task}/seed{seed}/" + METRICS_FILE
FINETUNE_TARGET_METRICS = "results/ablations/finetune/n{size}/{init}/{target}/seed{seed}/" + METRICS_FILE

# --- selection methods ---------------------------------------------------------------------------
#: prompt-similarity baselines: a measure of two prompts on their mean-pooled tokens or over all
#: token pairs (affinity/similarity.py computes them)
SIMILARITY_MEASURES = ("cosine", "euclidean", "manhattan")
SIMILARITY_POOLINGS = ("mean", "tokens")
SIMILARITY_METHODS = tuple(f"{m}_{p}" for p in SIMILARITY_POOLINGS for m in SIMILARITY_MEASURES)
#: methods that read pair features or training gains instead of prompts alone
#: transferability estimators on the frozen features under each source's prompt (affinity/transferability.py)
ESTIMATOR_METHODS = ("logme", "hscore", "knn")
FEATURE_METHODS = ("source_prior", *ESTIMATOR_METHODS, "feature_ranker")
#: leave-one-target-out variants: trained on every other held-out target's row as well
LOTO_SUFFIX = "_loto"
LOTO_BASES = ("source_prior", "feature_ranker", "scorer")
LOTO_METHODS = tuple(f"{m}{LOTO_SUFFIX}" for m in LOTO_BASES)
METHODS = ("scorer", "brute_force", "random", *SIMILARITY_METHODS, *FEATURE_METHODS, *LOTO_METHODS)
#: methods trained on transfer gains (their rankings change when the gains do)
LEARNED = ("scorer", "source_prior", "feature_ranker", *LOTO_METHODS)


def base_method(method: str) -> str:
    """A method without its leave-one-target-out suffix (``scorer_loto`` -> ``scorer``)."""
    return method.removesuffix(LOTO_SUFFIX)


def size_tag(size: int | str | None) -> str:
    """The target-role size as it appears in paths: ``128``, or ``all`` without a cap."""
    return str(size or "all")


def fill(pattern: str, **fields: object) -> str:
    """A pattern of this module with its wildcards filled (``fill(PROMPT, task="a", seed=0)``)."""
    return pattern.format(**fields)


def prompt_in(root: str | Path, task: str, seed: int | str) -> Path:
    """A prompt under a folder laid out like ``results/prompts`` (a run's, a pool's or a
    target-role size's): ``root/{task}/seed{seed}/prompt.safetensors``."""
    return Path(root) / task / f"seed{seed}" / PROMPT_FILE


def transfer_metrics_in(root: str | Path, source: str, target: str, seed: int | str) -> Path:
    """A transfer run's record under a folder laid out like ``results/transfer/n{size}``."""
    return Path(root) / source / target / f"seed{seed}" / METRICS_FILE
