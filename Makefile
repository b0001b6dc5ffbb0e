# `make report` and `make test` each set up the virtual environment they need (pinned dependencies from
# pyproject.toml), so a fresh clone needs nothing else first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# Extra arguments for build_report.py, e.g. make report ARGS="--profile smoke --jobs 2"
ARGS ?=

.PHONY: venv report test test-all lab clean-outputs

venv: $(INSTALLED)

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(INSTALLED)

report: $(INSTALLED)
	$(PY) build_report.py $(ARGS)

# the fast tier: unit tests and one end-to-end smoke build (about 4 minutes on 2 cores)
test: $(INSTALLED)
	$(PY) -m pytest

# everything CI runs: the fast tier and the long tests (kill -9, Dask, JAX, random parameters through papermill)
test-all: $(INSTALLED)
	$(PY) -m pytest -m "not functional"

lab: $(INSTALLED)
	$(VENV)/bin/jupyter lab notebooks/

clean-outputs:
	find outputs -mindepth 1 -maxdepth 1 ! -name README.md ! -name paper -exec rm -rf {} +
