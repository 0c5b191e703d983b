"""The control init's job (``tasktransfer control-prompt``): a prompt that carries no task's
knowledge, transferred into every target like a source named :data:`CONTROL`.

``mean``: the mean of the pool's prompt encoders; ``shuffled``: a prompt tuned on a pool task's
data with its labels shuffled (control.py holds both computations).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tasktransfer.io import atomic_write_json
from tasktransfer.names import CONTROL
from tasktransfer.prompting.control import mean_control, shuffle_labels
from tasktransfer.prompting.prompt_files import save_prompt
from tasktransfer.prompting.tune_run import TuneRequest, prompt_metadata, tune_run
from tasktransfer.runtime import job_info, log


def write_mean_control(prompts: Sequence[str | Path], seed: int, out_prompt: str | Path, out_metrics: str | Path) -> None:
    state, embedding, meta = mean_control(list(prompts))
    save_prompt(out_prompt, state, {}, embedding, meta)
    atomic_write_json(out_metrics, {"task": CONTROL, "control": "mean", "sources": meta["sources"], "seed": seed})
    log(f"control prompt = mean of {len(prompts)} prompt encoders")


def write_shuffled_control(request: TuneRequest, out_prompt: str | Path, out_metrics: str | Path) -> None:
    seed = request.seed
    run = tune_run(request, transform=lambda rows, task: shuffle_labels(rows, task, seed))
    metadata = prompt_metadata(run, request)
    metadata = {"task": CONTROL, "control": "shuffled", "shuffled_task": run.meta.name,
                **{k: v for k, v in metadata.items() if k != "task"}}
    save_prompt(out_prompt, run.result.prompt_state, {}, run.result.embedding, metadata)
    atomic_write_json(out_metrics, {"task": CONTROL, "control": "shuffled", "shuffled_task": run.meta.name,
                                    "seed": seed, "score": run.result.score, **job_info()})
    log(f"control prompt tuned on {run.meta.name} with shuffled labels (dev {run.result.score:.2f}, chance level expected)")
