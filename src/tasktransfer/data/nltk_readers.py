"""Readers of NLTK corpus zips from ``nltk/nltk_data`` (``packages/corpora/NAME.zip``), group A.

nltk is never imported: each reader opens the pinned zip (the task's file ``corpus``) with
:mod:`zipfile` and parses its members itself. Source keys name the members (paths inside the
zip, e.g. ``rte/rte1_dev.xml``). XML is parsed with :mod:`xml.etree.ElementTree` after refusing
entity declarations and internal DTD subsets (a plain ``<!DOCTYPE x SYSTEM "y.dtd">`` line, as
the RTE files carry, names an external DTD that is never fetched, and is removed).

Known traps handled here: RTE-1 names its label ``value`` (TRUE/FALSE), RTE-2/3 ``entailment``
(YES/NO); TREC (``qc``) and ``ppattach`` are Latin-1 (``encoding:``); inputs labelled two ways
(pros/cons, NPS chat, PP attachment, Brown sentences in two genres) are dropped; repeats are
kept once; test items repeated in train are dropped from dev.
"""

from __future__ import annotations

import fnmatch
import io
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from typing import TYPE_CHECKING

from tasktransfer.data.examples import require_format
from tasktransfer.data.folder_readers_a import names_list, pooled, text_of, upstream_splits
from tasktransfer.errors import TaskError

if TYPE_CHECKING:  # the registry imports the readers: type-only imports keep that one way
    from tasktransfer.data.providers import TaskFiles
    from tasktransfer.data.task_spec import TaskSpec

# --------------------------------------------------------------------------- zip and XML


