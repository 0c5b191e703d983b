"""The compact scorer file: only what training changed, quantised, loaded back with every tensor checked."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save

from tasktransfer.affinity import scorer_file
from tasktransfer.affinity.scorer import ScorerSpec, TrainingPair, fit_scorer, load_scorer, predict
from tasktransfer.affinity.scorer_file import compact_scorer, compare_rankings, pool_predictions, quantise
from tasktransfer.affinity.scorer_model import (
    BITS,
    COMPACT_FORMAT,
    build_scorer,
    dequantise,
    file_bound,
    quantised_shapes,
)
from tasktransfer.errors import ArtefactError
from tasktransfer.io import tensors_from_bytes

QUIET = dict(log=lambda m: None)
TASKS = [f"t{i}" for i in range(6)]


def _embeddings(n=6, length=3, hidden=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {f"t{i}": torch.randn(length, hidden, generator=g) for i in range(n)}


@pytest.fixture(scope="module")
def trained(tiny_backbone):
    """A scorer of 2 members trained for a few steps (every layer moves), with its file's metadata."""
    emb = _embeddings()
    pairs = [TrainingPair(s, t, float(int(s[1]) - int(t[1]))) for s in TASKS for t in TASKS if s != t]
    spec = ScorerSpec(lrs=(1e-3,), epochs=3, folds=2, ensemble=2)
    model, report = fit_scorer(str(tiny_backbone), pairs, emb, spec, seed=0, **QUIET)
    meta = {"backbone": str(tiny_backbone), "spec": spec.to_dict(), "lr": report["lr"]}
    return model, meta, emb


def _file(tensors: dict, meta: dict) -> bytes:
    return save(tensors, metadata={k: json.dumps(v) for k, v in meta.items()})


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("shape", [(5, 7), (3, 130), (2, 64), (4, 2, 3)])
def test_quantised_deltas_come_back_within_half_a_step(shape, bits):
    delta = torch.randn(shape, generator=torch.Generator().manual_seed(1)) * 1e-3
    codes, scales = quantise(delta, bits)
    assert (tuple(codes.shape), tuple(scales.shape)) == quantised_shapes(shape, bits)
    assert codes.dtype == torch.uint8 and scales.dtype == torch.float32
    back = dequantise(codes, scales, shape, bits)
    rows = shape[0]
    step = scales.reshape(rows, *[1] * (len(shape) - 1))
    assert ((back - delta).abs() <= step / 2 + 1e-12).all()
    # each row's largest difference is kept; a row that did not move stays exactly zero
    assert torch.allclose(back.reshape(rows, -1).abs().amax(1), delta.reshape(rows, -1).abs().amax(1))
    still = torch.zeros(shape)
    assert torch.equal(dequantise(*quantise(still, bits), shape, bits).abs(), still)


def test_the_compact_file_ranks_as_the_full_scorer_and_is_small(trained, tiny_backbone):
    model, meta, emb = trained
    tensors, compact_meta = compact_scorer(model, meta, str(tiny_backbone), emb, **QUIET)
    storage = compact_meta["storage"]
    check = compact_meta["storage_check"]
    assert storage == {"format": COMPACT_FORMAT, "bits": storage["bits"]} and storage["bits"] in BITS
    assert check["chosen_bits"] == storage["bits"] and check["targets"] == 6 and check["pairs"] == 30
    assert check["tried"][-1]["same_rankings"] and check["tried"][-1]["error_share"] <= scorer_file.MAX_ERROR_SHARE
    # no word embeddings, no tensor that training left as the backbone's
    assert not any("word_embeddings" in k for k in tensors)
    assert all(k.startswith(("members.0.", "members.1.")) for k in tensors)
    data = _file(tensors, compact_meta)
    loaded = load_scorer(*tensors_from_bytes(data, "compact"))
    full = pool_predictions(model, emb)
    back = pool_predictions(loaded, emb)
    assert compare_rankings(full, back)["same_rankings"]
    sd = compare_rankings(full, back)["prediction_sd"]
    assert max(abs(full[t][s] - back[t][s]) for t in full for s in full[t]) <= scorer_file.MAX_ERROR_SHARE * sd
    # the bound of its storage holds it, and lies far below a full file's (which the bound refuses)
    full_bytes = len(_file(model.state_dict(), meta))
    bound = file_bound(build_scorer(str(tiny_backbone), meta["spec"]), storage)
    assert len(data) <= bound
    assert bound - (1 << 20) < full_bytes / 2
    trained_numbers = sum(
        v.numel() for k, v in model.state_dict().items() if "encoder." in k and "word_embeddings" not in k
    )
    assert sum(t.numel() * t.element_size() for t in tensors.values()) < trained_numbers * (storage["bits"] + 1.5) / 8 + 8192


def test_where_no_narrow_width_ranks_alike_the_trained_tensors_are_kept(trained, tiny_backbone, monkeypatch):
    model, meta, emb = trained
    monkeypatch.setattr(scorer_file, "MAX_ERROR_SHARE", 0.0)  # any error is too much
    tensors, compact_meta = compact_scorer(model, meta, str(tiny_backbone), emb, **QUIET)
    assert compact_meta["storage"]["bits"] == 32 and [t["bits"] for t in compact_meta["storage_check"]["tried"]] == list(BITS)
    assert not any(k.endswith((".q", ".scale")) for k in tensors)
    loaded = load_scorer(*tensors_from_bytes(_file(tensors, compact_meta), "compact"))
    sources = {s: emb[s] for s in ("t1", "t2", "t3")}
    assert predict(loaded, emb["t0"], sources) == predict(model, emb["t0"], sources)  # bit for bit


