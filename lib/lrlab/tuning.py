"""How much tuning each method needs, from the learning-rate sweep and the range tests the study already runs.

Tuning effort (Dodge et al. 2019, "Show Your Work"): the expected best final validation value of the task's metric
(the highest accuracy, or the lowest loss: lrlab.tasks.Metric) after k trials drawn at random from the sweep's
grid of rates, exactly from the sorted results, per seed; its band comes from resampling the seeds. Methods are
compared at equal k, paired by seed.

The learning-rate finder against the truth: three rules read a suggestion off each range-test curve (a tenth of
the rate at the lowest smoothed loss; fastai's "steep" and "valley" as fastai's finder reads the curve), on every
seed; the sweep says where the best rate really was, and how much accuracy (or how much extra loss) training at
the suggestion instead would have cost.

Every table made here carries the sweep's `task`, so that what formats it reads the same metric (metric_of).
"""

import math

import numpy as np
import pandas as pd
from scipy import special

from .config import tuned_display
from .health import HEALTHY
from .optimizers import DISPLAY_NAMES
from .statistics import (bound_text, interval_text, log_median, p_text, paired_difference, seeds_ahead_cell,
                         verdict_header, with_correction)
from .summary import range_test_suggestion
from .sweep import grid_centre
from .tasks import metric_of, task_of

BOOTSTRAP_SAMPLES = 2000


def expected_max(values, k: int, replace=False) -> float:
    """The expected maximum of k draws from `values` (every value equally likely), exactly: with v sorted
    ascending, v_i is the maximum of a draw of k with probability C(i-1, k-1) / C(n, k) without replacement (k
    distinct trials: k = n is the whole grid, its best value), or (i/n)^k - ((i-1)/n)^k with replacement (Dodge et
    al.'s estimator)."""
    v = np.sort(np.asarray(values, dtype=float))
    n = len(v)
    if not 1 <= k <= (math.inf if replace else n):
        raise ValueError(f"k={k} is invalid: draw between 1 and {n if not replace else 'any number of'} values")
    i = np.arange(1, n + 1)
    if replace:
        weights = (i / n) ** k - ((i - 1) / n) ** k
    else:
        weights = special.comb(i - 1, k - 1) / special.comb(n, k)
    return float(np.dot(weights, v))


def expected_best(values, k: int, metric) -> float:
    """The expected best of k draws from `values` (expected_max): the largest where higher is better, the smallest
    (the largest of the negated values, negated back) where lower is."""
    return expected_max(values, k) if metric.higher_is_better else -expected_max(-np.asarray(values, dtype=float), k)


def trial_values(sweep: pd.DataFrame) -> pd.DataFrame:
    """Final validation value of the task's metric per tuned method (rows: `tuned`, config.tuned_method, and seed)
    and rate (columns): one trial of a tuner is one training run at one rate. A diverged run counts at chance (what
    a tuner gets from it: the `chance` column, 1/classes of accuracy or the guessing loss ln(classes), which any
    run that learned beats); a run that did not learn keeps the value it reached."""
    values = sweep[metric_of(sweep).final].astype(float)
    values = values.where(sweep["status"] != "diverged", sweep["chance"].astype(float))
    return sweep.assign(value=values).pivot_table(index=["tuned", "seed"], columns="lr0", values="value",
                                                  aggfunc="first")


def at_default_rate(values: pd.DataFrame, key) -> pd.Series:
    """A method's trial value per seed (trial_values' table) at its default rate: its grid's centre."""
    grid = values.loc[key].dropna(axis=1, how="all")
    centre = grid_centre(grid.columns)
    column = min(grid.columns, key=lambda lr: abs(math.log(lr / centre)))
    return grid[column]


