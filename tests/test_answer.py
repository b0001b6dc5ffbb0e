"""The first screen: the recommendation, what the build can resolve, and that every verdict the report prints
sits beside the interval it is read from (fast: no training)."""

import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats

from lrlab import answer, differences, results, tuning

VERDICT_AFTER_INTERVAL = re.compile(
    r"([+−]\d+\.\d) points \(\d+% (simultaneous )?CI ([+−]\d+\.\d) to ([+−]\d+\.\d)[^)]*\), \**"
    r"(clearly better|clearly worse|no clear difference)")


def _number(text):
    return float(text.replace("−", "-"))


def verdicts_agree(text) -> int:
    """Every "<d> points (<level> CI <low> to <high> ...), <verdict>" in `text`: the verdict agrees with the
    interval printed beside it (to the printed decimal). Returns how many were checked."""
    found = VERDICT_AFTER_INTERVAL.findall(text)
    for difference, _, low, high, verdict in found:
        low, high = _number(low), _number(high)
        assert low <= _number(difference) <= high
        if verdict == "clearly better":
            assert low >= 0, (low, high, verdict)
        elif verdict == "clearly worse":
            assert high <= 0, (low, high, verdict)
        else:
            assert low <= 0 <= high, (low, high, verdict)
    return len(found)


def runs_of(accuracies: dict, statuses=None, losses=None) -> pd.DataFrame:
    """A runs table from {(family, label, optimizer, schedule): [final accuracy per seed]}."""
    rows = []
    for (family, label, optimizer, schedule), values in accuracies.items():
        for seed, acc in enumerate(values):
            rows.append({"run_id": f"{label}-{seed}", "family": family, "label": label, "seed": seed,
                         "status": (statuses or {}).get((label, seed), "completed"), "final_val_accuracy": acc,
                         "final_val_loss": (losses or {}).get((label, seed), 1 - acc + 0.001 * seed),
                         "best_val_accuracy": acc + 0.005, "best_epoch": 10, "train_seconds": 10.0,
                         "protocol": "holdout", "epochs": 15, "test_accuracy": acc - 0.01, "optimizer": optimizer,
                         "schedule": schedule, "lr0": 0.1, "n_classes": 2, "seconds_per_epoch": 0.5,
                         "first_epoch_overhead_s": 3.0, "trained_together": 5, "rate_changed": schedule != "constant"})
    return pd.DataFrame(rows)


CONSTANT = [0.66, 0.67, 0.68, 0.665, 0.675]


def study_like():
    return runs_of({
        ("constant", "SGD const", "sgd", "constant"): CONSTANT,
        ("step_decay", "SGD step", "sgd", "step_decay"): [a + 0.004 + 0.01 * (s % 2) for s, a in enumerate(CONSTANT)],
        ("adaptive", "RMSprop", "rmsprop", "constant"): [a + 0.03 + 0.001 * s for s, a in enumerate(CONSTANT)],
        ("adaptive", "Adam", "adam", "constant"): [a + 0.025 + 0.002 * s for s, a in enumerate(CONSTANT)],
        # the same runs as constant-rate SGD: a plateau schedule that never fired
        ("modern_schedules", "SGD plateau", "sgd", "reduce_on_plateau"): CONSTANT,
    }, losses={("SGD plateau", s): 1 - a for s, a in enumerate(CONSTANT)} | {("SGD const", s): 1 - a
                                                                             for s, a in enumerate(CONSTANT)})


def test_identical_runs_leave_the_family_and_are_named():
    runs = study_like()
    diffs = differences.baseline_differences(runs, "SGD const").set_index("configuration")
    assert bool(diffs.loc["SGD plateau", "identical"]) and diffs.loc["SGD plateau", "verdict_adj"] == "identical runs"
    assert (diffs["family_size"] == 3).all()  # RMSprop, Adam, step decay: not the plateau schedule
    text = results.conclusions(results.summary_table(runs), runs)
    assert "Identical to constant-rate SGD, run for run, so left out of the comparisons:* SGD plateau" in text


