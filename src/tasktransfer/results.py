"""Gathering finished runs into long tables, and averaging them over seeds."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from .errors import ArtefactError

NO_TRANSFER_COLUMNS = ["task", "seed", "metric", "score", "lr"]
GAIN_COLUMNS = ["source", "target", "seed", "metric", "r1", "r2", "gain"]


def _read(path: str | Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ArtefactError(f"{path} is missing or corrupt ({err}); delete it and rerun its job") from err


def gather_no_transfer(paths: Iterable[str | Path]) -> pd.DataFrame:
    rows = [{k: _read(p)[k] for k in NO_TRANSFER_COLUMNS} for p in paths]
    return pd.DataFrame(rows, columns=NO_TRANSFER_COLUMNS).sort_values(["task", "seed"]).reset_index(drop=True)


def gather_gains(paths: Iterable[str | Path]) -> pd.DataFrame:
    rows = [{k: _read(p)[k] for k in GAIN_COLUMNS} for p in paths]
    df = pd.DataFrame(rows, columns=GAIN_COLUMNS)
    return df.sort_values(["target", "source", "seed"]).reset_index(drop=True)


def mean_gains(gains: pd.DataFrame) -> pd.DataFrame:
    """One row per pair: mean r1, r2 and gain over seeds, with the gain's spread."""
    grouped = gains.groupby(["source", "target"], sort=True)
    out = grouped.agg(
        r1=("r1", "mean"), r2=("r2", "mean"), gain=("gain", "mean"), gain_sd=("gain", "std"), seeds=("seed", "nunique")
    )
    out["gain_sd"] = out["gain_sd"].fillna(0.0)
    return out.reset_index()


def mean_no_transfer(no_transfer: pd.DataFrame) -> pd.DataFrame:
    grouped = no_transfer.groupby("task", sort=True)
    out = grouped.agg(score=("score", "mean"), score_sd=("score", "std"), seeds=("seed", "nunique"), metric=("metric", "first"))
    out["score_sd"] = out["score_sd"].fillna(0.0)
    return out.reset_index()
