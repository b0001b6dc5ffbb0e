"""Reading stored runs back as tables, and the statistics the report shows: means across seeds with a t-based
confidence interval, and conclusions written from those numbers."""

import html
import json
import math

import numpy as np
import pandas as pd
from scipy import stats

from .config import COMPARED_FAMILIES, FAMILY_TITLES, SCHEDULE_FAMILIES  # noqa: F401 (notebooks use them)
from .data import CLASS_NAMES
from .optimizers import DISPLAY_NAMES
from .store import HISTORY_COLUMNS, nan_epochs, range_test_suggestion, read_manifest, read_summary, runs_dir


def load_runs(settings, families, failed_notebooks=()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The runs named by each family's manifest: (histories, one row per run). Missing or incomplete runs, and
    families whose notebook failed in this build, are left out here and reported by `missing_families`."""
    histories, rows = [], []
    for family in families:
        if family in failed_notebooks:
            continue
        for rid, summary, config, history in _finished_runs(settings, family):
            # judged from the history, so runs stored before divergence was detected are caught too
            diverged_at = nan_epochs(history)
            if diverged_at.any():
                summary = summary | {"status": "diverged", "final": {"val_accuracy": None, "val_loss": None},
                                     "best_val_accuracy": None, "best_epoch": None}
                after = diverged_at.cummax()
                history.loc[after, ["loss", "accuracy", "val_loss", "val_accuracy"]] = np.nan
            meta = {"run_id": rid, "family": family, "label": config["label"], "seed": config["seed"],
                    "optimizer": config["optimizer"]["name"]}
            # wall-clock seconds since the run started, at the end of each epoch
            histories.append(history.assign(elapsed_s=history["epoch_time_s"].cumsum(), **meta))
            test = summary.get("test") or {}
            rows.append(meta | {"status": summary["status"], "model": config["model"], "epochs": config["epochs"],
                                # runs stored before the precision parameter existed computed in float32
                                "precision": config.get("precision", "float32"),
                                "batch_size": config["batch_size"], "protocol": config["data"]["protocol"],
                                "class_names": [CLASS_NAMES[c] for c in config["data"]["classes"]],
                                "n_train": config["data"]["n_train"], "n_validation": config["data"]["n_validation"],
                                "fingerprint": config["data"]["fingerprint"],
                                "final_val_accuracy": _number(summary["final"]["val_accuracy"]),
                                "final_val_loss": _number(summary["final"]["val_loss"]),
                                "best_val_accuracy": _number(summary["best_val_accuracy"]),
                                "best_epoch": _number(summary["best_epoch"]), "train_seconds": summary["train_seconds"],
                                "test_accuracy": _number(test.get("accuracy")), "lr0": config["schedule"]["lr0"],
                                "schedule": config["schedule"]["name"],
                                "optimizer_settings": ", ".join(f"{k}={v:g}" for k, v in config["optimizer"].items()
                                                                if k != "name")})
    if not rows:
        return (pd.DataFrame(columns=["run_id", "family", "label", "seed", "optimizer", "elapsed_s", *HISTORY_COLUMNS]),
                pd.DataFrame(columns=["run_id", "family", "label", "seed", "optimizer", "protocol", "status",
                                      "final_val_accuracy", "test_accuracy", "lr0", "schedule"]))
    return pd.concat(histories, ignore_index=True), pd.DataFrame(rows)


def _finished_runs(settings, family):
    """(run id, summary, config, history) of each finished run named by the family's manifest."""
    for rid in (read_manifest(settings, family) or {}).get("run_ids", []):
        path = runs_dir(settings) / rid
        summary = read_summary(path)
        if summary is not None:
            yield rid, summary, json.loads((path / "config.json").read_text()), pd.read_csv(path / "history.csv")


def _number(value):
    return math.nan if value is None else value


def missing_families(settings, families, failed_notebooks=()) -> list:
    """Families with no completed run to show, with the reason."""
    missing = []
    for family in families:
        manifest = read_manifest(settings, family)
        if family in failed_notebooks:
            missing.append((family, "its notebook failed in this build"))
        elif manifest is None:
            missing.append((family, "its notebook has not been run for this profile"))
        elif not any(read_summary(runs_dir(settings) / r) for r in manifest["run_ids"]):
            missing.append((family, "none of its runs is complete"))
    return missing


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
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * std / math.sqrt(n))
    return mean, std, mean - half, mean + half


