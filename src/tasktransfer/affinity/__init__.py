"""Choosing sources: which pairs to run, and the methods that rank a pool's sources for a target.

- :mod:`~tasktransfer.affinity.pairs`: the seeded, prefix-stable sample of scorer-training pairs
- :mod:`~tasktransfer.affinity.pair_design`: a balanced design of pairs under a budget (an integer program)
- :mod:`~tasktransfer.affinity.scorer`: the paper's affinity scorer s([P_t; P_s]) -> gain
- :mod:`~tasktransfer.affinity.similarity`: the six prompt-similarity baselines
- :mod:`~tasktransfer.affinity.source_prior`: each source's mean effect over other targets
- :mod:`~tasktransfer.affinity.logme`: LogME evidence of a target's labels on prompted features
- :mod:`~tasktransfer.affinity.selection`: every method's scores, as one ranking per target
"""

__all__ = ["logme", "pair_design", "pairs", "scorer", "selection", "similarity", "source_prior"]