def test_under_top_n_only_the_top_layers_are_stored(tiny_backbone):
    emb = _embeddings(4)
    pairs = [TrainingPair(s, t, 1.0 if s < t else -1.0) for s in emb for t in emb if s != t]
    spec = ScorerSpec(lrs=(1e-2,), epochs=2, folds=2, ensemble=1, train_layers="top-1")
    model, _ = fit_scorer(str(tiny_backbone), pairs, emb, spec, seed=0, **QUIET)
    meta = {"backbone": str(tiny_backbone), "spec": spec.to_dict()}
    tensors, compact_meta = compact_scorer(model, meta, str(tiny_backbone), emb, **QUIET)
    stored = {k for k in tensors if k.startswith("encoder.")}
    assert stored and all(k.startswith("encoder.encoder.layer.1.") for k in stored)
    # a delta of a frozen layer is refused: training never moves it
    codes, scales = quantise(torch.ones(32, 32) * 1e-3, compact_meta["storage"]["bits"])
    evil = {**tensors, "encoder.encoder.layer.0.attention.self.query.weight.q": codes,
            "encoder.encoder.layer.0.attention.self.query.weight.scale": scales}
    if compact_meta["storage"]["bits"] == 32:
        evil = {**tensors, "encoder.encoder.layer.0.attention.self.query.weight": torch.zeros(32, 32)}
    with pytest.raises(ArtefactError, match="query.weight.*which the scorer on backbone .* does not train"):
        load_scorer(evil, compact_meta)


def _compact(trained, tiny_backbone, monkeypatch, bits=4):
    model, meta, emb = trained
    monkeypatch.setattr(scorer_file, "BITS", (bits,))
    return compact_scorer(model, meta, str(tiny_backbone), emb, **QUIET)


def test_a_compact_file_that_does_not_fit_is_refused_naming_the_tensor(trained, tiny_backbone, monkeypatch):
    tensors, meta = _compact(trained, tiny_backbone, monkeypatch)
    q = next(k for k in tensors if k.endswith(".q"))
    base = q[: -len(".q")]
    cases = [
        ({**tensors, "members.0.evil.weight": torch.zeros(3)}, "holds tensor 'members.0.evil.weight', which the scorer .* does not have"),
        ({**tensors, "members.0.head.weight": torch.zeros(1, 16)}, r"tensor 'members.0.head.weight' is float32 \(1, 16\), .* needs float32 \(1, 32\)"),
        ({**tensors, "members.0.head.weight": torch.zeros(1, 32, dtype=torch.float64)}, r"is float64 \(1, 32\), .* needs float32"),
        ({**tensors, q: tensors[q][:-1]}, rf"tensor '{q}' is uint8 \(\d+,\), .* needs uint8"),
        ({**tensors, q: tensors[q].to(torch.int16)}, rf"tensor '{q}' is int16"),
        ({**tensors, f"{base}.scale": torch.full_like(tensors[f"{base}.scale"], float("inf"))}, r"\.scale' holds NaN or infinite"),
        ({**tensors, f"{base}.scale": torch.full_like(tensors[f"{base}.scale"], 3e38)}, rf"'{base}' holds NaN or infinite"),
        ({k: v for k, v in tensors.items() if k != f"{base}.scale"}, rf"gives '{base}.q'; at 4 bits its tensor '{base}' is '{base}.q' with"),
        ({**tensors, base: torch.zeros(1)}, rf"gives '{base}', '{base}.q', '{base}.scale'"),
        ({k: v for k, v in tensors.items() if k != "members.1.segment"}, "lacks tensor 'members.1.segment'"),
        ({**tensors, "members.0.segment": torch.tensor(float("nan")).expand(2, 32).clone()}, "'members.0.segment' holds NaN"),
    ]
    for state, message in cases:
        with pytest.raises(ArtefactError, match=message):
            load_scorer(state, meta)
    for storage in ({**meta["storage"], "bits": 5}, {**meta["storage"], "bits": True}, {**meta["storage"], "group": 8},
                    {**meta["storage"], "extra": 1}, "backbone-delta", {**meta["storage"], "format": "pickle"}):
        with pytest.raises(ArtefactError, match="storage .* is not one this tasktransfer reads"):
            load_scorer(tensors, {**meta, "storage": storage})
    with pytest.raises(ArtefactError, match="ensemble must be an integer from 1 to 16"):
        load_scorer(tensors, {**meta, "spec": {**meta["spec"], "ensemble": 10**6}})


def test_a_full_file_is_checked_tensor_by_tensor_too(trained):
    model, meta, _ = trained
    state = model.state_dict()
    assert load_scorer(state, meta) is not None  # the run's own (full) file, as before
    with pytest.raises(ArtefactError, match="holds tensor 'members.0.encoder.encoder.layer.0.output.dense.weight.q'"):
        load_scorer({**state, "members.0.encoder.encoder.layer.0.output.dense.weight.q": torch.zeros(3, dtype=torch.uint8)}, meta)
    with pytest.raises(ArtefactError, match="lacks tensor 'members.0.encoder.embeddings.word_embeddings.weight'"):
        load_scorer({k: v for k, v in state.items() if "word_embeddings" not in k}, meta)
