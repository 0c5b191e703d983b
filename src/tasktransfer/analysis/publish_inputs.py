"""What a published matrix reads of a run besides its tables (:mod:`tasktransfer.analysis.publish`):
the run's config and task registry, each task's provenance as its prepare job recorded it, and
the machine its transfers ran on as their records say. Paths are run_layout's, placed under a
results folder that may be named otherwise (:func:`under`).
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from tasktransfer import run_layout as layout
from tasktransfer.data.package_fetch import PACKAGES
from tasktransfer.data.registry import load_registry
from tasktransfer.data.task_spec import TaskSpec
from tasktransfer.errors import TaskTransferError
from tasktransfer.yaml_files import load_yaml_file

#: the gathered gains tables of a run (run_layout.GAINS) and the role each gives its pairs
ROLES = {"target_pairs": "held_out", "scorer_pairs": "pool", "control_pairs": "control"}


def under(results: Path, path: str) -> Path:
    """A run_layout path (``results/...``) under a results folder that may be named otherwise."""
    return Path(results) / PurePosixPath(path).relative_to("results")


def read_tsv(path: Path, what: str) -> pd.DataFrame:
    """A TSV of the run. pandas (3.x, the pinned version) parses each float exactly, and writes it
    back as its shortest repr, so the published evaluate inputs hold the run's numbers bit for bit
    (tests/analysis/test_publish.py compares the files' text) and give the run's own evaluation."""
    if not path.is_file():
        raise TaskTransferError(f"{what} {path} does not exist; finish the run (snakemake in its folder) first")
    return pd.read_csv(path, sep="\t")


@dataclass(frozen=True)
class RunConfig:
    """The run's effective config, where it came from, and the settings the evaluation used."""

    config: dict[str, Any]
    source: str
    registry: Path

    @property
    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.config, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    def tasks(self, key: str) -> list[str]:
        return sorted(self.config.get(key) or [])

    def evaluate_settings(self, table2: pd.DataFrame) -> dict[str, Any]:
        """ks, level and the primary comparison as the run's evaluate rule passed them; ks from the
        run's Table 2 where the config does not say (its regret@k columns), the others left to
        evaluate's defaults (the schema's) where the config does not say."""
        selection = self.config.get("selection") or {}
        ks = selection.get("top_k") or sorted(int(c.split("@")[1]) for c in table2.columns if c.startswith("regret@"))
        settings: dict[str, Any] = {"ks": [int(k) for k in ks]}
        level = (self.config.get("uncertainty") or {}).get("level")
        if level is not None:
            settings["level"] = level
        if isinstance(selection.get("primary"), dict):
            settings["primary"] = dict(selection["primary"])
        return settings


def load_config(results: Path, config_file: str | Path | None, config_json: str | None,
                registry: str | Path | None) -> RunConfig:
    """The config: the workflow's effective one (``--config-json``, defaults and overrides in) or
    the run's file as given; its registry from ``registry``, else its ``tasks_registry`` found
    here or in the run's folder (the folder holding ``results``)."""
    if (config_file is None) == (config_json is None):
        raise TaskTransferError("give the run's config once: --config FILE or --config-json TEXT")
    if config_json is not None:
        config, source = json.loads(config_json), "the workflow's effective config (schema defaults and overrides applied)"
    else:
        if not Path(config_file).is_file():
            raise TaskTransferError(f"config {config_file} does not exist; pass the run's config with --config")
        config, source = load_yaml_file(Path(config_file), "config") or {}, f"the config file {config_file} as given"
    if not isinstance(config, dict):
        raise TaskTransferError(f"the config ({source}) is not a mapping of keys; pass the run's config")
    name = registry or config.get("tasks_registry", "config/tasks.yaml")
    # a relative tasks_registry is the run folder's, as Snakemake read it there (--directory)
    candidates = [Path(name)] if registry else [Path(results).resolve().parent / name, Path(name)]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        raise TaskTransferError(
            f"the task registry {name} is not here nor in the run's folder; pass it with --registry"
        )
    return RunConfig(config, source, found)



def _json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise TaskTransferError(f"{what} {path} does not exist; finish the run (its prepare job writes it) first")
    return json.loads(path.read_text())


def _file_origin(entry: Mapping[str, Any]) -> str:
    """Where a file's bytes come from, pinned: a package at its version, or a repository at its commit."""
    if entry.get("package"):
        ref = PACKAGES.get(entry["package"])
        return f"{entry['package']}=={ref.version}" if ref else str(entry["package"])
    if entry.get("repo"):
        return f"{entry['repo']}@{entry.get('commit', '?')}"
    return ""


def task_row(results: Path, task: str, roles: list[str], spec: TaskSpec) -> dict[str, Any]:
    """One task: the registry's labels, the prepared data's sizes, and per file what served it
    (provider, pinned origin, sha256) as the prepare job recorded it; a run prepared before those
    records existed falls back to the registry's pins."""
    meta = _json(under(results, layout.fill(layout.META, task=task)), "prepared data meta")
    prov_path = under(results, layout.fill(layout.PROVENANCE, task=task))
    files = json.loads(prov_path.read_text()).get("files", {}) if prov_path.is_file() else {
        f.name: {"sha256": f.sha256, "package": f.package, "repo": f.repo,
                 "commit": spec.repositories[f.repo].commit if f.repo in spec.repositories else None}
        for f in spec.files
    }
    names = sorted(files)
    return {
        "task": task,
        "role": ",".join(roles),
        "type": meta.get("type", spec.type),
        "format": meta.get("format", spec.format),
        "metric": meta.get("metric", spec.metric),
        "n_train": meta.get("n_train"),
        "n_dev": meta.get("n_dev"),
        "kind": spec.kind,
        # a generated or unpinned task reads no pinned file: its kind says what made it
        "provider": ",".join(sorted({str(files[n].get("provider", "")) for n in names})) or f"{spec.kind} (no pinned file)",
        "origin": ";".join(sorted({_file_origin(files[n]) for n in names} - {""})),
        "files": ";".join(f"{n}={files[n].get('sha256') or ''}" for n in names),
        "licence": "; ".join(spec.licences),
    }


def tasks_table(results: Path, run: RunConfig) -> pd.DataFrame:
    """Every task of the run with its role(s): source, target (held out), novel."""
    registry = load_registry(run.registry)
    roles: dict[str, list[str]] = {}
    for key, role in (("sources", "source"), ("targets", "target"), ("novel_targets", "novel")):
        for task in run.tasks(key):
            roles.setdefault(task, []).append(role)
    missing = sorted(t for t in roles if t not in registry)
    if missing:
        raise TaskTransferError(f"tasks {missing} are not in the registry {run.registry}; pass the run's with --registry")
    return pd.DataFrame([task_row(results, t, roles[t], registry[t]) for t in sorted(roles)])


def listed_records(results: Path) -> list[Path]:
    """The transfer runs' records the gathering rules read (results/lists/{name}.txt)."""
    paths = []
    for name in ROLES:
        listing = under(results, layout.fill(layout.FILE_LIST, name=name))
        if listing.is_file():
            paths += [under(results, line) for line in listing.read_text().split() if line.startswith("results/")]
    return paths


def cpu() -> dict[str, Any]:
    """This machine's CPU model and the vector flags that decide the precision (as bench/ records them)."""
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    lines = text.splitlines()
    model = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), platform.processor() or "?")
    flags = next((ln.split(":", 1)[1].split() for ln in lines if ln.startswith("flags")), [])
    return {"model": model, "flags": [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]}


def machine(results: Path) -> dict[str, Any]:
    """Where the transfers ran, as their records say (hosts, precisions, SLURM jobs), and the CPU
    of the machine that published (the run's own where it ran locally)."""
    hosts, precisions, slurm, read = set(), set(), 0, 0
    for path in listed_records(results):
        if path.is_file():
            record = json.loads(path.read_text())
            hosts.add(str(record.get("host")))
            precisions.add(str(record.get("precision")))
            slurm += record.get("slurm_job_id") is not None
            read += 1
    return {
        "transfer_records_read": read,
        "hosts": sorted(hosts),
        "precisions": sorted(precisions),
        "slurm_jobs": slurm,
        "publishing_cpu": cpu(),
        "platform": platform.platform(),
    }



def versions() -> dict[str, str]:
    """The versions of what computed and read the numbers (this environment's)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for name in ("torch", "transformers", "numpy", "pandas", "scipy"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found
