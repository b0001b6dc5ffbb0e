"""The budget comparison (the budget notebook, `-p budgets=[15,45]`): each method's final validation value of the
task's metric (accuracy, or loss: lrlab.tasks.Metric) and rank at every budget, its gain (for a loss, its change)
from the shortest to the longest, and how the ranking moves; and what WSD's cooldown, branched from a trunk held at
the peak rate, adds over that trunk at the longest budget. Every table carries the runs' `task`."""

import math

import pandas as pd

from .health import failures_among, healthy_runs
from .optimizers import DISPLAY_NAMES
from .schedules import WSD_SCHEDULES, display_name as schedule_name
from .statistics import bound_text, interval_text, mean_ci, paired_difference, rank_agreement, with_correction
from .tasks import metric_of, task_of


TRUNK = "warmup_constant"


def _budget_method(row) -> tuple:
    """A budget run's method, the same at every budget: its optimizer, or its schedule for SGD (a schedule's label
    carries numbers that change with the epochs)."""
    return ("optimizer", row["optimizer"]) if row["optimizer"] != "sgd" else ("schedule", row["schedule"])


def _gain(healthy, base, epochs, first, metric, confidence) -> dict:
    """A method's value at `epochs` minus at the first budget, over healthy seeds paired by seed, in printed units
    (points, nats); nothing at the first budget itself."""
    if epochs == first:
        return {"gain": math.nan, "gain_low": math.nan, "gain_high": math.nan, "p": math.nan, "se": math.nan,
                "df": math.nan}
    d = paired_difference(healthy.set_index("seed")[metric.final].astype(float),
                          base.set_index("seed")[metric.final].astype(float), confidence, metric.higher_is_better)
    return {"gain": metric.points(d["difference"]), "gain_low": metric.points(d["ci_low"]),
            "gain_high": metric.points(d["ci_high"]), "p": d["p"], "se": metric.points(d["se"]), "df": d["df"]}


