"""Paired differences between configurations in the task's metric (final validation accuracy in points, or loss in
nats), over healthy seeds: one
comparison (`compare`), every configuration against constant-rate SGD with the simultaneous interval its verdict
is read from (`baseline_differences`), and their sentence and table."""

import math

import pandas as pd

from .config import FAMILY_TITLES
from .health import failures_among, healthy_runs
from .statistics import (bound_text, count_text, interval_text, p_text, paired_difference, seeds_ahead_cell,
                         seeds_won_text, verdict as verdict_of, with_correction)
from .tasks import ACCURACY, metric_of, task_of


VERDICTS = ("clearly better", "clearly worse", "no clear difference")

COMPARED_COLUMNS = ["difference", "ci_low", "ci_high", "method", "p", "se", "df", "wins", "pairs", "identical",
                    "verdict"]


def baseline_label(runs: pd.DataFrame):
    """The constant-learning-rate SGD configuration every other is measured against (None when absent)."""
    constant = runs[runs["family"] == "constant"]
    return constant["label"].iloc[0] if not constant.empty else None


def _final_by_seed(runs, label, metric):
    """A configuration's final validation value per healthy seed."""
    return healthy_runs(runs[runs["label"] == label]).set_index("seed")[metric.final].astype(float)


def compare(runs: pd.DataFrame, label: str, other: str, confidence=0.95) -> dict:
    """`label` minus `other` in the final validation value of the task's metric (points of accuracy, nats of
    loss), over the healthy seeds of each (paired by seed where they share two or more, lrlab.statistics), with
    its interval, p-value and a verdict from VERDICTS: clear only when the interval excludes zero, better on the
    metric's side of it."""
    metric = metric_of(runs)
    a, b = _final_by_seed(runs, label, metric), _final_by_seed(runs, other, metric)
    d = paired_difference(a, b, confidence, metric.higher_is_better)
    if math.isnan(d["difference"]):
        verdict = "not compared: every seed of one side failed"
    elif math.isnan(d["ci_low"]):
        verdict = "no interval: fewer than two healthy seeds"
    else:
        verdict = verdict_of(d, d["ci_low"] > 0 or d["ci_high"] < 0, metric.higher_is_better)
    return {"difference": metric.points(d["difference"]), "ci_low": metric.points(d["ci_low"]),
            "ci_high": metric.points(d["ci_high"]), "method": d["method"], "p": d["p"], "se": metric.points(d["se"]),
            "df": d["df"], "wins": d["wins"], "pairs": d["pairs"], "identical": _identical(runs, label, other),
            "verdict": verdict}


def _identical(runs, label, other) -> bool:
    """Whether two configurations' runs are the same runs: on every seed, the same final validation accuracy and
    loss to the last bit (a reduce-on-plateau schedule that never fired is constant-rate SGD). Comparing them
    tests nothing, and counting them in a family would only make its correction harsher."""
    columns = ["seed", "final_val_accuracy", "final_val_loss"]
    if "final_val_loss" not in runs:
        return False
    a = runs.loc[runs["label"] == label, columns].sort_values("seed").reset_index(drop=True)
    b = runs.loc[runs["label"] == other, columns].sort_values("seed").reset_index(drop=True)
    return len(a) > 0 and a.equals(b)


def baseline_differences(runs: pd.DataFrame, baseline: str, confidence=0.95) -> pd.DataFrame:
    """Each configuration's final validation value minus the baseline's (points, nats), over healthy seeds, with
    its interval and p-value, the failed seeds named (`failed`, "" when none), and two verdicts from VERDICTS: on
    its own interval (`verdict`), and on its simultaneous interval over every comparison of the table
    (`verdict_adj`, with `ci_low_adj`, `ci_high_adj`, `p_adj`): a configuration is called clearly better or worse
    only when it survives the correction. A configuration whose runs are the baseline's (`identical`) is left out
    of the family."""
    rows = []
    for (family, label), group in runs.groupby(["family", "label"], sort=False):
        if label == baseline:
            continue
        rows.append({"family": family, "configuration": label, **compare(runs, label, baseline, confidence),
                     "failed": failures_among(group["status"])})
    diffs = pd.DataFrame(rows, columns=["family", "configuration", *COMPARED_COLUMNS, "failed"])
    metric = metric_of(runs)
    return _corrected_verdicts(diffs, confidence, metric).assign(task=task_of(runs)).sort_values(
        "difference", ascending=not metric.higher_is_better, ignore_index=True)


