"""`--config` on the command line: Snakemake hands list and mapping items over as strings; the
Snakefile types them by the schema (configuration.coerce) before validating."""

from __future__ import annotations

import yaml

from conftest import REPO
from tasktransfer.configuration import coerce, coerce_config

SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())


def test_strings_become_what_the_schema_asks_for():
    # what snakemake's parse_config gives for --config seeds=[0,1] scorer='{lrs: [1e-5, 2e-5], folds: 3}' ...
    cli = {
        "seeds": ["0", "1"],
        "scorer": {"lrs": ["1e-5", "2e-5"], "folds": "3", "beta": "1"},
        "data": {"max_train": "100", "dev_fraction": "0.25"},
        "sources": ["123", "animal_a"],  # task names are strings, even digit-only ones
        "prompt": {"pooling": "mean", "precision": "bf16"},
        "prompt_overrides": {"rte": {"lrs": ["0.003"], "epochs": "2", "pooling": "cls"}},
    }
    typed = coerce(cli, SCHEMA)
    assert typed["seeds"] == [0, 1] and all(type(s) is int for s in typed["seeds"])
    assert typed["scorer"] == {"lrs": [1e-5, 2e-5], "folds": 3, "beta": 1}
    assert typed["data"] == {"max_train": 100, "dev_fraction": 0.25}
    assert typed["sources"] == ["123", "animal_a"]
    assert typed["prompt"] == {"pooling": "mean", "precision": "bf16"}
    # prompt_overrides' values are free in the schema: numbers-looking strings become numbers
    assert typed["prompt_overrides"] == {"rte": {"lrs": [0.003], "epochs": 2, "pooling": "cls"}}


def test_what_does_not_parse_is_left_for_validation_to_name():
    typed = coerce({"seeds": ["0", "one"], "pairs": {"m": "many"}, "unknown_key": "1"}, SCHEMA)
    assert typed == {"seeds": [0, "one"], "pairs": {"m": "many"}, "unknown_key": "1"}


def test_coerce_config_works_in_place(tmp_path):
    config = {"seeds": ["2"], "pairs": {"m": 5}}
    same = config
    coerce_config(config, REPO / "workflow" / "schemas" / "config.schema.yaml")
    assert same is config and config == {"seeds": [2], "pairs": {"m": 5}}
