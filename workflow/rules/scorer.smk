# Stage 4: the affinity scorer, trained on the sampled source pairs' gains alone: targets, the
# control and the intervals never reach it, so changing them never retrains it.


rule train_scorer:
    input:
        unpack(scorer_inputs),
        designed_targets=designed_targets,
    output:
        model="results/scorer/model.safetensors",
        metrics="results/scorer/metrics.json",
    log:
        "logs/train_scorer.log",
    benchmark:
        "benchmarks/train_scorer.tsv"
    conda:
        "../../envs/tasktransfer.yaml"
    threads: config["threads"]
    resources:
        **gpu_request(),
        mem_mb=lambda wc, attempt: 6000 * attempt,
        runtime=lambda wc, attempt: config["runtime_minutes"]["scorer"] * attempt,
    params:
        backbone=config["backbone"],
        sources=",".join(SOURCES),
        m=config["pairs"]["m"],
        pair_seed=config["pairs"]["seed"],
        spec=as_json({k: v for k, v in config["scorer"].items() if k != "seed"}),
        seed=config["scorer"]["seed"],
        embedding_seed=POOL_EMBEDDING_SEED,
        target_prompts=f"results/targets/n{SIZE}",
        target_seed=TARGET_EMBEDDING_SEED,
        # the designed pairs (design.smk) replace the sample of --m and --pair-seed
        pairs=lambda wc, input: (
            ["--pairs", input.pairs] if "pairs" in input.keys() else []
        ),
        code=CODE["scorer"],
    shell:
        "tasktransfer train-scorer --gains {input.gains:q} {params.pairs:q} --prompts results/prompts "
        "--target-prompts {params.target_prompts:q} --target-seed {params.target_seed:q} "
        "--sources {params.sources:q} --backbone {params.backbone:q} --m {params.m:q} "
        "--pair-seed {params.pair_seed:q} --spec {params.spec:q} --seed {params.seed:q} "
        "--embedding-seed {params.embedding_seed:q} --threads {threads} "
        "--out-model {output.model:q} --out-metrics {output.metrics:q} > {log:q} 2>&1"


rule train_scorer_loto:
    """Leave-one-target-out scorer (method scorer_loto, `selection.loto_scorer`): the scorer retrained
    for one held-out target on the scorer pairs and every other target's complete row; no pair into
    the held-out target (--exclude-targets), whose rows are not even among its inputs.
    """
    input:
        unpack(scorer_inputs),
        designed_targets=designed_targets,
        extra=lambda wc: loto_gains_file(wc.target),
        others=lambda wc: [
            target_prompt_file(t, TARGET_EMBEDDING_SEED)
            for t in TARGETS
            if t != wc.target
        ],
    output:
        model="results/loto/{target}/scorer/model.safetensors",
        metrics="results/loto/{target}/scorer/metrics.json",
    log:
        "logs/loto/{target}/train_scorer.log",
    benchmark:
        "benchmarks/loto/{target}/train_scorer.tsv"
    conda:
        "../../envs/tasktransfer.yaml"
    threads: config["threads"]
    resources:
        **gpu_request(),
        mem_mb=lambda wc, attempt: 6000 * attempt,
        runtime=lambda wc, attempt: config["runtime_minutes"]["scorer"] * attempt,
    params:
        backbone=config["backbone"],
        sources=",".join(SOURCES),
        m=config["pairs"]["m"],
        pair_seed=config["pairs"]["seed"],
        spec=as_json({k: v for k, v in config["scorer"].items() if k != "seed"}),
        seed=config["scorer"]["seed"],
        embedding_seed=POOL_EMBEDDING_SEED,
        target_prompts=f"results/targets/n{SIZE}",
        target_seed=TARGET_EMBEDDING_SEED,
        pairs=lambda wc, input: (
            ["--pairs", input.pairs] if "pairs" in input.keys() else []
        ),
        code=CODE["scorer"],
    shell:
        "tasktransfer train-scorer --gains {input.gains:q} {params.pairs:q} --extra-gains {input.extra:q} "
        "--exclude-targets {wildcards.target:q} --prompts results/prompts "
        "--target-prompts {params.target_prompts:q} --target-seed {params.target_seed:q} "
        "--sources {params.sources:q} --backbone {params.backbone:q} --m {params.m:q} "
        "--pair-seed {params.pair_seed:q} --spec {params.spec:q} --seed {params.seed:q} "
        "--embedding-seed {params.embedding_seed:q} --threads {threads} "
        "--out-model {output.model:q} --out-metrics {output.metrics:q} > {log:q} 2>&1"