def _corrected_verdicts(diffs: pd.DataFrame, confidence, metric) -> pd.DataFrame:
    """`diffs` (one row per `compare`) with the family's correction over its tested rows (with_correction): a
    row without a test keeps compare's verdict ("no interval: ..."), and identical runs stay out of the family."""
    if diffs.empty:
        return diffs.assign(family_size=[], p_adj=[], ci_low_adj=[], ci_high_adj=[], verdict_adj=[])
    family = diffs["p"].notna() & ~diffs["identical"].astype(bool)
    corrected = with_correction(diffs[family], confidence, higher_is_better=metric.higher_is_better)
    out = diffs.assign(family_size=int(family.sum()), p_adj=math.nan, ci_low_adj=math.nan, ci_high_adj=math.nan,
                       verdict_adj=diffs["verdict"].where(~diffs["identical"].astype(bool), "identical runs"))
    for column in ["p_adj", "ci_low_adj", "ci_high_adj", "verdict_adj"]:
        out.loc[family, column] = corrected[column]
    return out


def difference_text(d: dict, level: str, metric=ACCURACY) -> str:
    """"+2.3 points (95% CI +0.9 to +3.8; ahead on 5 of 5 seeds), **clearly better**" (a loss: "−0.052 nats
    (...)"); with a correction (the row has `verdict_adj`), the simultaneous interval its verdict is read from,
    labelled with the family's size. A verdict that is not clear is not in bold."""
    if math.isnan(d["difference"]):
        return d["verdict"]
    if d.get("identical"):
        return "identical runs (left out of the comparisons)"
    digits, unit = metric.decimals, metric.difference_unit
    if math.isnan(d["ci_low"]):
        return f"{metric.signed(d['difference'])} {unit} ({d['verdict']})"
    corrected = "verdict_adj" in d and d["verdict_adj"] == d["verdict_adj"]
    said = d["verdict_adj"] if corrected else d["verdict"]
    verdict = f"**{said}**" if said in VERDICTS[:2] else said
    won = seeds_won_text(d.get("wins"), d.get("pairs"))
    if corrected:
        interval = (f"{level} simultaneous CI {bound_text(d['ci_low_adj'], digits)} to "
                    f"{bound_text(d['ci_high_adj'], digits)}, Bonferroni "
                    f"over {count_text(int(d['family_size']), 'comparison')}")
    else:
        interval = f"{level} CI {bound_text(d['ci_low'], digits)} to {bound_text(d['ci_high'], digits)}"
    return f"{metric.signed(d['difference'])} {unit} ({interval}{'; ' + won if won else ''}), {verdict}"


def format_differences(diffs: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    """The verdict first (it stays in view on a phone), beside the interval it is read from; the uncorrected
    interval and verdict after, labelled as such."""
    level = f"{round(100 * confidence)}%"
    size = int(diffs["family_size"].max()) if len(diffs) else 0
    metric = metric_of(diffs)
    digits = metric.decimals
    return pd.DataFrame({
        "configuration": diffs["configuration"],
        f"verdict (corrected for {count_text(size, 'comparison')})": diffs["verdict_adj"],
        f"difference, {metric.difference_unit} [{level} simultaneous CI, Bonferroni]": [
            interval_text(r["difference"], r["ci_low_adj"], r["ci_high_adj"], digits) for _, r in diffs.iterrows()],
        "seeds ahead": [seeds_ahead_cell(r) for _, r in diffs.iterrows()],
        "p, Bonferroni-adjusted": diffs["p_adj"].map(p_text),
        "family": [FAMILY_TITLES[f] for f in diffs["family"]],
        f"on its own: difference [{level} CI]": [interval_text(r["difference"], r["ci_low"], r["ci_high"], digits)
                                                 for _, r in diffs.iterrows()],
        "on its own: p": diffs["p"].map(p_text),
        "on its own: verdict": diffs["verdict"],
        "interval": diffs["method"],
        "failed seeds (left out)": diffs["failed"].replace("", "none"),
    })
