"""Replica training (training.tune_replicas): K runs of one task in one batched loop give each run's
metrics and prompt as training it alone does (fp32, within float rounding), and the same replicas
give the same numbers."""

from __future__ import annotations

import pytest
import torch

from tasktransfer.data.prepare import DataSpec, TaskMeta, label_set, load_raw, split_and_cap
from tasktransfer.data.registry import parse_task
from tasktransfer.prompting.backbone import load_backbone
from tasktransfer.prompting.training import PromptSpec, Replica, tune_prompt, tune_prompts, tune_replicas

QUIET = lambda m: None


@pytest.fixture(scope="module")
def backbone(tiny_backbone):
    torch.set_num_threads(1)
    return load_backbone(str(tiny_backbone))


def synthetic(name, fmt, metric, size=150, **source):
    spec = parse_task(name, {"type": "t", "format": fmt, "metric": metric,
                             "source": {"kind": "synthetic", "size": size, "seed": 1, **source}})
    # 90 training examples: batches of 16 leave a last batch of 10, so at some steps the
    # replicas' batches differ in size (and always in length: each has its own order)
    train, dev = split_and_cap(spec, load_raw(spec, None), DataSpec(max_train=90, max_dev=40))
    meta = TaskMeta(name, "t", fmt, metric, label_set(spec, train, dev), len(train), len(dev), None)
    return meta, train, dev


CASES = {
    "classification": ("classification", "accuracy", {"generator": "keyword_classification", "family": "colour"}),
    # several encoder rows per example, a varying number per batch
    "multiple_choice": ("multiple_choice", "accuracy", {"generator": "keyword_choice"}),
    # token-level head: the token states are cut back to each replica's own width
    "tagging": ("tagging", "token_accuracy", {"generator": "keyword_tagging"}),
}
SPEC = PromptSpec(length=4, epochs=3, lrs=(0.03,), batch_size=16, max_length=24, eval_last_epochs=2)


def assert_same_run(together, alone, atol=1e-4):
    assert together.lr == alone.lr
    assert [h["step"] for h in together.history] == [h["step"] for h in alone.history]
    for a, b in zip(together.history, alone.history):
        assert a["dev_score"] == pytest.approx(b["dev_score"], abs=1e-6)
        assert a["loss"] == pytest.approx(b["loss"], abs=atol)
    assert together.score == pytest.approx(alone.score, abs=1e-6)
    assert together.dev_predictions == alone.dev_predictions or together.score == pytest.approx(alone.score)
    assert torch.allclose(together.embedding, alone.embedding, atol=atol), (together.embedding - alone.embedding).abs().max()
    for name in alone.prompt_state:
        assert torch.allclose(together.prompt_state[name], alone.prompt_state[name], atol=atol), name
    for name in alone.head_state:
        assert torch.allclose(together.head_state[name], alone.head_state[name], atol=atol), name


@pytest.fixture(params=[True, False], ids=["one_pass", "pass_per_replica"])
def concat(request, monkeypatch):
    """Both training paths of ReplicaLoop: one backbone pass over the concatenated batches (a GPU's
    default) and one pass per replica (a CPU's)."""
    from tasktransfer.prompting import training

    original = training.ReplicaLoop.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **{**kwargs, "concat": request.param})

    monkeypatch.setattr(training.ReplicaLoop, "__init__", init)
    return request.param


@pytest.mark.parametrize("case", sorted(CASES))
def test_replicas_equal_runs_alone(backbone, case, concat):
    fmt, metric, source = CASES[case]
    meta, train, dev = synthetic(case, fmt, metric, **source)
    spec = PromptSpec(**{**SPEC.__dict__, "precision": "fp32"})
    # a transfer's start for one replica: another seed's prompt after a short run
    start = tune_prompt(backbone, meta, train, dev, PromptSpec(length=4, epochs=1, lrs=(0.03,), max_length=24),
                        seed=7, log=QUIET).prompt_state
    replicas = [Replica(0, 0.03), Replica(1, 0.03), Replica(0, 0.01), Replica(2, 0.03, start)]
    together = tune_replicas(backbone, meta, train, dev, spec, replicas, log=QUIET)
    assert [r.replicas for r in together] == [4] * 4
    for replica, result in zip(replicas, together):
        alone = tune_replicas(backbone, meta, train, dev, spec, [replica], log=QUIET)[0]
        assert alone.replicas == 1
        assert_same_run(result, alone)
    # the replicas did differ (seeds, learning rates, starts)
    assert not torch.allclose(together[0].embedding, together[1].embedding, atol=1e-3)
    assert not torch.allclose(together[0].embedding, together[2].embedding, atol=1e-3)


def test_seeds_and_grid_as_replicas_pick_each_seeds_best_lr(backbone, concat):
    meta, train, dev = synthetic("colour", *CASES["classification"][:2], **CASES["classification"][2])
    spec = PromptSpec(**{**SPEC.__dict__, "lrs": (1e-6, 0.03), "precision": "fp32"})
    together = tune_prompts(backbone, meta, train, dev, spec, [0, 1], log=QUIET)
    for seed, result in zip([0, 1], together):
        alone = tune_prompt(backbone, meta, train, dev, spec, seed=seed, log=QUIET)
        assert result.lr == alone.lr == 0.03
        assert_same_run(result, alone)
    # in groups of at most 3 replicas (max_replicas): the same runs
    grouped = tune_prompts(backbone, meta, train, dev, spec, [0, 1], log=QUIET, max_replicas=3)
    assert [g.replicas for g in grouped] == [3, 1]
    for a, b in zip(grouped, together):
        assert_same_run(a, b)


def test_same_replicas_give_the_same_numbers(backbone, concat):
    """Determinism: the same config and seeds give bit-identical results (the precision the
    machine trains in, bf16 included, as the workflow runs)."""
    meta, train, dev = synthetic("colour", *CASES["classification"][:2], **CASES["classification"][2])
    spec = PromptSpec(**{**SPEC.__dict__, "precision": "auto"})
    runs = [tune_prompts(backbone, meta, train, dev, spec, [0, 1, 2], log=QUIET) for _ in range(2)]
    for a, b in zip(*runs):
        assert a.history == b.history and a.score == b.score and a.dev_predictions == b.dev_predictions
        assert torch.equal(a.embedding, b.embedding)
        assert all(torch.equal(a.prompt_state[n], b.prompt_state[n]) for n in a.prompt_state)
