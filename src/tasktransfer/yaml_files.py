"""Reading YAML safely and strictly: safe types only, and a key given twice is an error.

PyYAML's ``safe_load`` keeps the last of two equal keys silently, so a registry entry or a
config key written twice would win without a word. Every YAML file the package reads goes
through :func:`load_yaml_file` (task registries, configs, the config schema).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tasktransfer.errors import ConfigError


class StrictSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping with a key given twice."""

    def construct_mapping(self, node, deep=False):  # noqa: ANN001 - PyYAML's signature
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    continue  # the base class reports an unhashable key
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"key {key!r} is given twice (first on line {seen[key].start_mark.line + 1}); keep one",
                        key_node.start_mark,
                    )
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def load_yaml_text(text: str, where: str) -> Any:
    """Parse YAML ``text`` (from ``where``, named in errors) strictly."""
    try:
        return yaml.load(text, Loader=StrictSafeLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        raise ConfigError(f"{where} is not valid YAML: {' '.join(str(err).split())}") from err


def load_yaml_file(path: str | Path, what: str = "YAML file") -> Any:
    """Read a YAML file strictly; a missing, unreadable or invalid file is one :class:`ConfigError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise ConfigError(f"{what} {path} does not exist; check the path") from err
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{what} {path} cannot be read ({err}); save it as UTF-8 text") from err
    return load_yaml_text(text, f"{what} {path}")
