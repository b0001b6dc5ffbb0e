# `make report` and `make test` each set up the virtual environment they need (pinned dependencies from
# pyproject.toml), so a fresh clone needs nothing else first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# Extra arguments for build_report.py, e.g. make report ARGS="--profile smoke --jobs 2"
ARGS ?=

.PHONY: venv report test lab clean-outputs

venv: $(INSTALLED)

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(INSTALLED)

report: $(INSTALLED)
	$(PY) build_report.py $(ARGS)

test: $(INSTALLED)
	$(PY) -m pytest

lab: $(INSTALLED)
	$(VENV)/bin/jupyter lab notebooks/

clean-outputs:
	find outputs -mindepth 1 -maxdepth 1 ! -name README.md ! -name paper -exec rm -rf {} +
