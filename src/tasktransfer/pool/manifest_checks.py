"""Checking a shared pool's manifest before anything uses it: its structure, the strict name
pattern of every task name, seed and file name (they become paths and shell arguments), sha256
digests, and bounds on every number a command acts on (prompt size, epochs, lengths, data caps).
A manifest is untrusted (docs/trust.md): one failure is one :class:`ArtefactError` naming the field.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tasktransfer.errors import ArtefactError
from tasktransfer.names import check_name, check_relative_path, check_seed
from tasktransfer.pool.pool_files import DO_NOT_USE, SCORER_FILE, prompt_rel, record_rel

_SHA256 = re.compile(r"[0-9a-f]{64}")

#: bounds of every number a manifest gives that a command acts on: (lowest, highest)
PROMPT_BOUNDS = {"length": (1, 512), "hidden_size": (1, 16384), "mlp_hidden": (1, 16384)}
SPEC_BOUNDS = {
    "length": (1, 512),
    "mlp_hidden": (1, 16384),
    "batch_size": (1, 4096),
    "epochs": (1, 100),
    "max_steps": (0, 1_000_000),
    "max_length": (1, 4096),
    "eval_batch_size": (1, 4096),
    "evals_per_epoch": (1, 100),
    "eval_last_epochs": (0, 100),
}
SPEC_CHOICES = {"pooling": ("mean", "cls", "prompt"), "precision": ("fp32", "bf16", "auto")}
DATA_BOUNDS = {"max_train": (1, 1_000_000), "max_dev": (1, 1_000_000), "split_seed": (0, 2**31 - 1)}
MAX_LRS = 16


def no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different (json's default keeps the last of two silently:
    a manifest could show one value to a reader and another to this code)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key '{shown(key)}' is given twice")
        out[key] = value
    return out


def strict_json(raw: bytes | str) -> Any:
    """JSON from a pool: no NaN or Infinity, no key given twice, no nesting deeper than Python's
    recursion allows; each a ValueError naming it (callers turn it into one line)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text, parse_constant=no_constant, object_pairs_hook=no_duplicates)
    except UnicodeDecodeError as err:
        raise ValueError(f"not UTF-8 ({err.reason})") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None


def shown(value: Any) -> str:
    """A value from a pool as it may be printed: control characters (ANSI escapes that could clear
    the screen or forge a line) written out as ``\\xNN``."""
    return re.sub(r"[\x00-\x1f\x7f-\x9f]", lambda m: f"\\x{ord(m.group()):02x}", str(value))


