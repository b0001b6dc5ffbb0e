"""Learning-rate schedules: each one a plain formula (what the report and the tests read) and the Keras object
that applies it during `fit`.

Epochs are 0-based, as Keras passes them to `LearningRateScheduler`; `t` is the optimizer's iteration count
(batches seen so far), as Keras 2's `decay=` argument used it. The 2017 families are stated per epoch (time-based
decay per batch); the modern ones per batch, with their lengths in batches, so each is exactly the Keras schedule
that runs it. ReduceLROnPlateau has no closed form: `plateau_rates` replays its rule on a run's validation losses.
"""

import math
from dataclasses import dataclass
from typing import Callable


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


# Warm-up–stable–decay (MiniCPM 2024; Hägele et al., NeurIPS 2024): linear warm-up from `initial` to lr0, lr0
# until `decay_start`, then a cooldown to `final` at `total_steps`, flat after. The cooldown's shape maps the
# cooldown's progress f in [0, 1] to a factor from 1 to 0 (timm's WSDLRScheduler names them alike).
COOLDOWNS = {"linear": lambda f: 1 - f, "1-sqrt": lambda f: 1 - math.sqrt(f),
             "cosine": lambda f: 0.5 * (1 + math.cos(math.pi * f))}


def warmup_stable_decay(t, lr0, initial, warmup_steps, decay_start, total_steps, final, cooldown="1-sqrt"):
    if t < warmup_steps:
        return initial + (lr0 - initial) * t / warmup_steps
    if t <= decay_start:
        return lr0
    fraction = min(t - decay_start, total_steps - decay_start) / (total_steps - decay_start)
    return final + (lr0 - final) * COOLDOWNS[cooldown](fraction)


def warmup_constant(t, lr0, initial, warmup_steps):
    """WSD's trunk: its warm-up, then lr0 for good (the cooldowns branch from it: lrlab.train.train_branched)."""
    return warmup_stable_decay(t, lr0, initial, warmup_steps, math.inf, math.inf, lr0)


def _wsd(cooldown):
    def formula(t, lr0, initial, warmup_steps, decay_start, total_steps, final):
        return warmup_stable_decay(t, lr0, initial, warmup_steps, decay_start, total_steps, final, cooldown)
    return formula


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


@dataclass(frozen=True)
class Schedule:
    """One learning-rate schedule, declared once: everything else (the modern family's list, its parameter,
    names in sentences, colours, previews) derives from `SCHEDULES`. Add one with `register(Schedule(...))`, here
    or in a module named by LRLAB_PLUGINS (lrlab.plugins)."""
    name: str
    display: str  # in sentences and legends: "step decay"
    formula: Callable | None  # (t or epoch, lr0, **params) -> rate; None: no closed form (reduce on plateau)
    per_batch: bool  # the formula's first argument: batches seen (True) or the 0-based epoch (False)
    colour: str  # SGD schedules: cool hues
    describe: Callable  # (params) -> the configuration's text: "step decay lr0=0.1, ×0.5 every 10 epochs"
    # the Keras object that applies it per batch: (params) -> LearningRateSchedule; None: a float, or per epoch
    # a LearningRateScheduler callback from the formula
    keras: Callable | None = None
    # modern family only: (lr0, total batches, the family's settings) -> the schedule's parameters besides lr0
    modern_spec: Callable | None = None
    rate_params: tuple = ()  # parameters that are rates, set in proportion to lr0 (a warm-up's start, a floor)


SCHEDULES: dict = {}
MODERN: list = []  # the modern family's schedules, in the order they are shown


def register(schedule: Schedule) -> Schedule:
    """Add a schedule to every list, parameter and figure of the project. One that advances per batch needs the
    Keras schedule that applies it (a float would train at lr0 throughout); one without a closed form must be a
    callback the project knows (reduce on plateau)."""
    if schedule.per_batch and schedule.keras is None:
        raise ValueError(f"schedule {schedule.name!r} advances per batch: give keras=, the Keras schedule that "
                         f"applies it")
    if schedule.formula is None and schedule.name != "reduce_on_plateau":
        raise ValueError(f"schedule {schedule.name!r} has no formula: give its closed form")
    SCHEDULES[schedule.name] = schedule
    if schedule.modern_spec is not None and schedule.name not in MODERN:
        MODERN.append(schedule.name)
    return schedule


