"""The compact scorer file: only what training changed, in the precision the rankings need.

A trained scorer's full state dict is mostly copies of its backbone: 3 members of
all-MiniLM-L6-v2 are 67.7 M numbers (259 MiB), of which each member's word embeddings (11.7 M,
bypassed by ``inputs_embeds``) never change and its 10.9 M trained numbers moved by what about
30 Adam steps make of them. The compact file (format in :mod:`tasktransfer.affinity.scorer_model`)
keeps the scorer's own tensors (head, segment embedding, standardisation buffers) as they are and
each backbone tensor that training moved as its difference from the backbone's, quantised to
``bits`` per number with one float32 scale per row (mid-rise levels: a row's largest difference
is kept exactly, a row that did not move stays the backbone's exactly); the backbone comes from
the user's machine, named by its weights hash. One scale a row, not one per group of 64 numbers:
Adam moves every weight by about the same amount (its steps are normalised), so on the default's
scorer groups of 64 lowered the largest prediction error at 3 bits only from 7.1 % to 6.4 % of
the predictions' spread, for 1.8 MB more.

The precision is chosen, not assumed (:func:`compact_scorer`): the widths of
:data:`~tasktransfer.affinity.scorer_model.BITS` are tried from the narrowest, each file is loaded
back through the loader users run, and the first whose predictions rank every pool task's
sources (each task as the target, the others as sources) exactly as the full scorer does, within
:data:`MAX_ERROR_SHARE` of the full scorer's spread of predictions, is kept; 32 bits (the trained
tensors themselves) ranks alike by construction. What was tried and chosen goes into the file's
metadata (``storage``, ``storage_check``).

Why at export and not in the scorer job: the run's own rankings, figures and the scorer stage's
outputs stay exactly those of the full-precision scorer (nothing a run computed changes, so no
``REVISIONS`` bump), the run keeps the full file for its analyses, and only a file meant for
sharing pays the check. The loader reads both kinds, so a compact scorer installed
from a pool into a run (``pool install-scorer``) is read by the run's rank jobs the same way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import torch
from torch import nn

from tasktransfer.affinity.scorer_model import (
    BITS,
    COMPACT_FORMAT,
    architecture,
    build_scorer,
    is_backbone_key,
    load_weights,
    predict,
    trained_keys,
)

#: the largest prediction error a compact scorer may make on the pool's own pairs, as a share of
#: the standard deviation of the full scorer's predictions there: a guard beside the rankings (with
#: few pool tasks, equal rankings prove little). On the default's scorer: 2 bits 22.7 % (and one
#: task's sources reordered), 3 bits 7.1 %, 4 bits 1.1 %; its 3 members themselves disagree by a
#: mean sd of 0.15, 58 % of that spread, so a tenth of it is small beside the scorer's seed noise
MAX_ERROR_SHARE = 0.1


def quantise(delta: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Packed codes (uint8, ``bits`` a number) and float32 scales (one a row) of a delta;
    :func:`~tasktransfer.affinity.scorer_model.dequantise` inverts it to within half a step."""
    flat = delta.detach().float().reshape(delta.shape[0], -1)
    half = (2**bits - 1) / 2
    scales = flat.abs().amax(1) / half
    safe = torch.where(scales > 0, scales, torch.ones_like(scales)).unsqueeze(1)
    codes = torch.round(flat / safe + half).clamp(0, 2**bits - 1).reshape(-1).to(torch.uint8)
    return pack(codes, bits), scales


