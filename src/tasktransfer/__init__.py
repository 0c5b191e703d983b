"""Predict task transferability from soft prompts (after "Learning to Predict Task Transferability via Soft Prompt").

Subpackages, in the order imports flow (docs/architecture.md): :mod:`tasktransfer.data` (tasks and
their examples), :mod:`tasktransfer.prompting` (soft prompts on a frozen encoder),
:mod:`tasktransfer.affinity` (choosing sources), :mod:`tasktransfer.analysis` (what a run found),
:mod:`tasktransfer.pool` (shared prompt pools), :mod:`tasktransfer.cli` (the command line).

Top-level modules, below all of them:

- :mod:`~tasktransfer.errors`: errors that name the thing at fault and how to fix it
- :mod:`~tasktransfer.io`: atomic writes; safetensors artefacts with JSON metadata
- :mod:`~tasktransfer.folder_swap`: folders written whole, filled beside their place and swapped in
- :mod:`~tasktransfer.names`: the one strict pattern of every name that becomes a path or shell word
- :mod:`~tasktransfer.yaml_files`: YAML read safely and strictly (safe types, no key given twice)
- :mod:`~tasktransfer.configuration`: config values typed by the schema before it is validated
- :mod:`~tasktransfer.code_versions`: per-stage code versions (changed code reruns its stage only)
- :mod:`~tasktransfer.metrics`: task metrics and ranking metrics
- :mod:`~tasktransfer.bootstrap`: a gain's interval, the paired bootstrap over seeds and dev examples
- :mod:`~tasktransfer.score_sums`: task scores as sums of per-example statistics (the bootstrap's fast path)
- :mod:`~tasktransfer.runtime`: the running job: when it started, where it runs, its threads, its log line
- :mod:`~tasktransfer.run_layout`: the run's file layout (every path pattern under ``results/``) and
  the shared names: the control ``_control``, the method lists, the stages
"""

__version__ = "0.1.0"