def t_interval(confidence=0.95):
    """A seaborn `errorbar` callable: the t-interval of the mean (no band for a single seed)."""
    def interval(values):
        _, _, low, high = mean_ci(values, confidence)
        mean = float(np.mean(values))
        return (mean, mean) if math.isnan(low) else (low, high)
    return interval


def summary_table(runs: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    """One row per configuration: final and best validation accuracy across seeds, epoch of the best, time."""
    rows = []
    for (family, label), group in runs.groupby(["family", "label"], sort=False):
        final = mean_ci(group["final_val_accuracy"], confidence)
        best = mean_ci(group["best_val_accuracy"], confidence)
        test = mean_ci(group["test_accuracy"], confidence)
        rows.append({
            "family": family, "configuration": label, "seeds": len(group),
            "optimizer": group["optimizer"].iloc[0] if "optimizer" in group else "",
            "diverged": int((group["status"] == "diverged").sum()),
            "final_mean": final[0], "final_std": final[1], "final_ci_low": final[2], "final_ci_high": final[3],
            "best_mean": best[0], "best_std": best[1], "best_ci_low": best[2], "best_ci_high": best[3],
            "test_mean": test[0], "test_ci_low": test[2], "test_ci_high": test[3],
            "protocol": group["protocol"].iloc[0],
            "best_epoch_mean": float(group["best_epoch"].mean()),
            "seconds_per_run": float(group["train_seconds"].mean()),
        })
    table = pd.DataFrame(rows)
    return table.sort_values("final_mean", ascending=False, ignore_index=True, kind="stable") if rows else table


def _pct(x):
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def format_summary(table: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    """The summary table as a reader sees it: accuracies in percent, mean ± std [CI]."""
    level = f"{round(100 * confidence)}% CI"
    if table.empty:
        return pd.DataFrame({"configuration": [], "note": []})

    def cell(row, key):
        if row["diverged"] == row["seeds"]:
            return "diverged (every seed)"
        text = (f"{_pct(row[f'{key}_mean'])} ± {_pct(row[f'{key}_std'])} "
                f"[{_pct(row[f'{key}_ci_low'])}, {_pct(row[f'{key}_ci_high'])}]")
        return text + (f" ({row['diverged']} of {row['seeds']} seeds diverged)" if row["diverged"] else "")

    formatted = pd.DataFrame({
        "family": [FAMILY_TITLES[f] for f in table["family"]],
        "configuration": table["configuration"],
        "seeds": table["seeds"],
        f"final val. accuracy % (mean ± std [{level}])": [cell(r, "final") for _, r in table.iterrows()],
        f"best val. accuracy % (mean ± std [{level}])": [cell(r, "best") for _, r in table.iterrows()],
        "epoch of best (mean)": table["best_epoch_mean"].round(1).astype(object).where(
            table["best_epoch_mean"].notna(), "n/a"),
        "seconds per run (mean)": table["seconds_per_run"].round(1),
    })
    # the test set is shown only where it was held out: under the 2017 protocol it is the validation set
    if (table["protocol"] == "holdout").any():
        formatted[f"test accuracy % (mean [{level}], measured once after training)"] = [
            f"{_pct(r['test_mean'])} [{_pct(r['test_ci_low'])}, {_pct(r['test_ci_high'])}]"
            if r["protocol"] == "holdout" else "= validation" for _, r in table.iterrows()]
    return formatted


def _signed(x):
    """A signed number of points, with a second decimal where one would round it to zero."""
    return f"{x:+.2f}" if abs(x) < 0.05 else f"{x:+.1f}"


def _points(mean, low, high, level):
    return f"{abs(mean):.1f} points ({level} CI {_signed(low)} to {_signed(high)})"


def conclusions(table: pd.DataFrame, runs: pd.DataFrame = None, confidence=0.95) -> str:
    """The report's findings as Markdown, every number taken from `table` (and, for differences, from the
    seeds in `runs`). A difference is called one only when its interval excludes zero."""
    if table.empty:
        return "No completed runs to compare."
    level = f"{round(100 * confidence)}%"
    # a configuration with any diverged seed is named, not ranked: its mean would rest on the surviving seeds only
    diverged = table[table["diverged"] > 0]
    table = table[table["diverged"] == 0]
    raw_labels = table["configuration"]  # what the runs are filed under
    table = table.assign(configuration=table["configuration"].map(html.escape))  # labels end up in HTML
    lines = []
    if not diverged.empty:
        names = ", ".join(f"{html.escape(r['configuration'])} ({r['diverged']} of {r['seeds']} seeds)"
                          for _, r in diverged.iterrows())
        lines.append(f"- **Diverged** (the loss became NaN and training stopped; left out of the ranking below): "
                     f"{names}.")
    if table.empty:
        return "\n".join(lines)
    best = table.iloc[0]
    worst = table.iloc[-1]
    lines += [
        f"- **Highest final validation accuracy:** {best['configuration']} with {_pct(best['final_mean'])}% "
        f"(mean of {best['seeds']} seed{'s' if best['seeds'] > 1 else ''}; {level} CI "
        f"[{_pct(best['final_ci_low'])}, {_pct(best['final_ci_high'])}]).",
        f"- **Lowest:** {worst['configuration']} with {_pct(worst['final_mean'])}%; the spread between the best "
        f"and the worst configuration is {100 * (best['final_mean'] - worst['final_mean']):.1f} points.",
    ]
    if runs is not None and not runs.empty:
        lines += _baseline_lines(runs, confidence, level)
        schedules_ = table[table["family"].isin(SCHEDULE_FAMILIES)]
        # SGD+momentum and SGD+Nesterov run in the adaptive notebook as references, but are not adaptive methods
        adaptive = table[(table["family"] == "adaptive") & ~table["optimizer"].str.startswith("sgd")]
        if not schedules_.empty and not adaptive.empty:
            s, a = schedules_.iloc[0], adaptive.iloc[0]
            mean, low, high, _ = difference_ci(_final_by_seed(runs, raw_labels[s.name]),
                                               _final_by_seed(runs, raw_labels[a.name]), confidence)
            leader, other = (s, a) if mean >= 0 else (a, s)
            if mean < 0:  # state the interval for leader minus other
                low, high = -high, -low
            if math.isnan(low):
                verdict = "with a single seed there is no interval, so this is not evidence either way"
            elif low <= 0 <= high:
                verdict = (f"the interval of the difference, {_signed(100 * low)} to {_signed(100 * high)} points, spans zero: "
                           f"**no clear difference** at {best['seeds']} seeds")
            else:
                verdict = f"{level} CI of the difference {_signed(100 * low)} to {_signed(100 * high)} points"
            lines.append(
                f"- **Best schedule vs best adaptive method:** {s['configuration']} ({_pct(s['final_mean'])}%) vs "
                f"{a['configuration']} ({_pct(a['final_mean'])}%): {leader['configuration']} leads by "
                f"{100 * abs(mean):.1f} points; {verdict}.")
    fastest = table.sort_values("best_epoch_mean", kind="stable").iloc[0]
    lines.append(f"- **Earliest peak:** {fastest['configuration']} reaches its best validation accuracy at epoch "
                 f"{fastest['best_epoch_mean']:.0f} on average.")
    overfit = table[(table["best_mean"] - table["final_mean"]) > 0.01]
    if not overfit.empty:
        names = ", ".join(f"{r['configuration']} ({100 * (r['best_mean'] - r['final_mean']):.1f} points)"
                          for _, r in overfit.iterrows())
        lines.append(f"- **Ends below its own peak by more than 1 point** (a sign of overfitting or instability "
                     f"late in training): {names}.")
    return "\n".join(lines)


def _baseline_lines(runs, confidence, level):
    baseline = baseline_label(runs)
    if baseline is None:
        return []
    diffs = baseline_differences(runs, baseline, confidence)
    # no difference is computed where either side diverged: those are named elsewhere, not compared
    diffs = diffs[diffs["difference"].notna()]
    name = html.escape(baseline)
    lines = []
    for verdict, verb in (("better", "beats"), ("worse", "trails")):
        chosen = diffs[diffs["verdict"] == verdict]
        if not chosen.empty:
            items = "; ".join(f"{html.escape(r['configuration'])} {verb} it by "
                              f"{_points(r['difference'], r['ci_low'], r['ci_high'], level)}"
                              for _, r in chosen.iterrows())
            lines.append(f"- **Clearly {verdict} than the constant-rate baseline** ({name}): {items}.")
    if len(diffs) > 1 and (diffs["verdict"].isin(["better", "worse"])).any():
        lines.append(f"- *These {len(diffs)} intervals are each at {level}, not adjusted for making {len(diffs)} "
                     f"comparisons: about {len(diffs) * (1 - confidence):.1f} of them could exclude zero by chance "
                     f"alone, so a single narrow \"clear\" difference is weak evidence.*")
    unclear = diffs[diffs["verdict"] == "no clear difference"]
    if not unclear.empty:
        lines.append(f"- **No clear difference from the baseline** (the {level} interval of the difference spans "
                     f"zero) for {len(unclear)} of {len(diffs)} configurations: "
                     f"{', '.join(html.escape(c) for c in unclear['configuration'])}.")
    return lines


def difference_ci(a: pd.Series, b: pd.Series, confidence=0.95):
    """Mean of a - b and its t-interval. Both are indexed by seed: seeds both have are paired (the same seed
    gives both the same initial weights and batch order, so pairing removes that shared noise); without two
    shared seeds, Welch's interval for two independent samples. Returns (mean, low, high, method)."""
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    shared = a.index.intersection(b.index)
    if len(shared) >= 2:
        mean, _, low, high = mean_ci(a[shared] - b[shared], confidence)
        return mean, low, high, "paired"
    if len(a) < 2 or len(b) < 2:
        return float(a.mean() - b.mean()) if len(a) and len(b) else math.nan, math.nan, math.nan, "none"
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1)) if va + vb > 0 else len(a) + len(b) - 2
    half = stats.t.ppf(0.5 + confidence / 2, df) * math.sqrt(va + vb)
    mean = float(a.mean() - b.mean())
    return mean, mean - half, mean + half, "Welch"


