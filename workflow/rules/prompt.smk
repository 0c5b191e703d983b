# Stage 2: the prompt pool. One prompt-tuning job per (task, seed): P and the no-transfer score r1.


rule prompt_tune:
    input:
        train="results/data/{task}/train.jsonl",
        dev="results/data/{task}/dev.jsonl",
        meta="results/data/{task}/meta.json",
    output:
        prompt="results/prompts/{task}/seed{seed}/prompt.safetensors",
        metrics="results/prompts/{task}/seed{seed}/metrics.json",
    log:
        "logs/prompt_tune/{task}/seed{seed}.log",
    benchmark:
        "benchmarks/prompt_tune/{task}/seed{seed}.tsv"
    conda:
        "../../envs/tasktransfer.yaml"
    threads: config["threads"]
    resources:
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: 60 * attempt,
    params:
        backbone=config["backbone"],
        spec=lambda wc: as_json(prompt_spec(wc.task)),
    shell:
        "tasktransfer prompt-tune --data results/data/{wildcards.task} "
        "--backbone {params.backbone} --spec '{params.spec}' --seed {wildcards.seed} "
        "--threads {threads} --out-prompt {output.prompt} --out-metrics {output.metrics} > {log} 2>&1"


rule control_prompt:
    input:
        unpack(control_inputs),
    output:
        prompt="results/prompts/_control/seed{seed}/prompt.safetensors",
        metrics="results/prompts/_control/seed{seed}/metrics.json",
    log:
        "logs/control_prompt/seed{seed}.log",
    conda:
        "../../envs/tasktransfer.yaml"
    threads: config["threads"]
    resources:
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: 60 * attempt,
    params:
        init=CONTROL_INIT,
        backbone=config["backbone"],
        spec=lambda wc: as_json(prompt_spec(config["control"]["task"] or SOURCES[0])),
        args=lambda wc, input: (
            f"--prompts {' '.join(input.prompts)}"
            if CONTROL_INIT == "mean"
            else f"--data {os.path.dirname(input.data)}"
        ),
    shell:
        "tasktransfer control-prompt --mode {params.init} {params.args} "
        "--backbone {params.backbone} --spec '{params.spec}' --seed {wildcards.seed} "
        "--threads {threads} --out-prompt {output.prompt} --out-metrics {output.metrics} > {log} 2>&1"
