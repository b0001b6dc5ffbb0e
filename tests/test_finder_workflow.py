"""fastai's workflow, trained: one-cycle peaking at each stored range test's valley (lrlab.finder_workflow), declared
once the tests are stored, trained by the range-test notebook's family, and scored paired by seed."""

import json
import math

import pandas as pd
import pytest

from lrlab import families, finder_workflow, run_tables, tuning
from lrlab.parameters import resolve_settings
from lrlab.data import load_dataset
from lrlab.statistics import paired_difference
from lrlab.store import read_manifest, read_summary, run_id, runs_dir


def quiet(message):
    pass


def test_each_stored_range_test_is_followed_by_one_cycle_at_its_valley(tmp_path, synthetic_archive):
    settings = resolve_settings("smoke", epochs=1, seeds=[0, 1], optimizers=["adam", "prodigy"], range_test_steps=20,
                                data_path=str(synthetic_archive), output_dir=str(tmp_path))
    dataset = load_dataset(settings)
    params = families.notebook_defaults("lr_range_test")
    tests = [c for c in families.configs("lr_range_test", settings, dataset, params)]
    assert {c.get("kind") for c in tests} == {"lr_range_test"}  # nothing stored yet: only the tests are declared

    runs = families.run("lr_range_test", settings, params, dataset, log=quiet)

    workflow = [r for r in runs if r["run_id"].startswith(finder_workflow.FAMILY)]
    assert len(runs) == len(tests) + len(workflow) and all(not r["reused"] for r in runs)
    expected = {}
    for test in tests:
        history = pd.read_csv(runs_dir(settings) / run_id(test) / "history.csv")
        valley = tuning.suggestions(history)["valley"]
        if test["optimizer"]["name"] != "prodigy" and valley is not None:  # Prodigy needs no rate: left out
            expected[(test["optimizer"]["name"], test["seed"])] = valley
    assert expected and len(workflow) == len(expected)
    for run in workflow:
        config = json.loads((runs_dir(settings) / run["run_id"] / "config.json").read_text())
        valley = expected[(config["optimizer"]["name"], config["seed"])]
        # the one-cycle the schedule sweep tunes, peaking at the test's valley
        sweep_shape, = families.configs("modern_schedules", settings, dataset, families.notebook_defaults(
            "modern_schedules") | {"schedules": ["one_cycle"], "lr0": valley})[:1]
        assert config["schedule"] == sweep_shape["schedule"] and config["schedule"]["lr0"] == pytest.approx(valley)
        assert config["family"] == finder_workflow.FAMILY and read_summary(runs_dir(settings) / run["run_id"])
    # the notebook's manifest lists both; the tables read each apart
    assert len(read_manifest(settings, "lr_range_test")["run_ids"]) == len(runs)
    _, table = run_tables.load_runs(settings, ["lr_range_test"])
    assert sorted(table["run_id"]) == sorted(r["run_id"] for r in workflow)
    assert set(table["family"]) == {finder_workflow.FAMILY} and set(table["schedule"]) == {"one_cycle"}
    assert len(run_tables.load_range_tests(settings)[1]) == len(tests)
    again = families.run("lr_range_test", settings, params, dataset, log=quiet)
    assert all(r["reused"] for r in again) and len(again) == len(runs)


def _runs(rows):
    return pd.DataFrame([{"tuned": key, "optimizer": key.split("+")[0], "seed": s, "lr0": lr, "final_val_accuracy": acc,
                          "chance": 0.5, "status": status} for key, s, lr, acc, status in rows])


OURS = [0.70, 0.712, 0.719, 0.731]  # Adam's workflow: 4 points over its default on every seed, 1 below its best
SGD_OURS = [None, 0.55, 0.56, 0.54]  # SGD's: seed 0 diverged


