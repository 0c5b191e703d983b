"""publish: a finished run's transfer matrix as compact, self-describing tables in one folder;
check-matrix: is a published folder the one that was published, with the design it claims.
Thin over :func:`tasktransfer.analysis.publish.publish_run` and
:func:`tasktransfer.analysis.publish_check.check_matrix`."""

from __future__ import annotations

import argparse


def cmd_publish(a: argparse.Namespace) -> None:
    from tasktransfer.analysis.publish import MAX_BYTES, publish_run

    max_bytes = MAX_BYTES if a.max_mb is None else int(a.max_mb * 1e6)
    sizes = publish_run(a.results, a.out, config_file=a.config, config_json=a.config_json, registry=a.registry,
                        max_bytes=max_bytes)
    for name, size in sizes.items():
        print(f"{size:>10,}  {name}")
    _print_check(a.out)


def _print_check(folder: str) -> None:
    from tasktransfer.analysis.publish_check import check_matrix

    m = check_matrix(folder)
    low, high = m.sources_per_target
    sources = f"{low}" if low == high else f"{low} to {high}"
    print(f"{folder}: intact (every file's sha256 as published); {m.targets} held-out targets, {sources} sources "
          f"each, seeds {', '.join(map(str, m.seeds))} on every held-out pair, {m.transfer_runs} transfer runs, "
          f"{len(m.methods)} methods")


def cmd_check_matrix(a: argparse.Namespace) -> None:
    _print_check(a.matrix)


def add_commands(sub) -> None:
    """Register this family's subcommands: publish, check-matrix."""
    s = sub.add_parser(
        "publish",
        help="a finished run's transfer matrix as compact tables with a README (r1, r2, gain; features, "
             "every method's score; the design; tasks' provenance), re-scorable with `tasktransfer evaluate`",
    )
    s.add_argument("--results", required=True, help="the finished run's results folder")
    config = s.add_mutually_exclusive_group(required=True)
    config.add_argument("--config", help="the run's config file (YAML), as given to snakemake")
    config.add_argument("--config-json", help="the run's effective config as JSON (the workflow passes its own)")
    s.add_argument("--registry", help="the run's task registry (default: the config's tasks_registry, here or "
                                      "in the run's folder)")
    s.add_argument("--out", required=True, help="a new folder, or one an earlier publish wrote (replaced whole)")
    s.add_argument("--max-mb", type=float, default=None,
                   help="refuse to publish more than this many megabytes (10^6 bytes; default 20, the issue's bound)")
    s.set_defaults(func=cmd_publish)
    c = sub.add_parser(
        "check-matrix",
        help="check a published matrix folder: every file as published (sha256), nothing added, every held-out "
             "pair on every seed, gains = r2 - r1; prints what it holds",
    )
    c.add_argument("matrix", help="the folder `tasktransfer publish` wrote (it holds provenance.json)")
    c.set_defaults(func=cmd_check_matrix)