class _Checker:
    """Structure checks of a manifest, each failure one error naming the field."""

    def __init__(self, where: str):
        self.where = where  # "pool P: manifest field", or the field a spec or caps block is in

    def fail(self, field: str, problem: str) -> None:
        raise ArtefactError(f"{self.where} '{field}' {problem}; {DO_NOT_USE}")

    def mapping(self, value: Any, field: str, optional: bool = False) -> dict:
        if value is None and optional:
            return {}
        if not isinstance(value, dict):
            self.fail(field, f"must be a mapping, not {type(value).__name__}")
        return value

    def text(self, value: Any, field: str, optional: bool = False, limit: int = 4096) -> None:
        if value is None and optional:
            return
        if not isinstance(value, str) or len(value) > limit:
            self.fail(field, f"must be text of at most {limit} characters, not {_short(value)}")

    def integer(self, value: Any, field: str, bounds: tuple[int, int], optional: bool = False) -> None:
        if value is None and optional:
            return
        low, high = bounds
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(field, f"must be an integer from {low} to {high}, not {_short(value)}")

    def number(self, value: Any, field: str, low: float, high: float, optional: bool = False) -> None:
        if value is None and optional:
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.fail(field, f"must be a finite number, not {_short(value)}")
        if not low <= value <= high:
            self.fail(field, f"must be from {low} to {high}, not {value}")

    def sha(self, value: Any, field: str, optional: bool = False) -> None:
        if value is None and optional:
            return
        if not isinstance(value, str) or not _SHA256.fullmatch(value):
            self.fail(field, f"must be a sha256 (64 lowercase hex digits), not {_short(value)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _known_mapping(value: Any, where: str, fields) -> None:
    """A manifest block that must be a mapping whose keys are all fields of its spec."""
    if not isinstance(value, dict):
        raise ArtefactError(f"{where} must be a mapping, not {type(value).__name__}; {DO_NOT_USE}")
    unknown = sorted(str(k) for k in value if k not in fields)
    if unknown:
        raise ArtefactError(f"{where} has unknown keys {unknown}; {DO_NOT_USE}")


def check_spec(spec: Any, where: str) -> dict:
    """A prompt spec as a manifest gives it: known keys, each number within :data:`SPEC_BOUNDS`.

    Returns the spec; raises one :class:`ArtefactError` (``where`` names the field)."""
    from tasktransfer.prompting.training import PromptSpec

    _known_mapping(spec, where, PromptSpec.__dataclass_fields__)
    c = _Checker(f"{where}:")
    for key, bounds in SPEC_BOUNDS.items():
        if key in spec:
            c.integer(spec[key], key, bounds)
    for key, choices in SPEC_CHOICES.items():
        if key in spec and spec[key] not in choices:
            c.fail(key, f"must be one of {list(choices)}, not {_short(spec[key])}")
    if "warmup_ratio" in spec:
        c.number(spec["warmup_ratio"], "warmup_ratio", 0.0, 0.99)
    if "group_by_length" in spec and not isinstance(spec["group_by_length"], bool):
        c.fail("group_by_length", f"must be true or false, not {_short(spec['group_by_length'])}")
    if "lrs" in spec:
        lrs = spec["lrs"]
        if not isinstance(lrs, list) or not 1 <= len(lrs) <= MAX_LRS:
            c.fail("lrs", f"must be a list of 1 to {MAX_LRS} learning rates, not {_short(lrs)}")
        for i, lr in enumerate(lrs):
            c.number(lr, f"lrs[{i}]", 1e-12, 10.0)
    return spec


def check_data_caps(data: Any, where: str) -> dict:
    """Data caps as a manifest gives them (``max_train``, ``max_dev``, ``split_seed``, ``dev_fraction``)."""
    from tasktransfer.data.prepare import DataSpec

    _known_mapping(data, where, DataSpec.__dataclass_fields__)
    c = _Checker(f"{where}:")
    for key, bounds in DATA_BOUNDS.items():
        if key in data:
            c.integer(data[key], key, bounds)
    if "dev_fraction" in data:
        c.number(data["dev_fraction"], "dev_fraction", 1e-6, 1 - 1e-6)
    return data


class _ManifestChecker(_Checker):
    """The checks of one pool's manifest: its fields, and the names that become paths (whose own
    checks in names.py raise with the pool and what the name is)."""

    def __init__(self, pool: Path):
        super().__init__(f"pool {pool}: manifest field")
        self.pool = pool

    def named(self, check: Callable[[Any, str, str], Any], value: Any, what: str) -> Any:
        return check(value, f"pool {self.pool}: {what}", DO_NOT_USE)


def _check_files(c: _ManifestChecker, manifest: dict) -> dict:
    """The manifest's ``files`` (relative path -> sha256); returned for the checks that need them."""
    files = c.mapping(manifest["files"], "files")
    for rel, digest in files.items():
        c.named(check_relative_path, rel, "manifest file name")
        c.sha(digest, f"files.{rel}")
    return files


def _check_backbone_and_prompt(c: _ManifestChecker, manifest: dict) -> None:
    """The backbone's identity, the prompt's size and spec, and the data caps."""
    backbone = c.mapping(manifest["backbone"], "backbone")
    c.text(backbone.get("name"), "backbone.name")
    c.sha(backbone.get("weights_sha256"), "backbone.weights_sha256", optional=True)
    for fname, digest in c.mapping(backbone.get("files"), "backbone.files", optional=True).items():
        c.named(check_name, fname, "manifest backbone file name")
        c.sha(digest, f"backbone.files.{fname}")
    prompt = c.mapping(manifest["prompt"], "prompt")
    for key, bounds in PROMPT_BOUNDS.items():
        c.integer(prompt.get(key), f"prompt.{key}", bounds)
    if prompt.get("spec") is not None:
        check_spec(prompt["spec"], f"pool {c.pool}: manifest field 'prompt.spec'")
    if manifest.get("data") is not None:
        check_data_caps(manifest["data"], f"pool {c.pool}: manifest field 'data'")


def _check_seeds(c: _ManifestChecker, manifest: dict) -> None:
    """The pool's common seeds and its embedding seed."""
    seeds = manifest.get("seeds", [])
    if not isinstance(seeds, list):
        c.fail("seeds", f"must be a list of seeds, not {type(seeds).__name__}")
    for s in seeds:
        c.named(check_seed, s, "manifest seed")
    if manifest.get("embedding_seed") is not None:
        c.named(check_seed, manifest["embedding_seed"], "manifest embedding_seed")


def _check_task(c: _ManifestChecker, task: str, entry: Any, files: dict) -> None:
    """One task's entry: its data description, its spec, and its seeds."""
    c.named(check_name, task, "manifest task name")
    entry = c.mapping(entry, f"tasks.{task}")
    for key in ("type", "format", "metric", "description", "role"):
        c.text(entry.get(key), f"tasks.{task}.{key}", optional=True)
    for key in ("n_train", "n_dev"):
        c.integer(entry.get(key), f"tasks.{task}.{key}", (0, 10**9), optional=True)
    c.number(entry.get("majority"), f"tasks.{task}.majority", 0.0, 1.0, optional=True)
    labels = entry.get("labels")
    if labels is not None and (not isinstance(labels, list) or not all(isinstance(x, str) for x in labels)):
        c.fail(f"tasks.{task}.labels", "must be a list of label names")
    if entry.get("source") is not None:
        c.mapping(entry["source"], f"tasks.{task}.source")
    if entry.get("task_data") is not None:
        c.mapping(entry["task_data"], f"tasks.{task}.task_data")
    if entry.get("spec") is not None:
        check_spec(entry["spec"], f"pool {c.pool}: manifest field 'tasks.{task}.spec'")
    if "seeds" not in entry:
        c.fail(f"tasks.{task}.seeds", "is missing")
    task_seeds = c.mapping(entry["seeds"], f"tasks.{task}.seeds")
    if not task_seeds:
        c.fail(f"tasks.{task}.seeds", "is empty")
    for seed, info in task_seeds.items():
        _check_task_seed(c, task, seed, info, files)


def _check_task_seed(c: _ManifestChecker, task: str, seed: Any, info: Any, files: dict) -> None:
    """One prompt of a task: its canonical file names (listed in ``files``), its score and lr."""
    c.named(check_seed, seed, f"manifest seed of task {task!r}")
    if seed != str(int(seed)):
        c.fail(f"tasks.{task}.seeds.{seed}", "must be written without leading zeros")
    info = c.mapping(info, f"tasks.{task}.seeds.{seed}")
    for key, rel in (("file", prompt_rel(task, seed)), ("record", record_rel(task, seed))):
        if info.get(key, rel) != rel:
            c.fail(f"tasks.{task}.seeds.{seed}.{key}", f"must be {rel!r}, not {_short(info.get(key))}")
        if rel not in files:
            c.fail("files", f"lacks {rel!r} (task {task}, seed {seed})")
    c.number(info.get("r1"), f"tasks.{task}.seeds.{seed}.r1", -1e9, 1e9, optional=True)
    c.number(info.get("lr"), f"tasks.{task}.seeds.{seed}.lr", 0.0, 10.0, optional=True)


def _check_scorer(c: _ManifestChecker, scorer: Any, files: dict) -> None:
    """The scorer's entry (where the pool has one): its file, listed in ``files``, and its record."""
    scorer = c.mapping(scorer, "scorer")
    if scorer.get("file") != SCORER_FILE:
        c.fail("scorer.file", f"must be {SCORER_FILE!r}, not {_short(scorer.get('file'))}")
    if SCORER_FILE not in files:
        c.fail("files", f"lacks {SCORER_FILE!r} (the scorer)")
    c.text(scorer.get("backbone"), "scorer.backbone", optional=True)
    c.sha(scorer.get("weights_sha256"), "scorer.weights_sha256", optional=True)
    trained_on = scorer.get("trained_on", [])
    if not isinstance(trained_on, list) or not all(isinstance(t, str) for t in trained_on):
        c.fail("scorer.trained_on", "must be a list of task names")
    if scorer.get("metrics") is not None:
        c.mapping(scorer["metrics"], "scorer.metrics")
    # a compact file's storage (its width; checked in full where the file is read) and its check
    for key in ("spec", "storage", "storage_check"):
        c.mapping(scorer.get(key), f"scorer.{key}", optional=True)


def check_manifest(manifest: dict, pool: str | Path) -> None:
    """Every field a command reads from a manifest, checked before anything uses it: types, the
    strict name pattern for every task name, seed and file name (they become paths and shell
    arguments), sha256 digests, and bounds on every number (:data:`PROMPT_BOUNDS`, ...)."""
    c = _ManifestChecker(Path(pool))
    for task in c.mapping(manifest["tasks"], "tasks"):  # task names first: the clearest message
        c.named(check_name, task, "manifest task name")
    files = _check_files(c, manifest)
    _check_backbone_and_prompt(c, manifest)
    _check_seeds(c, manifest)
    for task, entry in c.mapping(manifest["tasks"], "tasks").items():
        _check_task(c, task, entry, files)
    if manifest.get("scorer") is not None:
        _check_scorer(c, manifest["scorer"], files)
    if manifest.get("selection") is not None:
        _check_selection(c, manifest["selection"])


def _check_selection(c: _ManifestChecker, entry: Any) -> None:
    """The learned selection methods' entry (pool/selection_models.py): which files, and the
    target size the feature ranker was fitted at."""
    entry = c.mapping(entry, "selection")
    for key in ("prior", "ranker", "decision"):
        c.text(entry.get(key), f"selection.{key}", optional=True)
    c.integer(entry.get("target_train"), "selection.target_train", (0, 10**6), optional=True)
