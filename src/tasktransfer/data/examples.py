"""Canonical examples: the cleaning every corpus reader applies before a task's split.

Every reader returns ``{"all": [...]}`` (``prepare`` splits it) or ``{"train": [...], "dev": [...]}``
of canonical examples:

- classification / regression: ``{"text", "label"}`` or ``{"text", "text_pair", "label"}``
  (labels as strings; regression labels as floats)
- multiple_choice: ``{"text", "choices", "label"}`` with ``label`` the index of the right choice
- tagging: ``{"tokens", "tags"}``

Whitespace inside texts is collapsed, empty texts are dropped and repeated inputs are kept once
(the first), so a duplicated tweet can never land in both train and dev.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tasktransfer.errors import TaskError

if TYPE_CHECKING:  # the registry imports the readers: a type-only import keeps that one way
    from tasktransfer.data.task_spec import TaskSpec


def clean_text(text: Any) -> str:
    return " ".join(str(text).split())


def cap_text(text: str, max_chars: int | None) -> str:
    """Cut a long document at a word boundary; the backbone reads only its first tokens anyway."""
    if not max_chars or len(text) <= max_chars:
        return text
    head = text[:max_chars]
    return head.rsplit(" ", 1)[0] if " " in head else head


def decode(raw: bytes, encoding: str = "utf-8") -> str:
    """Bytes as text; UTF-8 drops a byte-order mark."""
    return raw.decode("utf-8-sig") if encoding.lower().replace("-", "") == "utf8" else raw.decode(encoding)


def csv_rows(text: str, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


#: the keys of a canonical example that are its answer, not its input
LABEL_KEYS = ("label", "tags")


def input_key(example: dict) -> str:
    """An example's input (everything but its label or tags) as one string: equal inputs, equal keys."""
    return json.dumps({k: v for k, v in example.items() if k not in LABEL_KEYS}, sort_keys=True)


def dedupe(examples: Iterable[dict]) -> list[dict]:
    """Keep the first example of each distinct input (labels aside)."""
    seen: set[str] = set()
    kept = []
    for ex in examples:
        key = input_key(ex)
        if key not in seen:
            seen.add(key)
            kept.append(ex)
    return kept


def clean_examples(spec: TaskSpec, examples: Iterable[dict], default_max_chars: int | None = None) -> list[dict]:
    """Clean and cap texts, drop empty ones and repeats; refuse an empty result."""
    max_chars = spec.source.get("max_chars", default_max_chars)
    out = []
    for ex in examples:
        ex = dict(ex)
        for key in ("text", "text_pair"):
            if key in ex:
                ex[key] = cap_text(clean_text(ex[key]), max_chars)
        if "text" in ex and not ex["text"]:
            continue
        if "tokens" in ex and not ex["tokens"]:
            continue
        out.append(ex)
    out = dedupe(out)
    if not out:
        raise TaskError(spec.name, "source", f"the {spec.kind} source yielded no examples; check its fields")
    return out


def finish(spec: TaskSpec, examples: Iterable[dict], default_max_chars: int | None = None) -> dict[str, list[dict]]:
    """One pool of cleaned examples, for ``prepare`` to split."""
    return {"all": clean_examples(spec, examples, default_max_chars)}


def finish_split(spec: TaskSpec, train: Iterable[dict], dev: Iterable[dict]) -> dict[str, list[dict]]:
    """Upstream train and dev splits, each cleaned; a dev input that is also in train is dropped
    from dev (some corpora repeat items across their splits)."""
    kept_train = clean_examples(spec, train)
    seen = {input_key(ex) for ex in kept_train}
    kept_dev = [ex for ex in clean_examples(spec, dev) if input_key(ex) not in seen]
    if not kept_dev:
        raise TaskError(spec.name, "dev", "every dev example is also in train; check the split files")
    return {"train": kept_train, "dev": kept_dev}


def require_format(spec: TaskSpec, allowed: tuple[str, ...]) -> None:
    if spec.format not in allowed:
        raise TaskError(
            spec.name, "format", f"'{spec.format}' does not fit a {spec.kind} source here; use one of {list(allowed)}"
        )
