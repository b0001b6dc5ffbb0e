"""Do you still need a schedule, or a learning rate? The methods that claim to make one unnecessary (the optimizers
registered with `needs_no`: schedule-free AdamW and SGD, Prodigy, D-Adaptation's Adam, DoG), each at its authors'
defaults, against Adam and against SGD under cosine decay tuned over 1, 3 or every rate of the sweep; and, for the
schedule-free methods, which evaluation point wins: the averaged weights x or the training point y.

Every number comes from the learning-rate sweep: a method's default is the centre of its grid (lrlab.config
.learning_rate_grid), a baseline's tuning is the expected best of k rates drawn from its grid (lrlab.tuning), a
trial's value as the tuning view counts it (a diverged run at chance). Differences are in the task's metric
(points of accuracy, nats of loss: lrlab.tasks.Metric), better on its side, paired by seed and corrected over
every row of the table (simultaneous intervals, lrlab.statistics); each table carries the sweep's `task`.
"""


import numpy as np
import pandas as pd

from .config import tuned_display
from .optimizers import OPTIMIZERS
from .statistics import (bound_text, corrected_columns, interval_text, paired_difference, percent_text as _pct,
                         verdict_header, with_correction)
from .health import HEALTHY
from .tasks import metric_of, task_of
from .tuning import SCALED, at_default_rate, trial_values

# the tuned baselines a method that needs no tuning must match: Adam, and SGD under cosine decay
BASELINES = ["adam", "sgd+cosine_decay"]
KS = (1, 3, None)  # rates tried by the baseline; None: its whole grid


def untuned_methods(sweep: pd.DataFrame) -> list:
    """The swept methods that claim to need no schedule or no learning rate, in the sweep's order."""
    return [key for key in dict.fromkeys(sweep["tuned"]) if getattr(OPTIMIZERS.get(key), "needs_no", "")]


