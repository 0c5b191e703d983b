# Stage 6: judge every method against brute force; tables and figures for the report.


rule task_table:
    input:
        meta=expand("results/data/{task}/meta.json", task=TASKS),
        no_transfer="results/no_transfer.tsv",
    output:
        table=report(
            "results/eval/tasks.tsv",
            caption="../report/tasks.rst",
            category="1. Data",
            labels={"table": "tasks"},
        ),
    params:
        sources=",".join(SOURCES),
        targets=",".join(TARGETS),
    log:
        "logs/task_table.log",
    localrule: True
    shell:
        "tasktransfer task-table --meta {input.meta} --no-transfer {input.no_transfer} "
        "--sources {params.sources} --targets {params.targets} --out {output.table} > {log} 2>&1"


rule evaluate:
    input:
        gains="results/gains.tsv",
        no_transfer="results/no_transfer.tsv",
        rankings=ranking_files(),
    output:
        summary=report(
            "results/eval/summary.tsv",
            caption="../report/summary.rst",
            category="5. Evaluation",
            labels={"table": "methods: mean over targets"},
        ),
        per_target=report(
            "results/eval/per_target.tsv",
            caption="../report/per_target.rst",
            category="5. Evaluation",
            labels={"table": "methods: per target"},
        ),
        ranking=report(
            "results/eval/ranking_summary.tsv",
            caption="../report/ranking.rst",
            category="5. Evaluation",
            labels={"table": "ranking quality"},
        ),
        transfer="results/eval/transfer.tsv",
        no_transfer_scores="results/eval/no_transfer.tsv",
    params:
        ks=",".join(str(k) for k in config["selection"]["top_k"]),
        targets=",".join(TARGETS),
    log:
        "logs/evaluate.log",
    localrule: True
    shell:
        "tasktransfer evaluate-run --gains {input.gains} --no-transfer {input.no_transfer} "
        "--rankings {input.rankings} --targets {params.targets} --ks {params.ks} "
        "--out results/eval > {log} 2>&1"


rule figures:
    input:
        gains="results/gains.tsv",
        tasks="results/eval/tasks.tsv",
        summary="results/eval/summary.tsv",
        scorer="results/scorer/metrics.json",
    output:
        heatmap=report(
            "results/figures/heatmap.png",
            caption="../report/heatmap.rst",
            category="3. Transfer",
            labels={"figure": "gain heatmap"},
        ),
        scorer=report(
            "results/figures/scorer_held_out.png",
            caption="../report/scorer_held_out.rst",
            category="4. Scorer",
            labels={"figure": "predicted vs true gain"},
        ),
        methods=report(
            "results/figures/methods.png",
            caption="../report/methods.rst",
            category="5. Evaluation",
            labels={"figure": "mean gain by method"},
        ),
    log:
        "logs/figures.log",
    localrule: True
    shell:
        "tasktransfer figures --results results --tasks {input.tasks} --out results/figures > {log} 2>&1"
