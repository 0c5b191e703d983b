"""Command-line arguments that the workflow's rules fill from wildcards."""

from __future__ import annotations

import pytest

from tasktransfer.cli.parser import build_parser


@pytest.mark.parametrize("command", [["prompt-tune", "--out-prompt", "p.safetensors"], ["transfer", "--source", "s",
                                     "--source-prompt", "p.safetensors", "--target-metrics", "m.json"]])  # fmt: skip
def test_max_train_takes_the_target_size_of_a_path(command):
    """target_tune and transfer pass their path's size wildcard: n128 -> 128, nall -> all."""
    base = [*command, "--data", "d", "--backbone", "b", "--out-metrics", "m.json"]
    parser = build_parser()
    assert parser.parse_args([*base, "--max-train", "128"]).max_train == 128
    assert parser.parse_args([*base, "--max-train", "all"]).max_train == 0  # the whole training set
    assert parser.parse_args(base).max_train == 0
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "--max-train", "many"])
