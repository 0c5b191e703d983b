"""Every shipped config plans every named target: `all`, `ablations` and each `ablation_*`.

A dry run reads the whole workflow with the config, plans each target up to its checkpoints and
evaluates every input function it can: a parse-time list that disagrees with a checkpoint, or an
analysis planned on pairs the run does not train, raises here (the `ablations` target failed on
the default once: its plan read a constant that the design checkpoint leaves empty).
"""

from __future__ import annotations

import re

import pytest
import yaml

from conftest import REPO, run_snakemake

pytestmark = pytest.mark.slow

#: every config a user can pass (config/tasks*.yaml are registries, not configs)
CONFIGS = sorted(p for p in (REPO / "config").glob("*.yaml") if not p.name.startswith("tasks"))
SNAKEFILE_RULES = "\n".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk"))
#: the named targets: `all` and the extra ones of ablations.smk
TARGETS = ["all", *re.findall(r"^rule (ablations|ablation_[a-z_]+):\n    input:\n        (?:\[f for|ANALYSES)", SNAKEFILE_RULES, re.M)]


def test_the_named_targets_are_found():
    assert {"ablations", "ablation_beta", "ablation_m", "ablation_target_size", "ablation_unseen_type",
            "ablation_full_finetune"} <= set(TARGETS)


def test_every_config_is_listed():
    assert {"config.yaml", "paper.yaml", "study.yaml", "study_design.yaml", "fp32_cpu.yaml", "matrix.yaml"} <= {
        p.name for p in CONFIGS
    }


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_every_named_target_plans_on_every_config(config, tmp_path, shared_data):
    settings = yaml.safe_load(config.read_text())
    registry = REPO / settings.get("tasks_registry", "config/tasks.yaml")
    proc = run_snakemake(
        tmp_path, "-n", *TARGETS, "--configfile", str(config),
        "--config", f"tasks_registry={registry}", f"resources_dir={tmp_path / 'resources'}",
        f"data_dir={shared_data}",
        check=False, timeout=600,
    )
    assert proc.returncode == 0, f"{config.name}: {proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert "Job stats:" in proc.stdout
