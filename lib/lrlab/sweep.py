"""The learning-rate sweep and the range test as the report shows them: each method's best rate on its grid and
what the default costs, and each range test's suggestion beside the rates the compared configurations used."""

import math

import numpy as np
import pandas as pd

from .config import tuned_display
from .health import failures_among, healthy_runs
from .statistics import log_median
from .tasks import metric_of, task_of


def grid_centre(rates) -> float:
    """A sweep's default rate: the centre of its grid on the log scale (`config.learning_rate_grid`)."""
    return float(np.exp(np.log(np.asarray(rates, dtype=float)).mean()))


def sensitivity_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per method: its default rate (the grid's centre on the log scale), the best rate on the grid by mean final
    validation value of the task's metric (the highest accuracy, or the lowest loss), the value at each, and
    whether the best lies on the grid's edge (a better rate may lie beyond). Means are over healthy seeds; a rate
    at which any seed failed (did not learn, fell back to chance or diverged) is never the best, since a rate that
    fails on some seeds is not one to recommend. The test value at the chosen rate is reported too: the best rate
    is picked on the validation set, which therefore flatters it, while the test set played no part in the
    choice. The table carries the runs' `task`, so what formats it reads the same metric."""
    metric = metric_of(runs)
    rows = []
    for tuned, group in runs.groupby("tuned", sort=False):
        by_rate = {lr: g for lr, g in group.groupby("lr0")}
        means = pd.Series({lr: healthy_runs(g)[metric.final].mean() for lr, g in by_rate.items()}).sort_index()
        # none under the 2017 protocol, where the test set is the validation set (run_tables.load_runs)
        tests = pd.Series({lr: healthy_runs(g)[metric.test].mean() if metric.test in g else math.nan
                           for lr, g in by_rate.items()})
        failed = {lr: failures_among(g["status"]) for lr, g in by_rate.items()}
        eligible = means[[not failed[lr] for lr in means.index]].dropna()
        default = grid_centre(means.index)
        on_grid = [lr for lr in means.index if math.isclose(lr, default, rel_tol=1e-6)]
        best = math.nan if eligible.empty else metric.best_index(eligible)  # NaN: a seed failed at every rate
        rows.append({"method": tuned_display(tuned), "default_lr": default, "best_lr": best,
                     "at_default": means[on_grid[0]] if on_grid else math.nan,
                     "at_best": means[best] if best == best else math.nan,
                     "default_failed": failed[on_grid[0]] if on_grid else "",
                     "test_at_default": tests[on_grid[0]] if on_grid else math.nan,
                     "test_at_best": tests[best] if best == best else math.nan,
                     "failed_rates": "; ".join(f"{lr:.3g} ({text})" for lr, text in sorted(failed.items()) if text),
                     "grid": f"{means.index.min():.3g}–{means.index.max():.3g}", "points": len(means),
                     "on_edge": best in (means.index.min(), means.index.max())})
    return pd.DataFrame(rows).assign(task=task_of(runs))


def format_sensitivity(table: pd.DataFrame) -> pd.DataFrame:
    if table.empty:
        return pd.DataFrame({"method": [], "note": []})
    metric = metric_of(table)
    change = metric.gain_word  # best minus default
    return pd.DataFrame({
        "method": table["method"],
        "default lr": table["default_lr"].map(lambda x: f"{x:g}"),
        f"final val. {metric.header} at default": [metric.number(a) + (f" ({f})" if f else "")
                                                   for a, f in zip(table["at_default"], table["default_failed"])],
        "best lr on the grid": table["best_lr"].map(
            lambda x: f"{x:.3g}" if x == x else "none: a seed failed at every rate"),
        f"final val. {metric.header} at best": table["at_best"].map(metric.number),
        f"{change}, {metric.difference_unit}": [metric.signed(metric.points(b - a))
                                                for a, b in zip(table["at_default"], table["at_best"])],
        f"test {metric.header} at default → at best": [f"{metric.number(a)} → {metric.number(b)}" for a, b in
                                                       zip(table["test_at_default"], table["test_at_best"])],
        "grid": table["grid"],
        "rates where a seed failed": table["failed_rates"].replace("", "none"),
        "best on the grid's edge": table["on_edge"].map({True: "yes — widen the grid", False: "no"}),
    })


def range_tests_by_method(tests: pd.DataFrame) -> pd.DataFrame:
    """One row per method from its tests on every seed: the median suggestion (a tenth of the lowest loss's
    rate) and the median rate at the lowest loss, the number of tests and of tests without a suggestion, and
    whether any stopped with the loss still falling."""
    rows = []
    for method, group in tests.groupby("method", sort=False):
        rows.append({"method": method, "optimizer": group["optimizer"].iloc[0],
                     "suggested_lr": log_median(group["suggested_lr"]),
                     "min_loss_lr": log_median(group["min_loss_lr"]), "steps": int(group["steps"].median()),
                     "tests": len(group), "no_dip": int(group["suggested_lr"].isna().sum()),
                     "seeds": sorted(group["seed"]), "still_falling": bool(group["still_falling"].any()),
                     "settings": group["settings"].iloc[0] if "settings" in group else ""})
    return pd.DataFrame(rows, columns=["method", "optimizer", "suggested_lr", "min_loss_lr", "steps", "tests",
                                       "no_dip", "seeds", "still_falling", "settings"])


def format_range_tests(tests: pd.DataFrame) -> pd.DataFrame:
    from .optimizers import ADAPTIVE_DEFAULTS

    suggestions = range_tests_by_method(tests)
    return pd.DataFrame({
        "method": suggestions["method"],
        "suggested lr (median over seeds)": [_rate(x) + (f" ({n} of {t} tests: no clear dip)" if n else "")
                                             for x, n, t in zip(suggestions["suggested_lr"], suggestions["no_dip"],
                                                                suggestions["tests"])],
        "lowest smoothed loss at lr": suggestions["min_loss_lr"].map(_rate),
        "default lr": suggestions["optimizer"].map(lambda o: f"{ADAPTIVE_DEFAULTS[o]['lr']:g}"
                                                   if o in ADAPTIVE_DEFAULTS else "see families"),
        "batches run (median)": suggestions["steps"],
        "seeds": suggestions["seeds"].map(lambda seeds: ", ".join(map(str, seeds))),
    })


def _rate(x):
    return "no clear dip" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3g}"


