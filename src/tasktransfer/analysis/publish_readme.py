"""The README of a published matrix (:mod:`tasktransfer.analysis.publish`), made from its data:
counts, each file's rows, columns and units, the provenance in short, the exact
``tasktransfer evaluate`` command that re-scores the run, and how to score a new method on it."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

#: the matrix's own folder in the commands the README shows (set once, in a shell variable)
FOLDER_VAR = "M"

#: what a row of each file is; files in the order the README lists them
ROWS = {
    "gains.tsv": "one transfer run: a (source, target, seed)",
    "pairs.tsv": "one (source, target) pair: means over its seeds, its features, each method's score",
    "design.tsv": "one pair in one role, with the seeds it ran on",
    "tasks.tsv": "one task of the run",
    "transfer.tsv": "evaluate input: a held-out pair's mean score after transfer (the run's exact numbers)",
    "no_transfer.tsv": "evaluate input: a held-out target's mean score without transfer",
    "per_seed.tsv": "evaluate input: one held-out transfer run's gain",
    "rankings.tsv": "evaluate input: one method's score of one source for one held-out target",
    "seconds.tsv": "budget input: one transfer run's job-seconds (its share of the job that trained its seeds together)",
    "config.json": "the run's config (the object whose sha256 provenance.json gives)",
    "provenance.json": "code and package versions, config hash, machine, dates, counts, each file's sha256",
}

#: each column's meaning and unit (pairs.tsv's feature and score columns are described by pattern)
COLUMNS = {
    "source": "the source task (`_control`: the control init, a prompt as trained as a source with no task knowledge)",
    "target": "the target task",
    "seed": "the paired seed: r1 and r2 of one row share it",
    "metric": "the (target) task's metric",
    "r1": "the target's dev score tuned from a random prompt (no transfer), points",
    "r2": "the target's dev score tuned from the source's prompt, points",
    "gain": "r2 - r1, points (in pairs.tsv the mean over seeds: mean r2 - mean r1)",
    "role": "design.tsv, pairs.tsv: `held_out`, a held-out target's row (every pool source into it, judged); "
            "`pool`, a pair among pool tasks that trains the scorer; `control`, the control init into a held-out "
            "target. tasks.tsv: `source`, `target` (held out) or `novel`",
    "seeds": "design.tsv: the seeds the pair ran on; pairs.tsv: how many",
    "score": "transfer.tsv, no_transfer.tsv: the target's mean dev score, points; rankings.tsv: the method's "
             "score (higher: transfer from this source; units the method's own)",
    "method": "the ranking method (docs/evaluation.md of tasktransfer lists them)",
    "seconds": "seconds.tsv: the run's job-seconds (its job's wall time, split over the seeds it trained "
               "together); empty where its record has no timing",
    "task": "the task's name in the registry",
    "type": "the task's type (sentiment, topic, ...)",
    "format": "classification, pair classification, tagging, ... (how it is scored)",
    "n_train": "training examples prepared (a target-role run reads its first `data.target_train`)",
    "n_dev": "dev examples prepared (r1 and r2 are scores on them)",
    "kind": "the reader that made the examples from the files",
    "provider": "what served the files: a package of the index, a data folder, a repository archive",
    "origin": "the pinned source of the files: package==version, or OWNER/REPO@commit",
    "files": "name=sha256 of each file (a folder's digest covers its listing), `;`-separated",
    "licence": "the licences the registry records for those sources",
}

FEATURES = {
    "cosine_mean": "cosine of the two prompts' mean-pooled tokens",
    "cosine_tokens": "mean cosine over all token pairs of the two prompts",
    "cosine_centred": "cosine of the mean-pooled tokens, each centred on the pool's mean",
    "logme": "LogME of the target's labels on the frozen features under the source's prompt",
    "hscore": "H-score of those features",
    "knn": "accuracy of a kNN probe on those features",
}


@dataclass(frozen=True)
class ReadmeFacts:
    """What the README says, all of it read from the published data."""

    counts: dict[str, Any]
    settings: dict[str, Any]
    provenance: dict[str, Any]
    targets: list[str]
    sizes: dict[str, int]
    columns: dict[str, list[str]]


def evaluate_args(folder: str, settings: dict[str, Any], out: str = "my_eval", rankings: list[str] | None = None) -> list[str]:
    """The arguments of ``tasktransfer evaluate`` that re-score the run from the folder, with the
    run's ks, level and primary comparison (``rankings``: other rankings files in place of the run's)."""
    args = ["evaluate", "--transfer", f"{folder}/transfer.tsv", "--no-transfer", f"{folder}/no_transfer.tsv",
            "--per-seed", f"{folder}/per_seed.tsv", "--rankings", *(rankings or [f"{folder}/rankings.tsv"]),
            "--ks", ",".join(str(k) for k in settings["ks"])]
    if "level" in settings:
        args += ["--level", str(settings["level"])]
    primary = settings.get("primary") or {}
    for key, flag in (("method", "--primary"), ("baseline", "--primary-baseline"), ("metric", "--primary-metric")):
        if key in primary:
            args += [flag, str(primary[key])]
    return [*args, "--out", out]


def budget_args(folder: str, settings: dict[str, Any], out: str = "my_budget") -> list[str]:
    """The arguments of ``tasktransfer budget`` that give the run's best-of-top-k tables from the folder."""
    args = ["budget", "--per-seed", f"{folder}/per_seed.tsv", "--rankings", f"{folder}/rankings.tsv",
            "--seconds", f"{folder}/seconds.tsv", "--ks", ",".join(str(k) for k in settings["ks"])]
    if "level" in settings:
        args += ["--level", str(settings["level"])]
    return [*args, "--out", out]


