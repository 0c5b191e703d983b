"""Rank, then verify: choose a source for a new task within a transfer budget (``select --pool``).

``rank --pool`` stops at a ranking. ``select --pool POOL --task FILE --budget K`` goes on: it tunes
the task's own prompt at each seed (its r1, the no-transfer baseline), ranks the pool's sources by
one method, runs the top K transfers for real (each source's pool prompt as the init: that seed's
where the pool has it, else its embedding seed's, as the workflow does;
the pool's backbone and prompt spec, the seeds as replicas of one loop), and hands out the best:
the chosen source, its gain over no transfer with an interval (:mod:`~tasktransfer.pool.select_summary`),
the runners-up, and the trained prompt with its record. Where no transfer gains, the task's own
prompt is handed out and the verdict says so.

With ``halving`` (successive halving) the K candidates first train one seed for a third of the
epochs; only the better half (by that dev score) gets the full transfers.

Resumable: every finished run is kept in the work folder (``target/``, ``transfer/``, ``halving/``;
a run counts once its record is written, after its prompt), so a rerun after an interrupt trains
only what is missing. The work folder remembers the request (``select-request.json``): a rerun
with another task, pool, backbone, seeds, method or spec is refused rather than mixed in. The
chosen prompt lands in ``--out`` (default ``WORK/selected``) in one rename, never half-written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from tasktransfer.data.prepare import prepare_task, read_jsonl
from tasktransfer.errors import TaskTransferError
from tasktransfer.io import atomic_write_json, atomic_write_text, read_record
from tasktransfer.pool.install import load_pool_prompt
from tasktransfer.pool.manifest import pool_seeds
from tasktransfer.pool.rank_new_task import CheckedPool, Phases, RankRequest, check_pool, score_tables, work_lock
from tasktransfer.pool.rank_paths import check_rank_paths, task_files
from tasktransfer.pool.select_out import check_select_out, write_selected
from tasktransfer.pool.select_summary import Candidate, Runs, best_seed, candidate_gain, choose, selection_table, verdict
from tasktransfer.prompting.formats import get_format
from tasktransfer.prompting.prompt_files import load_prompt, save_prompt
from tasktransfer.prompting.training import PromptSpec
from tasktransfer.prompting.tune_run import TuneRequest, TunedRun, prompt_metadata, run_record, tune_runs
from tasktransfer.runtime import log as default_log

#: the method that ranks by default: the highest mean Spearman on the project's 40-target matrix
#: (+0.16 [+0.05, +0.28]; not told apart from cosine's +0.06, docs/measured.md "The transfer
#: matrix"), and its best of top 3 within 0.37 points of brute force there; it needs no file
#: beyond the pool's prompts
DEFAULT_METHOD = "logme"
#: the run seeds: the workflow's default (config ``seeds``)
DEFAULT_SEEDS = (0, 1)
REQUEST_FILE = "select-request.json"
Log = Callable[[str], None]
#: trains a request's runs (one per seed); tests plant outcomes through it
Trainer = Callable[[TuneRequest], list[TunedRun]]


@dataclass(frozen=True)
class SelectRequest:
    """``select --pool``: the ranking's request (pool, task, backbone, work folder, threads), the
    transfer budget, the ranking method, the seeds, and where the chosen prompt goes."""

    rank: RankRequest
    budget: int = 3
    method: str = DEFAULT_METHOD
    seeds: tuple[int, ...] = ()  # (): DEFAULT_SEEDS
    halving: bool = False
    out: Path | None = None  # None: WORK/selected
    n_boot: int = 1000


@dataclass(frozen=True)
class _Plan:
    """What one call works with, fixed before anything is trained."""

    pool: CheckedPool
    work: Path
    out: Path
    seeds: tuple[int, ...]
    spec: dict
    threads: int
    log: Log
    train: Trainer


def select_source(request: SelectRequest, log: Log = default_log, train: Trainer | None = None) -> dict:
    """Rank the pool for the task, run the top ``budget`` transfers, write the chosen prompt; return
    the summary (also ``WORK/select.json``)."""
    rank = request.rank
    if not rank.backbone:
        raise TaskTransferError("select --pool needs this machine's backbone: pass --backbone or --config")
    if request.budget < 1:
        raise TaskTransferError(f"--budget {request.budget}: give the number of transfers to run, at least 1")
    paths = check_rank_paths(rank.pool, rank.spec, rank.work, None)
    out = Path(request.out) if request.out else paths.work / "selected"
    check_select_out(out, paths.work, Path(rank.pool), task_files(rank.spec))
    phases = Phases(log)
    checked = check_pool(replace(rank, methods=(request.method,)), Path(rank.pool), rank.spec, log)
    seeds = _seeds(request)
    phases.done("verify pool")
    spec = dict(checked.manifest["prompt"].get("spec") or {})
    with work_lock(paths.work):
        trainer = train or (lambda r: tune_runs(r, log=log))
        plan = _Plan(checked, paths.work, out, seeds, spec, rank.threads, log, trainer)
        _check_request(plan, request)
        return _select_in(request, plan, phases)


def _seeds(request: SelectRequest) -> tuple[int, ...]:
    """The run seeds (default 0 and 1, the workflow's); each must be a distinct seed number."""
    seeds = tuple(request.seeds) or DEFAULT_SEEDS
    if len(set(seeds)) != len(seeds) or any(isinstance(s, bool) or not 0 <= s < 10**9 for s in seeds):
        raise TaskTransferError(f"--seeds {','.join(map(str, seeds))}: give distinct seeds, whole numbers from 0")
    return seeds


def _pool_seed(pool: CheckedPool, source: str, seed: int) -> int:
    """The pool prompt a transfer at ``seed`` starts from: the same seed where the pool has it for
    this source, else the pool's embedding seed (the workflow's ``pool_seed_for``)."""
    return seed if seed in pool_seeds(pool.manifest, source) else pool.embedding_seed


def _fingerprint(plan: _Plan, request: SelectRequest) -> dict:
    """What the work folder's runs depend on: a rerun must ask the same (the budget may grow)."""
    spec = request.rank.spec
    files = {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in task_files(spec) if p.is_file()}
    manifest = json.dumps(plan.pool.manifest, sort_keys=True).encode()
    return {
        "pool_manifest_sha256": hashlib.sha256(manifest).hexdigest(),
        "task": json.loads(json.dumps(dataclasses.asdict(spec), sort_keys=True, default=str)),
        "task_files_sha256": files,
        "backbone_weights_sha256": plan.pool.manifest["backbone"].get("weights_sha256"),
        "seeds": list(plan.seeds),
        "method": request.method,
        "halving": request.halving,
        "prompt_spec": plan.spec,
    }


def _check_request(plan: _Plan, request: SelectRequest) -> None:
    path = plan.work / REQUEST_FILE
    want = _fingerprint(plan, request)
    if path.exists():
        have = read_record(path)
        differ = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
        if differ:
            raise TaskTransferError(
                f"--work {plan.work} holds a selection made for another request (it differs in {', '.join(differ)}); "
                "name a new --work folder, or delete this one to start over"
            )
        plan.log(f"resuming in {plan.work}: finished runs there are kept")
    else:
        atomic_write_json(path, want)


def _select_in(request: SelectRequest, plan: _Plan, phases: Phases) -> dict:
    spec, log = request.rank.spec, plan.log
    meta = prepare_task(spec, plan.pool.data, Path(request.rank.resources), plan.work / "data")
    log(f"{spec.name}: {meta.n_train} train / {meta.n_dev} dev examples, {meta.metric}")
    phases.done("prepare")
    own = _own_runs(plan)
    phases.done("tune own prompts")
    ranking = _ranking(request, plan, own)
    phases.done("rank sources")
    top = ranking.head(request.budget)
    candidates = [Candidate(r.source, int(r["rank"]), float(r.score)) for _, r in top.iterrows()]
    if len(candidates) < request.budget:
        log(f"the pool has {len(candidates)} sources beside the task: --budget {request.budget} runs them all")
    if request.halving and len(candidates) > 1:
        candidates = _halving_round(plan, candidates)
        phases.done("halving round")
    dev = read_jsonl(plan.work / "data" / "dev.jsonl")
    score = get_format(meta).score
    transferred = _transfers(plan, candidates)
    candidates = [
        replace(c, gain=candidate_gain(score, dev, transferred[c.source], own, request.n_boot), r2=transferred[c.source].scores)
        if c.source in transferred else c
        for c in candidates
    ]
    phases.done("transfers")
    return _conclude(request, plan, candidates, own, phases)


def _run_files(folder: Path, seed: int) -> tuple[Path, Path]:
    return folder / f"seed{seed}" / "prompt.safetensors", folder / f"seed{seed}" / "metrics.json"


def _kept(folder: Path, seeds: Sequence[int]) -> Runs | None:
    """The finished runs of ``folder`` at every seed (a run is finished once its record exists)."""
    records = {}
    for s in seeds:
        prompt, metrics = _run_files(folder, s)
        if not (prompt.is_file() and metrics.is_file()):
            return None
        records[s] = read_record(metrics, ("score",))
    return Runs({s: float(r["score"]) for s, r in records.items()}, {s: r.get("dev_predictions", []) for s, r in records.items()})


def _train_and_keep(plan: _Plan, request: TuneRequest, folder: Path, **extra) -> Runs:
    """Train ``request``'s runs and write each seed's prompt, then its record (the finish mark)."""
    runs = plan.train(request)
    for run in runs:
        prompt, metrics = _run_files(folder, run.seed)
        r = run.result
        save_prompt(prompt, r.prompt_state, r.head_state, r.embedding, prompt_metadata(run, request, lr=r.lr, **extra))
        record = {"task": run.meta.name, "seed": run.seed, "metric": run.meta.metric, "score": r.score, **extra}
        atomic_write_json(metrics, {**record, **run_record(run)})
    return Runs({run.seed: run.result.score for run in runs}, {run.seed: run.result.dev_predictions for run in runs})


def _own_runs(plan: _Plan) -> Runs:
    """The task's own prompt at each seed (r1), trained from scratch, or kept from an earlier call."""
    folder = plan.work / "target"
    kept = _kept(folder, plan.seeds)
    if kept is not None:
        plan.log(f"own prompts: kept from {folder}")
        return kept
    request = TuneRequest(plan.work / "data", plan.pool.backbone, plan.spec, seeds=plan.seeds, threads=plan.threads)
    runs = _train_and_keep(plan, request, folder)
    plan.log("own prompts (r1): " + ", ".join(f"seed {s} {v:.2f}" for s, v in runs.scores.items()))
    return runs


def _ranking(request: SelectRequest, plan: _Plan, own: Runs) -> pd.DataFrame:
    """The pool's sources by the method, best first, from the first seed's own prompt."""
    prompt, _ = _run_files(plan.work / "target", plan.seeds[0])
    tables = score_tables(request.rank, plan.pool, plan.work, load_prompt(prompt).embedding, plan.log)
    ranking = pd.concat(tables, ignore_index=True).sort_values("rank")
    atomic_write_text(plan.work / "ranking.tsv", ranking.to_csv(sep="\t", index=False))
    plan.log(f"ranked by {request.method}: " + ", ".join(ranking.source.head(request.budget)))
    return ranking


def _init_prompts(plan: _Plan, source: str, seeds: Sequence[int]) -> tuple[str, ...]:
    """The source's pool prompts (hash-, shape- and finite-checked on reading) written into the work
    folder under this machine's backbone name (the pool's backbone has its weights hash: checked),
    so that the transfer reads what was checked and nothing else."""
    paths = []
    for s in seeds:
        pool_seed = _pool_seed(plan.pool, source, s)
        path = plan.work / "sources" / source / f"seed{pool_seed}.safetensors"
        if not path.is_file():
            art = load_pool_prompt(plan.pool.path, source, pool_seed, plan.pool.manifest)
            meta = {**art.metadata, "backbone": plan.pool.backbone}
            save_prompt(path, art.prompt_state, art.head_state, art.embedding, meta)
        paths.append(str(path))
    return tuple(paths)


def _transfer_request(plan: _Plan, source: str, seeds: Sequence[int], spec: dict) -> TuneRequest:
    return TuneRequest(
        plan.work / "data", plan.pool.backbone, spec, seeds=tuple(seeds), threads=plan.threads,
        init_prompts=_init_prompts(plan, source, seeds),
    )


def _progress(plan: _Plan, what: str, done: int, total: int, started: float) -> None:
    elapsed = time.perf_counter() - started
    eta = elapsed / done * (total - done) if done else float("nan")
    plan.log(f"{what} {done}/{total} done | elapsed {elapsed:.0f} s, ETA {eta:.0f} s")


def _transfers(plan: _Plan, candidates: Sequence[Candidate]) -> dict[str, Runs]:
    """Every candidate not dropped: its transfers at every seed, kept from an earlier call or trained."""
    out: dict[str, Runs] = {}
    for c in candidates:
        kept = _kept(plan.work / "transfer" / c.source, plan.seeds)
        if kept is not None and not c.note:
            plan.log(f"transfer {c.source}: kept from an earlier call")
            out[c.source] = kept
    todo = [c for c in candidates if not c.note and c.source not in out]
    started = time.perf_counter()
    for n, c in enumerate(todo, 1):
        request = _transfer_request(plan, c.source, plan.seeds, plan.spec)
        out[c.source] = _train_and_keep(plan, request, plan.work / "transfer" / c.source, source=c.source)
        plan.log(f"transfer {c.source}: r2 " + ", ".join(f"seed {s} {v:.2f}" for s, v in out[c.source].scores.items()))
        _progress(plan, "transfers", n, len(todo), started)
    return out


def _halving_round(plan: _Plan, candidates: list[Candidate]) -> list[Candidate]:
    """Successive halving's first round: each candidate trains the first seed for a third of the
    epochs; the better half (ceil(K / 2), by that dev score) goes on, the rest are marked dropped."""
    full = PromptSpec.from_dict(plan.spec).epochs
    short = {**plan.spec, "epochs": max(1, math.ceil(full / 3))}
    scores, started = {}, time.perf_counter()
    for n, c in enumerate(candidates, 1):
        folder = plan.work / "halving" / c.source
        kept = _kept(folder, plan.seeds[:1])
        runs = kept or _train_and_keep(plan, _transfer_request(plan, c.source, plan.seeds[:1], short), folder, source=c.source)
        scores[c.source] = runs.scores[plan.seeds[0]]
        _progress(plan, f"halving round ({short['epochs']} of {full} epochs)", n, len(candidates), started)
    keep = sorted(candidates, key=lambda c: (-scores[c.source], c.rank))[: math.ceil(len(candidates) / 2)]
    kept = {c.source for c in keep}
    plan.log("halving: " + ", ".join(f"{c.source} {scores[c.source]:.2f}" for c in candidates) + f"; go on: {', '.join(sorted(kept))}")
    return [c if c.source in kept else replace(c, note=f"dropped at halving (dev {scores[c.source]:.2f})") for c in candidates]


def _conclude(request: SelectRequest, plan: _Plan, candidates: list[Candidate], own: Runs, phases: Phases) -> dict:
    """Choose, write the chosen prompt to --out and the summary to WORK/select.json, print them."""
    spec, method = request.rank.spec, request.method
    chosen = choose(candidates)
    table = selection_table(candidates, chosen, method)
    atomic_write_text(plan.work / "selection.tsv", table.to_csv(sep="\t", index=False))
    if chosen is None:
        folder, runs = plan.work / "target", own
    else:
        folder, runs = plan.work / "transfer" / chosen.source, Runs(chosen.r2)
    seed = best_seed(runs.scores)
    line = verdict(chosen, candidates, spec.name)
    summary = {
        "task": spec.name,
        "pool": str(plan.pool.path),
        "method": method,
        "budget": request.budget,
        "halving": request.halving,
        "seeds": list(plan.seeds),
        "r1": own.scores,
        "chosen": chosen.source if chosen else None,
        "gain": dataclasses.asdict(chosen.gain) if chosen else None,
        "prompt_seed": seed,
        "verdict": line,
        "runners_up": [c.source for c in candidates if chosen is None or c.source != chosen.source],
        "out": str(plan.out),
    }
    write_selected(plan.out, folder / f"seed{seed}", table, summary)
    phases.done("write")
    summary["seconds"] = {**{k: round(v, 2) for k, v in phases.seconds.items()}, "total": round(phases.total(), 2)}
    atomic_write_json(plan.work / "select.json", summary)
    if not request.rank.quiet:
        print(f"Top {len(candidates)} of the pool for {spec.name} by {method}, transferred at seeds {list(plan.seeds)}:")
        print(table.to_string(index=False, float_format=lambda v: f"{v:+.2f}"))
        print(line)
        print(f"prompt: {plan.out / 'prompt.safetensors'} (seed {seed}); time: total {phases.total():.1f} s")
    plan.log(line)
    return summary
