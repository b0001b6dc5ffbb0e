"""The report's first screen: what to use, in one or two computed sentences; how small a difference this build
could resolve; and the few terms a practitioner may not know, each in one line.

Every sentence is computed from the tables the report prints (lrlab.results, lrlab.tuning): it changes when the
numbers do, and says "none is clearly better" when none is.
"""

import html
import math

import numpy as np
import pandas as pd
from scipy import stats

from .results import _listed, close_to_best
from .statistics import simultaneous_interval
from .tasks import metric_of

# the power with which the first screen asks to detect a difference a practitioner would act on (Metric.actionable)
POWER = 0.8

# (term, what it means, a phrase whose presence in the first screen shows the term is needed there)
GLOSSARY = [
    ("simultaneous CI", "the interval a verdict is read from when m comparisons are made at once (Bonferroni: each "
                        "at level 1 − 0.05/m), so that all of them hold together 95% of the time", "simultaneous"),
    ("seeds ahead", "on how many seeds the configuration beat constant-rate SGD; the same seed gives both the same "
                    "initial weights and batch order", "ahead on"),
    ("did not learn", "no epoch's training loss and accuracy got clearly away from guessing; such runs are named, "
                      "never averaged in", "did not learn"),
    ("expected best of k rates", "the score you can expect after trying k learning rates drawn at random from "
                                 "the method's grid and keeping the best (Dodge et al. 2019)", "rates tried"),
    ("decades", "factors of ten between two learning rates (0.01 and 0.1 are one decade apart)", "decade"),
    ("lowest ÷ 10, valley, steepest", "three ways to read a rate off a learning-rate range test: a tenth of the "
                                      "rate at the lowest smoothed loss; fastai's valley (inside the longest stretch "
                                      "where the loss keeps falling); the rate where the loss falls fastest",
     "lowest ÷ 10"),
]


def _names(rows, name_of) -> str:
    return _listed([html.escape(name_of.get(c, c)) for c in rows])


def recommendation(table: pd.DataFrame, diffs: pd.DataFrame, name_of: dict, effort=None, effort_comparisons=None,
                   budget=None) -> str:
    """The answer as Markdown bullets: with no tuning, with a few rates tried, at a longer budget (each only where
    the build has the runs for it)."""
    ok = table[table["failed"] == 0] if not table.empty else table
    if ok.empty:
        return ""
    best = ok.iloc[0]
    metric = metric_of(table)
    lines = []
    clear = diffs[diffs["verdict_adj"] == "clearly better"] if diffs is not None and not diffs.empty else diffs
    worse = diffs[diffs["verdict_adj"] == "clearly worse"] if diffs is not None and not diffs.empty else diffs
    name = html.escape(name_of.get(best["configuration"], best["configuration"]))
    scored = "scored highest" if metric.higher_is_better else f"reached the lowest validation {metric.name}"
    head = f"- **With no tuning** (each method at its default rate): {name} {scored}, {metric.text(best['final_mean'])}"
    tested = diffs[diffs["p"].notna()] if diffs is not None and not diffs.empty else None
    if tested is None:
        lines.append(head + ".")
    elif tested.empty:
        lines.append(head + "; with fewer than two healthy seeds on a side there is no interval, so no verdict on "
                     "any difference: run more seeds.")
    elif clear.empty:
        lines.append(head + "; but **none is clearly better than constant-rate SGD** after the correction: no clear "
                     "difference at this build's resolution (below)"
                     + (f"; clearly worse: {_names(worse['configuration'], name_of)}" if not worse.empty else "")
                     + ".")
    else:
        unanimous = clear[clear["wins"] == clear["pairs"]]
        failed = {r["configuration"]: f" ({r['failed']}, over the healthy ones)" for _, r in clear.iterrows()
                  if r["failed"]}
        named = [html.escape(name_of.get(c, c)) + failed.get(c, "") for c in clear["configuration"]]
        lines.append(head + f"; clearly better than constant-rate SGD after the correction: "
                     f"{_listed(named)}"
                     + (f" ({len(unanimous)} of them ahead on every seed)" if len(unanimous) else "") + ".")
    if effort is not None and not effort.empty:
        at3 = effort[effort["k"] == 3].sort_values("expected_best", ascending=not metric.higher_is_better)
        if not at3.empty:
            lead = at3.iloc[0]
            line = (f"- **With 3 learning rates tried:** {html.escape(lead['method'])} has the {metric.best_word} "
                    f"expected best, {metric.text(lead['expected_best'])}")
            if effort_comparisons is not None and not effort_comparisons.empty:
                rows = effort_comparisons[(effort_comparisons["k"] == "3")
                                          & (effort_comparisons["against_tuned"] == "sgd")]
                better = rows[rows["verdict_adj"] == "clearly better"]
                line += (f"; {len(better)} of {len(rows)} methods are clearly better than SGD tuned alike"
                         if len(rows) else "")
            lines.append(line + ".")
    if budget is not None and not budget.empty and budget["epochs"].nunique() > 1:
        last = int(budget["epochs"].max())
        at = budget[budget["epochs"] == last].sort_values("rank")
        gained = at[at["verdict_adj"] == "clearly better"]
        close = close_to_best(at, "mean", metric)
        most = gained.sort_values("gain", ascending=not metric.higher_is_better).iloc[0] if len(gained) else None
        lines.append(f"- **At {last} epochs** (the {len(at)} methods the budget comparison trains again, not "
                     f"every method above): {html.escape(at.iloc[0]['method'])} leads "
                     f"({metric.text(at.iloc[0]['mean'])})"
                     + (f", {', '.join(html.escape(m) for m in close['method'])} within {metric.tie_text} of it"
                        if len(close) else "")
                     + (f"; {len(gained)} of {len(at)} methods "
                        f"{'gain' if metric.higher_is_better else 'improve'} clearly over the shortest budget, most "
                        f"{html.escape(most['method'])} ({metric.signed(most['gain'])} {metric.difference_unit})"
                        if len(gained) else "")
                     + ": among these, the ranking at the longest budget is the one to act on.")
    return "\n".join(lines)


