"""Tuning effort (expected best after k trials), the learning-rate finder's rules against the sweep, and the
statistics behind every verdict (scipy intervals, simultaneous intervals)."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from lrlab import tuning
from lrlab.statistics import paired_difference, simultaneous_interval, with_correction


@pytest.mark.parametrize("seed", range(5))
def test_expected_best_of_k_equals_enumerating_every_draw(seed):
    values = np.random.default_rng(seed).random(np.random.default_rng(seed).integers(2, 7))
    values[1] = values[0]  # ties count like any other value
    n = len(values)
    for k in range(1, n + 1):
        subsets = [max(c) for c in itertools.combinations(values, k)]
        assert tuning.expected_max(values, k) == pytest.approx(np.mean(subsets))
        tuples = [max(c) for c in itertools.product(values, repeat=k)]
        assert tuning.expected_max(values, k, replace=True) == pytest.approx(np.mean(tuples))


def test_expected_best_of_k_by_hand():
    # pairs of {0.3, 0.5, 0.7, 0.9}: maxima 0.5, 0.7, 0.9, 0.7, 0.9, 0.9 → 4.6 / 6
    assert tuning.expected_max([0.3, 0.9, 0.5, 0.7], 2) == pytest.approx(4.6 / 6)
    assert tuning.expected_max([0.3, 0.9, 0.5, 0.7], 1) == pytest.approx(0.6)  # one trial: the mean
    assert tuning.expected_max([0.3, 0.9, 0.5, 0.7], 4) == pytest.approx(0.9)  # the whole grid: its best
    # with replacement (Dodge et al.): P(max = 0.9) = 1 - (3/4)^2 = 7/16, P(0.7) = 5/16, P(0.5) = 3/16, P(0.3) = 1/16
    assert tuning.expected_max([0.3, 0.9, 0.5, 0.7], 2, replace=True) == pytest.approx(
        (7 * 0.9 + 5 * 0.7 + 3 * 0.5 + 0.3) / 16)
    with pytest.raises(ValueError, match="k=5 is invalid"):
        tuning.expected_max([0.3, 0.9, 0.5, 0.7], 5)


def _sweep(rows):
    return pd.DataFrame([{"optimizer": o, "tuned": o, "seed": s, "lr0": lr, "final_val_accuracy": acc,
                          "chance": 0.5, "status": status} for o, s, lr, acc, status in rows])


def test_tuning_curves_per_seed_and_their_mean_with_a_diverged_run_at_chance():
    rows = [("sgd", s, lr, acc, "completed") for s, accs in ((0, (0.6, 0.8, 0.7)), (1, (0.62, 0.84, 0.66)),
                                                              (2, (0.58, 0.82, 0.72)))
            for lr, acc in zip((0.01, 0.1, 1.0), accs)]
    rows += [("adam", s, lr, acc, "completed") for s in (0, 1, 2) for lr, acc in ((1e-4, 0.7), (1e-3, 0.75))]
    rows += [("adam", s, 1e-2, None, "diverged") for s in (0, 1, 2)]
    curves, per_seed = tuning.tuning_curves(_sweep(rows))
    seed0 = per_seed[(per_seed["tuned"] == "sgd") & (per_seed["seed"] == 0)]["expected_best"].tolist()
    assert seed0 == pytest.approx([0.7, (0.7 + 0.8 + 0.8) / 3, 0.8])
    adam = curves[curves["tuned"] == "adam"].set_index("k")
    assert adam.loc[1, "expected_best"] == pytest.approx((0.7 + 0.75 + 0.5) / 3)  # diverged: chance, 0.5
    assert adam.loc[3, "expected_best"] == pytest.approx(0.75)
    sgd = curves[curves["tuned"] == "sgd"].set_index("k")
    assert sgd.loc[3, "expected_best"] == pytest.approx(np.mean([0.8, 0.84, 0.82]))
    assert (sgd["low"] <= sgd["expected_best"]).all() and (sgd["expected_best"] <= sgd["high"]).all()
    assert sgd.loc[3, "low"] >= 0.8 and sgd.loc[3, "high"] <= 0.84  # resampled means of three seeds' bests


def test_effort_comparisons_are_paired_by_seed_and_corrected():
    per_seed = pd.DataFrame([{"tuned": o, "seed": s, "k": k,
                              "expected_best": base + 0.01 * k + 0.001 * s * (o == "adam")}
                             for o, base in (("sgd", 0.7), ("adam", 0.75), ("sgd_momentum", 0.7))
                             for s in range(4) for k in (1, 2, 3)])
    table = tuning.effort_comparisons(per_seed, ks=(1, None))
    adam = table[(table["configuration"] == "Adam") & (table["k"] == "1")].iloc[0]
    assert adam["test"] == "paired" and adam["difference"] == pytest.approx(5.15)  # points
    assert adam["verdict"] == adam["verdict_adj"] == "clearly better" and adam["wins"] == adam["pairs"] == 4
    momentum = table[(table["configuration"] == "SGD+momentum") & (table["against"] == "SGD")].iloc[0]
    assert momentum["verdict"] == "no clear difference" and momentum["p"] == 1.0  # identical on every seed
    assert set(table["k"]) == {"1", "whole grid"} and (table["p_adj"] >= table["p"]).all()
    assert ((table["ci_low_adj"] <= table["ci_low"]) & (table["ci_high_adj"] >= table["ci_high"])).all()


def _comparisons(a_minus_b):
    """with_correction's input from paired samples: {name: (a, b)} over the same seeds."""
    rows = []
    for a, b in a_minus_b:
        rows.append(paired_difference(pd.Series(a), pd.Series(b)))
    return pd.DataFrame(rows)