class Corpus:
    """The members of one NLTK corpus zip (the task's file ``corpus``)."""

    def __init__(self, spec: TaskSpec, files: TaskFiles) -> None:
        self.spec = spec
        raw = files.read("corpus")
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as zf:
                self.members = {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as err:
            raise TaskError(spec.name, "files.corpus", f"is not a readable zip ({err})") from err

    def read(self, member: str) -> bytes:
        if member not in self.members:
            known = sorted(self.members)[:10]
            raise TaskError(self.spec.name, "source", f"the corpus zip has no member '{member}'; it holds {known}")
        return self.members[member]

    def text(self, member: str) -> str:
        """A member as text: ``encodings`` (member -> encoding) overrides ``encoding`` (default UTF-8)."""
        overrides = self.spec.source.get("encodings") or {}
        if not isinstance(overrides, dict):
            raise TaskError(self.spec.name, "source.encodings", "must map members to encodings")
        enc = overrides.get(member) or self.spec.source.get("encoding", "utf-8")
        return text_of(self.spec, self.read(member), enc, f"member '{member}'")

    def matching(self, key: str) -> list[str]:
        """The members matched by the source key's pattern(s), in name order (at least one)."""
        patterns = names_list(self.spec, key)
        found = sorted(m for m in self.members if any(fnmatch.fnmatchcase(m, p) for p in patterns))
        if not found:
            raise TaskError(self.spec.name, f"source.{key}", f"{patterns} match no member of the corpus zip")
        return found


_DOCTYPE_EXTERNAL = re.compile(rb"<!DOCTYPE\s+[\w.:-]+\s+(?:SYSTEM|PUBLIC)(?:\s+(?:\"[^\"<>\[]*\"|'[^'<>\[]*'))+\s*>")


def parse_xml(spec: TaskSpec, raw: bytes, where: str) -> ET.Element:
    """An XML document, refusing entity declarations and internal DTD subsets (entity expansion
    attacks) before parsing; a DOCTYPE that only names an external DTD is removed (never fetched)."""
    raw = _DOCTYPE_EXTERNAL.sub(b"", raw, count=1)
    upper = raw.upper()
    if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
        raise TaskError(spec.name, "files.corpus", f"{where} declares a DTD subset or entities; refusing to parse it")
    try:
        return ET.fromstring(raw)
    except ET.ParseError as err:
        raise TaskError(spec.name, "files.corpus", f"{where} is not well-formed XML ({err})") from err


def split_by_members(spec: TaskSpec, corpus: Corpus, read: Callable[[str], list[dict]]) -> dict[str, list[dict]]:
    """Upstream splits: ``train``/``dev`` are member patterns, each member read by ``read``."""
    train = [ex for member in corpus.matching("train") for ex in read(member)]
    dev = [ex for member in corpus.matching("dev") for ex in read(member)]
    return upstream_splits(spec, train, dev)


# --------------------------------------------------------------------------- RTE

_RTE_LABELS = {"TRUE": "entailment", "YES": "entailment", "FALSE": "not_entailment", "NO": "not_entailment"}


def _rte_pairs(spec: TaskSpec, corpus: Corpus, member: str) -> list[dict]:
    root = parse_xml(spec, corpus.read(member), member)
    out = []
    for pair in root.iter("pair"):
        raw = pair.get("entailment", pair.get("value"))  # RTE-2/3: entailment=YES|NO; RTE-1: value=TRUE|FALSE
        t, h = pair.find("t"), pair.find("h")
        if raw is None or raw.upper() not in _RTE_LABELS or t is None or h is None:
            problem = f"{member} pair {pair.get('id')} lacks t, h or a TRUE/FALSE/YES/NO label"
            raise TaskError(spec.name, "files.corpus", problem)
        label = _RTE_LABELS[raw.upper()]
        out.append({"text": "".join(t.itertext()), "text_pair": "".join(h.itertext()), "label": label})
    return out


def load_nltk_rte(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """RTE 1-3 pairs: ``train``/``dev`` are member patterns (e.g. ``rte/rte?_dev.xml``)."""
    require_format(spec, ("classification",))
    corpus = Corpus(spec, files)
    return split_by_members(spec, corpus, lambda member: _rte_pairs(spec, corpus, member))


# --------------------------------------------------------------------------- one text per line


def load_nltk_lines(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """One example per line, labelled by its file: ``categories`` maps label -> member; an optional
    ``pattern`` (a regex with one group) takes the text out of each line (lines it misses are skipped)."""
    require_format(spec, ("classification",))
    corpus = Corpus(spec, files)
    categories = spec.source["categories"]
    if not isinstance(categories, dict) or len(categories) < 2:
        raise TaskError(spec.name, "source.categories", "must map at least two labels to members of the zip")
    pattern = spec.source.get("pattern")
    try:
        regex = re.compile(pattern) if pattern else None
    except re.error as err:
        raise TaskError(spec.name, "source.pattern", f"is not a regular expression ({err})") from err
    if regex is not None and regex.groups != 1:
        raise TaskError(spec.name, "source.pattern", "must hold exactly one group (the text)")
    out = []
    for label, member in categories.items():
        for line in corpus.text(str(member)).splitlines():
            if regex is not None:
                m = regex.search(line)
                if m is None:
                    continue
                line = m.group(1)
            out.append({"text": line, "label": str(label)})
    return pooled(spec, out)


# --------------------------------------------------------------------------- Brown


def _tagged(spec: TaskSpec, token: str, where: str) -> tuple[str, str]:
    word, slash, tag = token.rpartition("/")
    if not slash or not word or not tag:
        raise TaskError(spec.name, "files.corpus", f"{where}: token {token!r} is not word/tag")
    return word, tag


def simplify_brown_tag(tag: str) -> str:
    """A Brown tag without its title/headline/citation suffixes (-tl, -hl, -nc) and foreign-word
    prefix (fw-): 472 tags become 190; contractions (``ppss+bem``) and negations (``*``) stay."""
    tag = tag.lower()
    tag = re.sub(r"^fw-", "", tag)
    return re.sub(r"(?:-(?:tl|hl|nc))+$", "", tag) or tag


def _brown_files(spec: TaskSpec, corpus: Corpus) -> dict[str, str]:
    """file id -> its one genre, from ``brown/cats.txt``."""
    cats = {}
    for i, line in enumerate(corpus.text("brown/cats.txt").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise TaskError(spec.name, "files.corpus", f"brown/cats.txt line {i} is not 'FILE GENRE'")
        cats[parts[0]] = parts[1]
    return cats


def load_nltk_brown(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """The Brown corpus: ``target: genre`` classifies a ``level: sentence`` or ``passage`` (a
    paragraph) into its file's genre (15); ``target: tags`` tags sentences (``simplify_tags``)."""
    target, level = spec.source["target"], spec.source.get("level", "sentence")
    if target not in ("genre", "tags"):
        raise TaskError(spec.name, "source.target", f"must be 'genre' or 'tags', not {target!r}")
    if level not in ("sentence", "passage"):
        raise TaskError(spec.name, "source.level", f"must be 'sentence' or 'passage', not {level!r}")
    require_format(spec, ("classification",) if target == "genre" else ("tagging",))
    simplify = bool(spec.source.get("simplify_tags", False))
    corpus = Corpus(spec, files)
    out = []
    for fileid, genre in _brown_files(spec, corpus).items():
        text = corpus.text(f"brown/{fileid}")
        for block in re.split(r"\n\s*\n", text):
            sentences = []
            for line in block.splitlines():
                pairs = [_tagged(spec, tok, f"brown/{fileid}") for tok in line.split()]
                if pairs:
                    sentences.append(pairs)
            if target == "tags":
                for pairs in sentences:
                    tags = [simplify_brown_tag(t) if simplify else t for _, t in pairs]
                    out.append({"tokens": [w for w, _ in pairs], "tags": tags})
            elif level == "sentence":
                out.extend({"text": " ".join(w for w, _ in pairs), "label": genre} for pairs in sentences)
            elif sentences:
                out.append({"text": " ".join(w for pairs in sentences for w, _ in pairs), "label": genre})
    return pooled(spec, out)


# --------------------------------------------------------------------------- Penn Treebank sample

_LEAF = re.compile(r"\(([^\s()]+) ([^\s()]+)\)")


def treebank_sentences(text: str) -> list[list[tuple[str, str]]]:
    """(word, tag) leaves of each top-level tree of a ``.mrg`` file, without ``-NONE-`` traces."""
    out, depth, start = [], 0, None
    for i, ch in enumerate(text):
        if ch == "(":
            if depth == 0:
                start = i
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0 and start is not None:
                leaves = [(w, t) for t, w in _LEAF.findall(text[start : i + 1]) if t != "-NONE-"]
                if leaves:
                    out.append(leaves)
            depth = max(depth, 0)
    return out


def load_nltk_treebank(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """Penn Treebank parsed files (``members``: e.g. ``treebank/combined/wsj_*.mrg``) as POS-tagged
    sentences, trace leaves (``-NONE-``) removed."""
    require_format(spec, ("tagging",))
    corpus = Corpus(spec, files)
    out = []
    for member in corpus.matching("members"):
        for leaves in treebank_sentences(corpus.text(member)):
            out.append({"tokens": [w for w, _ in leaves], "tags": [t for _, t in leaves]})
    return pooled(spec, out)


# --------------------------------------------------------------------------- CoNLL columns


def conll_sentences(spec: TaskSpec, text: str, column: int, where: str) -> list[dict]:
    out, tokens, tags = [], [], []
    for i, line in enumerate(text.splitlines() + [""], 1):
        cols = line.split()
        if not cols:
            if tokens:
                out.append({"tokens": tokens, "tags": tags})
            tokens, tags = [], []
            continue
        if len(cols) <= column:
            raise TaskError(spec.name, "source.column", f"{where} line {i} has {len(cols)} columns, not {column + 1}")
        tokens.append(cols[0])
        tags.append(cols[column])
    return out


def load_nltk_conll(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """Column files (word first; ``column`` the tag's index, e.g. 2 for CoNLL-2000 chunks) with
    sentences between blank lines; ``train``/``dev`` are member patterns."""
    require_format(spec, ("tagging",))
    column = spec.source["column"]
    if isinstance(column, bool) or not isinstance(column, int) or column < 1:
        raise TaskError(spec.name, "source.column", f"must be a column index of at least 1, not {column!r}")
    corpus = Corpus(spec, files)
    return split_by_members(spec, corpus, lambda member: conll_sentences(spec, corpus.text(member), column, member))


# --------------------------------------------------------------------------- TREC question classes


def _qc(spec: TaskSpec, corpus: Corpus, member: str, fine: bool) -> list[dict]:
    out = []
    for i, line in enumerate(corpus.text(member).splitlines(), 1):
        if not line.strip():
            continue
        label, _, question = line.partition(" ")
        coarse, colon, _ = label.partition(":")
        if not colon or not coarse.isupper() or not question.strip():
            raise TaskError(spec.name, "files.corpus", f"{member} line {i} is not 'COARSE:fine question'")
        out.append({"text": question, "label": label if fine else coarse})
    return out


def load_nltk_qc(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """TREC question classes (``qc/train.txt``, ``qc/test.txt``): ``granularity: coarse`` (6) or
    ``fine`` (50, ``COARSE:fine``); the files are Latin-1 (``encoding: latin-1``)."""
    require_format(spec, ("classification",))
    granularity = spec.source["granularity"]
    if granularity not in ("coarse", "fine"):
        raise TaskError(spec.name, "source.granularity", f"must be 'coarse' or 'fine', not {granularity!r}")
    corpus = Corpus(spec, files)
    return split_by_members(spec, corpus, lambda member: _qc(spec, corpus, member, granularity == "fine"))


# --------------------------------------------------------------------------- NPS chat


def load_nltk_nps_chat(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """NPS chat posts (``members``: ``nps_chat/*.xml``) labelled by dialogue act (``class``, 15);
    a post labelled two ways is dropped, repeats are kept once."""
    require_format(spec, ("classification",))
    corpus = Corpus(spec, files)
    out = []
    for member in corpus.matching("members"):
        for post in parse_xml(spec, corpus.read(member), member).iter("Post"):
            label = post.get("class")
            if not label:
                raise TaskError(spec.name, "files.corpus", f"{member}: a post has no class")
            out.append({"text": post.text or "", "label": label})
    return pooled(spec, out)


# --------------------------------------------------------------------------- Senseval-2


def senseval_context(context: ET.Element, window: int | None) -> str:
    """The context's words; with ``window``, only that many words either side of the head word
    (so that a long context still shows the word whose sense is asked)."""
    for head in context.iter("head"):
        for node in head.iter():
            if node.text and node.text.strip():
                node.text = "\x00" + node.text.lstrip()
                break
        break
    words = " ".join(context.itertext()).split()
    at = next((i for i, w in enumerate(words) if "\x00" in w), None)
    words = [w.replace("\x00", "") for w in words]
    if window is not None and at is not None:
        words = words[max(0, at - window) : at + window + 1]
    return " ".join(w for w in words if w)


def load_nltk_senseval(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """One Senseval-2 word (``member``: e.g. ``senseval/hard.pos``): each instance's context (or
    ``window`` words either side of the head word), labelled by its sense."""
    require_format(spec, ("classification",))
    window = spec.source.get("window")
    if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
        raise TaskError(spec.name, "source.window", f"must be a positive number of words, not {window!r}")
    corpus = Corpus(spec, files)
    member = str(spec.source["member"])
    out = []
    for inst in parse_xml(spec, corpus.read(member), member).iter("instance"):
        answers = inst.findall("answer")
        context = inst.find("context")
        if len(answers) != 1 or not answers[0].get("senseid") or context is None:
            problem = f"{member} instance {inst.get('id')} lacks one answer or its context"
            raise TaskError(spec.name, "files.corpus", problem)
        out.append({"text": senseval_context(context, window), "label": answers[0].get("senseid")})
    return pooled(spec, out)


# --------------------------------------------------------------------------- PP attachment

_PP_LABELS = {"V": "verb", "N": "noun"}


def _ppattach(spec: TaskSpec, corpus: Corpus, member: str) -> list[dict]:
    out = []
    for i, line in enumerate(corpus.text(member).splitlines(), 1):
        cols = line.split()
        if not cols:
            continue
        if len(cols) != 6 or cols[5] not in _PP_LABELS:
            raise TaskError(spec.name, "files.corpus", f"{member} line {i} is not 'ID VERB NOUN1 PREP NOUN2 V|N'")
        out.append({"text": " ".join(cols[1:5]), "label": _PP_LABELS[cols[5]]})
    return out


def load_nltk_ppattach(spec: TaskSpec, files: TaskFiles) -> dict[str, list[dict]]:
    """PP attachment quadruples (verb noun1 prep noun2 -> verb|noun): ``train``/``dev`` are member
    patterns; a quadruple attached both ways is dropped, a test quadruple found in train too."""
    require_format(spec, ("classification",))
    corpus = Corpus(spec, files)
    return split_by_members(spec, corpus, lambda member: _ppattach(spec, corpus, member))


# --------------------------------------------------------------------------- registration

LOADERS: dict[str, Callable[[TaskSpec, TaskFiles], dict[str, list[dict]]]] = {
    "nltk_rte": load_nltk_rte,
    "nltk_lines": load_nltk_lines,
    "nltk_brown": load_nltk_brown,
    "nltk_treebank": load_nltk_treebank,
    "nltk_conll": load_nltk_conll,
    "nltk_qc": load_nltk_qc,
    "nltk_nps_chat": load_nltk_nps_chat,
    "nltk_senseval": load_nltk_senseval,
    "nltk_ppattach": load_nltk_ppattach,
}

#: source kind -> keys its ``source`` block must hold besides ``kind``
SOURCE_KEYS: dict[str, tuple[str, ...]] = {
    "nltk_rte": ("train", "dev"),
    "nltk_lines": ("categories",),
    "nltk_brown": ("target",),
    "nltk_treebank": ("members",),
    "nltk_conll": ("train", "dev", "column"),
    "nltk_qc": ("train", "dev", "granularity"),
    "nltk_nps_chat": ("members",),
    "nltk_senseval": ("member",),
    "nltk_ppattach": ("train", "dev"),
}
