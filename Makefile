# `make report` and `make test` each set up the virtual environment they need (pinned dependencies from
# pyproject.toml), so a fresh clone needs nothing else first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# Extra arguments for build_report.py, e.g. make report ARGS="--profile smoke --jobs 2"
ARGS ?=

.PHONY: venv report test test-all test-slow lab publish clean-outputs

venv: $(INSTALLED)

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(INSTALLED)

report: $(INSTALLED)
	$(PY) build_report.py $(ARGS)

# the fast tier: unit tests, no smoke build (about 5 minutes on 2 cores)
test: $(INSTALLED)
	$(PY) -m pytest

# both tiers: the fast tier and the long tests (kill -9, Dask, JAX, random parameters through papermill)
test-all: $(INSTALLED)
	$(PY) -m pytest -m "not functional and not thorough"

# the long tests alone: what CI runs after `make test`, so that no test runs twice
test-slow: $(INSTALLED)
	$(PY) -m pytest -m "slow and not functional"

# Re-render the published reports from the runs committed beside them (nothing trains that is stored), then
# rewrite the README's findings and the screenshots from them. The paper report's runs were trained from the
# cat/dog archive: PAPER_DATA=/path/to/cifar-catdog.tar.gz (or LRLAB_PAPER_DATA). The study report is rebuilt
# where its runs are stored, training the ones missing (STUDY_DATA: the same cat/dog archive, which its committed
# runs were trained from; another copy of CIFAR-10 has another fingerprint, so other runs). The Shakespeare report's
# runs are committed too (SHAKESPEARE_DATA: tinyshakespeare.txt); it compares itself with the paper report's runs.
PAPER_DATA ?= $(LRLAB_PAPER_DATA)
STUDY_DATA ?= $(PAPER_DATA)
SHAKESPEARE_DATA ?= $(LRLAB_SHAKESPEARE)
# the text task's report, compared with the paper report's runs (its modern schedules: cosine and WSD)
SHAKESPEARE_ARGS = --profile shakespeare -p data_path=$(SHAKESPEARE_DATA) -p 'schedules=["cosine_decay","wsd"]' \
	-p 'across_profiles=["paper"]'
publish: $(INSTALLED)
	@test -n "$(PAPER_DATA)" || { echo "make publish: set PAPER_DATA=/path/to/cifar-catdog.tar.gz"; exit 2; }
	$(PY) build_report.py --profile paper -p data_path=$(PAPER_DATA)
	if [ -d outputs/study/runs ]; then $(PY) build_report.py --profile study -p data_path=$(STUDY_DATA) -p 'budgets=[15,30,45]'; fi
	@test -n "$(SHAKESPEARE_DATA)" || { echo "make publish: set SHAKESPEARE_DATA=/path/to/tinyshakespeare.txt"; exit 2; }
	$(PY) build_report.py $(SHAKESPEARE_ARGS)
	$(PY) -m lrlab.publish
	$(PY) -m lrlab.screenshots outputs/paper/report.html docs/screenshots/paper
	if [ -d outputs/study/runs ]; then $(PY) -m lrlab.screenshots outputs/study/report.html docs/screenshots/study; fi
	$(PY) -m lrlab.screenshots outputs/shakespeare/report.html docs/screenshots/shakespeare

lab: $(INSTALLED)
	$(VENV)/bin/jupyter lab notebooks/

clean-outputs:
	find outputs -mindepth 1 -maxdepth 1 ! -name README.md ! -name paper ! -name shakespeare ! -name study -exec rm -rf {} +
