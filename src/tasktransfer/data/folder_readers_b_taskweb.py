"""Readers of TaskWeb's task files (danieljkim0118/TaskWeb, ``data/multitask`` and ``data/natinstruct``).

Both folders hold prompted versions of public data sets, one template per file, so a reader
takes the fields back out of the prompt with the ``pattern`` of its ``source`` block (a regular
expression with named groups, matched with ``re.DOTALL``; every row must match or the file is
refused):

- ``taskweb_multitask`` (``multitask/*.json``, JSON lines ``{text, choices, label}``): for
  ``classification`` the groups ``text`` (and ``text_pair``) give the inputs and ``labels`` maps
  each choice string to a label name (``{Yes: entailment, ...}``); for ``multiple_choice`` the
  groups give the stem (the options listed in the prompt are left out) and ``choices`` /
  ``label`` are kept.
- ``natinstruct`` (``natinstruct/*.json``, a Super-NaturalInstructions task: ``Definition`` and
  ``Instances`` of ``{id, input, output: [answer]}``): for ``classification`` ``labels`` maps the
  answer to a label name; for ``multiple_choice`` the groups ``choice0``, ``choice1``, ... are the
  options and ``answer: letter`` (``A``, ``B``, ...) or ``answer: text`` (the option's words)
  says how the output names the right one.

Optional keys: ``unquote_csv: true`` undoes CSV quoting left in a field (natinstruct's QQP
writes a question with quotes as ``"What is ""X""?"``); ``template``, a ``str.format`` string
over the pattern's groups that builds the ``text`` of a multiple-choice example (default:
``text`` then ``text_pair``); ``source_name``, the natinstruct ``Source`` the file must name (a
guard against a wrong file). ``<br>`` in a field becomes a space (ANLI's story titles).

Known traps (``shared/data/README.md``): natinstruct's CosmosQA, PIQA and WinoGrande are answer
generation (no options in the file): a multiple-choice natinstruct task whose pattern finds no
options is refused, so they cannot be read by mistake; natinstruct's SNLI is contradiction vs
neutral only; CB has 20 neutral of 301.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tasktransfer.data.examples import clean_text, decode, finish, require_format
from tasktransfer.errors import TaskError

if TYPE_CHECKING:  # the registry imports the readers: a type-only import keeps that one way
    from tasktransfer.data.providers import TaskFiles
    from tasktransfer.data.task_spec import TaskSpec

#: the name of the one file a TaskWeb task reads (its ``files`` block)
DATA_FILE = "data"
_CHOICE_GROUP = re.compile(r"choice(\d+)")


# --------------------------------------------------------------------------- shared helpers


def label_map(spec: TaskSpec, key: str = "labels") -> dict[str, str]:
    """The source's ``labels`` block: raw value (as a string) -> label name."""
    labels = spec.source.get(key)
    if not isinstance(labels, dict) or not labels:
        raise TaskError(spec.name, f"source.{key}", "must map each raw label to a label name, e.g. {Yes: entailment}")
    out = {str(k): str(v) for k, v in labels.items()}
    if any(not v.strip() for v in out.values()):
        raise TaskError(spec.name, f"source.{key}", "has an empty label name")
    return out


def map_label(spec: TaskSpec, labels: dict[str, str], raw: Any, where: str) -> str:
    key = str(raw).strip()
    if key not in labels:
        raise TaskError(
            spec.name, f"files.{DATA_FILE}", f"{where}: label {raw!r} is not in source.labels {sorted(labels)}"
        )
    return labels[key]


def compiled_pattern(spec: TaskSpec) -> re.Pattern[str]:
    raw = spec.source.get("pattern")
    try:
        pattern = re.compile(str(raw), re.DOTALL)
    except re.error as err:
        raise TaskError(spec.name, "source.pattern", f"is not a regular expression ({err})") from err
    if "text" not in pattern.groupindex:
        raise TaskError(spec.name, "source.pattern", "needs a named group (?P<text>...) for the input")
    return pattern


