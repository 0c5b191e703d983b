# Stage 1: fetch what no provider here holds (a data package, or a repository's archive at its
# pinned commit) and prepare each task's capped, seeded train/dev split.


rule fetch_package:
    output:
        # the pin is in the name (package_marker): a new pin is a new file, and reruns its tasks
        marker=f"{config['resources_dir']}/packages/{{kind}}-{{version}}.fetched",
    log:
        "logs/fetch_package/{kind}-{version}.log",
    localrule: True
    conda:
        "../../envs/tasktransfer.yaml"
    params:
        resources=lambda wc, output: os.path.dirname(os.path.dirname(output.marker)),
    shell:
        "tasktransfer fetch --kind {wildcards.kind:q} --version {wildcards.version:q} "
        "--resources {params.resources:q} --marker {output.marker:q} > {log:q} 2>&1"


rule fetch_repo:
    output:
        # the commit is in the name (repo_marker): a new pin is a new file, and reruns its tasks
        marker=f"{config['resources_dir']}/github/{{owner}}/{{repo}}-{{commit}}.fetched",
    log:
        "logs/fetch_repo/{owner}/{repo}-{commit}.log",
    localrule: True
    conda:
        "../../envs/tasktransfer.yaml"
    params:
        resources=lambda wc, output: os.path.dirname(
            os.path.dirname(os.path.dirname(output.marker))
        ),
        registry=config["tasks_registry"],
    shell:
        "tasktransfer fetch --repo {wildcards.owner:q}/{wildcards.repo:q} --commit {wildcards.commit:q} "
        "--registry {params.registry:q} --resources {params.resources:q} --marker {output.marker:q} > {log:q} 2>&1"


rule prepare:
    input:
        # a fetched archive never changes: refetching it must not rerun every task
        package=ancient(package_inputs),
    output:
        train=layout.TRAIN,
        dev=layout.DEV,
        meta=layout.META,
        # which provider served each pinned file, its sha256, commit or package
        provenance=layout.PROVENANCE,
    log:
        "logs/prepare/{task}.log",
    conda:
        "../../envs/tasktransfer.yaml"
    resources:
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: 30 * attempt,
    params:
        registry=config["tasks_registry"],
        resources=config["resources_dir"],
        data=data_spec(),
        # the task's own registry entry: editing another task leaves this job alone
        entry=task_fingerprint,
        out=lambda wc: task_data(wc.task),
        code=CODE["data"],
    shell:
        "tasktransfer prepare --task {wildcards.task:q} --registry {params.registry:q} "
        "--resources {params.resources:q} --data {params.data:q} "
        "--out {params.out:q} > {log:q} 2>&1"
