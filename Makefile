# The two commands of the README (both set up .venv first), plus helpers.
SHELL := /bin/bash
VENV := .venv/bin
CORES ?= 2

.PHONY: setup run study study-design matrix task-survey task-check report test test-fast lint clean-results

setup:
	bash scripts/setup.sh

# a CPU without native bf16 (AVX2 only) trains in fp32, about 3.8x slower: `make run` adds the
# smaller plan of config/fp32_cpu.yaml there (every stage, fewer pairs; docs/measured.md)
# (a GPU, or the package's own check of the CPU: training.resolve_precision, as a job here decides)
RUN_CONFIG = $$($(VENV)/python -c "import torch; from tasktransfer.prompting.training import resolve_precision; print('' if torch.cuda.is_available() or resolve_precision('auto', torch.device('cpu')) == 'bf16' else '--configfile config/fp32_cpu.yaml')")
# further arguments for both snakemake calls of `make run`, e.g. SNAKEMAKE_ARGS="--config replicas='{max: 1}'"
SNAKEMAKE_ARGS ?=

run: setup  ## the main job on the default config, ending with the HTML report
	@extra="$(RUN_CONFIG)"; [ -z "$$extra" ] || echo "no native bf16 on this CPU: the smaller plan of config/fp32_cpu.yaml"; \
	PATH=$(CURDIR)/$(VENV):$$PATH $(VENV)/snakemake --cores $(CORES) $$extra $(SNAKEMAKE_ARGS) && \
	PATH=$(CURDIR)/$(VENV):$$PATH $(VENV)/snakemake --report results/report.html $$extra $(SNAKEMAKE_ARGS)
	@echo "report: results/report.html"

study: setup  ## the signal study (config/study.yaml) in runs/study/; 1 h 29 min on 2 idle AVX-512 BF16 cores (docs/measured.md)
	mkdir -p runs/study
	PATH=$(CURDIR)/$(VENV):$$PATH $(VENV)/snakemake --directory runs/study --configfile config/study.yaml \
		--config tasks_registry=$(CURDIR)/config/tasks.yaml resources_dir=$(CURDIR)/resources data_dir=$(DATA_DIR) --cores $(CORES)
	PATH=$(CURDIR)/$(VENV):$$PATH $(VENV)/snakemake --directory runs/study --configfile config/study.yaml \
		--config tasks_registry=$(CURDIR)/config/tasks.yaml resources_dir=$(CURDIR)/resources data_dir=$(DATA_DIR) --report $(CURDIR)/runs/study/report.html
	@echo "report: runs/study/report.html"

study-design: setup  ## the study by design (config/study_design.yaml) in runs/study_design/; 1 h 57 min on 2 idle AVX-512 BF16 cores (docs/measured.md)
	mkdir -p runs/study_design
	PATH=$(CURDIR)/$(VENV):$$PATH $(VENV)/snakemake --directory runs/study_design --configfile config/study_design.yaml \
		--config tasks_registry=$(CURDIR)/config/tasks.yaml resources_dir=$(CURDIR)/resources data_dir=$(DATA_DIR) --cores $(CORES)
	PATH=$(CURDIR)/$(VENV):$$PATH $(VENV)/snakemake --directory runs/study_design --configfile config/study_design.yaml \
		--config tasks_registry=$(CURDIR)/config/tasks.yaml resources_dir=$(CURDIR)/resources data_dir=$(DATA_DIR) --report $(CURDIR)/runs/study_design/report.html
	@echo "report: runs/study_design/report.html"

# the matrix's increments: rows built after increment k (config/matrix.yaml lists the targets in
# this order); each increment runs only the new rows, then the report and the findings
MATRIX_ROWS := 8 18 28 34 37 40
INCREMENT ?= 1

matrix: setup  ## the transfer matrix (config/matrix.yaml) in runs/matrix/, INCREMENT=k of 6 (each at most 2 h on 2 cores; see the config)
	@rows=$(word $(INCREMENT),$(MATRIX_ROWS)); [ -n "$$rows" ] || { echo "INCREMENT must be 1 to 6, not '$(INCREMENT)'" >&2; exit 2; }; \
	mkdir -p runs/matrix && \
	echo "matrix increment $(INCREMENT): rows of the first $$rows targets" && \
	PATH=$(CURDIR)/$(VENV):$$PATH $(VENV)/snakemake --directory runs/matrix --configfile config/matrix.yaml \
		--config tasks_registry=$(CURDIR)/config/tasks.yaml resources_dir=$(CURDIR)/resources data_dir=$(DATA_DIR) targets_first=$$rows \
		--cores $(CORES) $(SNAKEMAKE_ARGS) && \
	PATH=$(CURDIR)/$(VENV):$$PATH $(VENV)/snakemake --directory runs/matrix --configfile config/matrix.yaml \
		--config tasks_registry=$(CURDIR)/config/tasks.yaml resources_dir=$(CURDIR)/resources data_dir=$(DATA_DIR) targets_first=$$rows \
		--report $(CURDIR)/runs/matrix/report.html && \
	$(VENV)/python scripts/findings.py runs/matrix
	@echo "report: runs/matrix/report.html"

# the data folder the study configs and the task survey read (github/OWNER/REPO/PATH): CI and the
# development machines keep one beside the clone; a lab points it at its clones
DATA_DIR ?= $(abspath ../shared/data)
N ?= 128

task-survey: setup  ## every task that can be had (or SURVEY_TASKS=a,b), tuned once at N training examples (N=128; 512 for the rest) -> runs/task_survey_nN/results/eval/learnability.tsv
	mkdir -p runs/task_survey_n$(N)
	PATH=$(CURDIR)/$(VENV):$$PATH $(VENV)/snakemake --directory runs/task_survey_n$(N) --configfile config/task_survey.yaml \
		--config tasks_registry=$(CURDIR)/config/tasks.yaml resources_dir=$(CURDIR)/resources data_dir=$(DATA_DIR) \
		"data={max_train: 1000, max_dev: 300, target_train: $(N), split_seed: 0}" \
		$(if $(SURVEY_TASKS),"sources=[$(SURVEY_TASKS)]") --cores $(CORES) --keep-going $(SNAKEMAKE_ARGS) results/eval/learnability.tsv

task-check: setup  ## which providers hold each task of CONFIG's tasks now (no download)
	$(VENV)/tasktransfer tasks-check --configfile $(or $(CONFIG),config/config.yaml) --data-dir $(DATA_DIR)

# further pytest arguments, e.g. PYTEST_ARGS="--durations=25" (.ci/run prints the slowest tests)
PYTEST_ARGS ?=

test: setup  ## unit tests, the tiny workflow end to end, the SLURM and browser checks
	PATH=$(CURDIR)/$(VENV):$$PATH $(VENV)/python -m pytest -q -rs $(PYTEST_ARGS)

test-fast: setup  ## the edit-test loop: every test but the workflow runs (marked slow)
	PATH=$(CURDIR)/$(VENV):$$PATH $(VENV)/python -m pytest -q -rs -m "not slow" $(PYTEST_ARGS)

lint: setup
	PATH=$(CURDIR)/$(VENV):$$PATH $(VENV)/snakemake --lint
	$(VENV)/snakefmt --check Snakefile workflow/rules

clean-results:
	rm -rf results logs benchmarks .snakemake
