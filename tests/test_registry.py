"""Registry entries: clear errors that name the task and the field; the paper's registry and
config plan the whole study without a network."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from tasktransfer.data import DataSpec, label_set, split_and_cap
from tasktransfer.errors import TaskError
from tasktransfer.formats import FORMATS as TRAINERS
from tasktransfer.hub import CANONICAL
from tasktransfer.tasks import FORMATS, load_registry, parse_task

from conftest import REPO, snakemake_cmd

SYNTH = {"kind": "synthetic", "generator": "keyword_classification"}


def test_every_registry_format_has_a_trainer_and_a_table_mapping():
    assert set(TRAINERS) == set(FORMATS) == set(CANONICAL)


@pytest.mark.parametrize(
    ("entry", "field", "words"),
    [
        ({"type": "t", "source": SYNTH}, "format", "is missing"),
        ({"type": "t", "format": "translation", "source": SYNTH}, "format", "'translation' is unknown"),
        ({"type": "t", "format": "tagging", "metric": "mcc", "source": SYNTH}, "metric", "does not fit format tagging"),
        ({"type": "t", "format": "classification", "source": {"kind": "huggingface"}}, "source.dataset", "is missing"),
        ({"type": "t", "format": "classification", "source": {"kind": "local"}}, "source.files", "is missing"),
        ({"type": "t", "format": "classification", "source": {"kind": "ftp"}}, "source.kind", "'ftp' is unknown"),
    ],
)
def test_bad_entry_names_task_and_field(entry, field, words):
    with pytest.raises(TaskError) as err:
        parse_task("my_task", entry)
    assert err.value.task == "my_task" and err.value.field == field
    assert f"task 'my_task', field '{field}'" in str(err.value) and words in str(err.value)


def test_label_missing_from_train_is_an_error():
    spec = parse_task("cls", {"type": "t", "format": "classification", "source": SYNTH})
    train = [{"text": "a", "label": "x"}, {"text": "b", "label": "y"}]
    dev = [{"text": "c", "label": "z"}]
    with pytest.raises(TaskError, match=r"task 'cls', field 'label': dev labels \['z'\] never occur in train"):
        label_set(spec, train, dev)
    # a tagging task tolerates a rare dev-only tag (it only costs accuracy)
    tag = parse_task("tag", {"type": "t", "format": "tagging", "source": SYNTH})
    assert label_set(tag, [{"tokens": ["a"], "tags": ["O"]}], [{"tokens": ["b"], "tags": ["UH"]}]) == ["O"]


def test_example_missing_a_canonical_key_names_it():
    spec = parse_task("qa", {"type": "t", "format": "extractive_qa", "source": SYNTH})
    rows = {"train": [{"question": "q", "context": "c"}], "dev": [{"question": "q", "context": "c", "answers": []}]}
    with pytest.raises(TaskError, match="task 'qa', field 'answers'"):
        split_and_cap(spec, rows, DataSpec())


# --------------------------------------------------------------------------- the paper's registry


def test_paper_registry_has_44_sources_and_6_targets():
    registry = load_registry(REPO / "config" / "tasks_paper.yaml")
    config = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    assert config["tasks_registry"] == "config/tasks_paper.yaml"
    assert len(config["sources"]) == len(set(config["sources"])) == 44
    assert sorted(config["targets"]) == ["conll2004", "imdb", "mrpc", "qqp", "scitail", "sst2"]
    assert set(config["sources"]) | set(config["targets"]) == set(registry)
    assert {s.format for s in registry.values()} == set(FORMATS)
    assert config["backbone"] == "roberta-large" and config["prompt"]["length"] == 50
    assert config["prompt"]["lrs"] == [1e-4, 2e-4] and config["scorer"]["lrs"] == [1e-5, 2e-5, 3e-5]
    assert config["pairs"]["m"] == 400 and config["scorer"]["beta"] == 1.0
    assert (config["data"]["max_train"], config["data"]["max_dev"]) == (50000, 10000)
    for name, spec in registry.items():
        assert spec.kind in ("huggingface", "local"), name
        required, optional = CANONICAL[spec.format]
        fields = spec.source.get("fields", {})
        assert set(fields) <= set(required) | set(optional) | {"answer_start"}, name


@pytest.mark.slow
def test_paper_config_plans_the_whole_study_offline(tmp_path):
    """`snakemake -n` on config/paper.yaml: every job planned, no hub, no network namespace."""
    config = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    config["tasks_registry"] = str(REPO / "config" / "tasks_paper.yaml")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    cmd = snakemake_cmd(tmp_path, "-n", "--configfile", str(tmp_path / "config.yaml"), "--quiet", "rules")
    # without a network where the kernel lets us drop it (user namespaces), else offline flags only
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        cmd = [unshare, "-rn", *cmd]
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}",
    }
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            jobs[parts[0]] = int(parts[1])
    assert jobs["prepare"] == 50 and jobs["prompt_tune"] == 50
    assert jobs["transfer"] >= 400  # M = 400 scorer pairs plus 44 x 6 brute-force pairs, shared
