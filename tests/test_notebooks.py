"""Every notebook as the smoke build executed it (conftest's `smoke_build`), and notebooks run on their own."""

import json
from pathlib import Path

import nbformat
import papermill
import pytest
from conftest import SMOKE_FIGURES

from lrlab import schedules
from lrlab.config import PROFILES

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ["constant", "time_based_decay", "step_decay", "exponential_decay", "modern_schedules", "adaptive",
            "lr_sensitivity"]
# one seed in the smoke profile: a run per schedule or method, and per rate of the sweep's grid (SGD, every
# method, every swept schedule), counted from the registries
_SMOKE = PROFILES["smoke"]
RUNS_PER_FAMILY = {"constant": 1, "time_based_decay": 1, "step_decay": 1, "exponential_decay": 1,
                   "modern_schedules": len(schedules.MODERN), "adaptive": len(_SMOKE["optimizers"]),
                   "lr_sensitivity": (1 + len(_SMOKE["optimizers"]) + len(_SMOKE["swept_schedules"]))
                   * _SMOKE["lr_grid_points"]}

pytestmark = pytest.mark.smoke  # every test here reads the one smoke build, or runs a notebook


@pytest.fixture(scope="module")
def executed(smoke_build):
    """The smoke build's output folder and its executed notebooks: {name: executed notebook}."""
    out, result = smoke_build
    assert result.returncode == 0, result.stderr[-3000:]
    return out, {name: nbformat.read(out / "smoke" / "notebooks" / f"{name}.ipynb", as_version=4)
                 for name in FAMILIES + ["lr_range_test", "compare"]}