def _keras_schedules():
    import keras

    return keras.optimizers.schedules


def _keras_ours(name, **fixed):
    def make(p):
        from . import keras_schedules

        return getattr(keras_schedules, name)(**p, **fixed)
    return make


def _g(x) -> str:
    return f"{x:g}"


for _schedule in [
    Schedule("constant", "constant rate (SGD)", constant, False, "#404040",
             lambda p: f"constant lr={_g(p['lr0'])}"),
    Schedule("time_based_decay", "time-based decay", time_based_decay, True, "#1f77b4",
             lambda p: f"time-based decay lr0={_g(p['lr0'])}, decay={_g(p['decay'])}/batch",
             # InverseTimeDecay with decay_steps=1 is exactly lr0 / (1 + decay * t)
             lambda p: _keras_schedules().InverseTimeDecay(p["lr0"], decay_steps=1, decay_rate=p["decay"]),
             rate_params=("decay",)),  # the 2017 rule sets it to lr0 / epochs
    Schedule("step_decay", "step decay", step_decay, False, "#17becf",
             lambda p: f"step decay lr0={_g(p['lr0'])}, ×{_g(p['drop'])} every {_g(p['epochs_drop'])} epochs"),
    Schedule("exponential_decay", "exponential decay", exponential_decay, False, "#2ca02c",
             lambda p: f"exponential decay lr0={_g(p['lr0'])}, k={_g(p['k'])}"),
    # the modern schedules share panels with each other and with constant-rate SGD: seven hues that stay apart
    Schedule("cosine_decay", "cosine decay", cosine_decay, True, "#2166ac",
             lambda p: f"cosine decay lr0={_g(p['lr0'])} to {_g(p['alpha'] * p['lr0'])}",
             lambda p: _keras_schedules().CosineDecay(p["lr0"], decay_steps=p["decay_steps"], alpha=p["alpha"]),
             lambda lr0, total, f: {"decay_steps": total, "alpha": f["final_fraction"]}),
    Schedule("warmup_cosine", "warm-up + cosine", warmup_cosine, True, "#92c5de",
             lambda p: f"warm-up {_g(p['warmup_steps'])} batches to {_g(p['lr0'])}, then cosine",
             lambda p: _keras_schedules().CosineDecay(p["initial"], decay_steps=p["decay_steps"], alpha=p["alpha"],
                                                      warmup_target=p["lr0"], warmup_steps=p["warmup_steps"]),
             lambda lr0, total, f: {"initial": lr0 / 10, "warmup_steps": f["warmup"],
                                    "decay_steps": total - f["warmup"], "alpha": f["final_fraction"]}, ("initial",)),
    Schedule("cosine_restarts", "cosine with restarts", cosine_restarts, True, "#762a83",
             lambda p: f"cosine with restarts (SGDR) lr0={_g(p['lr0'])}, first cycle {_g(p['first_decay_steps'])} "
                       f"batches, ×{_g(p['t_mul'])}",
             lambda p: _keras_schedules().CosineDecayRestarts(p["lr0"], first_decay_steps=p["first_decay_steps"],
                                                              t_mul=p["t_mul"], m_mul=p["m_mul"], alpha=p["alpha"]),
             # cycles of 1, 2, 4, ... units that together fill the run
             lambda lr0, total, f: {"first_decay_steps": total / (2 ** f["cycles"] - 1), "t_mul": 2.0, "m_mul": 1.0,
                                    "alpha": f["final_fraction"]}),
    Schedule("one_cycle", "one-cycle", one_cycle, True, "#1b9e77",
             lambda p: f"one-cycle {_g(p['initial'])} → {_g(p['lr0'])} → {_g(p['final'])}", _keras_ours("OneCycle"),
             # PyTorch OneCycleLR's defaults: start at lr0/25, end 10^4 times lower than that
             lambda lr0, total, f: {"initial": lr0 / 25, "final": lr0 / 25 / 1e4,
                                    "warmup_steps": max(1, round(f["one_cycle_peak_fraction"] * total)),
                                    "total_steps": total}, ("initial", "final")),
    Schedule("triangular_cyclical", "triangular cyclical", triangular_cyclical, True, "#a6d96a",
             lambda p: f"triangular cyclical {_g(p['base'])}–{_g(p['lr0'])}, half-cycle {_g(p['step_size'])} batches",
             _keras_ours("TriangularCyclical"),
             lambda lr0, total, f: {"base": lr0 / 10, "step_size": total / (2 * f["cycles"])}, ("base",)),
    Schedule("polynomial_decay", "linear decay", polynomial_decay, True, "#c2a5cf",
             lambda p: f"linear decay lr0={_g(p['lr0'])} to {_g(p['end'])}",
             lambda p: _keras_schedules().PolynomialDecay(p["lr0"], decay_steps=p["decay_steps"],
                                                          end_learning_rate=p["end"], power=p["power"], cycle=False),
             lambda lr0, total, f: {"decay_steps": total, "end": f["final_fraction"] * lr0, "power": 1.0},
             ("end",)),
    # WSD: the cooldown takes the run's last cooldown_fraction, down to zero as Hägele et al. decay; linear decay
    # to zero (Bergsma et al., ICLR 2025) is the same warm-up followed by a cooldown that starts at once
    *[Schedule(name, display, _wsd(cooldown), True, colour,
               lambda p, d=display: f"{d}: warm-up {_g(p['warmup_steps'])} batches to {_g(p['lr0'])}, cooldown "
                                    f"from batch {_g(p['decay_start'])} to {_g(p['final'])} at {_g(p['total_steps'])}",
               _keras_ours("WarmupStableDecay", cooldown=cooldown),
               lambda lr0, total, f: {"initial": 0.0, "warmup_steps": f["warmup"],
                                      "decay_start": max(f["warmup"], total - round(f["cooldown_fraction"] * total)),
                                      "total_steps": total, "final": 0.0}, ("initial", "final"))
      for name, display, cooldown, colour in [("wsd", "WSD (1−sqrt cooldown)", "1-sqrt", "#08519c"),
                                              ("wsd_linear", "WSD (linear cooldown)", "linear", "#6baed6"),
                                              ("wsd_cosine", "WSD (cosine cooldown)", "cosine", "#3f007d")]],
    Schedule("linear_to_zero", "linear decay to zero", _wsd("linear"), True, "#b2abd2",
             lambda p: f"warm-up {_g(p['warmup_steps'])} batches to {_g(p['lr0'])}, then linear to zero",
             _keras_ours("WarmupStableDecay", cooldown="linear"),
             lambda lr0, total, f: {"initial": 0.0, "warmup_steps": f["warmup"], "decay_start": f["warmup"],
                                    "total_steps": total, "final": 0.0}, ("initial", "final")),
    # the trunk the WSD cooldowns of the budget comparison branch from; the very Keras object WSD's stable phase is
    # (a cooldown that never comes), so a branch continues the trunk's optimizer as it is
    Schedule("warmup_constant", "warm-up + constant (WSD without a cooldown)", warmup_constant, True, "#969696",
             lambda p: f"warm-up {_g(p['warmup_steps'])} batches to {_g(p['lr0'])}, then constant",
             lambda p: _keras_ours("WarmupStableDecay", cooldown="linear", decay_start=2.0 ** 40,
                                   total_steps=2.0 ** 41)(p | {"final": p["lr0"]}), rate_params=("initial",)),
    Schedule("reduce_on_plateau", "reduce on plateau", None, False, "#4d9221",
             lambda p: f"reduce on plateau lr0={_g(p['lr0'])}, ×{_g(p['factor'])} after {_g(p['patience'])} epochs",
             modern_spec=lambda lr0, total, f: {"factor": f["plateau_factor"], "patience": f["plateau_patience"],
                                                "min_lr": f["final_fraction"] * lr0}, rate_params=("min_lr",)),
]:
    register(_schedule)

