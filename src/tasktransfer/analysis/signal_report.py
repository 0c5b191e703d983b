"""The signal stage's outputs (``tasktransfer signal``): the two-way variance shares of the gains
beside their permutation null, the like-with-like seed-noise verdict and the per-target spreads,
as tables, a sentence, an HTML table and a figure (signal.py computes them)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from tasktransfer.analysis.plots import signal_figure
from tasktransfer.analysis.report_tables import read_table, write_html
from tasktransfer.analysis.signal import Verdict, per_target_spread, share_table, verdict
from tasktransfer.io import atomic_write_text

NOTE = (
    " Per target: the spread (SD) of its sources' mean gains against noise_se, the seed noise of "
    "such a mean (the target's within-pair SD of r2 over the square root of the seeds; r1 is shared "
    "by the target's sources and cancels); sd_ratio is their ratio (about 1 when sources do not "
    "matter), p_value the F test of 'all sources equal' (sources_beyond_noise: below 0.05). r1_seed_sd, the spread of the target's own "
    "no-transfer score, moves all its sources together and is shown for information only."
)


def write_signal(
    gains_paths: Sequence[str | Path],
    no_transfer: str | Path | None,
    permutations: int,
    seed: int,
    out: str | Path,
    figure: str | Path | None = None,
) -> tuple[pd.DataFrame, Verdict]:
    """Write signal.tsv, signal_targets.tsv, signal.txt and signal.html into ``out`` and the figure;
    return the share table and the verdict."""
    gains = pd.concat([read_table(g, "gains table") for g in gains_paths], ignore_index=True)
    # the control init is a yardstick, not a source one could pick
    gains = gains[~gains["source"].astype(str).str.startswith("_")]
    base = read_table(no_transfer, "no-transfer table") if no_transfer else None
    found = verdict(gains, n_perm=permutations, seed=seed)
    shares = share_table(found.shares, found)
    targets = per_target_spread(gains, base)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "signal.tsv", shares.to_csv(sep="\t", index=False, float_format="%.4f"))
    atomic_write_text(out / "signal_targets.tsv", targets.to_csv(sep="\t", index=False, float_format="%.4f"))
    atomic_write_text(out / "signal.txt", found.sentence() + "\n")
    write_html(out / "signal.html", targets, "Does the source matter more than seed noise?", found.sentence() + NOTE, digits=3)
    signal_figure(found.shares, gains, targets, Path(figure) if figure else out / "signal.png", found.adjusted)
    return shares, found
