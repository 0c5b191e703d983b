"""The SLURM profile `slurm/config.yaml`: what it asks the cluster for, and a real run through it.

- Without a cluster: the real profile is loaded and `config/paper.yaml` is dry-run through it
  (offline); every planned job's resources are checked against the profile's partitions with the
  executor plugin's own partition selection: one GPU for each GPU job and none for the others,
  the GPU partition for GPU jobs only, and every time request within the partition's limit at
  the last retry.
- On a one-node cluster (CI starts it with .ci/slurm-up.sh: Debian's munge + slurm, daemons run
  directly as root, one node with one GPU; .ci/slurm-down.sh stops it): the tiny workflow runs
  through the same profile, with command-line overrides only where the test cluster needs them.
  Without a running cluster that test is skipped, saying why; TASKTRANSFER_REQUIRE_SLURM=1 makes
  that a failure instead (CI sets it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from conftest import REPO, snakemake_cmd, write_tiny_workdir

PROFILE = REPO / "slurm"
# rules that tune or train on a GPU; every other rule asks for none (the mean control included)
GPU_RULES = {"prompt_tune", "target_tune", "transfer", "train_scorer", "train_scorer_loto"}


def rule_family(rule: str) -> str:
    """A tuning rule's chunk copies (transfer_2, prompt_tune_3: more seeds than one job's replicas) are that rule."""
    return re.sub(r"_\d+$", "", rule)
# the gathering tables and the bootstrap run as cluster jobs, not on the login node
CLUSTER_GATHERING = {"scorer_gains", "target_gains", "control_gains", "no_transfer", "gain_intervals"}
TIME_LIMIT_MIN = 24 * 60  # a typical partition limit


def load_profile() -> dict:
    return yaml.safe_load((PROFILE / "config.yaml").read_text())


class _Resources(dict):
    """A job's resources as the plugin reads them (`.get(...)` and attributes)."""

    __getattr__ = dict.get


class _Log:
    def info(self, *_):
        pass

    debug = warning = info


def planned_jobs(text: str) -> list[dict]:
    """Each job of a dry run's output: rule, resources (numbers as int) and shell command."""
    jobs = []
    blocks = re.split(r"^\s*(?:local)?rule (\w+):\n", text, flags=re.M)
    for rule, body in zip(blocks[1::2], blocks[2::2]):
        found = re.search(r"^\s*resources: (.*)$", body, re.M)
        resources = {}
        for item in (found.group(1).split(", ") if found else []):
            key, _, value = item.partition("=")
            resources[key] = int(value) if value.isdigit() else value
        shell = re.search(r"^Shell command: (.*)$", body, re.M)
        jobs.append({"rule": rule, "resources": resources, "shell": shell.group(1) if shell else ""})
    return jobs


def local_rules() -> set[str]:
    """Rules marked `localrule: True` in the workflow (with the rules derived from them by `use rule`)."""
    local, derived = set(), []
    for path in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        text = path.read_text()
        for name, body in re.findall(r"^(?:rule|checkpoint) (\w+):\n((?:[ \t]+.*\n|\n)*)", text, re.M):
            if re.search(r"^\s+localrule:\s*True", body, re.M):
                local.add(name)
        derived += re.findall(r"^use rule (\w+) as (\w+)", text, re.M)
    local |= {new for old, new in derived if old in local}
    return local


def test_the_profile_maps_the_rules_declarations_onto_the_cluster():
    profile = load_profile()
    assert profile["executor"] == "slurm"
    assert profile["config"] == {"gpus_per_job": 1}  # the rules turn it into their `gpu` resource
    assert "transfer" in [r.strip() for r in str(profile["slurm-array-jobs"]).split(",")]
    assert profile["retries"] >= 1
    # the GPU partition is named once: in the partition file, not per rule
    for rule, resources in (profile.get("set-resources") or {}).items():
        assert "slurm_partition" not in resources and "gpu" not in resources, rule
    from snakemake_executor_plugin_slurm.partitions import read_partition_file

    partitions = read_partition_file(PROFILE / profile["slurm-partition-config"])
    assert any(p.limits.max_gpu > 0 for p in partitions) and any(p.limits.max_gpu == 0 for p in partitions)
    assert not CLUSTER_GATHERING & local_rules(), "the gathering tables must run as cluster jobs"


