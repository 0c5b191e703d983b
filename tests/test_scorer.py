import torch

from tasktransfer.scorer import AffinityScorer, ScorerSpec, TrainingPair, fit_scorer, fold_of, predict


def _embeddings(n=6, length=3, hidden=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {f"t{i}": torch.randn(length, hidden, generator=g) for i in range(n)}


def test_folds_are_balanced_and_seeded():
    pairs = [TrainingPair("a", "b", float(i)) for i in range(10)]
    folds = fold_of(pairs, 3, seed=0)
    assert sorted(folds.count(k) for k in range(3)) == [3, 3, 4]
    assert folds == fold_of(pairs, 3, seed=0) != fold_of(pairs, 3, seed=1)


def test_scorer_fits_gains_and_is_deterministic(tiny_backbone):
    emb = _embeddings()
    # gain = a property of the source: the scorer must learn to read the source embedding
    pairs = [
        TrainingPair(s, t, 4.0 if s in ("t0", "t1") else -4.0)
        for s in emb for t in emb if s != t
    ]
    spec = ScorerSpec(lrs=(3e-3,), epochs=30, folds=2, batch_size=8)
    model, report = fit_scorer(str(tiny_backbone), pairs, emb, spec, seed=0, log=lambda m: None)
    assert isinstance(model, AffinityScorer)
    scores = predict(model, emb["t5"], {s: emb[s] for s in ("t0", "t1", "t2", "t3")})
    assert min(scores["t0"], scores["t1"]) > max(scores["t2"], scores["t3"])
    assert len(report["held_out"]) == len(pairs)
    _, again = fit_scorer(str(tiny_backbone), pairs, emb, spec, seed=0, log=lambda m: None)
    assert again["held_out"] == report["held_out"]


def test_scorer_backbone_is_trained(tiny_backbone):
    from tasktransfer.scorer import build_scorer, train_scorer_once

    emb = _embeddings(3)
    base = build_scorer(str(tiny_backbone))
    pairs = [TrainingPair("t0", "t1", 1.0), TrainingPair("t1", "t2", -1.0)]
    trained = train_scorer_once(base, pairs, emb, ScorerSpec(epochs=2), 1e-3, seed=0, log=lambda m: None)
    before = dict(base.encoder.named_parameters())
    changed = [n for n, p in trained.encoder.named_parameters() if not torch.equal(p, before[n])]
    assert changed, "the scorer fine-tunes its encoder"