def seeds_needed(sd, m, points, power=POWER, confidence=0.95, most=200) -> int | None:
    """The fewest seeds with which a paired difference of `points` is called clear (its simultaneous interval
    over m comparisons excludes zero) with probability `power`, for a paired spread `sd` (in the same units);
    None beyond `most`. The usual approximation: n ≥ ((t_{1−α/2m} + t_power) · sd / points)², with t on n − 1
    degrees."""
    if not sd == sd:
        return None
    if sd <= 0:
        return 2
    alpha = (1 - confidence) / max(1, m)
    for n in range(2, most + 1):
        t = stats.t.ppf(1 - alpha / 2, n - 1) + stats.t.ppf(power, n - 1)
        if t * sd / math.sqrt(n) <= points:
            return n
    return None


def resolving_power(diffs: pd.DataFrame, confidence=0.95) -> dict | None:
    """From this build's paired comparisons with constant-rate SGD: the median spread of a paired difference
    between seeds (points, nats), the smallest difference the build could call clear (half the simultaneous
    interval's width at that spread), and the seeds needed to resolve the metric's actionable difference with
    POWER."""
    if diffs is None or diffs.empty:
        return None
    tested = diffs[diffs["p"].notna() & (diffs["method"] == "paired") & ~diffs["identical"].astype(bool)]
    if tested.empty:
        return None
    n = int(tested["pairs"].median())
    sd = float(np.median(tested["se"] * np.sqrt(tested["pairs"])))
    if not sd == sd:
        return None
    m = int(tested["family_size"].iloc[0])
    smallest = simultaneous_interval(0.0, sd / math.sqrt(n), n - 1, m, confidence)[1]  # its half-width
    metric = metric_of(diffs)
    return {"seeds": n, "comparisons": m, "spread": sd, "smallest_clear": smallest, "metric": metric,
            "seeds_needed": seeds_needed(sd, m, metric.points(metric.actionable), confidence=confidence)}


def resolving_text(power: dict | None, still_improving: str | None) -> str:
    """The first screen's line on what this build can and cannot tell apart, and whether its budget converged."""
    budget = f" **Budget:** {still_improving}" if still_improving else ""
    if power is None:
        return f"- {budget.strip()}" if budget else ""
    needed, metric = power["seeds_needed"], power["metric"]
    digits, unit = metric.decimals, metric.difference_unit
    line = (f"- **What this build can resolve:** with {power['seeds']} seeds and {power['comparisons']} comparisons, "
            f"a difference is called clear only above about {power['smallest_clear']:.{digits}f} {unit} (the paired "
            f"spread between seeds is {power['spread']:.{digits}f} {unit}); resolving "
            f"{metric.points(metric.actionable):g} {unit} {round(100 * POWER)}% of the time would take "
            + (f"{needed} seeds." if needed else "more than 200 seeds."))
    return line + (budget or " **Budget:** most configurations peaked before the last fifth of their epochs.")


def glossary(first_screen: str) -> str:
    """The terms the first screen uses, each in one line ("" when it uses none): a report without a sweep or a
    range test is not asked to explain them."""
    used = [(term, meaning) for term, meaning, phrase in GLOSSARY if phrase in first_screen]
    return "*Terms:* " + "; ".join(f"*{term}*: {meaning}" for term, meaning in used) + "." if used else ""
