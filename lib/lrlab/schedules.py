"""Learning-rate schedules: each one a plain formula (what the report and the tests read) and the Keras object
that applies it during `fit`.

Epochs are 0-based, as Keras passes them to `LearningRateScheduler`; `t` is the optimizer's iteration count
(batches seen so far), as Keras 2's `decay=` argument used it.
"""

import math


def constant(epoch, lr0):
    return lr0


def time_based_decay(t, lr0, decay):
    """Keras 2's `decay=`: lr = lr0 / (1 + decay * t), updated every batch."""
    return lr0 / (1.0 + decay * t)


def step_decay(epoch, lr0, drop, epochs_drop):
    return lr0 * math.pow(drop, math.floor((1 + epoch) / epochs_drop))


def exponential_decay(epoch, lr0, k):
    return lr0 * math.exp(-k * epoch)


# name -> (formula, whether it advances per batch rather than per epoch)
FORMULAS = {
    "constant": (constant, False),
    "time_based_decay": (time_based_decay, True),
    "step_decay": (step_decay, False),
    "exponential_decay": (exponential_decay, False),
}


def _params(schedule: dict) -> dict:
    return {k: v for k, v in schedule.items() if k != "name"}


def lr_at(schedule: dict, epoch: int, steps_per_epoch: int) -> float:
    """The learning rate the first batch of `epoch` (0-based) gets under `schedule`."""
    formula, per_batch = FORMULAS[schedule["name"]]
    return formula(epoch * steps_per_epoch if per_batch else epoch, **_params(schedule))


def keras_learning_rate(schedule: dict):
    """What to pass as the optimizer's `learning_rate`: a float, or a per-batch Keras schedule."""
    import keras

    p = _params(schedule)
    if schedule["name"] == "time_based_decay":
        # InverseTimeDecay with decay_steps=1 is exactly lr0 / (1 + decay * t)
        return keras.optimizers.schedules.InverseTimeDecay(p["lr0"], decay_steps=1, decay_rate=p["decay"])
    return float(p["lr0"])


def keras_callbacks(schedule: dict) -> list:
    """Per-epoch schedules run as Keras's LearningRateScheduler, which sets the rate before each epoch."""
    import keras

    formula, per_batch = FORMULAS[schedule["name"]]
    if per_batch or schedule["name"] == "constant":
        return []
    params = _params(schedule)
    return [keras.callbacks.LearningRateScheduler(lambda epoch, lr: formula(epoch, **params))]


def describe(schedule: dict) -> str:
    p = _params(schedule)
    return {
        "constant": lambda: f"constant lr={p['lr0']:g}",
        "time_based_decay": lambda: f"time-based decay lr0={p['lr0']:g}, decay={p['decay']:g}/batch",
        "step_decay": lambda: f"step decay lr0={p['lr0']:g}, ×{p['drop']:g} every {p['epochs_drop']:g} epochs",
        "exponential_decay": lambda: f"exponential decay lr0={p['lr0']:g}, k={p['k']:g}",
    }[schedule["name"]]()
