"""Learning-rate schedules: each one a plain formula (what the report and the tests read) and the Keras object
that applies it during `fit`.

Epochs are 0-based, as Keras passes them to `LearningRateScheduler`; `t` is the optimizer's iteration count
(batches seen so far), as Keras 2's `decay=` argument used it. The 2017 families are stated per epoch (time-based
decay per batch); the modern ones per batch, with their lengths in batches, so each is exactly the Keras schedule
that runs it. ReduceLROnPlateau has no closed form: `plateau_rates` replays its rule on a run's validation losses.
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


def _cosine(fraction, alpha):
    return (1 - alpha) * 0.5 * (1 + math.cos(math.pi * fraction)) + alpha


def cosine_decay(t, lr0, decay_steps, alpha):
    """Half a cosine from lr0 down to alpha * lr0 over `decay_steps`, flat after (Keras CosineDecay)."""
    return lr0 * _cosine(min(t, decay_steps) / decay_steps, alpha)


def warmup_cosine(t, lr0, initial, warmup_steps, decay_steps, alpha):
    """Linear warm-up from `initial` to lr0 over `warmup_steps`, then cosine decay over `decay_steps` (Keras
    CosineDecay with warmup_target=lr0)."""
    t = min(t, warmup_steps + decay_steps)
    if t < warmup_steps:
        return initial + (lr0 - initial) * t / warmup_steps
    return lr0 * _cosine((t - warmup_steps) / decay_steps, alpha)


def cosine_restarts(t, lr0, first_decay_steps, t_mul, m_mul, alpha):
    """SGDR (Loshchilov & Hutter 2017): cosine cycles, each `t_mul` times longer and `m_mul` times lower than the
    one before, restarting at lr0 · m_mul^i (Keras CosineDecayRestarts)."""
    fraction = t / first_decay_steps
    if t_mul == 1.0:
        i = math.floor(fraction)
        fraction -= i
    else:
        i = math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
        fraction = (fraction - (1.0 - t_mul ** i) / (1.0 - t_mul)) / t_mul ** i
    return lr0 * ((1 - alpha) * m_mul ** i * 0.5 * (1 + math.cos(math.pi * fraction)) + alpha)


def one_cycle(t, lr0, initial, final, warmup_steps, total_steps):
    """One cycle (Smith & Topin 2017): linear from `initial` up to lr0 over `warmup_steps`, then half a cosine
    down to `final` at `total_steps` (Smith and Topin anneal linearly; the cosine anneal is PyTorch's OneCycleLR's
    default)."""
    if t < warmup_steps:
        return initial + (lr0 - initial) * t / warmup_steps
    fraction = min(t - warmup_steps, total_steps - warmup_steps) / (total_steps - warmup_steps)
    return final + (lr0 - final) * 0.5 * (1 + math.cos(math.pi * fraction))


def triangular_cyclical(t, lr0, base, step_size):
    """Triangular cyclical learning rate (Smith 2017): from `base` up to lr0 and back every 2 · step_size."""
    cycle = math.floor(1 + t / (2 * step_size))
    x = abs(t / step_size - 2 * cycle + 1)
    return base + (lr0 - base) * max(0.0, 1 - x)


def polynomial_decay(t, lr0, decay_steps, end, power):
    """(lr0 - end) · (1 - t/decay_steps)^power + end, flat after (Keras PolynomialDecay; power 1 is linear)."""
    return (lr0 - end) * (1 - min(t, decay_steps) / decay_steps) ** power + end


def plateau_rates(val_losses, lr0, factor, patience, min_lr, min_delta=1e-4):
    """The rate of each epoch under ReduceLROnPlateau(monitor="val_loss", cooldown=0): cut by `factor` after
    `patience` epochs without a validation loss below the best by more than `min_delta`, never below min_lr."""
    rates, lr, best, wait = [], lr0, None, 0
    for loss in val_losses:
        rates.append(lr)
        if best is None or loss + min_delta < best:
            best, wait = loss, 0
            continue
        wait += 1
        if wait >= patience:
            if lr > min_lr:
                lr = max(lr * factor, min_lr)
            wait = 0
    return rates


# name -> (formula, whether it advances per batch rather than per epoch)
FORMULAS = {
    "constant": (constant, False),
    "time_based_decay": (time_based_decay, True),
    "step_decay": (step_decay, False),
    "exponential_decay": (exponential_decay, False),
    "cosine_decay": (cosine_decay, True),
    "warmup_cosine": (warmup_cosine, True),
    "cosine_restarts": (cosine_restarts, True),
    "one_cycle": (one_cycle, True),
    "triangular_cyclical": (triangular_cyclical, True),
    "polynomial_decay": (polynomial_decay, True),
}
MODERN = ["cosine_decay", "warmup_cosine", "cosine_restarts", "one_cycle", "triangular_cyclical",
          "polynomial_decay", "reduce_on_plateau"]


def _params(schedule: dict) -> dict:
    return {k: v for k, v in schedule.items() if k != "name"}


def lr_at(schedule: dict, epoch: int, steps_per_epoch: int) -> float:
    """The learning rate the first batch of `epoch` (0-based) gets under `schedule`."""
    formula, per_batch = FORMULAS[schedule["name"]]
    return formula(epoch * steps_per_epoch if per_batch else epoch, **_params(schedule))


def modern_schedules(names, lr0, epochs, steps_per_epoch, final_fraction, warmup_fraction, one_cycle_peak_fraction,
                     cycles, plateau_factor, plateau_patience) -> list:
    """The modern family's schedules for a run of `epochs`, lengths turned into batches. Every schedule peaks at
    lr0, so they compare with each other and with the 2017 families at the same rate."""
    total = epochs * steps_per_epoch
    warmup = max(1, round(warmup_fraction * total))
    end = final_fraction * lr0
    specs = {
        "cosine_decay": {"decay_steps": total, "alpha": final_fraction},
        "warmup_cosine": {"initial": lr0 / 10, "warmup_steps": warmup, "decay_steps": total - warmup,
                          "alpha": final_fraction},
        # cycles of 1, 2, 4, ... units that together fill the run
        "cosine_restarts": {"first_decay_steps": total / (2 ** cycles - 1), "t_mul": 2.0, "m_mul": 1.0,
                            "alpha": final_fraction},
        # PyTorch OneCycleLR's defaults: start at lr0/25, end 10^4 times lower than that
        "one_cycle": {"initial": lr0 / 25, "final": lr0 / 25 / 1e4,
                      "warmup_steps": max(1, round(one_cycle_peak_fraction * total)), "total_steps": total},
        "triangular_cyclical": {"base": lr0 / 10, "step_size": total / (2 * cycles)},
        "polynomial_decay": {"decay_steps": total, "end": end, "power": 1.0},
        "reduce_on_plateau": {"factor": plateau_factor, "patience": plateau_patience, "min_lr": end},
    }
    return [{"name": name, "lr0": lr0} | specs[name] for name in names]


def keras_learning_rate(schedule: dict):
    """What to pass as the optimizer's `learning_rate`: a float, or a per-batch Keras schedule."""
    import keras

    s = keras.optimizers.schedules
    p = _params(schedule)
    name = schedule["name"]
    if name == "time_based_decay":
        # InverseTimeDecay with decay_steps=1 is exactly lr0 / (1 + decay * t)
        return s.InverseTimeDecay(p["lr0"], decay_steps=1, decay_rate=p["decay"])
    if name == "cosine_decay":
        return s.CosineDecay(p["lr0"], decay_steps=p["decay_steps"], alpha=p["alpha"])
    if name == "warmup_cosine":
        return s.CosineDecay(p["initial"], decay_steps=p["decay_steps"], alpha=p["alpha"], warmup_target=p["lr0"],
                             warmup_steps=p["warmup_steps"])
    if name == "cosine_restarts":
        return s.CosineDecayRestarts(p["lr0"], first_decay_steps=p["first_decay_steps"], t_mul=p["t_mul"],
                                     m_mul=p["m_mul"], alpha=p["alpha"])
    if name == "polynomial_decay":
        return s.PolynomialDecay(p["lr0"], decay_steps=p["decay_steps"], end_learning_rate=p["end"],
                                 power=p["power"], cycle=False)
    if name in ("one_cycle", "triangular_cyclical"):
        from .keras_schedules import OneCycle, TriangularCyclical

        return OneCycle(**p) if name == "one_cycle" else TriangularCyclical(**p)
    return float(p["lr0"])