def _images(nb):
    """Figures shown: matplotlib's inline PNGs (family notebooks) and the report's numbered HTML figures."""
    outputs = [o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    return sum("image/png" in d for d in outputs) + sum(d.get("text/html", "").count("<img ") for d in outputs)


@pytest.mark.parametrize("family", FAMILIES)
def test_family_notebook_writes_its_runs_and_figures(executed, family):
    out, notebooks = executed
    manifest = json.loads((out / "smoke" / "families" / f"{family}.json").read_text())
    assert len(manifest["run_ids"]) == RUNS_PER_FAMILY[family]
    for rid in manifest["run_ids"]:
        folder = out / "smoke" / "runs" / rid
        assert {p.name for p in folder.iterdir()} == {"config.json", "history.csv", "summary.json"}
        config = json.loads((folder / "config.json").read_text())
        # the sweep's runs are the constant and adaptive families' configurations, shared with them
        assert config["family"] == family or family == "lr_sensitivity"
        assert config["epochs"] == 2 and config["seed"] == 0 and config["data"]["protocol"] == "holdout"
        assert len((folder / "history.csv").read_text().splitlines()) == 1 + 2
    # learning rate, accuracy and loss in one three-panel figure; the sweep: accuracy against rate
    assert _images(notebooks[family]) == 1


def test_range_test_notebook_suggests_a_rate_per_method(executed):
    out, notebooks = executed
    manifest = json.loads((out / "smoke" / "families" / "lr_range_test.json").read_text())
    tests = [rid for rid in manifest["run_ids"] if rid.startswith("lr_range_test-")]
    assert len(tests) == 1 + len(_SMOKE["optimizers"])  # SGD and every method
    # and fastai's workflow trained from them (one-cycle at each test's valley), listed in the same manifest
    assert all(rid.startswith("finder_workflow-") for rid in manifest["run_ids"] if rid not in tests)
    for rid in tests:
        summary = json.loads((out / "smoke" / "runs" / rid / "summary.json").read_text())
        assert summary["suggested_lr"] is None or 0 < summary["suggested_lr"] < 10
        assert 0 < summary["min_loss_lr"] < 10 and summary["steps_completed"] <= 20
    assert _images(notebooks["lr_range_test"]) == 1


def test_family_parameters_reach_the_runs(executed):
    out, _ = executed
    manifest = json.loads((out / "smoke" / "families" / "step_decay.json").read_text())
    config = json.loads((out / "smoke" / "runs" / manifest["run_ids"][0] / "config.json").read_text())
    assert config["schedule"] == {"name": "step_decay", "lr0": 0.1, "drop": 0.5, "epochs_drop": 10}
    assert config["optimizer"] == {"name": "sgd", "momentum": 0.5}
    manifest = json.loads((out / "smoke" / "families" / "time_based_decay.json").read_text())
    config = json.loads((out / "smoke" / "runs" / manifest["run_ids"][0] / "config.json").read_text())
    assert config["schedule"]["decay"] == pytest.approx(0.1 / 2)  # decay=None means lr0 / epochs


def test_compare_notebook_draws_every_comparison(executed):
    _, notebooks = executed
    nb = notebooks["compare"]
    assert _images(nb) == SMOKE_FIGURES
    text = "\n".join(o.get("data", {}).get("text/markdown", "") + o.get("data", {}).get("text/html", "")
                     for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    # the 2017 four, the modern schedules, every method and the custom schedule, one seed each
    compared = 4 + len(schedules.MODERN) + len(_SMOKE["optimizers"]) + 1
    assert f"{compared} runs: {compared} configurations" in text and "Protocol: held-out validation" in text
    assert "final val. accuracy %" in text and "Highest final validation accuracy" in text
    assert "Incomplete report" not in text


def test_a_notebook_run_on_its_own_reuses_the_stored_runs(executed, tmp_path):
    out, _ = executed
    target = tmp_path / "again.ipynb"
    papermill.execute_notebook(str(ROOT / "notebooks" / "constant.ipynb"), str(target), kernel_name="python3",
                               parameters={"profile": "smoke", "output_dir": str(out)}, progress_bar=False,
                               cwd=str(ROOT))
    printed = "".join(o.get("text", "") for c in nbformat.read(target, as_version=4).cells
                      if c.cell_type == "code" for o in c.outputs)
    assert "reused" in printed and "trained in" not in printed


def test_compare_on_an_empty_store_says_what_is_missing(tmp_path):
    target = tmp_path / "compare.ipynb"
    papermill.execute_notebook(str(ROOT / "notebooks" / "compare.ipynb"), str(target), kernel_name="python3",
                               parameters={"profile": "smoke", "output_dir": str(tmp_path)}, progress_bar=False,
                               cwd=str(ROOT))
    text = "".join(o.get("data", {}).get("text/markdown", "") + o.get("data", {}).get("text/html", "")
                   for c in nbformat.read(target, as_version=4).cells if c.cell_type == "code" for o in c.outputs)
    assert "Incomplete report" in text and "Adaptive methods" in text and "No completed runs" in text
    assert "nothing to download" in text


def test_a_bad_parameter_stops_the_notebook_with_its_message(tmp_path):
    with pytest.raises(papermill.PapermillExecutionError) as err:
        papermill.execute_notebook(str(ROOT / "notebooks" / "constant.ipynb"), str(tmp_path / "bad.ipynb"),
                                   kernel_name="python3", progress_bar=False, cwd=str(ROOT),
                                   parameters={"profile": "smoke", "output_dir": str(tmp_path), "lr": -1})
    assert err.value.ename == "ParameterError" and "parameter lr=-1 is invalid" in err.value.evalue
    assert not (tmp_path / "smoke" / "runs").exists()


@pytest.mark.slow
def test_a_notebook_run_on_its_own_trains_what_it_lacks(tmp_path):
    """Without a build: papermill on one family notebook trains its runs, through the build's own unit of work,
    and records them for compare.ipynb."""
    target = tmp_path / "alone.ipynb"
    papermill.execute_notebook(str(ROOT / "notebooks" / "step_decay.ipynb"), str(target), kernel_name="python3",
                               parameters={"profile": "smoke", "output_dir": str(tmp_path), "seeds": [0, 1]},
                               progress_bar=False, cwd=str(ROOT))
    printed = "".join(o.get("text", "") for c in nbformat.read(target, as_version=4).cells
                      if c.cell_type == "code" for o in c.outputs)
    assert "and 1 more seeds: epoch 2/2" in printed and printed.count("trained in") == 2  # one group, two runs
    manifest = json.loads((tmp_path / "smoke" / "families" / "step_decay.json").read_text())
    summaries = [json.loads((tmp_path / "smoke" / "runs" / rid / "summary.json").read_text())
                 for rid in manifest["run_ids"]]
    assert [s["trained_together"] for s in summaries] == [2, 2]


def test_a_kernel_that_dies_before_it_starts_is_started_again(monkeypatch, tmp_path):
    """A kernel that never answered its first message ran no cell (a TCP port taken by a kernel starting beside
    it): the notebook is executed again, a bounded number of times; any other failure is reported at once."""
    from lrlab import execution

    def failing(times, message):
        calls = []

        def execute(*args, **kwargs):
            calls.append(1)
            if len(calls) <= times:
                raise RuntimeError(message)
        return execute, calls

    execute, calls = failing(1, execution.KERNEL_START_FAILURE)
    monkeypatch.setattr(papermill, "execute_notebook", execute)
    assert execution.execute_notebook("constant", {}, tmp_path / "out.ipynb")[1] is None and len(calls) == 2

    execute, calls = failing(99, execution.KERNEL_START_FAILURE)
    monkeypatch.setattr(papermill, "execute_notebook", execute)
    _, error, _ = execution.execute_notebook("constant", {}, tmp_path / "out.ipynb")
    assert error == f"RuntimeError: {execution.KERNEL_START_FAILURE}"
    assert len(calls) == execution.KERNEL_START_RETRIES + 1

    execute, calls = failing(99, "out of memory")
    monkeypatch.setattr(papermill, "execute_notebook", execute)
    assert execution.execute_notebook("constant", {}, tmp_path / "out.ipynb")[1] == "RuntimeError: out of memory"
    assert len(calls) == 1
