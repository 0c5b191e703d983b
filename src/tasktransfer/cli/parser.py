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
    publish_commands,
    select_commands,
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
    select_commands,
    ablation_commands,
    analysis_commands,
    publish_commands,
)


class _Parser(argparse.ArgumentParser):
    """``@FILE`` (one path a line) stands for the values of a flag that takes many, as the rules pass
    thousands of run files (``--transfer-metrics @list``); anywhere else an ``@`` is a plain
    character, so ``--task @data.csv`` ranks the file of that name instead of reading arguments
    out of it."""

    #: option strings whose values an @FILE may give (filled by build_parser)
    many: frozenset[str] = frozenset()

    def _read_args_from_files(self, arg_strings: list[str]) -> list[str]:
        out, in_values = [], False
        for arg in arg_strings:
            if arg.startswith("-"):
                in_values = arg.split("=", 1)[0] in self.many
            elif arg.startswith("@") and in_values:
                out += super()._read_args_from_files([arg])
                continue
            out.append(arg)
        return out


def _many_valued(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string, in every subcommand, that takes a list of values."""
    found = set()
    for action in parser._actions:
        if action.nargs in ("+", "*"):
            found.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found |= _many_valued(child)
    return found


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="tasktransfer", description=DESCRIPTION, fromfile_prefix_chars="@")
    sub = p.add_subparsers(dest="command", required=True)
    for family in FAMILIES:
        family.add_commands(sub)
    p.many = frozenset(_many_valued(p))
    return p