def csv_unquoted(value: str) -> str:
    """``"What is ""X""?"`` -> ``What is "X"?``: a field left in CSV quoting (natinstruct's QQP)."""
    inner = value[1:-1]
    if len(value) >= 2 and value[0] == value[-1] == '"' and '"' not in inner.replace('""', ""):
        return inner.replace('""', '"')
    return value


def _fields(spec: TaskSpec, pattern: re.Pattern[str], text: str, where: str) -> dict[str, str]:
    match = pattern.search(text.replace("\r\n", "\n"))
    if match is None:
        raise TaskError(spec.name, "source.pattern", f"does not match {where}: {text[:120]!r}...")
    fields = {k: clean_text((v or "").replace("<br>", "\n")) for k, v in match.groupdict().items()}
    if spec.source.get("unquote_csv", False):
        fields = {k: csv_unquoted(v) for k, v in fields.items()}
    return fields


def _stem(spec: TaskSpec, fields: dict[str, str]) -> str:
    """The text of a multiple-choice example: the template over the fields, else text + text_pair."""
    template = spec.source.get("template")
    if template is None:
        return " ".join(fields[k] for k in ("text", "text_pair") if fields.get(k))
    names = {name for _, name, _, _ in string.Formatter().parse(str(template)) if name}
    missing = sorted(names - set(fields))
    if missing:
        raise TaskError(spec.name, "source.template", f"names {missing}, which the pattern does not capture")
    return str(template).format(**fields)


def _pair(fields: dict[str, str]) -> dict[str, str]:
    out = {"text": fields["text"]}
    if fields.get("text_pair"):
        out["text_pair"] = fields["text_pair"]
    return out


def json_document(spec: TaskSpec, raw: bytes, name: str) -> Any:
    try:
        return json.loads(decode(raw))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise TaskError(spec.name, f"files.{name}", f"is not JSON ({err})") from err


def json_lines(spec: TaskSpec, raw: bytes, name: str) -> list[Any]:
    try:
        text = decode(raw)
    except UnicodeDecodeError as err:
        raise TaskError(spec.name, f"files.{name}", f"is not UTF-8 ({err})") from err
    rows = []
    for number, line in enumerate(text.split("\n"), start=1):  # not splitlines(): JSON may hold U+2028
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise TaskError(spec.name, f"files.{name}", f"line {number} is not JSON ({err})") from err
    return rows


# --------------------------------------------------------------------------- multitask


def _multitask_examples(spec: TaskSpec, rows: list[Any]) -> Iterable[dict]:
    pattern = compiled_pattern(spec)
    labels = label_map(spec) if spec.format == "classification" else {}
    for number, row in enumerate(rows, start=1):
        where = f"row {number}"
        if (
            not isinstance(row, dict)
            or not isinstance(row.get("text"), str)
            or not isinstance(row.get("choices"), list)
        ):
            raise TaskError(spec.name, f"files.{DATA_FILE}", f"{where} is not {{text, choices, label}}")
        choices, label = [clean_text(c) for c in row["choices"]], row.get("label")
        if not isinstance(label, int) or isinstance(label, bool) or not 0 <= label < len(choices):
            raise TaskError(
                spec.name,
                f"files.{DATA_FILE}",
                f"{where}: label {label!r} is not an index of its {len(choices)} choices",
            )
        fields = _fields(spec, pattern, row["text"], where)
        if spec.format == "classification":
            yield {**_pair(fields), "label": map_label(spec, labels, choices[label], where)}
        else:
            yield {"text": _stem(spec, fields), "choices": choices, "label": label}


