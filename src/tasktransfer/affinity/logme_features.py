"""LogME (and H-score, kNN) of a target's labels on the features each source's pool prompt gives the frozen backbone.

Zero training (You et al., 2021, applied to soft prompts): the target's training examples (the
first ``data.target_train``, those its r1 and every transfer into it train on) go through the
frozen backbone once per source, prompted by that source's pool prompt encoder, and the LogME
evidence (:mod:`tasktransfer.affinity.logme`) of the target's labels on those features scores
the source; H-score and a kNN probe score the same rows (:mod:`tasktransfer.affinity.transferability`). A source whose prompt already makes the target's labels linearly predictable should
transfer well.

What is a feature row, by the target's format (the states its own head would read):

- ``classification``: the pooled vector of each example (the target's ``pooling``: mean of the
  input token states, ``cls``, or the first ``prompt`` position), labels its class ids;
- ``regression``: the pooled vector, the label standardised (LogME is not scale invariant);
- ``tagging``: the state of the first sub-word of every labelled word, labels its tag ids;
- ``multiple_choice``: the pooled vector of every (text, choice) row, labelled 1 for the right
  choice and 0 for the others (the head scores each choice on its own);
- ``multirc``: the pooled vector of every answer option, its 0/1 label;
- ``extractive_qa``: the state of every context token, labelled 1 inside the answer span.

The backbone is loaded and the examples tokenised once; per source only the prompt encoder
changes. A source whose features are degenerate (a single class, all-zero rows) gets NaN.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import numpy as np
import torch

from tasktransfer.affinity.transferability import estimates_of_rows
from tasktransfer.data.prepare import TaskMeta
from tasktransfer.errors import TaskTransferError
from tasktransfer.prompting.backbone import Backbone
from tasktransfer.prompting.formats import get_format
from tasktransfer.prompting.prompt_encoder import PromptedEncoder, PromptEncoder
from tasktransfer.prompting.training import feature_length, pick_device, resolve_precision

Log = Callable[[str], None]

#: formats whose feature rows are token states rather than pooled vectors
TOKEN_FORMATS = ("tagging", "extractive_qa")


def _autocast(device: torch.device, precision: str):
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return torch.autocast(device_type=device.type, enabled=False)


def _rows_of_batch(fmt_name: str, tokens: torch.Tensor, pooled: torch.Tensor, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """(feature rows, labels) of one encoded batch, as the module docstring describes per format."""
    if fmt_name in ("classification", "regression", "multirc"):
        return pooled, batch["labels"]
    if fmt_name == "multiple_choice":
        right = batch["labels"][batch["choice_example"]]
        return pooled, (batch["choice_slot"] == right).long()
    if fmt_name == "tagging":
        keep = batch["labels"] >= 0
        return tokens[keep], batch["labels"][keep]
    if fmt_name == "extractive_qa":
        keep = batch["offsets"][..., 0] >= 0
        pos = torch.arange(tokens.shape[1]).unsqueeze(0)
        inside = (pos >= batch["start_positions"].unsqueeze(1)) & (pos <= batch["end_positions"].unsqueeze(1))
        inside &= batch["start_positions"].unsqueeze(1) > 0  # position 0: no answer
        return tokens[keep], inside[keep].long()
    raise TaskTransferError(f"LogME features: format {fmt_name!r} has no feature rule; see logme_features.py")


@torch.no_grad()
def encode_examples(
    encoder: PromptedEncoder,
    fmt,
    features: list[dict],
    pad_id: int,
    device: torch.device,
    precision: str = "fp32",
    batch_size: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows (n, H) and their labels (n,) of encoded examples, through a prompted encoder."""
    encoder.eval()
    order = sorted(range(len(features)), key=lambda i: feature_length(features[i]))
    rows, labels = [], []
    for at in range(0, len(order), batch_size):
        batch = fmt.collate([features[i] for i in order[at : at + batch_size]], pad_id)
        batch = {k: v.to(device) for k, v in batch.items()}
        with _autocast(device, precision):
            tokens, pooled = encoder(**batch)
        x, y = _rows_of_batch(fmt.meta.format, tokens, pooled, batch)
        rows.append(x.float().cpu())
        labels.append(y.cpu())
    return torch.cat(rows).double().numpy(), torch.cat(labels).numpy()


def estimates_by_source(
    backbone: Backbone,
    meta: TaskMeta,
    rows: list[dict],
    source_prompts: Mapping[str, dict[str, torch.Tensor]],
    length: int,
    mlp_hidden: int,
    pooling: str = "mean",
    max_length: int = 64,
    precision: str = "fp32",
    batch_size: int = 64,
    log: Log = print,
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """The estimators of ``rows`` (the target's training examples) under each source's prompt encoder.

    Returns ({source: {estimator: score}}, seconds by source); the backbone is used as loaded (frozen).
    """
    if not rows:
        raise TaskTransferError(f"LogME features of {meta.name}: no training examples")
    device = pick_device()
    precision = resolve_precision(precision, device)
    backbone.model.to(device)
    fmt = get_format(meta)
    tokenizer = backbone.tokenizer
    max_length = min(max_length, backbone.max_positions - length - 2)
    features = fmt.encode(rows, tokenizer, max_length)
    pad_id = tokenizer.pad_token_id or 0
    scores, seconds = {}, {}
    for source, state in sorted(source_prompts.items()):
        start = time.perf_counter()
        prompt = PromptEncoder(length, backbone.hidden_size, mlp_hidden)
        prompt.load_state_dict(state)
        encoder = PromptedEncoder(backbone.model, prompt, pooling).to(device)
        x, y = encode_examples(encoder, fmt, features, pad_id, device, precision, batch_size)
        scores[source] = estimates_of_rows(x, y, meta.format)
        seconds[source] = time.perf_counter() - start
        shown = ", ".join(f"{k} {v:.4f}" for k, v in scores[source].items())
        log(f"{source} -> {meta.name}: {shown} on {x.shape[0]} x {x.shape[1]} features ({seconds[source]:.2f} s)")
    return scores, seconds
