"""Publish a finished run's transfer matrix: compact, self-describing tables in one folder.

:func:`publish_run` reads a finished run's ``results/`` folder and writes, into a fresh folder
swapped in whole (:mod:`tasktransfer.folder_swap`): every transfer run's r1, r2 and gain
(``gains.tsv``), every pair's mean gain beside its features and every ranking method's score
(``pairs.tsv``), the design (``design.tsv``), each task's provenance (``tasks.tsv``), the run's
provenance (``provenance.json``, ``config.json``), the four plain tables ``tasktransfer evaluate``
takes, each run's job-seconds (``seconds.tsv``, for ``tasktransfer budget``), and a README made
from the data (:mod:`tasktransfer.analysis.publish_readme`).

The evaluate inputs keep the run's numbers exactly (each double read exactly, written as its shortest
repr), so ``tasktransfer evaluate`` on the folder reproduces the run's own evaluation; the matrix
tables are rounded for reading (points to 4 decimals, features and scores to 6 significant digits).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from tasktransfer import __version__, run_layout as layout
from tasktransfer.analysis.budget import gather_run_seconds
from tasktransfer.analysis.publish_inputs import (
    ROLES,
    RunConfig,
    listed_records,
    load_config,
    machine,
    read_tsv,
    tasks_table,
    under,
    versions,
)
from tasktransfer.analysis.publish_readme import ReadmeFacts, readme_text
from tasktransfer.code_versions import all_code_versions
from tasktransfer.errors import TaskTransferError
from tasktransfer.folder_swap import swap_in, sync_files, temp_folder_beside

#: the marker of a folder this command wrote: its lines name the files it holds
MARKER = ".tasktransfer-matrix"
#: what else a folder of ours may hold: the marker, and Snakemake's stamp of a directory output
OURS = {MARKER, ".snakemake_timestamp"}
KIND = "tasktransfer-transfer-matrix"
FORMAT_VERSION = 1
#: the issue's bound on a published matrix (decimal megabytes: 20,000,000 bytes)
MAX_BYTES = 20 * 10**6
POINT_DECIMALS = 4
SIGNIFICANT = 6
#: the evaluation's folder (``evaluate-run --out``; run_layout names its budget table there) and the
#: files of it that are read here. run_layout is left as it is on purpose: it is hashed into the
#: code version of five stages, and a new name there would rerun their jobs in every run.
EVAL_DIR = PurePosixPath(layout.BUDGET_SUMMARY).parent.as_posix()
EVAL_INPUTS = ("transfer.tsv", "no_transfer.tsv", "per_seed.tsv")
TABLE2 = "table2.tsv"


def check_finished(results: Path, targets: list[str]) -> None:
    """A finished run: its gathered tables and its whole evaluation exist (the budget table is the
    evaluate job's last output), and the evaluation judged the config's targets."""
    if not (results / "gains").is_dir() and not under(results, layout.NO_TRANSFER).exists():
        raise TaskTransferError(f"{results} is not a run's results folder (no gains/, no no_transfer.tsv); pass --results")
    wanted = [under(results, layout.fill(layout.GAINS, name=n)) for n in ("target_pairs", "scorer_pairs")]
    wanted += [under(results, p) for p in (layout.NO_TRANSFER, layout.BUDGET_SUMMARY)]
    wanted += [under(results, f"{EVAL_DIR}/{name}") for name in (*EVAL_INPUTS, TABLE2)]
    missing = [str(p) for p in wanted if not p.is_file()]
    if missing:
        raise TaskTransferError(
            f"{results} is not a finished run: {', '.join(missing[:3])} missing; finish it first "
            "(snakemake in the run's folder), then publish"
        )
    judged = sorted(set(read_tsv(under(results, f"{EVAL_DIR}/no_transfer.tsv"), "no-transfer table").target))
    if targets and judged != targets:
        raise TaskTransferError(
            f"the run's evaluation judged {judged}, its config names the targets {targets}: the evaluation is "
            "not finished for this config; finish the run, or pass the config it ran with"
        )


def check_destination(out: Path, results: Path) -> None:
    """``out``: a new or empty folder, or one this command wrote (its marker lists every entry);
    never the results folder or a folder holding it."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise TaskTransferError(f"--out {out} is a file or a link; name a folder for the published matrix")
    resolved = out.resolve()
    if resolved == results.resolve() or resolved in results.resolve().parents:
        raise TaskTransferError(f"--out {out} is or holds the results folder {results}; name a folder of its own")
    if not out.is_dir() or not any(out.iterdir()):
        return
    marker = out / MARKER
    listed = set(marker.read_text().split()) if marker.is_file() and not marker.is_symlink() else None
    foreign = sorted(p.name for p in out.iterdir() if listed is None or p.name not in listed | OURS)
    if listed is None or foreign:
        shown = ", ".join(foreign[:5]) if listed is not None else f"no {MARKER} marker"
        raise TaskTransferError(
            f"--out {out} exists and was not written by `tasktransfer publish` ({shown}); "
            "name a new or empty folder, or move it away"
        )


def read_gains(results: Path) -> pd.DataFrame:
    """Every transfer run of the run's gains tables (control's where it has one), with its role."""
    frames = []
    for name, role in ROLES.items():
        path = under(results, layout.fill(layout.GAINS, name=name))
        if name == "control_pairs" and not path.exists():
            continue  # a run without the control init (control.init: none) has no such table
        frame = read_tsv(path, "gains table")
        frames.append(frame.assign(role=role))
    gains = pd.concat(frames, ignore_index=True)
    return gains.sort_values(["target", "source", "seed", "role"], ignore_index=True)


def evaluation_inputs(results: Path, gains: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The plain tables the run's evaluate job judged, checked against its gains: an evaluation
    older than the gains (the run stopped before evaluate reran) is refused."""
    tables = {name: read_tsv(under(results, f"{EVAL_DIR}/{name}"), "evaluation input") for name in EVAL_INPUTS}
    per_seed = tables["per_seed.tsv"]
    rows = gains[(gains.role == "held_out") & gains.target.isin(tables["no_transfer.tsv"].target)]
    merged = rows.merge(per_seed, on=["source", "target", "seed"], how="outer", suffixes=("", "_eval"))
    if len(merged) != len(rows) or len(merged) != len(per_seed) or not (merged.gain - merged.gain_eval).abs().max() < 1e-9:
        raise TaskTransferError(
            f"{under(results, EVAL_DIR)} does not match {under(results, layout.fill(layout.GAINS, name='target_pairs'))}: "
            "the evaluation is older than the gains; finish the run (snakemake) before publishing"
        )
    return tables


def read_rankings(results: Path, table2: pd.DataFrame, targets: list[str]) -> pd.DataFrame:
    """Every ranking the run's evaluation judged (the methods of its Table 2 that have rankings:
    not the oracles' and random expectation's rows), one row per (method, target, source)."""
    def ranking(method: str, target: str) -> Path:
        return under(results, layout.fill(layout.RANKING, method=method, target=target))

    methods = [m for m in table2.method if targets and ranking(m, targets[0]).parent.is_dir()]
    frames = []
    for method in methods:
        for target in targets:
            path = ranking(method, target)
            if not path.is_file():
                raise TaskTransferError(f"{path} is missing: the run is not finished; finish it, then publish")
            frames.append(read_tsv(path, "ranking")[["method", "target", "source", "score"]])
    if not frames:
        raise TaskTransferError(f"no ranking under {under(results, 'results/rankings')} for the judged targets")
    return pd.concat(frames, ignore_index=True)


def read_features(results: Path, targets: list[str]) -> pd.DataFrame:
    """The pair features of every target of the design that has them (held-out targets always; the
    pool pairs' targets where a learned method needed them)."""
    frames = [
        read_tsv(path, "pair features")
        for path in (under(results, layout.fill(layout.FEATURES, task=t)) for t in targets)
        if path.is_file()
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["source", "target"])


def _significant(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Columns as text of SIGNIFICANT digits (features and scores span many scales: a fixed number
    of decimals would tie close LogME values); missing values stay empty."""
    out = frame.copy()
    for column in columns:
        out[column] = out[column].map(lambda v: "" if pd.isna(v) else f"{float(v):.{SIGNIFICANT}g}")
    return out


def design_table(gains: pd.DataFrame) -> pd.DataFrame:
    """Which pairs ran, in which role, on which seeds."""
    grouped = gains.groupby(["source", "target", "role"], sort=True)["seed"]
    design = grouped.agg(lambda s: ",".join(str(v) for v in sorted(set(s)))).rename("seeds").reset_index()
    return design.sort_values(["role", "target", "source"], ignore_index=True)


def runs_table(gains: pd.DataFrame) -> pd.DataFrame:
    """One row per transfer run (a pair in two roles is one run), points rounded."""
    runs = gains.drop(columns="role").drop_duplicates(["source", "target", "seed"])
    runs = runs[["source", "target", "seed", "metric", "r1", "r2", "gain"]]
    return runs.round({c: POINT_DECIMALS for c in ("r1", "r2", "gain")}).reset_index(drop=True)


def seconds_table(results: Path) -> pd.DataFrame:
    """Each transfer run's job-seconds from its record, as the evaluation's budget charged them
    (exact: ``tasktransfer budget --seconds`` on them gives the run's own budget tables)."""
    seconds = gather_run_seconds(p for p in listed_records(results) if p.is_file())
    seconds = seconds.drop_duplicates(["source", "target", "seed"])
    return seconds.sort_values(["target", "source", "seed"], ignore_index=True)


def pairs_table(gains: pd.DataFrame, features: pd.DataFrame, rankings: pd.DataFrame) -> pd.DataFrame:
    """Per pair: roles, seeds, mean r1, r2 and gain, the pair's features and each method's score."""
    roles = gains.groupby(["source", "target"])["role"].agg(lambda s: ",".join(sorted(set(s)))).rename("role")
    runs = gains.drop_duplicates(["source", "target", "seed"])
    means = runs.groupby(["source", "target"]).agg(
        seeds=("seed", "nunique"), r1=("r1", "mean"), r2=("r2", "mean"), gain=("gain", "mean")
    )
    pairs = means.join(roles).reset_index().round({c: POINT_DECIMALS for c in ("r1", "r2", "gain")})
    pairs = pairs[["source", "target", "role", "seeds", "r1", "r2", "gain"]]
    feature_cols = [c for c in features.columns if c not in ("source", "target")]
    pairs = pairs.merge(features, on=["source", "target"], how="left")
    scores = rankings.pivot_table(index=["source", "target"], columns="method", values="score", aggfunc="first")
    scores.columns = [f"score_{m}" for m in scores.columns]
    pairs = pairs.merge(scores.reset_index(), on=["source", "target"], how="left")
    pairs = _significant(pairs, feature_cols + list(scores.columns))
    return pairs.sort_values(["target", "source"], ignore_index=True)


def _utc(seconds: float | None = None) -> str:
    moment = datetime.now(timezone.utc) if seconds is None else datetime.fromtimestamp(seconds, timezone.utc)
    return moment.replace(microsecond=0).isoformat()


def provenance(results: Path, run: RunConfig, settings: dict[str, Any], counts: dict[str, Any]) -> dict[str, Any]:
    """The run's provenance: code and package versions, the config's hash, the machine, the dates.
    The stage code versions are the publishing package's: under ``snakemake publish`` the run is
    up to date with them (a stage whose code changed reruns before this job)."""
    return {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "published_utc": _utc(),
        "evaluated_utc": _utc(under(results, layout.BUDGET_SUMMARY).stat().st_mtime),
        "package": {"name": "tasktransfer", "version": __version__},
        "code_versions": all_code_versions(),
        "environment": versions(),
        "config": {"sha256": run.sha256, "from": run.source, "file": "config.json",
                   "hashed_as": "sha256 of the config as JSON, keys sorted, separators ',' and ':'"},
        "machine": machine(results),
        "evaluate": settings,
        "counts": counts,
    }


def counts_of(gains: pd.DataFrame, rankings: pd.DataFrame, targets: list[str]) -> dict[str, Any]:
    """How much the matrix holds: the README's and provenance's figures."""
    held = gains[gains.role == "held_out"]
    design = gains[gains.source != layout.CONTROL].drop_duplicates(["source", "target"])
    return {
        "targets": len(targets),
        "sources": int(held.source.nunique()),
        "seeds": sorted(int(s) for s in gains.seed.unique()),
        "pairs": len(design),
        "pairs_by_role": {r: int(gains[gains.role == r].drop_duplicates(["source", "target"]).shape[0])
                          for r in ROLES.values()},
        "transfer_runs": int(gains.drop_duplicates(["source", "target", "seed"]).shape[0]),
        "methods": sorted(rankings.method.unique()),
        "metrics": sorted(gains.metric.unique()),
    }


def _tsv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(sep="\t", index=False).encode()


def check_size(files: Mapping[str, bytes], max_bytes: int) -> None:
    """The folder's bound, checked on the bytes before anything is written."""
    total = sum(len(data) for data in files.values())
    if total > max_bytes:
        largest = ", ".join(f"{n} {len(d):,}" for n, d in sorted(files.items(), key=lambda kv: -len(kv[1]))[:3])
        raise TaskTransferError(
            f"the published matrix would be {total:,} bytes, over its bound of {max_bytes:,} bytes "
            f"(largest: {largest}); nothing was written. Publish a run with fewer pairs or methods, "
            "or raise the bound (--max-mb)"
        )


def write_matrix(out: Path, files: Mapping[str, bytes], max_bytes: int) -> None:
    """Fill a fresh folder beside ``out`` and swap it in whole: an error or a kill leaves the old
    folder or the new one, never a mixture, and no temporary folder behind."""
    check_size(files, max_bytes)
    tmp = temp_folder_beside(out)
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        (tmp / MARKER).write_text("".join(f"{name}\n" for name in files))
        sync_files(tmp)
        swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def matrix_tables(results: Path, run: RunConfig) -> tuple[dict[str, pd.DataFrame], dict[str, Any], list[str]]:
    """Every table of the folder, the evaluate settings, the judged targets."""
    gains = read_gains(results)
    evaluation = evaluation_inputs(results, gains)
    targets = sorted(evaluation["no_transfer.tsv"].target)
    table2 = read_tsv(under(results, f"{EVAL_DIR}/{TABLE2}"), "Table 2")
    rankings = read_rankings(results, table2, targets)
    features = read_features(results, sorted(gains.target.unique()))
    tables = {
        "gains.tsv": runs_table(gains),
        "pairs.tsv": pairs_table(gains, features, rankings),
        "design.tsv": design_table(gains),
        "tasks.tsv": tasks_table(results, run),
        **evaluation,
        "rankings.tsv": rankings,
        "seconds.tsv": seconds_table(results),
    }
    return tables, {**run.evaluate_settings(table2), "counts": counts_of(gains, rankings, targets)}, targets


def publish_run(
    results: str | Path,
    out: str | Path,
    config_file: str | Path | None = None,
    config_json: str | None = None,
    registry: str | Path | None = None,
    max_bytes: int = MAX_BYTES,
    log: Callable[[str], None] = print,
) -> dict[str, int]:
    """Publish a finished run's matrix into ``out`` (see the module's docstring); returns each
    file's size in bytes. Refuses an unfinished run, a destination it did not write, and a folder
    over ``max_bytes``, before anything is written."""
    results, out = Path(results), Path(out)
    run = load_config(results, config_file, config_json, registry)
    check_destination(out, results)
    check_finished(results, run.tasks("targets"))
    tables, settings, targets = matrix_tables(results, run)
    counts = settings.pop("counts")
    files = {name: _tsv(frame) for name, frame in tables.items()}
    files["config.json"] = (json.dumps(run.config, indent=2, sort_keys=True) + "\n").encode()
    record = provenance(results, run, settings, counts)
    record["files"] = {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())}
    files["provenance.json"] = (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()
    facts = ReadmeFacts(counts=counts, settings=settings, provenance=record, targets=targets,
                        sizes={name: len(data) for name, data in files.items()},
                        columns={name: list(frame.columns) for name, frame in tables.items()})
    files = {"README.md": readme_text(facts).encode(), **files}
    write_matrix(out, files, max_bytes)
    log(f"published {counts['pairs']} pairs ({counts['transfer_runs']} transfer runs), {len(counts['methods'])} "
        f"methods, {sum(map(len, files.values())) / 1e6:.3f} MB in {len(files)} files -> {out}")
    return {name: len(data) for name, data in files.items()}
