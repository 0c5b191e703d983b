"""What a run found: gathered tables, uncertainty, the signal in the gains, evaluation, report, plots.

- :mod:`~tasktransfer.analysis.gather`: finished runs into long tables, seed means
- :mod:`~tasktransfer.analysis.uncertainty`: paired bootstrap intervals of gains
- :mod:`~tasktransfer.analysis.learnability`: which tasks learn at the target-role size (r1 against a trivial baseline)
- :mod:`~tasktransfer.analysis.signal`: does the source move the gain more than noise does
- :mod:`~tasktransfer.analysis.signal_null`: variance shares beyond a permutation null with no source main effect
- :mod:`~tasktransfer.analysis.signal_report`: the signal stage's tables, sentence and figure
- :mod:`~tasktransfer.analysis.oracle`: brute force, in-sample and cross-fitted over seeds
- :mod:`~tasktransfer.analysis.evaluation`: ranking quality and picks against brute force
- :mod:`~tasktransfer.analysis.budget`: each method's best of top k, cross-fitted, against its job-seconds
- :mod:`~tasktransfer.analysis.budget_report`: the budget's tables, HTML view and figure
- :mod:`~tasktransfer.analysis.versus_baseline`: each method against cosine: t intervals over targets, Holm, the primary comparison
- :mod:`~tasktransfer.analysis.versus_report`: the comparisons, the headline and the design as tables and sentences
- :mod:`~tasktransfer.analysis.design_power`: variance components, split-half reliability and noise ceiling, power
- :mod:`~tasktransfer.analysis.report_tables`: the report's tables (TSV and HTML)
- :mod:`~tasktransfer.analysis.task_table`: the report's table of the run's tasks
- :mod:`~tasktransfer.analysis.plots`: the report's figures
- :mod:`~tasktransfer.analysis.ablations`: the paper's analyses as tables of a finished run
- :mod:`~tasktransfer.analysis.ablation_plan`: what the analyses need from a run, checked at planning
- :mod:`~tasktransfer.analysis.ablation_plots`: figures of the analyses
- :mod:`~tasktransfer.analysis.publish`: a finished run's transfer matrix as compact, self-describing tables
- :mod:`~tasktransfer.analysis.publish_inputs`: what publishing reads besides the tables: config, tasks' provenance, machine
- :mod:`~tasktransfer.analysis.publish_readme`: the published matrix's README, made from its data
- :mod:`~tasktransfer.analysis.publish_check`: check a published matrix: files as published, the design it claims
"""

__all__ = [
    "ablation_plan",
    "ablation_plots",
    "ablations",
    "budget",
    "budget_report",
    "design_power",
    "evaluation",
    "gather",
    "oracle",
    "plots",
    "publish",
    "publish_check",
    "report_tables",
    "signal",
    "signal_null",
    "uncertainty",
    "versus_baseline",
    "versus_report",
]
