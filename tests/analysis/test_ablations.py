"""The paper's analyses: hand-made numbers for each table, the commands behind them and the plan of
the ablation jobs (the workflow targets, planned and run after a finished tiny run, are
tests/workflow/test_ablations_run.py)."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import torch

from tasktransfer import cli
from tasktransfer.analysis.ablations import PRETRAINED, finetune_table, pick_quality, seed_interval, size_of_path, size_table, sweep_table, top_picks, unseen_type_table

T_975_1 = 12.706204736174707  # Student t, 97.5 % quantile, 1 degree of freedom


def _gains() -> pd.DataFrame:
    """One target t1, sources a, b, c, seeds 0 and 1 (r1 50 and 52).

    mean gains: a 3 (4, 2), b 4 (2, 6), c -1 (-1, -1); mean r2: a 54, b 55, c 50.
    """
    rows = [
        ("a", 0, 50, 54), ("a", 1, 52, 54),
        ("b", 0, 50, 52), ("b", 1, 52, 58),
        ("c", 0, 50, 49), ("c", 1, 52, 51),
    ]
    return pd.DataFrame(
        [{"source": s, "target": "t1", "seed": seed, "metric": "accuracy", "r1": r1, "r2": r2, "gain": r2 - r1}
         for s, seed, r1, r2 in rows]
    )


def _ranking(scores: dict[str, float], target: str = "t1", method: str = "scorer") -> pd.DataFrame:
    return pd.DataFrame({"method": method, "target": target, "source": list(scores), "score": list(scores.values())})


def test_seed_interval_is_a_t_interval_and_empty_for_one_seed():
    mean, lo, hi = seed_interval([4.0, 2.0])
    assert mean == 3.0
    assert hi - mean == pytest.approx(T_975_1 * math.sqrt(2) / math.sqrt(2))
    assert mean - lo == pytest.approx(hi - mean)
    one = seed_interval([5.0])
    assert one[0] == 5.0 and math.isnan(one[1]) and math.isnan(one[2])


def test_pick_quality_by_hand():
    ranking = _ranking({"a": 0.9, "c": 0.5, "b": 0.1}).assign(variant="v")
    table = pick_quality(ranking, _gains(), [1, 2, 3]).set_index("k")
    # top-1: a, gains 4 and 2
    assert table.loc[1, "gain"] == pytest.approx(3.0)
    assert table.loc[1, "gain_hi"] == pytest.approx(3.0 + T_975_1)
    # top-2 {a, c}: a has the better mean r2 (54 vs 50); top-3: b (55)
    assert table.loc[2, "gain"] == pytest.approx(3.0)
    assert table.loc[3, "gain"] == pytest.approx(4.0)
    # Spearman per seed: +0.5 (seed 0) and -0.5 (seed 1); against the seed-mean gains -0.5
    assert table.loc[1, "spearman"] == pytest.approx(0.0)
    assert table.loc[1, "spearman_hi"] == pytest.approx(1.0)  # t interval 0 +- 6.35, clipped to [-1, 1]
    assert table.loc[1, "spearman_of_means"] == pytest.approx(-0.5)
    # Regret@1 on mean r2: 100 (55 - 54) / 55
    assert table.loc[1, "regret"] == pytest.approx(100 / 55)
    assert table.loc[3, "regret"] == pytest.approx(0.0)
    assert set(table.seeds) == {2} and set(table.targets) == {1}


def test_sweep_table_adds_brute_force_and_orders_by_value():
    gains = _gains()
    rankings = {1.0: _ranking({"a": 0.9, "c": 0.5, "b": 0.1}), 0.1: _ranking({"b": 0.9, "a": 0.5, "c": 0.1})}
    table = sweep_table("beta", rankings, gains, [1])
    scorer = table[table.method == "scorer"]
    assert list(scorer.beta) == [0.1, 1.0]
    assert list(scorer.gain) == pytest.approx([4.0, 3.0])  # beta 0.1 picks b, beta 1 picks a
    bf = table[table.method == "brute_force"].iloc[0]
    assert math.isnan(bf.beta)
    assert bf.gain == pytest.approx(4.0)  # b, the best mean gain
    # brute force's seed-mean order against each seed's gains: 0.5 and 1.0
    assert bf.spearman == pytest.approx(0.75)


def test_unseen_type_table_compares_methods_per_type_and_keeps_skipped_types():
    gains = pd.concat([_gains(), _gains().assign(target="t2")], ignore_index=True)
    rankings = {
        "sentiment": {
            "scorer_without_type": _ranking({"a": 0.1, "b": 0.2, "c": 0.9}),  # picks c: -1
            "scorer": _ranking({"a": 0.9, "b": 0.2, "c": 0.1}),  # picks a: +3
            "cosine_mean": _ranking({"a": 0.1, "b": 0.9, "c": 0.2}),  # picks b: +4
        }
    }
    table = unseen_type_table(rankings, gains, [1], skipped={"topic": "fewer than 2 pairs"})
    sentiment = table[table.type == "sentiment"].set_index("method")
    # only the targets of the type that were ranked count: t1, not t2
    assert set(sentiment.targets) == {1}
    assert sentiment.loc["scorer_without_type", "gain"] == pytest.approx(-1.0)
    assert sentiment.loc["scorer", "gain"] == pytest.approx(3.0)
    assert sentiment.loc["cosine_mean", "gain"] == pytest.approx(4.0)
    assert sentiment.loc["brute_force", "gain"] == pytest.approx(4.0)
    assert list(table[table.type == "sentiment"].method)[:2] == ["scorer_without_type", "scorer"]
    topic = table[table.type == "topic"].iloc[0]
    assert topic.note == "fewer than 2 pairs" and math.isnan(topic.gain)


def test_top_picks_and_sizes_of_paths():
    rankings = pd.concat(
        [_ranking({"a": 0.9, "b": 0.9, "c": 0.1}, method="scorer"),  # tie: by name, a
         _ranking({"a": 3.0, "b": 4.0, "c": -1.0}, method="brute_force"),
         _ranking({"a": 0.2, "b": 0.1, "c": 0.7}, method="random"),
         _ranking({"a": 0.0, "b": 0.0, "c": 1.0}, method="cosine_mean")],
        ignore_index=True,
    )
    picks = top_picks(rankings).set_index("method").source
    assert dict(picks) == {"scorer": "a", "brute_force": "b", "random": "c"}
    with pytest.raises(Exception, match="random"):
        top_picks(rankings[rankings.method != "random"])
    assert size_of_path("results/transfer/n64/a/t1/seed0/metrics.json") == "64"
    assert size_of_path("/x/results/transfer/nall/a/t1/seed0/metrics.json") == "all"


def test_size_table_by_hand():
    picks = pd.DataFrame({"method": ["scorer", "brute_force", "random"], "target": "t1", "source": ["a", "b", "a"]})
    runs = []
    # size 16: r1 40 / 44; a +6 / +4, b +1 / +1.  size 48: r1 50 / 52; a +1 / +1, b +2 / +4
    for size, r1s, gains in (("16", (40, 44), {"a": (6, 4), "b": (1, 1)}), ("48", (50, 52), {"a": (1, 1), "b": (2, 4)})):
        for source, by_seed in gains.items():
            for seed, (r1, g) in enumerate(zip(r1s, by_seed)):
                runs.append({"size": size, "source": source, "target": "t1", "seed": seed, "r1": r1, "r2": r1 + g, "gain": g})
    table = size_table(pd.DataFrame(runs), picks)
    row = table[(table.target == "t1")].set_index(["size", "method"])
    assert row.loc[("16", "scorer"), "gain"] == pytest.approx(5.0)
    assert row.loc[("16", "random"), "source"] == "a"
    assert row.loc[("48", "brute_force"), "gain"] == pytest.approx(3.0)
    assert row.loc[("48", "scorer"), "r1"] == pytest.approx(51.0)
    assert row.loc[("16", "scorer"), "gain_lo"] == pytest.approx(5.0 - T_975_1)
    mean = table[table.target == "(mean)"].set_index(["size", "method"])
    assert mean.loc[("16", "brute_force"), "gain"] == pytest.approx(1.0)
    assert list(table["size"].unique()) == ["16", "48"]  # numeric order of sizes
    with pytest.raises(Exception, match="no transfer run"):
        size_table(pd.DataFrame(runs)[lambda d: d.source != "b"], picks)


def test_finetune_table_by_hand():
    runs = pd.DataFrame(
        [
            {"init": PRETRAINED, "target": "t1", "seed": 0, "score": 60.0},
            {"init": PRETRAINED, "target": "t1", "seed": 1, "score": 62.0},
            {"init": "a", "target": "t1", "seed": 0, "score": 65.0},
            {"init": "a", "target": "t1", "seed": 1, "score": 63.0},
            {"init": PRETRAINED, "target": "t2", "seed": 0, "score": 70.0},
            {"init": PRETRAINED, "target": "t2", "seed": 1, "score": 70.0},
            {"init": "b", "target": "t2", "seed": 0, "score": 71.0},
            {"init": "b", "target": "t2", "seed": 1, "score": 73.0},
        ]
    )
    picks = pd.DataFrame({"method": "scorer", "target": ["t1", "t2"], "source": ["a", "b"]})
    table = finetune_table(runs, picks).set_index("target")
    assert table.loc["t1", "no_transfer"] == 61.0 and table.loc["t1", "score"] == 64.0
    assert table.loc["t1", "gain"] == pytest.approx(3.0)  # paired: +5, +1
    assert table.loc["t2", "gain"] == pytest.approx(2.0)
    # the mean over targets per seed: (5 + 1) / 2 = 3 and (1 + 3) / 2 = 2
    assert table.loc["(mean)", "gain"] == pytest.approx(2.5)
    assert table.loc["(mean)", "gain_hi"] == pytest.approx(2.5 + T_975_1 * math.sqrt(0.5) / math.sqrt(2))
    with pytest.raises(Exception, match="pretrained"):
        finetune_table(runs[runs.init != "b"], picks)


# --- commands ----------------------------------------------------------------------------------------
def _prepare(tmp_path, task: str):
    out = tmp_path / "data" / task
    assert cli.main(["prepare", "--task", task, "--registry", "tests/workflow/tiny/tasks.yaml",
                     "--data", '{"max_train": 48, "max_dev": 24}', "--out", str(out)]) == 0
    return out


def test_finetune_command_trains_the_backbone_and_starts_from_a_saved_one(tmp_path, tiny_backbone, monkeypatch):
    from tasktransfer.io import load_tensors

    monkeypatch.chdir(__import__("conftest").REPO)
    source, target = _prepare(tmp_path, "colour_a"), _prepare(tmp_path, "colour_b")
    spec = '{"epochs": 2, "lr": 0.001, "batch_size": 16, "max_length": 24, "precision": "fp32"}'
    base = ["finetune", "--backbone", str(tiny_backbone), "--spec", spec, "--threads", "1"]
    model = tmp_path / "src" / "model.safetensors"
    assert cli.main([*base, "--data", str(source), "--out-metrics", str(tmp_path / "src.json"), "--out-model", str(model)]) == 0
    record = json.loads((tmp_path / "src.json").read_text())
    assert record["init"] == "pretrained" and record["train_size"] == 48 and len(record["history"]) == 2
    state, meta = load_tensors(model)
    from tasktransfer.prompting.backbone import load_backbone

    pretrained = load_backbone(str(tiny_backbone)).model.state_dict()
    changed = [k for k in pretrained if not torch.equal(pretrained[k], state[k])]
    assert len(changed) > len(pretrained) // 2, "the backbone's weights must change"
    assert meta["task"] == "colour_a" and meta["backbone"] == str(tiny_backbone)

    out = tmp_path / "tgt.json"
    assert cli.main([*base, "--data", str(target), "--init-from", str(model), "--max-train", "16", "--out-metrics", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["init"] == "colour_a" and record["train_size"] == 16 and 0 <= record["score"] <= 100

    # a checkpoint of another backbone is refused, naming both
    from tasktransfer.io import save_tensors

    save_tensors(tmp_path / "other.safetensors", state, {**meta, "backbone": "other-backbone"})
    assert cli.main([*base, "--data", str(target), "--init-from", str(tmp_path / "other.safetensors"),
                     "--out-metrics", str(tmp_path / "x.json")]) == 2


def test_train_scorer_excludes_every_pair_touching_the_tasks(tmp_path, tiny_backbone):
    from tasktransfer.affinity.pairs import sample_pairs
    from tasktransfer.prompting.prompt_files import save_prompt

    sources = ["a", "b", "c", "d"]
    torch.manual_seed(0)
    for root in ("prompts", "targets"):
        for t in sources:
            save_prompt(tmp_path / root / t / "seed0" / "prompt.safetensors", {"tokens": torch.zeros(2, 2)}, {},
                        torch.randn(3, 32), {"task": t, "seed": 0, "backbone": str(tiny_backbone)})
    pairs = sample_pairs(sources, 12, 0)
    gains = pd.DataFrame([{"source": s, "target": t, "seed": 0, "metric": "accuracy", "r1": 50.0,
                           "r2": 50.0 + i, "gain": float(i)} for i, (s, t) in enumerate(pairs)])
    gains.to_csv(tmp_path / "gains.tsv", sep="\t", index=False)
    out = tmp_path / "scorer"
    assert cli.main(["train-scorer", "--gains", str(tmp_path / "gains.tsv"), "--prompts", str(tmp_path / "prompts"),
                     "--target-prompts", str(tmp_path / "targets"), "--sources", ",".join(sources),
                     "--backbone", str(tiny_backbone), "--m", "12", "--exclude-tasks", "b",
                     "--spec", '{"lrs": [0.001], "epochs": 1, "folds": 2, "beta": 0.5}',
                     "--out-model", str(out / "model.safetensors"), "--out-metrics", str(out / "metrics.json")]) == 0
    record = json.loads((out / "metrics.json").read_text())
    assert record["pairs"] == 6  # 12 ordered pairs among 4 tasks, 6 touch b
    assert "b" not in record["tasks"] and record["excluded_tasks"] == ["b"]
    assert record["spec"]["beta"] == 0.5


def test_table_commands_write_tables_and_figures(tmp_path):
    gains = _gains()
    gains.to_csv(tmp_path / "gains.tsv", sep="\t", index=False)
    ranking = tmp_path / "r.tsv"
    _ranking({"a": 0.9, "c": 0.5, "b": 0.1}).to_csv(ranking, sep="\t", index=False)
    out = tmp_path / "beta.tsv"
    assert cli.main(["ablation-sweep", "--key", "beta", "--rankings", f"0.5={ranking}", f"1.0={ranking}",
                     "--gains", str(tmp_path / "gains.tsv"), "--ks", "1", "--out", str(out),
                     "--figure", str(tmp_path / "beta.png")]) == 0
    table = pd.read_csv(out, sep="\t")
    assert list(table[table.method == "scorer"].beta) == [0.5, 1.0]
    assert (tmp_path / "beta.png").stat().st_size > 1000
    assert cli.main(["ablation-unseen-type", "--rankings", f"sentiment/scorer={ranking}",
                     "--skipped", '{"topic": "why"}', "--gains", str(tmp_path / "gains.tsv"), "--ks", "1",
                     "--out", str(tmp_path / "u.tsv"), "--figure", str(tmp_path / "u.png")]) == 0
    assert set(pd.read_csv(tmp_path / "u.tsv", sep="\t").type) == {"sentiment", "topic"}


# --- planning (ablation_plan.py) ---------------------------------------------------------------------
def _config(**ablations) -> dict:
    finetune = {"targets": [], "methods": ["scorer"], "epochs": 1, "lr": 1e-4, "precision": "prompt",
                **ablations.pop("finetune", {})}
    return {
        "data": {"max_train": 300, "target_train": 128},
        "pairs": {"m": 8, "seed": 0},
        "scorer": {"beta": 1.0, "lrs": [1e-4], "seed": 3},
        "prompt": {"precision": "auto"},
        "ablations": {"betas": [0.5, 1.0], "ms": [], "target_sizes": [], "targets": [], **ablations, "finetune": finetune},
    }


TYPES = {"a": "sentiment", "b": "topic", "c": "topic", "d": "nli", "t1": "sentiment", "t2": "nli", "t3": "qa"}


def _plan(config, pairs=None):
    from tasktransfer.analysis.ablation_plan import plan_ablations
    from tasktransfer.affinity.pairs import sample_pairs

    sources = ["a", "b", "c", "d"]
    pairs = sample_pairs(sources, config["pairs"]["m"], 0) if pairs is None else pairs
    return plan_ablations(config, TYPES, sources, ["t1", "t2", "t3"], pairs)


def test_plan_reuses_the_main_scorer_and_derives_defaults():
    plan = _plan(_config())
    assert plan.ms == [2, 4, 8] and plan.sizes == [32, 64, 128] and plan.size_paths == ["32", "64", "128"]
    # the main beta and the main M are the main scorer: its file and rankings, never retrained
    assert plan.scorer_file("beta1") == "results/scorer/model.safetensors"
    assert plan.ranking_file("m8", "t1") == "results/rankings/scorer/t1.tsv"
    assert plan.ranking_file("beta0.5", "t1") == "results/ablations/rankings/beta0.5/t1.tsv"
    assert plan.scorers["m2"] == {"m": 2, "beta": 1.0, "exclude": []}
    assert plan.scorer_spec("beta0.5", {"beta": 1.0, "lrs": [1e-4], "seed": 3}) == {"beta": 0.5, "lrs": [1e-4]}
    assert plan.sweep_items("beta", ["t1"]) == [
        "0.5=results/ablations/rankings/beta0.5/t1.tsv", "1.0=results/rankings/scorer/t1.tsv"]
    assert plan.finetune_spec["precision"] == "auto"  # "prompt": prompt.precision
    assert plan.pick_methods == ["brute_force", "random", "scorer"]


def test_plan_unseen_types_need_a_target_and_two_pairs():
    plan = _plan(_config())
    # sentiment and nli have a source and a target; topic has no target, qa no source
    assert sorted(plan.unseen_types) + sorted(plan.skipped_types) == ["nli", "sentiment"]
    for kind in plan.unseen_types:
        excluded = plan.scorers[f"without_{kind}"]["exclude"]
        assert excluded == sorted(s for s in "abcd" if TYPES[s] == kind)
    few = _plan(_config(), pairs=[("a", "b"), ("b", "a"), ("c", "b")])
    assert "sentiment" in few.skipped_types and "2" in few.skipped_types["sentiment"]
    items = plan.unseen_items(["t1", "t2", "t3"], ["scorer", "brute_force", "cosine_mean"])
    assert "sentiment/cosine_mean=results/rankings/cosine_mean/t1.tsv" in items
    assert not any("brute_force" in i or "t3" in i for i in items)


def test_plan_refuses_what_the_main_run_cannot_serve():
    with pytest.raises(ValueError, match="raise pairs.m to 9"):
        _plan(_config(ms=[4, 9]))
    with pytest.raises(ValueError, match="data.max_train"):
        _plan(_config(target_sizes=[64, 301]))
    with pytest.raises(ValueError, match="not held-out targets"):
        _plan(_config(targets=["a"]))
    with pytest.raises(ValueError, match="finetune.targets"):
        _plan(_config(finetune={"targets": ["zz"]}))
    no_pairs = _plan(_config(ms=[4]), pairs=[])  # a pool's scorer: refused only when an analysis asks
    with pytest.raises(ValueError, match="sampled pairs"):
        no_pairs.scorer_rankings(no_pairs.sweep_items("m", ["t1"]))


def test_plan_without_a_target_cap_reuses_the_all_size():
    config = _config(target_sizes=[100, 300])
    config["data"]["target_train"] = None
    assert _plan(config).size_paths == ["100", "all"]


def test_plan_reads_the_picks_after_the_checkpoint(tmp_path):
    plan = _plan(_config(targets=["t1"], target_sizes=[16, 128], finetune={"methods": ["scorer", "random"]}))
    picks = tmp_path / "t1.tsv"
    picks.write_text("method\ttarget\tsource\nbrute_force\tt1\tb\nrandom\tt1\td\nscorer\tt1\tb\n")
    transfers = plan.size_transfers(lambda t: str(picks), [0, 1])
    assert sorted({(s, size) for s, _, _, size in transfers}) == [("b", "128"), ("b", "16"), ("d", "128"), ("d", "16")]
    assert len(transfers) == 2 * 2 * 2
    runs = plan.finetune_runs(lambda t: str(picks), [0])
    assert runs == [(PRETRAINED, "t1", 0), ("b", "t1", 0), ("d", "t1", 0)]