def tuning_curves(sweep: pd.DataFrame, confidence=0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per method and k: the mean over seeds of the expected best after k trials, with a bootstrap band over
    seeds; per method, seed and k: the seed's expected best). k runs from 1 to the number of rates the method's
    every seed has (a rate missing for a seed is left out for that method)."""
    values, metric, task = trial_values(sweep), metric_of(sweep), task_of(sweep)
    per_seed, rows = [], []
    rng = np.random.default_rng(0)
    for tuned, grid in values.groupby(level="tuned", sort=False):
        grid = grid.dropna(axis=1)
        n = grid.shape[1]
        seeds = grid.index.get_level_values("seed")
        curves = np.array([[expected_best(row, k, metric) for k in range(1, n + 1)] for row in grid.to_numpy()])
        per_seed += [{"tuned": tuned, "seed": s, "k": k + 1, "expected_best": curves[j, k], "task": task}
                     for j, s in enumerate(seeds) for k in range(n)]
        resampled = curves[rng.integers(0, len(seeds), (BOOTSTRAP_SAMPLES, len(seeds)))].mean(axis=1)
        low, high = np.percentile(resampled, [50 - 50 * confidence, 50 + 50 * confidence], axis=0)
        for k in range(n):
            rows.append({"tuned": tuned, "method": tuned_display(tuned), "k": k + 1,
                         "expected_best": curves[:, k].mean(), "low": low[k] if len(seeds) > 1 else math.nan,
                         "high": high[k] if len(seeds) > 1 else math.nan, "rates": n, "seeds": len(seeds),
                         "task": task})
    return pd.DataFrame(rows), pd.DataFrame(per_seed)


def effort_comparisons(per_seed: pd.DataFrame, reference="sgd", pairs=(("sgd_momentum", "adam"),),
                       ks=(1, 3, None), confidence=0.95) -> pd.DataFrame:
    """Each method against `reference`, and each of `pairs`, at k trials for each k in `ks` (None: each method's
    whole grid), in the expected best final validation value of the task's metric (points of accuracy, nats of
    loss), paired by seed, its verdict on the metric's side; corrected over every row (simultaneous intervals,
    lrlab.statistics)."""
    metric = metric_of(per_seed)
    methods = list(dict.fromkeys(per_seed["tuned"]))
    compared = [(m, reference) for m in methods if m != reference and reference in methods]
    compared += [(a, b) for a, b in pairs if a in methods and b in methods and (a, b) not in compared]
    whole = per_seed.groupby("tuned")["k"].max()

    def at(tuned, k):
        chosen = per_seed[(per_seed["tuned"] == tuned) & (per_seed["k"] == (whole[tuned] if k is None else k))]
        return chosen.set_index("seed")["expected_best"]

    rows = []
    for k in ks:
        for a, b in compared:
            if at(a, k).empty or at(b, k).empty:  # fewer rates than k
                continue
            if k is not None and None in ks and k >= whole[a] and k >= whole[b]:  # the whole grid, counted once
                continue
            d = paired_difference(at(a, k), at(b, k), confidence, metric.higher_is_better)
            rows.append({"k": "whole grid" if k is None else str(k), "tuned": a, "against_tuned": b,
                         "configuration": tuned_display(a), "against": tuned_display(b), "test": d.pop("method"),
                         **{key: metric.points(v) if key in SCALED else v for key, v in d.items()}})
    columns = ["k", "tuned", "against_tuned", "configuration", "against", "test", "difference", "ci_low",
               "ci_high", "p", "se", "df", "wins", "pairs"]
    return with_correction(pd.DataFrame(rows, columns=columns), confidence,
                           higher_is_better=metric.higher_is_better).assign(task=task_of(per_seed))


# stored differences (fractions of accuracy, nats of loss) shown in the metric's printed units (Metric.points)
SCALED = ("difference", "ci_low", "ci_high", "se")


# --- the learning-rate finder against the sweep ---

RULES = {"lowest ÷ 10": "a tenth of the rate at the lowest smoothed loss (this project's suggestion)",
         "steepest": "fastai's steep: where the loss falls fastest per decade of rate, read as fastai reads it",
         "valley": "fastai's valley: about halfway along the longest stretch of falling loss, read as fastai reads it"}
# fastai's learning-rate finder: 100 iterations, the loss smoothed with β = 0.98 (debiased), its first tenth and last
# five points left out before steep and valley read it (fastai.callback.schedule.lr_find)
FASTAI_POINTS, FASTAI_BETA = 100, 0.98


def fastai_view(history: pd.DataFrame, points=FASTAI_POINTS, beta=FASTAI_BETA):
    """The range test as fastai's finder would have recorded it: `points` batches spread evenly over the test
    (all of them when it is shorter), their own losses smoothed as fastai smooths them, then its first tenth and
    last five points left out. A 1,000-batch test read batch by batch is ten times noisier in slope than what
    fastai's rules were designed for: this is the view they are scored on."""
    n = len(history)
    idx = np.unique(np.linspace(0, n - 1, min(points, n)).round().astype(int))
    raw = history["loss"].to_numpy(dtype=float)[idx] if "loss" in history else \
        history["smoothed_loss"].to_numpy(dtype=float)[idx]
    smoothed, average = np.empty(len(raw)), 0.0
    for i, loss in enumerate(raw):
        average = beta * average + (1 - beta) * loss
        smoothed[i] = average / (1 - beta ** (i + 1))
    lrs = history["lr"].to_numpy(dtype=float)[idx]
    keep = slice(len(idx) // 10, len(idx) - 5)
    lrs, smoothed = lrs[keep], smoothed[keep]
    finite = np.isfinite(smoothed)
    return lrs[finite], smoothed[finite]


def steepest(lrs, losses):
    """The rate where the loss falls fastest per unit of log rate (fastai's `steep`): the left end of the steepest
    segment. None when the loss never falls."""
    if len(lrs) < 2:
        return None
    slopes = np.diff(losses) / np.diff(np.log(lrs))
    return float(lrs[int(np.argmin(slopes))]) if slopes.min() < 0 else None


def valley(lrs, losses):
    """fastai's `valley` rule: the longest stretch of ever lower losses (the longest decreasing subsequence, which
    ends at max_end and is lds[max_end] points long), and the rate about halfway along it, at fastai's index
    max_start + int(length / 3) + int(length / 6). None when the loss never falls."""
    n = len(losses)
    if n < 2:
        return None
    lds = np.ones(n, dtype=int)
    max_start = max_end = 0
    for i in range(1, n):
        higher = losses[:i] > losses[i]
        if higher.any():
            lds[i] = lds[:i][higher].max() + 1
        if lds[i] > lds[max_end]:
            max_end, max_start = i, i - lds[i]
    if max_end == 0:
        return None
    sections = (max_end - max_start) / 3
    return float(lrs[max(0, max_start + int(sections) + int(sections / 2))])  # fastai's start can be -1


def suggestions(history: pd.DataFrame) -> dict:
    """Each rule's suggested rate (None where it finds none) from one range test's history."""
    lrs, losses = fastai_view(history)
    return {"lowest ÷ 10": range_test_suggestion(history)[0], "steepest": steepest(lrs, losses),
            "valley": valley(lrs, losses)}


def best_rates(sweep: pd.DataFrame) -> pd.DataFrame:
    """Per method, the sweep's curve of the task's metric (mean final validation value per rate, diverged runs at
    chance) and its best rate (the highest accuracy, or the lowest loss) among the rates where every seed was
    healthy (a rate that fails on some seeds is not one to recommend)."""
    metric = metric_of(sweep)
    rows = []
    for tuned, group in sweep.groupby("tuned", sort=False):
        values = trial_values(group).mean()
        healthy = group.groupby("lr0")["status"].apply(lambda s: bool((s == HEALTHY).all()))
        eligible = values[healthy.reindex(values.index, fill_value=False)]
        if eligible.empty:
            continue
        best = metric.best_index(eligible)
        rows.append({"tuned": tuned, "best_lr": float(best), "at_best": float(eligible[best]),
                     "curve": values.sort_index()})
    return pd.DataFrame(rows)


def value_at(curve: pd.Series, lr: float) -> tuple[float, bool]:
    """The sweep's mean value at `lr`, interpolated linearly in log rate between the grid's rates; outside the
    grid, the value at its nearest edge (flagged: what is lost there may be larger)."""
    x = np.log10(curve.index.to_numpy(dtype=float))
    inside = x[0] <= math.log10(lr) <= x[-1]
    return float(np.interp(math.log10(lr), x, curve.to_numpy(dtype=float))), not inside


def finder_against_sweep(tests: pd.DataFrame, sweep: pd.DataFrame) -> pd.DataFrame:
    """One row per method and rule: the rule's suggestions over the seeds (median, lowest, highest; how many
    seeds gave none), their distance from the sweep's best rate in decades (the median suggestion's, signed:
    below zero is too low), and what training at each seed's suggestion instead of at the best rate lost (`lost`:
    accuracy below the best rate's in points, or loss above it in nats; mean over seeds, read off the sweep's mean
    curve). `tests` has one row per range test with a column per rule (RULES), `optimizer` and `seed`; a test is
    scored against the sweep of its optimizer at a constant rate."""
    truth = best_rates(sweep).set_index("tuned") if not sweep.empty else pd.DataFrame()
    metric = metric_of(sweep)
    rows = []
    for optimizer, group in tests.groupby("optimizer", sort=False):
        if optimizer not in truth.index:
            continue
        best = truth.loc[optimizer]
        for rule in RULES:
            found = group[rule].dropna().astype(float)
            row = {"optimizer": optimizer, "method": DISPLAY_NAMES[optimizer], "rule": rule, "tests": len(group),
                   "none": len(group) - len(found), "best_lr": best["best_lr"]}
            if found.empty:
                rows.append(row | {"median": math.nan, "low": math.nan, "high": math.nan, "decades": math.nan,
                                   "abs_decades": math.nan, "lost": math.nan, "beyond_grid": False})
                continue
            at = [value_at(best["curve"], lr) for lr in found]
            median, reached = log_median(found), float(np.mean([a for a, _ in at]))
            decades = math.log10(median / best["best_lr"])
            lost = metric.ahead(best["at_best"], reached)
            rows.append(row | {"median": median, "low": float(found.min()), "high": float(found.max()),
                               "decades": decades, "abs_decades": abs(decades),
                               "spread_decades": float(np.log10(found.max() / found.min())),
                               "lost": metric.points(lost), "beyond_grid": any(out for _, out in at)})
    return pd.DataFrame(rows).assign(task=task_of(sweep))


def rule_scores(table: pd.DataFrame) -> pd.DataFrame:
    """Per rule, over the methods: the median distance in decades from the sweep's best rate, the mean lost
    (accuracy, or extra loss), and how many tests gave no suggestion; the most trustworthy rule first (least
    lost)."""
    if table.empty:
        return pd.DataFrame(columns=["rule", "methods", "median_abs_decades", "mean_lost", "none", "tests"])
    scores = table.groupby("rule", sort=False).agg(
        methods=("method", "count"), median_abs_decades=("abs_decades", "median"), mean_lost=("lost", "mean"),
        none=("none", "sum"), tests=("tests", "sum")).reset_index()
    return scores.sort_values(["mean_lost", "median_abs_decades"], ignore_index=True)


# --- what the report shows ---

def _leader(chosen: pd.DataFrame, metric) -> pd.Series:
    """The method with the best expected best among `chosen` (rows of tuning_curves' table at one k)."""
    return chosen.sort_values("expected_best", ascending=not metric.higher_is_better).iloc[0]


def _lost_text(lost, metric) -> str:
    """What training away from the best rate lost, already in printed units: "2.0 points lost", "0.052 nats of
    extra loss"."""
    amount = f"{lost:.{metric.decimals}f} {metric.difference_unit}"
    return f"{amount} lost" if metric.higher_is_better else f"{amount} of extra {metric.name}"


def format_effort(curves: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    """Per method: the expected best final validation value of the task's metric (accuracy in %, or loss) after 1
    and 3 rates tried and with the whole grid, each with its band over seeds."""
    level = f"{round(100 * confidence)}%"
    metric = metric_of(curves)
    rows = []
    for tuned, curve in curves.groupby("tuned", sort=False):
        curve = curve.set_index("k")

        def cell(k):
            if k not in curve.index:
                return "–"
            r = curve.loc[k]
            band = f" [{metric.number(r['low'])}, {metric.number(r['high'])}]" if r["low"] == r["low"] else ""
            return metric.number(r["expected_best"]) + band

        n = int(curve["rates"].iloc[0])
        rows.append({"method": tuned_display(tuned), f"1 rate tried [{level} band]": cell(1),
                     "3 rates tried": cell(3), "the whole grid": cell(n), "rates on the grid": n,
                     "seeds": int(curve["seeds"].iloc[0])})
    return pd.DataFrame(rows)


def format_comparisons(table: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    level = f"{round(100 * confidence)}% CI"
    metric = metric_of(table)
    digits = metric.decimals
    return pd.DataFrame({
        "rates tried": table["k"], "method": table["configuration"], "minus": table["against"],
        verdict_header(table): table["verdict_adj"],
        f"difference, {metric.difference_unit} [{level.replace('CI', 'simultaneous CI')}]": [
            interval_text(r["difference"], r["ci_low_adj"], r["ci_high_adj"], digits) for _, r in table.iterrows()],
        "seeds ahead": [seeds_ahead_cell(r) for _, r in table.iterrows()],
        "p, Bonferroni-adjusted": table["p_adj"].map(p_text),
        f"on its own: difference [{level}]": [interval_text(r["difference"], r["ci_low"], r["ci_high"], digits)
                                              for _, r in table.iterrows()],
        "on its own: verdict": table["verdict"],
    })


def _corrected_text(r, level, metric) -> str:
    """"+3.7 points (95% simultaneous CI +0.7 to +6.6)": a comparison with the interval its verdict is read from."""
    digits = metric.decimals
    return (f"{metric.signed(r['difference'])} {metric.difference_unit} ({level} simultaneous CI "
            f"{bound_text(r['ci_low_adj'], digits)} to {bound_text(r['ci_high_adj'], digits)})")


def effort_conclusions(curves: pd.DataFrame, comparisons: pd.DataFrame, confidence=0.95) -> str:
    """The tuning-effort findings as Markdown bullets: the leader at each number of rates tried, and the
    differences that survive the correction, each with the simultaneous interval it is read from."""
    if curves.empty:
        return ""
    level = f"{round(100 * confidence)}%"
    metric = metric_of(curves)
    lines = []
    whole = curves.groupby("tuned")["k"].transform("max") == curves["k"]
    for name, chosen in (("1 rate tried", curves[curves["k"] == 1]), ("3 rates tried", curves[curves["k"] == 3]),
                         ("the whole grid", curves[whole])):
        if chosen.empty:
            continue
        lead = _leader(chosen, metric)
        line = (f"- **With {name}**, the {metric.best_word} expected best is {lead['method']}'s "
                f"({metric.text(lead['expected_best'])})")
        k = {"1 rate tried": "1", "3 rates tried": "3", "the whole grid": "whole grid"}[name]
        rows = comparisons[comparisons["k"] == k] if not comparisons.empty else comparisons
        if not rows.empty:  # the clear differences, the best first
            clear = rows[rows["verdict_adj"].isin(["clearly better", "clearly worse"])].sort_values(
                "difference", ascending=not metric.higher_is_better)
            line += "; after the correction " + ("; ".join(
                f"{r['configuration']} minus {r['against']}: {_corrected_text(r, level, metric)}, {r['verdict_adj']}"
                for _, r in clear.iterrows()) if not clear.empty else "no difference in the table is clear")
        lines.append(line + ".")
    wilson = comparisons[(comparisons["tuned"] == "sgd_momentum") & (comparisons["against_tuned"] == "adam")] \
        if not comparisons.empty else comparisons
    if not wilson.empty:
        lines.append("- **Tuned SGD+momentum against Adam** (Wilson et al. 2017's question): " + "; ".join(
            f"{_rates_tried(r['k'])} {_corrected_text(r, level, metric)}, {r['verdict_adj']} after the correction"
            for _, r in wilson.iterrows()) + ".")
    return "\n".join(lines)


def _rates_tried(k) -> str:
    """"with the whole grid", "at 1 rate", "at 3 rates"."""
    return "with the whole grid" if k == "whole grid" else f"at {k} rate" + ("s" if k != "1" else "")


def format_finder(table: pd.DataFrame) -> pd.DataFrame:
    if table.empty:
        return pd.DataFrame({"method": [], "rule": []})
    metric = metric_of(table)

    def rate(x):
        return "none" if x != x else f"{x:.3g}"

    lost = (f"{metric.name} lost" if metric.higher_is_better else f"extra {metric.name}") + \
        f", {metric.difference_unit} (mean over seeds)"
    return pd.DataFrame({
        "method": table["method"], "rule": table["rule"],
        "suggested lr: median [lowest–highest over seeds]": [
            f"{rate(r['median'])} [{rate(r['low'])}–{rate(r['high'])}]" if r["median"] == r["median"] else "none"
            for _, r in table.iterrows()],
        "tests without a suggestion": [f"{n} of {t}" for n, t in zip(table["none"], table["tests"])],
        "sweep's best lr": table["best_lr"].map(rate),
        "decades from it (median; below zero: too low)": table["decades"].map(
            lambda d: "n/a" if d != d else f"{d:+.2f}".replace("-", "−")),
        lost: [("n/a" if r["lost"] != r["lost"] else f"{r['lost']:.{metric.decimals}f}"
                + (" (at least: beyond the grid)" if r["beyond_grid"] else ""))
               for _, r in table.iterrows()],
    })


def finder_conclusions(table: pd.DataFrame) -> str:
    """Which suggestion rule to trust on this task, and how far off each is, from finder_against_sweep's table."""
    scores = rule_scores(table)
    scored = scores.dropna(subset=["mean_lost"])
    if scored.empty:
        return ""
    metric = metric_of(table)
    best = scored.iloc[0]
    cost = (f"cost {best['mean_lost']:.{metric.decimals}f} {metric.difference_unit} of final validation "
            f"{metric.name}" if metric.higher_is_better else
            f"raised the final validation {metric.name} by {best['mean_lost']:.{metric.decimals}f} "
            f"{metric.difference_unit}")
    lines = [f"- **Learning-rate finder:** of the three rules, **{best['rule']}** came closest to what the sweep "
             f"measured: over {int(best['methods'])} methods its median suggestion lay a median "
             f"{best['median_abs_decades']:.2f} decades from the sweep's best rate, and training at each seed's "
             f"suggestion would have {cost} on average."]
    for _, r in scored.iloc[1:].iterrows():
        lines.append(f"  - {r['rule']}: {r['median_abs_decades']:.2f} decades, {_lost_text(r['mean_lost'], metric)}"
                     + (f"; {int(r['none'])} of {int(r['tests'])} tests gave no suggestion" if r["none"] else ""))
    spread = table.dropna(subset=["spread_decades"]) if "spread_decades" in table else table.iloc[0:0]
    if not spread.empty:
        widest = spread.sort_values("spread_decades", ascending=False).iloc[0]
        lines.append(f"  - One test is one draw: the widest spread over seeds was {widest['method']}'s with "
                     f"{widest['rule']}, {widest['spread_decades']:.2f} decades between its lowest and highest "
                     f"suggestion.")
    return "\n".join(lines)


def _effort_line(curves: pd.DataFrame, comparisons: pd.DataFrame) -> str:
    """The first screen's tuning-effort bullet: the best bet at 1 and 3 rates tried and with the whole grid, and
    how many methods beat SGD after the correction there."""
    metric = metric_of(curves)
    whole = curves.groupby("tuned")["k"].transform("max") == curves["k"]
    parts = []
    for name, chosen in (("1 rate tried", curves[curves["k"] == 1]), ("3 rates", curves[curves["k"] == 3]),
                         ("the whole grid", curves[whole])):
        if not chosen.empty:
            lead = _leader(chosen, metric)
            parts.append(f"{name}: {lead['method']} ({metric.text(lead['expected_best'])})")
    line = f"- **Tuning effort** (expected best validation {metric.name} after k learning rates tried): " + \
        "; ".join(parts)
    if comparisons is not None and not comparisons.empty:
        at_grid = comparisons[(comparisons["k"] == "whole grid") & (comparisons["against_tuned"] == "sgd")]
        better = at_grid[at_grid["verdict_adj"] == "clearly better"]
        line += (f". With the whole grid, {len(better)} of {len(at_grid)} methods are clearly better than "
                 f"tuned SGD after the correction")
    return line + "."


def in_short(curves: pd.DataFrame, comparisons: pd.DataFrame, finder: pd.DataFrame) -> str:
    """The report's first-screen bullets on tuning: the best bet at 1 and 3 rates tried and with the whole grid,
    how many methods beat SGD after the correction there, and which finder rule to trust."""
    lines = []
    if curves is not None and not curves.empty:
        lines.append(_effort_line(curves, comparisons))
    finder = finder if finder is not None else pd.DataFrame()
    scores = rule_scores(finder).dropna(subset=["mean_lost"])
    if not scores.empty:
        metric = metric_of(finder)
        best = scores.iloc[0]
        lines.append(f"- **Learning-rate finder:** closest to the sweep, *{best['rule']}*: a median "
                     f"{best['median_abs_decades']:.2f} "
                     f"decades from the sweep's best rate, {_lost_text(best['mean_lost'], metric)} on average"
                     + (f" ({int(best['none'])} of its {int(best['tests'])} tests found no rate: not counted)"
                        if best["none"] else "")
                     + "".join(f"; {r['rule']} {r['median_abs_decades']:.2f} decades, "
                               f"{r['mean_lost']:.{metric.decimals}f} {metric.difference_unit}"
                               for _, r in scores.iloc[1:].iterrows()) + ".")
    return "\n".join(lines)