def rates_used_vs_suggested(runs: pd.DataFrame, tests: pd.DataFrame) -> pd.DataFrame:
    """One row per range-tested method: its suggestion (median over the seeds' tests), where the loss was lowest
    (flagged when it was still falling at the top of the range, so the suggestion is set by the range, not by the
    loss), the rates the compared configurations used with it, the ratio of each to the suggestion, and the seeds
    that failed there."""
    rows = []
    for _, test in range_tests_by_method(tests).iterrows():
        used = runs[runs["optimizer"] == test["optimizer"]]
        rates = sorted(used["lr0"].unique()) if not used.empty else []
        lowest = _rate(test["min_loss_lr"]) + (" — still falling at the top of the range: raise range_max"
                                               if test.get("still_falling") else "")
        suggested = test["suggested_lr"]
        count = used["label"].nunique()
        rows.append({
            "method": test["method"], "settings of the test": test.get("settings", ""),
            "suggested lr": _rate(suggested), "lowest smoothed loss at lr": lowest,
            "rates used in the comparison": ", ".join(f"{lr:g}" for lr in rates) + (
                f" ({count} configurations)" if count > 1 else "") if rates else "not compared",
            "used ÷ suggested": ", ".join(f"{lr / suggested:.2f}" for lr in rates)
            if rates and suggested == suggested else "n/a",
            "failed seeds at the rates used": failures_among(used["status"]) or "none",
        })
    return pd.DataFrame(rows)
