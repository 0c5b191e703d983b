"""Task formats: how examples become tensors, which head reads the encoder, the loss, the score.

Each format is a :class:`TaskFormat`; the training loop only talks to this interface, so a new
format slots in by adding a class to :data:`FORMATS`. Heads never transfer between tasks; only the
prompt encoder does.

Size: one module on purpose: the six formats share the batching and scoring helpers at its top,
and a format reads best beside the others it must stay consistent with.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from tasktransfer import metrics
from tasktransfer.data.prepare import TaskMeta
from tasktransfer.errors import TaskError

Batch = dict[str, torch.Tensor]


def pad_stack(seqs: list[list[int]], pad: int) -> torch.Tensor:
    width = max(len(s) for s in seqs)
    return torch.tensor([s + [pad] * (width - len(s)) for s in seqs], dtype=torch.long)


def collate_text(features: list[dict[str, Any]], pad_id: int) -> Batch:
    """Dynamic padding: each batch is as wide as its longest example."""
    batch = {
        "input_ids": pad_stack([f["input_ids"] for f in features], pad_id),
        "attention_mask": pad_stack([[1] * len(f["input_ids"]) for f in features], 0),
    }
    if "token_type_ids" in features[0]:
        batch["token_type_ids"] = pad_stack([f["token_type_ids"] for f in features], 0)
    return batch


@dataclass
class TaskFormat:
    """Base class; subclasses fill in the four hooks."""

    meta: TaskMeta

    def encode(self, rows: list[dict], tokenizer, max_length: int) -> list[dict[str, Any]]:
        raise NotImplementedError

    def collate(self, features: list[dict[str, Any]], pad_id: int) -> Batch:
        raise NotImplementedError

    def make_head(self, hidden_size: int) -> nn.Module:
        raise NotImplementedError

    def loss(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        raise NotImplementedError

    def predict(self, logits: torch.Tensor, batch: Batch) -> list[Any]:
        raise NotImplementedError

    def score(self, predictions: list[Any], rows: list[dict]) -> float:
        """The task's metric in percent (x100)."""
        raise NotImplementedError

    def forward_head(self, head: nn.Module, tokens: torch.Tensor, pooled: torch.Tensor, batch: Batch) -> torch.Tensor:
        return head(pooled)


def _encode_pairs(rows: list[dict], tokenizer, max_length: int) -> list[dict[str, Any]]:
    texts = [r["text"] for r in rows]
    pairs = [r.get("text_pair") for r in rows]
    if any(p is not None for p in pairs):
        enc = tokenizer(texts, [p or "" for p in pairs], truncation=True, max_length=max_length)
    else:
        enc = tokenizer(texts, truncation=True, max_length=max_length)
    keys = [k for k in ("input_ids", "token_type_ids") if k in enc]
    return [{k: enc[k][i] for k in keys} for i in range(len(rows))]


class Classification(TaskFormat):
    def encode(self, rows, tokenizer, max_length):
        index = {label: i for i, label in enumerate(self.meta.labels)}
        feats = _encode_pairs(rows, tokenizer, max_length)
        for f, r in zip(feats, rows):
            label = str(r["label"])
            if label not in index:
                raise TaskError(self.meta.name, "label", f"'{label}' is not among the train labels {self.meta.labels}")
            f["label"] = index[label]
        return feats

    def collate(self, features, pad_id):
        batch = collate_text(features, pad_id)
        batch["labels"] = torch.tensor([f["label"] for f in features], dtype=torch.long)
        return batch

    def make_head(self, hidden_size):
        return nn.Linear(hidden_size, len(self.meta.labels))

    def loss(self, logits, batch):
        return nn.functional.cross_entropy(logits.float(), batch["labels"])

    def predict(self, logits, batch):
        return logits.argmax(-1).tolist()

    def score(self, predictions, rows):
        gold = [self.meta.labels.index(str(r["label"])) for r in rows]
        if self.meta.metric == "mcc":
            return 100 * metrics.matthews(gold, predictions)
        if self.meta.metric == "f1_macro":
            return 100 * metrics.f1_macro(gold, predictions)
        return 100 * metrics.accuracy(gold, predictions)


class Regression(TaskFormat):
    def encode(self, rows, tokenizer, max_length):
        feats = _encode_pairs(rows, tokenizer, max_length)
        for f, r in zip(feats, rows):
            f["label"] = float(r["label"])
        return feats

    def collate(self, features, pad_id):
        batch = collate_text(features, pad_id)
        batch["labels"] = torch.tensor([f["label"] for f in features], dtype=torch.float)
        return batch

    def make_head(self, hidden_size):
        return nn.Linear(hidden_size, 1)

    def loss(self, logits, batch):
        return nn.functional.mse_loss(logits.float().squeeze(-1), batch["labels"])

    def predict(self, logits, batch):
        return logits.float().squeeze(-1).tolist()

    def score(self, predictions, rows):
        gold = [float(r["label"]) for r in rows]
        if self.meta.metric == "spearman":
            return 100 * metrics.spearman(gold, predictions)
        return 100 * metrics.pearson(gold, predictions)


