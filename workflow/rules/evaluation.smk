# Stage 6: judge every method against brute force; tables and figures for the report.


rule task_table:
    input:
        meta=[meta_file(t) for t in TASKS],
        no_transfer=layout.NO_TRANSFER,
        pool=layout.POOL_SCORES,
    output:
        table=report(
            "results/eval/tasks.tsv",
            caption="../report/tasks.rst",
            category="1. Data",
            labels={"item": "tasks", "type": "TSV"},
        ),
        html=report(
            "results/eval/tasks.html",
            caption="../report/tasks.rst",
            category="1. Data",
            labels={"item": "tasks", "type": "table"},
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
        code=CODE["evaluate"],
    shell:
        "tasktransfer task-table --meta {input.meta:q} --no-transfer {input.no_transfer:q} "
        "--pool-scores {input.pool:q} --types {params.types:q} --target-train {params.target_train:q} "
        "--sources {params.sources:q} --targets={params.targets:q} --novel={params.novel:q} "
        "--out {output.table:q} --out-html {output.html:q} > {log:q} 2>&1"


rule evaluate:
    input:
        gains=gains_file("target_pairs"),
        no_transfer=layout.NO_TRANSFER,
        rankings=ranking_files(),
    output:
        table1=report(
            "results/eval/table1.tsv",
            caption="../report/table1.rst",
            category="5. Evaluation",
            subcategory="1. Methods against brute force",
            labels={"item": "Table 1: target score by method", "type": "TSV"},
        ),
        table1_html=report(
            "results/eval/table1.html",
            caption="../report/table1.rst",
            category="5. Evaluation",
            subcategory="1. Methods against brute force",
            labels={"item": "Table 1: target score by method", "type": "table"},
        ),
        table2=report(
            "results/eval/table2.tsv",
            caption="../report/table2.rst",
            category="5. Evaluation",
            subcategory="1. Methods against brute force",
            labels={"item": "Table 2: ranking quality", "type": "TSV"},
        ),
        table2_html=report(
            "results/eval/table2.html",
            caption="../report/table2.rst",
            category="5. Evaluation",
            subcategory="1. Methods against brute force",
            labels={"item": "Table 2: ranking quality", "type": "table"},
        ),
        summary=report(
            "results/eval/summary.tsv",
            caption="../report/summary.rst",
            category="5. Evaluation",
            subcategory="1. Methods against brute force",
            labels={"item": "methods: mean over targets", "type": "TSV"},
        ),
        per_target=report(
            "results/eval/per_target.tsv",
            caption="../report/per_target.rst",
            category="5. Evaluation",
            subcategory="1. Methods against brute force",
            labels={"item": "methods: per target", "type": "TSV"},
        ),
        ranking=report(
            "results/eval/ranking_summary.tsv",
            caption="../report/ranking.rst",
            category="5. Evaluation",
            subcategory="1. Methods against brute force",
            labels={"item": "ranking quality per method", "type": "TSV"},
        ),
        intervals=report(
            "results/eval/intervals.tsv",
            caption="../report/intervals.rst",
            category="5. Evaluation",
            subcategory="1. Methods against brute force",
            labels={"item": "every method with intervals", "type": "TSV"},
        ),
        intervals_html=report(
            "results/eval/intervals.html",
            caption="../report/intervals.rst",
            category="5. Evaluation",
            subcategory="1. Methods against brute force",
            labels={"item": "every method with intervals", "type": "table"},
        ),
        versus=report(
            "results/eval/versus_cosine.tsv",
            caption="../report/versus_cosine.rst",
            category="5. Evaluation",
            subcategory="0. Headline",
            labels={"item": "every method against cosine_mean", "type": "TSV"},
        ),
        versus_html=report(
            "results/eval/versus_cosine.html",
            caption="../report/versus_cosine.rst",
            category="5. Evaluation",
            subcategory="0. Headline",
            labels={"item": "every method against cosine_mean", "type": "table"},
        ),
        # the evaluation's first item: one sentence, does a learned method beat cosine_mean
        headline=report(
            "results/eval/headline.html",
            caption="../report/headline.rst",
            category="5. Evaluation",
            subcategory="0. Headline",
            labels={
                "item": "do the learned methods beat cosine_mean?",
                "type": "table",
            },
        ),
        headline_text="results/eval/headline.txt",
        transfer="results/eval/transfer.tsv",
        no_transfer_scores="results/eval/no_transfer.tsv",
        per_seed="results/eval/per_seed.tsv",
    log:
        "logs/evaluate.log",
    localrule: True
    conda:
        "../../envs/tasktransfer.yaml"
    params:
        ks=",".join(str(k) for k in config["selection"]["top_k"]),
        targets=",".join(TARGETS),
        level=config["uncertainty"]["level"],
        code=CODE["evaluate"],
    shell:
        "tasktransfer evaluate-run --gains {input.gains:q} --no-transfer {input.no_transfer:q} "
        "--rankings {input.rankings:q} --targets={params.targets:q} --ks {params.ks:q} "
        "--level {params.level:q} --out results/eval > {log:q} 2>&1"


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
        heatmap=report(
            "results/figures/heatmap.png",
            caption="../report/heatmap.rst",
            category="3. Transfer",
            labels={"item": "gain heatmap", "type": "figure"},
        ),
        by_target=report(
            "results/figures/gains_by_target.png",
            caption="../report/gains_by_target.rst",
            category="3. Transfer",
            labels={"item": "gains per target by source type", "type": "figure"},
        ),
        embeddings=report(
            "results/figures/embeddings.png",
            caption="../report/embeddings.rst",
            category="2. Prompt pool",
            labels={"item": "task embeddings (PCA)", "type": "figure"},
        ),
        scorer=report(
            "results/figures/scorer_held_out.png",
            caption="../report/scorer_held_out.rst",
            category="4. Scorer",
            labels={"item": "scorer: predicted vs true gain", "type": "figure"},
        ),
        methods=report(
            "results/figures/methods.png",
            caption="../report/methods.rst",
            category="5. Evaluation",
            subcategory="1. Methods against brute force",
            labels={"item": "mean gain by method", "type": "figure"},
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
        table=report(
            "results/eval/novel.tsv",
            caption="../report/novel.rst",
            category="5. Evaluation",
            subcategory="1. Methods against brute force",
            labels={
                "item": "novel targets: scorer ranking and top-k transfer",
                "type": "TSV",
            },
        ),
        html=report(
            "results/eval/novel.html",
            caption="../report/novel.rst",
            category="5. Evaluation",
            subcategory="1. Methods against brute force",
            labels={
                "item": "novel targets: scorer ranking and top-k transfer",
                "type": "table",
            },
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
        table=report(
            "results/eval/noise.tsv",
            caption="../report/noise.rst",
            category="5. Evaluation",
            subcategory="1. Methods against brute force",
            labels={
                "item": "gains with intervals, over no transfer and over the control",
                "type": "TSV",
            },
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
        shares=report(
            "results/eval/signal.tsv",
            caption="../report/signal.rst",
            category="5. Evaluation",
            subcategory="0. Signal",
            labels={
                "item": "source, target and residual shares of gain variance",
                "type": "TSV",
            },
        ),
        html=report(
            "results/eval/signal.html",
            caption="../report/signal.rst",
            category="5. Evaluation",
            subcategory="0. Signal",
            labels={
                "item": "does the source matter more than seed noise?",
                "type": "table",
            },
        ),
        figure=report(
            "results/figures/signal.png",
            caption="../report/signal.rst",
            category="5. Evaluation",
            subcategory="0. Signal",
            labels={
                "item": "source choice against seed noise, per target",
                "type": "figure",
            },
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
