"""Tasks read from tables: Hugging Face datasets (source kind ``huggingface``) and local files
(source kind ``local``: CSV, TSV or JSONL).

Both map the table's columns to the canonical keys of the task's format with ``source.fields``
(``canonical key: column``; a key left out reads the column of the same name):

- classification / regression: ``text``, ``text_pair`` (optional), ``label``
- multiple_choice: ``text``, ``choices``, ``label`` (the index of the right choice)
- extractive_qa: ``question``, ``context``, ``answers``
- tagging: ``tokens``, ``tags``
- multirc: ``text``, ``question``, ``answers`` (a list of ``{text, label}``), or flat rows with
  ``answer`` and ``label`` (one row per answer option; consecutive rows of the same paragraph
  and question are grouped into one example)

A field may name a list of columns: text fields are joined with a space (``text: [premise,
question]``), ``choices`` takes one choice per entry (an entry may itself be a list of columns
to join). A dotted name reads inside a nested column (``choices: choices.text``).
``rows_from: COLUMN`` reads each item of a list column as a row of its own (OntoNotes' documents
hold lists of sentences); ``spans: {}`` turns a tagging task's entity spans (a list of
``{start, end, type}``, end exclusive unless ``end_inclusive: true``) into BIO tags (CoNLL04).
Local ``.conll`` files hold one ``token ... tag`` line per word (first and last column, tab or
space separated) and a blank line after each sentence.
``datasets`` is imported only when a ``huggingface`` task is loaded.

Size: one module on purpose: local files and hub datasets go through the same column mapper
(``_Mapper``), the larger part of the file; only reading the rows differs.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tasktransfer.data.registry import TaskSpec
from tasktransfer.errors import TaskError

#: format -> (required canonical keys, optional canonical keys)
CANONICAL: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "classification": (("text", "label"), ("text_pair",)),
    "regression": (("text", "label"), ("text_pair",)),
    "multiple_choice": (("text", "choices", "label"), ()),
    "extractive_qa": (("question", "context", "answers"), ()),
    "tagging": (("tokens", "tags"), ()),
    "multirc": (("text", "question"), ("answers", "answer", "label")),
}

_TEXT_KEYS = {"text", "text_pair", "question", "context", "answer"}


# --------------------------------------------------------------------------- reading tables


def _resolve(path: str, resources: Path | None) -> Path:
    """A relative path is read from the working directory, else from the resources folder."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists() or resources is None:
        return p
    alt = Path(resources) / p
    return alt if alt.exists() else p


def read_table(spec: TaskSpec, path: Path) -> list[dict[str, Any]]:
    """Rows of one CSV, TSV or JSONL file (by extension; ``.gz`` is not supported)."""
    if not path.exists():
        raise TaskError(
            spec.name,
            "source.files",
            f"{path} does not exist; give its path relative to the workflow directory or to resources_dir",
        )
    suffix = path.suffix.lower()
    encoding = str(spec.source.get("encoding", "utf-8"))
    try:
        return _read_rows(spec, path, suffix)
    except UnicodeDecodeError as err:
        raise TaskError(
            spec.name,
            "source.encoding",
            f"{path} is not {encoding} text (byte {err.object[err.start:err.start + 1]!r} at offset {err.start}); "
            "give the file's encoding: `rank --pool ... --encoding latin-1`, or `encoding: latin-1` in the "
            "registry entry's source",
        ) from err
    except LookupError as err:
        raise TaskError(
            spec.name, "source.encoding", f"{encoding!r} is not an encoding Python knows; use e.g. utf-8, latin-1"
        ) from err