def keras_callbacks(schedule: dict) -> list:
    """Per-epoch schedules run as Keras callbacks, which set the rate before (LearningRateScheduler) or after
    (ReduceLROnPlateau) each epoch."""
    import keras

    p = _params(schedule)
    if schedule["name"] == "reduce_on_plateau":
        return [keras.callbacks.ReduceLROnPlateau(monitor="val_loss", mode="min", factor=p["factor"],
                                                  patience=int(p["patience"]), min_lr=p["min_lr"], min_delta=1e-4,
                                                  cooldown=0)]
    formula, per_batch = FORMULAS[schedule["name"]]
    if per_batch or schedule["name"] == "constant":
        return []
    return [keras.callbacks.LearningRateScheduler(lambda epoch, lr: formula(epoch, **p))]


def describe(schedule: dict) -> str:
    if schedule["name"] == "custom":  # the user's function (lrlab.user_code), or an optimizer's entry alike
        arguments = ", ".join(f"{k}={v}" for k, v in schedule["kwargs"].items())
        return ("your schedule " if schedule["returns"] != "optimizer" else "") + f"{schedule['function']}({arguments})"
    p = _params(schedule)
    lr0 = f"{p['lr0']:g}"
    return {
        "constant": lambda: f"constant lr={lr0}",
        "time_based_decay": lambda: f"time-based decay lr0={lr0}, decay={p['decay']:g}/batch",
        "step_decay": lambda: f"step decay lr0={lr0}, ×{p['drop']:g} every {p['epochs_drop']:g} epochs",
        "exponential_decay": lambda: f"exponential decay lr0={lr0}, k={p['k']:g}",
        "cosine_decay": lambda: f"cosine decay lr0={lr0} to {p['alpha'] * p['lr0']:g}",
        "warmup_cosine": lambda: f"warm-up {p['warmup_steps']:g} batches to {lr0}, then cosine",
        "cosine_restarts": lambda: f"cosine with restarts (SGDR) lr0={lr0}, first cycle {p['first_decay_steps']:g} "
                                   f"batches, ×{p['t_mul']:g}",
        "one_cycle": lambda: f"one-cycle {p['initial']:g} → {lr0} → {p['final']:g}",
        "triangular_cyclical": lambda: f"triangular cyclical {p['base']:g}–{lr0}, half-cycle {p['step_size']:g} "
                                       f"batches",
        "polynomial_decay": lambda: f"linear decay lr0={lr0} to {p['end']:g}",
        "reduce_on_plateau": lambda: f"reduce on plateau lr0={lr0}, ×{p['factor']:g} after {p['patience']:g} "
                                     f"epochs",
    }[schedule["name"]]()
