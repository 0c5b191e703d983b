"""What a run found: gathered tables, uncertainty, the signal in the gains, evaluation, report, plots.

- :mod:`~tasktransfer.analysis.gather`: finished runs into long tables, seed means
- :mod:`~tasktransfer.analysis.uncertainty`: paired bootstrap intervals of gains
- :mod:`~tasktransfer.analysis.signal`: does the source move the gain more than noise does
- :mod:`~tasktransfer.analysis.signal_null`: variance shares beyond what noise gives (permutation null)
- :mod:`~tasktransfer.analysis.oracle`: brute force, in-sample and cross-fitted over seeds
- :mod:`~tasktransfer.analysis.evaluation`: ranking quality and picks against brute force
- :mod:`~tasktransfer.analysis.versus_baseline`: each method against cosine, with intervals over targets
- :mod:`~tasktransfer.analysis.report_tables`: the report's tables (TSV and HTML)
- :mod:`~tasktransfer.analysis.plots`: the report's figures
- :mod:`~tasktransfer.analysis.ablations`, ``ablation_plan``, ``ablation_plots``: the paper's analyses
"""

__all__ = [
    "ablation_plan",
    "ablation_plots",
    "ablations",
    "evaluation",
    "gather",
    "oracle",
    "plots",
    "report_tables",
    "signal",
    "signal_null",
    "uncertainty",
    "versus_baseline",
]