def comparisons(sweep: pd.DataFrame, per_seed: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    """Each untuned method at its defaults minus each baseline tuned over k rates (final validation value of the
    task's metric: points of accuracy, nats of loss; paired by seed), for k in KS, corrected over every row."""
    rows = []
    values, metric = trial_values(sweep), metric_of(sweep)
    whole = per_seed.groupby("tuned")["k"].max()
    for key in untuned_methods(sweep):
        ours = at_default_rate(values, key)
        at_default = sweep[(sweep["tuned"] == key) & (sweep["lr0"] == ours.name)]
        failed = int((at_default["status"] != HEALTHY).sum())
        for baseline in [b for b in BASELINES if b in whole.index]:
            for k in KS:
                rates = int(whole[baseline]) if k is None else k
                if rates > whole[baseline] or (k is not None and None in KS and k == whole[baseline]):
                    continue  # fewer rates than k, or the whole grid counted once
                tuned = per_seed[(per_seed["tuned"] == baseline) & (per_seed["k"] == rates)]
                d = paired_difference(ours, tuned.set_index("seed")["expected_best"], confidence,
                                      metric.higher_is_better)
                rows.append({"tuned": key, "needs_no": OPTIMIZERS[key].needs_no, "method": tuned_display(key),
                             "baseline": baseline, "against": f"{tuned_display(baseline)}, "
                             + ("its whole grid" if k is None else f"{k} rate" + ("s" if k > 1 else "")) + " tried",
                             "k": "whole grid" if k is None else str(k), "test": d.pop("method"),
                             "failed": failed, "seeds": len(at_default),
                             **{name: metric.points(v) if name in SCALED else v for name, v in d.items()}})
    columns = ["tuned", "needs_no", "method", "baseline", "against", "k", "test", "failed", "seeds", "difference",
               "ci_low", "ci_high", "p", "se", "df", "wins", "pairs"]
    return with_correction(pd.DataFrame(rows, columns=columns), confidence,
                           higher_is_better=metric.higher_is_better).assign(task=task_of(sweep))


def format_comparisons(table: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    metric = metric_of(table)
    return pd.DataFrame({
        "method (at its defaults)": table["method"], "minus": table["against"],
        **corrected_columns(table, confidence, metric.difference_unit, metric.decimals), "needs no": table["needs_no"],
    })


def in_short(table: pd.DataFrame, confidence=0.95) -> str:
    """The first screen's line: with no tuning, how the best of these methods fares against Adam tuned over 3
    rates (the effort a practitioner would spend), and how many of them are clearly behind."""
    if table is None or table.empty:
        return ""
    metric = metric_of(table)
    baseline = BASELINES[0] if (table["baseline"] == BASELINES[0]).any() else table["baseline"].iloc[0]
    rows = table[table["baseline"] == baseline]
    # 3 rates tried, or on a shorter grid the whole grid
    at3 = rows[rows["k"] == "3"] if (rows["k"] == "3").any() else rows[rows["k"] == rows["k"].iloc[-1]]
    best = at3.sort_values("difference", ascending=not metric.higher_is_better).iloc[0]
    behind = at3[at3["verdict_adj"] == "clearly worse"]
    level, digits = f"{round(100 * confidence)}%", metric.decimals
    interval = (f"{level} simultaneous CI {bound_text(best['ci_low_adj'], digits)} to "
                f"{bound_text(best['ci_high_adj'], digits)}, {best['verdict_adj']}") \
        if best["ci_low_adj"] == best["ci_low_adj"] else "no interval: fewer than two seeds"
    failing = at3[at3["failed"] > 0]
    # a diverged trial counts at the runs table's chance (tuning.trial_values): 1/classes, or the guessing loss
    at_chance = "counts at chance" if metric.higher_is_better else "counts as guessing"
    return (f"- **No schedule, no learning rate?** At their authors' defaults, the best of these methods is "
            f"{best['method']}: {metric.signed(best['difference'])} {metric.difference_unit} against "
            f"{best['against']} ({interval}); "
            f"{len(behind)} of {len(at3)} such methods are clearly behind {tuned_display(baseline)} tuned alike"
            + (" — but at the defaults " + "; ".join(f"{r['method']} failed on {int(r['failed'])} of "
                                                   f"{int(r['seeds'])} seeds" for _, r in failing.iterrows())
               + f" (a failed run {at_chance} here)" if len(failing) else "") + ".")


def evaluation_points(runs: pd.DataFrame, histories: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    """For each schedule-free method at each rate: the test value of the task's metric at the averaged point x
    minus at the training point y (points of accuracy, nats of loss; paired by seed, corrected over the rows), and
    in how many epochs, over seeds, x validated better than y. Runs without the training point's test value (every
    other method; a runs table without the metric's `..._at_training_point` column) give no row."""
    metric = metric_of(runs)
    x_column, y_column = metric.test, f"{metric.test}_at_training_point"
    x_epochs, y_epochs = metric.history, f"{metric.history}_at_training_point"
    chosen = runs[runs[y_column].notna()] if y_column in runs else runs.iloc[:0]
    rows = []
    for (key, lr), group in chosen.groupby(["tuned", "lr0"], sort=False):
        x = group.set_index("seed")[x_column].astype(float)
        y = group.set_index("seed")[y_column].astype(float)
        d = paired_difference(x, y, confidence, metric.higher_is_better)
        epochs = histories[histories["run_id"].isin(group["run_id"])]
        if y_epochs in epochs:  # epochs where the two points score alike (both at chance, say) say nothing about
            # which is better
            epochs = epochs[epochs[x_epochs] != epochs[y_epochs]]
            ahead = int(metric.better(epochs[x_epochs], epochs[y_epochs]).sum())
        else:
            ahead = 0
        rows.append({"tuned": key, "method": tuned_display(key), "lr0": lr, "test": d.pop("method"),
                     "x": x.mean(), "y": y.mean(), "epochs_x_ahead": ahead, "epochs": len(epochs),
                     **{name: metric.points(v) if name in SCALED else v for name, v in d.items()}})
    columns = ["tuned", "method", "lr0", "test", "x", "y", "epochs_x_ahead", "epochs", "difference", "ci_low",
               "ci_high", "p", "se", "df", "wins", "pairs"]
    return with_correction(pd.DataFrame(rows, columns=columns), confidence,
                           higher_is_better=metric.higher_is_better).assign(task=task_of(runs))


def _validated(metric) -> str:
    """How x beats y on the validation set: "higher" (accuracy), "lower" (loss)."""
    return "higher" if metric.higher_is_better else "lower"


def format_points(table: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    level = f"{round(100 * confidence)}%"
    metric = metric_of(table)
    return pd.DataFrame({
        "method": table["method"], "rate": table["lr0"].map(lambda lr: f"{lr:g}"),
        f"test {metric.header} at x (averaged)": table["x"].map(metric.number),
        "at y (training point)": table["y"].map(metric.number),
        verdict_header(table): table["verdict_adj"],
        f"x minus y, {metric.difference_unit} [{level} simultaneous CI]": [
            interval_text(r["difference"], r["ci_low_adj"], r["ci_high_adj"], metric.decimals)
            for _, r in table.iterrows()],
        f"epochs where x validated {_validated(metric)} (of those where x and y differ)": [
            f"{a} of {n}" for a, n in zip(table["epochs_x_ahead"], table["epochs"])],
    })


def points_conclusion(table: pd.DataFrame) -> str:
    """Which evaluation point wins, over every schedule-free method and rate: a count of clear verdicts."""
    if table is None or table.empty:
        return ""
    better, worse = (int((table["verdict_adj"] == v).sum()) for v in ("clearly better", "clearly worse"))
    share = np.nan if table["epochs"].sum() == 0 else table["epochs_x_ahead"].sum() / table["epochs"].sum()
    # the share is of epochs, a percentage whatever the metric
    return (f"- **Schedule-free: which point to evaluate?** The averaged weights x against the training point y on "
            f"the test set: x clearly ahead at {better}, clearly behind at {worse}, of {len(table)} method and rate "
            f"pairs after the correction; x validated {_validated(metric_of(table))} in {_pct(share)}% of the "
            f"epochs where the two differ.")
