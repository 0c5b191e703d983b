"""publish: a finished run's transfer matrix as compact, self-describing tables in one folder.
Thin over :func:`tasktransfer.analysis.publish.publish_run`."""

from __future__ import annotations

import argparse


def cmd_publish(a: argparse.Namespace) -> None:
    from tasktransfer.analysis.publish import MAX_BYTES, publish_run

    max_bytes = MAX_BYTES if a.max_mb is None else int(a.max_mb * 1e6)
    sizes = publish_run(a.results, a.out, config_file=a.config, config_json=a.config_json, registry=a.registry,
                        max_bytes=max_bytes)
    for name, size in sizes.items():
        print(f"{size:>10,}  {name}")


def add_commands(sub) -> None:
    """Register this family's subcommand: publish."""
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
