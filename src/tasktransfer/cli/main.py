"""``tasktransfer``: parse the command line, run the subcommand, report a user error as one line."""

from __future__ import annotations

import sys

from tasktransfer.cli.parser import build_parser
from tasktransfer.errors import TaskTransferError


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except TaskTransferError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
