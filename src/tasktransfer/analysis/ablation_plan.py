"""What the paper's analyses need from a run (workflow/rules/ablations.smk), checked at planning.

The analyses reuse the main run's jobs wherever they can:
- **beta, M, unseen task type** train only scorers, on the main run's sampled pairs
  (results/gains/scorer_pairs.tsv): a scorer with the main scorer's settings *is* the main scorer
  (its file and rankings are reused), every other one is a *variant* with its own folder. M is
  capped by the run's sampled pairs (the first M of a prefix-stable sample): a larger M would need
  transfers the main run never planned, so it is refused with the fix (raise pairs.m);
- **target size** transfers each method's top-1 source at other target training sizes (the size
  the main run uses is its own jobs);
- **full fine-tuning** has jobs of its own.

Unseen task types: every type present among the sources *and* the held-out targets (a type
without a target has nothing to rank); one whose removal leaves fewer than 2 scorer pairs is
listed as skipped, with the reason, instead of failing the run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

BRUTE_FORCE = "brute_force"
#: the methods whose top-1 source the target-size analysis transfers at every size
SIZE_METHODS = ("scorer", BRUTE_FORCE, "random")
PRETRAINED = "_pretrained"  # the init of a full fine-tuning run that starts from the pretrained weights

MAIN_SCORER_FILE = "results/scorer/model.safetensors"


def type_slug(kind: str) -> str:
    """A task type as it may appear in a path."""
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", str(kind))


def _ladder(n: int, least: int) -> list[int]:
    return sorted({v for v in (n // 4, n // 2, n) if v >= least})


@dataclass
class AblationPlan:
    targets: list[str]  # held-out targets of the size analysis
    finetune_targets: list[str]
    betas: list[float]
    ms: list[int]
    sizes: list[int]
    size_paths: list[str]  # the {size} of each size's paths (the main run's own size where it is one)
    finetune_methods: list[str]
    finetune_spec: dict
    main_scorer: dict
    scorers: dict[str, dict] = field(default_factory=dict)  # variant -> m, beta, exclude
    unseen_types: list[str] = field(default_factory=list)
    skipped_types: dict[str, str] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)  # task -> type

    @property
    def pick_methods(self) -> list[str]:
        return sorted(set(SIZE_METHODS) | set(self.finetune_methods))

    # --- scorers and their rankings ------------------------------------------------------------
    def is_main(self, variant: str) -> bool:
        return self.scorers[variant] == self.main_scorer

    def scorer_file(self, variant: str) -> str:
        """A variant with the main scorer's settings is the main scorer: never trained twice."""
        if self.is_main(variant):
            return MAIN_SCORER_FILE
        return f"results/ablations/scorers/{variant}/model.safetensors"

    def ranking_file(self, variant: str, target: str) -> str:
        if self.is_main(variant):
            return f"results/rankings/scorer/{target}.tsv"
        return f"results/ablations/rankings/{variant}/{target}.tsv"

    def scorer_spec(self, variant: str, scorer_config: dict) -> dict:
        spec = {k: v for k, v in scorer_config.items() if k != "seed"}
        return {**spec, "beta": self.scorers[variant]["beta"]}

    def sweep_items(self, key: str, targets: Sequence[str]) -> list[str]:
        """VALUE=ranking items of the beta or M analysis, for every held-out target."""
        values = {f"beta{b:g}": b for b in self.betas} if key == "beta" else {f"m{m}": m for m in self.ms}
        return [f"{value}={self.ranking_file(variant, t)}" for variant, value in values.items() for t in targets]

    def unseen_items(self, targets: Sequence[str], methods: Sequence[str]) -> list[str]:
        """TYPE/METHOD=ranking items: the scorer without the type, the main scorer and the other
        methods' main-run rankings (brute force is added from the gains), on the type's targets."""
        items = []
        others = sorted((set(methods) | {"scorer"}) - {"brute_force"})
        for kind in self.unseen_types:
            mine = [t for t in targets if self.types[t] == kind]
            variant = f"without_{type_slug(kind)}"
            items += [f"{kind}/scorer_without_type={self.ranking_file(variant, t)}" for t in mine]
            items += [f"{kind}/{m}=results/rankings/{m}/{t}.tsv" for m in others for t in mine]
        return items

    def scorer_rankings(self, items: Sequence[str]) -> list[str]:
        """The ranking files of KEY=path items; the analyses of scorers need the run's own pairs."""
        if not self.main_scorer["m"]:
            raise ValueError(
                "the beta, M and unseen-type analyses train scorers on the run's sampled pairs, and this run "
                "has none (pairs.m is 0, or a shared pool's scorer is used)"
            )
        return [item.partition("=")[2] for item in items]

    # --- what the size and fine-tuning analyses run (picks read after the checkpoint) ----------
    def size_transfers(self, picks_file: Callable[[str], str], seeds: Sequence[int]) -> list[tuple]:
        """(source, target, seed, size) of every transfer the size analysis reads."""
        return [
            (source, target, seed, size)
            for target in self.targets
            for source in picked_sources(picks_file(target), SIZE_METHODS)
            for size in self.size_paths
            for seed in seeds
        ]

    def finetune_runs(self, picks_file: Callable[[str], str], seeds: Sequence[int]) -> list[tuple]:
        """(init, target, seed) of every target fine-tuning run: from the pretrained weights and
        from each picked source."""
        return [
            (init, target, seed)
            for target in self.finetune_targets
            for init in [PRETRAINED, *picked_sources(picks_file(target), self.finetune_methods)]
            for seed in seeds
        ]


