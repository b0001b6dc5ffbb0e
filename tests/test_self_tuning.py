"""The report's answer to "do you still need a schedule, or a learning rate?" (lrlab.self_tuning), on sweeps made
up to give known numbers."""

import math
import re

import numpy as np
import pandas as pd
import pytest

from lrlab import self_tuning, tuning


def _sweep(rows):
    return pd.DataFrame([{"tuned": key, "optimizer": key.split("+")[0], "seed": s, "lr0": lr,
                          "final_val_accuracy": acc, "chance": 0.5, "status": status}
                         for key, s, lr, acc, status in rows])


def _made_up():
    """Three seeds. Adam's grid 1e-4, 1e-3, 1e-2; SGD + cosine's 0.01, 0.1, 1; Prodigy's 0.1, 1, 10 (its default 1,
    the centre); DoG's default diverged on every seed (a tuner gets chance from it)."""
    rows = []
    for s in range(3):
        rows += [("adam", s, lr, acc + 0.01 * s, "completed") for lr, acc in ((1e-4, 0.66), (1e-3, 0.70), (1e-2, 0.60))]
        rows += [("sgd+cosine_decay", s, lr, acc, "completed") for lr, acc in ((0.01, 0.62), (0.1, 0.68), (1.0, 0.64))]
        rows += [("prodigy", s, lr, acc + 0.01 * s, "completed") for lr, acc in ((0.1, 0.70), (1.0, 0.74), (10.0, 0.5))]
        rows += [("dog", s, lr, acc, status) for lr, acc, status in ((0.1, 0.6, "completed"), (1.0, None, "diverged"),
                                                                       (10.0, None, "diverged"))]
    return _sweep(rows)


def test_a_method_at_its_defaults_is_compared_with_tuned_baselines_paired_by_seed():
    sweep = _made_up()
    _, per_seed = tuning.tuning_curves(sweep)
    table = self_tuning.comparisons(sweep, per_seed)
    assert self_tuning.untuned_methods(sweep) == ["prodigy", "dog"]
    prodigy = table[(table["tuned"] == "prodigy") & (table["baseline"] == "adam")].set_index("k")
    # Prodigy at its default (0.74 + 0.01 s) minus Adam's expected best of 1 rate ((0.66 + 0.70 + 0.60)/3 + 0.01 s)
    assert prodigy.loc["1", "difference"] == pytest.approx(100 * (0.74 - (0.66 + 0.70 + 0.60) / 3))
    assert prodigy.loc["whole grid", "difference"] == pytest.approx(100 * (0.74 - 0.70))
    assert prodigy.loc["whole grid", "wins"] == 3 and prodigy.loc["whole grid", "against"] == \
        "Adam, its whole grid tried"
    assert "3" not in prodigy.index  # a 3-point grid: 3 rates is the whole grid, counted once
    # DoG's default diverged: chance on every seed, clearly behind tuned SGD + cosine
    dog = table[(table["tuned"] == "dog") & (table["baseline"] == "sgd+cosine_decay")].set_index("k")
    assert dog.loc["whole grid", "difference"] == pytest.approx(100 * (0.5 - 0.68))
    # one family: every row corrected for all of them
    assert (table["family_size"] == len(table)).all() and len(table) == 2 * 2 * 2


def test_the_first_screen_line_prints_the_interval_its_verdict_is_read_from():
    sweep = _made_up()
    sweep.loc[sweep["tuned"] == "prodigy", "final_val_accuracy"] += np.tile([0.0, 0.004, -0.002], 9)[:9]
    _, per_seed = tuning.tuning_curves(sweep)
    table = self_tuning.comparisons(sweep, per_seed)
    line = self_tuning.in_short(table)
    assert line.startswith("- **No schedule, no learning rate?** At their authors' defaults, the best of these "
                           "methods is Prodigy")
    low, high = (float(x.replace("−", "-")) for x in re.search(r"CI ([^ ]+) to ([^,]+),", line).groups())
    verdict = re.search(r"CI [^,]+, ([a-z ]+)\)", line).group(1)
    assert (verdict == "clearly better") == (low > 0) and (verdict == "clearly worse") == (high < 0)
    assert "1 of 2 such methods are clearly behind Adam tuned alike" in line  # DoG
    # and the failures at the defaults are named, not only folded into a mean at chance
    assert line.endswith("— but at the defaults DoG failed on 3 of 3 seeds (a failed run counts at chance here).")


def test_which_evaluation_point_wins_is_measured_on_the_test_set_and_over_epochs():
    runs = pd.DataFrame([{"run_id": f"r{s}", "tuned": "schedule_free_adamw", "lr0": 0.0025, "seed": s,
                          "test_accuracy": 0.70 + 0.01 * s, "test_accuracy_at_training_point": 0.66 + 0.012 * s}
                         for s in range(3)] +
                        [{"run_id": "adam", "tuned": "adam", "lr0": 0.001, "seed": 0, "test_accuracy": 0.7,
                          "test_accuracy_at_training_point": None}])
    histories = pd.DataFrame([{"run_id": f"r{s}", "epoch": e, "val_accuracy": 0.6 + 0.01 * e,
                               "val_accuracy_at_training_point": 0.62 if e < 2 else 0.5}
                              for s in range(3) for e in range(4)])
    table = self_tuning.evaluation_points(runs, histories)
    row = table.iloc[0]
    assert len(table) == 1 and row["method"] == "Schedule-free AdamW"
    assert row["difference"] == pytest.approx(100 * np.mean([0.04, 0.038, 0.036]))
    assert row["epochs_x_ahead"] == 6 and row["epochs"] == 12  # y ahead in the first two epochs of each seed
    assert "x validated higher in 50.0% of the epochs where the two differ" in self_tuning.points_conclusion(table)
    # epochs where both score alike (both at chance) are left out of the count
    tied = pd.concat([histories, histories.assign(epoch=histories["epoch"] + 4, val_accuracy=0.5,
                                                  val_accuracy_at_training_point=0.5)])
    row = self_tuning.evaluation_points(runs, tied).iloc[0]
    assert row["epochs_x_ahead"] == 6 and row["epochs"] == 12


