# Stage 7 (extra targets, never part of `rule all`): the paper's analyses. `snakemake ablations`
# builds all; `snakemake ablation_beta | ablation_m | ablation_target_size | ablation_unseen_type |
# ablation_full_finetune` one each. They reuse the main run's jobs: beta, M and unseen type train
# only scorers (on the main scorer's pairs, passed explicitly: sampled or designed) and rank;
# target size adds target-role runs and transfers at other sizes; full fine-tuning adds its own
# jobs. See config/README.md, "Analyses".
ANALYSES = {
    name: [f"results/ablations/{name}.tsv", f"results/ablations/{name}.png"]
    for name in ("beta", "m", "target_size", "unseen_type", "full_finetune")
}


# --- target rules: `snakemake ablations` or one analysis -----------------------------------------
rule ablations:
    input:
        [f for files in ANALYSES.values() for f in files],
    localrule: True


rule ablation_beta:
    input:
        ANALYSES["beta"],
    localrule: True


rule ablation_m:
    input:
        ANALYSES["m"],
    localrule: True


rule ablation_target_size:
    input:
        ANALYSES["target_size"],
    localrule: True


rule ablation_unseen_type:
    input:
        ANALYSES["unseen_type"],
    localrule: True


rule ablation_full_finetune:
    input:
        ANALYSES["full_finetune"],
    localrule: True


# --- scorers of the analyses and their rankings ------------------------------------------------------
use rule train_scorer as ablation_scorer with:
    # the main scorer's inputs and pairs (all of them: a variant takes the first M, or leaves out a
    # type's pairs) and the same embeddings
    input:
        unpack(scorer_inputs),
        designed_targets=designed_targets,
    output:
        model=layout.ABLATION_SCORER_MODEL,
        metrics=layout.ABLATION_SCORER_METRICS,
    log:
        "logs/ablations/train_scorer/{variant}.log",
    benchmark:
        "benchmarks/ablations/train_scorer/{variant}.tsv"
    params:
        **scorer_params(
            spec=lambda wc: as_json(
                ablation_plan().scorer_spec(wc.variant, config["scorer"])
            )
        ),
        extra=lambda wc: ablation_scorer_args(wc.variant),
        code=CODE["scorer"],


rule ablation_rank:
    input:
        sources=[prompt_file(t, POOL_EMBEDDING_SEED) for t in SOURCES],
        target=lambda wc: target_prompt_file(wc.target, TARGET_EMBEDDING_SEED),
        scorer=layout.ABLATION_SCORER_MODEL,
    output:
        ranking=layout.ABLATION_RANKING,
    log:
        "logs/ablations/rank/{variant}/{target}.log",
    conda:
        "../../envs/tasktransfer.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: 20 * attempt,
    params:
        backbone=config["backbone"],
        sources=",".join(SOURCES),
        prompts=pool_root,
        embedding_seed=POOL_EMBEDDING_SEED,
        code=CODE["rank"],
    shell:
        "tasktransfer rank --method scorer --target {wildcards.target:q} "
        "--target-prompt {input.target:q} --prompts {params.prompts:q} --sources {params.sources:q} "
        "--backbone {params.backbone:q} --embedding-seed {params.embedding_seed:q} "
        "--scorer {input.scorer:q} --threads {threads} --quiet --out {output.ranking:q} > {log:q} 2>&1"


# --- which sources the size and fine-tuning analyses transfer ----------------------------------------
checkpoint ablation_picks:
    """Each method's top-1 source for a target, from the main run's rankings. A checkpoint: the
    transfers at other sizes and the fine-tuning jobs are known only once the rankings exist.
    """
    input:
        rankings=lambda wc: [
            ranking_file(m, wc.target) for m in ablation_settings().pick_methods
        ],
    output:
        picks=layout.ABLATION_PICKS,
    log:
        "logs/ablations/picks/{target}.log",
    localrule: True
    conda:
        "../../envs/tasktransfer.yaml"
    params:
        methods=",".join(ablation_settings().pick_methods),
        code=CODE["ablations"],
    shell:
        "tasktransfer ablation-picks --rankings {input.rankings:q} --methods {params.methods:q} "
        "--out {output.picks:q} > {log:q} 2>&1"