def test_bonferroni_intervals_on_a_worked_example():
    # three paired comparisons over 4 seeds, each clear on its own; the first not once corrected for three
    table = with_correction(_comparisons([([0.71, 0.73, 0.72, 0.75], [0.70, 0.70, 0.70, 0.70]),
                                          ([0.60, 0.62, 0.61, 0.66], [0.65, 0.66, 0.67, 0.68]),
                                          ([0.80, 0.85, 0.90, 0.95], [0.70, 0.71, 0.72, 0.74])]))
    p = table["p"].to_numpy()
    np.testing.assert_allclose(table["p_adj"], np.minimum(1, 3 * p))
    # the simultaneous interval is the t-interval at level 1 - 0.05/3: t(1 - 0.05/6, 3) = 4.8567 standard errors
    d, se = table.loc[0, "difference"], table.loc[0, "se"]
    assert table.loc[0, "ci_low_adj"] == pytest.approx(d - 4.8567 * se, abs=1e-5)
    assert table.loc[0, "ci_low"] == pytest.approx(d - 3.1824 * se, abs=1e-5)  # t(0.975, 3) on its own
    assert table["family_size"].iloc[0] == 3
    assert table["verdict"].tolist() == ["clearly better", "clearly worse", "clearly better"]
    assert table["verdict_adj"].tolist() == ["no clear difference", "clearly worse", "clearly better"]
    assert table.loc[0, "p"] < 0.05 < table.loc[0, "p_adj"] and table.loc[1, "p_adj"] < 0.05
    # a comparison picked after looking among m = 88 pairs: the same arithmetic with m
    picked = with_correction(table.iloc[[2]], m=88)
    assert picked["family_size"].iloc[0] == 88
    assert picked["ci_low_adj"].iloc[0] == pytest.approx(simultaneous_interval(
        table.loc[2, "difference"], table.loc[2, "se"], 3, 88)[0])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.lists(st.floats(0.4, 0.9), min_size=5, max_size=5),
                          st.floats(-0.05, 0.05)), min_size=1, max_size=8))
