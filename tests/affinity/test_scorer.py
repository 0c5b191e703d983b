import re

import pytest
import torch

from tasktransfer.affinity.scorer import (
    AffinityScorer,
    ScorerEnsemble,
    ScorerSpec,
    TrainingPair,
    build_scorer,
    fit_scorer,
    grouped_splits,
    load_scorer,
    plan_folds,
    pool_statistics,
    predict,
    task_folds,
    train_scorer_once,
    training_labels,
)

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
    from tasktransfer.affinity import scorer

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
    _, report = fit_scorer(str(tiny_backbone), pairs, emb, ScorerSpec(lrs=(1e-3,), epochs=1, folds=3, ensemble=1), seed=0, **QUIET)
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
    spec = ScorerSpec(lrs=(3e-3,), epochs=15, folds=2, batch_size=8, ensemble=2)
    model, report = fit_scorer(str(tiny_backbone), pairs, emb, spec, seed=0, **QUIET)
    assert isinstance(model, ScorerEnsemble) and len(model.members) == spec.ensemble == 2
    scores = predict(model, emb["t5"], {s: emb[s] for s in ("t0", "t1", "t2", "t3")})
    assert min(scores["t0"], scores["t1"]) > max(scores["t2"], scores["t3"])
    assert report["held_out"] and all(p["fold"] is not None for p in report["held_out"])
    # same config and seed: the same numbers, held-out and final
    again_model, again = fit_scorer(str(tiny_backbone), pairs, emb, spec, seed=0, **QUIET)
    assert again["held_out"] == report["held_out"]
    assert predict(again_model, emb["t5"], {s: emb[s] for s in ("t0", "t1", "t2", "t3")}) == scores


def test_input_order_is_target_then_source(tiny_backbone):
    """Gains that depend on the direction only: A -> B helps (+4), B -> A hurts (-4). A scorer
    whose training and prediction disagree on [P_target; P_source] ranks them backwards."""
    emb = _embeddings(6)
    a, b = ["t0", "t1", "t2"], ["t3", "t4", "t5"]
    pairs = [TrainingPair(s, t, 4.0) for s in a for t in b] + [TrainingPair(s, t, -4.0) for s in b for t in a]
    model = train_scorer_once(build_scorer(str(tiny_backbone)), pairs, emb, ScorerSpec(epochs=40, batch_size=6, target_label="raw"), 1e-2, 0, **QUIET)
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
        spec = ScorerSpec(epochs=1, batch_size=8, beta=beta, warmup_ratio=0.0, target_label="raw")
        train_scorer_once(base, pairs, emb, spec, 1e-12, 0, log=lines.append)
        losses[beta] = _logged_loss(lines)
    assert losses[100.0] > 0
    assert losses[100.0] / losses[1000.0] == pytest.approx(10.0, rel=0.05)
    # and beta changes what is learned: L1-like (small beta) and L2-like (large beta) updates differ
    heads = []
    for beta in (0.01, 100.0):
        spec = ScorerSpec(epochs=3, batch_size=8, beta=beta, target_label="raw")
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
    trained = train_scorer_once(base, pairs, emb, ScorerSpec(epochs=2, target_label="raw"), 1e-3, seed=0, **QUIET)
    before = dict(base.encoder.named_parameters())
    changed = [n for n, p in trained.encoder.named_parameters() if not torch.equal(p, before[n])]
    assert changed, "the scorer fine-tunes its encoder"


# --------------------------------------------------------------------------- the fixed scorer (spec fields)


def test_training_labels_on_hand_made_gains():
    pairs = [TrainingPair("a", "T", 1.0), TrainingPair("b", "T", 3.0), TrainingPair("c", "T", 8.0),
             TrainingPair("a", "U", 5.0), TrainingPair("b", "V", 2.0), TrainingPair("c", "V", 2.0)]
    assert training_labels(pairs, "raw") == [1.0, 3.0, 8.0, 5.0, 2.0, 2.0]
    # T's mean is 4; U has one pair and V equal gains: 0
    assert training_labels(pairs, "centred") == [-3.0, -1.0, 4.0, 0.0, 0.0, 0.0]
    sd = (26 / 3) ** 0.5  # population sd of 1, 3, 8
    assert training_labels(pairs, "standardised") == pytest.approx([-3 / sd, -1 / sd, 4 / sd, 0.0, 0.0, 0.0])


