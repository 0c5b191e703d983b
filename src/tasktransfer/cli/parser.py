"""The ``tasktransfer`` parser: one subcommand per workflow stage, registered by its family's module."""

from __future__ import annotations

import argparse

from tasktransfer.cli import (
    ablation_commands,
    affinity_commands,
    analysis_commands,
    data_commands,
    design_commands,
    gather_commands,
    pool_commands,
    prompt_commands,
)

DESCRIPTION = """Command line: one subcommand per workflow stage, thin over the package.

Every subcommand writes its outputs atomically and reports user errors as one line (exit 2).
"""

#: in the order `tasktransfer --help` lists them: the workflow's stages, then shared pools, then analyses
FAMILIES = (
    data_commands,
    prompt_commands,
    gather_commands,
    affinity_commands,
    design_commands,
    pool_commands,
    ablation_commands,
    analysis_commands,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tasktransfer", description=DESCRIPTION, fromfile_prefix_chars="@")
    sub = p.add_subparsers(dest="command", required=True)
    for family in FAMILIES:
        family.add_commands(sub)
    return p
