"""Does the answer hold across tasks? Each method's standing on each task whose runs are stored (one profile per
task), how far the orderings agree (Kendall's τ), and an AlgoPerf-style performance profile of the time each
method needs to reach each task's target.

A method is what the tuning view calls one (lrlab.config.tuned_method): an optimizer at a constant rate ("adam"),
or SGD under a schedule ("sgd+step_decay"), each as its family trains it (the learning-rate sweep and the budget
comparison are left out). Its score on a task is its mean final validation value of that task's metric over its
healthy seeds (accuracy for images, higher is better; loss for text, lower is better: lrlab.tasks.Metric); a
method with a failed seed is named on that task and ranked last there (as every table of the report ranks it).
Time to target is counted in epochs, as the report's time view counts it (the runs of a build share its machine),
and the target is each task's own (Metric.target): `target_fraction` of the best mean validation accuracy reached
on it, or a loss that much above the lowest.
"""

import math

import numpy as np
import pandas as pd
from scipy import stats

from .config import COMPARED_FAMILIES, tuned_display
from .health import HEALTHY, failures_among
from .parameters import resolve_settings
from .run_tables import load_runs
from .tasks import TASKS, metric_of

TAUS = [1, 1.25, 1.5, 2, 3, 4, 6, 8, 16]  # the performance profile's ratios to the fastest method


def method_scores(runs: pd.DataFrame, histories: pd.DataFrame, target_fraction=0.95) -> pd.DataFrame:
    """One row per method of one task's runs: its mean final validation value of the task's metric over the
    healthy seeds, its failures, its rank on the task (1 = best; a method with a failed seed after every healthy
    one) and the epochs its mean validation curve needs to reach the task's target (inf: never)."""
    runs = runs[runs["family"].isin(COMPARED_FAMILIES) & (runs["family"] != "custom")]
    if runs.empty:
        return pd.DataFrame(columns=["method", "display", "score", "failed", "rank", "epochs_to_target"])
    metric = metric_of(runs)
    healthy = histories[histories["status"] == HEALTHY] if "status" in histories else histories
    curves = healthy[healthy["run_id"].isin(runs["run_id"])].groupby(["tuned", "epoch"])[metric.history].mean()
    best = metric.best_value(curves) if len(curves) else math.nan
    target = metric.target(best, target_fraction)
    rows = []
    for method, group in runs.groupby("tuned", sort=False):
        ok = group[group["status"] == HEALTHY]
        curve = curves.get(method) if method in curves.index.get_level_values(0) else pd.Series(dtype=float)
        reached = curve[metric.reached(curve, target)]
        rows.append({"method": method, "display": tuned_display(method),
                     "score": float(ok[metric.final].mean()) if len(ok) else math.nan,
                     "failed": failures_among(group["status"]), "healthy": len(ok), "seeds": len(group),
                     "epochs_to_target": float(reached.index[0]) if len(reached) else math.inf})
    table = pd.DataFrame(rows)
    # healthy methods by score; a method with a failed seed after them, by its healthy seeds' score
    order = table.assign(_failed=table["failed"] != "").sort_values(
        ["_failed", "score"], ascending=[True, not metric.higher_is_better], kind="stable")
    table.loc[order.index, "rank"] = np.arange(1, len(table) + 1)
    return table.sort_values("rank", ignore_index=True)


def stored_scores(settings, runs, histories, across_profiles, target_fraction=0.95) -> tuple[dict, dict, list]:
    """method_scores for this report's runs and for each profile in `across_profiles` whose runs are stored in the
    same output folder: ({task: scores}, {task: its display name}, [what could not be read, as sentences])."""
    task_of = {settings.task: settings.profile}
    scores = {settings.task: method_scores(runs, histories, target_fraction)}
    missing = []
    for profile in across_profiles:
        other = resolve_settings(profile, settings.output_dir)
        if other.task in task_of:
            missing.append(f"profile `{profile}` is the same task as profile `{task_of[other.task]}`")
            continue
        other_histories, other_runs = load_runs(other, [f for f in COMPARED_FAMILIES if f in other.families])
        if other_runs.empty:
            missing.append(f"no runs of profile `{profile}` are stored in {other.output_dir} (build it first)")
            continue
        task_of[other.task] = profile
        scores[other.task] = method_scores(other_runs, other_histories, target_fraction)
    names = {task: f"{TASKS[task].display_name} (`{profile}`)" for task, profile in task_of.items()}
    return scores, names, missing


