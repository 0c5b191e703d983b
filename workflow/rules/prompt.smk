# Stage 2: the prompt pool (one job per source and pool seed: P and its pool score) and the
# target-role runs (one per target of transfer and seed, on its first data.target_train examples:
# r1 and the target-side task embedding).


rule prompt_tune:
    input:
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
        **gpu_request(),
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: config["runtime_minutes"]["tune"] * attempt,
    params:
        backbone=config["backbone"],
        spec=lambda wc: as_json(prompt_spec(wc.task)),
        code=CODE["tune"],
    shell:
        "tasktransfer prompt-tune --data results/data/{wildcards.task} "
        "--backbone {params.backbone} --spec '{params.spec}' --seed {wildcards.seed} "
        "--threads {threads} --out-prompt {output.prompt} --out-metrics {output.metrics} > {log} 2>&1"


rule target_tune:
    input:
        meta="results/data/{task}/meta.json",
    output:
        prompt="results/targets/n{size}/{task}/seed{seed}/prompt.safetensors",
        metrics="results/targets/n{size}/{task}/seed{seed}/metrics.json",
    log:
        "logs/target_tune/n{size}/{task}/seed{seed}.log",
    benchmark:
        "benchmarks/target_tune/n{size}/{task}/seed{seed}.tsv"
    conda:
        "../../envs/tasktransfer.yaml"
    threads: config["threads"]
    resources:
        **gpu_request(),
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: config["runtime_minutes"]["tune"] * attempt,
    params:
        backbone=config["backbone"],
        spec=lambda wc: as_json(target_spec(wc.task)),
        code=CODE["tune"],
    shell:
        "tasktransfer prompt-tune --data results/data/{wildcards.task} "
        "--backbone {params.backbone} --spec '{params.spec}' --seed {wildcards.seed} --max-train {wildcards.size} "
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
        # averaging files needs no GPU; tuning on shuffled labels does
        **gpu_request(CONTROL_INIT == "shuffled"),
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: (
            config["runtime_minutes"]["tune"] if CONTROL_INIT == "shuffled" else 10
        )
        * attempt,
    params:
        init=CONTROL_INIT,
        backbone=config["backbone"],
        spec=lambda wc: as_json(prompt_spec(config["control"]["task"] or SOURCES[0])),
        args=lambda wc, input: (
            f"--prompts {' '.join(input.prompts)}"
            if CONTROL_INIT == "mean"
            else f"--data {os.path.dirname(input.meta)}"
        ),
        code=CODE["tune"],
    shell:
        "tasktransfer control-prompt --mode {params.init} {params.args} "
        "--backbone {params.backbone} --spec '{params.spec}' --seed {wildcards.seed} "
        "--threads {threads} --out-prompt {output.prompt} --out-metrics {output.metrics} > {log} 2>&1"
