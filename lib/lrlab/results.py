"""Reading stored runs back as tables, and the statistics the report shows: means across seeds with a t-based
confidence interval, and conclusions written from those numbers."""

import html
import json
import math

import numpy as np
import pandas as pd
from scipy import stats

from .config import FAMILY_TITLES, SCHEDULE_FAMILIES
from .data import CLASS_NAMES
from .store import HISTORY_COLUMNS, nan_epochs, read_manifest, read_summary, runs_dir


def load_runs(settings, families, failed_notebooks=()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The runs named by each family's manifest: (histories, one row per run). Missing or incomplete runs, and
    families whose notebook failed in this build, are left out here and reported by `missing_families`."""
    histories, rows = [], []
    for family in families:
        if family in failed_notebooks:
            continue
        manifest = read_manifest(settings, family)
        for rid in (manifest or {}).get("run_ids", []):
            path = runs_dir(settings) / rid
            summary = read_summary(path)
            if summary is None:
                continue
            config = json.loads((path / "config.json").read_text())
            history = pd.read_csv(path / "history.csv")
            # judged from the history, so runs stored before divergence was detected are caught too
            diverged_at = nan_epochs(history)
            if diverged_at.any():
                summary = summary | {"status": "diverged", "final": {"val_accuracy": None, "val_loss": None},
                                     "best_val_accuracy": None, "best_epoch": None}
                after = diverged_at.cummax()
                history.loc[after, ["loss", "accuracy", "val_loss", "val_accuracy"]] = np.nan
            meta = {"run_id": rid, "family": family, "label": config["label"], "seed": config["seed"],
                    "optimizer": config["optimizer"]["name"]}
            histories.append(history.assign(**meta))
            rows.append(meta | {"status": summary["status"], "model": config["model"], "epochs": config["epochs"],
                                "batch_size": config["batch_size"], "protocol": config["data"]["protocol"],
                                "class_names": [CLASS_NAMES[c] for c in config["data"]["classes"]],
                                "n_train": config["data"]["n_train"], "n_validation": config["data"]["n_validation"],
                                "fingerprint": config["data"]["fingerprint"],
                                "final_val_accuracy": _number(summary["final"]["val_accuracy"]),
                                "final_val_loss": _number(summary["final"]["val_loss"]),
                                "best_val_accuracy": _number(summary["best_val_accuracy"]),
                                "best_epoch": _number(summary["best_epoch"]), "train_seconds": summary["train_seconds"]})
    if not rows:
        return (pd.DataFrame(columns=["run_id", "family", "label", "seed", "optimizer", *HISTORY_COLUMNS]),
                pd.DataFrame(columns=["run_id", "family", "label", "seed", "optimizer", "protocol"]))
    return pd.concat(histories, ignore_index=True), pd.DataFrame(rows)


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
        rows.append({
            "family": family, "configuration": label, "seeds": len(group),
            "diverged": int((group["status"] == "diverged").sum()),
            "final_mean": final[0], "final_std": final[1], "final_ci_low": final[2], "final_ci_high": final[3],
            "best_mean": best[0], "best_std": best[1], "best_ci_low": best[2], "best_ci_high": best[3],
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

    return pd.DataFrame({
        "family": [FAMILY_TITLES[f] for f in table["family"]],
        "configuration": table["configuration"],
        "seeds": table["seeds"],
        f"final val. accuracy % (mean ± std [{level}])": [cell(r, "final") for _, r in table.iterrows()],
        f"best val. accuracy % (mean ± std [{level}])": [cell(r, "best") for _, r in table.iterrows()],
        "epoch of best (mean)": table["best_epoch_mean"].round(1).astype(object).where(
            table["best_epoch_mean"].notna(), "n/a"),
        "seconds per run (mean)": table["seconds_per_run"].round(1),
    })


def _overlap(a, b):
    """Whether two configurations' confidence intervals overlap; None when either has none (a single seed)."""
    if any(math.isnan(x) for x in (a["final_ci_low"], b["final_ci_low"])):
        return None
    return a["final_ci_low"] <= b["final_ci_high"] and b["final_ci_low"] <= a["final_ci_high"]


def conclusions(table: pd.DataFrame, confidence=0.95) -> str:
    """The report's findings as Markdown, every number taken from `table`."""
    if table.empty:
        return "No completed runs to compare."
    level = f"{round(100 * confidence)}%"
    # a configuration with any diverged seed is named, not ranked: its mean would rest on the surviving seeds only
    diverged = table[table["diverged"] > 0]
    table = table[table["diverged"] == 0]
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
    schedules_ = table[table["family"].isin(SCHEDULE_FAMILIES)]
    adaptive = table[table["family"] == "adaptive"]
    if not schedules_.empty and not adaptive.empty:
        s, a = schedules_.iloc[0], adaptive.iloc[0]
        leader, other = (s, a) if s["final_mean"] >= a["final_mean"] else (a, s)
        gap = 100 * (leader["final_mean"] - other["final_mean"])
        overlap = _overlap(s, a)
        verdict = ("with a single seed there is no interval, so this difference is not evidence either way"
                   if overlap is None else
                   "their confidence intervals overlap, so this difference is not clear at these seeds"
                   if overlap else "their confidence intervals do not overlap")
        lines.append(
            f"- **Best schedule vs best adaptive method:** {s['configuration']} ({_pct(s['final_mean'])}%) vs "
            f"{a['configuration']} ({_pct(a['final_mean'])}%): {leader['configuration']} leads by {gap:.1f} "
            f"points; {verdict}.")
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