def budget_table(runs: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    """One row per method and budget: mean final validation value of the task's metric over the healthy seeds with
    its interval, the failed seeds, the method's rank at that budget (1 = best: the highest accuracy, or the lowest
    loss; a method with a failed seed ranks last), and its gain over its own result at the smallest budget (points,
    nats; paired by seed) with its simultaneous interval over every method's gain and the verdict read from it."""
    runs = runs[runs["schedule"] != TRUNK]  # WSD's trunk, at the longest budget only: cooldown_gains
    if runs.empty:
        return pd.DataFrame(columns=["method", "kind", "key", "epochs", "mean", "low", "high", "failed", "rank", "gain",
                                     "gain_low", "gain_high", "p", "gain_low_adj", "gain_high_adj", "p_adj",
                                     "verdict_adj", "family_size", "task"])
    metric = metric_of(runs)
    kind, key = zip(*(_budget_method(r) for _, r in runs.iterrows()))
    runs = runs.assign(kind=kind, key=key)
    first = runs["epochs"].min()
    rows = []
    for (kind, key, epochs), group in runs.groupby(["kind", "key", "epochs"], sort=False):
        healthy = healthy_runs(group)
        mean, _, low, high = mean_ci(healthy[metric.final], confidence)
        base = healthy_runs(runs[(runs["key"] == key) & (runs["kind"] == kind) & (runs["epochs"] == first)])
        rows.append({"method": DISPLAY_NAMES[key] if kind == "optimizer" else schedule_name(key).replace(
                         " (SGD)", ""), "kind": kind, "key": key, "epochs": int(epochs), "mean": mean, "low": low,
                     "high": high, "failed": failures_among(group["status"]),
                     **_gain(healthy, base, epochs, first, metric, confidence)})
    table = pd.DataFrame(rows)
    # the best rank 1: the highest mean, or the lowest (ranked as the highest negated); a failed one last
    score = (metric.sign * table["mean"]).where(table["failed"] == "", -math.inf)
    table["rank"] = score.groupby(table["epochs"]).rank(ascending=False, method="min").astype(int)
    # the family is the gains the report shows: from the shortest budget to the longest
    longest = table["epochs"] == table["epochs"].max()
    tested = with_correction(table[longest].rename(columns={"gain": "difference", "gain_low": "ci_low",
                                                            "gain_high": "ci_high"}), confidence,
                             higher_is_better=metric.higher_is_better)
    for column, source in (("gain_low_adj", "ci_low_adj"), ("gain_high_adj", "ci_high_adj"), ("p_adj", "p_adj"),
                           ("verdict_adj", "verdict_adj"), ("family_size", "family_size")):
        table[column] = tested[source].reindex(table.index)
    return table.assign(task=task_of(runs)).sort_values(["epochs", "rank"], ignore_index=True)


def format_budget(table: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    """One row per method: its value of the task's metric and rank at each budget, and its gain from the smallest
    to the largest."""
    level = f"{round(100 * confidence)}%"
    metric = metric_of(table)
    number = metric.number
    budgets = sorted(table["epochs"].unique())
    rows = []
    for (kind, key), group in table.groupby(["kind", "key"], sort=False):
        at = group.set_index("epochs")
        row = {"method": at["method"].iloc[0]}
        for b in budgets:
            r = at.loc[b] if b in at.index else None
            failed = f" ({r['failed']})" if r is not None and r["failed"] else ""
            row[f"{b} epochs: final val. {metric.header} [{level} CI]"] = "–" if r is None else (
                f"{number(r['mean'])} [{number(r['low'])}, {number(r['high'])}]{failed}")
            row[f"rank at {b}"] = "–" if r is None else "not ranked" if r["failed"] else str(r["rank"])
        last = at.loc[budgets[-1]] if budgets[-1] in at.index and len(budgets) > 1 else None
        row[f"{metric.gain_word} {budgets[0]} → {budgets[-1]} epochs, {metric.difference_unit} "
            f"[{level} simultaneous CI]"] = "–" if last is None \
            else interval_text(last["gain"], last["gain_low_adj"], last["gain_high_adj"], metric.decimals)
        row["verdict (corrected)"] = "–" if last is None else last["verdict_adj"]
        rows.append(row)
    order = table[table["epochs"] == budgets[-1]].set_index("method")["rank"]
    return pd.DataFrame(rows).sort_values("method", key=lambda m: m.map(order), ignore_index=True)


def budget_conclusions(table: pd.DataFrame, confidence=0.95) -> str:
    """How the ranking moves with the budget, from budget_table's numbers."""
    budgets = sorted(table["epochs"].unique()) if not table.empty else []
    if len(budgets) < 2:
        return ""
    metric = metric_of(table)
    lead = {b: table[(table["epochs"] == b)].sort_values("rank").iloc[0] for b in budgets}
    first, last = budgets[0], budgets[-1]
    ranks = table[table["epochs"].isin([first, last])].pivot_table(index="key", columns="epochs", values="rank")
    ranks = ranks.dropna()
    tau = rank_agreement(ranks[first], ranks[last]) if len(ranks) > 2 else None
    methods = table["key"].nunique()
    lines = [f"- **Training budget** (the {methods} methods it trains again): the best of them at {first} epochs is "
             f"{lead[first]['method']} "
             f"({metric.text(lead[first]['mean'])}), at {last} epochs {lead[last]['method']} "
             f"({metric.text(lead[last]['mean'])})"
             + (f"; the two rankings agree with Kendall's τ = {tau:.2f} over {len(ranks)} methods "
                f"(1: the same order, 0: unrelated)" if tau is not None else "") + "."]
    lines += _gains_lines(table, first, last, metric, confidence)
    moved = ranks.assign(move=ranks[first] - ranks[last]).sort_values("move")
    if len(moved) and moved["move"].abs().max() > 0:
        up, down = moved.iloc[-1], moved.iloc[0]
        name = table.drop_duplicates("key").set_index("key")["method"]
        lines.append(f"  - Moving most: {name[up.name]} from rank {int(up[first])} to {int(up[last])}"
                     + (f"; {name[down.name]} from {int(down[first])} to {int(down[last])}" if down["move"] < 0 else "")
                     + ".")
    return "\n".join(lines)


def _gains_lines(table, first, last, metric, confidence) -> list:
    """The line on the gains from the first budget to the last: how many are clear after the correction, the
    largest (with the interval its verdict is read from) and the smallest; for a loss, the improvements (the
    changes below zero) and the largest drop first."""
    gains = table[(table["epochs"] == last) & table["gain"].notna()].sort_values(
        "gain", ascending=not metric.higher_is_better)
    if gains.empty:
        return []
    level, digits = f"{round(100 * confidence)}%", metric.decimals
    clear = gains[gains["verdict_adj"] == "clearly better"]
    top = gains.iloc[0]
    interval = (f" ({level} simultaneous CI {bound_text(top['gain_low_adj'], digits)} to "
                f"{bound_text(top['gain_high_adj'], digits)})"
                if top["gain_low_adj"] == top["gain_low_adj"] else "")
    verb, noun = ("gain", "gain") if metric.higher_is_better else ("improve", "improvement")
    return [f"  - From {first} to {last} epochs, {len(clear)} of {len(gains)} methods {verb} clearly after "
            f"the correction for {len(gains)} comparisons; the largest {noun} is {top['method']}'s, "
            f"{metric.signed(top['gain'])} "
            f"{metric.difference_unit}{interval}, the {'smallest' if metric.higher_is_better else 'weakest'} "
            f"{gains.iloc[-1]['method']}'s, "
            f"{metric.signed(gains.iloc[-1]['gain'])}."]


def cooldown_gains(runs: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    """Each WSD cooldown against its trunk, both at the trunk's length (the longest budget): what the cooldown
    adds over holding the peak rate for as long (in stored units of the task's metric: a fraction of accuracy, nats
    of loss; better on the metric's side), paired by seed, corrected for the shapes compared."""
    trunk = healthy_runs(runs[runs["schedule"] == TRUNK])
    if trunk.empty:
        return pd.DataFrame()
    metric = metric_of(runs)
    epochs = trunk["epochs"].max()
    base = trunk.set_index("seed")[metric.final].astype(float)
    rows = []
    for name, group in runs[runs["schedule"].isin(WSD_SCHEDULES) & (runs["epochs"] == epochs)].groupby(
            "schedule", sort=False):
        gain = paired_difference(healthy_runs(group).set_index("seed")[metric.final].astype(float), base,
                                 confidence, metric.higher_is_better)
        rows.append(gain | {"cooldown": schedule_name(name), "epochs": int(epochs),
                            "cooldown_epochs": int(epochs - group["branch_epoch"].iloc[0])})
    if not rows:
        return pd.DataFrame()
    return with_correction(pd.DataFrame(rows), confidence, higher_is_better=metric.higher_is_better).assign(
        task=task_of(runs))


def cooldown_text(gains: pd.DataFrame, confidence=0.95) -> str:
    """The budget section's line on what the cooldown buys, from cooldown_gains's numbers."""
    if gains.empty:
        return ""
    metric = metric_of(gains)
    level, digits = f"{round(100 * confidence)}%", metric.decimals
    parts = [f"{r['cooldown']} {metric.signed(metric.points(r['difference']))} {metric.difference_unit} " + (
        f"({level} simultaneous CI {bound_text(metric.points(r['ci_low_adj']), digits)} to "
        f"{bound_text(metric.points(r['ci_high_adj']), digits)}: "
        f"{r['verdict_adj']})" if math.isfinite(r["ci_low_adj"]) else "(no interval: fewer than two seeds)")
        for _, r in gains.iterrows()]
    first = gains.iloc[0]
    return (f"- **Cooling down:** at {first['epochs']} epochs, a cooldown over the last {first['cooldown_epochs']} "
            f"epochs against the same trunk held at its peak rate, paired by seed: " + "; ".join(parts) + ". Every "
            "WSD budget here is a cooldown branched from that one trunk, not a run trained from scratch.")
