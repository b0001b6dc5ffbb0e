"""The optimizers, each declared once (`Method`): its name, how it is shown, how Keras builds it with every
argument set explicitly (Keras 3's defaults differ from Keras 2's, and a run's settings must not depend on them),
its default settings, its colour, and what kind of method it is. Every list of methods, notebook parameter,
colour and name in the project derives from `OPTIMIZERS`; adding a method is one `register(Method(...))`, here or
in a module named by LRLAB_PLUGINS (lrlab.plugins)."""

from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Method:
    name: str  # in run configurations, ids and parameters (`adam_lr`)
    display: str  # what a reader sees
    make: Callable  # (settings without the rate, learning_rate) -> a Keras optimizer
    defaults: dict = field(default_factory=dict)  # its settings at their defaults, the learning rate "lr" first
    colour: str = "#7f7f7f"  # its colour in every figure and table (adaptive methods: warm hues)
    # "adaptive": one of the compared methods; "sgd": SGD with momentum, a reference that is SGD, not adaptive
    # (left out of "the best adaptive method"); "baseline": plain SGD, whose rate is the schedules' business
    kind: str = "adaptive"
    classic: bool = False  # one of the 2017 experiment's four
    needs_no: str = ""  # what the method claims to make unnecessary: "schedule" or "learning rate"
    # the implementation's revision, part of its runs' identity (`with_revision`): bumped with any change to the
    # method's code that moves its numbers, so that no run of an earlier revision is reused (a change that moves
    # every method's numbers bumps lrlab.config.NUMERICS_VERSION instead)
    revision: int = 0


CUSTOM_DISPLAY = "your optimizer"  # the custom family's: the user's code, not a registered method

OPTIMIZERS: dict = {}
# Views of the registry as the code and the notebooks read them, kept in step by `register`: each adaptive-family
# method with its default settings (every method but plain SGD), the 2017 four, and every method's display name.
ADAPTIVE_DEFAULTS: dict = {}
CLASSIC_ADAPTIVE: list = []
DISPLAY_NAMES: dict = {"custom": CUSTOM_DISPLAY}


def register(method: Method) -> Method:
    """Add a method to every list, parameter table and figure of the project (before they are read: a plugin
    registers when lrlab.config is first imported)."""
    OPTIMIZERS[method.name] = method
    DISPLAY_NAMES[method.name] = method.display
    if method.kind != "baseline":
        ADAPTIVE_DEFAULTS[method.name] = method.defaults
    if method.classic and method.name not in CLASSIC_ADAPTIVE:
        CLASSIC_ADAPTIVE.append(method.name)
    return method


def _keras():
    import keras

    return keras.optimizers


def _sgd(s, lr, nesterov=False):
    return _keras().SGD(learning_rate=lr, momentum=s["momentum"], nesterov=nesterov)


def _adam_like(cls):
    return lambda s, lr: getattr(_keras(), cls)(learning_rate=lr, beta_1=s["beta_1"], beta_2=s["beta_2"],
                                                epsilon=s["epsilon"])


_BETAS = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8}

# SGD, then the 2017 experiment's four, the references a careful comparison needs (SGD with momentum and with
# Nesterov momentum), and the methods that came after, at the defaults their authors recommend.
for _method in [
    Method("sgd", "SGD", _sgd, {"lr": 0.1, "momentum": 0.0}, "#404040", kind="baseline"),
    # Keras 2 started Adagrad's accumulator at zero; Keras 3 defaults to 0.1
    Method("adagrad", "Adagrad", lambda s, lr: _keras().Adagrad(learning_rate=lr, initial_accumulator_value=0.0,
                                                                 epsilon=s["epsilon"]),
           {"lr": 0.01, "epsilon": 1e-8}, "#d62728", classic=True),
    Method("adadelta", "Adadelta", lambda s, lr: _keras().Adadelta(learning_rate=lr, rho=s["rho"],
                                                                    epsilon=s["epsilon"]),
           {"lr": 1.0, "rho": 0.95, "epsilon": 1e-8}, "#ff7f0e", classic=True),
    Method("rmsprop", "RMSprop", lambda s, lr: _keras().RMSprop(learning_rate=lr, rho=s["rho"], momentum=0.0,
                                                                 epsilon=s["epsilon"], centered=False),
           {"lr": 0.001, "rho": 0.9, "epsilon": 1e-8}, "#8c564b", classic=True),
    Method("adam", "Adam", lambda s, lr: _keras().Adam(learning_rate=lr, beta_1=s["beta_1"], beta_2=s["beta_2"],
                                                        epsilon=s["epsilon"], amsgrad=False),
           {"lr": 0.001, **_BETAS}, "#e377c2", classic=True),
    # SGD with momentum is SGD: cool hues, apart from the grey baseline they are drawn beside
    Method("sgd_momentum", "SGD+momentum", _sgd, {"lr": 0.01, "momentum": 0.9}, "#00bfc4", kind="sgd"),
    Method("sgd_nesterov", "SGD+Nesterov", lambda s, lr: _sgd(s, lr, nesterov=True), {"lr": 0.01, "momentum": 0.9},
           "#003c30", kind="sgd"),
    Method("adamw", "AdamW", lambda s, lr: _keras().AdamW(learning_rate=lr, weight_decay=s["weight_decay"],
                                                           beta_1=s["beta_1"], beta_2=s["beta_2"],
                                                           epsilon=s["epsilon"], amsgrad=False),
           {"lr": 0.001, **_BETAS, "weight_decay": 0.01}, "#bcbd22"),
    Method("nadam", "Nadam", _adam_like("Nadam"), {"lr": 0.002, **_BETAS}, "#e6ab02"),
    Method("adamax", "Adamax", _adam_like("Adamax"), {"lr": 0.002, **_BETAS}, "#7f0000"),
    Method("lion", "Lion", lambda s, lr: _keras().Lion(learning_rate=lr, beta_1=s["beta_1"], beta_2=s["beta_2"]),
           {"lr": 0.0001, "beta_1": 0.9, "beta_2": 0.99}, "#c51b7d"),
]:
    register(_method)


