# What every rule file reads: configuration, task and pair lists, paths, resources and input
# functions, one file each under common/. No rules here.
include: "common/settings.smk"
include: "common/resources.smk"
include: "common/paths.smk"
include: "common/tasks.smk"
include: "common/inputs.smk"
include: "common/analyses.smk"