NEG = -1e9  # score of a padded choice or a position an answer may not start or end at


def _require_fast(meta: TaskMeta, tokenizer, why: str) -> None:
    if not getattr(tokenizer, "is_fast", False):
        raise TaskError(meta.name, "format", f"{meta.format} needs a fast tokenizer ({why}); this backbone's is slow")


class MultipleChoice(TaskFormat):
    """Pick one of a varying number of choices: each (text, choice) pair is encoded on its own.

    The collated batch holds the choices of all examples flattened into one (N, T) batch for the
    encoder; ``choice_example`` / ``choice_slot`` regroup the N scores into a (B, C) matrix in
    which padded slots score -inf, and cross-entropy picks the right one.
    """

    def encode(self, rows, tokenizer, max_length):
        feats = []
        for i, r in enumerate(rows):
            choices = [str(c) for c in r["choices"]]
            label = int(r["label"])
            if not choices or not 0 <= label < len(choices):
                raise TaskError(
                    self.meta.name,
                    "label",
                    f"example {i}: label {label} is not the index of one of its {len(choices)} choices",
                )
            enc = tokenizer([str(r["text"])] * len(choices), choices, truncation=True, max_length=max_length)
            keys = [k for k in ("input_ids", "token_type_ids") if k in enc]
            feats.append({"choices": [{k: enc[k][j] for k in keys} for j in range(len(choices))], "label": label})
        return feats

    def collate(self, features, pad_id):
        flat = [c for f in features for c in f["choices"]]
        batch = collate_text(flat, pad_id)
        batch["choice_example"] = torch.tensor(
            [i for i, f in enumerate(features) for _ in f["choices"]], dtype=torch.long
        )
        batch["choice_slot"] = torch.tensor([j for f in features for j in range(len(f["choices"]))], dtype=torch.long)
        batch["labels"] = torch.tensor([f["label"] for f in features], dtype=torch.long)
        return batch

    def make_head(self, hidden_size):
        return nn.Linear(hidden_size, 1)

    def forward_head(self, head, tokens, pooled, batch):
        scores = head(pooled).float().squeeze(-1)
        n_examples = batch["labels"].shape[0]
        n_slots = int(batch["choice_slot"].max().item()) + 1
        grid = scores.new_full((n_examples, n_slots), NEG)
        return grid.index_put((batch["choice_example"], batch["choice_slot"]), scores)

    def loss(self, logits, batch):
        return nn.functional.cross_entropy(logits, batch["labels"])

    def predict(self, logits, batch):
        return logits.argmax(-1).tolist()

    def score(self, predictions, rows):
        return 100 * metrics.accuracy([int(r["label"]) for r in rows], predictions)


class Tagging(TaskFormat):
    """One tag per word. The first sub-word of each word carries its label (the rest are -100)
    and is where the word's tag is predicted. Words cut off by ``max_length`` (or that the
    tokenizer drops) are predicted as ``O`` if the tag set has it, else the first tag. A dev tag
    never seen in train has no output; such words simply count as errors.
    """

    def _fallback(self) -> str:
        return "O" if "O" in self.meta.labels else self.meta.labels[0]

    def encode(self, rows, tokenizer, max_length):
        _require_fast(self.meta, tokenizer, "word alignment")
        index = {t: i for i, t in enumerate(self.meta.labels)}
        tokens = [[str(t) for t in r["tokens"]] for r in rows]
        for i, r in enumerate(rows):
            if len(r["tokens"]) != len(r["tags"]):
                raise TaskError(
                    self.meta.name, "tags", f"example {i} has {len(r['tokens'])} tokens but {len(r['tags'])} tags"
                )
        # Words are joined with spaces and aligned through character offsets rather than with
        # is_split_into_words, which byte-level BPE tokenizers (RoBERTa) refuse without
        # add_prefix_space; a space-joined sentence is also what such backbones were trained on.
        texts, starts = [], []
        for words in tokens:
            pos, st = 0, []
            for w in words:
                st.append(pos)
                pos += len(w) + 1
            texts.append(" ".join(words))
            starts.append(st)
        enc = tokenizer(texts, truncation=True, max_length=max_length, return_offsets_mapping=True)
        feats = []
        for i, r in enumerate(rows):
            word_ids = [
                bisect.bisect_right(starts[i], e - 1) - 1 if e > s else None for s, e in enc["offset_mapping"][i]
            ]
            first, labels, seen = [], [], set()
            for w in word_ids:
                if w is None or w in seen:
                    first.append(-1)
                    labels.append(-100)
                else:
                    seen.add(w)
                    first.append(w)
                    labels.append(index.get(str(r["tags"][w]), -100))
            f = {"input_ids": enc["input_ids"][i], "word_of": first, "tag_labels": labels, "n_words": len(tokens[i])}
            if "token_type_ids" in enc:
                f["token_type_ids"] = enc["token_type_ids"][i]
            feats.append(f)
        return feats

    def collate(self, features, pad_id):
        batch = collate_text(features, pad_id)
        batch["word_of"] = pad_stack([f["word_of"] for f in features], -1)
        batch["labels"] = pad_stack([f["tag_labels"] for f in features], -100)
        batch["n_words"] = torch.tensor([f["n_words"] for f in features], dtype=torch.long)
        return batch

    def make_head(self, hidden_size):
        return nn.Linear(hidden_size, len(self.meta.labels))

    def forward_head(self, head, tokens, pooled, batch):
        return head(tokens).float()

    def loss(self, logits, batch):
        return nn.functional.cross_entropy(logits.flatten(0, 1), batch["labels"].flatten(), ignore_index=-100)

    def predict(self, logits, batch):
        best = logits.argmax(-1).cpu().tolist()
        word_of = batch["word_of"].cpu().tolist()
        out = []
        for b, n in enumerate(batch["n_words"].tolist()):
            tags = [self._fallback()] * n
            for pos, w in enumerate(word_of[b]):
                if w >= 0:
                    tags[w] = self.meta.labels[best[b][pos]]
            out.append(tags)
        return out

    def score(self, predictions, rows):
        gold = [[str(t) for t in r["tags"]] for r in rows]
        if self.meta.metric == "entity_f1":
            return 100 * metrics.entity_f1(gold, predictions)
        return 100 * metrics.token_accuracy(gold, predictions)