def _command(args: list[str]) -> str:
    """One shell line; a path in the folder as "$M"/name, so that the variable expands, quoted."""
    prefix = f"${FOLDER_VAR}/"

    def word(arg: str) -> str:
        return f'"${FOLDER_VAR}"/{shlex.quote(arg[len(prefix):])}' if arg.startswith(prefix) else shlex.quote(arg)

    return "tasktransfer " + " ".join(word(a) for a in args)


def _summary(facts: ReadmeFacts) -> list[str]:
    c = facts.counts
    roles = c["pairs_by_role"]
    return [
        "# A prompt-transfer matrix (tasktransfer)",
        "",
        f"Transfers between soft prompts of {c['sources']} source tasks into {c['targets']} held-out target "
        f"task(s), {len(c['seeds'])} paired seed(s) ({', '.join(map(str, c['seeds']))}): {c['pairs']} pairs "
        f"({roles.get('held_out', 0)} held-out target rows, {roles.get('pool', 0)} pool pairs for the scorer; "
        f"{roles.get('control', 0)} control pairs besides), {c['transfer_runs']} transfer runs, and "
        f"{len(c['methods'])} ranking methods' scores of every source for each held-out target. "
        f"Held-out targets: {', '.join(facts.targets)}.",
        "",
        f"Scores are **points**: the task metric x 100 ({', '.join(c['metrics'])}), on the target's dev set. "
        "A gain is r2 - r1 on the same seed: the target tuned from the source's prompt against the "
        "target tuned from a random prompt. Published by `tasktransfer publish` from a finished run; "
        "every number here was read from that run's own tables.",
    ]


