"""What a shared pool needs for the learned selection methods, and using it on a new task.

``pool export`` adds, where the run has them (the methods in ``selection.methods``):

- ``prior.tsv`` (source, prior): the source prior (affinity/source_prior.py) fitted on *every*
  gain of the run (the scorer pairs and every held-out target's row: for a new task all of them
  are other targets), with the run's ``selection.prior_lambda``;
- ``ranker.json``: the feature ranker (affinity/feature_ranker.py) fitted on the same rows and
  their pair features (results/features/*.tsv): its weights, alpha, decision (learned or cosine)
  and the training targets; and how LogME encoded the target's examples (``target_train``).

Both are listed with their sha256 in the manifest's ``files`` (and under ``selection``), so
``pool verify`` checks them like the prompts. ``rank --pool --method source_prior,logme,feature_ranker``
reads them: LogME (and ``hscore``, ``knn``) encodes the new task's prepared training examples (the first ``target_train``)
with each pool prompt; the ranker z-scores the new task's features over the pool's sources and
applies the exported weights, with the exported prior as its prior feature.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd
import torch

from tasktransfer.affinity.transferability import ESTIMATORS
from tasktransfer.errors import ArtefactError, TaskTransferError
from tasktransfer.pool.manifest_checks import shown, strict_json

PRIOR_FILE = "prior.tsv"
RANKER_FILE = "ranker.json"
POOL_METHODS = ("source_prior", "logme", "hscore", "knn", "feature_ranker")

Log = Callable[[str], None]


def selection_files(results: str | Path, config: dict | None, log: Log = print) -> tuple[dict[str, bytes], dict]:
    """The files to add to an exported pool ({name: bytes}) and the manifest's ``selection`` entry."""
    from tasktransfer.affinity.feature_ranker import fit_ranker
    from tasktransfer.affinity.pair_features import read_features
    from tasktransfer.affinity.source_prior import source_prior

    results = Path(results)
    selection = (config or {}).get("selection") or {}
    lam = float(selection.get("prior_lambda", 1.0))
    tables = [results / "gains" / f"{name}.tsv" for name in ("scorer_pairs", "target_pairs")]
    frames = [pd.read_csv(p, sep="\t") for p in tables if p.exists() and p.stat().st_size]
    frames = [f for f in frames if len(f)]
    if not frames:
        log(f"note: no gains under {results / 'gains'}: the pool has no source prior or feature ranker")
        return {}, {}
    gains = pd.concat(frames, ignore_index=True)
    gains = gains[~gains["source"].astype(str).str.startswith("_")]  # the control is no source
    prior = source_prior(gains, lam)
    files = {PRIOR_FILE: pd.DataFrame({"source": list(prior), "prior": list(prior.values())})
             .to_csv(sep="\t", index=False).encode()}
    entry: dict = {"prior": PRIOR_FILE, "prior_lambda": lam, "gain_targets": int(gains["target"].nunique())}
    feature_files = sorted((results / "features").glob("*.tsv"))
    if feature_files:
        fit = fit_ranker(gains, read_features(feature_files), lam)
        target_train = ((config or {}).get("data") or {}).get("target_train") or 0
        files[RANKER_FILE] = (json.dumps({**fit.to_dict(), "target_train": target_train}, indent=2, sort_keys=True)
                              + "\n").encode()
        entry.update(ranker=RANKER_FILE, decision=fit.decision, target_train=target_train)
        log(f"feature ranker for the pool: {fit.decision} ({fit.reason})")
    else:
        log(f"note: no pair features under {results / 'features'}: the pool has no feature ranker (logme still works)")
    return files, entry


def read_selection_file(pool: Path, manifest: dict, rel: str) -> bytes:
    """The bytes of prior.tsv or ranker.json, checked against the manifest's sha256 (the bytes used
    are the bytes hashed); any other name is refused, so a manifest cannot point elsewhere."""
    import hashlib

    if rel not in (PRIOR_FILE, RANKER_FILE):
        raise ArtefactError(f"pool {pool}: the manifest's selection entry names {rel!r}; only {PRIOR_FILE} and "
                            f"{RANKER_FILE} are selection files; do not use this pool")
    expected = (manifest.get("files") or {}).get(rel)
    path = Path(pool) / rel
    if expected is None or path.is_symlink() or not path.is_file():
        raise ArtefactError(f"pool {pool}: {rel} is missing or not listed in the manifest's files; export the pool again")
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ArtefactError(f"pool {pool}: {rel} has sha256 {actual}, the manifest says {expected}; do not use this pool")
    return data


def check_pool_methods(pool: Path, manifest: dict, methods: list[str]) -> None:
    entry = manifest.get("selection") or {}
    needs = {"source_prior": "prior", "feature_ranker": "ranker"}
    for method, key in needs.items():
        if method in methods and not entry.get(key):
            raise TaskTransferError(
                f"pool {pool} has no {key} file for method {method}: export it from a run with the learned "
                "methods (results/gains, results/features), or rank by logme and the similarity baselines"
            )


def check_selection_files(pool: Path, manifest: dict, methods: list[str]) -> None:
    """The learned methods' files the ranking will read, read and checked now: a bad one stops
    ``rank --pool`` before the new task is prepared or tuned."""
    if {"source_prior", "feature_ranker"} & set(methods):
        _pool_prior(pool, manifest)
    if "feature_ranker" in methods:
        _pool_ranker(pool, manifest)


