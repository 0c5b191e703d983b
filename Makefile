# The two commands of the README (both set up .venv first), plus helpers.
SHELL := /bin/bash
VENV := .venv/bin
CORES ?= 2

.PHONY: setup run study report test lint clean-results

setup:
	bash scripts/setup.sh

run: setup  ## the main job on the default config, ending with the HTML report
	PATH=$(CURDIR)/$(VENV):$$PATH $(VENV)/snakemake --cores $(CORES)
	PATH=$(CURDIR)/$(VENV):$$PATH $(VENV)/snakemake --report results/report.html
	@echo "report: results/report.html"

study: setup  ## the signal study (config/study.yaml) in runs/study/; 90 to 100 minutes on 2 idle CPU cores (README)
	mkdir -p runs/study
	PATH=$(CURDIR)/$(VENV):$$PATH $(VENV)/snakemake --directory runs/study --configfile config/study.yaml \
		--config tasks_registry=$(CURDIR)/config/tasks.yaml resources_dir=$(CURDIR)/resources --cores $(CORES)
	PATH=$(CURDIR)/$(VENV):$$PATH $(VENV)/snakemake --directory runs/study --configfile config/study.yaml \
		--config tasks_registry=$(CURDIR)/config/tasks.yaml resources_dir=$(CURDIR)/resources --report $(CURDIR)/runs/study/report.html
	@echo "report: runs/study/report.html"

test: setup  ## unit tests, the tiny workflow end to end, the SLURM and browser checks
	PATH=$(CURDIR)/$(VENV):$$PATH $(VENV)/python -m pytest -q -rs

lint: setup
	PATH=$(CURDIR)/$(VENV):$$PATH $(VENV)/snakemake --lint
	$(VENV)/snakefmt --check Snakefile workflow/rules

clean-results:
	rm -rf results logs benchmarks .snakemake
