"""Your schedule or optimizer (the custom family) against fixed baselines — constant-rate SGD, cosine decay and
Adam on the same seeds — in one sentence and one table."""

import html
from dataclasses import dataclass

import pandas as pd

from .differences import COMPARED_COLUMNS, VERDICTS, _corrected_verdicts, compare
from .results import _listed, _mean_text, failures_text, final_text, summary_table, time_to_target
from .statistics import interval_text, p_text, seeds_ahead_cell
from .tasks import metric_of, task_of


# (name in sentences, which runs): the fixed baselines of lrlab.families.baseline_configs
CUSTOM_BASELINES = [
    ("constant-rate SGD", lambda runs: (runs["optimizer"] == "sgd") & (runs["schedule"] == "constant")),
    ("cosine decay", lambda runs: (runs["optimizer"] == "sgd") & (runs["schedule"] == "cosine_decay")),
    ("Adam", lambda runs: runs["optimizer"] == "adam"),
]


@dataclass
class Verdict:
    """The answer for a custom schedule or optimizer: one sentence, and the table it is read from."""
    sentence: str  # markdown
    table: pd.DataFrame  # one row per baseline, as the report shows it
    differences: pd.DataFrame  # the numbers: yours minus each baseline (points, nats), with the corrected verdict

    def _repr_markdown_(self):
        return self.sentence


def _custom_label(runs):
    yours = runs[(runs["schedule"] == "custom") | (runs["optimizer"] == "custom")]
    return yours["label"].iloc[0] if not yours.empty else None


def custom_differences(runs: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    """Your configuration minus each baseline in the task's final validation metric (points of accuracy, nats of
    loss; paired by seed), corrected for the baselines compared (simultaneous intervals)."""
    yours = _custom_label(runs)
    rows = []
    for name, chosen in CUSTOM_BASELINES:
        baseline = runs[chosen(runs) & (runs["label"] != yours)]
        if yours is None or baseline.empty:
            continue
        rows.append({"baseline": name, "label": baseline["label"].iloc[0],
                     **compare(runs, yours, baseline["label"].iloc[0], confidence)})
    return _corrected_verdicts(pd.DataFrame(rows, columns=["baseline", "label", *COMPARED_COLUMNS]), confidence,
                               metric_of(runs)).assign(task=task_of(runs))


def custom_verdict(runs: pd.DataFrame, histories: pd.DataFrame, confidence=0.95, target_fraction=0.95) -> Verdict:
    """Is your schedule or optimizer better than constant-rate SGD, cosine decay and Adam, on the same seeds?
    The differences (custom_differences), each configuration's time to the target (time_to_target, over
    these four), and the one sentence that answers."""
    yours = _custom_label(runs)
    if yours is None:
        return Verdict("No run of your schedule or optimizer is stored for these settings yet.", pd.DataFrame(),
                       custom_differences(runs, confidence))
    level = f"{round(100 * confidence)}%"
    metric = metric_of(runs)
    diffs = custom_differences(runs, confidence)
    table = summary_table(runs, confidence).set_index("configuration")
    timing, target = time_to_target(histories[histories["label"].isin([yours, *diffs["label"]])], target_fraction)
    epochs_to = timing.set_index("configuration")["epochs"] if not timing.empty else pd.Series(dtype=object)
    shown = pd.DataFrame({
        "baseline": diffs["label"],
        f"its final {metric.axis}": [_mean_text(*table.loc[label, ["final_mean", "final_std", "final_ci_low",
                                                                     "final_ci_high"]], metric)
                                     for label in diffs["label"]],
        "verdict (corrected)": diffs["verdict_adj"],
        f"yours minus it, {metric.difference_unit} [{level} simultaneous CI]": [
            interval_text(r["difference"], r["ci_low_adj"], r["ci_high_adj"], metric.decimals)
            for _, r in diffs.iterrows()],
        "seeds ahead": [seeds_ahead_cell(r) for _, r in diffs.iterrows()],
        "p, Bonferroni-adjusted": diffs["p_adj"].map(p_text),
        "epochs to the target: it / yours": [f"{epochs_to.get(label, 'not reached')} / "
                                             f"{epochs_to.get(yours, 'not reached')}" for label in diffs["label"]],
    })
    return Verdict(_custom_sentence(table.loc[yours], diffs, level, target, epochs_to.get(yours)), shown, diffs)


def _custom_sentence(row, diffs, level, target, epochs) -> str:
    what = "your optimizer" if row["optimizer"] == "custom" else "your schedule"
    metric = metric_of(row)
    head = f"**{what.capitalize()}** ({html.escape(row.name)}) reached {final_text(row, level)} final " \
           f"validation {metric.name}"
    if row["healthy"] == 0:
        return f"{head}: every seed failed ({failures_text(row)}), so it is worse than every baseline that learned."
    tested = diffs[diffs["p"].notna()]
    by = {v: list(tested.loc[tested["verdict_adj"] == v, "baseline"]) for v in VERDICTS}
    untested = list(diffs.loc[diffs["p"].isna(), "baseline"])
    if tested.empty:
        answer = ("no baseline is stored to compare it with" if diffs.empty else
                  "with fewer than two healthy seeds on a side there is no interval, so no verdict: run more seeds "
                  "(-p seeds=[0,1,2])")
    elif not by["clearly better"]:
        parts = [f"clearly worse than {_listed(by['clearly worse'])}"] if by["clearly worse"] else []
        parts += [f"no clear difference from {_listed(by['no clear difference'])}"] if by["no clear difference"] \
            else []
        answer = "**no, it is not clearly better than any baseline**: " + "; ".join(parts)
    elif len(by["clearly better"]) == len(diffs):
        answer = f"**yes, it is clearly better than every baseline**: {_listed(by['clearly better'])}"
    else:
        rest = tested[tested["verdict_adj"] != "clearly better"]
        answer = f"**it is clearly better than {_listed(by['clearly better'])}**, but not than " + _listed(
            [f"{r['baseline']} ({r['verdict_adj']})" for _, r in rest.iterrows()]).replace(" and ", " or ")
    if untested and not tested.empty:
        answer += f" ({_listed(untested)}: no interval, fewer than two healthy seeds on a side)"
    failed = f"; {failures_text(row)}" if row["failed"] else ""
    pace = "" if epochs is None or target != target else \
        f" It first reached the target, {metric.text(target)} mean validation {metric.name}, at epoch {epochs}." \
        if epochs != "not reached" else \
        f" It never reached the target, {metric.text(target)} mean validation {metric.name}."
    size = int(diffs["family_size"].max()) if len(diffs) else 0
    return (f"{head}{failed}. Against the baselines on the same seeds, each verdict read from its simultaneous "
            f"interval over the {size} comparison{'s' if size != 1 else ''}: {answer}.{pace}")