def _read_csv(spec: TaskSpec, path: Path, delimiter: str) -> list[dict[str, Any]]:
    """Rows of a CSV or TSV file, each with exactly the header's fields: a short or long row, or a
    quote never closed, is an error naming its line."""
    rows = []
    with open(path, encoding=spec.source.get("encoding", "utf-8"), newline="") as f:
        reader = csv.DictReader(f, delimiter=delimiter, strict=True)
        start = 1
        try:
            header = reader.fieldnames or []
            start = reader.line_num + 1
            for row in reader:
                if None in row or None in row.values():
                    n = sum(v is not None for k, v in row.items() if k is not None) + len(row.get(None) or [])
                    raise TaskError(
                        spec.name,
                        "source.files",
                        f"{path} line {start} has {n} fields, its header {len(header)} ({', '.join(header)}); "
                        "fix the row (quote a field that holds the delimiter)",
                    )
                rows.append(row)
                start = reader.line_num + 1
        except csv.Error as err:
            raise TaskError(
                spec.name,
                "source.files",
                f"{path} line {start}: {err} (a quote opened in this row is never closed, or stray text follows "
                "one); fix the quoting",
            ) from err
    if len(set(reader.fieldnames or [])) != len(reader.fieldnames or []):
        raise TaskError(spec.name, "source.files", f"{path}: its header names a column twice ({reader.fieldnames})")
    return rows


def _read_rows(spec: TaskSpec, path: Path, suffix: str) -> list[dict[str, Any]]:
    if suffix == ".conll":
        return _read_conll(spec, path)
    if suffix in (".csv", ".tsv"):
        return _read_csv(spec, path, "\t" if suffix == ".tsv" else ",")
    if suffix in (".jsonl", ".json", ".ndjson"):
        rows = []
        with open(path, encoding=spec.source.get("encoding", "utf-8")) as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as err:
                        raise TaskError(
                            spec.name,
                            "source.files",
                            f"{path} line {n} is not JSON ({err}); JSONL needs one object per line",
                        ) from err
                    if not isinstance(rows[-1], dict):
                        raise TaskError(
                            spec.name, "source.files", f"{path} line {n} is not a JSON object; JSONL needs one object per line"
                        )
        return rows
    raise TaskError(
        spec.name, "source.files", f"{path}: unknown file type '{suffix}'; use .csv, .tsv, .jsonl or .conll"
    )


def _read_conll(spec: TaskSpec, path: Path) -> list[dict[str, Any]]:
    """``{tokens, tags}`` rows of a CoNLL-style file: a word per line, its token in the first
    column and its tag in the last; a blank line ends a sentence; ``-DOCSTART-`` and ``#`` lines
    are skipped."""
    rows: list[dict[str, Any]] = []
    tokens: list[str] = []
    tags: list[str] = []
    with open(path, encoding=spec.source.get("encoding", "utf-8")) as f:
        for number, line in enumerate([*f, "\n"], start=1):
            parts = line.split("\t") if "\t" in line else line.split()
            parts = [p.strip() for p in parts if p.strip()]
            if not parts or parts[0] == "-DOCSTART-" or line.startswith("#"):
                if tokens and not parts:
                    rows.append({"tokens": tokens, "tags": tags})
                    tokens, tags = [], []
                continue
            if len(parts) < 2:
                raise TaskError(spec.name, "source.files", f"{path} line {number} is not `token ... tag`: {line.strip()!r}")
            tokens.append(parts[0])
            tags.append(parts[-1])
    return rows


def _hub_split(spec: TaskSpec, split: str):
    """One split of a hub dataset, or of a dataset saved locally with ``save_to_disk``."""
    import datasets  # lazy: slow to import, and only hub tasks need it

    src = spec.source
    local = Path(str(src["dataset"])).expanduser()
    try:
        if local.is_dir() and ((local / "dataset_dict.json").exists() or (local / "state.json").exists()):
            loaded = datasets.load_from_disk(str(local))
            if isinstance(loaded, datasets.DatasetDict):
                if split not in loaded:
                    raise TaskError(
                        spec.name, "source.split", f"split '{split}' is not in {local}; splits are {sorted(loaded)}"
                    )
                return loaded[split]
            return loaded
        kwargs = {k: src[k] for k in ("revision", "data_dir", "data_files") if k in src}
        return datasets.load_dataset(str(src["dataset"]), src.get("config"), split=split, **kwargs)
    except TaskError:
        raise
    except (FileNotFoundError, ValueError, ConnectionError, OSError) as err:
        raise TaskError(
            spec.name,
            "source.dataset",
            f"could not load {src['dataset']!r} (config {src.get('config')!r}, split {split!r}): {err}. "
            "Check the id, config and split names; offline, the dataset must be in the hub cache "
            "(HF_HOME) or supplied as local files (source kind `local`)",
        ) from err