# the schedules the budget comparison trains as cooldowns branched from one trunk (Hägele et al. 2024)
WSD_SCHEDULES = ["wsd", "wsd_linear", "wsd_cosine"]

# Schedules whose peak rate a sweep can tune (a closed form: reduce on plateau has none): the 2017 three, then the
# modern family's.
CLASSIC_SCHEDULES = ["time_based_decay", "step_decay", "exponential_decay"]


def sweepable() -> list:
    return CLASSIC_SCHEDULES + [name for name in MODERN if SCHEDULES[name].formula is not None]


CUSTOM_DISPLAY = "your schedule"  # the custom family's: the user's code, not a registered schedule
CUSTOM_COLOUR = "#d95f02"


def display_name(name) -> str:
    """"step decay" for a schedule's name; "your schedule" for the user's."""
    return CUSTOM_DISPLAY if name == "custom" else SCHEDULES[name].display if name in SCHEDULES else name


def shape(schedule: dict) -> dict | None:
    """What a schedule is apart from its peak rate: its parameters without lr0, its rates as fractions of lr0.
    Runs of one shape at several peak rates can train side by side, each tower at its own (train.per_tower_rates);
    None where the schedule has no closed form here (reduce on plateau, the user's)."""
    entry = SCHEDULES.get(schedule["name"])
    if entry is None or entry.formula is None:
        return None
    lr0 = schedule["lr0"]
    return {k: round(v / lr0, 12) if k in entry.rate_params else v for k, v in schedule.items() if k != "lr0"}