def test_every_verdict_agrees_with_the_interval_beside_it(samples):
    """On any family: clear after the correction exactly when the simultaneous interval excludes zero, which is
    exactly when the adjusted p is below 0.05; and on its own, the same with the plain interval."""
    rows = [(np.array(a) + shift + np.linspace(0, 0.01, 5), np.array(a)) for a, shift in samples]
    table = with_correction(_comparisons(rows))
    for _, r in table.iterrows():
        excludes = r["ci_low_adj"] > 0 or r["ci_high_adj"] < 0
        assert (r["verdict_adj"] != "no clear difference") == excludes
        if r["se"] > 0 and abs(r["p_adj"] - 0.05) > 1e-9:
            assert excludes == (r["p_adj"] < 0.05)
        assert (r["verdict"] != "no clear difference") == (r["ci_low"] > 0 or r["ci_high"] < 0)


def test_paired_difference_without_spread_is_exact():
    a = pd.Series([0.8, 0.9], index=[0, 1])
    assert paired_difference(a, a - 0.1) == pytest.approx(
        {"difference": 0.1, "ci_low": 0.1, "ci_high": 0.1, "p": 0.0, "method": "paired", "se": 0.0, "df": 1,
         "wins": 2, "pairs": 2})
    assert paired_difference(a, a)["p"] == 1.0


def _fastai_valley(lrs, losses):
    """fastai's valley as fastai writes it (double loop), to check the vectorized one against."""
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if (losses[i] < losses[j]) and (lds[i] < lds[j] + 1):
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    return float(lrs[max(0, max_start + int(sections) + int(sections / 2))])


@pytest.mark.parametrize("seed", range(6))
def test_valley_equals_fastai_s_double_loop_on_noisy_curves(seed):
    rng = np.random.default_rng(seed)
    lrs = np.logspace(-6, 1, 80)
    losses = 0.7 - 0.2 * np.exp(-((np.log10(lrs) + 2) ** 2)) + 0.02 * rng.standard_normal(80)
    assert tuning.valley(lrs, losses) == _fastai_valley(lrs, losses)


def _fastai_smoothed(losses, beta=0.98):
    """fastai's Recorder smoothing as fastai writes it: avg = lerp(loss, avg, beta), debiased by 1 - beta^count."""
    avg, out = 0.0, []
    for count, loss in enumerate(losses, start=1):
        avg = loss + beta * (avg - loss)  # torch.lerp(loss, avg, beta)
        out.append(avg / (1 - beta ** count))
    return np.array(out)


def test_the_finder_is_read_as_fastai_reads_it():
    """fastai records 100 iterations, smooths them with beta 0.98 and reads steep and valley on
    lrs[num_it//10:-5]: a 1,000-batch test is read through the same view, not batch by batch."""
    lrs = np.logspace(-6, 1, 1000)
    raw = 0.7 + 0.05 * np.random.default_rng(0).standard_normal(1000)
    view_lrs, view_losses = tuning.fastai_view(pd.DataFrame({"lr": lrs, "loss": raw, "smoothed_loss": raw}))
    idx = np.linspace(0, 999, 100).round().astype(int)
    np.testing.assert_allclose(view_losses, _fastai_smoothed(raw[idx])[10:-5], rtol=1e-12)
    np.testing.assert_array_equal(view_lrs, lrs[idx][10:-5])
    # a test shorter than fastai's 100 iterations is read whole
    assert len(tuning.fastai_view(pd.DataFrame({"lr": lrs[:20], "loss": raw[:20]}))[0]) == 20 - 2 - 5


def test_each_rule_on_a_curve_with_a_known_answer():
    lrs = np.logspace(-6, 1, 1000)
    x = np.log10(lrs)
    # the loss drops by 0.3 at 1e-3 (where it falls fastest, however it is smoothed), is lowest at 1e-1, then climbs
    raw = 1.0 - 0.3 * (x >= -3) + 0.5 * np.clip(x + 1, 0, None) ** 2
    history = pd.DataFrame({"lr": lrs, "loss": raw, "smoothed_loss": _fastai_smoothed(raw, beta=0.98)})
    found = tuning.suggestions(history)
    view = tuning.fastai_view(history)[0]
    assert found["steepest"] == view[np.searchsorted(view, 1e-3) - 1]  # the left end of the drop's segment
    assert found["valley"] > 1e-3  # inside the fall that follows the drop
    smoothed = history["smoothed_loss"].to_numpy()
    lowest = lrs[100:][np.argmin(smoothed[100:])]
    assert found["lowest ÷ 10"] == pytest.approx(lowest / 10)
    flat = tuning.suggestions(pd.DataFrame({"lr": lrs, "loss": 0.7 + 0.001 * x, "smoothed_loss": 0.7 + 0.001 * x}))
    assert flat == {"lowest ÷ 10": None, "steepest": None, "valley": None}  # the loss never falls