def _final_by_seed(runs, label):
    return runs[runs["label"] == label].set_index("seed")["final_val_accuracy"].astype(float)


def rank_table(runs: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    """Configurations ranked by mean final validation accuracy, with each one's mean rank within a seed (1 =
    best of that seed): a ranking that holds seed by seed is firmer than one made by the means alone. A
    configuration with a diverged seed is not ranked on its surviving seeds: it comes last, marked, and a diverged
    seed ranks last within its seed."""
    table = summary_table(runs, confidence)
    if table.empty:
        return table
    table = pd.concat([table[table["diverged"] == 0], table[table["diverged"] > 0]], ignore_index=True)
    per_seed = runs.pivot_table(index="seed", columns="label", values="final_val_accuracy", aggfunc="first",
                                dropna=False)
    mean_rank = per_seed.rank(axis=1, ascending=False, na_option="bottom").mean()
    ranked = (table["diverged"] == 0).sum()
    return pd.DataFrame({
        "rank": [str(i + 1) if i < ranked else "–" for i in range(len(table))],
        "configuration": table["configuration"],
        "family": [FAMILY_TITLES[f] for f in table["family"]],
        "final val. accuracy %": [
            f"{_pct(r['final_mean'])} [{_pct(r['final_ci_low'])}, {_pct(r['final_ci_high'])}]" if not r["diverged"]
            else f"{r['diverged']} of {r['seeds']} seeds diverged" for _, r in table.iterrows()],
        "mean rank within a seed": table["configuration"].map(mean_rank).round(1),
    })


def baseline_label(runs: pd.DataFrame):
    """The constant-learning-rate SGD configuration every other is measured against (None when absent)."""
    constant = runs[runs["family"] == "constant"]
    return constant["label"].iloc[0] if not constant.empty else None


def baseline_differences(runs: pd.DataFrame, baseline: str, confidence=0.95) -> pd.DataFrame:
    """Each configuration's final validation accuracy minus the baseline's, in points, with its interval and a
    verdict: "better" or "worse" only when the interval excludes zero."""
    rows = []
    base = _final_by_seed(runs, baseline)
    base_diverged = int((runs.loc[runs["label"] == baseline, "status"] == "diverged").sum())
    for (family, label), group in runs.groupby(["family", "label"], sort=False):
        if label == baseline:
            continue
        diverged = int((group["status"] == "diverged").sum())
        if diverged or base_diverged:  # survivors alone would flatter it: no difference is computed
            rows.append({"family": family, "configuration": label, "difference": math.nan, "ci_low": math.nan,
                         "ci_high": math.nan, "method": "none",
                         "verdict": f"{diverged} of {len(group)} seeds diverged" if diverged else
                         f"the baseline diverged ({base_diverged} of its seeds)"})
            continue
        mean, low, high, method = difference_ci(_final_by_seed(runs, label), base, confidence)
        verdict = ("no interval (one seed)" if math.isnan(low) else "better" if low > 0 else "worse" if high < 0
                   else "no clear difference")
        rows.append({"family": family, "configuration": label, "difference": 100 * mean, "ci_low": 100 * low,
                     "ci_high": 100 * high, "method": method, "verdict": verdict})
    return pd.DataFrame(rows, columns=["family", "configuration", "difference", "ci_low", "ci_high", "method",
                                       "verdict"]).sort_values("difference", ascending=False, ignore_index=True)


def format_differences(diffs: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    level = f"{round(100 * confidence)}% CI"
    return pd.DataFrame({
        "configuration": diffs["configuration"],
        "family": [FAMILY_TITLES[f] for f in diffs["family"]],
        f"difference to the baseline, points [{level}]": [
            f"{r['difference']:+.1f} [{_signed(r['ci_low'])}, {_signed(r['ci_high'])}]" if not math.isnan(r["ci_low"])
            else "n/a" if math.isnan(r["difference"]) else f"{r['difference']:+.1f}" for _, r in diffs.iterrows()],
        "interval": diffs["method"],
        "verdict": diffs["verdict"],
    })


def time_to_accuracy(histories: pd.DataFrame, target_fraction=0.95):
    """Epochs and seconds until each configuration's mean validation accuracy first reaches the target:
    `target_fraction` of the best mean accuracy any configuration reached. Returns (table, target)."""
    mean = histories.groupby(["label", "epoch"], sort=False)[["val_accuracy", "elapsed_s"]].mean().reset_index()
    if mean.empty or not mean["val_accuracy"].notna().any():
        return pd.DataFrame(columns=["configuration", "epochs", "seconds"]), math.nan
    target = target_fraction * mean["val_accuracy"].max()
    rows = []
    for label, curve in mean.groupby("label", sort=False):
        reached = curve[curve["val_accuracy"] >= target]
        if reached.empty:
            rows.append({"configuration": label, "epochs": "not reached", "seconds": "not reached", "_order": math.inf})
        else:
            first = reached.iloc[0]
            rows.append({"configuration": label, "epochs": int(first["epoch"]), "seconds": round(first["elapsed_s"], 1),
                         "_order": first["elapsed_s"]})
    table = pd.DataFrame(rows).sort_values("_order", kind="stable", ignore_index=True).drop(columns="_order")
    return table, target


def grid_centre(rates) -> float:
    """A sweep's default rate: the centre of its grid on the log scale (`config.learning_rate_grid`)."""
    return float(np.exp(np.log(np.asarray(rates, dtype=float)).mean()))


def sensitivity_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per method: its default rate (the grid's centre on the log scale), the best rate on the grid by mean final
    validation accuracy, the accuracy at each, and whether the best lies on the grid's edge (a better rate may lie
    beyond). A rate at which any seed diverged has no mean (its survivors would flatter it), so it is never best.
    Test accuracy at the chosen rate is reported too: the best rate is picked on validation accuracy, which
    therefore flatters it, while the test set played no part in the choice."""
    rows = []
    for optimizer, group in runs.groupby("optimizer", sort=False):
        means = group.groupby("lr0")["final_val_accuracy"].agg(lambda v: v.mean(skipna=False)).sort_index()
        tests = group.groupby("lr0")["test_accuracy"].mean()
        if means.notna().sum() == 0:
            continue
        default = grid_centre(means.index)
        on_grid = [lr for lr in means.index if math.isclose(lr, default, rel_tol=1e-6)]
        best = means.idxmax()
        rows.append({"method": DISPLAY_NAMES[optimizer], "default_lr": default, "best_lr": best,
                     "at_default": means[on_grid[0]] if on_grid else math.nan, "at_best": means[best],
                     "test_at_default": tests[on_grid[0]] if on_grid else math.nan, "test_at_best": tests[best],
                     "diverged_rates": ", ".join(f"{lr:.3g}" for lr in means.index[means.isna()]),
                     "grid": f"{means.index.min():.3g}–{means.index.max():.3g}", "points": len(means),
                     "on_edge": best in (means.index.min(), means.index.max())})
    return pd.DataFrame(rows)


def format_sensitivity(table: pd.DataFrame) -> pd.DataFrame:
    if table.empty:
        return pd.DataFrame({"method": [], "note": []})
    return pd.DataFrame({
        "method": table["method"],
        "default lr": table["default_lr"].map(lambda x: f"{x:g}"),
        "final val. accuracy % at default": table["at_default"].map(_pct),
        "best lr on the grid": table["best_lr"].map(lambda x: f"{x:.3g}"),
        "final val. accuracy % at best": table["at_best"].map(_pct),
        "gain, points": (100 * (table["at_best"] - table["at_default"])).round(1),
        "test accuracy % at default → at best": [f"{_pct(a)} → {_pct(b)}" for a, b in
                                                 zip(table["test_at_default"], table["test_at_best"])],
        "grid": table["grid"],
        "rates where a seed diverged": table["diverged_rates"].replace("", "none"),
        "best on the grid's edge": table["on_edge"].map({True: "yes — widen the grid", False: "no"}),
    })


def load_range_tests(settings):
    """The range tests named by their manifest: (curves, one row per method with its suggestion)."""
    curves, rows = [], []
    for _, summary, config, history in _finished_runs(settings, "lr_range_test"):
        curves.append(history.assign(method=config["label"]))
        suggested, lowest = range_test_suggestion(history)  # from the curve, so every test is read by one rule
        rows.append({"method": config["label"], "optimizer": config["optimizer"]["name"],
                     "suggested_lr": _number(suggested), "min_loss_lr": _number(lowest),
                     "steps": summary["steps_completed"], "seed": config["seed"]})
    if not rows:
        return pd.DataFrame(columns=["method", "step", "lr", "loss", "smoothed_loss"]), \
            pd.DataFrame(columns=["method", "optimizer", "suggested_lr", "min_loss_lr", "steps", "seed"])
    return pd.concat(curves, ignore_index=True), pd.DataFrame(rows)


def format_range_tests(suggestions: pd.DataFrame) -> pd.DataFrame:
    from .optimizers import ADAPTIVE_DEFAULTS

    return pd.DataFrame({
        "method": suggestions["method"],
        "suggested lr": suggestions["suggested_lr"].map(_rate),
        "lowest smoothed loss at lr": suggestions["min_loss_lr"].map(_rate),
        "default lr": suggestions["optimizer"].map(lambda o: f"{ADAPTIVE_DEFAULTS[o]['lr']:g}"
                                                   if o in ADAPTIVE_DEFAULTS else "see families"),
        "batches run": suggestions["steps"],
    })


def _rate(x):
    return "no clear dip" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3g}"


def rates_used_vs_suggested(runs: pd.DataFrame, suggestions: pd.DataFrame) -> pd.DataFrame:
    """Each configuration's initial (peak) learning rate beside its method's range-test suggestion."""
    suggested = {o: x for o, x in zip(suggestions["optimizer"], suggestions["suggested_lr"]) if not math.isnan(x)}
    configs = runs.drop_duplicates("label")
    return pd.DataFrame({
        "configuration": configs["label"].values,
        "family": [FAMILY_TITLES[f] for f in configs["family"]],
        "initial (peak) lr used": configs["lr0"].map(lambda x: f"{x:g}").values,
        "range-test suggestion": configs["optimizer"].map(
            lambda o: f"{suggested[o]:.3g}" if o in suggested else "no clear dip"
            if o in set(suggestions["optimizer"]) else "not tested").values,
        "used ÷ suggested": [f"{lr / suggested[o]:.2g}" if o in suggested else "n/a"
                             for lr, o in zip(configs["lr0"], configs["optimizer"])],
    })