def pack(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """Codes below 2^bits as one stream of bits (each code's most significant bit first), 8 a byte."""
    if bits == 8:
        return codes.clone()
    stream = ((codes.unsqueeze(1) >> torch.arange(bits - 1, -1, -1, dtype=torch.uint8)) & 1).reshape(-1)
    stream = nn.functional.pad(stream, (0, -len(stream) % 8)).reshape(-1, 8)
    return (stream * torch.tensor([128, 64, 32, 16, 8, 4, 2, 1], dtype=torch.uint8)).sum(1).to(torch.uint8)


def compact_state(
    trained: dict[str, torch.Tensor], reference: dict[str, torch.Tensor], trainable: set[str], bits: int
) -> dict[str, torch.Tensor]:
    """The tensors of a compact file: the scorer's own as they are; of the ``trainable`` backbone
    tensors those that differ from ``reference`` (the untrained scorer: the backbone's), 1-D ones
    (and all at 32 bits) as they are, the others as quantised deltas."""
    out: dict[str, torch.Tensor] = {}
    for key, value in trained.items():
        if not is_backbone_key(key):
            out[key] = value.detach().clone()
        elif key in trainable and not torch.equal(value, reference[key]):
            if bits == 32 or value.dim() < 2:
                out[key] = value.detach().clone()
            else:
                out[f"{key}.q"], out[f"{key}.scale"] = quantise(value - reference[key], bits)
    return out


def pool_predictions(model: nn.Module, embeddings: dict[str, torch.Tensor]) -> dict[str, dict[str, float]]:
    """Every pool task as the target, the others as its sources: target -> source -> prediction."""
    return {t: predict(model, embeddings[t], {s: e for s, e in embeddings.items() if s != t}) for t in sorted(embeddings)}


def compare_rankings(full: dict[str, dict[str, float]], compact: dict[str, dict[str, float]]) -> dict:
    """Whether each target's sources come in the same order (best first, ties by name, as
    :func:`~tasktransfer.affinity.selection.ranking_table` orders them), and how far apart the
    predictions are, absolutely and as a share of the spread of the full scorer's predictions."""

    def order(scores: dict[str, float]) -> list[str]:
        return sorted(scores, key=lambda s: (-scores[s], s))

    values = torch.tensor([v for scores in full.values() for v in scores.values()], dtype=torch.float64)
    spread = float(values.std(unbiased=False)) if len(values) > 1 else 0.0
    error = max((abs(full[t][s] - compact[t][s]) for t in full for s in full[t]), default=0.0)
    return {
        "same_rankings": all(order(full[t]) == order(compact[t]) for t in full),
        "max_abs_error": error,
        "prediction_sd": spread,
        "error_share": error / spread if spread > 0 else (0.0 if error == 0 else math.inf),
    }


def compact_scorer(
    model: nn.Module,
    metadata: dict,
    backbone: str,
    embeddings: dict[str, torch.Tensor],
    log: Callable[[str], None] = print,
) -> tuple[dict[str, torch.Tensor], dict]:
    """The compact file (tensors, metadata) of a trained ``model`` whose file had ``metadata``, at
    the narrowest width of BITS whose loaded-back scorer ranks the pool's tasks (``embeddings``:
    task -> its embedding) as ``model`` does, within MAX_ERROR_SHARE; metadata gains ``storage``
    and ``storage_check`` (every width tried, its ranking check and its size)."""
    spec = metadata.get("spec") or {}
    skeleton = build_scorer(backbone, architecture(spec))
    # the backbone's tensors as they are before any width is loaded into the skeleton: one copy,
    # shared by the members (each member's encoder starts as the same backbone)
    shared: dict[str, torch.Tensor] = {}
    reference = {
        k: shared.setdefault(re.sub(r"^members\.\d+\.", "", k), v.clone()) if is_backbone_key(k) else v.clone()
        for k, v in skeleton.state_dict().items()
    }
    trainable = trained_keys(skeleton, architecture(spec)["train_layers"])
    full = pool_predictions(model, embeddings)
    trained = model.state_dict()
    tried = []
    for bits in BITS:
        tensors = compact_state(trained, reference, trainable, bits)
        meta = {**metadata, "storage": {"format": COMPACT_FORMAT, "bits": bits}}
        load_weights(skeleton, tensors, meta, backbone, reference)
        check = compare_rankings(full, pool_predictions(skeleton, embeddings))
        size = sum(t.numel() * t.element_size() for t in tensors.values())
        tried.append({"bits": bits, "tensor_bytes": size, **check})
        passed = check["same_rankings"] and check["error_share"] <= MAX_ERROR_SHARE
        log(
            f"scorer at {bits} bits: {size / 1e6:.1f} MB of tensors, "
            f"{'the same' if check['same_rankings'] else 'other'} rankings of the {len(full)} pool tasks, "
            f"largest prediction error {check['max_abs_error']:.2g} ({100 * check['error_share']:.2f} % of their sd)"
            + ("" if passed else f": over {100 * MAX_ERROR_SHARE:g} % or reordered, trying more bits")
        )
        if passed or bits == BITS[-1]:
            record = {
                "targets": len(full),
                "pairs": sum(len(v) for v in full.values()),
                "rule": f"the narrowest width whose predictions rank every pool task's sources (each task as the "
                f"target, the others as sources) as the full scorer does, with a largest error of at most "
                f"{MAX_ERROR_SHARE:g} x the sd of the full scorer's predictions",
                "chosen_bits": bits,
                "tried": tried,
            }
            return tensors, {**meta, "storage_check": record}
    raise AssertionError("unreachable: the last width is always kept")