# --- full fine-tuning ---------------------------------------------------------------------------------
rule finetune_source:
    # the intermediate task: fine-tuned on its whole (pool) training set, once per pool seed
    input:
        meta=layout.META,
    output:
        model=layout.FINETUNE_SOURCE_MODEL,
        metrics=layout.FINETUNE_SOURCE_METRICS,
    log:
        "logs/ablations/finetune_source/{task}/seed{seed}.log",
    benchmark:
        "benchmarks/ablations/finetune_source/{task}/seed{seed}.tsv"
    conda:
        "../../envs/tasktransfer.yaml"
    threads: config["threads"]
    resources:
        gpu=config["gpus_per_job"],
        mem_mb=lambda wc, attempt: 6000 * attempt,
        runtime=lambda wc, attempt: config["runtime_minutes"]["tune"] * attempt,
    params:
        backbone=config["backbone"],
        spec=as_json(ablation_settings().finetune_spec),
        data=lambda wc: task_data(wc.task),
        code=CODE["finetune"],
    shell:
        "tasktransfer finetune --data {params.data:q} --backbone {params.backbone:q} "
        "--spec {params.spec:q} --seed {wildcards.seed:q} --threads {threads} "
        "--out-model {output.model:q} --out-metrics {output.metrics:q} > {log:q} 2>&1"


rule finetune_target:
    # a target on its first target-role examples, from the pretrained weights (init _pretrained)
    # or from a source's fine-tuned backbone (init = that source)
    input:
        meta=meta_file("{target}"),
        # the source's fine-tuned backbone (none from the pretrained weights)
        init=lambda wc: (
            []
            if wc.init == PRETRAINED
            else layout.fill(
                layout.FINETUNE_SOURCE_MODEL, task=wc.init, seed=pool_seed_for(wc.seed)
            )
        ),
    output:
        metrics=layout.FINETUNE_TARGET_METRICS,
    log:
        "logs/ablations/finetune_target/n{size}/{init}/{target}/seed{seed}.log",
    benchmark:
        "benchmarks/ablations/finetune_target/n{size}/{init}/{target}/seed{seed}.tsv"
    wildcard_constraints:
        init=r"_pretrained|[A-Za-z0-9][A-Za-z0-9_.\-]*",
    conda:
        "../../envs/tasktransfer.yaml"
    threads: config["threads"]
    resources:
        gpu=config["gpus_per_job"],
        mem_mb=lambda wc, attempt: 6000 * attempt,
        runtime=lambda wc, attempt: config["runtime_minutes"]["tune"] * attempt,
    params:
        data=lambda wc: task_data(wc.target),
        backbone=config["backbone"],
        spec=as_json(ablation_settings().finetune_spec),
        init=lambda wc, input: ["--init-from", input.init] if input.init else [],
        max_train=lambda wc: [] if wc.size == "all" else ["--max-train", wc.size],
        code=CODE["finetune"],
    shell:
        "tasktransfer finetune --data {params.data:q} --backbone {params.backbone:q} "
        "--spec {params.spec:q} --seed {wildcards.seed:q} {params.init:q} {params.max_train:q} "
        "--threads {threads} --out-metrics {output.metrics:q} > {log:q} 2>&1"


# --- one table and figure per analysis ----------------------------------------------------------------
rule ablation_beta_table:
    input:
        gains=gains_file("target_pairs"),
        rankings=lambda wc: ablation_plan().scorer_rankings(
            ablation_plan().sweep_items("beta", TARGETS)
        ),
    output:
        **report_items(
            "ablation_beta",
            "6. Analyses",
            "scorer by smooth-L1 beta (Figure 2)",
            subcategory="beta",
            table="results/ablations/beta.tsv",
            figure="results/ablations/beta.png",
        ),
    log:
        "logs/ablations/beta.log",
    localrule: True
    conda:
        "../../envs/tasktransfer.yaml"
    params:
        key="beta",
        rankings=lambda wc: ablation_plan().sweep_items("beta", TARGETS),
        ks=",".join(str(k) for k in config["selection"]["top_k"]),
        level=config["uncertainty"]["level"],
        code=CODE["ablations"],
    shell:
        "tasktransfer ablation-sweep --key {params.key:q} --rankings {params.rankings:q} --gains {input.gains:q} "
        "--ks {params.ks:q} --level {params.level:q} --out {output.table:q} --figure {output.figure:q} > {log:q} 2>&1"


