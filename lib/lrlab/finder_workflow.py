"""fastai's own workflow, trained rather than read off a curve: run the learning-rate finder, take its *valley*,
then train one-cycle with its peak there (`learn.lr_find()`, then `learn.fit_one_cycle(epochs, lr_max=valley)`).

For every stored range test (one method, one seed) whose curve has a valley, one run of that method under the
project's one-cycle (the shape the schedule sweep tunes: lrlab.schedules) peaking at that test's valley, same seed.
Scored, paired by seed, against the same method at a constant rate — its default, and tuned over 3 or every rate
of the sweep (expected best, lrlab.tuning) — and, for SGD, against one-cycle with its peak tuned alike; corrected
over every row (simultaneous intervals, lrlab.statistics), in the task's metric (points of accuracy, nats of loss:
lrlab.tasks.Metric), better on its side. A trial counts as the tuning view counts it (a diverged run at chance).
Methods that need no rate or no schedule (`needs_no`) are left out: the workflow sets both.

fastai's own one-cycle warms up with half a cosine over the first 25% and cycles momentum (0.95 → 0.85 → 0.95);
the project's warms up linearly over 30% and keeps the optimizer's momentum, so the workflow is compared with the
one-cycle the sweep tuned, not with fastai's exact curve.
"""

import math

import pandas as pd

from .config import run_config, steps_per_epoch, tuned_display, tuned_method
from .optimizers import OPTIMIZERS
from .schedules import modern_schedules
from .statistics import corrected_columns, paired_difference, with_correction
from .tasks import metric_of, task_of
from .tuning import SCALED, at_default_rate, suggestions, trial_values

FAMILY = "finder_workflow"
RULE = "valley"  # the reading fastai's workflow feeds to fit_one_cycle
KS = ("default", 3, None)  # the constant rate it is measured against: the default, 3 rates tried, the whole grid


def takes_part(optimizer: dict) -> bool:
    """Whether the workflow applies: the method needs a learning rate and a schedule."""
    return not getattr(OPTIMIZERS.get(optimizer["name"]), "needs_no", "")


def configs(stored_tests, settings, dataset, one_cycle: dict) -> list:
    """The workflow's runs for `stored_tests`, (range-test configuration, its history) pairs: one run per test with
    a valley, of the test's method and seed, under one-cycle peaking there. `one_cycle` holds the modern family's
    shape settings (modern_schedules' keyword arguments after the run's length)."""
    found = []
    for test, history in stored_tests:
        valley = suggestions(history)[RULE]
        if valley is None or not takes_part(test["optimizer"]):
            continue
        spec, = modern_schedules(["one_cycle"], valley, settings.epochs, steps_per_epoch(settings, dataset),
                                 **one_cycle)
        spec = {k: v if k == "name" else float(v) for k, v in spec.items()}
        found.append(run_config(FAMILY, test["optimizer"], spec, settings, dataset, test["seed"]))
    return found


