# Stage 0: a shared pool (config `pool`): its prompts, data meta and scorer installed where the run
# keeps its own, as hash-checked copies (`tasktransfer pool install-*`). The rules match the pool's
# tasks only (POOL_TASKS; nothing without a pool) and win over tuning and prepare for them.
# A job depends on its pool file through the file's sha256 in params, not through the pool's path
# (read from the config in `run:`, so neither an input nor a param): a changed file reruns only
# what reads it, while the same pool in another folder reruns nothing.
from tasktransfer.pool.import_plan import task_regex


wildcard_constraints:
    pool_task=task_regex(POOL_TASKS),
    pool_meta_task=task_regex(POOL.meta_tasks if POOL else []),


ruleorder: import_pool_prompt > prompt_tune
ruleorder: import_pool_meta > prepare


rule import_pool_prompt:
    output:
        prompt=prompt_file("{pool_task}", "{seed}"),
        metrics=prompt_metrics("{pool_task}", "{seed}"),
    log:
        "logs/import_pool_prompt/{pool_task}/seed{seed}.log",
    localrule: True
    params:
        sha256=lambda wc: POOL.prompt_digest(wc.pool_task, wc.seed),
        code=CODE["pool"],
    run:
        shell(
            "tasktransfer pool install-prompt --pool {config[pool]:q} --task {wildcards.pool_task:q} "
            "--seed {wildcards.seed:q} --out-prompt {output.prompt:q} --out-metrics {output.metrics:q} > {log:q} 2>&1"
        )


rule import_pool_meta:
    output:
        meta=meta_file("{pool_meta_task}"),
    log:
        "logs/import_pool_meta/{pool_meta_task}.log",
    localrule: True
    params:
        # the task's own record in the manifest: another task's change leaves this job alone
        meta=lambda wc: POOL.meta_json(wc.pool_meta_task),
        code=CODE["pool"],
    run:
        shell(
            "tasktransfer pool install-meta --pool {config[pool]:q} --task {wildcards.pool_meta_task:q} "
            "--out-meta {output.meta:q} > {log:q} 2>&1"
        )


if POOL and POOL.scorer:

    ruleorder: import_pool_scorer > train_scorer

    rule import_pool_scorer:
        output:
            model=layout.SCORER_MODEL,
            metrics=layout.SCORER_METRICS,
        log:
            "logs/import_pool_scorer.log",
        localrule: True
        params:
            sha256=POOL.scorer_digest(),
            code=CODE["pool"],
        run:
            shell(
                "tasktransfer pool install-scorer --pool {config[pool]:q} --backbone {config[backbone]:q} "
                "--out-model {output.model:q} --out-metrics {output.metrics:q} > {log:q} 2>&1"
            )
