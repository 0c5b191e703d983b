"""The affinity scorer's model: [P_target; P_source] -> one number, built and loaded.

:class:`AffinityScorer` is one member: the inputs (optionally standardised per hidden unit by the
pool's statistics, then scaled to the sd of the backbone's word embeddings; optionally marked by a
learned 2 x H segment embedding, target half and source half) go through the encoder as
``inputs_embeds``, and a linear head reads the mean of its output states. :class:`ScorerEnsemble`
averages members. Training, cross-validation and the spec live in :mod:`tasktransfer.affinity.scorer`.

A saved scorer is its state dict with metadata ``backbone`` and ``spec``; :func:`load_scorer`
rebuilds the architecture from the spec (:func:`architecture`) and loads the tensors, the
standardisation statistics (buffers) included. A spec that predates ``segments``, ``standardise``
and ``ensemble`` is the plain scorer.

A **compact** scorer file (what ``pool export`` writes; :mod:`tasktransfer.affinity.scorer_file`
makes it) holds only what training changed: the head, segment embedding and standardisation
buffers as they are, and of the backbone's tensors only those training moved (never the word
embeddings, which ``inputs_embeds`` bypasses; only the top N layers under ``train_layers: top-N``),
each as its difference from the backbone's tensor, quantised to ``bits`` per number with one
float32 scale per row (``bits`` 32: the trained tensor itself). Its
metadata ``storage`` says so (:func:`check_storage`); a tensor it leaves out is the backbone's,
read from the backbone on this machine (the pool names it by its weights hash). Loading either
kind checks every tensor's name, dtype and shape against the architecture rebuilt from the spec
on the local backbone, and every value for finiteness (:func:`load_weights`), so that a file
from a shared pool cannot name a tensor the model lacks; :func:`file_bound` is the most bytes a
file of the architecture can need, checked before a pool's file is read.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable, Sequence

import torch
from torch import nn

from tasktransfer.errors import ArtefactError
from tasktransfer.prompting.backbone import load_backbone

#: scorer.train_layers other than "all"
TOP_LAYERS = re.compile(r"top-([1-9][0-9]*)")
#: the architecture of a saved scorer whose spec predates these fields: the plain scorer
LEGACY_ARCHITECTURE = {"segments": False, "standardise": False, "ensemble": 1, "train_layers": "all"}
#: the most members a saved scorer may have (each is a copy of the backbone in memory)
MAX_ENSEMBLE = 16
#: metadata ``storage`` of a compact scorer file: its format name and the code widths it may use
COMPACT_FORMAT = "backbone-delta"
BITS = (2, 3, 4, 8, 32)
#: room for a scorer file's JSON header (tensor names and offsets, spec, storage) in its size bound
HEADER_BYTES = 1 << 20


class AffinityScorer(nn.Module):
    """One scorer: [P_target; P_source] (optionally standardised, optionally segment-marked)
    through the encoder, mean of the output states, linear head."""

    def __init__(self, encoder: nn.Module, segments: bool = False, standardise: bool = False):
        super().__init__()
        hidden = encoder.config.hidden_size
        self.encoder = encoder
        self.head = nn.Linear(hidden, 1)
        self.segment = nn.Parameter(torch.zeros(2, hidden)) if segments else None
        self.standardise = standardise
        if standardise:
            self.register_buffer("input_mean", torch.zeros(hidden))
            self.register_buffer("input_std", torch.ones(hidden))
            self.register_buffer("input_scale", torch.ones(()))

    def word_scale(self) -> float:
        """Standard deviation of the backbone's word embeddings: the input scale it was trained on."""
        return float(self.encoder.get_input_embeddings().weight.detach().float().std())

    def set_standardisation(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Per hidden unit statistics of the pool's prompts; inputs become (x - mean) / std x word scale."""
        if not self.standardise:
            raise ValueError("this scorer does not standardise its inputs (spec standardise: false)")
        self.input_mean.copy_(mean.float())
        self.input_std.copy_(torch.where(std > 1e-8, std.float(), torch.ones_like(std, dtype=torch.float)))
        self.input_scale.fill_(self.word_scale())

    def reset_new_parameters(self) -> None:
        """Fresh head and segment embedding (call under a seed)."""
        self.head.reset_parameters()
        if self.segment is not None:
            with torch.no_grad():
                self.segment.normal_(0.0, self.word_scale())

    def prepare(self, emb: torch.Tensor) -> torch.Tensor:
        if self.standardise:
            return (emb - self.input_mean) / self.input_std * self.input_scale
        return emb

    def inputs(self, target_emb: torch.Tensor, source_emb: torch.Tensor) -> torch.Tensor:
        """The encoder's ``inputs_embeds``: (B, 2L, H), the target's half first."""
        t, s = self.prepare(target_emb), self.prepare(source_emb)
        if self.segment is not None:
            t, s = t + self.segment[0], s + self.segment[1]
        return torch.cat([t, s], dim=1)

    def forward(self, target_emb: torch.Tensor, source_emb: torch.Tensor) -> torch.Tensor:
        """(B, L, H) x (B, L, H) -> (B,) predicted gains."""
        embeds = self.inputs(target_emb, source_emb)
        mask = torch.ones(embeds.shape[:2], dtype=torch.long, device=embeds.device)
        states = self.encoder(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
        return self.head(states.mean(1)).squeeze(-1)


class ScorerEnsemble(nn.Module):
    """Members trained with different seeds; the prediction is their mean."""

    def __init__(self, members: Sequence[AffinityScorer]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, target_emb: torch.Tensor, source_emb: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(target_emb, source_emb) for m in self.members]).mean(0)


def build_scorer(backbone_name: str, spec=None) -> nn.Module:
    """An untrained scorer on the backbone: the plain one (no spec), or the spec's architecture
    (segment embedding, standardisation buffers, ensemble of ``spec.ensemble`` members)."""
    encoder = load_backbone(backbone_name, frozen=False).model
    if spec is None:
        return AffinityScorer(encoder)
    arch = architecture(spec)
    member = AffinityScorer(encoder, segments=arch["segments"], standardise=arch["standardise"])
    if arch["ensemble"] == 1:
        return member
    return ScorerEnsemble([member, *(copy.deepcopy(member) for _ in range(arch["ensemble"] - 1))])


def architecture(spec) -> dict:
    """What a scorer's tensors depend on, from a spec (a dict lacking a field: the plain scorer's).

    Checked, since a saved spec may come from a shared pool: booleans, an ensemble size from 1 to
    :data:`MAX_ENSEMBLE`, and train_layers ``all`` or ``top-N``."""
    d = spec.to_dict() if hasattr(spec, "to_dict") else dict(spec)
    arch = {k: d.get(k, v) for k, v in LEGACY_ARCHITECTURE.items()}
    if not isinstance(arch["segments"], bool) or not isinstance(arch["standardise"], bool):
        raise ArtefactError(f"scorer spec: segments and standardise must be true or false, got {arch}")
    ensemble = arch["ensemble"]
    if isinstance(ensemble, bool) or not isinstance(ensemble, int) or not 1 <= ensemble <= MAX_ENSEMBLE:
        raise ArtefactError(f"scorer spec: ensemble must be an integer from 1 to {MAX_ENSEMBLE}, got {ensemble!r}")
    layers = arch["train_layers"]
    if not isinstance(layers, str) or not (layers == "all" or TOP_LAYERS.fullmatch(layers)):
        raise ArtefactError(f"scorer spec: train_layers must be 'all' or 'top-N', got {layers!r}")
    return arch


def load_scorer(state: dict[str, torch.Tensor], metadata: dict, backbone: str | None = None) -> nn.Module:
    """A saved scorer (tensors and metadata of its file) rebuilt on ``backbone`` (default: the
    metadata's): the architecture from the metadata's spec, then its weights and standardisation
    statistics from the tensors. A mismatch is an :class:`ArtefactError`."""
    name = backbone or metadata.get("backbone")
    if not name:
        raise ArtefactError("the scorer file names no backbone; pass the backbone it was trained on")
    spec = metadata.get("spec") or {}
    if not isinstance(spec, dict):
        raise ArtefactError(f"the scorer file's spec is not a mapping: {spec!r}")
    arch = architecture(spec)
    # the member count is checked against the tensors before any member is built
    members = {int(m.group(1)) for k in state if (m := re.match(r"members\.(\d+)\.", k))}
    count = max(members) + 1 if members else 1
    if count != arch["ensemble"] or (members and members != set(range(count))):
        raise ArtefactError(f"the scorer file's spec says ensemble {arch['ensemble']}, its tensors hold {count} member(s)")
    model = build_scorer(name, arch)
    try:
        load_weights(model, state, metadata, name)
    except ArtefactError as err:
        raise ArtefactError(f"the scorer's weights do not fit its spec {arch} on backbone {name}: {err}") from err
    return model


def load_weights(
    model: nn.Module, state: dict[str, torch.Tensor], metadata: dict, backbone: str,
    reference: dict[str, torch.Tensor] | None = None,
) -> None:
    """Load a scorer file's tensors into ``model`` (built from its spec on ``backbone``), a full
    file or a compact one (metadata ``storage``): every name, dtype and shape checked against the
    model's, every value finite; a compact file's omitted tensors are ``reference``'s (default:
    the model's own, which must then be untrained: the backbone's). An :class:`ArtefactError`
    names the first tensor that does not fit."""
    storage = check_storage(metadata.get("storage"))
    spec = metadata.get("spec") or {}
    if not isinstance(spec, dict):
        raise ArtefactError(f"the scorer file's spec is not a mapping: {spec!r}")
    reference = model.state_dict() if reference is None else reference
    trained = trained_keys(model, architecture(spec)["train_layers"]) if storage else set()
    full = expand_state(state, storage, reference, trained, backbone)
    model.load_state_dict(full)
    model.eval()


def is_backbone_key(key: str) -> bool:
    """A state dict key of the backbone encoder (a member's ``encoder.``), not of the scorer's own."""
    return re.match(r"(members\.\d+\.)?encoder\.", key) is not None


def trained_keys(model: nn.Module, train_layers: str) -> set[str]:
    """The backbone tensors training may change: those of the layers ``train_layers`` trains
    (:func:`freeze_lower_layers`, applied to ``model`` here), never the word embeddings (the
    scorer feeds ``inputs_embeds``: they get no gradient)."""
    ensemble = isinstance(model, ScorerEnsemble)
    keys = set()
    for i, member in enumerate(model.members if ensemble else [model]):
        for p in member.encoder.parameters():
            p.requires_grad_(True)  # as training starts (the backbone loaded unfrozen)
        try:
            freeze_lower_layers(member, train_layers)
        except ValueError as err:
            raise ArtefactError(f"the scorer file's spec does not fit this backbone: {err}") from None
        words = member.encoder.get_input_embeddings().weight
        prefix = f"members.{i}.encoder." if ensemble else "encoder."
        keys |= {prefix + n for n, p in member.encoder.named_parameters() if p.requires_grad and p is not words}
    return keys


def check_storage(storage) -> dict | None:
    """A compact file's ``storage`` metadata (None: a full file), refused unless it is one this
    code reads: format :data:`COMPACT_FORMAT`, bits one of :data:`BITS`."""
    if storage is None:
        return None
    if (
        not isinstance(storage, dict) or set(storage) != {"format", "bits"}
        or storage["format"] != COMPACT_FORMAT or type(storage["bits"]) is not int or storage["bits"] not in BITS
    ):
        raise ArtefactError(
            f"the scorer file's storage {storage!r} is not one this tasktransfer reads (format {COMPACT_FORMAT!r}, "
            f"bits one of {list(BITS)})"
        )
    return storage


def quantised_shapes(shape: Sequence[int], bits: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Shapes of a quantised delta's codes (uint8, ``bits`` a number, packed) and its float32
    scales (one per row; a tensor's rows are its first dimension)."""
    return (math.ceil(math.prod(shape) * bits / 8),), (shape[0],)


def dequantise(codes: torch.Tensor, scales: torch.Tensor, shape: Sequence[int], bits: int) -> torch.Tensor:
    """The delta that packed codes and their scales stand for: (code - (2^bits - 1) / 2) x scale."""
    n = math.prod(shape)
    if bits == 8:
        values = codes.long()
    else:  # bits of each byte, the first (most significant) first; a number's bits in a row
        bitwise = (codes.unsqueeze(1) >> torch.arange(7, -1, -1, dtype=torch.uint8)) & 1
        weights = 2 ** torch.arange(bits - 1, -1, -1, dtype=torch.uint8)
        values = (bitwise.reshape(-1)[: n * bits].reshape(n, bits) * weights).sum(1)
    rows = shape[0]
    centred = values.float().reshape(rows, -1) - (2**bits - 1) / 2
    return (centred * scales.unsqueeze(1)).reshape(shape)


def _entries(state: dict[str, torch.Tensor], storage: dict | None, reference: dict) -> dict:
    """The file's tensors by the model tensor they give: {key: {"value": t} or {"q": t, "scale": t}}."""
    entries: dict[str, dict[str, torch.Tensor]] = {}
    for key, t in state.items():
        base, part = key, "value"
        for suffix in ("q", "scale") if storage else ():
            stem = key[: -len(suffix) - 1]
            if key.endswith("." + suffix) and is_backbone_key(stem) and stem in reference and reference[stem].dim() >= 2:
                base, part = stem, suffix
        entries.setdefault(base, {})[part] = t
    return entries


def _fit_error(key: str, t: torch.Tensor, dtype: torch.dtype, shape: tuple, backbone: str) -> ArtefactError:
    return ArtefactError(
        f"the scorer file's tensor '{key}' is {str(t.dtype).removeprefix('torch.')} {tuple(t.shape)}, the scorer on "
        f"backbone {backbone} needs {str(dtype).removeprefix('torch.')} {shape}"
    )


def expand_state(
    state: dict[str, torch.Tensor], storage: dict | None, reference: dict[str, torch.Tensor], trained: set[str],
    backbone: str,
) -> dict[str, torch.Tensor]:
    """The full state dict a scorer file stands for, every tensor checked (see :func:`load_weights`).

    A full file gives every tensor of ``reference`` as it is. A compact one gives every tensor that
    is not the backbone's as it is, and of the ``trained`` backbone tensors those training moved:
    a 1-D one (or any, at 32 bits) as it is, else as ``KEY.q`` codes and ``KEY.scale`` scales."""
    bits = storage["bits"] if storage else 32
    entries = _entries(state, storage, reference)
    unknown = sorted(k for k in entries if k not in reference or (storage and is_backbone_key(k) and k not in trained))
    if unknown:
        raise ArtefactError(
            f"the scorer file holds tensor '{unknown[0]}', which the scorer on backbone {backbone} "
            + ("does not train" if unknown[0] in reference else "does not have")
        )
    need = [k for k in reference if (storage is None or not is_backbone_key(k)) and k not in entries]
    if need:
        raise ArtefactError(f"the scorer file lacks tensor '{need[0]}' of the scorer on backbone {backbone}")
    full = dict(reference)
    for key, parts in entries.items():
        ref = reference[key]
        quantised = storage is not None and bits < 32 and key in trained and ref.dim() >= 2
        if set(parts) != ({"q", "scale"} if quantised else {"value"}):
            given = ", ".join(sorted(f"'{key}.{p}'" if p != "value" else f"'{key}'" for p in parts))
            raise ArtefactError(
                f"the scorer file gives {given}; at {bits} bits its tensor '{key}' is "
                + (f"'{key}.q' with '{key}.scale'" if quantised else "stored as it is")
            )
        if not quantised:
            t = parts["value"]
            if t.dtype != ref.dtype or tuple(t.shape) != tuple(ref.shape):
                raise _fit_error(key, t, ref.dtype, tuple(ref.shape), backbone)
            full[key] = t
            continue
        q_shape, s_shape = quantised_shapes(ref.shape, bits)
        for part, dtype, shape in (("q", torch.uint8, q_shape), ("scale", torch.float32, s_shape)):
            if parts[part].dtype != dtype or tuple(parts[part].shape) != shape:
                raise _fit_error(f"{key}.{part}", parts[part], dtype, shape, backbone)
        if not bool(torch.isfinite(parts["scale"]).all()):
            raise ArtefactError(f"the scorer file's tensor '{key}.scale' holds NaN or infinite values")
        full[key] = ref + dequantise(parts["q"], parts["scale"], ref.shape, bits)
    for key, t in full.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise ArtefactError(f"the scorer file's tensor '{key}' holds NaN or infinite values")
    return full


def file_bound(model: nn.Module, storage: dict | None, train_layers: str = "all") -> int:
    """The most bytes a scorer file of ``model``'s architecture can need in ``storage`` (None: a full
    file), :data:`HEADER_BYTES` for its header included: every tensor that is not the backbone's,
    and every backbone tensor training may change at its widest encoding (a full file: every one)."""
    storage = check_storage(storage)
    trained = trained_keys(model, train_layers) if storage else set()
    total = HEADER_BYTES
    for key, t in model.state_dict().items():
        if storage and is_backbone_key(key) and key not in trained:
            continue
        if storage and key in trained and t.dim() >= 2 and storage["bits"] < 32:
            q_shape, s_shape = quantised_shapes(t.shape, storage["bits"])
            total += q_shape[0] + 4 * math.prod(s_shape)
        else:
            total += t.numel() * t.element_size()
    return total


def pool_statistics(embeddings: Iterable[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation per hidden unit over every token of the given prompts."""
    tokens = torch.cat([e.float().reshape(-1, e.shape[-1]) for e in embeddings])
    return tokens.mean(0), tokens.std(0, unbiased=False)


def encoder_layers(encoder: nn.Module) -> nn.ModuleList:
    """The encoder's stack of transformer layers (BERT, RoBERTa and the like: ``encoder.layer``)."""
    for name in ("encoder.layer", "layers", "layer", "transformer.layer"):
        module = encoder
        for part in name.split("."):
            module = getattr(module, part, None)
        if isinstance(module, nn.ModuleList):
            return module
    raise ValueError(f"cannot find the layer stack of {type(encoder).__name__} for scorer.train_layers top-N")


def freeze_lower_layers(model: AffinityScorer, train_layers: str) -> None:
    """train_layers 'top-N': only the top N encoder layers (and head, segment) keep gradients."""
    if train_layers == "all":
        return
    n = int(TOP_LAYERS.fullmatch(train_layers).group(1))
    layers = encoder_layers(model.encoder)
    if n > len(layers):
        raise ValueError(f"scorer.train_layers {train_layers}: the encoder has only {len(layers)} layers")
    for p in model.encoder.parameters():
        p.requires_grad_(False)
    for layer in layers[len(layers) - n :]:
        for p in layer.parameters():
            p.requires_grad_(True)


@torch.no_grad()
def predict(model: nn.Module, target_emb: torch.Tensor, source_embs: dict[str, torch.Tensor]) -> dict[str, float]:
    """Predicted gain (on the scale of the spec's ``target_label``) of every source for one target."""
    names = sorted(source_embs)
    if not names:
        return {}
    s = torch.stack([source_embs[n] for n in names]).float()
    t = target_emb.float().unsqueeze(0).expand(len(names), -1, -1)
    model.eval()
    return dict(zip(names, model(t, s).tolist()))
