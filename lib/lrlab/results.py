"""Reading stored runs back as tables, and the statistics the report shows: means across seeds with a t-based
confidence interval, and conclusions written from those numbers."""

import html
import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import COMPARED_FAMILIES, FAMILY_TITLES, SCHEDULE_FAMILIES, run_label  # noqa: F401 (notebooks use them)
from .data import CLASS_NAMES
from .optimizers import DISPLAY_NAMES, is_sgd
from .schedules import display_name as schedule_name
from .health import FAILED, HEALTHY, describe_failures, failure_counts, failures_among, nan_epochs, run_status
from .store import HISTORY_COLUMNS, read_manifest, read_summary, runs_dir
from .statistics import (log_median, mean_ci, p_text, paired_difference, percent_text as _pct, rank_agreement,
                         interval_text, seeds_won_text, signed_text as _signed, verdict as verdict_of,
                         with_correction)
from .summary import range_test_suggestion


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


def load_runs(settings, families, failed_notebooks=()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The runs named by each family's manifest: (histories, one row per run). Missing or incomplete runs, and
    families whose notebook failed in this build, are left out here and reported by `missing_families`.

    Every run's status is judged here from its history (lrlab.health), so runs stored before a rule existed follow
    it too. Time: the first epoch of a run includes compiling the model, so it is measured apart
    (`first_epoch_overhead_s`: the first epoch's seconds less a steady epoch's) and `elapsed_s` counts every epoch
    at the steady rate (the median of the epochs after the first)."""
    histories, rows, seen = [], [], set()
    for manifest in families:
        if manifest in failed_notebooks:
            continue
        for rid, summary, config, history in _finished_runs(settings, manifest):
            if rid in seen:  # one run in two manifests (the custom family's baselines): shown once
                continue
            seen.add(rid)
            # the custom family lists its baselines, which belong to their own families
            family = config["family"] if manifest == "custom" else manifest
            data = config["data"]
            n_classes = len(data["classes"])
            status = run_status(history, n_classes, data["n_train"])
            if status == "diverged":
                summary = summary | {"final": {"val_accuracy": None, "val_loss": None}, "best_val_accuracy": None,
                                     "best_epoch": None}
                after = nan_epochs(history).cummax()
                history.loc[after, ["loss", "accuracy", "val_loss", "val_accuracy"]] = np.nan
            steady, overhead = epoch_seconds(history["epoch_time_s"])
            meta = {"run_id": rid, "family": family, "label": run_label(config), "seed": config["seed"],
                    "optimizer": config["optimizer"]["name"], "status": status}
            histories.append(history.assign(elapsed_s=steady * history["epoch"], **meta))
            test = summary.get("test") or {}
            schedule = config["schedule"]
            rows.append(meta | {"model": config["model"], "epochs": config["epochs"],
                                # runs stored before the precision parameter existed computed in float32
                                "precision": config.get("precision", "float32"),
                                "batch_size": config["batch_size"], "protocol": data["protocol"],
                                "class_names": [CLASS_NAMES[c] for c in data["classes"]], "n_classes": n_classes,
                                "chance": 1 / n_classes,
                                "n_train": data["n_train"], "n_validation": data["n_validation"],
                                "fingerprint": data["fingerprint"],
                                "final_val_accuracy": _number(summary["final"]["val_accuracy"]),
                                "final_val_loss": _number(summary["final"]["val_loss"]),
                                "best_val_accuracy": _number(summary["best_val_accuracy"]),
                                "best_epoch": _number(summary["best_epoch"]), "train_seconds": summary["train_seconds"],
                                "seconds_per_epoch": steady, "first_epoch_overhead_s": overhead,
                                "trained_together": summary.get("trained_together", 1),
                                "device": summary.get("device", "not recorded"),
                                "backend": summary.get("backend", "not recorded"),
                                # the backend's own package version (machine.run_record names them alike)
                                "backend_version": (summary.get("versions") or {}).get(summary.get("backend"), ""),
                                "cuda": summary.get("cuda") or "",
                                "keras_version": summary.get("keras_version", "not recorded"),
                                "test_accuracy": _number(test.get("accuracy")), "lr0": schedule["lr0"],
                                "schedule": schedule["name"], "schedule_params": json.dumps(schedule, sort_keys=True),
                                "optimizer_params": json.dumps(config["optimizer"], sort_keys=True),
                                # whether the rate ever moved: a ReduceLROnPlateau that never fired is constant
                                "rate_changed": bool(history["lr"].nunique() > 1),
                                "optimizer_settings": ", ".join(f"{k}={v:g}" for k, v in config["optimizer"].items()
                                                                if isinstance(v, (int, float)))})
    if not rows:
        return (pd.DataFrame(columns=["run_id", "family", "label", "seed", "optimizer", "status", "elapsed_s",
                                      *HISTORY_COLUMNS]),
                pd.DataFrame(columns=["run_id", "family", "label", "seed", "optimizer", "protocol", "status",
                                      "final_val_accuracy", "test_accuracy", "lr0", "schedule"]))
    return pd.concat(histories, ignore_index=True), pd.DataFrame(rows)


def epoch_seconds(epoch_times) -> tuple[float, float]:
    """(seconds of a steady epoch, extra seconds of the first): the first epoch compiles the model, so a steady
    epoch is the median of the others; with one epoch there is nothing to compare and no overhead is claimed."""
    times = np.asarray(epoch_times, dtype=float)
    if len(times) < 2:
        return float(times.sum()), 0.0
    steady = float(np.median(times[1:]))
    return steady, max(0.0, float(times[0]) - steady)


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


def _healthy(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[runs["status"] == HEALTHY] if "status" in runs else runs


def _first(group, column, default=None):
    return group[column].iloc[0] if column in group and len(group) else default


def summary_table(runs: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    """One row per configuration: final and best validation accuracy over its healthy seeds (failed ones are
    counted, never averaged in), epoch of the best, time per epoch. Configurations whose seeds all learned come
    first, best final accuracy first; those with a failed seed follow."""
    rows = []
    for (family, label), group in runs.groupby(["family", "label"], sort=False):
        healthy = _healthy(group)
        final = mean_ci(healthy["final_val_accuracy"], confidence)
        best = mean_ci(healthy["best_val_accuracy"], confidence)
        test = mean_ci(healthy["test_accuracy"], confidence)
        failed = failure_counts(group["status"])
        rows.append({
            "family": family, "configuration": label, "seeds": len(group), "healthy": len(healthy),
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
    return table.sort_values(["failed", "final_mean"], ascending=[True, False], key=lambda c: c > 0
                             if c.name == "failed" else c, ignore_index=True, kind="stable")


def _mean_text(mean, std, low, high):
    """"69.8 ± 1.0 [68.8, 70.7]", shortened where one seed leaves no spread."""
    if math.isnan(std):
        return _pct(mean)
    return f"{_pct(mean)} ± {_pct(std)} [{_pct(low)}, {_pct(high)}]"


def failures_text(row) -> str:
    """What failed in a configuration's row of `summary_table`, "" when nothing did."""
    return describe_failures({status: int(row[status]) for status in FAILED}, int(row["seeds"]))


def _cell(row, key):
    if row["healthy"] == 0:
        return "every seed failed"
    return _mean_text(row[f"{key}_mean"], row[f"{key}_std"], row[f"{key}_ci_low"], row[f"{key}_ci_high"])


def format_summary(table: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    """The summary table as a reader sees it: accuracies in percent with one decimal, mean ± std [CI] over the
    healthy seeds, the failed seeds named beside them."""
    level = f"{round(100 * confidence)}% CI"
    if table.empty:
        return pd.DataFrame({"configuration": [], "note": []})
    together = table["trained_together"].max() > 1
    formatted = pd.DataFrame({
        "configuration": table["configuration"],
        "family": [FAMILY_TITLES[f] for f in table["family"]],
        "seeds": table["seeds"],
        "failed seeds": [failures_text(r) or "none" for _, r in table.iterrows()],
        f"final val. accuracy % (mean ± std [{level}], healthy seeds)": [_cell(r, "final")
                                                                         for _, r in table.iterrows()],
        f"best val. accuracy % (mean ± std [{level}])": [_cell(r, "best") for _, r in table.iterrows()],
        "epoch of best (mean)": [f"{x:.1f}" if x == x else "n/a" for x in table["best_epoch_mean"]],
        ("seconds per epoch in this build (each run's share: seeds trained together; machine load included)"
         if together else "seconds per epoch in this build (machine load included)"):
            [f"{x:.2f}" if x == x else "n/a" for x in table["seconds_per_epoch"]],
        "first epoch's extra seconds (compiling)": [f"{x:.1f}" if x == x else "n/a"
                                                     for x in table["first_epoch_overhead_s"]],
    })
    # the test set is shown only where it was held out: under the 2017 protocol it is the validation set
    if (table["protocol"] == "holdout").any():
        formatted[f"test accuracy % (mean [{level}], measured once after training)"] = [
            ("n/a" if r["healthy"] == 0 else _mean_text(r["test_mean"], math.nan, 0, 0) if r["healthy"] < 2 else
             f"{_pct(r['test_mean'])} [{_pct(r['test_ci_low'])}, {_pct(r['test_ci_high'])}]")
            if r["protocol"] == "holdout" else "= validation" for _, r in table.iterrows()]
    notes = [plateau_note(r) for _, r in table.iterrows()]
    if any(notes):
        formatted["note"] = notes
    return formatted


def plateau_note(row) -> str:
    if row["schedule"] == "reduce_on_plateau" and not row["rate_changed"]:
        return f"the rate was never reduced in {int(row['epochs'])} epochs: this run is constant-rate SGD"
    return ""


VERDICTS = ("clearly better", "clearly worse", "no clear difference")


def compare(runs: pd.DataFrame, label: str, other: str, confidence=0.95) -> dict:
    """`label` minus `other` in final validation accuracy points, over the healthy seeds of each (paired by seed
    where they share two or more, lrlab.statistics), with its interval, p-value and a verdict from VERDICTS: clear
    only when the interval excludes zero."""
    a, b = _final_by_seed(runs, label), _final_by_seed(runs, other)
    d = paired_difference(a, b, confidence)
    if math.isnan(d["difference"]):
        verdict = "not compared: every seed of one side failed"
    elif math.isnan(d["ci_low"]):
        verdict = "no interval: fewer than two healthy seeds"
    else:
        verdict = verdict_of(d, d["ci_low"] > 0 or d["ci_high"] < 0)
    return {"difference": 100 * d["difference"], "ci_low": 100 * d["ci_low"], "ci_high": 100 * d["ci_high"],
            "method": d["method"], "p": d["p"], "se": 100 * d["se"], "df": d["df"], "wins": d["wins"],
            "pairs": d["pairs"], "identical": _identical(runs, label, other), "verdict": verdict}


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


def difference_text(d: dict, level: str) -> str:
    """"+2.3 points (95% CI +0.9 to +3.8; ahead on 5 of 5 seeds), **clearly better**"; with a correction (the
    row has `verdict_adj`), the simultaneous interval its verdict is read from, labelled with the family's size.
    A verdict that is not clear is not in bold."""
    if math.isnan(d["difference"]):
        return d["verdict"]
    if d.get("identical"):
        return "identical runs (left out of the comparisons)"
    if math.isnan(d["ci_low"]):
        return f"{_signed(d['difference'])} points ({d['verdict']})"
    corrected = "verdict_adj" in d and d["verdict_adj"] == d["verdict_adj"]
    said = d["verdict_adj"] if corrected else d["verdict"]
    verdict = f"**{said}**" if said in VERDICTS[:2] else said
    won = seeds_won_text(d.get("wins"), d.get("pairs"))
    if corrected:
        interval = (f"{level} simultaneous CI {_signed(d['ci_low_adj'])} to {_signed(d['ci_high_adj'])}, Bonferroni "
                    f"over {_count(int(d['family_size']), 'comparison')}")
    else:
        interval = f"{level} CI {_signed(d['ci_low'])} to {_signed(d['ci_high'])}"
    return f"{_signed(d['difference'])} points ({interval}{'; ' + won if won else ''}), {verdict}"


def _name(row) -> str:
    return html.escape(row["configuration"])


def _accuracy_text(row, level) -> str:
    """"69.8% (95% CI 68.8 to 70.7, 5 seeds)", over the healthy seeds."""
    if row["healthy"] == 0:
        return "no healthy seed"
    seeds = f"{row['healthy']} seed{'s' if row['healthy'] > 1 else ''}"
    if row["final_ci_low"] != row["final_ci_low"]:
        return f"{_pct(row['final_mean'])}% ({seeds})"
    return (f"{_pct(row['final_mean'])}% ({level} CI {_pct(row['final_ci_low'])} to {_pct(row['final_ci_high'])}, "
            f"{seeds})")


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
    """The family's best configuration by mean final accuracy (among `_eligible`), preferring those whose every
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
                                                           f"({_signed(d['difference'])})")
    return "".join(f"; also {verdict}: {', '.join(names)}" for verdict, names in parts.items())


def failure_lines(table: pd.DataFrame, level) -> list:
    """One Markdown sub-bullet per configuration with a failed seed, saying what the healthy seeds gave."""
    lines = []
    for _, r in table[table["failed"] > 0].iterrows():
        rest = (f"; on the healthy seed{'s' if r['healthy'] > 1 else ''}: {_accuracy_text(r, level)}"
                if r["healthy"] else "")
        lines.append(f"  - {_name(r)}: {failures_text(r)}{rest}")
    return lines


def budget_note(table: pd.DataFrame):
    """When most healthy configurations reach their best accuracy in the last fifth of their epochs, the runs were
    still improving: say so, with the count (None otherwise)."""
    healthy = table[(table["failed"] == 0) & table["best_epoch_mean"].notna()]
    if healthy.empty or "epochs" not in healthy:
        return None
    late = healthy[healthy["best_epoch_mean"] > 0.8 * healthy["epochs"]]
    if len(late) * 2 <= len(healthy):
        return None
    epochs = int(healthy["epochs"].max())
    return (f"{len(late)} of {len(healthy)} configurations reach their best validation accuracy in the last fifth "
            f"of their {epochs} epochs: most were still improving, so a longer budget may change the ranking.")


def in_short(table: pd.DataFrame, runs: pd.DataFrame, confidence=0.95, sweep: pd.DataFrame = None) -> str:
    """The report's answer in a few bullets, every number from the tables: the best configuration, each family's
    best against constant-rate SGD, the best adaptive method against the best schedule, what failed, and whether
    the budget was long enough."""
    if table.empty:
        return "No completed runs to compare."
    level = f"{round(100 * confidence)}%"
    name_of = short_names(runs)
    ok = table[table["failed"] == 0]
    lines = []
    if not ok.empty:
        best = ok.iloc[0]
        lines.append(f"- **Best configuration:** {_name(best)}: {_accuracy_text(best, level)} final validation "
                     f"accuracy (chance: {100 / max(1, _n_classes(runs)):.0f}%).")
    baseline = baseline_label(runs)
    if baseline is not None:
        base = table[table["configuration"] == baseline].iloc[0]
        lines.append(f"- **Against constant-rate SGD** at {_accuracy_text(base, level)}, the best of each family, "
                     f"in points of final validation accuracy (each verdict read from its simultaneous interval, "
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
            lines.append(f"  - {who}: {difference_text(d, level)}{failed}{_others(diffs, table, family, row, name_of)}")
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
    if d["p"] == d["p"]:
        d = with_correction(pd.DataFrame([d]), confidence, m=pairs).iloc[0].to_dict()
    name_of = short_names(runs)
    return (f"- **Best adaptive method against the best schedule** (a pair picked after looking, so corrected as "
            f"one of the {len(adaptive)} × {len(schedules_)} pairs it was picked from): "
            f"{html.escape(name_of[a['configuration']])} ({_pct(a['final_mean'])}%) minus "
            f"{html.escape(name_of[s['configuration']])} ({_pct(s['final_mean'])}%): {difference_text(d, level)}")


def _validation_se(runs) -> float:
    """The standard error of one validation accuracy near the runs' accuracy: sqrt(p (1 - p) / n)."""
    if runs is None or runs.empty or "n_validation" not in runs:
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
    lines = []
    if table["failed"].any():
        lines.append("- **Failed runs** (left out of every mean, interval and ranking; named here):")
        lines += failure_lines(table, level)
    ok = table[table["failed"] == 0]
    if ok.empty:
        return "\n".join(lines)
    best, worst = ok.iloc[0], ok.iloc[-1]
    lines += [f"- **Highest final validation accuracy:** {_name(best)} with {_accuracy_text(best, level)}.",
              f"- **Lowest among the configurations whose every seed learned:** {_name(worst)} with "
              f"{_accuracy_text(worst, level)}; the spread between the best and the worst of them is "
              f"{100 * (best['final_mean'] - worst['final_mean']):.1f} points."]
    if runs is not None and not runs.empty:
        lines += _baseline_lines(runs, confidence, level)
        versus = _adaptive_against_schedule(table, runs, confidence, level)
        if versus:
            lines.append(versus + ".")
    fastest = ok.sort_values("best_epoch_mean", kind="stable").iloc[0]
    lines.append(f"- **Earliest peak among the healthy configurations:** {_name(fastest)} reaches its best "
                 f"validation accuracy at epoch {fastest['best_epoch_mean']:.0f} on average.")
    # a seed's best epoch is the maximum of many noisy measurements: a gap counts only beyond twice the
    # standard error of one validation accuracy (about 1 point on 2,000 images), and at least 1 point
    noise = max(0.01, 2 * _validation_se(runs)) if runs is not None else 0.01
    overfit = ok[(ok["best_mean"] - ok["final_mean"]) > noise]
    if not overfit.empty:
        lines.append(f"- **Ends more than {100 * noise:.1f} points below its own peak** (twice the noise of one "
                     f"validation measurement; overfitting or instability late in training):")
        lines += [f"  - {_name(r)}: {100 * (r['best_mean'] - r['final_mean']):.1f} points"
                  for _, r in overfit.iterrows()]
    for _, r in table.iterrows():
        if "schedule" in table and plateau_note(r):
            lines.append(f"- **{_name(r)}:** {plateau_note(r)}.")
    note = budget_note(table)
    if note:
        lines.append(f"- **Budget:** {note}")
    return "\n".join(lines)


def _baseline_lines(runs, confidence, level):
    """Every configuration against constant-rate SGD, grouped by its verdict read from its simultaneous interval
    (Bonferroni over the comparisons); those clear on their own interval but not after the correction are named
    apart, and identical runs are named as such, outside the family."""
    baseline = baseline_label(runs)
    if baseline is None:
        return []
    diffs = baseline_differences(runs, baseline, confidence)
    compared = diffs[diffs["verdict_adj"].isin(VERDICTS)]
    lines = []
    for verdict in VERDICTS:
        chosen = compared[compared["verdict_adj"] == verdict]
        if chosen.empty:
            continue
        lines.append(f"- **{verdict.capitalize()} than constant-rate SGD** ({html.escape(baseline)}) after the "
                     f"correction for {_count(len(compared), 'comparison')}, {len(chosen)} of {len(compared)}:"
                     if verdict != VERDICTS[2] else
                     f"- **No clear difference from constant-rate SGD** after the correction, "
                     f"{len(chosen)} of {len(compared)}:")
        lines += [f"  - {html.escape(r['configuration'])}: {difference_text(r.to_dict(), level)}"
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
                                                       f"({_signed(r['difference'])})" for _, r in lost.iterrows()))
    return lines


def _final_by_seed(runs, label):
    """A configuration's final validation accuracy per healthy seed."""
    return _healthy(runs[runs["label"] == label]).set_index("seed")["final_val_accuracy"].astype(float)


def rank_table(runs: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    """Configurations ranked by mean final validation accuracy, with each one's mean rank within a seed (1 =
    best of that seed): a ranking that holds seed by seed is firmer than one made by the means alone. A
    configuration with a failed seed is not ranked on its healthy ones: it comes last, unranked, with its
    failures, and a failed seed ranks last within its seed."""
    table = summary_table(runs, confidence)
    if table.empty:
        return table
    per_seed = runs.assign(score=runs["final_val_accuracy"].where(runs["status"] == HEALTHY)).pivot_table(
        index="seed", columns="label", values="score", aggfunc="first", dropna=False)
    mean_rank = per_seed.rank(axis=1, ascending=False, na_option="bottom").mean()
    ranked = int((table["failed"] == 0).sum())
    level = f"{round(100 * confidence)}% CI"
    return pd.DataFrame({
        "rank": [str(i + 1) if i < ranked else "–" for i in range(len(table))],
        "configuration": table["configuration"],
        "family": [FAMILY_TITLES[f] for f in table["family"]],
        f"final val. accuracy % (mean ± std [{level}])": [
            (_cell(r, "final") if not r["failed"] else
             f"{failures_text(r)}" + (f"; healthy: {_cell(r, 'final')}" if r["healthy"] else ""))
            for _, r in table.iterrows()],
        "mean rank within a seed": [f"{x:.1f}" if not failed else "–"
                                    for x, failed in zip(table["configuration"].map(mean_rank), table["failed"])],
    })


def baseline_label(runs: pd.DataFrame):
    """The constant-learning-rate SGD configuration every other is measured against (None when absent)."""
    constant = runs[runs["family"] == "constant"]
    return constant["label"].iloc[0] if not constant.empty else None


def baseline_differences(runs: pd.DataFrame, baseline: str, confidence=0.95) -> pd.DataFrame:
    """Each configuration's final validation accuracy minus the baseline's, in points, over healthy seeds, with
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
    return _corrected_verdicts(diffs, confidence).sort_values("difference", ascending=False, ignore_index=True)


COMPARED_COLUMNS = ["difference", "ci_low", "ci_high", "method", "p", "se", "df", "wins", "pairs", "identical",
                    "verdict"]


def _corrected_verdicts(diffs: pd.DataFrame, confidence) -> pd.DataFrame:
    """`diffs` (one row per `compare`) with the family's correction over its tested rows (with_correction): a
    row without a test keeps compare's verdict ("no interval: ..."), and identical runs stay out of the family."""
    if diffs.empty:
        return diffs.assign(family_size=[], p_adj=[], ci_low_adj=[], ci_high_adj=[], verdict_adj=[])
    family = diffs["p"].notna() & ~diffs["identical"].astype(bool)
    corrected = with_correction(diffs[family], confidence)
    out = diffs.assign(family_size=int(family.sum()), p_adj=math.nan, ci_low_adj=math.nan, ci_high_adj=math.nan,
                       verdict_adj=diffs["verdict"].where(~diffs["identical"].astype(bool), "identical runs"))
    for column in ["p_adj", "ci_low_adj", "ci_high_adj", "verdict_adj"]:
        out.loc[family, column] = corrected[column]
    return out


def format_differences(diffs: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    """The verdict first (it stays in view on a phone), beside the interval it is read from; the uncorrected
    interval and verdict after, labelled as such."""
    level = f"{round(100 * confidence)}%"
    size = int(diffs["family_size"].max()) if len(diffs) else 0
    return pd.DataFrame({
        "configuration": diffs["configuration"],
        f"verdict (corrected for {size} comparisons)": diffs["verdict_adj"],
        f"difference, points [{level} simultaneous CI, Bonferroni]": [
            interval_text(r["difference"], r["ci_low_adj"], r["ci_high_adj"]) for _, r in diffs.iterrows()],
        "seeds ahead": [f"{int(r['wins'])} of {int(r['pairs'])}" if r["pairs"] else "–" for _, r in diffs.iterrows()],
        "p, Bonferroni-adjusted": diffs["p_adj"].map(p_text),
        "family": [FAMILY_TITLES[f] for f in diffs["family"]],
        f"on its own: difference [{level} CI]": [interval_text(r["difference"], r["ci_low"], r["ci_high"])
                                                 for _, r in diffs.iterrows()],
        "on its own: p": diffs["p"].map(p_text),
        "on its own: verdict": diffs["verdict"],
        "interval": diffs["method"],
        "failed seeds (left out)": diffs["failed"].replace("", "none"),
    })


def time_to_accuracy(histories: pd.DataFrame, target_fraction=0.95):
    """Epochs until each configuration's mean validation accuracy (over its healthy seeds) first reaches the
    target: `target_fraction` of the best mean accuracy any configuration reached. Not seconds: runs of one build
    share the machine, so their wall clock measures its load more than the method. Returns (table, target)."""
    all_seeds = histories.groupby("label")["seed"].nunique() if "seed" in histories else None
    histories = _healthy(histories)
    healthy_seeds = histories.groupby("label")["seed"].nunique() if "seed" in histories else None
    mean = histories.groupby(["label", "epoch"], sort=False)[["val_accuracy"]].mean().reset_index()
    if mean.empty or not mean["val_accuracy"].notna().any():
        return pd.DataFrame(columns=["configuration", "epochs"]), math.nan
    target = target_fraction * mean["val_accuracy"].max()
    rows = []
    for label, curve in mean.groupby("label", sort=False):
        reached = curve[curve["val_accuracy"] >= target]
        if reached.empty:
            rows.append({"configuration": label, "epochs": "not reached", "_order": math.inf})
        else:
            rows.append({"configuration": label, "epochs": int(reached.iloc[0]["epoch"]),
                         "_order": reached.iloc[0]["epoch"]})
    table = pd.DataFrame(rows).sort_values("_order", kind="stable", ignore_index=True).drop(columns="_order")
    if all_seeds is not None and (healthy_seeds != all_seeds[healthy_seeds.index]).any():
        table["healthy seeds"] = [f"{healthy_seeds[label]} of {all_seeds[label]}" for label in table["configuration"]]
    return table, target


def grid_centre(rates) -> float:
    """A sweep's default rate: the centre of its grid on the log scale (`config.learning_rate_grid`)."""
    return float(np.exp(np.log(np.asarray(rates, dtype=float)).mean()))


def sensitivity_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per method: its default rate (the grid's centre on the log scale), the best rate on the grid by mean final
    validation accuracy, the accuracy at each, and whether the best lies on the grid's edge (a better rate may lie
    beyond). Means are over healthy seeds; a rate at which any seed failed (did not learn, fell back to chance or
    diverged) is never
    the best, since a rate that fails on some seeds is not one to recommend. Test accuracy at the chosen rate is
    reported too: the best rate is picked on validation accuracy, which therefore flatters it, while the test set
    played no part in the choice."""
    rows = []
    for optimizer, group in runs.groupby("optimizer", sort=False):
        by_rate = {lr: g for lr, g in group.groupby("lr0")}
        means = pd.Series({lr: _healthy(g)["final_val_accuracy"].mean() for lr, g in by_rate.items()}).sort_index()
        tests = pd.Series({lr: _healthy(g)["test_accuracy"].mean() for lr, g in by_rate.items()})
        failed = {lr: failures_among(g["status"]) for lr, g in by_rate.items()}
        eligible = means[[not failed[lr] for lr in means.index]].dropna()
        if eligible.empty:
            continue
        default = grid_centre(means.index)
        on_grid = [lr for lr in means.index if math.isclose(lr, default, rel_tol=1e-6)]
        best = eligible.idxmax()
        rows.append({"method": DISPLAY_NAMES[optimizer], "default_lr": default, "best_lr": best,
                     "at_default": means[on_grid[0]] if on_grid else math.nan, "at_best": means[best],
                     "default_failed": failed[on_grid[0]] if on_grid else "",
                     "test_at_default": tests[on_grid[0]] if on_grid else math.nan, "test_at_best": tests[best],
                     "failed_rates": "; ".join(f"{lr:.3g} ({text})" for lr, text in sorted(failed.items()) if text),
                     "grid": f"{means.index.min():.3g}–{means.index.max():.3g}", "points": len(means),
                     "on_edge": best in (means.index.min(), means.index.max())})
    return pd.DataFrame(rows)


def format_sensitivity(table: pd.DataFrame) -> pd.DataFrame:
    if table.empty:
        return pd.DataFrame({"method": [], "note": []})
    return pd.DataFrame({
        "method": table["method"],
        "default lr": table["default_lr"].map(lambda x: f"{x:g}"),
        "final val. accuracy % at default": [_pct(a) + (f" ({f})" if f else "")
                                             for a, f in zip(table["at_default"], table["default_failed"])],
        "best lr on the grid": table["best_lr"].map(lambda x: f"{x:.3g}"),
        "final val. accuracy % at best": table["at_best"].map(_pct),
        "gain, points": [_signed(100 * (b - a)) for a, b in zip(table["at_default"], table["at_best"])],
        "test accuracy % at default → at best": [f"{_pct(a)} → {_pct(b)}" for a, b in
                                                 zip(table["test_at_default"], table["test_at_best"])],
        "grid": table["grid"],
        "rates where a seed failed": table["failed_rates"].replace("", "none"),
        "best on the grid's edge": table["on_edge"].map({True: "yes — widen the grid", False: "no"}),
    })


def load_range_tests(settings):
    """The range tests named by their manifest: (curves, one row per test with its seed, its suggestion, and each
    suggestion rule's rate, tuning.RULES)."""
    from .tuning import suggestions as rule_suggestions

    curves, rows = [], []
    for rid, summary, config, history in _finished_runs(settings, "lr_range_test"):
        curves.append(history.assign(run_id=rid, method=run_label(config), optimizer=config["optimizer"]["name"],
                                     seed=config["seed"]))
        suggested, lowest = range_test_suggestion(history)  # from the curve, so every test is read by one rule
        smoothed = history["smoothed_loss"].to_numpy()
        # the loss still falling at the last tenth of the test: the range stopped before the loss turned up
        at_end = bool(np.isfinite(smoothed).any() and np.nanargmin(smoothed) >= 0.9 * (len(smoothed) - 1))
        rows.append({"method": run_label(config), "optimizer": config["optimizer"]["name"],
                     "suggested_lr": _number(suggested), "min_loss_lr": _number(lowest),
                     "steps": summary["steps_completed"], "seed": config["seed"], "still_falling": at_end,
                     "settings": ", ".join(f"{k}={v:g}" for k, v in config["optimizer"].items() if k != "name")}
                    | {rule: _number(rate) for rule, rate in rule_suggestions(history).items()})
    if not rows:
        return pd.DataFrame(columns=["method", "seed", "step", "lr", "loss", "smoothed_loss"]), \
            pd.DataFrame(columns=["method", "optimizer", "suggested_lr", "min_loss_lr", "steps", "seed"])
    return pd.concat(curves, ignore_index=True), pd.DataFrame(rows)


def range_tests_by_method(tests: pd.DataFrame) -> pd.DataFrame:
    """One row per method from its tests on every seed: the median suggestion (a tenth of the lowest loss's
    rate) and the median rate at the lowest loss, the number of tests and of tests without a suggestion, and
    whether any stopped with the loss still falling."""
    rows = []
    for method, group in tests.groupby("method", sort=False):
        rows.append({"method": method, "optimizer": group["optimizer"].iloc[0],
                     "suggested_lr": log_median(group["suggested_lr"]),
                     "min_loss_lr": log_median(group["min_loss_lr"]), "steps": int(group["steps"].median()),
                     "tests": len(group), "no_dip": int(group["suggested_lr"].isna().sum()),
                     "seeds": sorted(group["seed"]), "still_falling": bool(group["still_falling"].any()),
                     "settings": group["settings"].iloc[0] if "settings" in group else ""})
    return pd.DataFrame(rows, columns=["method", "optimizer", "suggested_lr", "min_loss_lr", "steps", "tests",
                                       "no_dip", "seeds", "still_falling", "settings"])


def format_range_tests(tests: pd.DataFrame) -> pd.DataFrame:
    from .optimizers import ADAPTIVE_DEFAULTS

    suggestions = range_tests_by_method(tests)
    return pd.DataFrame({
        "method": suggestions["method"],
        "suggested lr (median over seeds)": [_rate(x) + (f" ({n} of {t} tests: no clear dip)" if n else "")
                                             for x, n, t in zip(suggestions["suggested_lr"], suggestions["no_dip"],
                                                                suggestions["tests"])],
        "lowest smoothed loss at lr": suggestions["min_loss_lr"].map(_rate),
        "default lr": suggestions["optimizer"].map(lambda o: f"{ADAPTIVE_DEFAULTS[o]['lr']:g}"
                                                   if o in ADAPTIVE_DEFAULTS else "see families"),
        "batches run (median)": suggestions["steps"],
        "seeds": suggestions["seeds"].map(lambda seeds: ", ".join(map(str, seeds))),
    })


def _rate(x):
    return "no clear dip" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3g}"


def rates_used_vs_suggested(runs: pd.DataFrame, tests: pd.DataFrame) -> pd.DataFrame:
    """One row per range-tested method: its suggestion (median over the seeds' tests), where the loss was lowest
    (flagged when it was still falling at the top of the range, so the suggestion is set by the range, not by the
    loss), the rates the compared configurations used with it, the ratio of each to the suggestion, and the seeds
    that failed there."""
    rows = []
    for _, test in range_tests_by_method(tests).iterrows():
        used = runs[runs["optimizer"] == test["optimizer"]]
        rates = sorted(used["lr0"].unique()) if not used.empty else []
        lowest = _rate(test["min_loss_lr"]) + (" — still falling at the top of the range: raise range_max"
                                               if test.get("still_falling") else "")
        suggested = test["suggested_lr"]
        count = used["label"].nunique()
        rows.append({
            "method": test["method"], "settings of the test": test.get("settings", ""),
            "suggested lr": _rate(suggested), "lowest smoothed loss at lr": lowest,
            "rates used in the comparison": ", ".join(f"{lr:g}" for lr in rates) + (
                f" ({count} configurations)" if count > 1 else "") if rates else "not compared",
            "used ÷ suggested": ", ".join(f"{lr / suggested:.2f}" for lr in rates)
            if rates and suggested == suggested else "n/a",
            "failed seeds at the rates used": failures_among(used["status"]) or "none",
        })
    return pd.DataFrame(rows)


def _budget_method(row) -> tuple:
    """A budget run's method, the same at every budget: its optimizer, or its schedule for SGD (a schedule's label
    carries numbers that change with the epochs)."""
    return ("optimizer", row["optimizer"]) if row["optimizer"] != "sgd" else ("schedule", row["schedule"])


def budget_table(runs: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    """One row per method and budget: mean final validation accuracy over the healthy seeds with its interval, the
    failed seeds, the method's rank at that budget (1 = best; a method with a failed seed ranks last), and its gain
    over its own result at the smallest budget (points, paired by seed) with its simultaneous interval over every
    method's gain and the verdict read from it."""
    if runs.empty:
        return pd.DataFrame(columns=["method", "kind", "key", "epochs", "mean", "low", "high", "failed", "rank", "gain",
                                     "gain_low", "gain_high", "p", "gain_low_adj", "gain_high_adj", "p_adj",
                                     "verdict_adj", "family_size"])
    kind, key = zip(*(_budget_method(r) for _, r in runs.iterrows()))
    runs = runs.assign(kind=kind, key=key)
    first = runs["epochs"].min()
    rows = []
    for (kind, key, epochs), group in runs.groupby(["kind", "key", "epochs"], sort=False):
        healthy = _healthy(group)
        mean, _, low, high = mean_ci(healthy["final_val_accuracy"], confidence)
        base = _healthy(runs[(runs["key"] == key) & (runs["kind"] == kind) & (runs["epochs"] == first)])
        gain = paired_difference(healthy.set_index("seed")["final_val_accuracy"].astype(float),
                                 base.set_index("seed")["final_val_accuracy"].astype(float), confidence) \
            if epochs != first else {"difference": math.nan, "ci_low": math.nan, "ci_high": math.nan, "p": math.nan,
                                     "se": math.nan, "df": math.nan}
        rows.append({"method": DISPLAY_NAMES[key] if kind == "optimizer" else schedule_name(key).replace(
                         " (SGD)", ""), "kind": kind, "key": key, "epochs": int(epochs), "mean": mean, "low": low,
                     "high": high, "failed": failures_among(group["status"]), "gain": 100 * gain["difference"],
                     "gain_low": 100 * gain["ci_low"], "gain_high": 100 * gain["ci_high"], "p": gain["p"],
                     "se": 100 * gain["se"], "df": gain["df"]})
    table = pd.DataFrame(rows)
    score = table["mean"].where(table["failed"] == "", -math.inf)
    table["rank"] = score.groupby(table["epochs"]).rank(ascending=False, method="min").astype(int)
    tested = with_correction(table.rename(columns={"gain": "difference", "gain_low": "ci_low",
                                                   "gain_high": "ci_high"}), confidence)
    table["gain_low_adj"], table["gain_high_adj"] = tested["ci_low_adj"], tested["ci_high_adj"]
    table["p_adj"], table["verdict_adj"], table["family_size"] = tested["p_adj"], tested["verdict_adj"], \
        tested["family_size"]
    return table.sort_values(["epochs", "rank"], ignore_index=True)


def format_budget(table: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    """One row per method: its accuracy and rank at each budget, and its gain from the smallest to the largest."""
    level = f"{round(100 * confidence)}%"
    budgets = sorted(table["epochs"].unique())
    rows = []
    for (kind, key), group in table.groupby(["kind", "key"], sort=False):
        at = group.set_index("epochs")
        row = {"method": at["method"].iloc[0]}
        for b in budgets:
            r = at.loc[b] if b in at.index else None
            failed = f" ({r['failed']})" if r is not None and r["failed"] else ""
            row[f"{b} epochs: final val. accuracy % [{level} CI]"] = "–" if r is None else (
                f"{_pct(r['mean'])} [{_pct(r['low'])}, {_pct(r['high'])}]{failed}")
            row[f"rank at {b}"] = "–" if r is None else str(r["rank"])
        last = at.loc[budgets[-1]] if budgets[-1] in at.index and len(budgets) > 1 else None
        row[f"gain {budgets[0]} → {budgets[-1]} epochs, points [{level} simultaneous CI]"] = "–" if last is None \
            else interval_text(last["gain"], last["gain_low_adj"], last["gain_high_adj"])
        row["verdict (corrected)"] = "–" if last is None else last["verdict_adj"]
        rows.append(row)
    order = table[table["epochs"] == budgets[-1]].set_index("method")["rank"]
    return pd.DataFrame(rows).sort_values("method", key=lambda m: m.map(order), ignore_index=True)


def budget_conclusions(table: pd.DataFrame, confidence=0.95) -> str:
    """How the ranking moves with the budget, from budget_table's numbers."""
    budgets = sorted(table["epochs"].unique()) if not table.empty else []
    if len(budgets) < 2:
        return ""
    level = f"{round(100 * confidence)}%"
    lead = {b: table[(table["epochs"] == b)].sort_values("rank").iloc[0] for b in budgets}
    first, last = budgets[0], budgets[-1]
    ranks = table[table["epochs"].isin([first, last])].pivot_table(index="key", columns="epochs", values="rank")
    ranks = ranks.dropna()
    tau = rank_agreement(ranks[first], ranks[last]) if len(ranks) > 2 else None
    lines = [f"- **Training budget:** the best at {first} epochs is {lead[first]['method']} "
             f"({_pct(lead[first]['mean'])}%), at {last} epochs {lead[last]['method']} ({_pct(lead[last]['mean'])}%)"
             + (f"; the two rankings agree with Kendall's τ = {tau:.2f} over {len(ranks)} methods "
                f"(1: the same order, 0: unrelated)" if tau is not None else "") + "."]
    gains = table[(table["epochs"] == last) & table["gain"].notna()].sort_values("gain", ascending=False)
    if not gains.empty:
        clear = gains[gains["verdict_adj"] == "clearly better"]
        top = gains.iloc[0]
        interval = (f" ({level} simultaneous CI {_signed(top['gain_low_adj'])} to {_signed(top['gain_high_adj'])})"
                    if top["gain_low_adj"] == top["gain_low_adj"] else "")
        lines.append(f"  - From {first} to {last} epochs, {len(clear)} of {len(gains)} methods gain clearly after "
                     f"the correction for {len(gains)} comparisons; the largest gain is {top['method']}'s, "
                     f"{_signed(top['gain'])} "
                     f"points{interval}, the smallest {gains.iloc[-1]['method']}'s, {_signed(gains.iloc[-1]['gain'])}.")
    moved = ranks.assign(move=ranks[first] - ranks[last]).sort_values("move")
    if len(moved) and moved["move"].abs().max() > 0:
        up, down = moved.iloc[-1], moved.iloc[0]
        name = table.drop_duplicates("key").set_index("key")["method"]
        lines.append(f"  - Moving most: {name[up.name]} from rank {int(up[first])} to {int(up[last])}"
                     + (f"; {name[down.name]} from {int(down[first])} to {int(down[last])}" if down["move"] < 0 else "")
                     + ".")
    return "\n".join(lines)


# ---- your schedule or optimizer against the baselines (the custom family) ----

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
    differences: pd.DataFrame  # the numbers: yours minus each baseline, in points, with the corrected verdict

    def _repr_markdown_(self):
        return self.sentence


def _custom_label(runs):
    yours = runs[(runs["schedule"] == "custom") | (runs["optimizer"] == "custom")]
    return yours["label"].iloc[0] if not yours.empty else None


def custom_differences(runs: pd.DataFrame, confidence=0.95) -> pd.DataFrame:
    """Your configuration minus each baseline in final validation accuracy (points, paired by seed), corrected
    for the baselines compared (simultaneous intervals)."""
    yours = _custom_label(runs)
    rows = []
    for name, chosen in CUSTOM_BASELINES:
        baseline = runs[chosen(runs) & (runs["label"] != yours)]
        if yours is None or baseline.empty:
            continue
        rows.append({"baseline": name, "label": baseline["label"].iloc[0],
                     **compare(runs, yours, baseline["label"].iloc[0], confidence)})
    return _corrected_verdicts(pd.DataFrame(rows, columns=["baseline", "label", *COMPARED_COLUMNS]), confidence)


def custom_verdict(runs: pd.DataFrame, histories: pd.DataFrame, confidence=0.95, target_fraction=0.95) -> Verdict:
    """Is your schedule or optimizer better than constant-rate SGD, cosine decay and Adam, on the same seeds?
    The differences (custom_differences), each configuration's time to the target accuracy (time_to_accuracy, over
    these four), and the one sentence that answers."""
    yours = _custom_label(runs)
    if yours is None:
        return Verdict("No run of your schedule or optimizer is stored for these settings yet.", pd.DataFrame(),
                       custom_differences(runs, confidence))
    level = f"{round(100 * confidence)}%"
    diffs = custom_differences(runs, confidence)
    table = summary_table(runs, confidence).set_index("configuration")
    timing, target = time_to_accuracy(histories[histories["label"].isin([yours, *diffs["label"]])], target_fraction)
    epochs_to = timing.set_index("configuration")["epochs"] if not timing.empty else pd.Series(dtype=object)
    shown = pd.DataFrame({
        "baseline": diffs["label"],
        "its final accuracy (%)": [_mean_text(*table.loc[label, ["final_mean", "final_std", "final_ci_low",
                                                                   "final_ci_high"]]) for label in diffs["label"]],
        "verdict (corrected)": diffs["verdict_adj"],
        f"yours minus it, points [{level} simultaneous CI]": [
            interval_text(r["difference"], r["ci_low_adj"], r["ci_high_adj"]) for _, r in diffs.iterrows()],
        "seeds ahead": [f"{int(r['wins'])} of {int(r['pairs'])}" if r["pairs"] else "–" for _, r in diffs.iterrows()],
        "p, Bonferroni-adjusted": diffs["p_adj"].map(p_text),
        "epochs to the target: it / yours": [f"{epochs_to.get(label, 'not reached')} / "
                                             f"{epochs_to.get(yours, 'not reached')}" for label in diffs["label"]],
    })
    return Verdict(_custom_sentence(table.loc[yours], diffs, level, target, epochs_to.get(yours)), shown, diffs)


def _custom_sentence(row, diffs, level, target, epochs) -> str:
    what = "your optimizer" if row["optimizer"] == "custom" else "your schedule"
    head = f"**{what.capitalize()}** ({html.escape(row.name)}) reached {_accuracy_text(row, level)} final " \
           f"validation accuracy"
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
        f" It first reached the target, {_pct(target)}% mean validation accuracy, at epoch {epochs}." \
        if epochs != "not reached" else f" It never reached the target, {_pct(target)}% mean validation accuracy."
    return (f"{head}{failed}. Against the baselines on the same seeds, each verdict read from its simultaneous "
            f"interval over the {len(diffs)} comparisons: {answer}.{pace}")


def _count(n, noun) -> str:
    """"1 comparison", "3 comparisons"."""
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _listed(names) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1] if names else "none"
