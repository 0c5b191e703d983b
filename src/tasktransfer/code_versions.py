"""Per-stage code versions: a change in the code that makes a stage's results reruns that stage.

Each workflow stage lists the package modules its results depend on. Its version is a hash of
those modules' syntax trees with docstrings removed, so comments, docstrings and formatting never
rerun anything, while any change to what the code does reruns exactly the stages that import it.
The rules put the version of their stage in ``params``; Snakemake's params trigger does the rest.

Changes that alter results from outside the listed modules (say, in a library's behaviour) bump the stage's
counter in :data:`REVISIONS`. docs/cluster.md says how to force a rerun or skip one.

Some module-level values are data that reach the jobs another way (:data:`PINS`): the data
packages' pins in ``data.package_fetch.PACKAGES`` are in the fetched-archive marker's name, an input of the
tasks of that package only, so a new pin reruns those tasks and not every ``prepare``.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent

#: modules whose code shapes each stage's results (its own, what it calls, and the command module
#: that writes its records), as dotted paths under the package
STAGES: dict[str, tuple[str, ...]] = {
    "data": (
        "data.registry", "data.prepare", "data.package_fetch", "data.package_corpora", "data.tables",
        "data.synthetic", "data.providers", "data.pins", "data.task_spec", "data.examples", "data.readers", "data.nltk_readers", "data.folder_readers_a",
        "data.folder_readers_b", "data.folder_readers_b_taskweb", "io", "cli.data_commands",
    ),
    "tune": (
        "prompting.training", "prompting.loop_steps", "prompting.prompt_encoder", "prompting.formats", "prompting.backbone",
        "prompting.prompt_files", "prompting.control", "prompting.tune_run", "prompting.transfer_job",
        "prompting.control_job", "names", "metrics", "data.prepare", "io", "cli.prompt_commands",
    ),
    "gather": (
        "analysis.gather", "analysis.uncertainty", "bootstrap", "score_sums", "affinity.pairs", "prompting.formats", "metrics", "data.prepare", "io",
        "run_layout", "cli.gather_commands",
    ),
    "scorer": (
        "affinity.scorer", "affinity.scorer_spec", "affinity.scorer_model", "affinity.pairs", "prompting.backbone", "prompting.prompt_files", "prompting.training", "prompting.loop_steps",
        "affinity.scorer_job", "affinity.pair_plan", "run_layout", "analysis.gather", "cli.affinity_commands",
    ),
    "rank": (
        "affinity.selection", "affinity.similarity", "affinity.rank_job", "affinity.pairs", "run_layout", "affinity.scorer", "affinity.scorer_spec", "affinity.scorer_model", "prompting.backbone",
        "prompting.prompt_files",
        "affinity.source_prior", "affinity.feature_ranker", "affinity.pair_features", "analysis.gather",
        "cli.affinity_commands",
    ),
    # pair features of a target-role task: prompt cosines and LogME under each source's prompt
    "features": (
        "affinity.pair_features", "affinity.features_job", "affinity.logme", "affinity.logme_features", "affinity.transferability", "affinity.similarity", "run_layout",
        "prompting.prompt_encoder", "prompting.formats", "prompting.backbone", "prompting.prompt_files",
        "prompting.training", "prompting.loop_steps", "data.prepare", "cli.affinity_commands",
    ),
    "evaluate": (
        "analysis.evaluation", "analysis.report_tables", "analysis.task_table", "analysis.signal_report", "analysis.gather", "analysis.uncertainty", "bootstrap", "score_sums", "analysis.signal",
        "analysis.signal_null", "analysis.oracle", "analysis.versus_baseline", "analysis.versus_report",
        "analysis.design_power", "analysis.plots", "analysis.budget",
        "analysis.budget_report", "metrics",
        "cli.analysis_commands",
    ),
    # the paper's analyses (workflow/rules/ablations.smk): their tables and full fine-tuning
    "ablations": (
        "analysis.ablations", "analysis.ablation_plots", "analysis.plots", "analysis.gather", "affinity.pairs", "metrics",
        "io", "cli.ablation_commands",
    ),
    "finetune": (
        "prompting.finetune", "prompting.finetune_job", "prompting.training", "prompting.loop_steps", "prompting.formats", "prompting.backbone", "data.prepare", "metrics",
        "io", "cli.ablation_commands",
    ),
    # installing a shared pool's files into a run (workflow/rules/pool.smk)
    "pool": ("pool.manifest", "pool.install", "pool.import_plan", "io", "cli.pool_commands"),
    # which tasks learn at the target size (workflow/rules/design.smk: the checkpoint learnability)
    "learnability": ("analysis.learnability", "affinity.design_job", "analysis.report_tables", "metrics", "io", "cli.design_commands"),
    # the scorer's pairs: a learnable-only sample or the balanced design (checkpoint design_pairs)
    "design": ("affinity.design_job", "affinity.pair_plan", "affinity.pair_design", "run_layout", "affinity.pairs", "analysis.learnability", "io", "cli.design_commands"),
    # a finished run's matrix published as compact tables (workflow/rules/publish.smk)
    "publish": ("analysis.publish", "analysis.publish_inputs", "analysis.publish_readme", "analysis.budget", "data.registry", "folder_swap", "run_layout", "cli.publish_commands"),
}  # fmt: skip

#: bumped by hand when a stage's results change for a reason outside its modules; 2: the package
#: moved into subpackages; 3: the command bodies moved into the package and the workflow's common
#: files split (issue 26; results unchanged: docs/cluster.md, "Code versions", carries a finished
#: run across with --touch)
REVISIONS: dict[str, int] = {stage: 3 for stage in STAGES}

#: module-level names left out of a module's hash: values that reach the jobs through their paths
PINS: dict[str, tuple[str, ...]] = {"data.package_fetch": ("PACKAGES",)}


def _without_pins(tree: ast.Module, names: tuple[str, ...]) -> ast.Module:
    """The module without its top-level assignments to ``names`` (e.g. ``PACKAGES = {...}``)."""

    def assigns_pin(node: ast.stmt) -> bool:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            return False
        return any(isinstance(t, ast.Name) and t.id in names for t in targets)

    tree.body = [node for node in tree.body if not assigns_pin(node)]
    return tree


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
    return tree


#: how a module's digest is made: part of every cache key, so a new way never reads an old digest
_DIGEST_FORMAT = 1


def _cache_path() -> Path:
    """Digests already computed, by the exact bytes of a module: every Snakemake call computes the
    versions, and parsing a module is the slow part (a cache entry can never be stale: another
    source is another key)."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "tasktransfer" / "code_digests.json"


