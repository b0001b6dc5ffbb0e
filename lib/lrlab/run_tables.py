"""Reading stored runs back as tables: one row per run (its configuration's columns and its summary) and its
history per epoch, for the families a report compares; the range tests apart. Every run's status is judged here
from its history (lrlab.health)."""

import json
import math

import numpy as np
import pandas as pd

from .config import run_label, tuned_method
from .health import nan_epochs, run_status
from .store import HISTORY_COLUMNS, read_manifest, read_summary, runs_dir
from .summary import range_test_suggestion
from .tasks import n_classes as count_classes, of_run

# the columns of load_runs' table of runs, so a report without runs still has them all
RUN_COLUMNS = ["run_id", "family", "label", "seed", "optimizer", "tuned", "status", "model", "epochs", "precision",
               "batch_size", "protocol", "task", "n_classes", "chance", "n_train", "n_validation",
               "fingerprint", "final_val_accuracy", "final_val_loss", "best_val_accuracy", "best_val_loss",
               "best_epoch", "train_seconds", "seconds_per_epoch", "first_epoch_overhead_s", "trained_together",
               "device", "backend", "backend_version", "cuda", "keras_version", "test_accuracy", "test_loss",
               "test_accuracy_at_training_point", "test_loss_at_training_point", "sample", "numerics", "lr0",
               "schedule", "schedule_params",
               "optimizer_params", "rate_changed", "optimizer_settings", "trunk_run_id", "branch_epoch"]


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
            # one run in two manifests (the custom family's baselines) is shown once; range tests are read apart
            if rid in seen or config.get("kind") == "lr_range_test":
                continue
            seen.add(rid)
            # the custom family lists its baselines, which belong to their own families, and the range-test notebook
            # the runs of fastai's workflow (family finder_workflow)
            family = config["family"] if manifest in ("custom", "lr_range_test") else manifest
            data = config["data"]
            n_classes = count_classes(data)
            status = run_status(history, n_classes, data["n_train"])
            if status == "diverged":
                summary = summary | {"final": {"val_accuracy": None, "val_loss": None}, "best_val_accuracy": None,
                                     "best_epoch": None}
                after = nan_epochs(history).cummax()
                history.loc[after, ["loss", "accuracy", "val_loss", "val_accuracy"]] = np.nan
            steady, overhead = epoch_seconds(history["epoch_time_s"])
            task = of_run(data)
            meta = {"run_id": rid, "task": task.name, "family": family, "label": run_label(config),
                    "seed": config["seed"],
                    "optimizer": config["optimizer"]["name"], "status": status,
                    "tuned": tuned_method(config["optimizer"]["name"], config["schedule"]["name"])}
            histories.append(history.assign(elapsed_s=steady * history["epoch"], **meta))
            test = summary.get("test") or {}
            schedule = config["schedule"]
            rows.append(meta | {"model": config["model"], "epochs": config["epochs"],
                                # runs stored before the precision parameter existed computed in float32
                                "precision": config.get("precision", "float32"),
                                "batch_size": config["batch_size"], "protocol": data["protocol"],
                                "n_classes": n_classes,
                                "chance": task.metric.chance(n_classes),
                                "n_train": data["n_train"], "n_validation": data["n_validation"],
                                "fingerprint": data["fingerprint"],
                                "final_val_accuracy": _number(summary["final"]["val_accuracy"]),
                                "final_val_loss": _number(summary["final"]["val_loss"]),
                                "best_val_accuracy": _number(summary["best_val_accuracy"]),
                                # none for a diverged run, as its best accuracy
                                "best_val_loss": _number(None if summary["best_epoch"] is None
                                                         else float(history["val_loss"].min())),
                                "best_epoch": _best_epoch(summary, history, task.metric),
                                "train_seconds": summary["train_seconds"],
                                "seconds_per_epoch": steady, "first_epoch_overhead_s": overhead,
                                "trained_together": summary.get("trained_together", 1),
                                "device": summary.get("device", "not recorded"),
                                "backend": summary.get("backend", "not recorded"),
                                # the backend's own package version (machine.run_record names them alike)
                                "backend_version": (summary.get("versions") or {}).get(summary.get("backend"), ""),
                                "cuda": summary.get("cuda") or "",
                                "keras_version": summary.get("keras_version", "not recorded"),
                                # under the 2017 protocol the test set is the validation set: no test figure
                                # anywhere, rather than a copy of validation's
                                **({"test_accuracy": _number(test.get("accuracy")),
                                    "test_loss": _number(test.get("loss")),
                                    "test_accuracy_at_training_point": _number(
                                        test.get("accuracy_at_training_point")),
                                    "test_loss_at_training_point": _number(test.get("loss_at_training_point"))}
                                   if data["protocol"] == "holdout" else {}),
                                "sample": test.get("sample"),  # what a text task's run wrote
                                "numerics": config.get("numerics", 1), "lr0": schedule["lr0"],
                                "schedule": schedule["name"], "schedule_params": json.dumps(schedule, sort_keys=True),
                                "optimizer_params": json.dumps(config["optimizer"], sort_keys=True),
                                # whether the rate ever moved: a ReduceLROnPlateau that never fired is constant
                                "rate_changed": bool(history["lr"].nunique() > 1),
                                "optimizer_settings": ", ".join(f"{k}={v:g}" for k, v in config["optimizer"].items()
                                                                if isinstance(v, (int, float)) and k != "revision"),
                                # a cooldown branched from a trunk (families.branched_configs): which, and where
                                "trunk_run_id": config.get("branch", {}).get("trunk", ""),
                                "branch_epoch": _number(config.get("branch", {}).get("epoch"))})
    if not rows:
        return (pd.DataFrame(columns=["run_id", "task", "family", "label", "seed", "optimizer", "status", "tuned",
                                      "elapsed_s",
                                      *HISTORY_COLUMNS]), pd.DataFrame(columns=RUN_COLUMNS))
    return pd.concat(histories, ignore_index=True), pd.DataFrame(rows, columns=RUN_COLUMNS)


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


