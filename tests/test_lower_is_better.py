"""A task whose metric is lower-is-better (the text task's validation loss) reads the right way round through the
report: the lowest loss ranks first, a lower loss is "clearly better", differences are in nats with three
decimals, time to target aims 5% above the lowest loss, and no accuracy column is read to rank."""

import re

import pandas as pd
import pytest

from lrlab import answer, differences, plots, report, results
from lrlab.statistics import paired_difference, with_correction
from lrlab.tasks import ACCURACY, LOSS, metric_of

# final validation loss per seed; the accuracy columns say the opposite, so reading them would fail every test
LOSSES = {"const": [2.40, 2.42, 2.41, 2.43, 2.40],
          "cosine": [2.10, 2.13, 2.11, 2.12, 2.10],
          "adam": [1.70, 1.72, 1.71, 1.73, 1.69]}


def _runs(losses=LOSSES, task="shakespeare_char"):
    family = {"const": "constant", "cosine": "modern_schedules", "adam": "adaptive"}
    rows = []
    for label, values in losses.items():
        for seed, loss in enumerate(values):
            rows.append({"family": family[label], "label": label, "seed": seed, "status": "completed",
                         "task": task, "n_classes": 65, "final_val_loss": loss, "best_val_loss": loss - 0.01,
                         "final_val_accuracy": loss / 10, "best_val_accuracy": loss / 10, "best_epoch": 4,
                         "train_seconds": 1.0, "protocol": "holdout", "test_loss": loss + 0.02,
                         "test_accuracy": loss / 10, "optimizer": "adam" if label == "adam" else "sgd",
                         "schedule": "cosine_decay" if label == "cosine" else "constant", "tuned": label,
                         "lr0": 0.1, "epochs": 4})
    return pd.DataFrame(rows)


def test_the_text_task_is_ranked_by_its_validation_loss():
    runs = _runs()
    assert metric_of(runs) is LOSS and metric_of(runs.iloc[0]) is LOSS and metric_of(pd.DataFrame()) is ACCURACY
    assert metric_of(pd.Series({"task": float("nan")})) is ACCURACY  # a blank task read back from a CSV
    table = results.summary_table(runs)
    assert table["configuration"].tolist() == ["adam", "cosine", "const"]
    assert table.loc[0, "final_mean"] == pytest.approx(1.71) and table.loc[0, "test_mean"] == pytest.approx(1.73)
    formatted = results.format_summary(table)
    column = "final val. loss (mean ± std [95% CI], healthy seeds)"
    assert formatted[column].iloc[0].startswith("1.710 ± 0.016 [")
    assert "test loss (mean [95% CI], measured once after training)" in formatted.columns
    ranks = results.rank_table(runs)
    assert ranks["configuration"].tolist() == ["adam", "cosine", "const"]
    assert ranks["mean rank within a seed"].tolist() == ["1.0", "2.0", "3.0"]


def test_a_lower_loss_is_clearly_better_and_reads_in_nats():
    runs = _runs()
    diffs = differences.baseline_differences(runs, "const").set_index("configuration")
    # Adam minus constant SGD: 1.71 − 2.412 = −0.702 nats, lower on every seed
    assert diffs.loc["adam", "difference"] == pytest.approx(-0.702)
    assert diffs.loc["adam", "verdict_adj"] == "clearly better" and diffs.loc["adam", "wins"] == 5
    assert diffs.index.tolist() == ["adam", "cosine"]  # best (most negative) first
    text = differences.difference_text(diffs.loc["adam"].to_dict(), "95%", LOSS)
    assert text.startswith("−0.702 nats (95% simultaneous CI −0.") and "ahead on 5 of 5 seeds" in text
    assert text.endswith("**clearly better**")
    shown = differences.format_differences(diffs.reset_index())
    assert "difference, nats [95% simultaneous CI, Bonferroni]" in shown.columns
    # the same numbers as accuracy (higher is better) would call the lower side worse
    a, b = pd.Series(LOSSES["adam"]), pd.Series(LOSSES["const"])
    as_accuracy = with_correction(pd.DataFrame([paired_difference(a, b)]))
    assert as_accuracy.loc[0, "verdict_adj"] == "clearly worse" and as_accuracy.loc[0, "wins"] == 0


def test_the_first_screen_and_conclusions_say_lowest_loss():
    runs = _runs()
    table = results.summary_table(runs)
    short = results.in_short(table, runs)
    assert "- **Best configuration:** adam: 1.710 (95% CI 1.690 to 1.730, 5 seeds) final validation loss " \
           "(guessing: ln 65 = 4.174)." in short
    assert "in nats of final validation loss" in short
    assert "points" not in short and not re.search(r"\d%(?! (simultaneous )?CI)", short)  # no percentages
    text = results.conclusions(table, runs)
    assert "- **Lowest final validation loss:** adam with 1.710" in text
    assert "- **Highest among the configurations whose every seed learned:** const" in text
    assert "the spread between the best and the worst of them is 0.702 nats" in text
    diffs = differences.baseline_differences(runs, "const")
    said = answer.recommendation(table, diffs, results.short_names(runs))
    assert said.startswith("- **With no tuning** (each method at its default rate): Adam reached the lowest "
                           "validation loss, 1.710; clearly better than constant-rate SGD")
    power = answer.resolving_power(diffs)
    assert "nats" in answer.resolving_text(power, None) and "resolving 0.02 nats" in answer.resolving_text(power, None)


def test_a_tie_on_the_loss_is_named_beside_the_best():
    runs = _runs({"const": LOSSES["const"], "cosine": [x + 0.003 for x in LOSSES["adam"]], "adam": LOSSES["adam"]})
    table = results.summary_table(runs)
    short = results.in_short(table, runs)
    assert "— cosine decay within 0.005 nats of it, so the order among them is not resolved" in short


def test_time_to_target_aims_just_above_the_lowest_loss():
    histories = pd.DataFrame({
        "task": "shakespeare_char", "label": ["fast"] * 3 + ["slow"] * 3 + ["never"] * 3, "epoch": [1, 2, 3] * 3,
        "val_loss": [2.0, 1.60, 1.60, 2.5, 1.8, 1.66, 3.0, 2.9, 2.8],
        "val_accuracy": [0.1] * 9})
    table, target = results.time_to_target(histories, 0.95)
    assert target == pytest.approx(1.05 * 1.60)  # 1.68
    assert table.to_dict("records") == [{"configuration": "fast", "epochs": 2},
                                        {"configuration": "slow", "epochs": 3},
                                        {"configuration": "never", "epochs": "not reached"}]
    assert "reaches 1.680 (5% above the lowest mean loss reached by a configuration" in report.time_caption(
        target, 0.95, histories)


def test_figures_put_the_lowest_loss_first():
    runs = _runs()
    diffs = differences.baseline_differences(runs, "const")
    fig = plots.forest_figure(diffs, plots.colours(runs), results.short_names(runs), "t")
    ax = fig.axes[0]
    # best at the top: the last tick drawn is Adam's, the lowest loss
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "Adam"
    assert ax.get_xlabel().startswith("difference to constant-rate SGD, nats of final validation loss")
    box = plots.final_values_figure(runs, "t")
    assert [t.get_text() for t in box.axes[0].get_yticklabels()][0] == "adam"  # labels as given (none here)
    assert box.axes[0].get_xlabel() == "final validation loss"
