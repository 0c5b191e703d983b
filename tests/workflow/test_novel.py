"""A novel target: ranked by the scorer, transferred only from its top-k (`tasktransfer rank` is
tests/affinity/test_rank_command.py; the novel table by hand tests/analysis/test_report_tables.py)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from conftest import run_snakemake
from novel_run import NOVEL, SOURCES, TARGET, TOP_K, finished_novel_run, novel_workdir


@pytest.mark.slow
def test_novel_target_triggers_only_its_top_k_transfers(tmp_path_factory, tiny_backbone, request):
    # before the run: the checkpoint is planned and no transfer into the novel target yet
    plan_dir = novel_workdir(tmp_path_factory.mktemp("plan"), tiny_backbone)
    plan = run_snakemake(plan_dir, "--configfile", str(plan_dir / "config.yaml"), "-n").stdout
    assert re.search(r"select_novel\s+1\b", plan)
    assert re.findall(rf"results/transfer/\S+/{NOVEL}/", plan) == []

    workdir = finished_novel_run(request)
    transferred = sorted(p.parent.name for p in (workdir / "results" / "transfer").glob(f"n*/*/{NOVEL}"))
    assert len(transferred) == TOP_K  # only its top-k, not all four pool sources
    ranking = pd.read_csv(workdir / "results" / "rankings" / "scorer" / f"{NOVEL}.tsv", sep="\t")
    assert sorted(ranking.sort_values("rank").source.head(TOP_K)) == transferred
    assert set(ranking.source) == set(SOURCES)
    # brute force for the held-out target: every source
    assert sorted(p.parent.name for p in (workdir / "results" / "transfer").glob(f"n*/*/{TARGET}") if not p.parent.name.startswith("_")) == SOURCES
    table = pd.read_csv(workdir / "results" / "eval" / "novel.tsv", sep="\t")
    assert len(table) == len(SOURCES) and table.transferred.sum() == TOP_K
    assert table[table.transferred].gain.notna().all() and table[~table.transferred].gain.isna().all()
    # nothing is left to do afterwards: the checkpoint's choice is stable
    again = run_snakemake(workdir, "--configfile", str(workdir / "config.yaml"), "-n").stdout
    assert "Nothing to be done" in again
