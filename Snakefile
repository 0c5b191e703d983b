# Predict task transferability from soft prompts: see README.md and docs/architecture.md.
import os

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


# `--config seeds=[0,1]` hands the list items over as strings: type them as the schema says
from tasktransfer.configuration import coerce_config

coerce_config(
    config, os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml")
)
validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/design.smk"  # scorer pairs by design, learnability
include: "workflow/rules/pool.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/prompt.smk"
include: "workflow/rules/transfer.smk"
include: "workflow/rules/scorer.smk"
include: "workflow/rules/selection.smk"
include: "workflow/rules/evaluation.smk"
include: "workflow/rules/ablations.smk"  # extra targets: `snakemake ablations`
include: "workflow/rules/publish.smk"  # extra target: `snakemake publish`


rule all:
    default_target: True
    input:
        final_outputs(),