def across_tasks(scores: dict) -> dict:
    """`scores`: {task name: method_scores}. Returns the ranks of the methods every task ran ("ranks": one row
    per method, a rank and a score column per task, re-ranked among the shared methods), Kendall's τ between each
    pair of tasks over them ("agreement"), the methods that failed somewhere ("failures") and the performance
    profile's ratios ("ratios": each method's epochs to target over the fastest method's, per task)."""
    tasks = list(scores)
    shared = set.intersection(*(set(s["method"]) for s in scores.values())) if scores else set()
    first = scores[tasks[0]] if tasks else pd.DataFrame(columns=["method"])
    methods = [m for m in first["method"] if m in shared]
    ranks = pd.DataFrame({"method": methods, "display": [tuned_display(m) for m in methods]})
    ratios = pd.DataFrame({"method": methods, "display": ranks["display"]})
    failures = []
    for task, table in scores.items():
        row = table.set_index("method").loc[methods]
        ranks[f"{task} rank"] = row["rank"].rank(method="min").to_numpy()
        ranks[f"{task} score"] = row["score"].to_numpy()
        fastest = row["epochs_to_target"].min()
        ratios[task] = (row["epochs_to_target"] / fastest).to_numpy() if np.isfinite(fastest) else math.inf
        failures += [{"task": task, "method": tuned_display(m), "failed": f}
                     for m, f in zip(table["method"], table["failed"]) if f]
    agreement = []
    for i, a in enumerate(tasks):
        for b in tasks[i + 1:]:
            if len(methods) >= 3:
                tau = stats.kendalltau(ranks[f"{a} rank"], ranks[f"{b} rank"])
                agreement.append({"tasks": (a, b), "methods": len(methods), "tau": float(tau.statistic),
                                  "p": float(tau.pvalue)})
            else:
                agreement.append({"tasks": (a, b), "methods": len(methods), "tau": math.nan, "p": math.nan})
    return {"ranks": ranks.sort_values(f"{tasks[0]} rank", ignore_index=True) if tasks else ranks,
            "agreement": agreement, "failures": failures, "ratios": ratios}


def performance_profile(ratios: pd.DataFrame, taus) -> pd.DataFrame:
    """AlgoPerf's performance profile: for each method and each τ, the share of tasks on which it reached the
    target within τ times the fastest method's epochs."""
    tasks = [c for c in ratios.columns if c not in ("method", "display")]
    values = ratios[tasks].to_numpy(dtype=float)
    return pd.DataFrame({name: [(values[i] <= t).mean() for t in taus] for i, name in enumerate(ratios["display"])},
                        index=pd.Index(taus, name="tau"))


def ranks_frame(result: dict, task_names: dict) -> pd.DataFrame:
    """The ranks as the report's table: a method per row, "rank (accuracy %)" or "rank (loss)" per task, each
    task's own metric."""
    ranks = result["ranks"]
    table = pd.DataFrame({"method": ranks["display"]})
    for task in _tasks(ranks):
        metric = TASKS[task].metric
        table[f"{task_names[task]}: rank ({metric.header})"] = [
            f"{int(rank)} ({metric.number(score)})" if np.isfinite(score) else f"{int(rank)} (every seed failed)"
            for rank, score in zip(ranks[f"{task} rank"], ranks[f"{task} score"])]
    return table


def ratios_frame(result: dict, task_names: dict) -> pd.DataFrame:
    """The performance profile's numbers: each method's epochs to the task's target over the fastest method's."""
    ratios = result["ratios"]
    table = pd.DataFrame({"method": ratios["display"]})
    for task in [c for c in ratios.columns if c not in ("method", "display")]:
        table[f"{task_names[task]}: epochs to target ÷ fastest"] = [
            f"{r:.2g}" if np.isfinite(r) else "not reached" for r in ratios[task]]
    return table


def _tasks(ranks) -> list:
    return [c[: -len(" rank")] for c in ranks.columns if c.endswith(" rank")]


def conclusions(result: dict, task_names: dict, confidence=0.95) -> str:
    """What the orderings say, in sentences computed from them."""
    lines = []
    for a in result["agreement"]:
        first, second = (task_names[t] for t in a["tasks"])
        if not np.isfinite(a["tau"]):
            lines.append(f"- {first} and {second} share {a['methods']} methods: too few to compare orderings.")
            continue
        clear = a["p"] < 1 - confidence
        reading = ("the orderings agree more than chance would" if clear and a["tau"] > 0 else
                   "the orderings are reversed more than chance would" if clear else
                   "no clear agreement: the ordering on one task does not predict the other")
        lines.append(f"- {first} and {second}, {a['methods']} methods both ran: Kendall's τ = {a['tau']:+.2f} "
                     f"(p = {a['p']:.2g}; exploratory, one comparison per pair of tasks): {reading}.")
    ranks = result["ranks"]
    tasks = _tasks(ranks)
    if len(tasks) >= 2 and len(ranks):
        spread = ranks[[f"{t} rank" for t in tasks]].max(axis=1) - ranks[[f"{t} rank" for t in tasks]].min(axis=1)
        moved = ranks.loc[spread.idxmax()]
        if spread.max() == 0:
            lines.append("- Every method holds the same rank on every task.")
        else:
            lines.append(f"- Moved most: {moved['display']}, "
                         + ", ".join(f"rank {int(moved[f'{t} rank'])} on {task_names[t]}" for t in tasks) + ".")
    for failure in result["failures"]:
        lines.append(f"- On {task_names[failure['task']]}, {failure['method']}: {failure['failed']}.")
    return "\n".join(lines)
