"""The statistics behind every interval and verdict of the report, from the libraries that own them: t-intervals
from scipy.stats (paired by seed where two sides share seeds, Welch's otherwise) and, for a family of
comparisons, Bonferroni's simultaneous intervals with the matching adjusted p-values.

A verdict and the interval printed beside it always agree: on its own, a difference is clear when its
confidence-level interval excludes zero (p < 1 - confidence); within a family of m comparisons, when its
simultaneous interval, at level 1 - (1 - confidence) / m, excludes zero, which is the same event as its
Bonferroni-adjusted p being below 1 - confidence. (Holm's step-down test rejects a little more often, but has no
intervals a reader can check a verdict against.)"""

import math

import numpy as np
import pandas as pd
from scipy import stats


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


def paired_difference(a: pd.Series, b: pd.Series, confidence=0.95, higher_is_better=True) -> dict:
    """a − b (indexed by seed) with its interval and p-value from scipy: paired by seed where the two share two or
    more seeds (the same seed gives both the same initial weights and batch order), else Welch's test for two
    independent samples. No interval (NaN) where either side has fewer than two values: then the difference is
    the one on the seed both share, if any (a configuration with one healthy seed is compared on that seed, not
    against the other side's mean over seeds it lacks), else between the means. Also the standard error and degrees of
    freedom behind the interval (for a simultaneous one: `with_correction`), and, paired, the number of seeds on
    which a is ahead of b (`wins` of `pairs`: above it, or below where lower is better)."""
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    shared = a.index.intersection(b.index)
    sign = 1 if higher_is_better else -1
    wins, pairs = (int((sign * (a[shared] - b[shared]) > 0).sum()), len(shared)) if len(shared) >= 2 else (math.nan, 0)
    if len(shared) >= 2:
        method, diff = "paired", a[shared] - b[shared]
        mean, se, df = float(diff.mean()), float(diff.std() / math.sqrt(len(diff))), len(diff) - 1
    elif len(a) >= 2 and len(b) >= 2:
        va, vb = float(a.var()) / len(a), float(b.var()) / len(b)
        method, mean, se = "Welch", float(a.mean() - b.mean()), math.sqrt(va + vb)
        df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1)) if va + vb > 0 else math.inf
    else:  # no interval; the difference on the one seed both share, else between the means
        if len(shared) == 1:
            mean = float(a[shared[0]] - b[shared[0]])
            wins, pairs = int(sign * mean > 0), 1
        else:
            mean = float(a.mean() - b.mean()) if len(a) and len(b) else math.nan
        return {"difference": mean, "ci_low": math.nan, "ci_high": math.nan, "p": math.nan, "method": "none",
                "se": math.nan, "df": math.nan, "wins": wins, "pairs": pairs}
    if se < 1e-12:  # every seed gave the same difference: exact, nothing for a t-test to measure
        return {"difference": mean, "ci_low": mean, "ci_high": mean, "p": 1.0 if abs(mean) < 1e-12 else 0.0,
                "method": method, "se": 0.0, "df": df, "wins": wins, "pairs": pairs}
    test = stats.ttest_rel(a[shared], b[shared]) if method == "paired" else stats.ttest_ind(a, b, equal_var=False)
    low, high = test.confidence_interval(confidence)
    return {"difference": mean, "ci_low": float(low), "ci_high": float(high), "p": float(test.pvalue),
            "method": method, "se": se, "df": float(df), "wins": wins, "pairs": pairs}


def verdict(difference: dict, significant: bool, higher_is_better=True) -> str:
    """"clearly better" / "clearly worse" when `significant` (the matching interval excludes zero), else "no
    clear difference"; "no test" without an interval. Better is above zero, or below where lower is better."""
    if difference["p"] != difference["p"]:
        return "no test"
    if not significant:
        return "no clear difference"
    return "clearly better" if (difference["difference"] > 0) == higher_is_better else "clearly worse"


def simultaneous_interval(difference, se, df, m, confidence=0.95) -> tuple[float, float]:
    """The interval of one of m comparisons at the Bonferroni level 1 - (1 - confidence) / m: together, all m
    cover their true differences with probability at least `confidence`."""
    if m < 1 or se != se:
        return math.nan, math.nan
    if se == 0:
        return difference, difference
    half = float(stats.t.ppf(1 - (1 - confidence) / (2 * m), df)) * se
    return difference - half, difference + half


