# Resources of a job: replicas (seeds x learning rates trained in one loop), seed chunks, memory,
# runtime and GPUs. No rules here.
#
# One backbone pass per step serves all of a job's runs (training.tune_replicas). A tuning or
# transfer job takes a *chunk* of its role's seeds: the sorted seeds cut into runs of
# `replicas.max` // (learning rates) each, so adding a larger seed reruns only the last chunk of
# each pair, or adds a new one (docs/cluster.md, "What reruns when").


def max_replicas():
    """`replicas.max`, with `auto` resolved by the device: 8 where the jobs get a GPU, else 4."""
    value = config["replicas"]["max"]
    if value == "auto":
        return 8 if config["gpus_per_job"] else 4
    return int(value)


MAX_REPLICAS = max_replicas()


def seed_chunks(seeds, lrs):
    """The seeds of each job: as many as fit `replicas.max` with every learning rate."""
    per_job = max(1, MAX_REPLICAS // max(1, len(lrs)))
    seeds = sorted(seeds)
    return [seeds[i : i + per_job] for i in range(0, len(seeds), per_job)]


POOL_SEED_CHUNKS = seed_chunks(POOL_SEEDS, config["prompt"]["lrs"])
SEED_CHUNKS = seed_chunks(SEEDS, {**config["prompt"], **config["target_prompt"]}["lrs"])


def chunk_rule(base, index):
    """The name of a seed chunk's rule (`transfer` for the first chunk, `transfer_2`, ... next)."""
    return base if index == 0 else f"{base}_{index + 1}"


def chunk_tag(chunk):
    """A chunk in log and benchmark names: seed0-1-2."""
    return "seed" + "-".join(str(s) for s in chunk)


def job_replicas(chunk, spec):
    """Runs one job trains together: its seeds x the spec's learning rates, at most `replicas.max`
    (a task whose override has more learning rates trains them in groups of that size).
    """
    return min(MAX_REPLICAS, len(chunk) * len(spec["lrs"]))


def tune_resources(chunk, spec_of, gpu=True):
    """Resources of a tuning or transfer job of `chunk`, by its replica count K: host memory
    `replicas.base_mem_mb` + `replicas.mem_mb` per further replica, GPU memory `replicas.gpu_mem_mb`
    per replica (declared where the job has a GPU), runtime `runtime_minutes.tune` +
    `runtime_minutes.replica` per further replica; memory and time grow with each retry.
    """
    r, minutes = config["replicas"], config["runtime_minutes"]

    def count(wc):
        return job_replicas(chunk, spec_of(wc))

    resources = {
        **gpu_request(gpu),
        "mem_mb": lambda wc, attempt: (r["base_mem_mb"] + r["mem_mb"] * (count(wc) - 1))
        * attempt,
        "runtime": lambda wc, attempt: (
            minutes["tune"] + minutes["replica"] * (count(wc) - 1)
        )
        * attempt,
    }
    if gpu and config["gpus_per_job"]:
        resources["gpu_mem_mb"] = lambda wc: r["gpu_mem_mb"] * count(wc)
    return resources


def gpu_request(needed=True):
    """The `gpu` resource of a tuning or training job: `gpus_per_job`, or no entry at all where
    none is wanted (every resource entry costs planning time in each job)."""
    gpus = config["gpus_per_job"] if needed else 0
    return {"gpu": gpus} if gpus else {}


def scorer_resources():
    """A scorer's training job (the main one, leave-one-target-out, the analyses' variants)."""
    return {
        **gpu_request(),
        "mem_mb": lambda wc, attempt: 6000 * attempt,
        "runtime": lambda wc, attempt: config["runtime_minutes"]["scorer"] * attempt,
    }
