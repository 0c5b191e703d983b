import pytest
import torch

from tasktransfer.prompting.backbone import load_backbone
from tasktransfer.data.prepare import DataSpec, prepare_task, read_jsonl, read_meta
from tasktransfer.errors import ArtefactError
from tasktransfer.prompting.prompt_encoder import PromptedEncoder, PromptEncoder
from tasktransfer.prompting.prompt_files import check_compatible, load_prompt, save_prompt
from tasktransfer.data.registry import parse_task
from tasktransfer.prompting.training import PromptSpec, tune_prompt

SPEC = PromptSpec(length=4, epochs=6, lrs=(0.03,), batch_size=16, max_length=24)


@pytest.fixture(scope="module")
def colour_task(tmp_path_factory):
    out = tmp_path_factory.mktemp("data")
    spec = parse_task(
        "colour",
        {"type": "colour", "format": "classification",
         "source": {"kind": "synthetic", "generator": "keyword_classification", "family": "colour", "size": 260, "seed": 1}},
    )
    prepare_task(spec, DataSpec(max_train=200, max_dev=60), out, out / "colour")
    d = out / "colour"
    return read_meta(d), read_jsonl(d / "train.jsonl"), read_jsonl(d / "dev.jsonl")


def test_prompt_learns_a_separable_task(tiny_backbone, colour_task):
    meta, train, dev = colour_task
    result = tune_prompt(load_backbone(str(tiny_backbone)), meta, train, dev, SPEC, seed=0, log=lambda m: None)
    majority = 100 * meta.majority
    assert result.score >= 85.0 > majority + 20, (result.score, majority)
    assert result.embedding.shape == (4, 32)


def test_backbone_receives_no_gradient(tiny_backbone):
    backbone = load_backbone(str(tiny_backbone))
    prompt = PromptEncoder(4, backbone.hidden_size, 8)
    encoder = PromptedEncoder(backbone.model, prompt)
    ids = torch.tensor([[2, 10, 11, 3]])
    tokens, pooled = encoder(input_ids=ids, attention_mask=torch.ones_like(ids))
    pooled.sum().backward()
    assert all(p.grad is None and not p.requires_grad for p in backbone.model.parameters())
    assert all(p.grad is not None for p in prompt.parameters())
    assert tokens.shape == (1, 4, backbone.hidden_size)


def test_same_seed_same_numbers_and_seed_matters(tiny_backbone, colour_task):
    meta, train, dev = colour_task
    spec = PromptSpec(length=4, epochs=2, lrs=(0.03,), max_length=24)
    runs = [tune_prompt(load_backbone(str(tiny_backbone)), meta, train, dev, spec, seed=s, log=lambda m: None) for s in (0, 0, 1)]
    assert runs[0].history == runs[1].history
    assert torch.equal(runs[0].embedding, runs[1].embedding)
    assert not torch.equal(runs[0].embedding, runs[2].embedding)


def test_learning_rate_grid_keeps_the_best(tiny_backbone, colour_task):
    meta, train, dev = colour_task
    spec = PromptSpec(length=4, epochs=2, lrs=(1e-6, 0.03), max_length=24)
    result = tune_prompt(load_backbone(str(tiny_backbone)), meta, train, dev, spec, seed=0, log=lambda m: None)
    assert result.lr == 0.03
    assert result.score == max(h["dev_score"] for h in result.history)


def test_transfer_starts_from_the_source_prompt(tiny_backbone, colour_task, tmp_path):
    meta, train, dev = colour_task
    backbone = load_backbone(str(tiny_backbone))
    spec = PromptSpec(length=4, epochs=1, lrs=(1e-9,), warmup_ratio=0.0, max_length=24)
    source = tune_prompt(backbone, meta, train, dev, SPEC, seed=0, log=lambda m: None)
    # with a vanishing learning rate the transferred prompt stays the source's
    moved = tune_prompt(backbone, meta, train, dev, spec, seed=5, init_prompt=source.prompt_state, log=lambda m: None)
    assert torch.allclose(moved.embedding, source.embedding, atol=1e-5)