def test_the_recommendation_names_what_is_clearly_better_with_seeds_ahead():
    runs = study_like()
    table = results.summary_table(runs)
    diffs = differences.baseline_differences(runs, "SGD const")
    names = {label: label for label in runs["label"].unique()}
    text = answer.recommendation(table, diffs, names)
    assert text.startswith("- **With no tuning** (each method at its default rate): RMSprop scored highest, 70.2%")
    assert "clearly better than constant-rate SGD after the correction: RMSprop and Adam (2 of them ahead on every " \
           "seed)" in text


def test_with_nothing_clear_the_recommendation_says_so():
    runs = runs_of({("constant", "SGD const", "sgd", "constant"): CONSTANT,
                    ("adaptive", "Adam", "adam", "constant"): [0.67, 0.66, 0.69, 0.66, 0.68]})
    diffs = differences.baseline_differences(runs, "SGD const")
    text = answer.recommendation(results.summary_table(runs), diffs, {"Adam": "Adam", "SGD const": "SGD const"})
    assert "**none is clearly better than constant-rate SGD** after the correction" in text


def test_the_longest_budget_and_a_few_rates_tried_are_part_of_the_answer():
    table = results.summary_table(study_like())
    budget = pd.DataFrame([{"method": m, "epochs": e, "rank": r, "mean": a, "gain": g, "verdict_adj": v}
                           for m, e, r, a, g, v in [("RMSprop", 15, 1, 0.70, math.nan, "no test"),
                                                    ("cosine", 15, 2, 0.66, math.nan, "no test"),
                                                    ("cosine", 45, 1, 0.72, 6.0, "clearly better"),
                                                    ("RMSprop", 45, 2, 0.71, 1.0, "no clear difference")]])
    effort = pd.DataFrame([{"method": "Adadelta", "k": 3, "expected_best": 0.69},
                           {"method": "SGD", "k": 3, "expected_best": 0.64}])
    text = answer.recommendation(table, None, {}, effort=effort, budget=budget)
    assert "- **With 3 learning rates tried:** Adadelta has the highest expected best, 69.0%." in text
    assert ("- **At 45 epochs** (the 2 methods the budget comparison trains again, not every method above): cosine "
            "leads (72.0%); 1 of 2 methods gain clearly over the shortest budget, most cosine (+6.0 points): among "
            "these, the ranking at the longest budget is the one to act on.") in text
    close = budget.assign(mean=budget["mean"].where(budget["mean"] != 0.71, 0.716))
    assert "cosine leads (72.0%), RMSprop within 0.5 points of it;" in answer.recommendation(
        table, None, {}, effort=effort, budget=close)


def test_resolving_power_from_the_paired_spread():
    runs = study_like()
    diffs = differences.baseline_differences(runs, "SGD const")
    power = answer.resolving_power(diffs)
    tested = diffs[~diffs["identical"].astype(bool)]
    spread = float(np.median(tested["se"] * np.sqrt(tested["pairs"])))
    assert power["seeds"] == 5 and power["comparisons"] == 3 and power["spread"] == pytest.approx(spread)
    assert power["smallest_clear"] == pytest.approx(stats.t.ppf(1 - 0.05 / 6, 4) * spread / math.sqrt(5))
    text = answer.resolving_text(power, None)
    assert f"called clear only above about {power['smallest_clear']:.1f} points" in text


