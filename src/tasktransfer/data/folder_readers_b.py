"""Corpus readers for data sets read in place from a data folder (group B).

Each reader is a pure function of the bytes of its task's pinned files (``TaskFiles``) and
returns canonical examples (:mod:`tasktransfer.data.examples`): ``{"all": [...]}`` for
``prepare`` to split, or ``{"train": [...], "dev": [...]}`` where upstream ships splits (or where
related items must stay on one side: then the split is a hash of the group's id, so it is the
same on every machine). Source kinds, and the keys of their ``source`` block:

- ``taskweb_multitask``, ``natinstruct``: TaskWeb's prompted task files
  (:mod:`tasktransfer.data.folder_readers_b_taskweb`); file ``data``.
- ``climate_fever`` (``unit: claim`` or ``pair``): Climate-FEVER's jsonl; file ``data``. Claims
  have 4 labels; claim-evidence pairs 3, split by a hash of the claim so a claim's five
  evidence sentences stay on one side (``dev_share``, default 0.2).
- ``liar`` (``labels``: raw label -> name): LIAR's TSVs; files ``train`` and ``dev``. Statements
  are cut at tabs, never parsed as CSV (some start with a quote); a dev statement that is also
  in train is dropped.
- ``sentence_label_tsv`` (``labels``): a headed ``sentence<TAB>label`` TSV as CSV (Blitzer rows
  are quoted and span lines); files ``train`` and ``dev``.
- ``csv_columns`` (``text_column``, ``label_column``, ``labels``; ``unescape_html``): one headed
  CSV; file ``data``.
- ``conll_bio`` (``token_prefix`` optional): ``token<TAB>tag`` lines, blank between sentences;
  files ``train`` and ``dev``. Stray byte-order marks (WNUT17's dev file has two) are removed.
- ``blimp`` (``fields``: the field groups to keep): BLiMP's minimal pairs as acceptability
  classification (``good`` / ``bad``); file ``data`` is a ``tree`` of the jsonl files.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from tasktransfer.data.examples import csv_rows, decode, finish, finish_split, require_format
from tasktransfer.data.folder_readers_b_taskweb import (
    json_lines,
    label_map,
    load_natinstruct,
    load_taskweb_multitask,
)
from tasktransfer.errors import TaskError

if TYPE_CHECKING:  # the registry imports the readers: a type-only import keeps that one way
    from tasktransfer.data.providers import TaskFiles
    from tasktransfer.data.task_spec import TaskSpec


# --------------------------------------------------------------------------- helpers


def _text(spec: TaskSpec, raw: bytes, name: str) -> str:
    try:
        return decode(raw, str(spec.source.get("encoding", "utf-8")))
    except (UnicodeDecodeError, LookupError) as err:
        raise TaskError(spec.name, f"files.{name}", f"cannot be decoded ({err})") from err


def _label(spec: TaskSpec, labels: dict[str, str], raw: str, name: str, where: str) -> str:
    if raw.strip() not in labels:
        raise TaskError(spec.name, f"files.{name}", f"{where}: label {raw!r} is not in source.labels {sorted(labels)}")
    return labels[raw.strip()]


def dev_share(spec: TaskSpec) -> float:
    share = spec.source.get("dev_share", 0.2)
    if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 < share < 1:
        raise TaskError(spec.name, "source.dev_share", f"must be a number between 0 and 1, not {share!r}")
    return float(share)


def on_dev_side(key: str, share: float) -> bool:
    """Whether the group ``key`` belongs to dev: a hash, so the same on every machine and run."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) < share * 2**32


def _split(spec: TaskSpec, keyed: Iterable[tuple[str, dict]]) -> dict[str, list[dict]]:
    share, train, dev = dev_share(spec), [], []
    for key, example in keyed:
        (dev if on_dev_side(key, share) else train).append(example)
    return finish_split(spec, train, dev)


# --------------------------------------------------------------------------- Climate-FEVER

CLIMATE_CLAIM_LABELS = {
    "SUPPORTS": "supports",
    "REFUTES": "refutes",
    "NOT_ENOUGH_INFO": "not_enough_info",
    "DISPUTED": "disputed",
}
CLIMATE_PAIR_LABELS = {k: v for k, v in CLIMATE_CLAIM_LABELS.items() if k != "DISPUTED"}