def test_finder_scored_against_the_sweep_s_best_rate():
    sweep = _sweep([("adam", s, lr, acc, "completed") for s in (0, 1)
                    for lr, acc in ((1e-4, 0.70), (1e-3, 0.80), (1e-2, 0.60))])
    tests = pd.DataFrame({"optimizer": ["adam", "adam"], "seed": [0, 1], "lowest ÷ 10": [1e-3, 1e-3],
                          "steepest": [10 ** -3.5, 10 ** -3.5], "valley": [None, 1e-5]})
    table = tuning.finder_against_sweep(tests, sweep).set_index("rule")
    assert table.loc["lowest ÷ 10", "decades"] == pytest.approx(0)
    assert table.loc["lowest ÷ 10", "lost"] == pytest.approx(0)
    # half a decade below the best: halfway between 0.70 and 0.80 on the log axis → 5 points lost
    assert table.loc["steepest", "decades"] == pytest.approx(-0.5) and table.loc["steepest", "lost"] == pytest.approx(5)
    # one seed found none; the other's 1e-5 lies beyond the grid: the edge's accuracy, a lower bound
    assert table.loc["valley", "none"] == 1 and table.loc["valley", "lost"] == pytest.approx(10)
    assert table.loc["valley", "beyond_grid"]
    assert tuning.rule_scores(table.reset_index())["rule"].tolist() == ["lowest ÷ 10", "steepest", "valley"]
    # the first screen's line says when the closest rule found no rate on some tests (they are not counted)
    tests["lowest ÷ 10"] = [1e-3, None]
    line = tuning.in_short(None, None, tuning.finder_against_sweep(tests, sweep))
    assert "closest to the sweep, *lowest ÷ 10*: a median 0.00 decades from the sweep's best rate, 0.0 points lost " \
        "on average (1 of its 2 tests found no rate: not counted)" in line


def _budget_runs():
    from lrlab.budget_comparison import budget_table

    rows = []
    # Adam leads at 15 epochs; constant-rate SGD gains 6 points with 45 and leads there; step decay gains nothing
    for key, opt, sched, acc15, acc45 in (("sgd-c", "sgd", "constant", 0.66, 0.72),
                                          ("adam", "adam", "constant", 0.70, 0.71),
                                          ("sgd-s", "sgd", "step_decay", 0.65, 0.65)):
        for seed, noise in enumerate((0.0, 0.01, -0.01)):
            for epochs, acc in ((15, acc15), (45, acc45)):
                rows.append({"optimizer": opt, "schedule": sched, "epochs": epochs, "seed": seed, "status": "completed",
                             "final_val_accuracy": acc + noise + (0.002 * seed if epochs == 45 else 0)})
    return budget_table(pd.DataFrame(rows))


def test_budget_table_ranks_each_budget_and_pairs_each_gain_by_seed():
    from lrlab.budget_comparison import budget_conclusions, format_budget

    table = _budget_runs()
    at = table.set_index(["method", "epochs"])
    assert at.loc[("Adam", 15), "rank"] == 1 and at.loc[("constant rate", 45), "rank"] == 1
    assert at.loc[("constant rate", 45), "gain"] == pytest.approx(6.2)  # 6 points + the seeds' 0, 0.2, 0.4
    assert at.loc[("constant rate", 45), "verdict_adj"] == "clearly better"
    assert at.loc[("step decay", 45), "gain"] == pytest.approx(0.2)
    text = budget_conclusions(table)
    assert "the best of them at 15 epochs is Adam (70.0%), at 45 epochs constant rate (72.2%)" in text
    assert "Kendall's τ = 0.33 over 3 methods" in text  # one swap among three
    assert "the largest gain is constant rate's, +6.2 points" in text
    shown = format_budget(table)
    assert shown["method"].tolist() == ["constant rate", "Adam", "step decay"]  # by rank at the largest budget
    assert shown.loc[0, "rank at 15"] == "2" and shown.loc[0, "rank at 45"] == "1"
    # a method with a failed seed at a budget is placed last there, and its row says it is not ranked
    failed = table.assign(failed=table["failed"].mask((table["method"] == "Adam") & (table["epochs"] == 15),
                                                      "1 of 3 seeds did not learn"))
    assert format_budget(failed).set_index("method").loc["Adam", "rank at 15"] == "not ranked"


