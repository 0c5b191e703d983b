# Stage 5: every method scores every pool source for each target (and each novel target).


rule rank:
    input:
        unpack(rank_inputs),
    output:
        ranking="results/rankings/{method}/{target}.tsv",
    log:
        "logs/rank/{method}/{target}.log",
    conda:
        "../../envs/tasktransfer.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: 20 * attempt,
    params:
        backbone=config["backbone"],
        sources=",".join(SOURCES),
        seed=rank_seed,
        embedding_seed=POOL_EMBEDDING_SEED,
        scorer=lambda wc, input: (
            f"--scorer {input.scorer}" if "scorer" in input.keys() else ""
        ),
        gains=lambda wc, input: (
            f"--gains {input.gains}" if "gains" in input.keys() else ""
        ),
        code=CODE["rank"],
    shell:
        "tasktransfer rank --method {wildcards.method} --target {wildcards.target} "
        "--target-prompt {input.target} --prompts results/prompts --sources {params.sources} "
        "--backbone {params.backbone} {params.seed} --embedding-seed {params.embedding_seed} "
        "{params.scorer} {params.gains} --threads {threads} --quiet --out {output.ranking} > {log} 2>&1"


checkpoint select_novel:
    """A novel target's transfer sources: the scorer's top-k of the pool (k = the largest top_k).
    A checkpoint: which transfer jobs the novel target needs is known only once the scorer has
    ranked the pool, so Snakemake re-evaluates the DAG after this job.
    """
    input:
        ranking="results/rankings/scorer/{target}.tsv",
    output:
        selected="results/novel/{target}/selected.tsv",
    log:
        "logs/select_novel/{target}.log",
    localrule: True
    conda:
        "../../envs/tasktransfer.yaml"
    params:
        k=max(config["selection"]["top_k"]),
    shell:
        "tasktransfer select --ranking {input.ranking} --k {params.k} --out {output.selected} > {log} 2>&1"
