"""Per-stage code versions: a change in the code that makes a stage's results reruns that stage.

Each workflow stage lists the package modules its results depend on. Its version is a hash of
those modules' syntax trees with docstrings removed, so comments, docstrings and formatting never
rerun anything, while any change to what the code does reruns exactly the stages that import it.
The rules put the version of their stage in ``params``; Snakemake's params trigger does the rest.

Changes that alter results from outside the listed modules (say, in ``cli.py``) bump the stage's
counter in :data:`REVISIONS`. docs/cluster.md says how to force a rerun or skip one.

Some module-level values are data that reach the jobs another way (:data:`PINS`): the data
packages' pins in ``corpora.PACKAGES`` are in the fetched-archive marker's name, an input of the
tasks of that package only, so a new pin reruns those tasks and not every ``prepare``.
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent

#: modules whose code shapes each stage's results (its own and what it calls)
STAGES: dict[str, tuple[str, ...]] = {
    "data": ("tasks", "data", "corpora", "hub", "synthetic", "io"),
    "tune": ("training", "prompt_encoder", "formats", "metrics", "backbone", "prompt_pool", "control", "data", "io"),
    "gather": ("results", "uncertainty", "formats", "metrics", "data"),
    "scorer": ("scorer", "pairs", "backbone", "prompt_pool", "results", "training"),
    "rank": ("selection", "similarity", "scorer", "backbone", "prompt_pool", "results"),
    "evaluate": ("evaluation", "report_tables", "metrics", "results", "uncertainty", "gain_signal", "plots"),
    # the paper's analyses (workflow/rules/ablations.smk): their tables and full fine-tuning
    "ablations": ("ablations", "ablation_plots", "metrics", "plots", "results"),
    "finetune": ("finetune", "training", "formats", "metrics", "backbone", "data", "io"),
    # installing a shared pool's files into a run (workflow/rules/pool.smk)
    "pool": ("shared_pool", "pool_import", "io"),
}

#: bumped by hand when a stage's results change for a reason outside its modules
REVISIONS: dict[str, int] = {stage: 1 for stage in STAGES}

#: module-level names left out of a module's hash: values that reach the jobs through their paths
PINS: dict[str, tuple[str, ...]] = {"corpora": ("PACKAGES",)}


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


@cache
def module_digest(module: str) -> str:
    """Hash of one module's code (comments, docstrings, layout and its :data:`PINS` excluded)."""
    source = (PACKAGE / f"{module}.py").read_text(encoding="utf-8")
    tree = _without_docstrings(_without_pins(ast.parse(source), PINS.get(module, ())))
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()


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