def test_seeds_needed_follows_the_power_formula():
    # a paired spread of 2 points, 20 comparisons: n with (t(1 - 0.05/40, n-1) + t(0.8, n-1)) * 2 / sqrt(n) <= 1.5
    n = answer.seeds_needed(2.0, 20, 1.5)
    f = [(stats.t.ppf(1 - 0.05 / 40, k - 1) + stats.t.ppf(0.8, k - 1)) * 2 / math.sqrt(k) for k in (n - 1, n)]
    assert f[0] > 1.5 >= f[1]
    assert answer.seeds_needed(2.0, 1, 1.5) < n  # fewer comparisons, fewer seeds
    assert answer.seeds_needed(50.0, 20, 1.5) is None  # beyond 200 seeds


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-0.04, 0.04), min_size=2, max_size=6), st.integers(0, 10_000))
def test_every_verdict_the_first_screen_and_conclusions_print_agrees_with_its_interval(shifts, seed):
    rng = np.random.default_rng(seed)
    accuracies = {("constant", "SGD const", "sgd", "constant"): list(0.65 + 0.01 * rng.standard_normal(5))}
    for i, shift in enumerate(shifts):
        family, optimizer = (("adaptive", "adam"), ("step_decay", "sgd"))[i % 2]
        accuracies[(family, f"config {i}", optimizer, "constant" if optimizer != "sgd" else "step_decay")] = list(
            0.65 + shift + 0.01 * rng.standard_normal(5))
    runs = runs_of(accuracies)
    table = results.summary_table(runs)
    checked = verdicts_agree(results.in_short(table, runs)) + verdicts_agree(results.conclusions(table, runs))
    assert checked >= len(shifts)  # each configuration's difference is printed at least once
    shown = differences.format_differences(differences.baseline_differences(runs, "SGD const"))
    for _, row in shown.iterrows():
        interval = row.filter(like="simultaneous CI").iloc[0]
        numbers = [_number(x) for x in re.findall(r"[+−]\d+\.\d", interval)]
        verdict = row.filter(like="verdict (corrected").iloc[0]
        if len(numbers) == 3 and verdict == "clearly better":
            assert numbers[1] >= 0
        elif len(numbers) == 3 and verdict == "no clear difference":
            assert numbers[1] <= 0 <= numbers[2]


def test_the_tuning_effort_lines_print_the_interval_their_verdict_is_read_from():
    per_seed = pd.DataFrame([{"tuned": o, "seed": s, "k": k,
                              "expected_best": b + 0.01 * k + 0.003 * s * (o == "adam")}
                             for o, b in (("sgd", 0.6), ("adam", 0.7)) for s in range(4) for k in (1, 2, 3)])
    comparisons = tuning.effort_comparisons(per_seed, ks=(1, 3))
    curves = pd.DataFrame([{"tuned": o, "method": o, "k": k, "expected_best": 0.6 + 0.01 * k}
                           for o in ("sgd", "adam") for k in (1, 2, 3)])
    assert verdicts_agree(tuning.effort_conclusions(curves, comparisons)) >= 1


def test_with_one_seed_the_recommendation_claims_no_verdict():
    runs = runs_of({("constant", "SGD const", "sgd", "constant"): [0.66],
                    ("adaptive", "Adam", "adam", "constant"): [0.70]})
    diffs = differences.baseline_differences(runs, "SGD const")
    text = answer.recommendation(results.summary_table(runs), diffs, {})
    assert "no verdict on any difference: run more seeds" in text and "none is clearly better" not in text


def test_the_terms_explained_are_those_the_first_screen_uses():
    paper = ("- Step decay: +0.2 points (95% simultaneous CI −7.1 to +7.5; ahead on 2 of 3 seeds); 2 of 3 seeds did "
             "not learn")
    terms = answer.glossary(paper)
    assert "*simultaneous CI*" in terms and "*seeds ahead*" in terms and "*did not learn*" in terms
    assert "expected best" not in terms and "*decades*" not in terms and "valley" not in terms  # no sweep, no test
    study = paper + "\n- **Learning-rate finder:** closest to the sweep, *lowest ÷ 10*: 0.55 decades; 3 rates tried"
    assert all(f"*{term}*" in answer.glossary(study) for term, _, _ in answer.GLOSSARY)
    assert answer.glossary("- Adam: 75.0%") == ""
