# Stage 2: the prompt pool (one job per source and pool seed: P and its pool score) and the
# target-role runs (one per target of transfer and seed, on its first data.target_train examples:
# r1 and the target-side task embedding).


rule prompt_tune:
    input:
        meta=meta_file("{task}"),
    output:
        prompt=prompt_file("{task}", "{seed}"),
        metrics=prompt_metrics("{task}", "{seed}"),
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
        data=lambda wc: data_dir(wc.task),
        backbone=config["backbone"],
        spec=lambda wc: as_json(prompt_spec(wc.task)),
        # a pool prompt trains on the task's whole training set
        max_train="all",
        code=CODE["tune"],
    shell:
        "tasktransfer prompt-tune --data {params.data:q} "
        "--backbone {params.backbone:q} --spec {params.spec:q} --seed {wildcards.seed:q} "
        "--max-train {params.max_train:q} --threads {threads} "
        "--out-prompt {output.prompt:q} --out-metrics {output.metrics:q} > {log:q} 2>&1"


# the target role: the same job on the first data.target_train examples, with the target spec
use rule prompt_tune as target_tune with:
    output:
        prompt=target_prompt_file("{task}", "{seed}", "{size}"),
        metrics=target_metrics("{task}", "{seed}", "{size}"),
    log:
        "logs/target_tune/n{size}/{task}/seed{seed}.log",
    benchmark:
        "benchmarks/target_tune/n{size}/{task}/seed{seed}.tsv"
    params:
        data=lambda wc: data_dir(wc.task),
        backbone=config["backbone"],
        spec=lambda wc: as_json(target_spec(wc.task)),
        max_train=lambda wc: wc.size,
        code=CODE["tune"],


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
