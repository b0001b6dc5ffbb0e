"""The statistics behind every interval and verdict of the report, from the libraries that own them: t-intervals
from scipy.stats (paired by seed where two sides share seeds, Welch's otherwise) and Holm's correction for a
family of comparisons from statsmodels."""

import math

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests


def mean_ci(values, confidence=0.95):
    """Mean, sample standard deviation and the t-interval of the mean over the finite values (a diverged run has
    none); std and interval are NaN for fewer than two."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    n = len(values)
    mean = float(values.mean()) if n else math.nan
    if n < 2:
        return mean, math.nan, math.nan, math.nan
    std = float(values.std(ddof=1))
    if std == 0:  # every value the same: scipy's interval is undefined, the mean is exact
        return mean, 0.0, mean, mean
    low, high = stats.ttest_1samp(values, 0.0).confidence_interval(confidence)
    return mean, std, float(low), float(high)


def paired_difference(a: pd.Series, b: pd.Series, confidence=0.95) -> dict:
    """a − b (indexed by seed) with its interval and p-value from scipy: paired by seed where the two share two or
    more seeds (the same seed gives both the same initial weights and batch order), else Welch's test for two
    independent samples. NaN where either side has fewer than two values."""
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    shared = a.index.intersection(b.index)
    if len(shared) >= 2:
        method, mean = "paired", float((a[shared] - b[shared]).mean())
        spread = float((a[shared] - b[shared]).std())
    elif len(a) >= 2 and len(b) >= 2:
        method, mean, spread = "Welch", float(a.mean() - b.mean()), float(a.std() + b.std())
    else:
        mean = float(a.mean() - b.mean()) if len(a) and len(b) else math.nan
        return {"difference": mean, "ci_low": math.nan, "ci_high": math.nan, "p": math.nan, "method": "none"}
    if spread < 1e-12:  # every seed gave the same difference: exact, nothing for a t-test to measure
        return {"difference": mean, "ci_low": mean, "ci_high": mean, "p": 1.0 if abs(mean) < 1e-12 else 0.0,
                "method": method}
    test = stats.ttest_rel(a[shared], b[shared]) if method == "paired" else stats.ttest_ind(a, b, equal_var=False)
    low, high = test.confidence_interval(confidence)
    return {"difference": mean, "ci_low": float(low), "ci_high": float(high), "p": float(test.pvalue),
            "method": method}


def holm(p_values, confidence=0.95) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down correction of a family of p-values at level 1 − confidence (statsmodels): (reject,
    adjusted p). NaN p-values (no test) are left out of the family and stay NaN, never rejected."""
    p = np.asarray(p_values, dtype=float)
    reject, adjusted = np.zeros(len(p), dtype=bool), np.full(len(p), np.nan)
    tested = np.isfinite(p)
    if tested.any():
        reject[tested], adjusted[tested], _, _ = multipletests(p[tested], alpha=1 - confidence, method="holm")
    return reject, adjusted


def verdict(difference: dict, significant: bool) -> str:
    """"clearly better" / "clearly worse" when `significant` (the interval excludes zero, or the difference
    survived Holm's correction), else "no clear difference"; "no test" without an interval."""
    if difference["p"] != difference["p"]:
        return "no test"
    if not significant:
        return "no clear difference"
    return "clearly better" if difference["difference"] > 0 else "clearly worse"


def with_holm(table: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    """`table` (one row per comparison, paired_difference's columns) with Holm's adjusted p-value and both
    verdicts: each interval on its own ("verdict") and after the correction for every row ("verdict_holm")."""
    reject, adjusted = holm(table["p"], confidence)
    return table.assign(
        p_holm=adjusted,
        verdict=[verdict(r, r["p"] < 1 - confidence) for _, r in table.iterrows()],
        verdict_holm=[verdict(r, bool(x)) for x, (_, r) in zip(reject, table.iterrows())])


def log_median(values) -> float:
    """The median of positive values on the log scale (of rates, say), NaN values left out; NaN when none is left."""
    values = pd.Series(values, dtype=float).dropna()
    return float(np.exp(np.median(np.log(values)))) if len(values) else math.nan


def percent_text(x) -> str:
    """A fraction as percent with one decimal ("69.8"), "n/a" for None or NaN."""
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def signed_text(x) -> str:
    """"+2.3", "−0.4" (a true minus sign), "n/a" for NaN."""
    return "n/a" if x != x else f"{x:+.1f}".replace("-", "−")  # −0.0: below zero, by less than 0.05


def p_text(p) -> str:
    """A p-value as the report prints it: "< 0.001", "0.042", "–" where there was no test."""
    return "–" if p != p else "< 0.001" if p < 0.001 else f"{p:.3f}"


def rank_agreement(a, b) -> float:
    """Kendall's τ between two rankings of the same items (scipy): 1 the same order, 0 unrelated, −1 reversed."""
    return float(stats.kendalltau(a, b).statistic)