def test_budget_configurations_are_the_families_at_the_profile_s_epochs():
    from lrlab import families
    from lrlab.parameters import resolve_settings
    from lrlab.store import run_id

    settings = resolve_settings("smoke", data_path="synthetic", output_dir="/nonexistent", seeds=[0, 1])
    data = {"fingerprint": "f", "y_train": [0] * 160, "y_val": [0] * 40}
    budget = families.budget_configs([2, 6], ["one_cycle", "cosine_decay", "triangular_cyclical"], settings, data)
    assert len(budget) == 2 * 11 * 2 and sorted({c["epochs"] for c in budget}) == [2, 6]
    own = {run_id(c) for family in ("constant", "time_based_decay", "step_decay", "exponential_decay",
                                    "modern_schedules", "adaptive")
           for c in families.configs(family, settings, data, families.notebook_defaults(family))}
    assert [run_id(c) in own for c in budget] == [c["epochs"] == 2 for c in budget]


def test_the_effort_table_reads_alike_whatever_each_method_s_grid_size():
    rows = [("sgd", s, lr, 0.6 + 0.1 * i, "completed") for s in (0, 1) for i, lr in enumerate((0.01, 0.1, 1.0))]
    rows += [("adam", s, lr, 0.7 + 0.05 * i, "completed") for s in (0, 1) for i, lr in enumerate((1e-4, 1e-3))]
    curves, _ = tuning.tuning_curves(_sweep(rows))
    table = tuning.format_effort(curves).set_index("method")
    assert list(table.columns) == ["1 rate tried [95% band]", "3 rates tried", "the whole grid", "rates on the grid",
                                   "seeds"]
    assert table.loc["Adam", "3 rates tried"] == "–" and table.loc["Adam", "the whole grid"].startswith("75.0")
    assert table.loc["SGD", "the whole grid"].startswith("80.0") and table.loc["SGD", "rates on the grid"] == 3


def test_a_schedule_s_peak_rate_is_tuned_like_an_optimizer_s_rate():
    """SGD under a schedule whose peak rate is swept is a tuned method of its own ("sgd+cosine_decay"), compared
    with constant-rate SGD at equal tuning effort, paired by seed."""
    from lrlab.config import tuned_display, tuned_method

    key = tuned_method("sgd", "cosine_decay")
    assert key == "sgd+cosine_decay" and tuned_method("adam", "constant") == "adam"
    assert tuned_display(key) == "SGD + cosine decay"
    rows = [("sgd", s, lr, acc, "completed") for s in range(3) for lr, acc in ((0.03, 0.60), (0.1, 0.66), (0.3, 0.62))]
    rows += [(key, s, lr, acc + 0.01 * s, "completed") for s in range(3)
             for lr, acc in ((0.03, 0.62), (0.1, 0.70), (0.3, 0.72))]
    curves, per_seed = tuning.tuning_curves(_sweep(rows))
    assert set(curves["method"]) == {"SGD", "SGD + cosine decay"}
    table = tuning.effort_comparisons(per_seed, ks=(1, None))
    row = table[(table["tuned"] == key) & (table["k"] == "whole grid")].iloc[0]
    assert row["against_tuned"] == "sgd" and row["difference"] == pytest.approx(100 * (0.73 - 0.66))
    assert row["wins"] == row["pairs"] == 3


