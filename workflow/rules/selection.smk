# Stage 5: every method scores every pool source for each target.


def rank_inputs(wildcards):
    inputs = {"prompts": [prompt_file(t, EMBEDDING_SEED) for t in [*SOURCES, wildcards.target]]}
    if wildcards.method == "scorer":
        inputs["scorer"] = "results/scorer/model.safetensors"
    if wildcards.method == "brute_force":
        inputs["gains"] = "results/gains.tsv"
    return inputs


rule rank:
    input:
        unpack(rank_inputs),
    output:
        ranking="results/rankings/{method}/{target}.tsv",
    params:
        backbone=config["backbone"],
        sources=",".join(SOURCES),
        seed=config["selection"]["random_seed"],
        embedding_seed=EMBEDDING_SEED,
        scorer=lambda wc, input: f"--scorer {input.scorer}" if "scorer" in input.keys() else "",
        gains=lambda wc, input: f"--gains {input.gains}" if "gains" in input.keys() else "",
    threads: 1
    log:
        "logs/rank/{method}/{target}.log",
    shell:
        "tasktransfer rank --method {wildcards.method} --target {wildcards.target} "
        "--prompts results/prompts --sources {params.sources} --backbone {params.backbone} "
        "--seed {params.seed} --embedding-seed {params.embedding_seed} {params.scorer} {params.gains} "
        "--threads {threads} --out {output.ranking} > {log} 2>&1"
