# Stage 3: transfer jobs. One per (source, target, seed), whoever needs the pair; then the gains table.


rule transfer:
    input:
        source_prompt="results/prompts/{source}/seed{seed}/prompt.safetensors",
        target_metrics="results/prompts/{target}/seed{seed}/metrics.json",
        train="results/data/{target}/train.jsonl",
        dev="results/data/{target}/dev.jsonl",
        meta="results/data/{target}/meta.json",
    output:
        metrics="results/transfer/{source}/{target}/seed{seed}/metrics.json",
    log:
        "logs/transfer/{source}/{target}/seed{seed}.log",
    benchmark:
        "benchmarks/transfer/{source}/{target}/seed{seed}.tsv"
    conda:
        "../../envs/tasktransfer.yaml"
    threads: config["threads"]
    resources:
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: 60 * attempt,
    params:
        backbone=config["backbone"],
        spec=lambda wc: as_json(prompt_spec(wc.target)),
    shell:
        "tasktransfer transfer --source {wildcards.source} --source-prompt {input.source_prompt} "
        "--target-metrics {input.target_metrics} --data results/data/{wildcards.target} "
        "--backbone {params.backbone} --spec '{params.spec}' --seed {wildcards.seed} "
        "--threads {threads} --out-metrics {output.metrics} > {log} 2>&1"


rule gains:
    input:
        prompts=all_prompt_metrics(),
        transfers=all_transfer_metrics(),
        dev=expand("results/data/{task}/dev.jsonl", task=TASKS),
    output:
        gains="results/gains.tsv",
        no_transfer="results/no_transfer.tsv",
        summary="results/gain_intervals.tsv",
    log:
        "logs/gains.log",
    localrule: True
    conda:
        "../../envs/tasktransfer.yaml"
    params:
        bootstrap=config["uncertainty"]["bootstrap"],
        level=config["uncertainty"]["level"],
    shell:
        "tasktransfer gains --prompt-metrics {input.prompts} --transfer-metrics {input.transfers} "
        "--data results/data --bootstrap {params.bootstrap} --level {params.level} "
        "--out-gains {output.gains} --out-no-transfer {output.no_transfer} "
        "--out-summary {output.summary} > {log} 2>&1"