def _label_names(dataset, rows_from: str | None = None) -> dict[str, list[str]]:
    """Column -> ClassLabel names, for label columns and sequences of labels (tags); with
    ``rows_from``, the columns inside that list column's items."""
    features = dataset.features
    if rows_from:
        features = _item_features(features.get(rows_from))
    names: dict[str, list[str]] = {}
    for column, feature in (features or {}).items():
        inner = getattr(feature, "feature", None)
        for f in (feature, inner):
            if f is not None and hasattr(f, "names") and hasattr(f, "str2int"):
                names[column] = list(f.names)
    return names


def _item_features(feature: Any) -> dict | None:
    """The features of one item of a list column (``[{...}]``, ``Sequence({...})`` or ``List``)."""
    for _ in range(3):
        if isinstance(feature, dict):
            return feature
        if isinstance(feature, list) and feature:
            feature = feature[0]
        elif hasattr(feature, "feature"):
            feature = feature.feature
        else:
            return None
    return feature if isinstance(feature, dict) else None


def _explode(spec: TaskSpec, rows: Iterable[dict], column: str, where: str) -> list[dict]:
    """Every item of each row's list column ``column``, as a row (``source.rows_from``)."""
    out: list[dict] = []
    for row in rows:
        if column not in row:
            raise TaskError(spec.name, "source.rows_from", f"column '{column}' not in {where}; columns are {list(row)}")
        items = row[column]
        if isinstance(items, dict):  # a Sequence of dicts arrives as a dict of lists
            keys = list(items)
            items = [dict(zip(keys, values)) for values in zip(*(items[k] for k in keys))]
        out.extend(dict(item) for item in items)
    return out


# --------------------------------------------------------------------------- mapping columns


def _get(spec: TaskSpec, row: dict, column: str, key: str, where: str, columns: list[str]) -> Any:
    head, _, rest = column.partition(".")
    if head not in row:
        if column in row:  # a column whose name holds a dot
            return row[column]
        raise TaskError(spec.name, f"source.fields.{key}", f"column '{head}' not in {where}; columns are {columns}")
    value = row[head]
    for part in rest.split(".") if rest else []:
        if not isinstance(value, dict) or part not in value:
            raise TaskError(
                spec.name, f"source.fields.{key}", f"'{column}': no '{part}' inside column '{head}' of {where}"
            )
        value = value[part]
    return value


def _join(values: Iterable[Any]) -> str:
    return " ".join(str(v).strip() for v in values if v is not None and str(v).strip())


def _filters_pass(row: dict, filters: dict[str, Any]) -> bool:
    """``{column: value}`` keeps equal rows; ``{column: {in: [...]}}`` or ``{not_in: [...]}``."""
    for column, cond in filters.items():
        value = row.get(column)
        if isinstance(cond, dict):
            if "in" in cond and value not in cond["in"]:
                return False
            if "not_in" in cond and value in cond["not_in"]:
                return False
        elif isinstance(cond, list):
            if value not in cond:
                return False
        elif value != cond:
            return False
    return True


def _as_list(value: Any) -> list:
    if isinstance(value, str):
        return value.split()  # CSV / TSV: space-separated tokens or tags
    return list(value)