def load_climate_fever(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """Climate-FEVER: ``unit: claim`` (claim -> 4 labels) or ``unit: pair`` (evidence, claim -> 3)."""
    require_format(spec, ("classification",))
    unit = spec.source.get("unit")
    if unit not in ("claim", "pair"):
        raise TaskError(spec.name, "source.unit", f"must be `claim` or `pair`, not {unit!r}")
    claims, pairs = [], []
    for number, row in enumerate(json_lines(spec, files.read("data"), "data"), start=1):
        where = f"line {number}"
        if (
            not isinstance(row, dict)
            or not isinstance(row.get("claim"), str)
            or not isinstance(row.get("evidences"), list)
        ):
            raise TaskError(
                spec.name, "files.data", f"{where} is not a Climate-FEVER claim {{claim, claim_label, evidences}}"
            )
        claims.append(
            {
                "text": row["claim"],
                "label": _label(spec, CLIMATE_CLAIM_LABELS, str(row.get("claim_label")), "data", where),
            }
        )
        for evidence in row["evidences"]:
            if not isinstance(evidence, dict) or not isinstance(evidence.get("evidence"), str):
                raise TaskError(spec.name, "files.data", f"{where} has an evidence without text")
            label = _label(spec, CLIMATE_PAIR_LABELS, str(evidence.get("evidence_label")), "data", where)
            key = str(row.get("claim_id", row["claim"]))
            pairs.append((key, {"text": evidence["evidence"], "text_pair": row["claim"], "label": label}))
    return finish(spec, claims) if unit == "claim" else _split(spec, pairs)


# --------------------------------------------------------------------------- LIAR

LIAR_COLUMNS = 14  # id, label, statement, subjects, speaker, job, state, party, 5 counts, context


def _liar_rows(spec: TaskSpec, files: TaskFiles, name: str, labels: dict[str, str]) -> list[dict]:
    out = []
    for number, line in enumerate(_text(spec, files.read(name), name).split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) != LIAR_COLUMNS:
            raise TaskError(
                spec.name, f"files.{name}", f"line {number} has {len(cells)} tab-separated columns, not {LIAR_COLUMNS}"
            )
        out.append({"text": cells[2], "label": _label(spec, labels, cells[1], name, f"line {number}")})
    return out


def load_liar(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """LIAR statements with their PolitiFact rating (``labels`` maps the six ratings)."""
    require_format(spec, ("classification",))
    labels = label_map(spec)
    return finish_split(spec, _liar_rows(spec, files, "train", labels), _liar_rows(spec, files, "dev", labels))


# --------------------------------------------------------------------------- headed TSV / CSV


def _headed(
    spec: TaskSpec, rows: list[list[str]], name: str, columns: tuple[str, ...]
) -> Iterable[tuple[int, dict[str, str]]]:
    if not rows:
        raise TaskError(spec.name, f"files.{name}", "is empty")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in columns if c not in header]
    if missing:
        raise TaskError(spec.name, f"files.{name}", f"has no column(s) {missing} in its header {header}")
    for number, row in enumerate(rows[1:], start=2):
        if not row or row == [""]:
            continue
        if len(row) != len(header):
            raise TaskError(spec.name, f"files.{name}", f"row {number} has {len(row)} cells, the header {len(header)}")
        yield number, dict(zip(header, row))


def _sentence_rows(spec: TaskSpec, files: TaskFiles, name: str, labels: dict[str, str]) -> list[dict]:
    text_col, label_col = str(spec.source.get("text_column", "sentence")), str(spec.source.get("label_column", "label"))
    rows = csv_rows(_text(spec, files.read(name), name), delimiter="\t")
    return [
        {"text": row[text_col], "label": _label(spec, labels, row[label_col], name, f"row {number}")}
        for number, row in _headed(spec, rows, name, (text_col, label_col))
    ]


def load_sentence_label_tsv(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """A ``sentence<TAB>label`` TSV with upstream ``train`` and ``dev`` files (SST-2, Blitzer)."""
    require_format(spec, ("classification",))
    labels = label_map(spec)
    return finish_split(spec, _sentence_rows(spec, files, "train", labels), _sentence_rows(spec, files, "dev", labels))


def load_csv_columns(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """One headed CSV: ``text_column`` -> ``labels[label_column]``; ``unescape_html`` turns
    ``&amp;`` and the like back into characters (tweets)."""
    require_format(spec, ("classification",))
    labels = label_map(spec)
    text_col, label_col = str(spec.source["text_column"]), str(spec.source["label_column"])
    rows = csv_rows(_text(spec, files.read("data"), "data"), delimiter=str(spec.source.get("delimiter", ",")))
    unescape = bool(spec.source.get("unescape_html", False))
    examples = [
        {
            "text": html.unescape(row[text_col]) if unescape else row[text_col],
            "label": _label(spec, labels, row[label_col], "data", f"row {number}"),
        }
        for number, row in _headed(spec, rows, "data", (text_col, label_col))
    ]
    return finish(spec, examples)


# --------------------------------------------------------------------------- CoNLL BIO

BOM = "\ufeff"


def _conll_sentences(spec: TaskSpec, files: TaskFiles, name: str) -> list[dict]:
    prefix = str(spec.source.get("token_prefix", ""))
    out, tokens, tags = [], [], []
    lines = _text(spec, files.read(name), name).split("\n")
    for number, line in enumerate(lines + [""], start=1):
        line = line.replace(BOM, "").rstrip("\r")  # WNUT17 dev: a BOM inside a token and one alone on a line
        if not line.strip():
            if tokens:
                out.append({"tokens": tokens, "tags": tags})
            tokens, tags = [], []
            continue
        cells = line.split("\t") if "\t" in line else line.rsplit(None, 1)
        token, tag = (cells[0].strip(), cells[-1].strip()) if len(cells) == 2 else ("", "")
        if prefix and token.startswith(prefix):
            token = token[len(prefix) :]
        if not token or not (tag == "O" or tag[:2] in ("B-", "I-") and len(tag) > 2):
            raise TaskError(spec.name, f"files.{name}", f"line {number} is not `token<TAB>BIO tag`: {line[:80]!r}")
        tokens.append(token)
        tags.append(tag)
    return out


def load_conll_bio(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """CoNLL-style NER files with upstream ``train`` and ``dev`` (WNUT17, WikiANN)."""
    require_format(spec, ("tagging",))
    return finish_split(spec, _conll_sentences(spec, files, "train"), _conll_sentences(spec, files, "dev"))


# --------------------------------------------------------------------------- BLiMP


def blimp_field(value: Any) -> str:
    """BLiMP spells one field both ``syntax/semantics`` and ``syntax_semantics``."""
    return str(value).strip().replace("/", "_")


def load_blimp(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """BLiMP minimal pairs as "is this sentence acceptable" (``good`` / ``bad``), for the field
    groups in ``fields``; a pair's two sentences stay on one side of the hash split, and a
    sentence that is good in one pair and bad in another is dropped everywhere."""
    require_format(spec, ("classification",))
    wanted = spec.source.get("fields")
    if isinstance(wanted, str):
        wanted = [wanted]
    if not isinstance(wanted, list) or not wanted:
        raise TaskError(spec.name, "source.fields", "must list BLiMP fields, e.g. [morphology]")
    wanted = {blimp_field(f) for f in wanted}
    pairs = []
    for path, raw in sorted(files.tree("data").items()):
        for number, row in enumerate(json_lines(spec, raw, "data"), start=1):
            if not isinstance(row, dict) or not all(
                isinstance(row.get(k), str) for k in ("sentence_good", "sentence_bad", "field", "UID")
            ):
                raise TaskError(spec.name, "files.data", f"{path} line {number} is not a BLiMP pair")
            pairs.append(row)
    fields = {blimp_field(p["field"]) for p in pairs}
    if wanted - fields:
        raise TaskError(
            spec.name,
            "source.fields",
            f"{sorted(wanted - fields)} are not BLiMP fields; the files hold {sorted(fields)}",
        )
    good = {p["sentence_good"].strip() for p in pairs}
    both = good & {p["sentence_bad"].strip() for p in pairs}
    keyed = []
    for p in pairs:
        if blimp_field(p["field"]) not in wanted:
            continue
        key = f"{p['UID']}/{p.get('pairID', '')}"
        for side, label in (("sentence_good", "good"), ("sentence_bad", "bad")):
            if p[side].strip() not in both:
                keyed.append((key, {"text": p[side], "label": label}))
    return _split(spec, keyed)


# --------------------------------------------------------------------------- the table

#: source kind -> reader
LOADERS: dict[str, Callable[[TaskSpec, TaskFiles], dict[str, list[dict]]]] = {
    "taskweb_multitask": load_taskweb_multitask,
    "natinstruct": load_natinstruct,
    "climate_fever": load_climate_fever,
    "liar": load_liar,
    "sentence_label_tsv": load_sentence_label_tsv,
    "csv_columns": load_csv_columns,
    "conll_bio": load_conll_bio,
    "blimp": load_blimp,
}

#: source kind -> the keys its ``source`` block must hold besides ``kind``
SOURCE_KEYS: dict[str, tuple[str, ...]] = {
    "taskweb_multitask": ("pattern",),
    "natinstruct": ("pattern",),
    "climate_fever": ("unit",),
    "liar": ("labels",),
    "sentence_label_tsv": ("labels",),
    "csv_columns": ("text_column", "label_column", "labels"),
    "conll_bio": (),
    "blimp": ("fields",),
}
