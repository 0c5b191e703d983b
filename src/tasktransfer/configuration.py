"""Config values typed by the config schema before it is validated.

Snakemake parses ``--config key=value`` with YAML's base loader whenever the value is a list or a
mapping, so every item arrives as a string: ``--config seeds=[0,1]`` gives ``["0", "1"]``, and
``--config 'scorer={lrs: [1e-5]}'`` gives ``{"lrs": ["1e-5"]}``; the schema then rejects them.
:func:`coerce_config` walks the config beside the schema and turns such strings into the
integer, number or boolean the schema asks for at that place. Where the schema does not say
(``prompt_overrides``: free per-task mappings of ``prompt`` keys) a string that reads as a
number or a boolean becomes one. A string that does not parse is left alone, so validation
still reports it, naming the key; values that are not strings are never touched.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

_INT = re.compile(r"[-+]?\d+")
_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_BOOL = {"true": True, "false": False}


def _as_int(text: str) -> Any:
    return int(text) if _INT.fullmatch(text.strip()) else text


def _as_number(text: str) -> Any:
    t = text.strip()
    if _INT.fullmatch(t):
        return int(t)
    return float(t) if _FLOAT.fullmatch(t) else text


def _as_bool(text: str) -> Any:
    return _BOOL.get(text.strip().lower(), text)


def _untyped(text: str) -> Any:
    for parse in (_as_number, _as_bool):
        value = parse(text)
        if value is not text:
            return value
    return text


def coerce(value: Any, schema: Any) -> Any:
    """``value`` with its strings typed as ``schema`` (a JSON schema as a dict) says."""
    if not isinstance(schema, dict):
        schema = {}
    types = schema.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    if isinstance(value, str):
        if not types and not schema.get("properties") and "items" not in schema:
            return _untyped(value)
        for kind, parse in (("integer", _as_int), ("number", _as_number), ("boolean", _as_bool)):
            if kind in types and "string" not in types:
                parsed = parse(value)
                if parsed is not value:
                    return parsed
        return value
    if isinstance(value, list):
        return [coerce(item, schema.get("items", {})) for item in value]
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties", True)
        out = {}
        for key, item in value.items():
            if key in properties:
                out[key] = coerce(item, properties[key])
            elif extra is False:
                out[key] = item  # an unknown key: validation names it
            else:  # free-form: typed by ``additionalProperties`` if it says how, else untyped
                out[key] = coerce(item, extra if isinstance(extra, dict) and not _is_bare_object(extra) else {})
        return out
    return value


def _is_bare_object(schema: dict) -> bool:
    """``{type: object}`` and nothing more: says nothing about the values inside."""
    return not schema.get("properties") and "additionalProperties" not in schema


def coerce_config(config: dict, schema_path: str | Path) -> dict:
    """Type ``config``'s command-line strings by the schema at ``schema_path``, in place."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    typed = coerce(dict(config), schema)
    config.clear()
    config.update(typed)
    return config


#: the key by which a YAML file asks Snakemake for YTE templating (its ``?expressions`` are Python)
YTE_KEY = "__use_yte__"


def check_config_files(paths: list[str | Path]) -> None:
    """Configs are data: each config file the workflow read is read again strictly, and a key given
    twice (YAML and JSON keep the last silently) or a request for templating is refused, in one
    line naming the file.

    Snakemake itself evaluates a file's YTE expressions when it loads the file, before a workflow
    can see it: a templated config is code to Snakemake (docs/trust.md). This workflow refuses such
    a file, so one passed along with a study stops at once instead of being used.
    """
    from tasktransfer.errors import ConfigError
    from tasktransfer.yaml_files import load_yaml_file

    for path in paths:
        loaded = load_yaml_file(path, "config")  # a key given twice: one ConfigError naming both lines
        if isinstance(loaded, dict) and YTE_KEY in loaded:
            raise ConfigError(
                f"config {path} asks for YTE templating ({YTE_KEY}): Snakemake runs its ?expressions as Python "
                "when it reads the file, and this workflow takes configs as plain data; write the values out "
                "and remove the key (docs/trust.md, 'Configs are data')"
            )
