"""The report's core comparison, from the tables of runs (lrlab.run_tables): means across seeds with their intervals,
each configuration against constant-rate SGD with the simultaneous interval its verdict is read from, the ranking,
time to target, and the first screen's and the conclusions' sentences written from those numbers; the paired
differences themselves are lrlab.differences. The other sections have modules of their own: lrlab.sweep,
lrlab.budget_comparison, lrlab.custom_verdict, lrlab.tuning, lrlab.answer."""

import html
import json
import math

import pandas as pd

from .config import COMPARED_FAMILIES, FAMILY_TITLES, SCHEDULE_FAMILIES  # noqa: F401 (notebooks use them)
from .optimizers import DISPLAY_NAMES, is_sgd
from .schedules import display_name as schedule_name
from .differences import VERDICTS, baseline_differences, baseline_label, compare, difference_text
from .health import FAILED, HEALTHY, describe_failures, failure_counts, healthy_runs
from .statistics import count_text, mean_ci, with_correction
from .tasks import metric_of


def short_names(runs: pd.DataFrame) -> dict:
    """label -> a short name for legends and sentences ("step decay", "Adam"); the full label where two would
    read alike (a grid of rates, the same schedule twice) or the runs do not say what they are."""
    if not {"optimizer", "schedule"} <= set(runs.columns):
        return {label: label for label in runs["label"].unique()}
    configs = runs.drop_duplicates("label")
    names = {row["label"]: schedule_name(row["schedule"]) if row["optimizer"] == "sgd"
             else DISPLAY_NAMES.get(row["optimizer"], row["label"]) for _, row in configs.iterrows()}
    counts = pd.Series(list(names.values())).value_counts()
    return {label: label if counts[name] > 1 else name for label, name in names.items()}


def _first(group, column, default=None):
    return group[column].iloc[0] if column in group and len(group) else default