def _pool_prior(pool: Path, manifest: dict) -> dict[str, float]:
    rel = manifest["selection"]["prior"]
    from io import StringIO

    try:
        table = pd.read_csv(StringIO(read_selection_file(pool, manifest, rel).decode()), sep="\t")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise ArtefactError(f"pool {pool}: {rel} is not a TSV table ({err}); export the pool again") from err
    priors = pd.to_numeric(table["prior"], errors="coerce") if "prior" in table.columns else None
    if list(table.columns) != ["source", "prior"] or not priors.map(lambda v: math.isfinite(v) and abs(v) < 1e12).all():
        raise ArtefactError(f"pool {pool}: {rel} is not a table of finite source priors (source, prior); export again")
    return {str(s): float(v) for s, v in zip(table["source"], table["prior"])}


def _pool_ranker(pool: Path, manifest: dict):
    from tasktransfer.affinity.feature_ranker import FEATURES, RankerFit

    rel = manifest["selection"]["ranker"]
    try:
        raw = strict_json(read_selection_file(pool, manifest, rel))
    except ValueError as err:
        raise ArtefactError(f"pool {pool}: {rel} is not JSON ({err}); export the pool again") from err
    weights = raw.get("weights") if isinstance(raw, dict) else None
    if not isinstance(weights, dict) or set(weights) != set(FEATURES) or not all(
        isinstance(v, (int, float)) and abs(v) < 1e12 for v in weights.values()
    ):
        raise ArtefactError(f"pool {pool}: {rel} holds no weights of the features {FEATURES}; export the pool again")
    lam, target_train, alpha = raw.get("lam", 1.0), raw.get("target_train") or 0, raw.get("alpha")
    number = (int, float)
    if (
        isinstance(lam, bool) or not isinstance(lam, number) or not 0 <= lam < 1e12
        or isinstance(target_train, bool) or not isinstance(target_train, int) or not 0 <= target_train <= 10**6
        or (alpha is not None and (isinstance(alpha, bool) or not isinstance(alpha, number) or not abs(alpha) < 1e12))
    ):
        raise ArtefactError(
            f"pool {pool}: {rel} has a lam, alpha or target_train that is no bounded number (lam {shown(lam)}, "
            f"alpha {shown(alpha)}, target_train {shown(target_train)}); export the pool again"
        )
    fit = RankerFit(
        weights={k: float(v) for k, v in weights.items()}, alpha=alpha, decision=str(raw.get("decision")),
        reason=str(raw.get("reason")), lam=float(lam),
    )
    return fit, target_train


def new_task_scores(
    methods: list[str],
    pool: Path,
    manifest: dict,
    backbone: str,
    task: str,
    target_emb: torch.Tensor,
    sources: Mapping[str, torch.Tensor],
    data_dir: Path,
    seed: int,
    log: Log = print,
) -> dict[str, dict[str, float]]:
    """Scores of the pool's sources for a new task by the methods of :data:`POOL_METHODS` asked for."""
    from tasktransfer.affinity.selection import learned_scores

    wanted = [m for m in methods if m in POOL_METHODS]
    if not wanted:
        return {}
    check_pool_methods(pool, manifest, wanted)
    out: dict[str, dict[str, float]] = {}
    prior = _pool_prior(pool, manifest) if {"source_prior", "feature_ranker"} & set(wanted) else {}
    if "source_prior" in wanted:
        from tasktransfer.affinity.source_prior import prior_scores

        out["source_prior"] = prior_scores(prior, sorted(sources))
    if {*ESTIMATORS, "feature_ranker"} & set(wanted):
        from tasktransfer.affinity.feature_ranker import ranker_scores
        from tasktransfer.affinity.logme_features import estimates_by_source
        from tasktransfer.affinity.pair_features import features_table
        from tasktransfer.data.prepare import read_jsonl, read_meta, training_subset
        from tasktransfer.pool.install import load_pool_prompt
        from tasktransfer.prompting.backbone import load_backbone
        from tasktransfer.prompting.training import PromptSpec

        fit, target_train = _pool_ranker(pool, manifest) if "feature_ranker" in wanted else (None, 0)
        if not target_train:
            target_train = int((manifest.get("selection") or {}).get("target_train") or 0)
        spec = PromptSpec.from_dict(manifest["prompt"].get("spec") or {})
        rows = training_subset(read_jsonl(Path(data_dir) / "train.jsonl"), target_train)
        states = {s: load_pool_prompt(pool, s, seed, manifest).prompt_state for s in sorted(sources)}
        estimates, _ = estimates_by_source(
            load_backbone(backbone), read_meta(Path(data_dir)), rows, states, manifest["prompt"]["length"],
            manifest["prompt"]["mlp_hidden"], spec.pooling, spec.max_length, spec.precision, log=log,
        )
        table = features_table(task, target_emb, dict(sources), estimates)
        for estimator in ESTIMATORS:
            if estimator in wanted:
                out[estimator] = learned_scores(estimator, task, list(sources), None, table)[0]
        if fit is not None:
            out["feature_ranker"] = ranker_scores(fit, task, table, prior)
            log(f"feature_ranker: the pool's ranker ({fit.decision}): " + ", ".join(
                f"{k} {v:+.3f}" for k, v in fit.weights.items()))
    return out
