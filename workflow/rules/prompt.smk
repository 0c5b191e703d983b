# Stage 2: the prompt pool (per source and pool seed: P and its pool score) and the target-role
# runs (per target of transfer and seed, on its first data.target_train examples: r1 and the
# target-side task embedding).


# One job per (source, chunk of pool seeds) and per (target of transfer, chunk of seeds): the
# chunk's seeds and the spec's learning rates train together as replicas of one loop
# (common/resources.smk); each seed still gets its own files. The first chunk's rules are
# prompt_tune and target_tune, further chunks' prompt_tune_2, target_tune_2, ...
for _index, _chunk in enumerate(POOL_SEED_CHUNKS):

    rule:
        name:
            chunk_rule("prompt_tune", _index)
        input:
            meta=meta_file("{task}"),
        output:
            prompt=[prompt_file("{task}", s) for s in _chunk],
            metrics=[prompt_metrics("{task}", s) for s in _chunk],
        log:
            f"logs/prompt_tune/{{task}}/{chunk_tag(_chunk)}.log",
        benchmark:
            f"benchmarks/prompt_tune/{{task}}/{chunk_tag(_chunk)}.tsv"
        conda:
            "../../envs/tasktransfer.yaml"
        threads: config["threads"]
        resources:
            **tune_resources(_chunk, lambda wc: prompt_spec(wc.task)),
        params:
            data=lambda wc: task_data(wc.task),
            backbone=config["backbone"],
            spec=lambda wc: as_json(prompt_spec(wc.task)),
            seeds=_chunk,
            replicas=lambda wc, chunk=_chunk: job_replicas(chunk, prompt_spec(wc.task)),
            # a pool prompt trains on the task's whole training set
            max_train="all",
            code=CODE["tune"],
        shell:
            "tasktransfer prompt-tune --data {params.data:q} "
            "--backbone {params.backbone:q} --spec {params.spec:q} --seed {params.seeds:q} "
            "--max-replicas {params.replicas:q} --max-train {params.max_train:q} --threads {threads} "
            "--out-prompt {output.prompt:q} --out-metrics {output.metrics:q} > {log:q} 2>&1"


# the target role: the same job on the first data.target_train examples, with the target spec
for _index, _chunk in enumerate(SEED_CHUNKS):

    rule:
        name:
            chunk_rule("target_tune", _index)
        input:
            meta=meta_file("{task}"),
        output:
            prompt=[target_prompt_file("{task}", s, "{size}") for s in _chunk],
            metrics=[target_metrics("{task}", s, "{size}") for s in _chunk],
        log:
            f"logs/target_tune/n{{size}}/{{task}}/{chunk_tag(_chunk)}.log",
        benchmark:
            f"benchmarks/target_tune/n{{size}}/{{task}}/{chunk_tag(_chunk)}.tsv"
        conda:
            "../../envs/tasktransfer.yaml"
        threads: config["threads"]
        resources:
            **tune_resources(_chunk, lambda wc: target_spec(wc.task)),
        params:
            data=lambda wc: task_data(wc.task),
            backbone=config["backbone"],
            spec=lambda wc: as_json(target_spec(wc.task)),
            seeds=_chunk,
            replicas=lambda wc, chunk=_chunk: job_replicas(chunk, target_spec(wc.task)),
            max_train=lambda wc: wc.size,
            code=CODE["tune"],
        shell:
            "tasktransfer prompt-tune --data {params.data:q} "
            "--backbone {params.backbone:q} --spec {params.spec:q} --seed {params.seeds:q} "
            "--max-replicas {params.replicas:q} --max-train {params.max_train:q} --threads {threads} "
            "--out-prompt {output.prompt:q} --out-metrics {output.metrics:q} > {log:q} 2>&1"


rule control_prompt:
    input:
        unpack(control_inputs),
    output:
        prompt=prompt_file(CONTROL, "{seed}"),
        metrics=prompt_metrics(CONTROL, "{seed}"),
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
            ["--prompts", *input.prompts]
            if CONTROL_INIT == "mean"
            else ["--data", os.path.dirname(input.meta)]
        ),
        code=CODE["tune"],
    shell:
        "tasktransfer control-prompt --mode {params.init:q} {params.args:q} "
        "--backbone {params.backbone:q} --spec {params.spec:q} --seed {wildcards.seed:q} "
        "--threads {threads} --out-prompt {output.prompt:q} --out-metrics {output.metrics:q} > {log:q} 2>&1"