def _canonical_answers(value: Any, start: Any = None) -> list[dict]:
    """SQuAD's ``{text: [...], answer_start: [...]}``, a list of ``{text, start}`` (or of
    strings), or one string; ``start`` may come from its own column."""
    if value is None:
        return []
    if isinstance(value, dict):
        texts = value.get("text", [])
        starts = value.get("answer_start", value.get("start", [None] * len(texts)))
        if isinstance(texts, str):
            texts, starts = [texts], [starts]
        return [{"text": str(t), "start": None if s is None else int(s)} for t, s in zip(texts, starts) if str(t)]
    if isinstance(value, str):
        return [{"text": value, "start": None if start in (None, "") else int(start)}] if value else []
    out = []
    for a in value:
        if isinstance(a, dict):
            text = a.get("text", "")
            s = a.get("start", a.get("answer_start"))
            if str(text):
                out.append({"text": str(text), "start": None if s is None else int(s)})
        elif str(a):
            out.append({"text": str(a), "start": None})
    return out


class _Mapper:
    """Turns raw rows into canonical examples of the task's format."""

    def __init__(self, spec: TaskSpec, where: str, columns: list[str], names: dict[str, list[str]]):
        self.spec, self.where, self.columns, self.names = spec, where, columns, names
        src = spec.source
        fields = src.get("fields") or {}
        if not isinstance(fields, dict):
            raise TaskError(
                spec.name, "source.fields", "must map canonical keys to columns, e.g. {text: sentence, label: label}"
            )
        required, optional = CANONICAL[spec.format]
        unknown = sorted(set(fields) - set(required) - set(optional) - {"answer_start"})
        if unknown:
            raise TaskError(
                spec.name,
                "source.fields",
                f"keys {unknown} do not fit format {spec.format}; use {list(required + optional)}",
            )
        self.fields: dict[str, Any] = {}
        for key in required:
            self.fields[key] = fields.get(key, key)
        for key in optional + ("answer_start",):
            if key in fields:
                self.fields[key] = fields[key]
            elif key in columns and key != "label":
                self.fields[key] = key
        if spec.format == "multirc" and "answers" not in self.fields:
            if "answers" in columns:
                self.fields["answers"] = "answers"
            else:
                self.fields.setdefault("answer", "answer")
                self.fields.setdefault("label", "label")
        spans = src.get("spans")
        if spans is not None and (spec.format != "tagging" or not isinstance(spans, dict)):
            raise TaskError(spec.name, "source.spans", "is for tagging tasks: a mapping such as {} or {end_inclusive: true}")
        self.spans = spans
        self.label_offset = int(src.get("label_offset", 0))
        self.label_map = {str(k): v for k, v in (src.get("label_map") or {}).items()}
        self.use_names = src.get("label_names", True)
        # check the columns once, on the first row, so a typo fails before any work
        self._check_columns()

    def _columns_of(self, spec_value: Any) -> list[str]:
        if isinstance(spec_value, str):
            return [spec_value]
        out = []
        for v in spec_value:
            out.extend(self._columns_of(v))
        return out

    def _check_columns(self) -> None:
        for key, value in self.fields.items():
            for column in self._columns_of(value):
                head = column.partition(".")[0]
                if head not in self.columns and column not in self.columns:
                    raise TaskError(
                        self.spec.name,
                        f"source.fields.{key}",
                        f"column '{head}' not in {self.where}; columns are {self.columns}",
                    )

    def value(self, row: dict, key: str) -> Any:
        spec_value = self.fields[key]
        if isinstance(spec_value, str):
            return _get(self.spec, row, spec_value, key, self.where, self.columns)
        if key == "choices":
            return [
                _join(
                    _get(self.spec, row, c, key, self.where, self.columns)
                    for c in ([item] if isinstance(item, str) else item)
                )
                for item in spec_value
            ]
        return _join(_get(self.spec, row, c, key, self.where, self.columns) for c in spec_value)

    def _label(self, row: dict, raw: Any, column: Any) -> Any:
        if str(raw) in self.label_map:
            return self.label_map[str(raw)]
        if isinstance(column, str) and self.use_names and column in self.names and isinstance(raw, int) and raw >= 0:
            return self.names[column][raw]
        return raw

    def _bio(self, spans: Any, n: int) -> list[str]:
        """BIO tags of ``n`` tokens from entity spans ``[{start, end, type}]`` (``source.spans``
        may rename the keys and say ``end_inclusive: true``)."""
        cfg = self.spans or {}
        k_start, k_end, k_type = cfg.get("start", "start"), cfg.get("end", "end"), cfg.get("type", "type")
        inclusive = bool(cfg.get("end_inclusive", False))
        tags = ["O"] * n
        for span in spans or []:
            try:
                start, end, kind = int(span[k_start]), int(span[k_end]) + int(inclusive), str(span[k_type])
            except (KeyError, TypeError, ValueError) as err:
                raise TaskError(
                    self.spec.name, "source.spans", f"span {span!r} lacks an integer {k_start} / {k_end} or a {k_type} ({err})"
                ) from err
            if not 0 <= start < end <= n:
                raise TaskError(self.spec.name, "source.spans", f"span {span!r} does not fit a sentence of {n} tokens")
            tags[start] = f"B-{kind}"
            for i in range(start + 1, end):
                tags[i] = f"I-{kind}"
        return tags

    def example(self, row: dict) -> dict | None:
        """The row as a canonical example of the task's format; None where it is no example of it."""
        fmt = self.spec.format
        if fmt in ("classification", "regression"):
            return self._classification(row)
        if fmt == "multiple_choice":
            return self._multiple_choice(row)
        if fmt == "tagging":
            return self._tagging(row)
        if fmt == "extractive_qa":
            return self._extractive_qa(row)
        return self._multirc(row)

    def _classification(self, row: dict) -> dict:
        """Text (and text pair) with a label: a string, or a finite number for regression."""
        f = self.fields
        ex = {"text": str(self.value(row, "text")), "label": self._label(row, self.value(row, "label"), f["label"])}
        if "text_pair" in f:
            ex["text_pair"] = str(self.value(row, "text_pair"))
        if self.spec.format != "regression":
            ex["label"] = str(ex["label"])
            return ex
        try:
            ex["label"] = float(ex["label"])
        except (TypeError, ValueError):
            ex["label"] = None
        if ex["label"] is None or not math.isfinite(ex["label"]):
            raise TaskError(
                self.spec.name,
                "source.fields.label",
                f"a regression label must be a finite number; {self.where} has {self.value(row, 'label')!r} "
                f"(text {str(ex['text'])[:40]!r}); fix the row or the label column",
            )
        return ex

    def _multiple_choice(self, row: dict) -> dict:
        choices = (
            [str(c) for c in _as_list(self.value(row, "choices"))]
            if isinstance(self.fields["choices"], str)
            else self.value(row, "choices")
        )
        label = self.label_map.get(str(self.value(row, "label")), self.value(row, "label"))
        return {"text": str(self.value(row, "text")), "choices": choices, "label": int(label) - self.label_offset}

    def _tagging(self, row: dict) -> dict:
        """Tokens and their tags: from entity spans (``source.spans``), else tag names or ids."""
        tokens = [str(t) for t in _as_list(self.value(row, "tokens"))]
        if self.spans is not None:
            return {"tokens": tokens, "tags": self._bio(self.value(row, "tags"), len(tokens))}
        column = self.fields["tags"]
        names = self.names.get(column) if isinstance(column, str) and self.use_names else None
        tags = [
            str(self.label_map.get(str(t), names[t] if names and isinstance(t, int) else t))
            for t in _as_list(self.value(row, "tags"))
        ]
        return {"tokens": tokens, "tags": tags}

    def _extractive_qa(self, row: dict) -> dict | None:
        context = str(self.value(row, "context"))
        start = self.value(row, "answer_start") if "answer_start" in self.fields else None
        answers = _canonical_answers(self.value(row, "answers"), start)
        located = []
        for a in answers:  # keep answers that are really in the context, with their start
            s = a["start"]
            if s is None or context[s : s + len(a["text"])] != a["text"]:
                s = context.find(a["text"])
            if s >= 0:
                located.append({"text": a["text"], "start": s})
        if answers and not located:
            return None  # an abstractive answer: not an extractive example
        return {"question": str(self.value(row, "question")), "context": context, "answers": located}

    def _multirc(self, row: dict) -> dict | None:
        ex = {"text": str(self.value(row, "text")), "question": str(self.value(row, "question"))}
        if "answers" in self.fields:
            ex["answers"] = [{"text": str(a["text"]), "label": int(a["label"])} for a in self.value(row, "answers")]
            if not ex["answers"]:
                return None  # a question without options scores nothing
        else:
            ex["answers"] = [{"text": str(self.value(row, "answer")), "label": int(self.value(row, "label"))}]
        return ex