def picked_sources(path: str, methods: Sequence[str]) -> list[str]:
    """The sources that some of ``methods`` pick in an ablation-picks TSV (method, target, source)."""
    with open(path) as handle:
        header = handle.readline().rstrip("\n").split("\t")
        rows = [dict(zip(header, line.rstrip("\n").split("\t"))) for line in handle if line.strip()]
    return sorted({r["source"] for r in rows if r["method"] in methods})


def _checked_targets(abl: dict, targets: Sequence[str]) -> tuple[list[str], list[str]]:
    """The size analysis' and fine-tuning's targets (default: all held-out targets), each one held out."""
    all_targets = sorted(targets)
    size_targets = sorted(abl["targets"]) or all_targets
    ft_targets = sorted(abl["finetune"]["targets"]) or size_targets
    for key, listed in (("targets", size_targets), ("finetune.targets", ft_targets)):
        unknown = sorted(set(listed) - set(all_targets))
        if unknown:
            raise ValueError(
                f"ablations.{key} {unknown} are not held-out targets (targets: {all_targets}); list only those"
            )
    return size_targets, ft_targets


def _checked_ms(abl: dict, config: dict, scorer_pairs: Sequence[tuple[str, str]]) -> list[int]:
    """The M analysis' pair counts: within the run's sampled pairs, as it plans no transfer."""
    n_pairs = len(scorer_pairs)  # pairs.m, or fewer where the pool has fewer ordered pairs
    ms = sorted({int(m) for m in abl["ms"]}) or _ladder(n_pairs, 2)
    if scorer_pairs and any(m > n_pairs for m in ms):
        raise ValueError(
            f"ablations.ms {ms} go beyond the run's {n_pairs} sampled scorer pairs (pairs.m = "
            f"{config['pairs']['m']}): the M analysis reuses the main run's pairs and plans no transfer; "
            f"raise pairs.m to {max(ms)} (the first {n_pairs} pairs stay the same) or lower ablations.ms"
        )
    return ms


def _checked_sizes(abl: dict, data: dict) -> tuple[list[int], list[str]]:
    """The target sizes (within data.max_train) and the {size} of each one's paths."""
    cap = data.get("target_train")
    sizes = sorted({int(s) for s in abl["target_sizes"]}) or _ladder(cap or data["max_train"], 1)
    if any(s > data["max_train"] for s in sizes):
        raise ValueError(
            f"ablations.target_sizes {sizes} go beyond data.max_train = {data['max_train']}: a target never "
            "has more prepared training examples; raise data.max_train or lower the sizes"
        )
    # without a target cap the main run's size is `all`: the same examples as max_train
    return sizes, ["all" if not cap and s == data["max_train"] else str(s) for s in sizes]


def _finetune_settings(abl: dict, config: dict) -> tuple[list[str], dict]:
    """Fine-tuning's picking methods, and its training settings (the rest of its block)."""
    finetune = dict(abl["finetune"])
    methods = sorted(finetune.pop("methods"))
    finetune.pop("targets")
    if finetune["precision"] == "prompt":
        finetune["precision"] = config["prompt"]["precision"]
    return methods, finetune


def _split_unseen_types(
    plan: AblationPlan,
    types: dict[str, str],
    sources: Sequence[str],
    targets: Sequence[str],
    scorer_pairs: Sequence[tuple[str, str]],
) -> None:
    """Every type among both the sources and the targets is analysed, unless leaving its sources
    out leaves the scorer fewer than 2 pairs: then it is skipped, with the reason."""
    n_pairs = len(scorer_pairs)
    for kind in sorted({types[s] for s in sources} & {types[t] for t in targets}):
        left_out = sorted(s for s in sources if types[s] == kind)
        kept = [p for p in scorer_pairs if not set(p) & set(left_out)]
        if len(kept) < 2:
            plan.skipped_types[kind] = (
                f"only {len(kept)} of the {n_pairs} scorer pairs touch no {kind} task; the scorer needs 2 "
                "(raise pairs.m)"
            )
        else:
            plan.unseen_types.append(kind)


def plan_ablations(
    config: dict,
    types: dict[str, str],
    sources: Sequence[str],
    targets: Sequence[str],
    scorer_pairs: Sequence[tuple[str, str]],
) -> AblationPlan:
    """Check the ``ablations`` block against the run and derive the analyses' lists.

    ``types``: task -> type (the registry's) of every source and target; ``scorer_pairs``: the
    run's sampled pairs, in sampling order.
    """
    abl = config["ablations"]
    data = config["data"]
    size_targets, ft_targets = _checked_targets(abl, targets)
    ms = _checked_ms(abl, config, scorer_pairs)
    sizes, size_paths = _checked_sizes(abl, data)
    methods, finetune = _finetune_settings(abl, config)
    main = {"m": len(scorer_pairs), "beta": float(config["scorer"]["beta"]), "exclude": []}
    plan = AblationPlan(
        targets=size_targets,
        finetune_targets=ft_targets,
        betas=sorted({float(b) for b in abl["betas"]}),
        ms=ms,
        sizes=sizes,
        size_paths=size_paths,
        finetune_methods=methods,
        finetune_spec=finetune,
        main_scorer=main,
        types=dict(types),
    )
    _split_unseen_types(plan, types, sources, targets, scorer_pairs)
    # every variant differs from the main scorer in one setting (a variant equal to it reuses its files)
    plan.scorers = {
        **{f"beta{b:g}": {**main, "beta": b} for b in plan.betas},
        **{f"m{m}": {**main, "m": m} for m in plan.ms},
        **{
            f"without_{type_slug(k)}": {**main, "exclude": sorted(s for s in sources if types[s] == k)}
            for k in plan.unseen_types
        },
    }
    return plan
