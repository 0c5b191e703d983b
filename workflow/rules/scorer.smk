# Stage 4: the affinity scorer, trained on the scorer pairs' gains alone: targets, the control and
# the intervals never reach it, so changing them never retrains it.


rule train_scorer:
    input:
        unpack(scorer_inputs),
        designed_targets=designed_targets,
    output:
        model=layout.SCORER_MODEL,
        metrics=layout.SCORER_METRICS,
    log:
        "logs/train_scorer.log",
    benchmark:
        "benchmarks/train_scorer.tsv"
    conda:
        "../../envs/tasktransfer.yaml"
    threads: config["threads"]
    resources:
        **scorer_resources(),
    params:
        **scorer_params(),
        # further flags of the rules that use this one: leave-one-target-out, an analysis' variant
        extra=[],
        code=CODE["scorer"],
    shell:
        "tasktransfer train-scorer --gains {input.gains:q} {params.pairs:q} {params.extra:q} "
        "--prompts {params.prompts:q} "
        "--target-prompts {params.target_prompts:q} {params.target_roots:q} "
        "--target-seed {params.target_seed:q} "
        "--sources {params.sources:q} --backbone {params.backbone:q} --m {params.m:q} "
        "--pair-seed {params.pair_seed:q} --spec {params.spec:q} --seed {params.seed:q} "
        "--embedding-seed {params.embedding_seed:q} --threads {threads} "
        "--out-model {output.model:q} --out-metrics {output.metrics:q} > {log:q} 2>&1"


use rule train_scorer as train_scorer_loto with:
    # Leave-one-target-out scorer (method scorer_loto, `selection.loto_scorer`): the scorer retrained
    # for one held-out target on the scorer pairs and every other target's complete row; no pair
    # into the held-out target (--exclude-targets), whose rows are not even among its inputs.
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
        model=layout.LOTO_SCORER_MODEL,
        metrics=layout.LOTO_SCORER_METRICS,
    log:
        "logs/loto/{target}/train_scorer.log",
    benchmark:
        "benchmarks/loto/{target}/train_scorer.tsv"
    params:
        **scorer_params(),
        extra=lambda wc, input: [
            "--extra-gains",
            input.extra,
            "--exclude-targets",
            wc.target,
        ],
        code=CODE["scorer"],