def _best_epoch(summary, history, metric):
    """The epoch of the best validation value of the task's metric: the summary's for accuracy (the epoch the
    run kept), the history's lowest loss otherwise (the first, on a tie); NaN where the run diverged."""
    if metric.key == "accuracy" or summary["best_epoch"] is None:
        return _number(summary["best_epoch"])
    values = history[metric.history]
    return float(history.loc[values.idxmin(), "epoch"]) if values.notna().any() else math.nan


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



def load_range_tests(settings):
    """The range tests named by their manifest: (curves, one row per test with its seed, its suggestion, and each
    suggestion rule's rate, tuning.RULES)."""
    from .tuning import suggestions as rule_suggestions

    curves, rows = [], []
    for rid, summary, config, history in _finished_runs(settings, "lr_range_test"):
        if config.get("kind") != "lr_range_test":  # fastai's workflow, trained from the tests (lrlab.finder_workflow)
            continue
        curves.append(history.assign(run_id=rid, method=run_label(config), optimizer=config["optimizer"]["name"],
                                     seed=config["seed"]))
        suggested, lowest = range_test_suggestion(history)  # from the curve, so every test is read by one rule
        smoothed = history["smoothed_loss"].to_numpy()
        # the loss still falling at the last tenth of the test: the range stopped before the loss turned up
        at_end = bool(np.isfinite(smoothed).any() and np.nanargmin(smoothed) >= 0.9 * (len(smoothed) - 1))
        rows.append({"method": run_label(config), "optimizer": config["optimizer"]["name"],
                     "suggested_lr": _number(suggested), "min_loss_lr": _number(lowest),
                     "steps": summary["steps_completed"], "seed": config["seed"], "still_falling": at_end,
                     "settings": ", ".join(f"{k}={v:g}" for k, v in config["optimizer"].items()
                                           if k not in ("name", "revision"))}
                    | {rule: _number(rate) for rule, rate in rule_suggestions(history).items()})
    if not rows:
        return pd.DataFrame(columns=["method", "seed", "step", "lr", "loss", "smoothed_loss"]), \
            pd.DataFrame(columns=["method", "optimizer", "suggested_lr", "min_loss_lr", "steps", "seed"])
    return pd.concat(curves, ignore_index=True), pd.DataFrame(rows)
