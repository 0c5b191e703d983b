# Which pairs the scorer trains on (config/README.md, "Pairs by design"): the checkpoint
# learnability (which tasks beat their majority class at the target size) and the checkpoint
# design_pairs (a learnable-only sample, or the balanced design under a budget). Neither runs in
# the paper's setting (pairs.design random, pairs.learnable_only false): the pairs are then known
# when the workflow is read (common/tasks.smk, sampled_pairs).
from functools import lru_cache

from tasktransfer.affinity.pair_plan import read_pairs

# the target-role seed whose r1 decides; it must be a seed of the run, so its run exists anyway
LEARN_SEED = (
    SEEDS[0]
    if config["learnability"]["seed"] is None
    else int(config["learnability"]["seed"])
)
if LEARNABILITY and LEARN_SEED not in SEEDS:
    raise ValueError(
        f"learnability.seed {LEARN_SEED} is not one of seeds {SEEDS}; pick one of them (or null)"
    )


@lru_cache(maxsize=8)
def _pairs_table(path, mtime):
    return read_pairs(path)


def designed_pairs(path):
    """The design's pairs, read once per version of the table (input functions ask often)."""
    return _pairs_table(path, os.path.getmtime(path))


def transfer_chunk_tags():
    """The seed chunks of one pair's transfer jobs as in their benchmark names (seed0-1-2)."""
    chunks = globals().get("SEED_CHUNKS") or [[s] for s in SEEDS]
    return ["seed" + "-".join(str(s) for s in chunk) for chunk in chunks]


def design_tasks():
    """What the design needs of each task a transfer goes into: its type, and its format and
    target-role epochs (the cost model's key, with the target size). The held-out targets are in
    it too: their transfers' benchmarks are the cost model's measurements of the same keys. Every
    planned target, rows or not yet (`targets_first`): adding rows leaves the design as it is.
    """
    return as_json(
        {
            t: {
                "type": REGISTRY[t].type,
                "format": REGISTRY[t].format,
                "epochs": target_spec(t)["epochs"],
            }
            for t in [*SOURCES, *PLANNED_TARGETS]
        }
    )


def design_spec():
    """The balanced design's settings (none for the sample, so changing them reruns nothing)."""
    if config["pairs"]["design"] == "random":
        return "{}"
    keys = (
        "min_targets_per_source",
        "min_sources_per_target",
        "related_per_type",
        "cross_types",
        "budget_seconds",
        "time_limit_seconds",
    )
    return as_json(
        {
            **{k: config["pairs"][k] for k in keys},
            "seed": config["pairs"]["seed"],
        }
    )


checkpoint learnability:
    """r1 of one target-role run of every task against its majority class, majority tag or chance."""
    input:
        runs=[target_metrics(t, LEARN_SEED) for t in LEARN_TASKS],
        meta=[meta_file(t) for t in LEARN_TASKS],
    output:
        table=report(
            "results/eval/learnability.tsv",
            caption="../report/learnability.rst",
            category="1. Data",
            labels={"item": "learnability", "type": "TSV"},
        ),
        html=report(
            "results/eval/learnability.html",
            caption="../report/learnability.rst",
            category="1. Data",
            labels={"item": "learnability", "type": "table"},
        ),
    log:
        "logs/learnability.log",
    localrule: True
    conda:
        "../../envs/tasktransfer.yaml"
    params:
        margin=config["learnability"]["margin_points"],
        # the prepared tasks' folder (a function: the folder is the layout's, not a prefix to infer)
        data=lambda wc: layout.DATA_ROOT,
        code=CODE["learnability"],
    shell:
        "tasktransfer learnability --metrics {input.runs:q} --data {params.data:q} "
        "--margin {params.margin:q} --out {output.table:q} --out-html {output.html:q} > {log:q} 2>&1"


checkpoint design_pairs:
    """The scorer's pairs, made once: the table stays until a setting below changes (a design
    remade after each job would keep growing into the budget as pairs finish). An infeasible
    budget fails this job; its one-line error (the smallest feasible budget) goes to stderr.
    """
    input:
        learnability=(
            "results/eval/learnability.tsv"
            if config["pairs"]["learnable_only"]
            else []
        ),
    output:
        pairs=layout.DESIGNED_PAIRS,
    log:
        "logs/design_pairs.log",
    localrule: True
    conda:
        "../../envs/tasktransfer.yaml"
    params:
        design=config["pairs"]["design"],
        sources=",".join(SOURCES),
        tasks=design_tasks(),
        m=config["pairs"]["m"] if config["pairs"]["design"] == "random" else 0,
        pair_seed=config["pairs"]["seed"],
        spec=design_spec(),
        size=SIZE,
        transfer_dir=layout.fill(layout.TRANSFER_ROOT, size=SIZE),
        examples=config["data"].get("target_train") or config["data"]["max_train"],
        chunks=transfer_chunk_tags(),
        seeds=SEEDS,
        learnability=lambda wc, input: (
            ["--learnability", input.learnability] if input.learnability else []
        ),
        code=CODE["design"],
    shell:
        "tasktransfer design-pairs --design {params.design:q} --sources {params.sources:q} "
        "--tasks {params.tasks:q} {params.learnability:q} --m {params.m:q} "
        "--pair-seed {params.pair_seed:q} --spec {params.spec:q} --size {params.size:q} "
        "--examples {params.examples:q} --chunks {params.chunks:q} --seeds {params.seeds:q} "
        "--benchmarks benchmarks --transfer-dir {params.transfer_dir:q} "
        "--out {output.pairs:q} > {log:q} 2>&1 || {{ tail -n 1 {log:q} >&2; exit 1; }}"
