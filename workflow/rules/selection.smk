# Stage 5: every method scores every pool source for each target (and each novel target).


rule rank:
    input:
        unpack(rank_inputs),
        designed_features=designed_features,
    output:
        ranking=layout.RANKING,
    log:
        "logs/rank/{method}/{target}.log",
    conda:
        "../../envs/tasktransfer.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: 20 * attempt,
    params:
        backbone=config["backbone"],
        sources=",".join(SOURCES),
        seed=rank_seed,
        prompts=pool_root,
        embedding_seed=POOL_EMBEDDING_SEED,
        scorer=lambda wc, input: (
            ["--scorer", input.scorer] if "scorer" in input.keys() else []
        ),
        gains=lambda wc, input: (
            ["--gains", input.gains] if "gains" in input.keys() else []
        ),
        learned=rank_learned_args,
        code=CODE["rank"],
    shell:
        "tasktransfer rank --method {wildcards.method:q} --target {wildcards.target:q} "
        "--target-prompt {input.target:q} --prompts {params.prompts:q} --sources {params.sources:q} "
        "--backbone {params.backbone:q} {params.seed:q} --embedding-seed {params.embedding_seed:q} "
        "{params.scorer:q} {params.gains:q} {params.learned:q} --threads {threads} --quiet "
        "--out {output.ranking:q} > {log:q} 2>&1"


rule pair_features:
    """Features of every (source, target) pair that need no transfer: prompt cosines, and LogME,
    H-score and a kNN probe of the target's training examples under each source's pool prompt
    (affinity/logme_features.py, affinity/transferability.py). For
    every target-role task: held-out and novel targets, and the pool tasks the scorer pairs enter
    (the learned methods' training rows)."""
    input:
        sources=[prompt_file(t, POOL_EMBEDDING_SEED) for t in SOURCES],
        target=lambda wc: target_prompt_file(wc.target, TARGET_EMBEDDING_SEED),
        train=lambda wc: layout.fill(layout.TRAIN, task=wc.target),
        meta=lambda wc: meta_file(wc.target),
    output:
        features=features_file("{target}"),
    log:
        "logs/features/{target}.log",
    benchmark:
        "benchmarks/features/{target}.tsv"
    conda:
        "../../envs/tasktransfer.yaml"
    threads: config["threads"]
    resources:
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: config["runtime_minutes"]["tune"] * attempt,
    params:
        backbone=config["backbone"],
        sources=",".join(SOURCES),
        data=lambda wc: task_data(wc.target),
        spec=lambda wc: features_spec(wc.target),
        max_train=lambda wc: target_size(wc.target),
        prompts=pool_root,
        embedding_seed=POOL_EMBEDDING_SEED,
        code=CODE["features"],
    shell:
        "tasktransfer features --target {wildcards.target:q} --target-prompt {input.target:q} "
        "--data {params.data:q} --prompts {params.prompts:q} --sources {params.sources:q} "
        "--embedding-seed {params.embedding_seed:q} --backbone {params.backbone:q} "
        "--spec {params.spec:q} --max-train {params.max_train:q} --threads {threads} "
        "--out {output.features:q} > {log:q} 2>&1"


rule loto_gains:
    """Leave-one-target-out: a held-out target's training gains, gathered from the scorer pairs' and
    the other targets' transfer runs only, so nothing of its own rows can reach its learned rankings
    (and a change in them reruns none of those)."""
    input:
        runs=lambda wc: file_list(f"loto_{wc.target}"),
    output:
        gains=loto_gains_file("{target}"),
    log:
        "logs/loto/{target}/train_gains.log",
    conda:
        "../../envs/tasktransfer.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=CODE["gather"],
    shell:
        "tasktransfer gains --transfer-metrics @{input.runs:q} --out-gains {output.gains:q} > {log:q} 2>&1"


checkpoint select_novel:
    """A novel target's transfer sources: the scorer's top-k of the pool (k = the largest top_k).
    A checkpoint: which transfer jobs the novel target needs is known only once the scorer has
    ranked the pool, so Snakemake re-evaluates the DAG after this job.
    """
    input:
        ranking=ranking_file("scorer", "{target}"),
    output:
        selected=layout.NOVEL_SELECTED,
    log:
        "logs/select_novel/{target}.log",
    localrule: True
    conda:
        "../../envs/tasktransfer.yaml"
    params:
        k=max(config["selection"]["top_k"]),
    shell:
        "tasktransfer select --ranking {input.ranking:q} --k {params.k:q} --out {output.selected:q} > {log:q} 2>&1"
