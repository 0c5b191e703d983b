import re

import pytest
import torch

from tasktransfer.affinity.scorer import AffinityScorer, ScorerSpec, TrainingPair, build_scorer, fit_scorer, grouped_splits, plan_folds, predict, task_folds, train_scorer_once

QUIET = dict(log=lambda m: None)


def _embeddings(n=6, length=3, hidden=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {f"t{i}": torch.randn(length, hidden, generator=g) for i in range(n)}


def _all_pairs(tasks, gain=lambda s, t: 0.0):
    return [TrainingPair(s, t, gain(s, t)) for s in tasks for t in tasks if s != t]


# --------------------------------------------------------------------------- task-grouped folds


def test_folds_deal_tasks_evenly_and_are_seeded():
    pairs = _all_pairs([f"t{i}" for i in range(10)])
    fold = task_folds(pairs, 3, seed=0)
    assert sorted(fold) == [f"t{i}" for i in range(10)]
    assert sorted(list(fold.values()).count(k) for k in range(3)) == [3, 3, 4]
    assert fold == task_folds(pairs, 3, seed=0) != task_folds(pairs, 3, seed=1)


def test_no_held_out_target_has_a_pair_on_the_training_side():
    """The bug this catches: pairs split at random, so a target's other pairs train the model
    that predicts it (an optimistic held-out score)."""
    tasks = [f"t{i}" for i in range(9)]
    pairs = _all_pairs(tasks)
    fold = task_folds(pairs, 3, seed=0)
    splits = grouped_splits(pairs, fold, 3)
    predicted = []
    for k, (train, test) in enumerate(splits):
        held = {t for t, f in fold.items() if f == k}
        train_tasks = {x for i in train for x in (pairs[i].source, pairs[i].target)}
        assert test and not held & train_tasks
        assert all(pairs[i].target in held and pairs[i].source not in held for i in test)
        # training keeps every pair among the other folds' tasks
        assert len(train) == len([p for p in pairs if p.source not in held and p.target not in held])
        predicted += test
    # each pair is predicted at most once, and every pair across two folds is predicted
    assert len(predicted) == len(set(predicted))
    assert set(predicted) == {i for i, p in enumerate(pairs) if fold[p.source] != fold[p.target]}


def test_too_few_pairs_means_more_folds_then_no_cv():
    logs = []
    # 5 tasks, 7 pairs: with two folds a held-out half leaves fewer than 2 training pairs
    tasks = [f"t{i}" for i in range(5)]
    pairs = _all_pairs(tasks)[::3]
    plan = plan_folds(pairs, ScorerSpec(folds=2), seed=0, log=logs.append)
    assert plan["folds"] > 2
    assert any("instead of 2" in m for m in logs)
    for train, test in plan["splits"]:
        assert not test or len(train) >= 2
    logs.clear()
    tiny = [TrainingPair("a", "b", 1.0), TrainingPair("b", "c", 2.0)]  # any held-out task empties training
    assert plan_folds(tiny, ScorerSpec(folds=2), seed=0, log=logs.append)["folds"] == 0
    assert any("impossible" in m and "raise pairs.m" in m for m in logs)


def test_cv_fold_models_never_train_on_the_target_they_predict(tiny_backbone, monkeypatch):
    """Spy on every model CV trains: the pairs it predicts have targets absent from its data."""
    import tasktransfer.affinity.scorer as scorer

    seen, checked = [], []
    real = scorer.train_scorer_once

    def spy(base, pairs, *args, **kwargs):
        model = real(base, pairs, *args, **kwargs)
        seen.append({x for p in pairs for x in (p.source, p.target)})
        model._trained_on, model._n_pairs = seen[-1], len(pairs)
        return model

    real_predict = scorer.predict

    def checked_predict(model, target_emb, source_embs):
        trained = getattr(model, "_trained_on", None)
        if trained is not None and model._n_pairs < len(pairs):  # a fold model, not the final one
            target = next(n for n, e in emb.items() if torch.equal(e, target_emb))
            assert target not in trained, f"fold model trained on pairs of its held-out target {target}"
            checked.append(target)
        return real_predict(model, target_emb, source_embs)

    emb = _embeddings(6)
    monkeypatch.setattr(scorer, "train_scorer_once", spy)
    monkeypatch.setattr(scorer, "predict", checked_predict)
    pairs = _all_pairs(sorted(emb), lambda s, t: float(int(s[1]) - int(t[1])))
    _, report = fit_scorer(str(tiny_backbone), pairs, emb, ScorerSpec(lrs=(1e-3,), epochs=1, folds=3), seed=0, **QUIET)
    cv = report["cv"]
    assert cv["grouped_by"] == "target task" and cv["folds"] == 3
    assert [f["train_pairs"] for f in cv["per_fold"]] == [len(tr) for tr, _ in plan_folds(pairs, ScorerSpec(folds=3), 0, **QUIET)["splits"]]
    assert sum(f["test_pairs"] for f in cv["per_fold"]) == cv["predicted_pairs"] == len(report["held_out"])
    assert cv["predicted_pairs"] + cv["unpredicted_pairs"] == len(pairs)
    assert len(seen) == 3 + 1  # one model per fold, then the final one on all pairs
    assert len(checked) == len(report["held_out"])  # every held-out prediction was checked


# --------------------------------------------------------------------------- the model


def test_scorer_fits_gains_and_is_deterministic(tiny_backbone):
    emb = _embeddings()
    # gain = a property of the source: the scorer must learn to read the source embedding
    pairs = _all_pairs(sorted(emb), lambda s, t: 4.0 if s in ("t0", "t1") else -4.0)
    spec = ScorerSpec(lrs=(3e-3,), epochs=30, folds=2, batch_size=8)
    model, report = fit_scorer(str(tiny_backbone), pairs, emb, spec, seed=0, **QUIET)
    assert isinstance(model, AffinityScorer)
    scores = predict(model, emb["t5"], {s: emb[s] for s in ("t0", "t1", "t2", "t3")})
    assert min(scores["t0"], scores["t1"]) > max(scores["t2"], scores["t3"])
    assert report["held_out"] and all(p["fold"] is not None for p in report["held_out"])
    _, again = fit_scorer(str(tiny_backbone), pairs, emb, spec, seed=0, **QUIET)
    assert again["held_out"] == report["held_out"]


def test_input_order_is_target_then_source(tiny_backbone):
    """Gains that depend on the direction only: A -> B helps (+4), B -> A hurts (-4). A scorer
    whose training and prediction disagree on [P_target; P_source] ranks them backwards."""
    emb = _embeddings(6)
    a, b = ["t0", "t1", "t2"], ["t3", "t4", "t5"]
    pairs = [TrainingPair(s, t, 4.0) for s in a for t in b] + [TrainingPair(s, t, -4.0) for s in b for t in a]
    model = train_scorer_once(build_scorer(str(tiny_backbone)), pairs, emb, ScorerSpec(epochs=40, batch_size=6), 1e-2, 0, **QUIET)
    for s in a:
        for t in b:
            forward = predict(model, emb[t], {s: emb[s]})[s]  # target t in B, source s in A: +4
            backward = predict(model, emb[s], {t: emb[t]})[t]  # target s in A, source t in B: -4
            assert forward > 1.0 and backward < -1.0, (s, t, forward, backward)


def test_forward_puts_the_target_first(tiny_backbone):
    scorer = build_scorer(str(tiny_backbone))
    seen = {}

    def record(module, args, kwargs):
        seen["embeds"] = kwargs["inputs_embeds"]

    scorer.encoder.register_forward_pre_hook(record, with_kwargs=True)
    target, source = torch.zeros(1, 3, 32), torch.ones(1, 3, 32)
    scorer(target, source)
    assert torch.equal(seen["embeds"], torch.cat([target, source], dim=1))


def _logged_loss(lines):
    return float(re.search(r"loss ([\d.]+)", [m for m in lines if "epoch" in m][-1]).group(1))


def test_beta_reaches_the_loss(tiny_backbone):
    """Smooth L1 is 0.5 e^2 / beta while |e| < beta: with the same model, data and seed, the first
    epoch's loss at beta 100 is 10 times that at beta 1000 (1:1 if beta were ignored)."""
    emb = _embeddings(3)
    pairs = [TrainingPair("t0", "t1", 3.0), TrainingPair("t1", "t2", -2.0), TrainingPair("t2", "t0", 0.5)]
    base = build_scorer(str(tiny_backbone))
    losses = {}
    for beta in (100.0, 1000.0):
        lines = []
        spec = ScorerSpec(epochs=1, batch_size=8, beta=beta, warmup_ratio=0.0)
        train_scorer_once(base, pairs, emb, spec, 1e-12, 0, log=lines.append)
        losses[beta] = _logged_loss(lines)
    assert losses[100.0] > 0
    assert losses[100.0] / losses[1000.0] == pytest.approx(10.0, rel=0.05)
    # and beta changes what is learned: L1-like (small beta) and L2-like (large beta) updates differ
    heads = []
    for beta in (0.01, 100.0):
        spec = ScorerSpec(epochs=3, batch_size=8, beta=beta)
        heads.append(train_scorer_once(base, pairs, emb, spec, 1e-2, 0, **QUIET).head.weight.detach())
    assert not torch.allclose(heads[0], heads[1])


def test_scorer_starts_from_the_pretrained_backbone(tiny_backbone):
    """Its encoder holds the backbone's pretrained weights (not a fresh random init of the same
    architecture), and is then fine-tuned."""
    from tasktransfer.prompting.backbone import load_backbone

    base = build_scorer(str(tiny_backbone))
    pretrained = dict(load_backbone(str(tiny_backbone)).model.named_parameters())
    for name, p in base.encoder.named_parameters():
        assert torch.equal(p, pretrained[name]), name
        assert p.requires_grad, f"{name} is frozen; the scorer fine-tunes its encoder"
    emb = _embeddings(3)
    pairs = [TrainingPair("t0", "t1", 1.0), TrainingPair("t1", "t2", -1.0)]
    trained = train_scorer_once(base, pairs, emb, ScorerSpec(epochs=2), 1e-3, seed=0, **QUIET)
    before = dict(base.encoder.named_parameters())
    changed = [n for n, p in trained.encoder.named_parameters() if not torch.equal(p, before[n])]
    assert changed, "the scorer fine-tunes its encoder"


def test_held_out_figure_draws_with_and_without_cv(tmp_path):
    from tasktransfer.analysis.plots import scorer_held_out

    scorer_held_out({"held_out": []}, tmp_path / "none.png")  # too few pairs for CV: a note, no crash
    rows = [{"source": "a", "target": "b", "gain": 1.0, "predicted": 0.5, "fold": 0},
            {"source": "b", "target": "a", "gain": -1.0, "predicted": 0.1, "fold": 1}]
    scorer_held_out({"held_out": rows}, tmp_path / "some.png")
    assert (tmp_path / "none.png").stat().st_size > 1000 and (tmp_path / "some.png").stat().st_size > 1000