@pytest.mark.slow
def test_the_paper_study_through_the_profile_asks_for_what_each_job_needs(tmp_path):
    from snakemake_executor_plugin_slurm.partitions import get_best_partition, read_partition_file

    profile = load_profile()
    partitions = {p.name: p for p in read_partition_file(PROFILE / profile["slurm-partition-config"])}
    config = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    config["tasks_registry"] = str(REPO / "config" / "tasks_paper.yaml")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    # a dry run plans locally, where --cores (1 by default) caps each job's threads; on the cluster
    # nothing caps them, so lift the cap to see what each job asks for
    cmd = snakemake_cmd(
        tmp_path, "-n", "--cores", "1024", "--profile", str(PROFILE), "--configfile", str(tmp_path / "config.yaml")
    )
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
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = planned_jobs(proc.stdout + proc.stderr)
    rules = {j["rule"] for j in jobs}
    assert GPU_RULES <= rules and "control_prompt" in rules and len(jobs) > 800, sorted(rules)

    attempts = profile["retries"] + 1
    runtimes: dict[str, set[int]] = {}
    for job in jobs:
        rule, res = rule_family(job["rule"]), job["resources"]
        if rule == "all":
            continue
        gpus = res.get("gpu", 0)
        assert gpus == (1 if rule in GPU_RULES else 0), f"{rule} asks for {gpus} GPUs: {res}"
        threads = re.search(r"--threads (\d+)", job["shell"])
        stub = SimpleNamespace(name=rule, threads=int(threads.group(1)) if threads else 1, resources=_Resources(res))
        chosen = partitions[get_best_partition(list(partitions.values()), stub, _Log())]
        assert (chosen.limits.max_gpu > 0) == (rule in GPU_RULES), f"{rule} goes to partition {chosen.name}"
        # memory and time grow with each retry (base x attempt); the last try still fits the limit
        assert res["runtime"] * attempts <= min(chosen.limits.max_runtime, TIME_LIMIT_MIN), (rule, res)
        runtimes.setdefault(rule, set()).add(res["runtime"])
        if rule in GPU_RULES:
            assert threads and int(threads.group(1)) == config["threads"], job["shell"][:200]
    # a transfer is a tuning run from another start: the same time request
    assert runtimes["transfer"] == runtimes["target_tune"] == runtimes["prompt_tune"]
    # the mean control is a file average: no GPU, and a short request
    assert max(runtimes["control_prompt"]) < min(runtimes["prompt_tune"])


# --------------------------------------------------------------------------- a real cluster
# small enough for a few minutes on a 2-CPU node: 3 tasks, 2 methods that rank without waiting
# for the scorer (the scorer is still trained: the figures need it)
OVERRIDES = {
    "sources": ["animal_a", "colour_a"],
    "targets": ["animal_b"],
    "pairs": {"m": 2},
    "selection": {"methods": ["brute_force", "cosine_mean"], "top_k": [1]},
}
LIMIT_S = 600  # a status misconfiguration hangs instead of failing: `timeout` turns it into an error


def _cluster_problem() -> str | None:
    """Why the tests cannot use a cluster here, or None when one answers."""
    for tool in ("sbatch", "squeue", "sinfo", "scancel"):
        if shutil.which(tool) is None:
            return f"SLURM's `{tool}` is not installed (CI runs .ci/slurm-up.sh as root on Debian to install and start it)"
    try:
        proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "`sinfo` did not answer within 20 s: is slurmctld running? (.ci/slurm-up.sh starts it)"
    if proc.returncode != 0:
        return f"no SLURM controller answers (`sinfo`: {proc.stderr.strip()[:200]}); start one with .ci/slurm-up.sh"
    states = {s.rstrip("*~#") for s in proc.stdout.split()}
    if not states & {"idle", "mixed", "allocated", "completing"}:
        return f"no SLURM node is up (node states: {sorted(states) or 'none'}); see .ci/slurm-up.sh"
    return None


@pytest.fixture(scope="module")
def cluster() -> None:
    problem = _cluster_problem()
    if problem:
        if os.environ.get("TASKTRANSFER_REQUIRE_SLURM") == "1":
            pytest.fail(f"TASKTRANSFER_REQUIRE_SLURM=1 but {problem}")
        pytest.skip(problem)


def _test_cluster_partitions(path: Path) -> Path:
    """The test cluster's partitions in the profile's partition-file format (the file a user edits)."""
    rows = subprocess.run(["sinfo", "-h", "-o", "%P %G"], capture_output=True, text=True, check=True).stdout.split("\n")
    partitions = {}
    for row in filter(None, rows):
        name, gres = row.split(maxsplit=1)
        gpus = re.search(r"gpu(?::[^:(,]+)?:(\d+)", gres)
        partitions[name.rstrip("*")] = {"max_gpu": int(gpus.group(1)) if gpus else 0, "max_runtime": TIME_LIMIT_MIN}
    path.write_text(yaml.safe_dump({"partitions": partitions}))
    return path


