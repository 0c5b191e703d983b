# The two commands of the README (both set up .venv first), plus helpers.
SHELL := /bin/bash
VENV := .venv/bin
CORES ?= 2

.PHONY: setup run report test lint clean-results

setup:
	bash scripts/setup.sh

run: setup  ## the main job on the default config, ending with the HTML report
	PATH=$(CURDIR)/$(VENV):$$PATH $(VENV)/snakemake --cores $(CORES)
	PATH=$(CURDIR)/$(VENV):$$PATH $(VENV)/snakemake --report results/report.html
	@echo "report: results/report.html"

test: setup  ## unit tests, the tiny workflow end to end, the SLURM and browser checks
	PATH=$(CURDIR)/$(VENV):$$PATH $(VENV)/python -m pytest -q -rs

lint: setup
	PATH=$(CURDIR)/$(VENV):$$PATH $(VENV)/snakemake --lint
	$(VENV)/snakefmt --check Snakefile workflow/rules

clean-results:
	rm -rf results logs benchmarks .snakemake
