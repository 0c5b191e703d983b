"""The prompt encoder and the frozen encoder it prompts.

The prompt encoder maps L trainable token vectors through a two-layer MLP (hidden 200 in the
paper) to the backbone's width H. Its output P (L x H) is prepended to the input embeddings, and
it is also the task embedding that the affinity scorer and the similarity baselines read.
"""

from __future__ import annotations

import torch
from torch import nn

POOLINGS = ("mean", "cls", "prompt")


class PromptEncoder(nn.Module):
    def __init__(self, length: int, hidden_size: int, mlp_hidden: int = 200):
        super().__init__()
        self.length, self.hidden_size, self.mlp_hidden = length, hidden_size, mlp_hidden
        self.tokens = nn.Parameter(torch.empty(length, hidden_size))
        self.mlp = nn.Sequential(nn.Linear(hidden_size, mlp_hidden), nn.Tanh(), nn.Linear(mlp_hidden, hidden_size))
        # Same scale as BERT-style word embeddings, so the prompt starts out looking like text.
        nn.init.normal_(self.tokens, std=0.02)

    def forward(self) -> torch.Tensor:
        """The task embedding P, shape (L, H)."""
        return self.mlp(self.tokens)


def encoder_shapes(length: int, hidden_size: int, mlp_hidden: int) -> dict[str, tuple[int, ...]]:
    """Every weight of a prompt encoder of this size by its state-dict name, with its shape: what a
    prompt file from elsewhere must hold before a job loads it (a wrong shape would fail mid-run)."""
    return {
        "tokens": (length, hidden_size),
        "mlp.0.weight": (mlp_hidden, hidden_size),
        "mlp.0.bias": (mlp_hidden,),
        "mlp.2.weight": (hidden_size, mlp_hidden),
        "mlp.2.bias": (hidden_size,),
    }


class PromptedEncoder(nn.Module):
    """Frozen backbone + trainable prompt encoder; yields token states and a pooled vector."""

    def __init__(self, backbone: nn.Module, prompt: PromptEncoder, pooling: str = "mean"):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling '{pooling}' is unknown; use one of {POOLINGS}")
        self.backbone, self.prompt, self.pooling = backbone, prompt, pooling

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **extra) -> tuple[torch.Tensor, torch.Tensor]:
        batch = input_ids.shape[0]
        prompt = self.prompt().unsqueeze(0).expand(batch, -1, -1)
        states = prompted_states(self.backbone, prompt, input_ids, attention_mask, extra.get("token_type_ids"))
        return pool_states(states, self.prompt.length, attention_mask, self.pooling)


def prompted_states(
    backbone: nn.Module,
    prompt_rows: torch.Tensor,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    token_type_ids: torch.Tensor | None = None,
) -> torch.Tensor:
    """The backbone's last hidden states for inputs with a prompt in front of each row.

    ``prompt_rows`` (B, L, H) holds each row's prompt: one prompt expanded over a batch, or the
    prompts of several replicas stacked row by row (training.tune_replicas), so that one backbone
    pass serves all of them. Returns (B, L + T, H).
    """
    batch, length = prompt_rows.shape[0], prompt_rows.shape[1]
    words = backbone.get_input_embeddings()(input_ids)
    embeds = torch.cat([prompt_rows.to(words.dtype), words], dim=1)
    mask = torch.cat([attention_mask.new_ones(batch, length), attention_mask], dim=1)
    kwargs = {}
    if token_type_ids is not None and getattr(backbone.config, "type_vocab_size", 1) > 1:
        kwargs["token_type_ids"] = torch.cat([token_type_ids.new_zeros(batch, length), token_type_ids], dim=1)
    return backbone(inputs_embeds=embeds, attention_mask=mask, **kwargs).last_hidden_state


def pool_states(
    states: torch.Tensor, length: int, attention_mask: torch.Tensor, pooling: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token states after the L prompt positions (as wide as ``attention_mask``) and the pooled
    vector: the mean over real tokens, the first token, or the first prompt position."""
    tokens = states[:, length : length + attention_mask.shape[1]]
    if pooling == "prompt":
        pooled = states[:, 0]
    elif pooling == "cls":
        pooled = tokens[:, 0]
    else:
        m = attention_mask.unsqueeze(-1).to(tokens.dtype)
        pooled = (tokens * m).sum(1) / m.sum(1).clamp(min=1.0)
    return tokens, pooled