def test_a_bound_near_zero_keeps_the_digits_that_show_its_side():
    from lrlab.statistics import interval_text

    # a clear verdict read from [+0.020, +18.64] must not print as [+0.0, +18.6]
    assert interval_text(9.3, 0.020, 18.64) == "+9.3 [+0.020, +18.6]"
    assert interval_text(1.0, -0.004, 2.0) == "+1.0 [−0.0040, +2.0]"
    assert interval_text(1.0, 0.06, 2.0) == "+1.0 [+0.1, +2.0]" and interval_text(1.0, 0.0, 2.0) == "+1.0 [+0.0, +2.0]"


def test_a_sentence_s_interval_near_zero_shows_its_side_too():
    from lrlab.differences import difference_text

    d = {"difference": 10.7, "ci_low": 2.0, "ci_high": 19.0, "verdict": "clearly better", "ci_low_adj": -0.04,
         "ci_high_adj": 21.3, "verdict_adj": "no clear difference", "family_size": 12, "wins": 3, "pairs": 3}
    assert "(95% simultaneous CI −0.040 to +21.3, Bonferroni over 12 comparisons" in difference_text(d, "95%")


# --- a lower-is-better task: the text task ranks by validation loss (lrlab.tasks.LOSS) ---

GUESSING = math.log(65)  # what a diverged run counts at on Tiny Shakespeare's 65 characters (the runs table's chance)


def _loss_sweep(rows):
    """A sweep of the text task: final validation loss (and a test loss 0.05 above it) per run."""
    return pd.DataFrame([{"optimizer": o, "tuned": o, "seed": s, "lr0": lr, "final_val_loss": loss,
                          "test_loss": None if loss is None else loss + 0.05, "chance": GUESSING,
                          "status": status, "task": "shakespeare_char"} for o, s, lr, loss, status in rows])


def _loss_effort():
    rows = [("sgd", s, lr, loss + 0.01 * s, "completed") for s in range(3)
            for lr, loss in ((0.01, 2.0), (0.1, 1.6), (1.0, 1.8))]
    rows += [("adam", s, lr, loss, "completed") for s in range(3) for lr, loss in ((1e-4, 1.7), (1e-3, 1.5))]
    rows += [("adam", s, 1e-2, None, "diverged") for s in range(3)]
    curves, per_seed = tuning.tuning_curves(_loss_sweep(rows))
    return curves, per_seed, tuning.effort_comparisons(per_seed, ks=(1, None))


def test_on_a_loss_the_expected_best_of_k_is_the_lowest_and_lower_is_clearly_better():
    curves, per_seed, table = _loss_effort()
    seed0 = per_seed[(per_seed["tuned"] == "sgd") & (per_seed["seed"] == 0)]["expected_best"].tolist()
    # one rate: the mean; two: the mean of each pair's lowest (1.6, 1.6, 1.8); the whole grid: its lowest
    assert seed0 == pytest.approx([1.8, (1.6 + 1.6 + 1.8) / 3, 1.6])
    adam = curves[curves["tuned"] == "adam"].set_index("k")
    assert adam.loc[1, "expected_best"] == pytest.approx((1.7 + 1.5 + GUESSING) / 3)  # diverged: guessing's loss
    assert adam.loc[3, "expected_best"] == pytest.approx(1.5)
    grid = table[table["k"] == "whole grid"].iloc[0]
    # Adam's 1.5 minus SGD's 1.60, 1.61, 1.62: lower, so better, on every seed
    assert grid["difference"] == pytest.approx(-0.11) and grid["wins"] == grid["pairs"] == 3
    assert grid["verdict"] == grid["verdict_adj"] == "clearly better"
    one = table[table["k"] == "1"].iloc[0]
    assert one["difference"] > 0 and one["verdict_adj"] == "clearly worse" and one["wins"] == 0


