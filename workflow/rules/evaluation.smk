# Stage 6: judge every method against brute force; tables and figures for the report.


rule task_table:
    input:
        meta=[meta_file(t) for t in TASKS],
        no_transfer=layout.NO_TRANSFER,
        pool=layout.POOL_SCORES,
    output:
        **report_items(
            "tasks",
            "1. Data",
            "tasks",
            table="results/eval/tasks.tsv",
            html="results/eval/tasks.html",
        ),
    log:
        "logs/task_table.log",
    localrule: True
    conda:
        "../../envs/tasktransfer.yaml"
    params:
        sources=",".join(SOURCES),
        targets=",".join(TARGETS),
        novel=",".join(NOVEL),
        # the registry's labels: editing one reruns this table and the figures, nothing else
        types=as_json({t: REGISTRY[t].type for t in TASKS}),
        target_train=config["data"].get("target_train") or 0,
        # tasks tuned at a size of their own as targets (data.target_train_per_task)
        target_sizes=(["--target-sizes", as_json(TASK_SIZES)] if TASK_SIZES else []),
        code=CODE["evaluate"],
    shell:
        "tasktransfer task-table --meta {input.meta:q} --no-transfer {input.no_transfer:q} "
        "--pool-scores {input.pool:q} --types {params.types:q} --target-train {params.target_train:q} "
        "{params.target_sizes:q} "
        "--sources {params.sources:q} --targets={params.targets:q} --novel={params.novel:q} "
        "--out {output.table:q} --out-html {output.html:q} > {log:q} 2>&1"


rule evaluate:
    input:
        gains=gains_file("target_pairs"),
        no_transfer=layout.NO_TRANSFER,
        rankings=ranking_files(),
        # the judged pairs' runs: the job-seconds of the transfer budget
        runs=file_list("target_pairs"),
    output:
        **report_items(
            "table1",
            "5. Evaluation",
            "Table 1: target score by method",
            subcategory="1. Methods against brute force",
            table1="results/eval/table1.tsv",
            table1_html="results/eval/table1.html",
        ),
        **report_items(
            "table2",
            "5. Evaluation",
            "Table 2: ranking quality",
            subcategory="1. Methods against brute force",
            table2="results/eval/table2.tsv",
            table2_html="results/eval/table2.html",
        ),
        **report_items(
            "summary",
            "5. Evaluation",
            "methods: mean over targets",
            subcategory="1. Methods against brute force",
            summary="results/eval/summary.tsv",
        ),
        **report_items(
            "per_target",
            "5. Evaluation",
            "methods: per target",
            subcategory="1. Methods against brute force",
            per_target="results/eval/per_target.tsv",
        ),
        **report_items(
            "ranking",
            "5. Evaluation",
            "ranking quality per method",
            subcategory="1. Methods against brute force",
            ranking="results/eval/ranking_summary.tsv",
        ),
        **report_items(
            "intervals",
            "5. Evaluation",
            "every method with intervals",
            subcategory="1. Methods against brute force",
            intervals="results/eval/intervals.tsv",
            intervals_html="results/eval/intervals.html",
        ),
        **report_items(
            "versus_cosine",
            "5. Evaluation",
            "every method against cosine_mean",
            subcategory="0. Headline",
            versus="results/eval/versus_cosine.tsv",
            versus_html="results/eval/versus_cosine.html",
        ),
        # the evaluation's first item: one sentence, does a learned method beat cosine_mean
        **report_items(
            "headline",
            "5. Evaluation",
            "do the learned methods beat cosine_mean?",
            subcategory="0. Headline",
            headline="results/eval/headline.html",
        ),
        # what the design can tell apart: the ranking's noise ceiling per target, the power
        **report_items(
            "design",
            "5. Evaluation",
            "noise ceiling and power of the design",
            subcategory="3. Design and power",
            noise_ceiling=layout.NOISE_CEILING,
            design_html=layout.DESIGN_HTML,
        ),
        **report_items(
            "design",
            "5. Evaluation",
            "variance components of the gain",
            subcategory="3. Design and power",
            components=layout.VARIANCE_COMPONENTS,
        ),
        # each method's best of top k, cross-fitted, against the job-seconds of its k transfers
        **report_items(
            "budget",
            "5. Evaluation",
            "best of top k, cross-fitted, against the transfer budget",
            subcategory="2. Transfer budget",
            budget_summary=layout.BUDGET_SUMMARY,
            budget_html=layout.BUDGET_HTML,
        ),
        **report_items(
            "budget",
            "5. Evaluation",
            "gain of the source kept against the transfer budget",
            subcategory="2. Transfer budget",
            budget_figure=layout.BUDGET_FIGURE,
        ),
        **report_items(
            "budget",
            "5. Evaluation",
            "best of top k per target",
            subcategory="2. Transfer budget",
            budget=layout.BUDGET,
        ),
        headline_text="results/eval/headline.txt",
        transfer="results/eval/transfer.tsv",
        no_transfer_scores="results/eval/no_transfer.tsv",
        per_seed="results/eval/per_seed.tsv",
        # ranking quality per target (ranking_summary.tsv holds its means per method)
        ranking_per_target="results/eval/ranking.tsv",
    log:
        "logs/evaluate.log",
    localrule: True
    conda:
        "../../envs/tasktransfer.yaml"
    params:
        ks=",".join(str(k) for k in config["selection"]["top_k"]),
        targets=",".join(TARGETS),
        level=config["uncertainty"]["level"],
        # the primary comparison, named before the run
        primary=config["selection"]["primary"]["method"],
        primary_baseline=config["selection"]["primary"]["baseline"],
        primary_metric=config["selection"]["primary"]["metric"],
        code=CODE["evaluate"],
    shell:
        "tasktransfer evaluate-run --gains {input.gains:q} --no-transfer {input.no_transfer:q} "
        "--rankings {input.rankings:q} --targets={params.targets:q} --ks {params.ks:q} "
        "--level {params.level:q} --primary {params.primary:q} "
        "--primary-baseline {params.primary_baseline:q} --primary-metric {params.primary_metric:q} "
        "--transfer-metrics @{input.runs:q} "
        "--budget-figure {output.budget_figure:q} --out results/eval > {log:q} 2>&1"


