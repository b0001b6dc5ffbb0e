"""Which runs failed, and how. A run is judged from its history alone, so runs stored before a rule existed are
judged by it too.

- `diverged`: its training loss became NaN or infinite (training stopped there).
- `stuck`: its validation accuracy never rose clearly above chance in any epoch. Chance is 1 / classes; "clearly"
  is three standard errors of a guessing classifier's accuracy on the validation images, sqrt(p (1 - p) / n) with
  p = 1 / classes. Cat vs dog validated on 2,000 images: chance 50%, stuck when no epoch reaches 53.4%.
- `completed`: neither. Only these are "healthy": means, intervals and differences are taken over them, and a
  configuration's failed seeds are counted beside its numbers, never averaged in.
"""

import math

import numpy as np
import pandas as pd

HEALTHY = "completed"


def nan_epochs(history: pd.DataFrame) -> pd.Series:
    """Epochs whose training loss is not finite: one is enough for the run to count as diverged."""
    return ~np.isfinite(history["loss"])


def chance_threshold(n_classes: int, n_validation: int) -> float:
    """The validation accuracy a run must exceed in some epoch to count as having learned anything."""
    p = 1.0 / n_classes
    return p + 3 * math.sqrt(p * (1 - p) / max(1, n_validation))


def run_status(history: pd.DataFrame, n_classes: int, n_validation: int) -> str:
    if nan_epochs(history).any():
        return "diverged"
    if not (history["val_accuracy"] > chance_threshold(n_classes, n_validation)).any():
        return "stuck"
    return HEALTHY


def failure_counts(statuses) -> tuple[int, int]:
    """(stuck, diverged) among some runs' statuses."""
    statuses = list(statuses)
    return statuses.count("stuck"), statuses.count("diverged")


def failures_among(statuses) -> str:
    """describe_failures for some runs' statuses (a configuration's seeds, a rate's seeds)."""
    statuses = list(statuses)
    return describe_failures(*failure_counts(statuses), len(statuses))


def describe_failures(stuck: int, diverged: int, seeds: int) -> str:
    """"2 of 3 seeds stuck at chance", "1 of 5 seeds diverged", or both; "" when none failed."""
    parts = [f"{n} of {seeds} seeds {what}" for n, what in ((stuck, "stuck at chance"), (diverged, "diverged")) if n]
    return "; ".join(parts)