def _params(schedule: dict) -> dict:
    return {k: v for k, v in schedule.items() if k != "name"}


def lr_at(schedule: dict, epoch: int, steps_per_epoch: int) -> float:
    """The learning rate the first batch of `epoch` (0-based) gets under `schedule`."""
    entry = SCHEDULES[schedule["name"]]
    return entry.formula(epoch * steps_per_epoch if entry.per_batch else epoch, **_params(schedule))


def has_formula(name) -> bool:
    return name in SCHEDULES and SCHEDULES[name].formula is not None


def modern_schedules(names, lr0, epochs, steps_per_epoch, final_fraction, warmup_fraction, one_cycle_peak_fraction,
                     cycles, plateau_factor, plateau_patience, cooldown_fraction=0.2) -> list:
    """The modern family's schedules for a run of `epochs`, lengths turned into batches. Every schedule peaks at
    lr0, so they compare with each other and with the 2017 families at the same rate."""
    total = epochs * steps_per_epoch
    family = {"final_fraction": final_fraction, "warmup": max(1, round(warmup_fraction * total)),
              "one_cycle_peak_fraction": one_cycle_peak_fraction, "cycles": cycles, "plateau_factor": plateau_factor,
              "plateau_patience": plateau_patience, "cooldown_fraction": cooldown_fraction}
    return [{"name": name, "lr0": lr0} | SCHEDULES[name].modern_spec(lr0, total, family) for name in names]


def keras_learning_rate(schedule: dict):
    """What to pass as the optimizer's `learning_rate`: a float, or a per-batch Keras schedule."""
    entry = SCHEDULES[schedule["name"]]
    return entry.keras(_params(schedule)) if entry.keras is not None else float(schedule["lr0"])


def keras_callbacks(schedule: dict) -> list:
    """Per-epoch schedules run as Keras callbacks, which set the rate before (LearningRateScheduler) or after
    (ReduceLROnPlateau) each epoch."""
    import keras

    p = _params(schedule)
    if schedule["name"] == "reduce_on_plateau":
        return [keras.callbacks.ReduceLROnPlateau(monitor="val_loss", mode="min", factor=p["factor"],
                                                  patience=int(p["patience"]), min_lr=p["min_lr"], min_delta=1e-4,
                                                  cooldown=0)]
    entry = SCHEDULES[schedule["name"]]
    if entry.per_batch or entry.keras is not None or schedule["name"] == "constant":
        return []
    return [keras.callbacks.LearningRateScheduler(lambda epoch, lr: entry.formula(epoch, **p))]


def describe(schedule: dict) -> str:
    if schedule["name"] == "custom":  # the user's function (lrlab.user_code), or an optimizer's entry alike
        arguments = ", ".join(f"{k}={v}" for k, v in schedule["kwargs"].items())
        return ("your schedule " if schedule["returns"] != "optimizer" else "") + f"{schedule['function']}({arguments})"
    return SCHEDULES[schedule["name"]].describe(_params(schedule))
