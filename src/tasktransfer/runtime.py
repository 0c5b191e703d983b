"""Facts about the running job process: when it started, where it runs, how many threads it uses.

Every job records these beside its results (set-up time, SLURM ids, host), and logs with one
timestamped line format, so a long job's log shows its progress.
"""

from __future__ import annotations

import os
import time

_IMPORTED = time.time()


def log(msg: str) -> None:
    """One timestamped line on stdout, flushed at once (job logs are read while the job runs)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def process_start() -> float:
    """When this process started (wall clock), to tell set-up time from training time."""
    try:
        import psutil

        return psutil.Process().create_time()
    except Exception:  # psutil missing: from this module's import instead
        return _IMPORTED


def set_threads(n: int | None) -> None:
    """Torch's intra-op threads (0 or None: torch's default); jobs get the cores their rule asks for."""
    if n:
        import torch

        torch.set_num_threads(n)


def job_info() -> dict:
    """Where the job ran, so a run can prove it went through SLURM."""
    return {
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        # set in a task of a job array (the profile submits transfers that way)
        "slurm_array_job_id": os.environ.get("SLURM_ARRAY_JOB_ID"),
        "host": os.uname().nodename,
    }
