# Stage 4: the affinity scorer, trained on the sampled source pairs' gains (targets never appear).


rule train_scorer:
    input:
        gains="results/gains.tsv",
        prompts=[prompt_file(t, EMBEDDING_SEED) for t in SOURCES],
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
        mem_mb=lambda wc, attempt: 6000 * attempt,
        runtime=lambda wc, attempt: 120 * attempt,
    params:
        backbone=config["backbone"],
        sources=",".join(SOURCES),
        m=config["pairs"]["m"],
        pair_seed=config["pairs"]["seed"],
        spec=as_json({k: v for k, v in config["scorer"].items() if k != "seed"}),
        seed=config["scorer"]["seed"],
        embedding_seed=EMBEDDING_SEED,
    shell:
        "tasktransfer train-scorer --gains {input.gains} --prompts results/prompts "
        "--sources {params.sources} --backbone {params.backbone} --m {params.m} "
        "--pair-seed {params.pair_seed} --spec '{params.spec}' --seed {params.seed} "
        "--embedding-seed {params.embedding_seed} --threads {threads} "
        "--out-model {output.model} --out-metrics {output.metrics} > {log} 2>&1"