def test_prompt_file_round_trip_and_refusal(tmp_path):
    prompt = PromptEncoder(3, 8, 5)
    meta = {"task": "t", "backbone": "b", "length": 3, "hidden_size": 8, "mlp_hidden": 5}
    path = tmp_path / "p.safetensors"
    save_prompt(path, prompt.state_dict(), {"weight": torch.zeros(2, 8)}, prompt().detach(), meta)
    art = load_prompt(path)
    assert art.metadata == meta and torch.equal(art.prompt_state["tokens"], prompt.tokens.detach())
    check_compatible(art, path, "b", 3, 8, 5)
    with pytest.raises(ArtefactError, match="backbone='b'.*backbone='roberta-large'"):
        check_compatible(art, path, "roberta-large", 3, 8, 5)
    with pytest.raises(ArtefactError, match="length=3"):
        check_compatible(art, path, "b", 50, 8, 5)
    path.write_bytes(b"not a safetensors file")
    with pytest.raises(ArtefactError, match="delete it and rerun"):
        load_prompt(path)


def test_transfer_starts_the_head_fresh(tiny_backbone, colour_task):
    """Only the prompt encoder transfers: the target's head starts exactly as it would from a
    random prompt with the same seed, never from the source's trained head."""
    meta, train, dev = colour_task
    backbone = load_backbone(str(tiny_backbone))
    source = tune_prompt(backbone, meta, train, dev, PromptSpec(length=4, epochs=2, lrs=(0.03,), max_length=24),
                         seed=0, log=lambda m: None)
    frozen = PromptSpec(length=4, epochs=1, lrs=(1e-12,), warmup_ratio=0.0, max_length=24)  # nothing moves
    moved = tune_prompt(backbone, meta, train, dev, frozen, seed=5, init_prompt=source.prompt_state, log=lambda m: None)
    fresh = tune_prompt(backbone, meta, train, dev, frozen, seed=5, log=lambda m: None)
    assert moved.head_state.keys() == source.head_state.keys()
    for name in moved.head_state:
        assert torch.allclose(moved.head_state[name], fresh.head_state[name], atol=1e-6), name
        assert not torch.allclose(moved.head_state[name], source.head_state[name], atol=1e-3), name
    # while the prompt did come from the source
    assert torch.allclose(moved.embedding, source.embedding, atol=1e-5)
    assert not torch.allclose(fresh.embedding, source.embedding, atol=1e-3)


def test_progress_logs_the_last_step_and_counts_examples():
    from tasktransfer.prompting.training import Progress

    lines: list[str] = []
    progress = Progress(lines.append, total=3, every_seconds=3600)
    steps = [progress.update(n, torch.tensor(0.5)) for n in (16, 16, 4)]
    assert steps == [1, 2, 3] and progress.seen == 36
    assert len(lines) == 1 and lines[0].startswith("step 3/3 | loss 0.5000 |") and "left ~0s" in lines[0]


def test_schema_defaults_are_the_prompt_specs():
    """The schema documents every prompt key with its default; PromptSpec (the package used without
    the workflow) has the same ones, so a spec that leaves a key out means what the config says."""
    from dataclasses import fields
    from pathlib import Path

    import yaml

    from tasktransfer.prompting.training import PromptSpec

    repo = Path(__file__).resolve().parents[2]
    schema = yaml.safe_load((repo / "workflow" / "schemas" / "config.schema.yaml").read_text())
    keys = schema["properties"]["prompt"]["properties"]
    spec = PromptSpec()
    # group_by_length is no setting of a run: the batching that every job uses
    assert set(keys) == {f.name for f in fields(PromptSpec)} - {"group_by_length"}
    for key, entry in keys.items():
        default = getattr(spec, key)
        assert (list(default) if isinstance(default, tuple) else default) == entry["default"], key