def test_the_workflow_is_scored_against_the_default_and_the_tuned_rate_paired_by_seed():
    sweep, workflow = [], []
    for s in range(4):
        sweep += [("adam", s, lr, acc + 0.01 * s, "completed") for lr, acc in ((1e-4, 0.62), (1e-3, 0.66), (1e-2, 0.7))]
        sweep += [("sgd", s, lr, acc, "completed") for lr, acc in ((0.01, 0.6), (0.1, 0.64), (1.0, 0.5))]
        workflow += [("adam+one_cycle", s, 3e-3 * (1 + s), OURS[s], "completed"),
                     ("sgd+one_cycle", s, 0.05, SGD_OURS[s], "diverged" if s == 0 else "completed")]
    sweep, workflow = _runs(sweep), _runs(workflow)
    effort, per_seed = tuning.tuning_curves(sweep)
    table = finder_workflow.comparisons(workflow, sweep, per_seed)
    adam = table[table["method"] == "Adam + one-cycle"].set_index("against")
    ours = pd.Series(OURS)
    default = pd.Series([0.66 + 0.01 * s for s in range(4)])
    assert adam.loc["Adam, its default rate", "difference"] == pytest.approx(100 * (ours - default).mean())
    grid = pd.Series([0.70 + 0.01 * s for s in range(4)])  # the whole grid's expected best: each seed's best
    assert adam.loc["Adam, its whole grid", "difference"] == pytest.approx(100 * (ours - grid).mean())
    d = paired_difference(ours, grid)
    assert adam.loc["Adam, its whole grid", "ci_low"] == pytest.approx(100 * d["ci_low"])
    assert list(adam.index) == ["Adam, its default rate", "Adam, its whole grid"]  # 3 rates is the whole grid here
    assert adam.loc["Adam, its default rate", "verdict_adj"] == "clearly better"  # 4 of 4 seeds, 4 points
    assert adam.loc["Adam, its whole grid", "verdict_adj"] == "no clear difference"
    # a diverged workflow run counts at chance, as the tuning view counts a trial
    sgd = table[table["method"] == "SGD + one-cycle"].set_index("against")
    chance_first = sum(SGD_OURS[1:]) + 0.5
    assert sgd.loc["SGD, its default rate", "difference"] == pytest.approx(100 * (chance_first - 4 * 0.64) / 4)
    assert set(table["family_size"]) == {len(table)}
    for _, row in table.iterrows():  # every verdict agrees with the simultaneous interval printed beside it
        clear = row["ci_low_adj"] > 0 or row["ci_high_adj"] < 0
        assert (row["verdict_adj"] != "no clear difference") == clear
    text = finder_workflow.conclusion(table, test_cost=2.5)
    assert ("against each method's default constant rate, ahead in the mean for 1 of 2 methods and on 4 of 8 seed "
            "pairs; clearly better for 1, clearly worse for 1 after the correction") in text
    assert "3 constant rates" not in text and "2.5 epochs" in text and "Best" not in text
    formatted = finder_workflow.format_comparisons(table)
    assert formatted.columns[2] == f"verdict (corrected for {len(table)} comparisons)"
    assert formatted["valleys (peak rates)"].iloc[0] == "0.003–0.012"
    assert math.isnan(finder_workflow.test_epochs(None, workflow))


OURS_LOSS = [1.650, 1.662, 1.668, 1.681]  # Adam's workflow on the text task: 0.05 nats below its default's loss


def test_on_a_loss_the_workflow_is_ahead_where_its_loss_is_lower():
    sweep = [("adam", s, lr, loss + 0.01 * s, "completed") for s in range(4)
             for lr, loss in ((1e-4, 1.9), (1e-3, 1.7), (1e-2, 1.6))]
    workflow = [("adam+one_cycle", s, 3e-3, OURS_LOSS[s], "completed") for s in range(4)]

    def frame(rows):
        return pd.DataFrame([{"tuned": key, "optimizer": key.split("+")[0], "seed": s, "lr0": lr,
                              "final_val_loss": loss, "chance": math.log(65), "status": status,
                              "task": "shakespeare_char"} for key, s, lr, loss, status in rows])

    sweep, workflow = frame(sweep), frame(workflow)
    _, per_seed = tuning.tuning_curves(sweep)
    table = finder_workflow.comparisons(workflow, sweep, per_seed)
    adam = table.set_index("against")
    default = pd.Series([1.7 + 0.01 * s for s in range(4)])
    assert adam.loc["Adam, its default rate", "difference"] == pytest.approx((pd.Series(OURS_LOSS) - default).mean())
    assert adam.loc["Adam, its default rate", "verdict_adj"] == "clearly better"
    assert adam.loc["Adam, its default rate", "wins"] == 4  # lower on every seed
    # the whole grid's expected best is each seed's lowest loss, 1.6 + 0.01 s: the workflow is above it
    assert adam.loc["Adam, its whole grid", "verdict_adj"] == "clearly worse"
    text = finder_workflow.conclusion(table)
    assert ("against each method's default constant rate, ahead in the mean for 1 of 1 methods and on 4 of 4 seed "
            "pairs; clearly better for 1, clearly worse for 0 after the correction (its intervals ±0.0") in text
    assert " nats, median)" in text and "points" not in text
    shown = finder_workflow.format_comparisons(table)
    assert shown["workflow's loss"].iloc[0] == "1.665"
    assert shown["difference, nats [95% simultaneous CI]"].iloc[0].startswith("−0.050 [")
