"""Configs are data (docs/trust.md): a config file that asks for YTE templating, or gives a key
twice, stops the workflow before any job, in one line naming the file and the fix."""

from __future__ import annotations

import pytest

from conftest import REPO, run_snakemake


def _plan(tmp_path, text: str):
    config = tmp_path / "config.yaml"
    config.write_text(text)
    workdir = tmp_path / "run"
    workdir.mkdir()
    proc = run_snakemake(
        workdir, "-n", "--configfile", str(config), "--config", f"tasks_registry={REPO / 'config' / 'tasks.yaml'}",
        check=False,
    )
    return proc, workdir


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__use_yte__: true\nseeds:\n  ?if True:\n    - 0\n", "asks for YTE templating (__use_yte__)"),
        ("seeds: [0]\nseeds: [1]\n", "key 'seeds' is given twice"),
    ],
    ids=["templated", "key twice"],
)
def test_a_config_that_is_not_plain_data_stops_the_plan(tmp_path, text, message):
    proc, workdir = _plan(tmp_path, text)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr and "Traceback" not in proc.stdout + proc.stderr
    assert not (workdir / "results").exists()