def summary_table(runs: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    """One row per configuration: final and best validation value of the task's metric (accuracy, or loss) over
    its healthy seeds (failed ones are counted, never averaged in), epoch of the best, time per epoch.
    Configurations whose seeds all learned come first, best final value first; those with a failed seed follow."""
    metric = metric_of(runs)
    rows = []
    for (family, label), group in runs.groupby(["family", "label"], sort=False):
        healthy = healthy_runs(group)
        final = mean_ci(healthy[metric.final], confidence)
        best = mean_ci(healthy[metric.best], confidence)
        # none under the 2017 protocol (run_tables.load_runs)
        test = mean_ci(healthy[metric.test] if metric.test in healthy else [], confidence)
        failed = failure_counts(group["status"])
        rows.append({
            "family": family, "task": _first(group, "task", ""), "configuration": label, "seeds": len(group),
            "healthy": len(healthy),
            **failed, "failed": sum(failed.values()),
            "optimizer": _first(group, "optimizer", ""), "schedule": _first(group, "schedule", ""),
            "final_mean": final[0], "final_std": final[1], "final_ci_low": final[2], "final_ci_high": final[3],
            "best_mean": best[0], "best_std": best[1], "best_ci_low": best[2], "best_ci_high": best[3],
            "test_mean": test[0], "test_ci_low": test[2], "test_ci_high": test[3],
            "protocol": group["protocol"].iloc[0], "epochs": _first(group, "epochs", math.nan),
            "best_epoch_mean": float(healthy["best_epoch"].mean()) if len(healthy) else math.nan,
            "seconds_per_epoch": float(group["seconds_per_epoch"].mean()) if "seconds_per_epoch" in group else math.nan,
            "first_epoch_overhead_s": float(group["first_epoch_overhead_s"].mean())
            if "first_epoch_overhead_s" in group else math.nan,
            "trained_together": int(_first(group, "trained_together", 1)),
            "rate_changed": bool(group["rate_changed"].any()) if "rate_changed" in group else True,
        })
    table = pd.DataFrame(rows)
    if not rows:
        return table
    return table.sort_values(["failed", "final_mean"], ascending=[True, not metric.higher_is_better],
                             key=lambda c: c > 0 if c.name == "failed" else c, ignore_index=True, kind="stable")


def _mean_text(mean, std, low, high, metric):
    """"69.8 ± 1.0 [68.8, 70.7]", shortened where one seed leaves no spread."""
    if math.isnan(std):
        return metric.number(mean)
    return f"{metric.number(mean)} ± {metric.number(std)} [{metric.number(low)}, {metric.number(high)}]"


def failures_text(row) -> str:
    """What failed in a configuration's row of `summary_table`, "" when nothing did."""
    return describe_failures({status: int(row[status]) for status in FAILED}, int(row["seeds"]))


def _cell(row, key):
    if row["healthy"] == 0:
        return "every seed failed"
    return _mean_text(row[f"{key}_mean"], row[f"{key}_std"], row[f"{key}_ci_low"], row[f"{key}_ci_high"],
                      metric_of(row))


def format_summary(table: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    """The summary table as a reader sees it: accuracies in percent with one decimal (losses with three), mean ±
    std [CI] over the healthy seeds, the failed seeds named beside them."""
    level = f"{round(100 * confidence)}% CI"
    if table.empty:
        return pd.DataFrame({"configuration": [], "note": []})
    metric = metric_of(table)
    together = table["trained_together"].max() > 1
    formatted = pd.DataFrame({
        "configuration": table["configuration"],
        "family": [FAMILY_TITLES[f] for f in table["family"]],
        "seeds": table["seeds"],
        "failed seeds": [failures_text(r) or "none" for _, r in table.iterrows()],
        f"final val. {metric.header} (mean ± std [{level}], healthy seeds)": [_cell(r, "final")
                                                                              for _, r in table.iterrows()],
        f"best val. {metric.header} (mean ± std [{level}])": [_cell(r, "best") for _, r in table.iterrows()],
        "epoch of best (mean)": [f"{x:.1f}" if x == x else "n/a" for x in table["best_epoch_mean"]],
        ("seconds per epoch in this build (each run's share: seeds trained together; machine load included)"
         if together else "seconds per epoch in this build (machine load included)"):
            [f"{x:.2f}" if x == x else "n/a" for x in table["seconds_per_epoch"]],
        "first epoch's extra seconds (compiling)": [f"{x:.1f}" if x == x else "n/a"
                                                     for x in table["first_epoch_overhead_s"]],
    })
    # the test set is shown only where it was held out: under the 2017 protocol it is the validation set
    if (table["protocol"] == "holdout").any():
        formatted[f"test {metric.header} (mean [{level}], measured once after training)"] = [
            ("n/a" if r["healthy"] == 0 else metric.number(r["test_mean"]) if r["healthy"] < 2 else
             f"{metric.number(r['test_mean'])} [{metric.number(r['test_ci_low'])}, "
             f"{metric.number(r['test_ci_high'])}]")
            if r["protocol"] == "holdout" else "= validation" for _, r in table.iterrows()]
    notes = [plateau_note(r) for _, r in table.iterrows()]
    if any(notes):
        formatted["note"] = notes
    return formatted


def plateau_note(row) -> str:
    if row["schedule"] == "reduce_on_plateau" and not row["rate_changed"]:
        return f"the rate was never reduced in {int(row['epochs'])} epochs: this run is constant-rate SGD"
    return ""


def _name(row) -> str:
    return html.escape(row["configuration"])


def final_text(row, level) -> str:
    """A summary row's final validation value: "69.8% (95% CI 68.8 to 70.7, 5 seeds)" (a loss: "1.734 (95% CI
    1.712 to 1.756, 3 seeds)"), over the healthy seeds."""
    if row["healthy"] == 0:
        return "no healthy seed"
    metric = metric_of(row)
    seeds = f"{row['healthy']} seed{'s' if row['healthy'] > 1 else ''}"
    if row["final_ci_low"] != row["final_ci_low"]:
        return f"{metric.text(row['final_mean'])} ({seeds})"
    return (f"{metric.text(row['final_mean'])} ({level} CI {metric.number(row['final_ci_low'])} to "
            f"{metric.number(row['final_ci_high'])}, {seeds})")


def _eligible(table, families, adaptive_only=False):
    """The configurations of `families` that can be a family's best: a reduce-on-plateau run whose rate never
    moved is constant-rate SGD, not a schedule, and is passed over."""
    chosen = table[table["family"].isin(families)]
    if "schedule" in chosen:
        chosen = chosen[pd.Series([not plateau_note(row) for _, row in chosen.iterrows()], index=chosen.index,
                                  dtype=bool)]
    if adaptive_only:  # SGD+momentum and SGD+Nesterov run beside the adaptive methods as references
        chosen = chosen[~chosen["optimizer"].map(is_sgd).astype(bool)]
    return chosen


def _family_best(table, families, adaptive_only=False):
    """The family's best configuration by mean final value (among `_eligible`), preferring those whose every
    seed learned."""
    chosen = _eligible(table, families, adaptive_only)
    healthy = chosen[chosen["failed"] == 0]
    return (healthy if not healthy.empty else chosen).iloc[0] if not chosen.empty else None


def _others(diffs, table, family, best, name_of) -> str:
    """The family's other configurations whose difference to the baseline is clear after the correction, so
    that the best-by-mean line does not hide them: "; also clearly better: Adadelta (+1.8)"."""
    parts = {}
    others = table[(table["family"] == family) & (table["configuration"] != best["configuration"])]
    for _, d in diffs[diffs["configuration"].isin(others["configuration"])].iterrows():
        if d["verdict_adj"] in VERDICTS[:2]:
            parts.setdefault(d["verdict_adj"], []).append(f"{html.escape(name_of[d['configuration']])} "
                                                           f"({metric_of(table).signed(d['difference'])})")
    return "".join(f"; also {verdict}: {', '.join(names)}" for verdict, names in parts.items())


def failure_lines(table: pd.DataFrame, level) -> list:
    """One Markdown sub-bullet per configuration with a failed seed, saying what the healthy seeds gave."""
    lines = []
    for _, r in table[table["failed"] > 0].iterrows():
        rest = (f"; on the healthy seed{'s' if r['healthy'] > 1 else ''}: {final_text(r, level)}"
                if r["healthy"] else "")
        lines.append(f"  - {_name(r)}: {failures_text(r)}{rest}")
    return lines


def budget_note(table: pd.DataFrame, longest_trained=None):
    """When most healthy configurations reach their best value in the last fifth of their epochs, the runs were
    still improving: say so, with the count (None otherwise), and where the budget comparison trained longer
    (`longest_trained` epochs), point to it rather than guess."""
    if table.empty:
        return None
    healthy = table[(table["failed"] == 0) & table["best_epoch_mean"].notna()]
    if healthy.empty or "epochs" not in healthy:
        return None
    late = healthy[healthy["best_epoch_mean"] > 0.8 * healthy["epochs"]]
    if len(late) * 2 <= len(healthy):
        return None
    epochs = int(healthy["epochs"].max())
    late_text = (f"{len(late)} of {len(healthy)} configurations reach their best validation {metric_of(table).name} "
                 f"in the last "
                 f"fifth of their {epochs} epochs: most were still improving")
    if longest_trained is not None and longest_trained == longest_trained and int(longest_trained) > epochs:
        return f"{late_text}; the budget comparison trained up to {int(longest_trained)} epochs (above)."
    return f"{late_text}, so a longer budget may change the ranking."


def close_to_best(ranked: pd.DataFrame, column: str, metric) -> pd.DataFrame:
    """The rows after the first of `ranked` (best first) whose mean `column` lies within the metric's tie margin
    of the first's: named beside the best, so no one reads a tie as a win."""
    rest = ranked.iloc[1:]
    behind = metric.ahead(ranked[column].iloc[0], rest[column])
    return rest[behind < metric.tie]


def momentum_note(runs: pd.DataFrame, baseline: str, name_of: dict) -> str:
    """"" unless an SGD schedule in the comparison runs at another momentum than constant-rate SGD (the 2017
    schedules keep their 2017 momentum): then which, since each of their differences mixes the schedule with the
    momentum."""
    if "optimizer_params" not in runs:
        return ""
    configs = runs.drop_duplicates("label").set_index("label")
    momentum = configs["optimizer_params"].map(lambda text: json.loads(text).get("momentum"))
    base = momentum.get(baseline)
    other = [label for label in configs.index if configs.loc[label, "family"] in SCHEDULE_FAMILIES
             and configs.loc[label, "optimizer"] == "sgd" and momentum[label] != base]
    if base is None or not other:
        return ""
    listed = _listed([f"{html.escape(name_of[label])} ({momentum[label]:g})" for label in other])
    return (f"*Momentum differs:* {listed} against constant-rate SGD's {base:g}, so "
            f"{'its difference mixes' if len(other) == 1 else 'their differences mix'} the schedule with momentum.")


def speed_line(histories: pd.DataFrame, runs: pd.DataFrame, target_fraction=0.95) -> str:
    """The first screen's line on how soon each configuration gets there (time_to_target, in epochs): the
    fastest of the configurations whose every seed learned, against constant-rate SGD; "" without a target."""
    timing, target = time_to_target(histories, target_fraction)
    if timing.empty or target != target:
        return ""
    healthy = set(summary_table(runs).query("failed == 0")["configuration"])
    reached = timing[timing["configuration"].isin(healthy) & (timing["epochs"] != "not reached")]
    if reached.empty:
        return ""
    first = reached[reached["epochs"] == reached["epochs"].iloc[0]]
    name_of = short_names(runs)
    baseline = baseline_label(runs)
    base = timing.loc[timing["configuration"] == baseline, "epochs"]
    against = "" if baseline is None or base.empty or baseline in set(first["configuration"]) else (
        f"; constant-rate SGD: {base.iloc[0]} epoch{'s' if base.iloc[0] != 1 else ''}"
        if base.iloc[0] != "not reached" else
        "; constant-rate SGD never got there")
    names = _listed([html.escape(name_of[c]) for c in first["configuration"]])
    metric = metric_of(runs)
    return (f"- **Fastest to {metric.text(target)}** ({metric.target_text(target_fraction)} of a "
            f"configuration whose every seed learned, on the mean curve of the healthy seeds): {names}, "
            f"{first['epochs'].iloc[0]} epoch{'s' if first['epochs'].iloc[0] != 1 else ''}{against}.")


def in_short(table: pd.DataFrame, runs: pd.DataFrame, confidence=0.95, sweep: pd.DataFrame = None) -> str:
    """The report's answer in a few bullets, every number from the tables: the best configuration, each family's
    best against constant-rate SGD, the best adaptive method against the best schedule, what failed, and whether
    the budget was long enough."""
    if table.empty:
        return "No completed runs to compare."
    level = f"{round(100 * confidence)}%"
    name_of = short_names(runs)
    metric = metric_of(runs)
    ok = table[table["failed"] == 0]
    lines = []
    if not ok.empty:
        best = ok.iloc[0]
        # the best mean is not a winner when others sit a hair behind it: name them, so no one reads a tie as one
        close = close_to_best(ok, "final_mean", metric)
        names = _listed([html.escape(name_of[c]) for c in close["configuration"]])
        tie = (f" — {names} within {metric.tie_text} of it, so the order among them is not resolved"
               if len(close) else "")
        lines.append(f"- **Best configuration:** {_name(best)}: {final_text(best, level)} final validation "
                     f"{metric.name} ({metric.chance_text(_n_classes(runs))}){tie}.")
    baseline = baseline_label(runs)
    if baseline is not None:
        base = table[table["configuration"] == baseline].iloc[0]
        lines.append(f"- **Against constant-rate SGD** at {final_text(base, level)}, the best of each family, "
                     f"in {metric.difference_unit} of final validation {metric.name} (each verdict read from its "
                     f"simultaneous interval, "
                     f"corrected for every comparison with it):")
        diffs = baseline_differences(runs, baseline, confidence).set_index("configuration", drop=False)
        for family in [f for f in COMPARED_FAMILIES if f != "constant"]:
            row = _family_best(table, [family], adaptive_only=family == "adaptive")
            if row is None:
                continue
            d = diffs.loc[row["configuration"]].to_dict()
            several = (table["family"] == family).sum() > 1
            who = f"{FAMILY_TITLES[family]} (best: {html.escape(name_of[row['configuration']])})" if several \
                else FAMILY_TITLES[family]
            failed = f"; {failures_text(row)}" if row["failed"] else ""
            lines.append(f"  - {who}: {difference_text(d, level, metric)}{failed}"
                         f"{_others(diffs, table, family, row, name_of)}")
        note = momentum_note(runs, baseline, name_of)
        if note:
            lines.append(f"  - {note}")
    versus = _adaptive_against_schedule(table, runs, confidence, level)
    if versus:
        lines.append(versus)
    failed = table["failed"].sum()
    lines.append(f"- **Failed runs:** {int(failed)} of {int(table['seeds'].sum())}"
                 + (":" if failed else " (every run learned; none diverged)."))
    lines += failure_lines(table, level)
    if sweep is not None and not sweep.empty:
        own = sweep[~sweep["run_id"].isin(runs["run_id"])]  # the default rates' runs are counted above
        failed_sweep = int((own["status"] != HEALTHY).sum())
        lines.append(f"- **Learning-rate sweep:** {failed_sweep} of its {len(own)} runs away from the default rates "
                     f"failed" + (" (named in its section)." if failed_sweep else "."))
    return "\n".join(lines)


def _adaptive_against_schedule(table, runs, confidence, level):
    """The bullet comparing the best adaptive method with the best SGD schedule (None without both)."""
    s, a = _family_best(table, SCHEDULE_FAMILIES), _family_best(table, ["adaptive"], adaptive_only=True)
    if s is None or a is None:
        return None
    # both sides are the best of their group on these very runs: the pair was chosen after looking, so the
    # verdict is corrected as one of every adaptive-method × schedule pair that could have been chosen
    schedules_, adaptive = _eligible(table, SCHEDULE_FAMILIES), _eligible(table, ["adaptive"], adaptive_only=True)
    pairs = len(schedules_) * len(adaptive)
    d = compare(runs, a["configuration"], s["configuration"], confidence)
    metric = metric_of(runs)
    if d["p"] == d["p"]:
        d = with_correction(pd.DataFrame([d]), confidence, m=pairs, higher_is_better=metric.higher_is_better
                            ).iloc[0].to_dict()
    name_of = short_names(runs)
    return (f"- **Best adaptive method against the best schedule** (a pair picked after looking, so corrected as "
            f"one of the {len(adaptive)} × {len(schedules_)} pairs it was picked from): "
            f"{html.escape(name_of[a['configuration']])} ({metric.text(a['final_mean'])}) minus "
            f"{html.escape(name_of[s['configuration']])} ({metric.text(s['final_mean'])}): "
            f"{difference_text(d, level, metric)}")


def _validation_se(runs) -> float:
    """The standard error of one validation accuracy near the runs' accuracy: sqrt(p (1 - p) / n); 0 for a loss
    (one run's stored numbers do not say how its examples' losses spread)."""
    if runs is None or runs.empty or "n_validation" not in runs or not metric_of(runs).higher_is_better:
        return 0.0
    p = float(runs["final_val_accuracy"].mean())
    return math.sqrt(p * (1 - p) / float(runs["n_validation"].iloc[0])) if p == p else 0.0


def _n_classes(runs):
    return int(runs["n_classes"].iloc[0]) if "n_classes" in runs and len(runs) else 2


def conclusions(table: pd.DataFrame, runs: pd.DataFrame = None, confidence=0.95) -> str:
    """The report's findings as Markdown, every number taken from `table` (and, for differences, from the
    seeds in `runs`). A difference is called one only when its interval excludes zero; configurations with a
    failed seed are named with their failures and not ranked."""
    if table.empty:
        return "No completed runs to compare."
    level = f"{round(100 * confidence)}%"
    metric = metric_of(table)
    lines = []
    if table["failed"].any():
        lines.append("- **Failed runs** (left out of every mean, interval and ranking; named here):")
        lines += failure_lines(table, level)
    ok = table[table["failed"] == 0]
    if ok.empty:
        return "\n".join(lines)
    best, worst = ok.iloc[0], ok.iloc[-1]
    worst_word = "lowest" if metric.higher_is_better else "highest"
    lines += [f"- **{metric.best_word.capitalize()} final validation {metric.name}:** {_name(best)} with "
              f"{final_text(best, level)}.",
              f"- **{worst_word.capitalize()} among the configurations whose every seed learned:** {_name(worst)} "
              f"with {final_text(worst, level)}; the spread between the best and the worst of them is "
              f"{metric.spread(best['final_mean'] - worst['final_mean'])}."]
    if runs is not None and not runs.empty:
        lines += _baseline_lines(runs, confidence, level)
        versus = _adaptive_against_schedule(table, runs, confidence, level)
        if versus:
            lines.append(versus + ".")
    fastest = ok.sort_values("best_epoch_mean", kind="stable").iloc[0]
    lines.append(f"- **Earliest peak among the healthy configurations:** {_name(fastest)} reaches its best "
                 f"validation {metric.name} at epoch {fastest['best_epoch_mean']:.0f} on average.")
    lines += _overfit_lines(ok, runs, metric)
    for _, r in table.iterrows():
        if "schedule" in table and plateau_note(r):
            lines.append(f"- **{_name(r)}:** {plateau_note(r)}.")
    note = budget_note(table)
    if note:
        lines.append(f"- **Budget:** {note}")
    return "\n".join(lines)


def _overfit_lines(ok, runs, metric) -> list:
    """The healthy configurations that end clearly behind their own best epoch. A seed's best epoch is the best of
    many noisy measurements: a gap counts only beyond twice the standard error of one validation accuracy (about
    1 point on 2,000 images), and at least 1 point (of a loss: at least 0.01 nats)."""
    noise = max(0.01, 2 * _validation_se(runs)) if runs is not None else 0.01
    behind = metric.ahead(ok["best_mean"], ok["final_mean"])
    overfit = ok[behind > noise]
    if overfit.empty:
        return []
    where = "below its own peak" if metric.higher_is_better else "above its own lowest"
    return ([f"- **Ends more than {metric.spread(noise)} {where}** (twice the noise of one validation measurement"
             f"{'' if metric.higher_is_better else ', at least'}; overfitting or instability late in training):"]
            + [f"  - {_name(r)}: {metric.spread(b)}" for b, (_, r) in zip(behind[overfit.index], overfit.iterrows())])


def _baseline_lines(runs, confidence, level):
    """Every configuration against constant-rate SGD, grouped by its verdict read from its simultaneous interval
    (Bonferroni over the comparisons); those clear on their own interval but not after the correction are named
    apart, and identical runs are named as such, outside the family."""
    baseline = baseline_label(runs)
    if baseline is None:
        return []
    diffs = baseline_differences(runs, baseline, confidence)
    compared = diffs[diffs["verdict_adj"].isin(VERDICTS)]
    metric = metric_of(runs)
    lines = []
    for verdict in VERDICTS:
        chosen = compared[compared["verdict_adj"] == verdict]
        if chosen.empty:
            continue
        lines.append(f"- **{verdict.capitalize()} than constant-rate SGD** ({html.escape(baseline)}) after the "
                     f"correction for {count_text(len(compared), 'comparison')}, {len(chosen)} of {len(compared)}:"
                     if verdict != VERDICTS[2] else
                     f"- **No clear difference from constant-rate SGD** after the correction, "
                     f"{len(chosen)} of {len(compared)}:")
        lines += [f"  - {html.escape(r['configuration'])}: {difference_text(r.to_dict(), level, metric)}"
                  + (f"; {r['failed']}, over the healthy seeds" if r["failed"] else "")
                  for _, r in chosen.iterrows()]
    same = diffs[diffs["identical"]]
    if not same.empty:
        lines.append("- *Identical to constant-rate SGD, run for run, so left out of the comparisons:* "
                     + ", ".join(html.escape(c) for c in same["configuration"]))
    lost = compared[compared["verdict"].isin(VERDICTS[:2]) & (compared["verdict_adj"] == VERDICTS[2])]
    if not lost.empty:
        lines.append(f"- *Clear on its own {level} interval but not after the correction, so not called a "
                     f"difference here:* " + ", ".join(f"{html.escape(r['configuration'])} "
                                                       f"({metric.signed(r['difference'])})"
                                                       for _, r in lost.iterrows()))
    return lines


def rank_table(runs: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    """Configurations ranked by mean final validation value, with each one's mean rank within a seed (1 =
    best of that seed): a ranking that holds seed by seed is firmer than one made by the means alone. A
    configuration with a failed seed is not ranked on its healthy ones: it comes last, unranked, with its
    failures, and a failed seed ranks last within its seed."""
    table = summary_table(runs, confidence)
    if table.empty:
        return table
    metric = metric_of(runs)
    per_seed = runs.assign(score=runs[metric.final].where(runs["status"] == HEALTHY)).pivot_table(
        index="seed", columns="label", values="score", aggfunc="first", dropna=False)
    mean_rank = per_seed.rank(axis=1, ascending=not metric.higher_is_better, na_option="bottom").mean()
    ranked = int((table["failed"] == 0).sum())
    level = f"{round(100 * confidence)}% CI"
    return pd.DataFrame({
        "rank": [str(i + 1) if i < ranked else "–" for i in range(len(table))],
        "configuration": table["configuration"],
        "family": [FAMILY_TITLES[f] for f in table["family"]],
        f"final val. {metric.header} (mean ± std [{level}])": [
            (_cell(r, "final") if not r["failed"] else
             f"{failures_text(r)}" + (f"; healthy: {_cell(r, 'final')}" if r["healthy"] else ""))
            for _, r in table.iterrows()],
        "mean rank within a seed": [f"{x:.1f}" if not failed else "–"
                                    for x, failed in zip(table["configuration"].map(mean_rank), table["failed"])],
    })


def time_to_target(histories: pd.DataFrame, target_fraction=0.95, metric=None):
    """Epochs until each configuration's mean validation curve of the task's metric (over its healthy seeds)
    first reaches the target (Metric.target): `target_fraction` of the best mean accuracy, or a loss that much
    above the lowest mean loss, reached by a configuration whose every seed learned (one lucky surviving seed
    does not set the bar). Not seconds: runs of one build share the machine, so their wall clock measures its load
    more than the method. Returns (table, target)."""
    metric = metric or metric_of(histories)
    column = metric.history
    all_seeds = histories.groupby("label")["seed"].nunique() if "seed" in histories else None
    histories = healthy_runs(histories)
    healthy_seeds = histories.groupby("label")["seed"].nunique() if "seed" in histories else None
    mean = histories.groupby(["label", "epoch"], sort=False)[[column]].mean().reset_index()
    if mean.empty or not mean[column].notna().any():
        return pd.DataFrame(columns=["configuration", "epochs"]), math.nan
    complete = [label for label in mean["label"].unique() if healthy_seeds is None
                or healthy_seeds[label] == all_seeds[label]]
    bar = mean[mean["label"].isin(complete)] if complete else mean
    target = metric.target(metric.best_value(bar[column]), target_fraction)
    rows = []
    for label, curve in mean.groupby("label", sort=False):
        reached = curve[metric.reached(curve[column], target)]
        if reached.empty:
            rows.append({"configuration": label, "epochs": "not reached", "_order": math.inf})
        else:
            rows.append({"configuration": label, "epochs": int(reached.iloc[0]["epoch"]),
                         "_order": reached.iloc[0]["epoch"]})
    table = pd.DataFrame(rows).sort_values("_order", kind="stable", ignore_index=True).drop(columns="_order")
    if all_seeds is not None and (healthy_seeds != all_seeds[healthy_seeds.index]).any():
        table["healthy seeds"] = [f"{healthy_seeds[label]} of {all_seeds[label]}" for label in table["configuration"]]
    return table, target


def _listed(names) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1] if names else "none"
