"""Per-stage code versions: a change in the code that makes a stage's results reruns that stage.

Each workflow stage lists the package modules its results depend on. Its version is a hash of
those modules' syntax trees with docstrings removed, so comments, docstrings and formatting never
rerun anything, while any change to what the code does reruns exactly the stages that import it.
The rules put the version of their stage in ``params``; Snakemake's params trigger does the rest.

Changes that alter results from outside the listed modules (say, in ``cli.py``) bump the stage's
counter in :data:`REVISIONS`. docs/cluster.md says how to force a rerun or skip one.
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
}

#: bumped by hand when a stage's results change for a reason outside its modules
REVISIONS: dict[str, int] = {stage: 1 for stage in STAGES}


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
    """Hash of one module's code (comments, docstrings and layout excluded)."""
    source = (PACKAGE / f"{module}.py").read_text(encoding="utf-8")
    tree = _without_docstrings(ast.parse(source))
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