def test_with_one_seed_the_line_claims_no_interval():
    sweep = _made_up()
    sweep = sweep[sweep["seed"] == 0]
    _, per_seed = tuning.tuning_curves(sweep)
    line = self_tuning.in_short(self_tuning.comparisons(sweep, per_seed))
    assert "(no interval: fewer than two seeds)" in line and "clearly" not in line.split(";")[0]


# --- a lower-is-better task: the text task ranks by validation loss ---

GUESSING = math.log(65)  # the runs table's chance on Tiny Shakespeare: a diverged trial counts at it


def _loss_sweep():
    """Three seeds of the text task. Adam's grid 1e-4, 1e-3, 1e-2 (lowest loss 1.6 + 0.01 s at 1e-3); Prodigy's
    default (1, the centre) 1.55 + 0.01 s and a little noise; DoG's default diverged on every seed."""
    rows = []
    for s, noise in zip(range(3), (0.0, 0.004, -0.002)):
        rows += [("adam", s, lr, loss + 0.01 * s, "completed") for lr, loss in ((1e-4, 1.9), (1e-3, 1.6), (1e-2, 2.0))]
        rows += [("prodigy", s, lr, loss + 0.01 * s + noise, "completed")
                 for lr, loss in ((0.1, 1.7), (1.0, 1.55), (10.0, 2.2))]
        rows += [("dog", s, lr, loss, status) for lr, loss, status in ((0.1, 2.5, "completed"), (1.0, None, "diverged"),
                                                                       (10.0, None, "diverged"))]
    return pd.DataFrame([{"tuned": key, "optimizer": key, "seed": s, "lr0": lr, "final_val_loss": loss,
                          "chance": GUESSING, "status": status, "task": "shakespeare_char"}
                         for key, s, lr, loss, status in rows])


def test_on_a_loss_a_lower_loss_at_the_defaults_is_clearly_better():
    sweep = _loss_sweep()
    _, per_seed = tuning.tuning_curves(sweep)
    table = self_tuning.comparisons(sweep, per_seed).set_index(["tuned", "k"])
    prodigy = table.loc[("prodigy", "whole grid")]
    # 1.55 + 0.01 s + noise minus Adam's lowest, 1.6 + 0.01 s: about 0.05 nats lower on every seed
    assert prodigy["difference"] == pytest.approx(-0.05 + 0.002 / 3)
    assert prodigy["verdict_adj"] == "clearly better" and prodigy["wins"] == 3
    dog = table.loc[("dog", "whole grid")]
    assert dog["difference"] == pytest.approx(GUESSING - 1.61) and dog["verdict_adj"] == "clearly worse"
    shown = self_tuning.format_comparisons(self_tuning.comparisons(sweep, per_seed)).set_index(
        ["method (at its defaults)", "minus"])
    assert shown.loc[("Prodigy", "Adam, its whole grid tried"), "difference, nats [95% simultaneous CI]"].startswith(
        "−0.049 [−0.0")
    line = self_tuning.in_short(self_tuning.comparisons(sweep, per_seed))
    assert line.startswith("- **No schedule, no learning rate?** At their authors' defaults, the best of these "
                           "methods is Prodigy: −0.049 nats against Adam, its whole grid tried (95% simultaneous CI ")
    assert "1 of 2 such methods are clearly behind Adam tuned alike" in line
    assert line.endswith("— but at the defaults DoG failed on 3 of 3 seeds (a failed run counts as guessing here).")


def test_on_a_loss_the_evaluation_point_with_the_lower_loss_wins():
    runs = pd.DataFrame([{"run_id": f"r{s}", "tuned": "schedule_free_adamw", "lr0": 0.0025, "seed": s,
                          "task": "shakespeare_char", "test_loss": 1.60 + 0.01 * s,
                          "test_loss_at_training_point": 1.70 + 0.012 * s} for s in range(3)])
    histories = pd.DataFrame([{"run_id": f"r{s}", "epoch": e, "val_loss": 2.0 - 0.1 * e,
                               "val_loss_at_training_point": 1.8 if e < 1 else 2.5}
                              for s in range(3) for e in range(4)])
    table = self_tuning.evaluation_points(runs, histories)
    row = table.iloc[0]
    assert row["difference"] == pytest.approx(-np.mean([0.10, 0.102, 0.104]))  # x's loss lower: better
    assert row["verdict_adj"] == "clearly better" and row["wins"] == 3
    assert row["epochs_x_ahead"] == 9 and row["epochs"] == 12  # y lower in the first epoch of each seed only
    shown = self_tuning.format_points(table).iloc[0]
    assert shown["test loss at x (averaged)"] == "1.610" and shown["at y (training point)"] == "1.712"
    assert shown["x minus y, nats [95% simultaneous CI]"].startswith("−0.102 [")
    assert shown["epochs where x validated lower (of those where x and y differ)"] == "9 of 12"
    assert "x validated lower in 75.0% of the epochs where the two differ" in self_tuning.points_conclusion(table)
