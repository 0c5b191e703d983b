"""Readers of data sets kept in a data folder of upstream repositories (group A, part 1).

Sources here: ``brmson/dataset-sts`` (SICK, MSR paraphrase, Wang answer selection, SemEval STS)
through the generic ``delimited`` reader, ``suzgunmirac/BIG-Bench-Hard`` (``bbh``),
``clinc/oos-eval`` (``clinc``) and ``sonos/nlu-benchmark`` (``snips``). The NLTK corpora are in
:mod:`tasktransfer.data.nltk_readers`, which uses the split helpers of this module.

Every reader is a pure function of the pinned bytes (:class:`~tasktransfer.data.providers.TaskFiles`)
and returns canonical examples (:mod:`tasktransfer.data.examples`). The known traps of these
files are handled here, not by hand: an input labelled two ways is dropped (:func:`drop_conflicts`);
a dev item that is a train item up to case and punctuation is dropped (:func:`upstream_splits`);
a dev class never seen in train is dropped; rows without a label are skipped; byte-order marks
and surrogate-pair escapes are decoded.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from tasktransfer.data.examples import (
    LABEL_KEYS,
    clean_text,
    csv_rows,
    decode,
    finish,
    finish_split,
    input_key,
    require_format,
)
from tasktransfer.errors import TaskError

if TYPE_CHECKING:  # the registry imports the readers: type-only imports keep that one way
    from tasktransfer.data.providers import TaskFiles
    from tasktransfer.data.task_spec import TaskSpec

# --------------------------------------------------------------------------- shared helpers


def raw_input_key(example: dict) -> str:
    """:func:`~tasktransfer.data.examples.input_key` of an example not yet cleaned: whitespace collapsed first."""
    return input_key({k: clean_text(v) if isinstance(v, str) else v for k, v in example.items()})


def loose_key(example: dict, symmetric: bool = False) -> str:
    """An example's input up to case, punctuation and spacing (catches near-repeats across splits);
    ``symmetric``: a pair in either order (paraphrase, similarity)."""
    parts = []
    for k in sorted(example):
        if k in LABEL_KEYS:
            continue
        v = example[k]
        v = " ".join(v) if isinstance(v, list) else str(v)
        loose = re.sub(r"[\W_]+", "", v.lower())
        parts.append(loose or clean_text(v))  # an input of punctuation only (":-)") stays as it is
    return "\t".join(sorted(parts) if symmetric else parts)


def conflicting(examples: Iterable[dict]) -> set[str]:
    """The inputs (:func:`raw_input_key`) that carry two different labels in ``examples``."""
    labels: dict[str, set] = {}
    for ex in examples:
        labels.setdefault(raw_input_key(ex), set()).add(json.dumps(ex.get("label")))
    return {key for key, seen in labels.items() if len(seen) > 1}


def drop_conflicts(examples: Iterable[dict]) -> list[dict]:
    """Drop every example whose input carries two different labels anywhere in ``examples``."""
    examples = list(examples)
    bad = conflicting(examples)
    return [ex for ex in examples if raw_input_key(ex) not in bad]


def pooled(spec: TaskSpec, examples: Iterable[dict]) -> dict[str, list[dict]]:
    """One pool (``prepare`` splits it): conflicting labels dropped, then cleaned and deduplicated."""
    examples = list(examples)
    if spec.format == "classification":
        examples = drop_conflicts(examples)
    return finish(spec, examples)


def upstream_splits(spec: TaskSpec, train: Iterable[dict], dev: Iterable[dict]) -> dict[str, list[dict]]:
    """Upstream train and dev: an input labelled two ways (in either) is dropped; a dev item equal
    to a train item up to case and punctuation (and, with source ``symmetric: true``, the order of
    its pair) is dropped; a dev class that train lacks is dropped."""
    train, dev = list(train), list(dev)
    if spec.format == "classification":
        bad = conflicting(train + dev)
        train = [ex for ex in train if raw_input_key(ex) not in bad]
        dev = [ex for ex in dev if raw_input_key(ex) not in bad]
    symmetric = bool(spec.source.get("symmetric", False))
    seen = {loose_key(ex, symmetric) for ex in train}
    dev = [ex for ex in dev if loose_key(ex, symmetric) not in seen]
    if spec.format == "classification":
        classes = {ex["label"] for ex in train}
        dev = [ex for ex in dev if ex["label"] in classes]
    if not dev:
        raise TaskError(spec.name, "source.dev", "no dev example is left once those in train are dropped")
    return finish_split(spec, train, dev)


def text_of(spec: TaskSpec, raw: bytes, encoding: str, where: str) -> str:
    """Bytes as text in ``encoding`` (UTF-8 drops a byte-order mark), or one TaskError naming the file."""
    try:
        return decode(raw, encoding)
    except LookupError as err:
        raise TaskError(spec.name, "source.encoding", f"'{encoding}' is not an encoding Python knows") from err
    except UnicodeDecodeError as err:
        problem = f"{where} is not valid {encoding} ({err}); set `encoding:` to the file's encoding"
        raise TaskError(spec.name, "source.encoding", problem) from err


def names_list(spec: TaskSpec, key: str) -> list[str]:
    """A source key that holds one name or a list of names."""
    value = spec.source.get(key)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise TaskError(spec.name, f"source.{key}", f"must be a name or a list of names, not {value!r}")
    return value


def parse_json(spec: TaskSpec, text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise TaskError(spec.name, "files", f"{where} is not valid JSON ({err})") from err


def float_label(spec: TaskSpec, value: str, where: str) -> float:
    try:
        number = float(value)
    except ValueError as err:
        raise TaskError(spec.name, "source.label", f"{where}: score {value!r} is not a number") from err
    low, high = spec.source.get("label_range", (float("-inf"), float("inf")))
    if not low <= number <= high:
        raise TaskError(spec.name, "source.label_range", f"{where}: score {number} is outside [{low}, {high}]")
    return number


# --------------------------------------------------------------------------- delimited (brmson/dataset-sts)


def _columns(spec: TaskSpec, header: list[str] | None, where: str) -> dict[str, int]:
    """source text / text_pair / label -> column index (names need a header line, numbers none)."""
    out = {}
    for role in ("text", "text_pair", "label"):
        col = spec.source.get(role)
        if col is None:
            continue
        if isinstance(col, bool) or not isinstance(col, (int, str)):
            raise TaskError(spec.name, f"source.{role}", f"must be a column name or number, not {col!r}")
        if isinstance(col, int):
            out[role] = col
        elif header is None or col not in header:
            raise TaskError(spec.name, f"source.{role}", f"{where} has no column {col!r}; its header is {header}")
        else:
            out[role] = header.index(col)
    return out


def _delimited_rows(spec: TaskSpec, text: str) -> list[list[str]]:
    delimiter = spec.source.get("delimiter", "\t")
    quoting = spec.source.get("quoting", "none" if delimiter == "\t" else "csv")
    if quoting == "csv":
        return csv_rows(text, delimiter)
    if quoting != "none":
        raise TaskError(spec.name, "source.quoting", f"must be 'csv' or 'none', not {quoting!r}")
    # TSV without quoting: MSR sentences hold bare double quotes
    return [line.split(delimiter) for line in text.splitlines()]


def _delimited_file(spec: TaskSpec, files: TaskFiles, name: str) -> list[dict]:
    text = text_of(spec, files.read(name), spec.source.get("encoding", "utf-8"), f"file '{name}'")
    rows = [r for r in _delimited_rows(spec, text) if any(c.strip() for c in r)]
    by_name = any(isinstance(spec.source.get(r), str) for r in ("text", "text_pair", "label"))
    header = [c.strip().lstrip("\ufeff") for c in rows[0]] if by_name and rows else None
    if header is not None:
        rows = rows[1:]
    cols = _columns(spec, header, f"file '{name}'")
    if "text" not in cols or "label" not in cols:
        raise TaskError(spec.name, "source", "a delimited source needs `text:` and `label:` columns")
    width = max(cols.values()) + 1
    names = {str(k): str(v) for k, v in (spec.source.get("label_names") or {}).items()}
    out = []
    for i, row in enumerate(rows, start=2 if header else 1):
        where = f"file '{name}' row {i}"
        if len(row) < width:
            problem = f"{where} has {len(row)} columns, the source reads column {width - 1}"
            raise TaskError(spec.name, f"files.{name}", problem)
        raw_label = row[cols["label"]].strip()
        if not raw_label:
            continue  # unlabelled row (SemEval STS test holds some)
        if spec.format == "regression":
            label: Any = float_label(spec, raw_label, where)
        else:
            if names and raw_label not in names:
                problem = f"{where}: label {raw_label!r} is not in {sorted(names)}"
                raise TaskError(spec.name, "source.label_names", problem)
            label = names.get(raw_label, raw_label)
        ex = {"text": row[cols["text"]]}
        if "text_pair" in cols:
            ex["text_pair"] = row[cols["text_pair"]]
        ex["label"] = label
        out.append(ex)
    return out


def load_delimited(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """Rows of TSV/CSV files: ``train``/``dev`` name files of the task's ``files`` block; ``text``,
    ``text_pair`` (optional) and ``label`` name columns (by header name, or by number when the
    files have no header); ``label_names`` maps raw labels to names; ``label_range`` bounds scores."""
    require_format(spec, ("classification", "regression"))
    train = [ex for name in names_list(spec, "train") for ex in _delimited_file(spec, files, name)]
    dev = [ex for name in names_list(spec, "dev") for ex in _delimited_file(spec, files, name)]
    return upstream_splits(spec, train, dev)


# --------------------------------------------------------------------------- BIG-Bench-Hard

_LETTER_OPTION = re.compile(r"^\(([A-Z])\)\s*(.*)$")
_DASH_OPTION = re.compile(r"^-\s+(.*)$")


def bbh_choices(question: str) -> tuple[str, list[str], list[str]] | None:
    """(text before the options, option texts, option keys) of an input with an ``Options:`` block:
    ``(A) text`` lines (keys ``(A)``) or ``- text`` lines (keys the texts); None without one."""
    head, sep, tail = question.rpartition("\nOptions:\n")
    if not sep:
        return None
    choices, keys = [], []
    for line in tail.strip().splitlines():
        line = line.strip()
        if m := _LETTER_OPTION.match(line):
            keys.append(f"({m.group(1)})")
            choices.append(m.group(2).strip())
        elif m := _DASH_OPTION.match(line):
            keys.append(m.group(1).strip())
            choices.append(m.group(1).strip())
        elif choices and line:  # an option that runs over two lines
            choices[-1] += " " + line
    return (head, choices, keys) if len(choices) >= 2 else None


def load_bbh(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """A BIG-Bench-Hard task file (``files: {data: bbh/TASK.json}``): classification keeps the
    input whole and the target string as label; multiple_choice parses the ``Options:`` block.
    An item whose target is no option is dropped (at most ``max_unmatched``, default 5 %)."""
    require_format(spec, ("classification", "multiple_choice"))
    data = parse_json(spec, text_of(spec, files.read("data"), "utf-8", "file 'data'"), "file 'data'")
    items = data.get("examples") if isinstance(data, dict) else None
    if not isinstance(items, list) or not all(isinstance(e, dict) and "input" in e and "target" in e for e in items):
        raise TaskError(spec.name, "files.data", "is not a BIG-Bench-Hard file ({'examples': [{input, target}, ...]})")
    out, unmatched = [], 0
    for item in items:
        question, target = str(item["input"]), str(item["target"]).strip()
        if spec.format == "classification":
            out.append({"text": question, "label": target})
            continue
        parsed = bbh_choices(question)
        if parsed is None or target not in parsed[2]:
            unmatched += 1  # e.g. ruin_names / movie_recommendation targets that are text, not a letter
            continue
        head, choices, keys = parsed
        out.append({"text": head, "choices": choices, "label": keys.index(target)})
    limit = spec.source.get("max_unmatched", max(1, len(items) // 20))
    if unmatched > limit:
        raise TaskError(
            spec.name,
            "format",
            f"{unmatched} of {len(items)} items have no options or a target that is no option; "
            "use format classification for this task",
        )
    if spec.format == "classification":
        return pooled(spec, out)
    out = [{**ex, "choices": [clean_text(c) for c in ex["choices"]]} for ex in out]
    return finish(spec, out)


# --------------------------------------------------------------------------- CLINC150


def load_clinc(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """``data_full.json`` of clinc/oos-eval: ``train``/``dev`` name its keys (train, val, ...) of
    ``[text, intent]`` items; ``drop_labels`` (e.g. ``[oos]``) are left out."""
    require_format(spec, ("classification",))
    data = parse_json(spec, text_of(spec, files.read("data"), "utf-8", "file 'data'"), "file 'data'")
    drop = set(spec.source.get("drop_labels") or [])

    def part(key: str) -> list[dict]:
        out = []
        for name in names_list(spec, key):
            items = data.get(name) if isinstance(data, dict) else None
            if not isinstance(items, list):
                keys = sorted(data) if isinstance(data, dict) else "none (not a JSON object)"
                problem = f"'{name}' is not a list in the file; its keys: {keys}"
                raise TaskError(spec.name, f"source.{key}", problem)
            for i, item in enumerate(items):
                if not (isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item)):
                    raise TaskError(spec.name, "files.data", f"{name}[{i}] is not [text, intent]")
                if item[1] not in drop:
                    out.append({"text": item[0], "label": item[1]})
        return out

    return upstream_splits(spec, part("train"), part("dev"))


# --------------------------------------------------------------------------- SNIPS


def snips_text(spec: TaskSpec, raw: bytes, where: str) -> str:
    """UTF-8, where an emoji may be written as a UTF-8-encoded surrogate pair (CESU-8), as in
    ``train_PlayMusic_full.json``: the pair is joined into one character."""
    try:
        text = raw.decode("utf-8", "surrogatepass")
        return text.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeError as err:
        raise TaskError(spec.name, "files.data", f"{where} is not UTF-8 ({err})") from err


def load_snips(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """The SNIPS custom-intent-engines folder (``files: {data: {tree: ...}}``): ``train``/``dev`` are
    patterns on its relative paths; each file is ``{INTENT: [{data: [{text, entity?}, ...]}, ...]}``."""
    require_format(spec, ("classification",))
    tree = files.tree("data")

    def part(key: str) -> list[dict]:
        paths = sorted(p for p in tree if any(fnmatch.fnmatchcase(p, pat) for pat in names_list(spec, key)))
        if not paths:
            raise TaskError(spec.name, f"source.{key}", f"matches no file of the folder; it holds {sorted(tree)[:8]}")
        out = []
        for path in paths:
            data = parse_json(spec, snips_text(spec, tree[path], path), path)
            if not isinstance(data, dict) or len(data) != 1:
                raise TaskError(spec.name, "files.data", f"{path} is not {{INTENT: [utterances]}}")
            ((intent, utterances),) = data.items()
            for i, utt in enumerate(utterances if isinstance(utterances, list) else [None]):
                chunks = utt.get("data") if isinstance(utt, dict) else None
                if not isinstance(chunks, list):
                    raise TaskError(spec.name, "files.data", f"{path} utterance {i} has no `data` list")
                text = "".join(str(c.get("text", "")) for c in chunks if isinstance(c, dict))
                out.append({"text": text, "label": intent})
        return out

    return upstream_splits(spec, part("train"), part("dev"))


# --------------------------------------------------------------------------- registration

LOADERS: dict[str, Callable[[TaskSpec, TaskFiles], dict[str, list[dict]]]] = {
    "delimited": load_delimited,
    "bbh": load_bbh,
    "clinc": load_clinc,
    "snips": load_snips,
}

#: source kind -> keys its ``source`` block must hold besides ``kind``
SOURCE_KEYS: dict[str, tuple[str, ...]] = {
    "delimited": ("train", "dev", "text", "label"),
    "bbh": (),
    "clinc": ("train", "dev"),
    "snips": ("train", "dev"),
}