def comparisons(workflow_runs: pd.DataFrame, sweep: pd.DataFrame, per_seed: pd.DataFrame,
                confidence=0.95) -> pd.DataFrame:
    """Each method's workflow minus the same method at a constant rate (its default, and the expected best of 3 and
    of every rate of the sweep), and SGD's minus one-cycle tuned over 3 and every peak rate; final validation value
    of the task's metric (points of accuracy, nats of loss), paired by seed, corrected over every row."""
    columns = ["tuned", "method", "against", "test", "difference", "ci_low", "ci_high", "p", "se", "df", "wins",
               "pairs", "workflow", "valley_low", "valley_high"]
    metric, task = metric_of(sweep), task_of(sweep)
    if workflow_runs.empty or sweep.empty:
        return with_correction(pd.DataFrame(columns=columns), confidence).assign(task=task)
    values = trial_values(sweep)
    whole = per_seed.groupby("tuned")["k"].max()
    ours_all = trial_values(workflow_runs.assign(lr0=0.0))  # one "rate" per seed: the workflow's own
    rows = []
    for optimizer, runs in workflow_runs.groupby("optimizer", sort=False):
        constant = tuned_method(optimizer, "constant")
        ours = ours_all.loc[tuned_method(optimizer, "one_cycle")][0.0]
        against = [(constant, k) for k in KS] + [(tuned_method(optimizer, "one_cycle"), k) for k in KS[1:]]
        for key, k in against:
            if key not in whole.index:
                continue
            if k == "default":
                reference, name = at_default_rate(values, key), "its default rate"
            else:
                rates = int(whole[key]) if k is None else k
                if rates > whole[key] or (k is not None and k == whole[key]):
                    continue  # fewer rates than k, or the whole grid counted once
                chosen = per_seed[(per_seed["tuned"] == key) & (per_seed["k"] == rates)]
                reference = chosen.set_index("seed")["expected_best"]
                name = "its whole grid" if k is None else f"{k} rates tried"
            d = paired_difference(ours, reference, confidence, metric.higher_is_better)
            rows.append({"tuned": key, "method": tuned_display(tuned_method(optimizer, "one_cycle")),
                         "against": f"{tuned_display(key)}, {name}", "test": d.pop("method"),
                         **{n: metric.points(v) if n in SCALED else v for n, v in d.items()},
                         "workflow": float(ours.mean()), "valley_low": float(runs["lr0"].min()),
                         "valley_high": float(runs["lr0"].max())})
    return with_correction(pd.DataFrame(rows, columns=columns), confidence,
                           higher_is_better=metric.higher_is_better).assign(task=task)


def format_comparisons(table: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    metric = metric_of(table)
    return pd.DataFrame({
        "fastai's workflow": table["method"], "minus": table["against"],
        **corrected_columns(table, confidence, metric.difference_unit, metric.decimals),
        f"workflow's {metric.header}": table["workflow"].map(metric.number),
        "valleys (peak rates)": [f"{lo:.2g}–{hi:.2g}" for lo, hi in zip(table["valley_low"], table["valley_high"])],
    })


def test_epochs(range_tests: pd.DataFrame, workflow_runs: pd.DataFrame) -> float:
    """What one range test costs, in epochs of the workflow's training (median over the tests)."""
    if range_tests is None or len(range_tests) == 0 or workflow_runs.empty:
        return math.nan
    run = workflow_runs.iloc[0]
    return float(range_tests["steps"].median() * run["batch_size"] / run["n_train"])


def conclusion(table: pd.DataFrame, test_cost=math.nan) -> str:
    """What the workflow buys against each method's constant rate (its default, 3 rates tried, the whole grid): on
    how many methods and seed pairs it is ahead, and the clear verdicts after the correction, with how wide the
    simultaneous intervals are (no single row is quoted: the best of many would be picked after looking); what its
    range test cost, in epochs."""
    if table is None or table.empty:
        return ""
    metric = metric_of(table)

    def tally(kind, against):
        rows = table[table["against"].str.endswith(kind) & ~table["tuned"].str.contains("+", regex=False)]
        if rows.empty:
            return ""
        better, worse = (int((rows["verdict_adj"] == v).sum()) for v in ("clearly better", "clearly worse"))
        ahead = int(metric.better(rows["difference"], 0).sum())  # above zero, or below where lower is better
        width = float((rows["ci_high_adj"] - rows["ci_low_adj"]).median() / 2)
        return (f"against {against}, ahead in the mean for {ahead} of {len(rows)} "
                f"methods and on {int(rows['wins'].sum())} of {int(rows['pairs'].sum())} seed pairs; clearly "
                f"better for {better}, clearly worse for {worse} after the correction"
                + (f" (its intervals ±{width:.{metric.decimals}f} {metric.difference_unit}, median)"
                   if math.isfinite(width) else ""))

    tallies = [t for t in (tally("its default rate", "each method's default constant rate"),
                           tally("3 rates tried", "3 constant rates tried"),
                           tally("its whole grid", "each seed's best rate of the grid (chosen after seeing it)"))
               if t]
    return ("- **fastai's workflow, trained** (one-cycle peaking at each seed's range-test valley): "
            + "; ".join(tallies)
            + (f". Each range test cost {test_cost:.1f} epochs of training on top of the run's own." if
               math.isfinite(test_cost) else "."))
