"""Which runs failed, and how. A run is judged from its history alone, so runs stored before a rule existed are
judged by it too. The rule reads the training loss, not one lucky validation epoch:

- `diverged`: its training loss became NaN or infinite (training stopped there).
- `did_not_learn`: no epoch's training loss fell clearly below the loss of guessing, ln(classes), with its
  training accuracy clearly above chance.
- `collapsed`: it learned, then its last epoch's training accuracy was a guess's again ("fell back to chance").
- `completed`: none of these. Only these are "healthy": means, intervals and differences are taken over them,
  and a configuration's failed seeds are counted beside its numbers, never averaged in.

"Clearly" is derived from the training set and the noise of a guess. A classifier that has learned nothing is
right on 1/C of the n training images, give or take sqrt(p (1 - p) / n) with p = 1/C; three of those standard
errors above chance is the least accuracy that is evidence of learning, a* = p + 3 sqrt(p (1 - p) / n). The
cross-entropy of a classifier with accuracy a* that is calibrated (probability a* on its choice, the rest spread
evenly) is H(a*) = -a* ln a* - (1 - a*) ln((1 - a*) / (C - 1)). An epoch shows learning when its training
accuracy reaches a* and its mean training loss is below H(a*): the loss alone can dip below the line by being
confident on a few images, and the accuracy alone can rise while the loss says the model is guessing. Cat vs
dog on 8,000 training images: ln 2 = 0.69315, a* = 51.7%, line 0.69258; on the 2017 protocol's 10,000 images
51.5% and 0.69270. On the published study this separates the runs that guessed for all 15 epochs (lowest loss
0.6921 to 0.6964, training accuracy at most 51.5%) from the slowest learners (loss 0.6913 or lower, training
accuracy 53.5% or more, validation accuracy 56-63%).
"""

import math

import numpy as np
import pandas as pd

HEALTHY = "completed"
FAILED = ("did_not_learn", "collapsed", "diverged")
# what a reader is told about a failed seed, everywhere one is left out
FAILURE_TEXT = {"did_not_learn": "did not learn", "collapsed": "learned, then fell back to chance",
                "diverged": "diverged"}


def nan_epochs(history: pd.DataFrame) -> pd.Series:
    """Epochs whose training loss is not finite: one is enough for the run to count as diverged."""
    return ~np.isfinite(history["loss"])


def guessing_loss(n_classes: int) -> float:
    """The cross-entropy of a uniform guess: ln(classes)."""
    return math.log(n_classes)


def evidence_accuracy(n_classes: int, n_train: int) -> float:
    """The least training accuracy that is evidence of learning: chance plus three standard errors of a guess."""
    p = 1.0 / n_classes
    return min(1.0, p + 3 * math.sqrt(p * (1 - p) / max(1, n_train)))


def learned_loss(n_classes: int, n_train: int) -> float:
    """The training loss a run must fall below to count as having learned (see the module's docstring)."""
    a = evidence_accuracy(n_classes, n_train)
    rest = 0.0 if a >= 1 else -(1 - a) * math.log((1 - a) / (n_classes - 1))
    return -a * math.log(a) + rest


def learning_epochs(history: pd.DataFrame, n_classes: int, n_train: int) -> np.ndarray:
    """Which epochs show learning: training accuracy at least a* and training loss below H(a*)."""
    return ((history["accuracy"].to_numpy(dtype=float) >= evidence_accuracy(n_classes, n_train))
            & (history["loss"].to_numpy(dtype=float) < learned_loss(n_classes, n_train)))


def run_status(history: pd.DataFrame, n_classes: int, n_train: int) -> str:
    if nan_epochs(history).any():
        return "diverged"
    learning = learning_epochs(history, n_classes, n_train)
    if not learning.any():
        return "did_not_learn"
    # back at chance: the last epoch's accuracy is a guess's again (a loss spike alone, at a good accuracy, is not)
    if history["accuracy"].iloc[-1] < evidence_accuracy(n_classes, n_train):
        return "collapsed"
    return HEALTHY


def failure_counts(statuses) -> dict:
    """{failed status: number of runs} among some runs' statuses, in FAILED's order, zeros included."""
    statuses = list(statuses)
    return {status: statuses.count(status) for status in FAILED}


def healthy_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The rows of `runs` (runs or epochs) whose run is healthy; all of them where runs carry no status."""
    return runs[runs["status"] == HEALTHY] if "status" in runs else runs


def failures_among(statuses) -> str:
    """describe_failures for some runs' statuses (a configuration's seeds, a rate's seeds)."""
    statuses = list(statuses)
    return describe_failures(failure_counts(statuses), len(statuses))


def describe_failures(counts: dict, seeds: int) -> str:
    """"2 of 3 seeds did not learn", "1 of 5 seeds diverged", or several; "" when none failed."""
    return "; ".join(f"{n} of {seeds} seed{'s' if seeds != 1 else ''} {FAILURE_TEXT[status]}"
                     for status, n in counts.items() if n)