def _files(facts: ReadmeFacts) -> list[str]:
    lines = ["", "## Files", "", "| file | a row is | bytes |", "|---|---|---|"]
    lines += [f"| `{n}` | {ROWS[n]} | {facts.sizes.get(n, 0):,} |" for n in ROWS if n in facts.sizes]
    lines += ["", "TSV files are tab-separated with a header. The matrix tables round points to 4 decimals and "
              "features and scores to 6 significant digits; the four evaluate inputs keep the run's numbers "
              "exactly (so `tasktransfer evaluate` gives the run's own evaluation). An empty cell is no value "
              "(a pair without features, a method that does not score that pair).", "", "### Columns", ""]
    lines += [f"- `{n}`: {', '.join(facts.columns[n])}" for n in ROWS if n in facts.columns]
    lines += ["", "What each column holds (points: the task metric x 100):", ""]
    shown = list(dict.fromkeys(c for n in ROWS for c in facts.columns.get(n, []) if c in COLUMNS))
    lines += [f"- `{c}`: {COLUMNS[c]}" for c in shown]
    pairs = facts.columns.get("pairs.tsv", [])
    features = [c for c in pairs if c not in COLUMNS and not c.startswith("score_")]
    lines += [f"- `{c}` (pairs.tsv): pair feature, {FEATURES.get(c, 'no transfer needed (tasktransfer features)')}"
              for c in features]
    lines.append("- `score_<method>` (pairs.tsv): that method's score of the source for the target "
                 "(held-out targets; as in `rankings.tsv`)")
    return lines


def _provenance(facts: ReadmeFacts) -> list[str]:
    p = facts.provenance
    m = p["machine"]
    return [
        "", "## Provenance", "",
        f"- tasktransfer {p['package']['version']}; each stage's code version in `provenance.json` "
        "(`code_versions`: a hash of the modules that shape the stage), with the environment's package versions.",
        f"- config sha256 `{p['config']['sha256']}` ({p['config']['from']}; the config itself: `config.json`).",
        f"- transfers ran on {', '.join(m['hosts']) or 'unrecorded hosts'} in {', '.join(m['precisions']) or '?'} "
        f"({m['slurm_jobs']} of {m['transfer_records_read']} runs under SLURM); published on "
        f"{m['publishing_cpu']['model']} ({' '.join(m['publishing_cpu']['flags']) or 'no avx2'}).",
        f"- evaluated {p['evaluated_utc']}, published {p['published_utc']} (UTC).",
        "- each task's provider, pinned origin (package version or repository commit) and file sha256: `tasks.tsv`.",
        "- every file's sha256: `provenance.json` (`files`; this README and the marker aside). "
        "`tasktransfer check-matrix <this folder>` checks a copy against them, and that every held-out "
        "pair ran on every seed.",
    ]


def _evaluate(facts: ReadmeFacts) -> list[str]:
    mine = evaluate_args(f"${FOLDER_VAR}", facts.settings, rankings=[f"${FOLDER_VAR}/rankings.tsv", "mine.tsv"])
    return [
        "", "## Re-scoring the run, and scoring a new method", "",
        "With the `tasktransfer` package installed, from the folder that holds this one:", "",
        "```bash", f"{FOLDER_VAR}=path/to/this/folder",
        _command(evaluate_args(f"${FOLDER_VAR}", facts.settings)), "```", "",
        "writes Table 1, Table 2 (Spearman, Pearson, NDCG, Regret@k, regret_xfit@1), the comparisons with "
        "cosine_mean and the design's noise ceiling into `my_eval/`: the run's own evaluation "
        "(docs/evaluation.md of tasktransfer defines every figure). The best of each method's top k against "
        "the transfer budget (cross-fitted, with job-seconds), into `my_budget/`:", "",
        "```bash", _command(budget_args(f"${FOLDER_VAR}", facts.settings)), "```", "",
        "**A new method.** Score every source of each held-out target (higher: transfer from it), with only "
        "what a method may know before transferring into the target, and write the scores as a TSV with the "
        "columns `method, target, source, score`:", "",
        "```", "method\ttarget\tsource\tscore", f"mine\t{facts.targets[0]}\t<source>\t0.42", "```", "",
        "The sources are those of the target's `held_out` rows in `design.tsv` (the control `_control` is "
        "no candidate). Pass the file with the run's rankings to compare against every method:", "",
        "```bash", _command(mine), "```", "",
        "`my_eval/table2.tsv` then holds a row `mine`, and `my_eval/versus_cosine.tsv` its difference from "
        "cosine_mean with a t interval over targets.",
    ]


def readme_text(facts: ReadmeFacts) -> str:
    return "\n".join([*_summary(facts), *_files(facts), *_provenance(facts), *_evaluate(facts)]) + "\n"
