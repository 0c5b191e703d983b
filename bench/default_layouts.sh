#!/usr/bin/env bash
# The default run from scratch in two layouts, one after the other on this machine: one seed a job
# (`replicas.max: 1`, the layout before replicas) against the default (`replicas.max: auto`).
# Each runs in its own fresh clone of this repository's HEAD with an empty resources/ (set-up
# and data downloads included), then the figures are printed: wall and CPU time, peak memory
# and the job-seconds of the tuning rules from benchmarks/. About 40 minutes on 2 idle cores;
# run it on an idle machine (two jobs side by side already share the cores).
#
#     bash bench/default_layouts.sh [WORKDIR]      # WORKDIR: default a new mktemp -d
set -euo pipefail
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
base=${1:-$(mktemp -d)}
mkdir -p "$base"
echo "commit $(git -C "$repo" rev-parse --short HEAD); CPU flags: $(grep -o -w -E 'avx2|avx512f|avx512_bf16|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); work in $base"

run_layout() {  # name, replicas.max
    local dir="$base/$1"
    [ ! -e "$dir" ] || { echo "$dir exists: give an empty WORKDIR" >&2; exit 1; }
    git clone -q "$repo" "$dir"
    # `make run` itself (set-up, the fp32 plan on a CPU without bf16, the report), one key changed
    (cd "$dir" && /usr/bin/time -v -o "$base/$1.time" make run SNAKEMAKE_ARGS="--config replicas='{max: $2}'") \
        >"$base/$1.log" 2>&1
}

summarise() {  # name
    local dir="$base/$1" t="$base/$1.time"
    printf '%-6s wall %s | user %s s + system %s s | peak RSS %s MB\n' "$1" \
        "$(awk -F': ' '/Elapsed \(wall/ {print $2}' "$t")" "$(awk -F': ' '/User time/ {print $2}' "$t")" \
        "$(awk -F': ' '/System time/ {print $2}' "$t")" "$(awk -F': ' '/Maximum resident/ {print int($2 / 1024)}' "$t")"
    for rule in prompt_tune target_tune transfer; do
        # a job's benchmark file: header, then one row whose first column is its wall seconds
        find "$dir/benchmarks" -path "*/$rule/*" -name '*.tsv' -exec tail -n 1 {} \; |
            awk -v r="$rule" '{s += $1; n++} END {if (n) printf "         %-12s %3d jobs x %5.1f s = %6.0f job-s\n", r, n, s / n, s}'
    done
}

run_layout one_seed_a_job 1
run_layout default auto
summarise one_seed_a_job
summarise default