rule figures:
    input:
        scorer_pairs=gains_file("scorer_pairs"),
        target_pairs=gains_file("target_pairs"),
        intervals=layout.GAIN_INTERVALS,
        tasks="results/eval/tasks.tsv",
        summary="results/eval/summary.tsv",
        scorer=layout.SCORER_METRICS,
        prompts=embedding_prompts(),
    output:
        **report_items(
            "heatmap",
            "3. Transfer",
            "gain heatmap",
            heatmap="results/figures/heatmap.png",
        ),
        **report_items(
            "gains_by_target",
            "3. Transfer",
            "gains per target by source type",
            by_target="results/figures/gains_by_target.png",
        ),
        **report_items(
            "embeddings",
            "2. Prompt pool",
            "task embeddings (PCA)",
            embeddings="results/figures/embeddings.png",
        ),
        **report_items(
            "scorer_held_out",
            "4. Scorer",
            "scorer: predicted vs true gain",
            scorer="results/figures/scorer_held_out.png",
        ),
        **report_items(
            "methods",
            "5. Evaluation",
            "mean gain by method",
            subcategory="1. Methods against brute force",
            methods="results/figures/methods.png",
        ),
    log:
        "logs/figures.log",
    localrule: True
    conda:
        "../../envs/tasktransfer.yaml"
    params:
        code=CODE["evaluate"],
    shell:
        "tasktransfer figures --gains {input.scorer_pairs:q} {input.target_pairs:q} "
        "--intervals {input.intervals:q} --tasks {input.tasks:q} --summary {input.summary:q} "
        "--scorer-metrics {input.scorer:q} --prompt-files {input.prompts:q} "
        "--out results/figures > {log:q} 2>&1"


rule novel_table:
    input:
        selected=expand(layout.NOVEL_SELECTED, target=NOVEL),
        rankings=expand(
            layout.RANKING,
            method=NOVEL_METHODS,
            target=NOVEL,
        ),
        transfers=novel_transfer_metrics,
    output:
        **report_items(
            "novel",
            "5. Evaluation",
            "novel targets: scorer ranking and top-k transfer",
            subcategory="1. Methods against brute force",
            table="results/eval/novel.tsv",
            html="results/eval/novel.html",
        ),
    log:
        "logs/novel_table.log",
    localrule: True
    conda:
        "../../envs/tasktransfer.yaml"
    shell:
        "tasktransfer novel-table --rankings {input.rankings:q} --selected {input.selected:q} "
        "--transfer-metrics {input.transfers:q} --out {output.table:q} --out-html {output.html:q} > {log:q} 2>&1"


rule noise:
    input:
        per_target="results/eval/per_target.tsv",
        intervals=layout.GAIN_INTERVALS,
    output:
        **report_items(
            "noise",
            "5. Evaluation",
            "gains with intervals, over no transfer and over the control",
            subcategory="1. Methods against brute force",
            table="results/eval/noise.tsv",
        ),
    log:
        "logs/noise.log",
    localrule: True
    conda:
        "../../envs/tasktransfer.yaml"
    params:
        level=config["uncertainty"]["level"],
        code=CODE["evaluate"],
    shell:
        "tasktransfer noise --per-target {input.per_target:q} --intervals {input.intervals:q} "
        "--level {params.level:q} --out {output.table:q} > {log:q} 2>&1"


rule signal:
    input:
        scorer_pairs=gains_file("scorer_pairs"),
        target_pairs=gains_file("target_pairs"),
        no_transfer=layout.NO_TRANSFER,
    output:
        **report_items(
            "signal",
            "5. Evaluation",
            "source, target and residual shares of gain variance",
            subcategory="0. Signal",
            shares="results/eval/signal.tsv",
        ),
        **report_items(
            "signal",
            "5. Evaluation",
            "does the source matter more than seed noise?",
            subcategory="0. Signal",
            html="results/eval/signal.html",
        ),
        **report_items(
            "signal",
            "5. Evaluation",
            "source choice against seed noise, per target",
            subcategory="0. Signal",
            figure="results/figures/signal.png",
        ),
        targets="results/eval/signal_targets.tsv",
        sentence="results/eval/signal.txt",
    log:
        "logs/signal.log",
    localrule: True
    conda:
        "../../envs/tasktransfer.yaml"
    params:
        code=CODE["evaluate"],
    shell:
        "tasktransfer signal --gains {input.scorer_pairs:q} {input.target_pairs:q} "
        "--no-transfer {input.no_transfer:q} --out results/eval --figure {output.figure:q} > {log:q} 2>&1"
