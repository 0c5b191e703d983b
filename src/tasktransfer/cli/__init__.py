"""The ``tasktransfer`` command line: a parser module, one module per command family, shared argument
helpers. Nothing in the package imports it.

Each handler parses its arguments and calls one package function. Handlers import the package
inside their bodies, never at module level: every Snakemake job starts one ``tasktransfer``
process for one subcommand, and importing torch, transformers and pandas for all 30 of them
would cost each job seconds that most of them never need (``tasktransfer --help`` stays quick).

- :mod:`~tasktransfer.cli.main`: ``tasktransfer``: parse, run the subcommand, report a user error as one line
- :mod:`~tasktransfer.cli.parser`: the parser, one subcommand per workflow stage, registered by its family's module
- :mod:`~tasktransfer.cli.common`: argument types and argument groups the command modules share
- :mod:`~tasktransfer.cli.data_commands`: prepare, fetch, tasks-check, tasks-pin, tiny-backbone
- :mod:`~tasktransfer.cli.prompt_commands`: prompt-tune (r1), transfer (r2, gain), control-prompt
- :mod:`~tasktransfer.cli.gather_commands`: gains, no-transfer scores, gain intervals
- :mod:`~tasktransfer.cli.design_commands`: learnability, design-pairs (the scorer's pairs)
- :mod:`~tasktransfer.cli.affinity_commands`: train-scorer, features, rank, prior
- :mod:`~tasktransfer.cli.analysis_commands`: evaluate, evaluate-run, task-table, noise, signal, figures, novel-table
- :mod:`~tasktransfer.cli.pool_commands`: pool export, verify and install-*; rank --pool
- :mod:`~tasktransfer.cli.select_commands`: select (a ranking's top k, or rank-then-verify against a pool)
- :mod:`~tasktransfer.cli.ablation_commands`: the paper's analyses: fine-tuning, picks, a table and figure each
- :mod:`~tasktransfer.cli.publish_commands`: publish (a finished run's transfer matrix as compact tables)
"""

from tasktransfer.cli.main import main
from tasktransfer.cli.parser import build_parser

__all__ = ["build_parser", "main"]