def test_cv_folds_and_the_final_fit_take_the_same_number_of_steps(tiny_backbone, monkeypatch):
    """Before: steps followed each fold's pair count, so fold models (fewer pairs) trained fewer
    steps than the final one and the lr was chosen for a different training length."""
    from tasktransfer.affinity import scorer

    counter = {"steps": 0}
    real_step = torch.optim.Adam.step

    def counting_step(self, *args, **kwargs):
        counter["steps"] += 1
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", counting_step)
    runs = []
    real_train = scorer.train_scorer_once

    def spy(base, pairs, *args, **kwargs):
        before = counter["steps"]
        model = real_train(base, pairs, *args, **kwargs)
        runs.append((len(pairs), counter["steps"] - before))
        return model

    monkeypatch.setattr(scorer, "train_scorer_once", spy)
    emb = _embeddings(6)
    pairs = _all_pairs(sorted(emb), lambda s, t: float(int(s[1])))  # 30 pairs
    spec = ScorerSpec(lrs=(1e-3,), epochs=2, batch_size=4, folds=3, ensemble=2)
    fit_scorer(str(tiny_backbone), pairs, emb, spec, seed=0, **QUIET)
    assert len(runs) == 3 + 2  # three folds, two ensemble members
    assert [n for n, _ in runs[:3]] and all(n < 30 for n, _ in runs[:3]) and [n for n, _ in runs[3:]] == [30, 30]
    assert [steps for _, steps in runs] == [2 * 8] * 5  # epochs x ceil(30 / 4) of the full pair set, every model
    runs.clear()
    fit_scorer(str(tiny_backbone), pairs, emb, ScorerSpec(lrs=(1e-3,), folds=3, ensemble=1, steps=5), seed=0, **QUIET)
    assert [steps for _, steps in runs] == [5] * 4


def _without_positions(model):
    """Zero and freeze the position embeddings: the encoder no longer knows where a vector sits."""
    for member in getattr(model, "members", [model]):
        weight = member.encoder.embeddings.position_embeddings.weight
        with torch.no_grad():
            weight.zero_()
        weight.requires_grad_(False)
    return model


def test_the_segment_embedding_marks_the_target_half(tiny_backbone):
    """Without positions the encoder and the mean over its states ignore order: only the segment
    embedding tells target from source. Gains that depend on the direction alone (A -> B +4,
    B -> A -4) are learned with it; without it swapping target and source gives the same number."""
    emb = _embeddings(6)
    a, b = ["t0", "t1", "t2"], ["t3", "t4", "t5"]
    pairs = [TrainingPair(s, t, 4.0) for s in a for t in b] + [TrainingPair(s, t, -4.0) for s in b for t in a]
    for segments in (False, True):
        spec = ScorerSpec(epochs=40, batch_size=6, target_label="raw", segments=segments, ensemble=1)
        base = _without_positions(build_scorer(str(tiny_backbone), spec))
        base.set_standardisation(*pool_statistics(emb.values()))
        model = train_scorer_once(base, pairs, emb, spec, 3e-3, 0, **QUIET)
        assert torch.count_nonzero(model.encoder.embeddings.position_embeddings.weight) == 0
        for s in a:
            for t in b:
                forward = predict(model, emb[t], {s: emb[s]})[s]
                backward = predict(model, emb[s], {t: emb[t]})[t]
                if segments:
                    assert forward > 1.0 and backward < -1.0, (s, t, forward, backward)
                else:
                    assert forward == pytest.approx(backward, abs=1e-4), (s, t, forward, backward)


def test_segments_are_added_to_their_halves(tiny_backbone):
    spec = ScorerSpec(segments=True, standardise=False, ensemble=1)
    scorer = build_scorer(str(tiny_backbone), spec)
    torch.manual_seed(0)
    scorer.reset_new_parameters()
    seen = {}
    scorer.encoder.register_forward_pre_hook(lambda m, args, kwargs: seen.update(kwargs), with_kwargs=True)
    target, source = torch.zeros(1, 3, 32), torch.ones(1, 3, 32)
    scorer(target, source)
    seg = scorer.segment.detach()
    assert not torch.equal(seg[0], seg[1])
    assert torch.equal(seen["inputs_embeds"], torch.cat([target + seg[0], source + seg[1]], dim=1))


def _planted_pool(hidden=32):
    """Two tasks whose 6 token vectors have, on every hidden unit j, mean j and sd 2 + j / 10."""
    mean = torch.arange(hidden, dtype=torch.float)
    sd = 2 + mean / 10
    sign = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, -1.0]).unsqueeze(1)
    tokens = mean + sign * sd  # (6, H)
    return {"a": tokens[:3], "b": tokens[3:]}, mean, sd


