"""Check a published matrix (:mod:`tasktransfer.analysis.publish`) as its reader received it.

A matrix travels as a plain folder (a repository, an archive, a copy). Before anyone reads a finding
from it, :func:`check_matrix` says whether it is the folder that was published and whether its
tables hold the design they claim: every file the marker and ``provenance.json`` name is there and
unchanged (sha256), nothing else is, every held-out pair ran on every seed, and each gain is its
r2 - r1. It reads only; every failure names the file and what to do.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tasktransfer.analysis.publish import FORMAT_VERSION, KIND, MARKER, OURS, POINT_DECIMALS
from tasktransfer.errors import TaskTransferError

#: files the marker lists that provenance.json cannot hash: itself, and the README written after it
UNHASHED = {"README.md", "provenance.json"}
#: r1, r2 and gain are each rounded to POINT_DECIMALS, so r2 - r1 may differ from gain by 1.5 units there
GAIN_TOLERANCE = 2 * 10.0**-POINT_DECIMALS


@dataclass(frozen=True)
class MatrixSummary:
    """What a checked matrix holds."""

    targets: int
    #: the fewest and the most sources a held-out target's row has
    sources_per_target: tuple[int, int]
    seeds: tuple[int, ...]
    transfer_runs: int
    methods: tuple[str, ...]


def _fail(folder: Path, what: str, fix: str) -> TaskTransferError:
    return TaskTransferError(f"published matrix {folder}: {what}; {fix}")


REFETCH = "fetch the folder again, or publish it again from its run (`snakemake publish`)"


def _record(folder: Path) -> dict[str, Any]:
    if not (folder / MARKER).is_file():
        raise _fail(folder, f"no {MARKER} marker", "this is not a folder `tasktransfer publish` wrote")
    try:
        record = json.loads((folder / "provenance.json").read_text())
    except (OSError, ValueError) as err:
        raise _fail(folder, f"provenance.json is unreadable ({err})", REFETCH) from None
    if not isinstance(record, dict) or record.get("kind") != KIND or not isinstance(record.get("files"), dict):
        raise _fail(folder, f"provenance.json is not a {KIND} record", REFETCH)
    if record.get("format_version") != FORMAT_VERSION:
        raise _fail(folder, f"format version {record.get('format_version')!r}, this package reads {FORMAT_VERSION}",
                    "use the tasktransfer version named in provenance.json")
    return record


def check_files(folder: Path) -> dict[str, Any]:
    """The folder holds exactly the files its marker lists, each hashed file unchanged; returns
    provenance.json's record."""
    record = _record(folder)
    listed = set((folder / MARKER).read_text().split())
    hashed = set(record["files"])
    if listed != hashed | UNHASHED:
        raise _fail(folder, f"its marker and provenance.json name different files "
                            f"({', '.join(sorted(listed ^ (hashed | UNHASHED)))})", REFETCH)
    present = {p.name for p in folder.iterdir()} - OURS
    if present != listed:
        missing, extra = sorted(listed - present), sorted(present - listed)
        raise _fail(folder, f"missing {', '.join(missing) or 'nothing'}, not published {', '.join(extra) or 'nothing'}",
                    f"{REFETCH}; keep files of your own outside it")
    for name, digest in sorted(record["files"].items()):
        actual = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        if actual != digest:
            raise _fail(folder, f"{name} has sha256 {actual[:12]}..., provenance.json records {str(digest)[:12]}...: "
                                "it changed after publishing", REFETCH)
    return record


def check_design(folder: Path, record: dict[str, Any]) -> MatrixSummary:
    """Every held-out pair ran on every seed, each run's gain is r2 - r1, and the counts agree with
    provenance.json's."""
    gains = pd.read_csv(folder / "gains.tsv", sep="\t")
    design = pd.read_csv(folder / "design.tsv", sep="\t", dtype={"seeds": str})
    counts = record.get("counts", {})
    seeds = tuple(sorted(int(s) for s in gains.seed.unique()))
    off = gains[((gains.r2 - gains.r1) - gains.gain).abs() > GAIN_TOLERANCE]
    if len(off):
        row = off.iloc[0]
        raise _fail(folder, f"gains.tsv: {len(off)} run(s) whose gain is not r2 - r1 (first: {row.source} -> "
                            f"{row.target}, seed {row.seed})", REFETCH)
    held = design[design.role == "held_out"]
    partial = held[held.seeds != ",".join(map(str, seeds))]
    if len(partial):
        row = partial.iloc[0]
        raise _fail(folder, f"design.tsv: {len(partial)} held-out pair(s) not on every seed {seeds} (first: "
                            f"{row.source} -> {row.target}, seeds {row.seeds})", "publish a finished run only")
    ran = set(zip(gains.source, gains.target))
    absent = [f"{s} -> {t}" for s, t in zip(held.source, held.target) if (s, t) not in ran]
    if absent:
        raise _fail(folder, f"gains.tsv lacks {len(absent)} held-out pair(s) of design.tsv (first: {absent[0]})",
                    REFETCH)
    per_target = held.groupby("target").source.nunique()
    summary = MatrixSummary(
        targets=int(per_target.size),
        sources_per_target=(int(per_target.min()), int(per_target.max())) if per_target.size else (0, 0),
        seeds=seeds, transfer_runs=len(gains), methods=tuple(counts.get("methods", ())),
    )
    claimed = {"targets": counts.get("targets"), "transfer_runs": counts.get("transfer_runs"),
               "seeds": list(counts.get("seeds", []))}
    found = {"targets": summary.targets, "transfer_runs": summary.transfer_runs, "seeds": list(seeds)}
    if claimed != found:
        raise _fail(folder, f"its tables hold {found}, provenance.json counts {claimed}", REFETCH)
    return summary


def check_matrix(folder: str | Path) -> MatrixSummary:
    """Check a published matrix folder (see the module's docstring); returns what it holds."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TaskTransferError(f"published matrix {folder}: no such folder; give the folder that holds "
                                "provenance.json and the tables")
    return check_design(folder, check_files(folder))