def with_correction(table: pd.DataFrame, confidence=0.95, m=None, higher_is_better=True) -> pd.DataFrame:
    """`table` (one row per comparison, paired_difference's columns, in the same units as `se`) with the family's
    size `family_size` (its tested rows, or `m` when the comparison stands for more: one chosen after looking
    among m possible), the Bonferroni-adjusted p-value (`p_adj`: min(1, m p)), the simultaneous interval
    (`ci_low_adj`, `ci_high_adj`) and both verdicts: each interval on its own (`verdict`) and the simultaneous one
    (`verdict_adj`). A row without a test (NaN p) is left out of the family and gets "no test"."""
    p = table["p"].to_numpy(dtype=float)
    tested = np.isfinite(p)
    size = int(m if m is not None else tested.sum())
    adjusted = np.where(tested, np.minimum(1.0, p * size), np.nan)
    bounds = [simultaneous_interval(r["difference"], r["se"], r["df"], size, confidence) if t else (math.nan,) * 2
              for t, (_, r) in zip(tested, table.iterrows())]
    low = [b[0] for b in bounds]
    high = [b[1] for b in bounds]
    return table.assign(
        family_size=size, p_adj=adjusted, ci_low_adj=low, ci_high_adj=high,
        verdict=[verdict(r, r["ci_low"] > 0 or r["ci_high"] < 0, higher_is_better) for _, r in table.iterrows()],
        verdict_adj=[verdict(r, lo > 0 or hi < 0, higher_is_better)
                     for lo, hi, (_, r) in zip(low, high, table.iterrows())])


def seeds_ahead_cell(row) -> str:
    """A table's "seeds ahead" cell of a paired comparison: "4 of 5", "–" where nothing was paired."""
    return f"{int(row['wins'])} of {int(row['pairs'])}" if row["pairs"] else "–"


def seeds_won_text(wins, pairs) -> str:
    """"5 of 5 seeds" on which the first side is ahead (paired comparisons only; "" otherwise)."""
    return "" if not pairs or wins != wins else f"ahead on {int(wins)} of {int(pairs)} seeds"


def log_median(values) -> float:
    """The median of positive values on the log scale (of rates, say), NaN values left out; NaN when none is left."""
    values = pd.Series(values, dtype=float).dropna()
    return float(np.exp(np.median(np.log(values)))) if len(values) else math.nan


def percent_text(x) -> str:
    """A fraction as percent with one decimal ("69.8"), "n/a" for None or NaN."""
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def signed_text(x, decimals=1) -> str:
    """"+2.3", "−0.4" (a true minus sign), "n/a" for NaN."""
    return "n/a" if x != x else f"{x:+.{decimals}f}".replace("-", "−")  # −0.0: below zero, by less than 0.05


def bound_text(x, decimals=1) -> str:
    """An interval's bound: as signed_text, with as many more digits as it takes to show which side of zero it
    lies on when `decimals` would round it to zero (a verdict read from it must be visible in it)."""
    if x != x or x == 0 or abs(x) >= 0.5 * 10 ** -decimals:
        return signed_text(x, decimals)
    digits = min(5 + decimals, 1 - math.floor(math.log10(abs(x))))
    return f"{x:+.{digits}f}".replace("-", "−")


def interval_text(difference, low, high, decimals=1) -> str:
    """"+2.3 [+0.9, +3.8]", the difference alone without an interval, "n/a" without either; a bound near zero
    with the digits that show its side ("+9.3 [+0.02, +18.6]")."""
    if difference != difference:
        return "n/a"
    return signed_text(difference, decimals) if low != low else \
        f"{signed_text(difference, decimals)} [{bound_text(low, decimals)}, {bound_text(high, decimals)}]"


def count_text(n, noun) -> str:
    """"1 comparison", "3 comparisons"."""
    return f"{n} {noun}{'s' if n != 1 else ''}"


def verdict_header(table) -> str:
    """A table's verdict column header: how many comparisons its verdicts are corrected for (with_correction's
    family), or plain "verdict" where nothing was tested."""
    tested = int(table["family_size"].max()) if len(table) and table["family_size"].notna().any() else 0
    return f"verdict (corrected for {count_text(tested, 'comparison')})" if tested else "verdict"


def corrected_columns(table, confidence=0.95, unit="points", decimals=1) -> dict:
    """The columns a table of corrected comparisons (with_correction's) shows after naming them, verdict first so
    it stays in view on a phone: the verdict, the difference (in `unit`) with its simultaneous interval, seeds
    ahead, the Bonferroni-adjusted p."""
    return {verdict_header(table): table["verdict_adj"],
            f"difference, {unit} [{round(100 * confidence)}% simultaneous CI]": [
                interval_text(r["difference"], r["ci_low_adj"], r["ci_high_adj"], decimals)
                for _, r in table.iterrows()],
            "seeds ahead": [seeds_ahead_cell(r) for _, r in table.iterrows()],
            "p, Bonferroni-adjusted": table["p_adj"].map(p_text)}


def p_text(p) -> str:
    """A p-value as the report prints it: "< 0.001", "0.042", "–" where there was no test."""
    return "–" if p != p else "< 0.001" if p < 0.001 else f"{p:.3f}"


def rank_agreement(a, b) -> float:
    """Kendall's τ between two rankings of the same items (scipy): 1 the same order, 0 unrelated, −1 reversed."""
    return float(stats.kendalltau(a, b).statistic)
