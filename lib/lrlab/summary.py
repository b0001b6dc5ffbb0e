"""What a finished run's summary.json says: its status (lrlab.health), its final, best and test metrics, and the
machine it trained on; for a learning-rate range test, the rate it suggests."""

from datetime import datetime, timezone

import numpy as np
import pandas as pd

from .health import run_status


def _versions() -> dict:
    from .machine import run_record

    return run_record()


def summarize_history(history: pd.DataFrame, seconds: float, test=None, n_classes=2, n_train=8000) -> dict:
    """Final and best validation metrics, and the test metrics measured after training. A run whose loss became
    NaN is "diverged": its metrics are None, never a number that would read as a (bad) result; one that did not
    learn, or fell back to chance (lrlab.health), keeps its numbers, and the report counts it as failed."""
    status = run_status(history, n_classes, n_train)
    diverged = status == "diverged"
    last = history.iloc[-1]
    best = None if diverged else history["val_accuracy"].idxmax()
    return {
        "status": status,
        "epochs_completed": int(len(history)),
        "final": {k: None if diverged else float(last[k]) for k in ("loss", "accuracy", "val_loss", "val_accuracy")},
        "best_val_accuracy": None if diverged else float(history.loc[best, "val_accuracy"]),
        "best_epoch": None if diverged else int(history.loc[best, "epoch"]),
        "test": None if diverged else test,
        "train_seconds": round(seconds, 3),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    } | _versions()


def range_test_suggestion(history: pd.DataFrame, skip_fraction=0.1, min_dip=0.01):
    """(suggested rate, rate at the lowest smoothed loss) from a range test's history.

    The suggestion is a tenth of the rate where the smoothed loss was lowest, a step back from where it starts to
    climb (the usual reading of Smith's test). The first `skip_fraction` of the batches is left out: the moving
    average is still mostly noise there. When the lowest loss is not at least `min_dip` below the loss at the
    start of the search, the loss never clearly fell and there is no suggestion (None)."""
    curve = history.iloc[max(1, int(skip_fraction * len(history))):]
    curve = curve[np.isfinite(curve["smoothed_loss"])]
    if curve.empty:
        return None, None
    lowest = curve.loc[curve["smoothed_loss"].idxmin()]
    if lowest["smoothed_loss"] > (1 - min_dip) * curve["smoothed_loss"].iloc[0]:
        return None, float(lowest["lr"])
    return float(lowest["lr"]) / 10, float(lowest["lr"])


def summarize_range_test(history: pd.DataFrame, seconds: float) -> dict:
    suggested, lowest = range_test_suggestion(history)
    return {
        "status": "completed",
        "steps_completed": int(len(history)),
        "min_loss_lr": lowest,
        "suggested_lr": suggested,
        "train_seconds": round(seconds, 3),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    } | _versions()