def _map_rows(
    spec: TaskSpec, rows: Iterable[dict], where: str, columns: list[str], names: dict[str, list[str]]
) -> list[dict]:
    mapper = _Mapper(spec, where, columns, names)
    filters = spec.source.get("filters") or {}
    out: list[dict] = []
    for row in rows:
        if filters and not _filters_pass(row, filters):
            continue
        ex = mapper.example(row)
        if ex is None:
            continue
        if (
            spec.format == "multirc"
            and "answers" not in mapper.fields
            and out
            and (out[-1]["text"], out[-1]["question"]) == (ex["text"], ex["question"])
        ):
            out[-1]["answers"].extend(ex["answers"])  # flat rows: one answer option each
            continue
        out.append(ex)
    return out


# --------------------------------------------------------------------------- entry point


def load_table_source(spec: TaskSpec, resources: Path | None) -> dict[str, list[dict]]:
    """Canonical examples of a ``huggingface`` or ``local`` task: ``{"train", "dev"}``, or
    ``{"all"}`` when the source has a single table (then ``prepare`` splits it)."""
    if spec.format not in CANONICAL:
        raise TaskError(
            spec.name, "format", f"'{spec.format}' cannot be read from a table; use one of {sorted(CANONICAL)}"
        )
    src = spec.source
    if spec.kind == "local":
        files = src["files"]
        if isinstance(files, (str, Path)):
            files = {"all": files}
        if not isinstance(files, dict) or not files or set(files) - {"train", "dev", "all"}:
            raise TaskError(spec.name, "source.files", "give one path, or {train: path, dev: path}")
        out = {}
        for split, path in files.items():
            p = _resolve(str(path), resources)
            rows = read_table(spec, p)
            if src.get("rows_from"):
                rows = _explode(spec, rows, str(src["rows_from"]), str(p))
            columns = list(rows[0]) if rows else []
            out[split] = _map_rows(spec, rows, str(p), columns, {})
        return out
    if spec.kind != "huggingface":
        raise TaskError(spec.name, "source.kind", f"'{spec.kind}' is not a table source")
    splits = {"train": src.get("train_split", "train"), "dev": src.get("dev_split", "validation")}
    out = {}
    for split, name in splits.items():
        if name is None:  # no dev split of its own: prepare holds out dev_fraction of train
            continue
        dataset = _hub_split(spec, str(name))
        where = f"{src['dataset']} ({src.get('config') or 'default'}, split {name})"
        if src.get("rows_from"):
            column = str(src["rows_from"])
            rows = _explode(spec, dataset, column, where)
            columns = list(rows[0]) if rows else []
            out[split] = _map_rows(spec, rows, f"{where}, items of {column}", columns, _label_names(dataset, column))
        else:
            out[split] = _map_rows(spec, dataset, where, list(dataset.column_names), _label_names(dataset))
    if "dev" not in out:
        return {"all": out["train"]}
    return out