def test_a_loss_s_tuning_effort_reads_in_nats_with_the_lowest_first():
    curves, _, table = _loss_effort()
    text = tuning.effort_conclusions(curves, table)
    assert text.startswith("- **With 1 rate tried**, the lowest expected best is SGD's (1.810); after the "
                           "correction Adam minus SGD: +0.648 nats (95% simultaneous CI ")
    assert ("- **With the whole grid**, the lowest expected best is Adam's (1.500); after the correction Adam minus "
            "SGD: −0.110 nats (95% simultaneous CI −0.") in text and text.endswith("), clearly better.")
    shown = tuning.format_comparisons(table).set_index("rates tried")
    assert shown.loc["whole grid", "difference, nats [95% simultaneous CI]"].startswith("−0.110 [−0.1")
    assert tuning.format_effort(curves).set_index("method").loc["SGD", "the whole grid"].startswith("1.610 [1.60")
    assert tuning.in_short(curves, table, None) == (
        "- **Tuning effort** (expected best validation loss after k learning rates tried): 1 rate tried: SGD (1.810); "
        "3 rates: Adam (1.500); the whole grid: Adam (1.500). With the whole grid, 1 of 1 methods are clearly better "
        "than tuned SGD after the correction.")


def test_on_a_loss_the_clear_differences_are_listed_the_lowest_first():
    # at one rate tried: Adam 0.2 nats below SGD, Adagrad 0.1 above; every seed alike but for a little noise
    per_seed = pd.DataFrame([{"tuned": o, "seed": s, "k": 1, "expected_best": loss + 0.002 * s * (o != "sgd"),
                              "task": "shakespeare_char"}
                             for o, loss in (("sgd", 1.8), ("adagrad", 1.9), ("adam", 1.6)) for s in range(4)])
    curves = per_seed.groupby(["tuned", "k"], sort=False)["expected_best"].mean().reset_index().assign(
        method=lambda c: c["tuned"].map({"sgd": "SGD", "adagrad": "Adagrad", "adam": "Adam"}), task="shakespeare_char")
    comparisons = tuning.effort_comparisons(per_seed, ks=(1,))
    assert comparisons.set_index("tuned")["verdict_adj"].to_dict() == {"adagrad": "clearly worse",
                                                                      "adam": "clearly better"}
    text = tuning.effort_conclusions(curves, comparisons)
    assert text.startswith("- **With 1 rate tried**, the lowest expected best is Adam's (1.603); after the "
                           "correction Adam minus SGD: −0.197 nats")
    assert text.index("Adam minus SGD") < text.index("Adagrad minus SGD: +0.103 nats")


def test_on_a_loss_the_finder_is_scored_against_the_lowest_loss_s_rate_in_nats():
    sweep = _loss_sweep([("adam", s, lr, loss, "completed") for s in (0, 1)
                         for lr, loss in ((1e-4, 1.9), (1e-3, 1.5), (1e-2, 2.1))])
    assert tuning.best_rates(sweep).iloc[0][["best_lr", "at_best"]].tolist() == pytest.approx([1e-3, 1.5])
    tests = pd.DataFrame({"optimizer": ["adam", "adam"], "seed": [0, 1], "lowest ÷ 10": [1e-3, 1e-3],
                          "steepest": [10 ** -3.5, 10 ** -3.5], "valley": [None, 1e-5]})
    table = tuning.finder_against_sweep(tests, sweep)
    lost = table.set_index("rule")["lost"]
    # halfway between 1.9 and 1.5 on the log axis: 0.2 nats above the best; beyond the grid, the edge's 1.9
    assert lost.tolist() == pytest.approx([0.0, 0.2, 0.4])
    shown = tuning.format_finder(table).set_index("rule")["extra loss, nats (mean over seeds)"]
    assert shown.tolist() == ["0.000", "0.200", "0.400 (at least: beyond the grid)"]
    text = tuning.finder_conclusions(table)
    assert "would have raised the final validation loss by 0.000 nats on average." in text
    assert "  - steepest: 0.50 decades, 0.200 nats of extra loss" in text
    assert tuning.in_short(None, None, table).endswith(
        "0.000 nats of extra loss on average; steepest 0.50 decades, 0.200 nats; valley 2.00 decades, 0.400 nats.")


