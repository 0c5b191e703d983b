"""Small synthetic tasks for tests and smoke runs: learnable, seeded, and related by design.

Each generator builds sentences from a shared vocabulary; the label depends on which keyword
family occurs, so tasks that share a family share "knowledge" a prompt can carry over.
"""

from __future__ import annotations

import random

from tasktransfer.data.registry import TaskSpec
from tasktransfer.errors import TaskError

_FILLER = "the a of to and in is it that was for on with as at by this from".split()
_FAMILIES = {
    "colour": ("red", "blue"),
    "animal": ("cat", "dog"),
    "number": ("one", "two"),
    "weather": ("sun", "rain"),
}


def vocabulary() -> list[str]:
    """Every word the generators use (the tiny test backbone gives each its own token)."""
    words = set(_FILLER) | {w for pair in _FAMILIES.values() for w in pair} | {"which", "weather", "colour"}
    return sorted(words)


def _sentence(rng: random.Random, keyword: str, length: int) -> str:
    words = [rng.choice(_FILLER) for _ in range(length)]
    words.insert(rng.randrange(len(words) + 1), keyword)
    return " ".join(words)


def _keyword_classification(spec: TaskSpec, rng: random.Random, n: int) -> list[dict]:
    family = spec.source.get("family", "colour")
    if family not in _FAMILIES:
        raise TaskError(spec.name, "source.family", f"'{family}' is unknown; use one of {sorted(_FAMILIES)}")
    labels = _FAMILIES[family]
    out = []
    for _ in range(n):
        y = rng.randrange(len(labels))
        ex = {"text": _sentence(rng, labels[y], rng.randint(4, 10)), "label": labels[y]}
        if spec.source.get("pair"):
            ex["text_pair"] = _sentence(rng, rng.choice(_FILLER), rng.randint(3, 6))
        out.append(ex)
    return out


def _keyword_regression(spec: TaskSpec, rng: random.Random, n: int) -> list[dict]:
    family = _FAMILIES[spec.source.get("family", "number")]
    out = []
    for _ in range(n):
        k = rng.randint(0, 3)
        words = [rng.choice(_FILLER) for _ in range(6)] + [family[1]] * k + [family[0]] * (3 - k)
        rng.shuffle(words)
        out.append({"text": " ".join(words), "label": float(k)})
    return out


def _keyword_choice(spec: TaskSpec, rng: random.Random, n: int) -> list[dict]:
    family = _FAMILIES[spec.source.get("family", "animal")]
    out = []
    for _ in range(n):
        n_choices = rng.randint(2, 4)
        answer = rng.randrange(n_choices)
        choices = [
            _sentence(rng, family[0] if i == answer else rng.choice(_FILLER), 3) for i in range(n_choices)
        ]
        out.append({"text": _sentence(rng, family[1], 4), "choices": choices, "label": answer})
    return out


def _keyword_tagging(spec: TaskSpec, rng: random.Random, n: int) -> list[dict]:
    family = _FAMILIES[spec.source.get("family", "colour")]
    out = []
    for _ in range(n):
        tokens, tags = [], []
        for _ in range(rng.randint(5, 10)):
            if rng.random() < 0.25:
                tokens.append(rng.choice(family))
                tags.append("B-KEY")
            else:
                tokens.append(rng.choice(_FILLER))
                tags.append("O")
        out.append({"tokens": tokens, "tags": tags})
    return out


def _keyword_ner(spec: TaskSpec, rng: random.Random, n: int) -> list[dict]:
    """BIO entities of one or two words: colour words are COL entities, animal words ANI."""
    kinds = {"COL": _FAMILIES["colour"], "ANI": _FAMILIES["animal"]}
    out = []
    for _ in range(n):
        tokens, tags = [], []
        while len(tokens) < rng.randint(6, 10):
            if rng.random() < 0.3:
                kind = rng.choice(sorted(kinds))
                for j in range(rng.randint(1, 2)):
                    tokens.append(rng.choice(kinds[kind]))
                    tags.append(("B-" if j == 0 else "I-") + kind)
            tokens.append(rng.choice(_FILLER))
            tags.append("O")
        out.append({"tokens": tokens, "tags": tags})
    return out


def _keyword_qa(spec: TaskSpec, rng: random.Random, n: int) -> list[dict]:
    """The answer is the weather word in the context; with ``unanswerable: p`` a share p of the
    contexts has none (empty ``answers``, SQuAD 2.0 style)."""
    family = _FAMILIES[spec.source.get("family", "weather")]
    unanswerable = float(spec.source.get("unanswerable", 0.0))
    out = []
    for _ in range(n):
        words = [rng.choice(_FILLER) for _ in range(rng.randint(6, 12))]
        if rng.random() < unanswerable:
            out.append({"question": "which weather", "context": " ".join(words), "answers": []})
            continue
        pos = rng.randrange(len(words))
        answer = rng.choice(family)
        words.insert(pos, answer)
        context = " ".join(words)
        start = len(" ".join(words[:pos])) + (1 if pos else 0)
        out.append({"question": "which weather", "context": context, "answers": [{"text": answer, "start": start}]})
    return out


def _keyword_multirc(spec: TaskSpec, rng: random.Random, n: int) -> list[dict]:
    """A paragraph, a question and 2-4 answer options; an option is right iff it holds the
    family's first word (``red`` for colour), wrong if it holds the second."""
    family = _FAMILIES[spec.source.get("family", "colour")]
    out = []
    for _ in range(n):
        answers = []
        for _ in range(rng.randint(2, 4)):
            y = rng.randrange(2)
            answers.append({"text": _sentence(rng, family[1 - y], 2), "label": y})
        out.append({"text": _sentence(rng, rng.choice(family), 8), "question": "which colour", "answers": answers})
    return out


GENERATORS = {
    "keyword_classification": _keyword_classification,
    "keyword_regression": _keyword_regression,
    "keyword_choice": _keyword_choice,
    "keyword_tagging": _keyword_tagging,
    "keyword_qa": _keyword_qa,
    "keyword_ner": _keyword_ner,
    "keyword_multirc": _keyword_multirc,
}


def generate_synthetic(spec: TaskSpec) -> list[dict]:
    name = spec.source["generator"]
    if name not in GENERATORS:
        raise TaskError(spec.name, "source.generator", f"'{name}' is unknown; use one of {sorted(GENERATORS)}")
    rng = random.Random(int(spec.source.get("seed", 0)))
    return GENERATORS[name](spec, rng, int(spec.source.get("size", 200)))