use rule ablation_beta_table as ablation_m_table with:
    input:
        gains=gains_file("target_pairs"),
        rankings=lambda wc: ablation_plan().scorer_rankings(
            ablation_plan().sweep_items("m", TARGETS)
        ),
    output:
        **report_items(
            "ablation_m",
            "6. Analyses",
            "scorer by training pairs M (Figure 3)",
            subcategory="M",
            table="results/ablations/m.tsv",
            figure="results/ablations/m.png",
        ),
    log:
        "logs/ablations/m.log",
    params:
        key="m",
        rankings=lambda wc: ablation_plan().sweep_items("m", TARGETS),
        ks=",".join(str(k) for k in config["selection"]["top_k"]),
        level=config["uncertainty"]["level"],
        code=CODE["ablations"],


rule ablation_unseen_type_table:
    input:
        gains=gains_file("target_pairs"),
        rankings=lambda wc: ablation_plan().scorer_rankings(
            ablation_plan().unseen_items(TARGETS, METHODS)
        ),
    output:
        **report_items(
            "ablation_unseen_type",
            "6. Analyses",
            "scorer on task types it never saw (Section 4.6.2)",
            subcategory="unseen task type",
            table="results/ablations/unseen_type.tsv",
            figure="results/ablations/unseen_type.png",
        ),
    log:
        "logs/ablations/unseen_type.log",
    localrule: True
    conda:
        "../../envs/tasktransfer.yaml"
    params:
        rankings=lambda wc: ablation_plan().unseen_items(TARGETS, METHODS),
        skipped=lambda wc: as_json(ablation_plan().skipped_types),
        ks=",".join(str(k) for k in config["selection"]["top_k"]),
        level=config["uncertainty"]["level"],
        code=CODE["ablations"],
    shell:
        "tasktransfer ablation-unseen-type --rankings {params.rankings:q} --skipped {params.skipped:q} "
        "--gains {input.gains:q} --ks {params.ks:q} --level {params.level:q} "
        "--out {output.table:q} --figure {output.figure:q} > {log:q} 2>&1"


rule ablation_target_size_table:
    input:
        picks=expand(layout.ABLATION_PICKS, target=ablation_settings().targets),
        runs=lambda wc: [
            transfer_metrics(source, target, seed, size)
            for source, target, seed, size in ablation_settings().size_transfers(
                lambda t: checkpoints.ablation_picks.get(target=t).output.picks, SEEDS
            )
        ],
    output:
        **report_items(
            "ablation_target_size",
            "6. Analyses",
            "gain by target training size (Figure 4)",
            subcategory="target size",
            table="results/ablations/target_size.tsv",
            figure="results/ablations/target_size.png",
        ),
    log:
        "logs/ablations/target_size.log",
    localrule: True
    conda:
        "../../envs/tasktransfer.yaml"
    params:
        methods=",".join(SIZE_METHODS),
        level=config["uncertainty"]["level"],
        code=CODE["ablations"],
    shell:
        "tasktransfer ablation-size --transfer-metrics {input.runs:q} --picks {input.picks:q} "
        "--methods {params.methods:q} --level {params.level:q} "
        "--out {output.table:q} --figure {output.figure:q} > {log:q} 2>&1"


rule ablation_full_finetune_table:
    input:
        picks=expand(layout.ABLATION_PICKS, target=ablation_settings().finetune_targets),
        runs=lambda wc: [
            layout.fill(
                layout.FINETUNE_TARGET_METRICS,
                size=SIZE,
                init=init,
                target=target,
                seed=seed,
            )
            for init, target, seed in ablation_settings().finetune_runs(
                lambda t: checkpoints.ablation_picks.get(target=t).output.picks, SEEDS
            )
        ],
    output:
        **report_items(
            "ablation_full_finetune",
            "6. Analyses",
            "intermediate-task full fine-tuning (Table 3)",
            subcategory="full fine-tuning",
            table="results/ablations/full_finetune.tsv",
            figure="results/ablations/full_finetune.png",
        ),
    log:
        "logs/ablations/full_finetune.log",
    localrule: True
    conda:
        "../../envs/tasktransfer.yaml"
    params:
        methods=",".join(ablation_settings().finetune_methods),
        level=config["uncertainty"]["level"],
        code=CODE["ablations"],
    shell:
        "tasktransfer ablation-finetune --runs {input.runs:q} --picks {input.picks:q} "
        "--methods {params.methods:q} --level {params.level:q} "
        "--out {output.table:q} --figure {output.figure:q} > {log:q} 2>&1"