def _answer_span(context: str, answer: dict) -> tuple[int, int] | None:
    """Character span of an answer: its ``start`` if the text is there, else the first match."""
    text = str(answer.get("text", ""))
    if not text:
        return None
    start = answer.get("start")
    if start is None or int(start) < 0 or context[int(start) : int(start) + len(text)] != text:
        start = context.find(text)
        if start < 0:
            return None
    return int(start), int(start) + len(text)


class ExtractiveQA(TaskFormat):
    """Start and end logits over the token states of (question, context).

    The context is truncated to fit ``max_length`` (no stride): an answer cut off that way, like
    an unanswerable question (empty ``answers``), is labelled at position 0 ([CLS] / <s>). A
    question longer than half of ``max_length`` is cut first, so the context always keeps room.
    Prediction: the best span of context tokens (at most ``max_answer_tokens``) unless position
    0 scores higher (then the answer is empty: unanswerable). Scores are token F1 or exact match
    after SQuAD normalisation, against every gold answer.
    """

    max_answer_tokens = 30

    def encode(self, rows, tokenizer, max_length):
        _require_fast(self.meta, tokenizer, "character offsets")
        questions = []
        for r in rows:
            q = str(r["question"])
            qenc = tokenizer(q, add_special_tokens=False, return_offsets_mapping=True)
            if len(qenc["input_ids"]) > max_length // 2:
                q = q[: qenc["offset_mapping"][max_length // 2 - 1][1]]
            questions.append(q)
        contexts = [str(r["context"]) for r in rows]
        enc = tokenizer(
            questions, contexts, truncation="only_second", max_length=max_length, return_offsets_mapping=True
        )
        feats = []
        for i, r in enumerate(rows):
            seq = enc.sequence_ids(i)
            offsets = [list(o) if s == 1 else [-1, -1] for o, s in zip(enc["offset_mapping"][i], seq)]
            start_tok = end_tok = 0
            spans = [s for s in (_answer_span(contexts[i], a) for a in (r["answers"] or [])) if s]
            if spans:
                a_start, a_end = spans[0]
                starts = [t for t, (s, e) in enumerate(offsets) if s >= 0 and s <= a_start < e]
                ends = [t for t, (s, e) in enumerate(offsets) if s >= 0 and s < a_end <= e]
                if starts and ends and starts[0] <= ends[-1]:
                    start_tok, end_tok = starts[0], ends[-1]
            f = {"input_ids": enc["input_ids"][i], "offsets": offsets, "start": start_tok, "end": end_tok}
            if "token_type_ids" in enc:
                f["token_type_ids"] = enc["token_type_ids"][i]
            feats.append(f)
        return feats

    def collate(self, features, pad_id):
        batch = collate_text(features, pad_id)
        width = batch["input_ids"].shape[1]
        batch["offsets"] = torch.tensor(
            [f["offsets"] + [[-1, -1]] * (width - len(f["offsets"])) for f in features], dtype=torch.long
        )
        batch["start_positions"] = torch.tensor([f["start"] for f in features], dtype=torch.long)
        batch["end_positions"] = torch.tensor([f["end"] for f in features], dtype=torch.long)
        return batch

    def make_head(self, hidden_size):
        return nn.Linear(hidden_size, 2)

    def forward_head(self, head, tokens, pooled, batch):
        logits = head(tokens).float()  # (B, T, 2)
        allowed = batch["offsets"][..., 0] >= 0
        allowed[:, 0] = True  # position 0: no answer
        return logits.masked_fill(~allowed.unsqueeze(-1), NEG)

    def loss(self, logits, batch):
        ce = nn.functional.cross_entropy
        return (ce(logits[..., 0], batch["start_positions"]) + ce(logits[..., 1], batch["end_positions"])) / 2

    def predict(self, logits, batch):
        start, end = logits[..., 0], logits[..., 1]
        width = start.shape[1]
        pair = start.unsqueeze(2) + end.unsqueeze(1)  # (B, start, end)
        i = torch.arange(width, device=logits.device)
        ok = (i.view(-1, 1) <= i.view(1, -1)) & (i.view(1, -1) - i.view(-1, 1) < self.max_answer_tokens)
        context = batch["offsets"][..., 0] >= 0
        ok = ok.unsqueeze(0) & context.unsqueeze(2) & context.unsqueeze(1)
        pair = pair.masked_fill(~ok, 2 * NEG)
        best = pair.flatten(1).argmax(-1)
        best_score = pair.flatten(1).max(-1).values
        null = start[:, 0] + end[:, 0]
        offsets = batch["offsets"].cpu().tolist()
        out = []
        for b, (flat, s, n) in enumerate(zip(best.tolist(), best_score.tolist(), null.tolist())):
            if s <= NEG or n > s:  # no context span left, or "no answer" scores higher
                out.append(None)
                continue
            ts, te = divmod(flat, width)
            out.append((offsets[b][ts][0], offsets[b][te][1]))
        return out

    def score(self, predictions, rows):
        golds = [[str(a["text"]) for a in (r["answers"] or [])] for r in rows]
        texts = ["" if p is None else str(r["context"])[p[0] : p[1]] for p, r in zip(predictions, rows, strict=True)]
        if self.meta.metric == "exact_match":
            return 100 * metrics.qa_exact_match(golds, texts)
        return 100 * metrics.qa_token_f1(golds, texts)


class MultiRC(TaskFormat):
    """MultiRC: every answer option is a binary (paragraph, question + answer) example; F1a is
    the binary F1 over all answer options of all questions.

    One feature per question (so predictions line up with dev rows, as bootstraps need): its
    options are flattened into the encoder's batch like multiple-choice choices, and a
    question's prediction is the list of its options' 0/1 labels.
    """

    def encode(self, rows, tokenizer, max_length):
        feats = []
        for i, r in enumerate(rows):
            if not r["answers"]:
                raise TaskError(self.meta.name, "answers", f"example {i} has no answer options")
            flat = [{"text": str(r["text"]), "text_pair": f"{r['question']} {a['text']}"} for a in r["answers"]]
            feats.append(
                {
                    "options": _encode_pairs(flat, tokenizer, max_length),
                    "labels": [int(a["label"]) for a in r["answers"]],
                }
            )
        return feats

    def collate(self, features, pad_id):
        batch = collate_text([o for f in features for o in f["options"]], pad_id)
        batch["labels"] = torch.tensor([y for f in features for y in f["labels"]], dtype=torch.long)
        batch["n_options"] = torch.tensor([len(f["options"]) for f in features], dtype=torch.long)
        return batch

    def make_head(self, hidden_size):
        return nn.Linear(hidden_size, 2)

    def forward_head(self, head, tokens, pooled, batch):
        return head(pooled).float()

    def loss(self, logits, batch):
        return nn.functional.cross_entropy(logits, batch["labels"])

    def predict(self, logits, batch):
        flat = logits.argmax(-1).tolist()
        out, at = [], 0
        for n in batch["n_options"].tolist():
            out.append(flat[at : at + n])
            at += n
        return out

    def score(self, predictions, rows):
        gold = [int(a["label"]) for r in rows for a in r["answers"]]
        return 100 * metrics.f1_binary(gold, [y for p in predictions for y in p])


FORMATS: dict[str, type[TaskFormat]] = {
    "classification": Classification,
    "regression": Regression,
    "multiple_choice": MultipleChoice,
    "extractive_qa": ExtractiveQA,
    "tagging": Tagging,
    "multirc": MultiRC,
}


def get_format(meta: TaskMeta) -> TaskFormat:
    if meta.format not in FORMATS:
        raise TaskError(meta.name, "format", f"'{meta.format}' has no trainer yet; supported: {sorted(FORMATS)}")
    return FORMATS[meta.format](meta)