def _run_through_slurm(
    workdir: Path, partitions: Path, *extra: str
) -> tuple[subprocess.CompletedProcess, str | None]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("SLURM_JOB_ID", None)  # never look like a job of another allocation
    overrides = [
        # the test cluster's partition, and memory for a small node (the profile asks for 16 GB per GPU job)
        "--slurm-partition-config", str(partitions),
        "--set-resources", *(f"{rule}:mem_mb=1500" for rule in sorted(GPU_RULES)),
        # no accounting database: status from squeue, checked often; fail fast
        "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "3",
        "--seconds-between-status-checks", "2", "--slurm-no-account", "--retries", "0", "--latency-wait", "5",
    ]  # fmt: skip
    cmd = [
        "timeout", "-k", "15", str(LIMIT_S),
        *snakemake_cmd(
            workdir, "--profile", str(PROFILE), *overrides, *extra, "--configfile", str(workdir / "config.yaml")
        ),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    found = re.search(r"SLURM run ID: (\S+)", proc.stdout + proc.stderr)
    run_id = found.group(1) if found else None
    if proc.returncode != 0 and run_id:
        subprocess.run(["scancel", "--name", run_id], capture_output=True)  # leave no job behind
    return proc, run_id


def _jobs_of_run(run_id: str) -> dict[str, str]:
    """Job id -> TRES request of every job a run submitted that squeue still knows."""
    queue = subprocess.run(
        ["squeue", "-h", "-t", "all", "--name", run_id, "-O", "JobID:30,tres-per-job:40"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return {row.split()[0]: (row.split() + [""])[1] for row in queue.stdout.splitlines() if row.strip()}


@pytest.mark.slurm
@pytest.mark.slow
def test_tiny_workflow_runs_every_heavy_job_under_sbatch(cluster, tmp_path, tiny_backbone):
    from tasktransfer.affinity.pairs import brute_force_pairs, sample_pairs

    workdir = tmp_path / "run"
    write_tiny_workdir(workdir, tiny_backbone, **OVERRIDES)
    config = yaml.safe_load((workdir / "config.yaml").read_text())

    partitions = _test_cluster_partitions(tmp_path / "partitions.yaml")
    # The plugin makes an array of the transfers that are ready in the same scheduling round. On
    # this one-GPU node the tuning jobs finish one by one and each may free a single transfer (the
    # order varies), so the test stages what a cluster run of hundreds of pairs does: the tuning
    # first (`--until`), then the rest, where every transfer is ready at once.
    runs = {}
    for stage in (["--until", "prompt_tune", "target_tune"], []):
        proc, run_id = _run_through_slurm(workdir, partitions, *stage)
        out = proc.stdout[-5000:] + proc.stderr[-5000:]
        assert proc.returncode != 124, f"the SLURM run hung past {LIMIT_S} s (job status never came back?):\n{out}"
        assert proc.returncode == 0, f"the SLURM run {stage or 'to the end'} failed (rc {proc.returncode}):\n{out}"
        assert run_id, f"no SLURM run ID in the output: did the slurm executor run?\n{out}"
        # squeue forgets finished jobs after MinJobAge (600 s on the CI cluster): ask it right away
        runs[run_id] = _jobs_of_run(run_id)
    assert (workdir / "results" / "eval" / "summary.tsv").is_file()

    size = config["data"]["target_train"] or "all"
    scorer_pairs = sample_pairs(config["sources"], config["pairs"]["m"], config["pairs"]["seed"])
    pairs = sorted(set(scorer_pairs) | set(brute_force_pairs(config["sources"], config["targets"])))
    target_role = sorted({t for _, t in scorer_pairs} | set(config["targets"]))
    seeds, pool_seeds = config["seeds"], config.get("pool_seeds", [0])
    heavy = {
        **{f"prompt_tune {t}/{s}": f"results/prompts/{t}/seed{s}/metrics.json" for t in config["sources"] for s in pool_seeds},
        **{f"target_tune {t}/{s}": f"results/targets/n{size}/{t}/seed{s}/metrics.json" for t in target_role for s in seeds},
        **{f"transfer {a}->{b}/{s}": f"results/transfer/n{size}/{a}/{b}/seed{s}/metrics.json" for a, b in pairs for s in seeds},
        "train_scorer": "results/scorer/metrics.json",
    }
    records = {name: json.loads((workdir / path).read_text()) for name, path in heavy.items()}
    job_ids = {name: r.get("slurm_job_id") for name, r in records.items()}
    assert all(job_ids.values()), f"jobs that did not run under sbatch: {[n for n, j in job_ids.items() if not j]}"

    # every one of those ids is a job these runs submitted (the plugin names its jobs by the run
    # ID), and each asked for a GPU: the node's one GPU (a counted device) ran them one at a time
    submitted = {job: tres for jobs in runs.values() for job, tres in jobs.items()}
    missing = set(job_ids.values()) - set(submitted)
    assert not missing, f"job ids {missing} not among this run's jobs {sorted(submitted)}"
    assert all("gpu" in submitted[j] for j in job_ids.values()), {n: submitted[j] for n, j in job_ids.items()}

    # the transfers went out as job arrays: tasks of one sbatch call share its array job id
    arrays = [r.get("slurm_array_job_id") for n, r in records.items() if n.startswith("transfer ")]
    assert any(arrays) and len(set(filter(None, arrays))) < len(list(filter(None, arrays))), arrays