def load_taskweb_multitask(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """A TaskWeb ``multitask/*.json`` file (JSON lines of ``{text, choices, label}``)."""
    require_format(spec, ("classification", "multiple_choice"))
    rows = json_lines(spec, files.read(DATA_FILE), DATA_FILE)
    return finish(spec, _multitask_examples(spec, rows))


# --------------------------------------------------------------------------- natinstruct


def _options(spec: TaskSpec, fields: dict[str, str], where: str) -> list[str]:
    numbered = sorted((int(m.group(1)), k) for k in fields if (m := _CHOICE_GROUP.fullmatch(k)))
    if len(numbered) < 2 or [i for i, _ in numbered] != list(range(len(numbered))):
        raise TaskError(
            spec.name,
            "source.pattern",
            "a multiple-choice natinstruct task needs the groups choice0, choice1, ... "
            "(a task without options in its input, such as answer generation, cannot be read)",
        )
    options = [fields[k] for _, k in numbered]
    if any(not o for o in options):
        raise TaskError(spec.name, f"files.{DATA_FILE}", f"{where}: an option is empty")
    return options


def _answer_index(spec: TaskSpec, options: list[str], output: str, where: str) -> int:
    how = spec.source.get("answer")
    if how == "letter":
        letter = output.strip().strip("()").upper()
        index = string.ascii_uppercase.find(letter) if len(letter) == 1 else -1
        if not 0 <= index < len(options):
            raise TaskError(
                spec.name,
                f"files.{DATA_FILE}",
                f"{where}: answer {output!r} is not a letter of its {len(options)} options",
            )
        return index
    if how == "text":
        wanted = clean_text(output).lower()
        hits = [i for i, o in enumerate(options) if o.lower() == wanted]
        if len(hits) != 1:
            raise TaskError(
                spec.name,
                f"files.{DATA_FILE}",
                f"{where}: answer {output!r} names {len(hits)} of the options {options}",
            )
        return hits[0]
    raise TaskError(spec.name, "source.answer", f"must be `letter` or `text` for a multiple-choice task, not {how!r}")


def _natinstruct_examples(spec: TaskSpec, document: Any) -> Iterable[dict]:
    if (
        not isinstance(document, dict)
        or not isinstance(document.get("Instances"), list)
        or "Definition" not in document
    ):
        raise TaskError(
            spec.name, f"files.{DATA_FILE}", "is not a Super-NaturalInstructions task (no Definition and Instances)"
        )
    wanted = spec.source.get("source_name")
    if wanted is not None and wanted not in document.get("Source", []):
        raise TaskError(
            spec.name,
            f"files.{DATA_FILE}",
            f"names Source {document.get('Source')}, not {wanted!r}: another task's file?",
        )
    pattern = compiled_pattern(spec)
    labels = label_map(spec) if spec.format == "classification" else {}
    for number, instance in enumerate(document["Instances"], start=1):
        where = f"instance {number}"
        output = instance.get("output") if isinstance(instance, dict) else None
        if (
            not isinstance(instance, dict)
            or not isinstance(instance.get("input"), str)
            or not isinstance(output, list)
            or not output
        ):
            raise TaskError(spec.name, f"files.{DATA_FILE}", f"{where} is not {{input, output: [answer]}}")
        if len({clean_text(o) for o in output}) != 1:
            raise TaskError(spec.name, f"files.{DATA_FILE}", f"{where} has several different answers {output}")
        fields = _fields(spec, pattern, instance["input"], where)
        if spec.format == "classification":
            yield {**_pair(fields), "label": map_label(spec, labels, output[0], where)}
        else:
            options = _options(spec, fields, where)
            yield {
                "text": _stem(spec, fields),
                "choices": options,
                "label": _answer_index(spec, options, str(output[0]), where),
            }


def load_natinstruct(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """A Super-NaturalInstructions task file from TaskWeb's ``natinstruct/`` folder."""
    require_format(spec, ("classification", "multiple_choice"))
    document = json_document(spec, files.read(DATA_FILE), DATA_FILE)
    return finish(spec, _natinstruct_examples(spec, document))