def _algorithms():
    from . import optimizer_algorithms  # imports Keras: only when a run builds one

    return optimizer_algorithms


def _schedule_free(s, lr, adaptive):
    settings = {"beta_1": s["momentum"]} if not adaptive else {"beta_1": s["beta_1"], "beta_2": s["beta_2"],
                                                                 "epsilon": s["epsilon"]}
    return _algorithms().ScheduleFree(learning_rate=lr, weight_decay=s["weight_decay"],
                                      warmup_steps=s["warmup_steps"], r=s["r"],
                                      weight_lr_power=s["weight_lr_power"], adaptive=adaptive, **settings)


def _prodigy(s, lr):
    return _algorithms().Prodigy(learning_rate=lr, beta_1=s["beta_1"], beta_2=s["beta_2"], beta_3=s["beta_3"],
                                 epsilon=s["epsilon"], weight_decay=s["weight_decay"], decouple=bool(s["decouple"]),
                                 use_bias_correction=bool(s["use_bias_correction"]),
                                 safeguard_warmup=bool(s["safeguard_warmup"]), d0=s["d0"], d_coef=s["d_coef"])


def _dadapt_adam(s, lr):
    return _algorithms().DAdaptAdam(learning_rate=lr, beta_1=s["beta_1"], beta_2=s["beta_2"], epsilon=s["epsilon"],
                                    weight_decay=s["weight_decay"], decouple=bool(s["decouple"]),
                                    use_bias_correction=bool(s["use_bias_correction"]), d0=s["d0"])


def _dog(s, lr):
    return _algorithms().DoG(learning_rate=lr, reps_rel=s["reps_rel"], weight_decay=s["weight_decay"],
                             epsilon=s["epsilon"])


# Methods that claim to make the schedule or the learning rate unnecessary (lrlab.optimizer_algorithms, checked
# against their authors' code), at their authors' defaults. Settings are numbers (switches 0 or 1); the one knob
# not in a run's configuration is Prodigy's and D-Adaptation's growth rate, unbounded as the authors' default.
# Revision 1 (2026-12-02): their state's initial values (d0, the initial weights, lr_max) are the variables'
# initializers; before, assigned after creation, they were lost on TensorFlow, where Keras builds the optimizer
# while tracing the first step (Prodigy and D-Adaptation never moved, the schedule-free average started at zero).
_SCHEDULE_FREE = {"weight_decay": 0.0, "warmup_steps": 0.0, "r": 0.0, "weight_lr_power": 2.0}
for _method in [
    Method("schedule_free_adamw", "Schedule-free AdamW", lambda s, lr: _schedule_free(s, lr, adaptive=True),
           {"lr": 0.0025, **_BETAS, **_SCHEDULE_FREE}, "#9467bd", needs_no="schedule", revision=1),
    Method("schedule_free_sgd", "Schedule-free SGD", lambda s, lr: _schedule_free(s, lr, adaptive=False),
           {"lr": 1.0, "momentum": 0.9, **_SCHEDULE_FREE}, "#01665e", kind="sgd", needs_no="schedule", revision=1),
    # β3 = √β2, as the authors' code computes it when given none
    Method("prodigy", "Prodigy", _prodigy,
           {"lr": 1.0, **_BETAS, "beta_3": 0.999 ** 0.5, "weight_decay": 0.0, "decouple": 1.0,
            "use_bias_correction": 0.0, "safeguard_warmup": 0.0, "d0": 1e-6, "d_coef": 1.0}, "#6a3d9a",
           needs_no="learning rate", revision=1),
    Method("dadapt_adam", "D-Adapt Adam", _dadapt_adam,
           {"lr": 1.0, **_BETAS, "weight_decay": 0.0, "decouple": 0.0, "use_bias_correction": 0.0, "d0": 1e-6},
           "#fb9a99", needs_no="learning rate", revision=1),
    Method("dog", "DoG", _dog, {"lr": 1.0, "reps_rel": 1e-6, "weight_decay": 0.0, "epsilon": 1e-8}, "#a6cee3",
           kind="sgd", needs_no="learning rate", revision=1),
]:
    register(_method)
# the project's own methods: any other was registered by a plugin (lrlab.plugins)
BUILT_IN = frozenset(OPTIMIZERS)


def is_sgd(name) -> bool:
    """Whether a method is SGD (plain, or with momentum): not an adaptive method."""
    method = OPTIMIZERS.get(name)
    return method is not None and method.kind in ("baseline", "sgd")


def with_revision(spec: dict) -> dict:
    """A run configuration's optimizer entry: {"name": ..., **settings}, and the method's revision where it has
    one (`Method.revision`)."""
    revision = getattr(OPTIMIZERS.get(spec["name"]), "revision", 0)
    return spec | {"revision": revision} if revision else spec


def build_optimizer(spec: dict, learning_rate):
    """`spec` is the run configuration's optimizer entry: {"name": ..., **settings, maybe "revision"}."""
    name = spec["name"]
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}: choose one of {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name].make({k: v for k, v in spec.items() if k not in ("name", "revision")}, learning_rate)