def test_on_a_loss_the_sweep_s_best_rate_is_the_one_with_the_lowest_mean_loss():
    from lrlab.sweep import format_sensitivity, sensitivity_table

    rates = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)  # the default: the centre, 1e-3
    runs = _loss_sweep([("adam", s, lr, loss + 0.01 * s, "completed") for s in range(2)
                        for lr, loss in zip(rates, (2.0, 1.6, 1.7, 1.9, 2.2))])
    row = sensitivity_table(runs).iloc[0]
    assert row["best_lr"] == 1e-4 and not row["on_edge"] and row["at_best"] == pytest.approx(1.605)
    shown = format_sensitivity(sensitivity_table(runs)).iloc[0]
    assert shown["final val. loss at default"] == "1.705" and shown["final val. loss at best"] == "1.605"
    assert shown["change, nats"] == "−0.100" and shown["test loss at default → at best"] == "1.755 → 1.655"


def _loss_budget_runs():
    from lrlab.budget_comparison import budget_table

    rows = []
    # Adam lowest at 15 epochs; constant-rate SGD drops 0.2 nats with 45 and leads there; step decay stays put
    for opt, sched, loss15, loss45 in (("sgd", "constant", 1.80, 1.60), ("adam", "constant", 1.70, 1.69),
                                       ("sgd", "step_decay", 1.85, 1.85)):
        for seed, noise in enumerate((0.0, 0.01, -0.01)):
            for epochs, loss in ((15, loss15), (45, loss45)):
                rows.append({"optimizer": opt, "schedule": sched, "epochs": epochs, "seed": seed,
                             "status": "completed", "task": "shakespeare_char",
                             "final_val_loss": loss + noise - (0.002 * seed if epochs == 45 else 0)})
    return budget_table(pd.DataFrame(rows))


def test_on_a_loss_the_budget_ranks_the_lowest_first_and_a_drop_is_clearly_better():
    from lrlab.budget_comparison import budget_conclusions, format_budget

    table = _loss_budget_runs()
    at = table.set_index(["method", "epochs"])
    assert at.loc[("Adam", 15), "rank"] == 1 and at.loc[("step decay", 15), "rank"] == 3
    assert at.loc[("constant rate", 45), "rank"] == 1
    assert at.loc[("constant rate", 45), "gain"] == pytest.approx(-0.202)
    assert at.loc[("constant rate", 45), "verdict_adj"] == "clearly better"
    text = budget_conclusions(table)
    assert "the best of them at 15 epochs is Adam (1.700), at 45 epochs constant rate (1.598)" in text
    assert ("From 15 to 45 epochs, 2 of 3 methods improve clearly after the correction for 3 comparisons; the "
            "largest improvement is constant rate's, −0.202 nats (95% simultaneous CI −0.2") in text
    shown = format_budget(table)
    assert shown["method"].tolist() == ["constant rate", "Adam", "step decay"]
    assert shown.loc[0, "45 epochs: final val. loss [95% CI]"].startswith("1.598 [")
    assert shown.loc[0, "change 15 → 45 epochs, nats [95% simultaneous CI]"].startswith("−0.202 [")


def test_a_loss_is_drawn_in_nats_with_a_diverged_seed_at_guessing_s_loss():
    from lrlab import tuning_plots

    runs = _loss_sweep([("adam", s, lr, loss, "completed") for s in range(2) for lr, loss in ((1e-4, 1.7),
                                                                                           (1e-3, 1.5))]
                       + [("adam", 0, 1e-2, 1.9, "completed"), ("adam", 1, 1e-2, None, "diverged")])
    ax = tuning_plots.sensitivity_figure(runs, "t").axes[0]
    assert ax.get_ylabel() == "final validation loss"
    assert ax.collections[1].get_offsets()[:, 1].tolist() == pytest.approx([GUESSING])  # not 100 × it
    assert list(ax.lines[0].get_ydata()[:2]) == pytest.approx([1.7, 1.5])
    curves, _, _ = _loss_effort()
    ax = tuning_plots.tuning_effort_figure(curves, "t").axes[0]
    assert ax.get_ylabel() == "expected best val. loss" and ax.lines[-1].get_ydata()[-1] == pytest.approx(1.5)