@cache
def _digest_cache() -> dict[str, str]:
    try:
        cached = json.loads(_cache_path().read_text())
        return cached if isinstance(cached, dict) else {}
    except (OSError, ValueError):
        return {}


def _remember(key: str, digest: str) -> None:
    cached = _digest_cache()
    if len(cached) >= 2000:  # old sources pile up over many edits: start again
        cached.clear()
    cached[key] = digest
    path = _cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cached, sort_keys=True))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home: the digests are computed each time


def _ast_digest(source: bytes, pins: tuple[str, ...]) -> str:
    tree = _without_docstrings(_without_pins(ast.parse(source.decode("utf-8")), pins))
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()


def module_path(module: str) -> Path:
    """The file of a dotted module name under the package (``prompting.training``)."""
    return PACKAGE.joinpath(*module.split(".")).with_suffix(".py")


@cache
def module_digest(module: str) -> str:
    """Hash of one module's code (comments, docstrings, layout and its :data:`PINS` excluded)."""
    source = module_path(module).read_bytes()
    pins = PINS.get(module, ())
    key = hashlib.sha256(repr((_DIGEST_FORMAT, pins, source)).encode()).hexdigest()
    digest = _digest_cache().get(key)
    if digest is None:
        digest = _ast_digest(source, pins)
        _remember(key, digest)
    return digest


def code_version(stage: str) -> str:
    """The code version of a workflow stage (12 hex digits)."""
    if stage not in STAGES:
        raise KeyError(f"unknown stage '{stage}'; stages: {sorted(STAGES)}")
    h = hashlib.sha256(f"{stage}:{REVISIONS[stage]}".encode())
    for module in STAGES[stage]:
        h.update(module_digest(module).encode())
    return h.hexdigest()[:12]


def all_code_versions() -> dict[str, str]:
    return {stage: code_version(stage) for stage in STAGES}
