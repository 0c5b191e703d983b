# What every rule file reads: configuration, task and pair lists, paths, resources, input
# functions, the analyses' plan and the report's items, one file each under common/. No rules here.
include: "common/settings.smk"
include: "common/resources.smk"
include: "common/paths.smk"
include: "common/tasks.smk"
include: "common/inputs.smk"
include: "common/analyses.smk"
include: "common/report.smk"
