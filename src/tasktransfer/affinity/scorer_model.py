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
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Sequence

import torch
from torch import nn

from tasktransfer.errors import ArtefactError
from tasktransfer.prompting.backbone import load_backbone

#: scorer.train_layers other than "all"
TOP_LAYERS = re.compile(r"top-([1-9][0-9]*)")
#: the architecture of a saved scorer whose spec predates these fields: the plain scorer
LEGACY_ARCHITECTURE = {"segments": False, "standardise": False, "ensemble": 1}


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

    Checked, since a saved spec may come from a shared pool: booleans, and an ensemble size >= 1."""
    d = spec.to_dict() if hasattr(spec, "to_dict") else dict(spec)
    arch = {k: d.get(k, v) for k, v in LEGACY_ARCHITECTURE.items()}
    if not isinstance(arch["segments"], bool) or not isinstance(arch["standardise"], bool):
        raise ArtefactError(f"scorer spec: segments and standardise must be true or false, got {arch}")
    if isinstance(arch["ensemble"], bool) or not isinstance(arch["ensemble"], int) or arch["ensemble"] < 1:
        raise ArtefactError(f"scorer spec: ensemble must be an integer >= 1, got {arch['ensemble']!r}")
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
        model.load_state_dict(state)
    except RuntimeError as err:
        raise ArtefactError(f"the scorer's weights do not fit its spec {arch} on backbone {name} ({err})") from err
    model.eval()
    return model


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