def test_standardisation_statistics_are_stored_and_applied(tiny_backbone, tmp_path):
    from tasktransfer.io import load_tensors, save_tensors

    emb, mean, sd = _planted_pool()
    got_mean, got_sd = pool_statistics(emb.values())
    assert torch.allclose(got_mean, mean) and torch.allclose(got_sd, sd)
    pairs = [TrainingPair("a", "b", 1.0), TrainingPair("b", "a", -1.0)]
    spec = ScorerSpec(lrs=(1e-3,), epochs=1, segments=False, standardise=True, ensemble=1)
    model, _ = fit_scorer(str(tiny_backbone), pairs, emb, spec, seed=0, **QUIET)
    word_sd = float(model.encoder.get_input_embeddings().weight.detach().std())
    assert torch.allclose(model.input_mean, mean) and torch.allclose(model.input_std, sd)
    assert float(model.input_scale) == pytest.approx(word_sd)
    # applied at prediction: the encoder reads (x - mean) / sd x the word embeddings' sd
    seen = {}
    model.encoder.register_forward_pre_hook(lambda m, args, kwargs: seen.update(kwargs), with_kwargs=True)
    predict(model, emb["a"], {"b": emb["b"]})
    expected = (torch.cat([emb["a"], emb["b"]]) - mean) / sd * word_sd
    assert torch.allclose(seen["inputs_embeds"][0], expected, atol=1e-5)
    # stored with the model: a loaded scorer has them
    save_tensors(tmp_path / "s.safetensors", model.state_dict(), {"backbone": str(tiny_backbone), "spec": spec.to_dict()})
    loaded = load_scorer(*load_tensors(tmp_path / "s.safetensors"))
    assert torch.equal(loaded.input_mean, model.input_mean) and torch.equal(loaded.input_std, model.input_std)


def test_the_lr_is_chosen_by_spearman_where_mae_disagrees(tiny_backbone, monkeypatch):
    """Planted held-out predictions: lr 1e-5 is close in value but ranks every target's sources
    backwards (MAE at most 3, Spearman -1); lr 1e-4 ranks them right but is 10 points off (MAE 10,
    Spearman +1). Spearman must pick 1e-4, MAE 1e-5, whatever the grid's order."""
    from tasktransfer.affinity import scorer

    tasks = ["a", "b", "c", "d"]
    pairs = _all_pairs(tasks, lambda s, t: float(tasks.index(s)))

    def planted(base, pairs, emb, spec, lr, seed, splits, log, target_emb=None, steps=None):
        held = {}
        for _, test in splits:
            for i in test:
                g = pairs[i].gain
                held[i] = 10.0 + g if lr == 1e-4 else 3.0 - g
        return held

    trained = []
    real_train = scorer.train_scorer_once

    def spy(base, pairs, emb, spec, lr, *args, **kwargs):
        trained.append(lr)
        return real_train(base, pairs, emb, spec, lr, *args, **kwargs)

    monkeypatch.setattr(scorer, "cross_validate", planted)
    monkeypatch.setattr(scorer, "train_scorer_once", spy)
    emb = {t: e for t, e in zip(tasks, _embeddings(4).values())}
    for lrs in ((1e-5, 1e-4), (1e-4, 1e-5)):
        for select_on, want in (("spearman", 1e-4), ("mae", 1e-5)):
            trained.clear()
            spec = ScorerSpec(lrs=lrs, epochs=1, folds=2, ensemble=1, target_label="raw", select_on=select_on)
            _, report = fit_scorer(str(tiny_backbone), pairs, emb, spec, seed=0, **QUIET)
            assert report["lr"] == want and trained == [want], (lrs, select_on, report["lr"])
            assert report["cv_spearman"] == pytest.approx({"1e-05": -1.0, "0.0001": 1.0})
            assert report["cv_mae"]["0.0001"] == pytest.approx(10.0) and report["cv_mae"]["1e-05"] <= 3.0
            assert report["selected_on"] == select_on


def test_ensemble_prediction_is_the_mean_of_its_members(tiny_backbone):
    emb = _embeddings(4)
    pairs = _all_pairs(sorted(emb), lambda s, t: float(int(s[1])))
    spec = ScorerSpec(lrs=(1e-3,), epochs=2, folds=2, ensemble=3)
    model, report = fit_scorer(str(tiny_backbone), pairs, emb, spec, seed=0, **QUIET)
    assert report["ensemble_seeds"] == [0, 1, 2]
    sources = {s: emb[s] for s in ("t1", "t2", "t3")}
    whole = predict(model, emb["t0"], sources)
    members = [predict(m, emb["t0"], sources) for m in model.members]
    assert len({tuple(m.values()) for m in members}) == 3  # seeds differ
    for s in sources:
        assert whole[s] == pytest.approx(sum(m[s] for m in members) / 3, abs=1e-6)


