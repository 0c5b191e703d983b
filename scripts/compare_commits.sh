#!/usr/bin/env bash
# Does a refactoring change any result? Runs the tiny test workflow (tests/workflow/tiny, a tiny
# random backbone) with the package of two commits and compares the gathered tables byte for byte.
#   bash scripts/compare_commits.sh OLD_COMMIT [NEW_COMMIT]   (NEW defaults to HEAD; needs .venv)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=$repo/.venv/bin
old=$1
new=${2:-HEAD}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$venv/tasktransfer" tiny-backbone --out "$work/backbone" > /dev/null 2>&1
for side in old new; do
    commit=${!side}
    git clone -q "$repo" "$work/$side"
    git -C "$work/$side" checkout -q "$commit"
    config=$work/$side/tests/workflow/tiny/config.yaml
    [ -f "$config" ] || config=$work/$side/tests/workflow/config.yaml  # before the tests moved
    mkdir -p "$work/$side/run"
    echo "running the tiny workflow with $side ($commit)"
    PYTHONPATH="$work/$side/src" PATH="$venv:$PATH" "$venv/snakemake" --snakefile "$work/$side/Snakefile" \
        --directory "$work/$side/run" --cores 2 --configfile "$config" \
        --config backbone="$work/backbone" tasks_registry="$(dirname "$config")/tasks.yaml" \
        resources_dir="$work/$side/run/resources" -q > "$work/$side.log" 2>&1 \
        || { echo "$side failed:"; tail -20 "$work/$side.log"; exit 1; }
done
status=0
for table in gains/target_pairs.tsv gains/scorer_pairs.tsv no_transfer.tsv gain_intervals.tsv eval/summary.tsv eval/table2.tsv eval/signal.tsv; do
    if cmp -s "$work/old/run/results/$table" "$work/new/run/results/$table"; then
        echo "same      $table"
    else
        echo "DIFFERENT $table"
        status=1
    fi
done
exit $status
