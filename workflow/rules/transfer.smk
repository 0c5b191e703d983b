# Stage 3: transfer jobs, per (source, target) pair and seed chunk whoever needs the pair; then the gathered
# tables, each in its own rule so that a change reruns only what reads it: the scorer's pairs,
# the targets' pairs, the control's pairs, the no-transfer scores, and the bootstrap intervals.


# One job per (source, target) pair and chunk of seeds: the chunk's seeds (and the target spec's
# learning rates) train together as replicas, each seed from the source prompt of its own pool
# seed (or the first pool seed's) and paired with the target-role run of its seed; one metrics
# file per seed. Rules: transfer for the first chunk, transfer_2, ... for further ones.
for _index, _chunk in enumerate(SEED_CHUNKS):

    rule:
        name:
            chunk_rule("transfer", _index)
        input:
            source_prompt=[prompt_file("{source}", pool_seed_for(s)) for s in _chunk],
            target_metrics=[target_metrics("{target}", s, "{size}") for s in _chunk],
            # train.jsonl and dev.jsonl are written by the same job, before it
            meta=meta_file("{target}"),
        output:
            metrics=[
                transfer_metrics("{source}", "{target}", s, "{size}") for s in _chunk
            ],
        log:
            f"logs/transfer/n{{size}}/{{source}}/{{target}}/{chunk_tag(_chunk)}.log",
        benchmark:
            f"benchmarks/transfer/n{{size}}/{{source}}/{{target}}/{chunk_tag(_chunk)}.tsv"
        conda:
            "../../envs/tasktransfer.yaml"
        threads: config["threads"]
        resources:
            # the same tuning as a target-role run, from another start
            **tune_resources(_chunk, lambda wc: target_spec(wc.target)),
        params:
            data=lambda wc: task_data(wc.target),
            backbone=config["backbone"],
            spec=lambda wc: as_json(target_spec(wc.target)),
            seeds=_chunk,
            replicas=lambda wc, chunk=_chunk: job_replicas(
                chunk, target_spec(wc.target)
            ),
            code=CODE["tune"],
        shell:
            "tasktransfer transfer --source {wildcards.source:q} --source-prompt {input.source_prompt:q} "
            "--target-metrics {input.target_metrics:q} --data {params.data:q} "
            "--backbone {params.backbone:q} --spec {params.spec:q} --seed {params.seeds:q} "
            "--max-replicas {params.replicas:q} --max-train {wildcards.size:q} --threads {threads} "
            "--out-metrics {output.metrics:q} > {log:q} 2>&1"


rule file_list:
    # thousands of paths never go on one command line (Linux caps one argument at 128 KiB):
    # the gathering rules read them from a list, `tasktransfer ... @list`, one path a line. A
    # template job: Snakemake renders it in its own process, where a `run:` job starts a whole
    # Snakemake in a subprocess (5 s a list in the tests' tiny runs). The template is `ancient`:
    # a fresh clone's newer file remakes no list.
    input:
        template=ancient(workflow.source_path("../templates/file_list.j2")),
        listed=listed_files,
    output:
        listing=layout.FILE_LIST,
    log:
        "logs/file_list/{name}.log",
    template_engine:
        "jinja2"


rule scorer_gains:
    input:
        runs=file_list("scorer_pairs"),
    output:
        gains=gains_file("scorer_pairs"),
    log:
        "logs/gains/scorer_pairs.log",
    conda:
        "../../envs/tasktransfer.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=CODE["gather"],
    shell:
        "tasktransfer gains --transfer-metrics @{input.runs:q} --out-gains {output.gains:q} > {log:q} 2>&1"


use rule scorer_gains as target_gains with:
    input:
        runs=file_list("target_pairs"),
    output:
        gains=gains_file("target_pairs"),
    log:
        "logs/gains/target_pairs.log",


use rule scorer_gains as control_gains with:
    input:
        runs=file_list("control_pairs"),
    output:
        gains=gains_file("control_pairs"),
    log:
        "logs/gains/control_pairs.log",


rule no_transfer:
    input:
        target_role=file_list("target_role"),
        pool=file_list("pool"),
    output:
        no_transfer=layout.NO_TRANSFER,
        pool=layout.POOL_SCORES,
    log:
        "logs/no_transfer.log",
    conda:
        "../../envs/tasktransfer.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=CODE["gather"],
    shell:
        "tasktransfer gains --prompt-metrics @{input.target_role:q} --out-no-transfer {output.no_transfer:q} "
        "--pool-metrics @{input.pool:q} --out-pool {output.pool:q} > {log:q} 2>&1"


rule gain_intervals:
    input:
        target_pairs=file_list("target_pairs"),
        control_pairs=file_list("control_pairs"),
        target_role=file_list("target_role"),
        dev=[meta_file(t) for t in TARGETS],
    output:
        intervals=layout.GAIN_INTERVALS,
    log:
        "logs/gain_intervals.log",
    conda:
        "../../envs/tasktransfer.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: 60 * attempt,
    params:
        bootstrap=config["uncertainty"]["bootstrap"],
        level=config["uncertainty"]["level"],
        # the prepared tasks' folder (a function: the folder is the layout's, not a prefix to infer)
        data=lambda wc: layout.DATA_ROOT,
        code=CODE["gather"],
    shell:
        "tasktransfer intervals --prompt-metrics @{input.target_role:q} "
        "--transfer-metrics @{input.target_pairs:q} @{input.control_pairs:q} "
        "--data {params.data:q} --bootstrap {params.bootstrap:q} --level {params.level:q} "
        "--out {output.intervals:q} > {log:q} 2>&1"
