"""The ``tasktransfer`` command line: a parser module, one module per command family, shared argument
helpers in :mod:`tasktransfer.cli.common`. Nothing in the package imports it."""

from tasktransfer.cli.main import main
from tasktransfer.cli.parser import build_parser

__all__ = ["build_parser", "main"]