def test_train_layers_top_1_leaves_the_lower_layers_unchanged(tiny_backbone):
    emb = _embeddings(3)
    pairs = [TrainingPair("t0", "t1", 1.0), TrainingPair("t1", "t2", -1.0), TrainingPair("t2", "t1", 2.0)]
    spec = ScorerSpec(epochs=3, train_layers="top-1", target_label="raw", ensemble=1)
    base = build_scorer(str(tiny_backbone), spec)
    trained = train_scorer_once(base, pairs, emb, spec, 1e-2, 0, **QUIET)
    before = dict(base.encoder.named_parameters())
    changed = {n for n, p in trained.encoder.named_parameters() if not torch.equal(p, before[n])}
    top = {n for n in before if n.startswith("encoder.layer.1.")}
    assert top and changed == top, sorted(changed ^ top)  # exactly the top layer (of 2) moved
    assert not torch.equal(trained.segment, base.segment)  # the segment embedding trains
    with pytest.raises(ValueError, match="only 2 layers"):
        train_scorer_once(base, pairs, emb, ScorerSpec(epochs=1, train_layers="top-3"), 1e-2, 0, **QUIET)


def test_a_saved_and_loaded_scorer_predicts_the_same_numbers(tiny_backbone, tmp_path):
    from tasktransfer.errors import ArtefactError
    from tasktransfer.io import load_tensors, save_tensors

    emb = _embeddings(4)
    pairs = _all_pairs(sorted(emb), lambda s, t: float(int(s[1])))
    spec = ScorerSpec(lrs=(1e-3,), epochs=2, folds=2, ensemble=2, segments=True, standardise=True)
    model, report = fit_scorer(str(tiny_backbone), pairs, emb, spec, seed=0, **QUIET)
    path = tmp_path / "model.safetensors"
    meta = {"backbone": str(tiny_backbone), "spec": spec.to_dict(), "lr": report["lr"]}
    save_tensors(path, model.state_dict(), meta)
    loaded = load_scorer(*load_tensors(path))
    sources = {s: emb[s] for s in ("t1", "t2", "t3")}
    assert predict(loaded, emb["t0"], sources) == predict(model, emb["t0"], sources)
    # a file from before these fields (spec without them): the plain scorer
    save_tensors(tmp_path / "old.safetensors", build_scorer(str(tiny_backbone)).state_dict(),
                 {"backbone": str(tiny_backbone), "spec": {"lrs": [0.001]}})
    assert isinstance(load_scorer(*load_tensors(tmp_path / "old.safetensors")), AffinityScorer)
    # a spec that does not match the tensors is refused before building members
    with pytest.raises(ArtefactError, match="ensemble 5"):
        load_scorer(model.state_dict(), {**meta, "spec": {**spec.to_dict(), "ensemble": 5}})
    with pytest.raises(ArtefactError, match="do not fit"):
        load_scorer(model.state_dict(), {**meta, "spec": {**spec.to_dict(), "segments": False}})


def test_spec_refuses_unknown_settings():
    for bad in ({"target_label": "median"}, {"select_on": "r2"}, {"ensemble": 0}, {"ensemble": 17}, {"train_layers": "top-0"},
                {"train_layers": "bottom-2"}, {"steps": 0}):
        with pytest.raises(ValueError):
            ScorerSpec.from_dict(bad)


def test_schema_defaults_are_the_specs_and_the_paper_config_is_the_papers_scorer():
    from pathlib import Path

    import yaml

    repo = Path(__file__).resolve().parents[2]
    schema = yaml.safe_load((repo / "workflow" / "schemas" / "config.schema.yaml").read_text())
    keys = schema["properties"]["scorer"]["properties"]
    defaults = ScorerSpec().to_dict()
    assert set(keys) - {"seed"} == set(defaults)
    assert {k: v["default"] for k, v in keys.items() if k != "seed"} == defaults
    paper = ScorerSpec.from_dict(yaml.safe_load((repo / "config" / "paper.yaml").read_text())["scorer"])
    assert paper.lrs == (1e-5, 2e-5, 3e-5) and paper.beta == 1.0
    assert (paper.segments, paper.standardise, paper.target_label, paper.ensemble, paper.train_layers) == (
        False, False, "raw", 1, "all")
    for name in ("config.yaml", "study.yaml"):  # the fixed scorer
        spec = ScorerSpec.from_dict(yaml.safe_load((repo / "config" / name).read_text())["scorer"])
        assert spec.segments and spec.standardise and spec.target_label != "raw" and spec.select_on == "spearman"
        assert {1e-5, 3e-5, 1e-4} <= set(spec.lrs) and spec.ensemble > 1  # the paper's range beside 1e-4
