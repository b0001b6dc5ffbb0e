"""The project's pins, its notebooks as committed, and its CI entry point."""

import json
import re
import tomllib
from pathlib import Path

import papermill
import pytest
import yaml
from lrlab.notebook_text import FAMILY_NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_environment_yml_pins_agree_with_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pyproject = set(project["dependencies"]) | set(project["optional-dependencies"]["test"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda = {p for p in pip_section if "==" in p}
    assert conda == pyproject
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][\w.]*", p) for p in pyproject), "every dependency is pinned"


def test_ci_runs_both_readme_test_tiers():
    """CI runs the fast tier and then the slow one alone (`make test-all` is both, for a person), each test once."""
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    for command in ("make test", "make test-slow"):
        assert re.search(rf"^{command}$", ci, flags=re.M), command
        assert f"`{command}`" in readme, command
    assert "`make test-all`" in readme
    makefile = (ROOT / "Makefile").read_text()
    assert '$(PY) -m pytest -m "slow and not functional"' in makefile  # the slow tier: what `make test` leaves out


def test_the_notebooks_are_the_public_interface():
    names = {p.stem for p in NOTEBOOKS}
    assert names == {"constant", "time_based_decay", "step_decay", "exponential_decay", "modern_schedules", "adaptive",
                     "lr_sensitivity", "lr_range_test", "budget", "custom", "compare"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_committed_without_outputs(path):
    cells = json.loads(path.read_text())["cells"]
    assert not [c for c in cells if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_parameters_cell_is_the_table_s(path):
    """The literal cells papermill and JupyterLab read agree with lrlab.parameters, line for line: names, types,
    defaults and comments (python -m lrlab.parameters prints the cells to paste after a change to the table)."""
    from lrlab.parameters import parameters_cell

    cells = json.loads(path.read_text())["cells"]
    tagged = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1 and "".join(tagged[0]["source"]) == parameters_cell(path.stem)


def test_every_parameter_the_table_checks_is_in_a_notebook():
    from lrlab.parameters import NOTEBOOKS as TAKEN, PARAMETERS, notebook_parameters

    assert set(PARAMETERS) == {name for notebook in TAKEN for name in notebook_parameters(notebook)}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_are_typed_and_documented(path):
    """What `papermill --help-notebook` shows: every parameter has a type and a comment."""
    params = papermill.inspect_notebook(str(path))
    assert "profile" in params and "output_dir" in params
    for name, p in params.items():
        assert p["help"], f"{path.stem}: parameter {name} has no comment"
        assert p["inferred_type_name"] != "None", f"{path.stem}: parameter {name} has no type"


EXPECTED = {
    "constant": {"lr": "0.1", "momentum": "0.0"},
    "time_based_decay": {"lr0": "0.1", "decay": "None", "momentum": "0.8"},
    "step_decay": {"lr0": "0.1", "drop": "0.5", "epochs_drop": "10", "momentum": "0.5"},
    "exponential_decay": {"lr0": "0.1", "k": "0.1", "momentum": "0.8"},
}


@pytest.mark.parametrize("name", EXPECTED)
def test_family_defaults_are_the_2017_settings(name):
    params = papermill.inspect_notebook(str(ROOT / "notebooks" / f"{name}.ipynb"))
    assert {k: params[k]["default"] for k in EXPECTED[name]} == EXPECTED[name]
    for common in ("profile", "seeds", "epochs", "batch_size", "data_path", "output_dir"):
        assert common in params


def test_the_code_is_clean_under_ruff():
    """The linter CI runs (configured in pyproject.toml): library, tests, benchmarks and the command line."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "lib", "tests", "benchmarks",
                           "examples", "build_report.py"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]


@pytest.mark.parametrize("name", FAMILY_NOTEBOOKS)
def test_the_family_notebooks_shared_text_is_written_once(name):
    """Their shared sections are lrlab.notebook_text's (which says how the figure draws training and validation
    from lrlab.plots): `python -m lrlab.notebook_text` rewrites a notebook that drifted."""
    from lrlab import notebook_text

    path = ROOT / "notebooks" / f"{name}.ipynb"
    assert notebook_text.check(path) == []
    sections = [h for h in notebook_text.SHARED if h in path.read_text()]
    assert len(sections) == len(notebook_text.SHARED)


def test_the_notebook_text_says_what_the_figure_draws():
    from lrlab import notebook_text, plots

    text = notebook_text.SHARED["## Learning rate, accuracy and loss per epoch"]
    assert f"{plots.VALIDATION_STYLE.capitalize()} lines are validation" in text
    assert f"{plots.TRAINING_STYLE} lines the training" in text
    assert (plots.TRAINING_STYLE, plots.VALIDATION_STYLE) == ("dashed", "solid")
