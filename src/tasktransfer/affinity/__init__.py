"""Choosing sources: which pairs to run, and the methods that rank a pool's sources for a target.

- :mod:`~tasktransfer.affinity.pairs`: the seeded, prefix-stable sample of scorer-training pairs
- :mod:`~tasktransfer.affinity.pair_design`: a balanced design of pairs under a budget (an integer program)
- :mod:`~tasktransfer.affinity.pair_plan`: a run's scorer pairs, sampled or designed, into learnable tasks if asked
- :mod:`~tasktransfer.affinity.scorer`: training the paper's affinity scorer s([P_t; P_s]) -> gain
- :mod:`~tasktransfer.affinity.scorer_spec`: the scorer's settings, its training pairs and their labels
- :mod:`~tasktransfer.affinity.scorer_model`: the scorer's model, built, loaded and applied
- :mod:`~tasktransfer.affinity.scorer_file`: a pool's compact scorer file: trained deltas at the width the rankings need
- :mod:`~tasktransfer.affinity.scorer_job`: the scorer's training job (its pairs, the fit, its files)
- :mod:`~tasktransfer.affinity.design_job`: the design job (learnable targets, costs, the design's table)
- :mod:`~tasktransfer.affinity.rank_job`: ranking a run's pool for one target by each method
- :mod:`~tasktransfer.affinity.similarity`: the six prompt-similarity baselines
- :mod:`~tasktransfer.affinity.source_prior`: each source's mean effect over other targets
- :mod:`~tasktransfer.affinity.logme`: LogME, the log maximum evidence of a linear model on frozen features
- :mod:`~tasktransfer.affinity.logme_features`: the feature rows each source's prompt gives the frozen backbone, scored per source
- :mod:`~tasktransfer.affinity.transferability`: LogME, H-score and a kNN probe of a target's labels on those rows
- :mod:`~tasktransfer.affinity.pair_features`: features of a pair that need no transfer (prompt cosines, LogME)
- :mod:`~tasktransfer.affinity.features_job`: the pair-features job (one target, every source's prompt)
- :mod:`~tasktransfer.affinity.feature_ranker`: a small learned ranker over pair features, falling back to cosine
- :mod:`~tasktransfer.affinity.selection`: every method's scores, as one ranking per target
"""

__all__ = ["logme", "pair_design", "pairs", "scorer", "selection", "similarity", "source_prior"]
