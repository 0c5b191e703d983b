# Extra target `snakemake publish`: the finished run's transfer matrix as compact, self-describing
# tables in results/matrix/ (tasktransfer publish; docs/evaluation.md, "Publishing a matrix").


rule publish_matrix:
    """Every transfer run's r1, r2 and gain, each pair's features and every method's score, the
    design, each task's provenance and the run's, and the plain tables `tasktransfer evaluate`
    re-scores the run from, with a README made from the data (analysis/publish.py)."""
    input:
        target_pairs=gains_file("target_pairs"),
        scorer_pairs=gains_file("scorer_pairs"),
        control_pairs=[gains_file("control_pairs")] if CONTROL_PAIRS else [],
        no_transfer=layout.NO_TRANSFER,
        # the evaluation's plain inputs and tables; its budget table is the job's last output
        transfer=rules.evaluate.output.transfer,
        no_transfer_scores=rules.evaluate.output.no_transfer_scores,
        per_seed=rules.evaluate.output.per_seed,
        table2=rules.evaluate.output.table2,
        budget_summary=rules.evaluate.output.budget_summary,
        rankings=ranking_files(),
        features=[features_file(t) for t in TARGETS],
        meta=[meta_file(t) for t in TASKS],
        provenance=[layout.fill(layout.PROVENANCE, task=t) for t in TASKS],
        # the transfer runs' records: where they ran (hosts, precision)
        lists=[
            file_list(n)
            for n in ["target_pairs", "scorer_pairs"]
            + (["control_pairs"] if CONTROL_PAIRS else [])
        ],
        registry=config["tasks_registry"],
    output:
        matrix=directory("results/matrix"),
    log:
        "logs/publish.log",
    localrule: True
    conda:
        "../../envs/tasktransfer.yaml"
    params:
        # the results folder, as the job sees it: the one that holds no_transfer.tsv
        results=lambda wc, input: os.path.dirname(input.no_transfer),
        # the effective config (schema defaults and --config overrides in): published with its hash
        config=as_json(config),
        code=CODE["publish"],
    shell:
        "tasktransfer publish --results {params.results:q} --config-json {params.config:q} "
        "--registry {input.registry:q} --out {output.matrix:q} > {log:q} 2>&1"


rule publish:
    input:
        rules.publish_matrix.output.matrix,
