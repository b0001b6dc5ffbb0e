"""Every notebook parameter, defined once: its type, the values it accepts, its default and its one-line doc.

The notebooks' `parameters` cells are literal Python, as papermill and JupyterLab need them; `parameters_cell`
writes each from this table and a test checks that the committed cells still agree. `check_parameter` is the one
place a value is checked, by the notebooks and the build alike, so a bad value gets the same one-line error
either way. The settings every run shares (profile, seeds, epochs, ...) resolve into one frozen `Settings`.
"""

import dataclasses
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from . import schedules
from .config import DEFAULT_STEPS_PER_EXECUTION, FAMILIES, MODEL_NAMES, PRECISIONS, PROFILES, PROTOCOLS, \
    default_output_dir
from .optimizers import ADAPTIVE_DEFAULTS, DISPLAY_NAMES
from .tasks import TASKS


class ParameterError(ValueError):
    """A notebook parameter with a wrong type or value: the message names it and says what it accepts."""


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v):
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


def _positive_int(v):
    return _is_int(v) and v > 0


def _positive(v):
    return _is_number(v) and v > 0


def _fraction(v):
    return _is_number(v) and 0 < v < 1


def _unique_list(v):
    """A list without repeats: a repeated seed would pass one run off as two."""
    return isinstance(v, list) and all(isinstance(x, (str, int)) for x in v) and len(set(v)) == len(v)


def _usable_path(v) -> bool:
    """A path the build can resolve: not empty, no NUL byte, and a leading ~user that names a user."""
    try:
        Path(v).expanduser().resolve()
    except (ValueError, RuntimeError, OSError):
        return False
    return v != ""


# a function named by its module and name, e.g. "examples.my_code:warmup_then_cosine" (the custom notebook's)
IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def _keyword_arguments(v):
    """A mapping of names to plain values, stored as JSON in a run's configuration."""
    try:
        json.dumps(v, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return isinstance(v, dict) and all(isinstance(k, str) and k.isidentifier() for k in v)


@dataclass(frozen=True)
class Parameter:
    name: str
    type: type
    test: object  # value -> bool
    accepts: str  # what the error message says it accepts
    example: str
    doc: str = ""
    default: object = None  # the notebooks' default (None: the profile's, for a setting)
    setting: bool = False  # shared by every run of a build and filled in from the profile when None


def _p(name, type_, test, accepts, example, doc="", default=None, setting=False):
    return Parameter(name, type_, test, accepts, example, doc, default, setting)


_TABLE = [
    _p("profile", str, lambda v: isinstance(v, str) and v in PROFILES, f"one of {', '.join(PROFILES)}", "paper",
       f"{' | '.join(PROFILES)}; fills in every parameter left at None", "paper", True),
    _p("seeds", list, lambda v: _unique_list(v) and len(v) > 0 and all(_is_int(s) and s >= 0 for s in v),
       "a non-empty list of distinct non-negative integers", "[0,1,2]",
       "one run per seed (None: the profile's; paper [0, 1, 2], study [0, ..., 4])", setting=True),
    _p("epochs", int, _positive_int, "a positive integer", "100",
       "epochs per run (None: the profile's; paper 100, study 15)", setting=True),
    _p("batch_size", int, _positive_int, "a positive integer", "64",
       "examples per batch: images, or windows of text (None: the profile's; 64)", setting=True),
    _p("data_path", str, lambda v: isinstance(v, str) and v != "",
       "a path to the task's data (cifar-10-python.tar.gz or its folder, tinyshakespeare.txt), or 'synthetic'",
       "/data/cifar-10-python.tar.gz",
       'the task\'s data: cifar-10-python.tar.gz or its folder, tinyshakespeare.txt, or "synthetic" (None: '
       '$LRLAB_CIFAR10, else download; $LRLAB_SHAKESPEARE)',
       setting=True),
    _p("output_dir", str, lambda v: isinstance(v, str) and _usable_path(v), "a directory path (no NUL byte; a "
       "~user that exists)", "outputs",
       "where runs go (None: the project's outputs/)", setting=True),
    _p("steps_per_execution", int, _positive_int, "a positive integer", "16",
       "batches per compiled call: speed only, results unchanged (None: 16)", setting=True),
    _p("force", bool, lambda v: isinstance(v, bool), "True or False", "True",
       "retrain runs even when a completed copy is stored", False, True),
    _p("protocol", str, lambda v: isinstance(v, str) and v in PROTOCOLS,
       "holdout (validate on a split of the training set) or seed (validate on the test set, as in 2017)", "holdout",
       "holdout: validate on a split of the training set | seed: on the test set, as in 2017 (None: the profile's; "
       "paper seed, others holdout)", setting=True),
    _p("data_seed", int, lambda v: _is_int(v) and v >= 0, "a non-negative integer", "0",
       "which validation split, for protocol holdout (None: the profile's; 0)", setting=True),
    _p("task", str, lambda v: isinstance(v, str) and v in TASKS, f"one of {', '.join(TASKS)}", "shakespeare_char",
       f"what the runs learn: {' | '.join(TASKS)} (None: the profile's; full cifar10, shakespeare "
       "shakespeare_char, others cifar_catdog)", setting=True),
    _p("model", str, lambda v: isinstance(v, str) and v in MODEL_NAMES, f"one of {', '.join(MODEL_NAMES)}", "vgg_bn",
       f"{' | '.join(MODEL_NAMES)} (None: the task's own network)", setting=True),
    _p("precision", str, lambda v: isinstance(v, str) and v in PRECISIONS, f"one of {', '.join(PRECISIONS)}",
       "mixed_bfloat16", "float32 | mixed_bfloat16 | mixed_float16: 16-bit arithmetic changes the numbers, so its "
       "runs are new runs (None: the profile's, float32)", setting=True),
    _p("optimizers", list, lambda v: _unique_list(v) and len(v) > 0 and all(o in ADAPTIVE_DEFAULTS for o in v),
       f"a non-empty list of distinct names from {', '.join(ADAPTIVE_DEFAULTS)}", '["adam","rmsprop"]',
       f"which methods, from {', '.join(ADAPTIVE_DEFAULTS)} (None: the profile's; paper the 2017 four, smoke "
       f"{len(PROFILES['smoke']['optimizers'])}, shakespeare {len(PROFILES['shakespeare']['optimizers'])}, study and "
       f"full all {len(ADAPTIVE_DEFAULTS)})", setting=True),
    # odd, so the default rate is on the grid and its runs are the constant and adaptive families' runs
    _p("lr_grid_points", int, lambda v: _is_int(v) and v >= 3 and v % 2 == 1, "an odd integer ≥ 3", "5",
       "learning rates per method (None: the profile's; 5, smoke 3)", setting=True),
    _p("swept_schedules", list, lambda v: _unique_list(v) and all(n in schedules.sweepable() for n in v),
       f"a list of distinct names from {', '.join(schedules.sweepable())}", '["step_decay","cosine_decay"]',
       "schedules whose peak rate the sweep tunes, with SGD at the constant family's momentum (None: the "
       "profile's; study and full all, smoke cosine, paper none)", setting=True),
    _p("range_test_steps", int, lambda v: _is_int(v) and v >= 10, "an integer ≥ 10", "300",
       "batches per test (None: the profile's; study and full 1000, smoke 20)", setting=True),
    _p("families", list, lambda v: _unique_list(v) and len(v) > 0 and all(f in FAMILIES for f in v),
       f"a non-empty list of distinct names from {', '.join(FAMILIES)}", '["constant","adaptive"]',
       "family notebooks whose runs to include (None: the profile's)", setting=True),
    # the families' own parameters
    _p("lr", float, _positive, "a positive number", "0.1", "SGD learning rate, the same in every epoch", 0.1),
    _p("lr0", float, _positive, "a positive number", "0.1", "initial SGD learning rate", 0.1),
    _p("momentum", float, lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)", "0.9", "SGD momentum", 0.0),
    _p("decay", float, lambda v: _is_number(v) and v >= 0, "a non-negative number (per batch)",
       "0.001", "decay per batch (None: lr0 / epochs, as in 2017)"),
    _p("drop", float, lambda v: _is_number(v) and 0 < v <= 1, "a number in (0, 1]", "0.5",
       "factor applied at each step", 0.5),
    _p("epochs_drop", float, lambda v: _is_number(v) and v >= 1, "a number of epochs ≥ 1", "10",
       "epochs between steps", 10),
    _p("k", float, lambda v: _is_number(v) and v >= 0, "a non-negative number", "0.1", "decay rate per epoch", 0.1),
    _p("schedules", list, lambda v: _unique_list(v) and len(v) > 0 and all(n in schedules.MODERN for n in v),
       f"a non-empty list of distinct names from {', '.join(schedules.MODERN)}", '["cosine_decay"]',
       "which schedules to run", list(schedules.MODERN)),
    _p("budgets", list, lambda v: _unique_list(v) and len(v) > 0 and all(_positive_int(b) for b in v),
       "a non-empty list of distinct positive numbers of epochs", "[15,45]",
       "epoch budgets to compare the 2017 eight and three modern schedules at, e.g. [15, 45] (None: no budget "
       "comparison)"),
    _p("budget_schedules", list, lambda v: _unique_list(v) and len(v) > 0 and all(n in schedules.MODERN for n in v),
       f"a non-empty list of distinct names from {', '.join(schedules.MODERN)}",
       '["triangular_cyclical","one_cycle","cosine_decay","wsd"]',
       "modern schedules in the budget comparison: the study's best three at 15 epochs, and WSD (wsd, wsd_linear, "
       "wsd_cosine: cooldowns branched from one trunk)",
       ["triangular_cyclical", "one_cycle", "cosine_decay", "wsd"]),
    _p("final_fraction", float, lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)", "0.01",
       "where cosine, linear and restart cycles end, as a fraction of lr0", 0.01),
    _p("warmup_fraction", float, _fraction, "a number in (0, 1)", "0.05", "warm-up's share of the run "
       "(warm-up + cosine, WSD, linear to zero)", 0.05),
    _p("one_cycle_peak_fraction", float, _fraction, "a number in (0, 1)", "0.3",
       "where one-cycle peaks, as a share of the run", 0.3),
    _p("cycles", int, _positive_int, "a positive integer", "3",
       "cycles per run: restarts (lengths 1, 2, 4, ...) and triangular cycles", 3),
    _p("cooldown_fraction", float, _fraction, "a number in (0, 1)", "0.2",
       "WSD: the cooldown's share of the run (Hägele et al. 2024: 20% matches cosine)", 0.2),
    _p("plateau_factor", float, _fraction, "a number in (0, 1)", "0.5",
       "ReduceLROnPlateau: factor applied on a plateau", 0.5),
    _p("plateau_patience", int, _positive_int, "a positive integer", "3",
       "ReduceLROnPlateau: epochs without a better validation loss before a cut", 3),
    _p("lr_grid_span", float, lambda v: _is_number(v) and v > 1,
       "a number > 1 (the grid runs from lr/span to lr·span)", "10",
       "the grid runs from default/span to default·span, evenly on a log scale", 10.0),
    _p("sgd_lr", float, _positive, "a positive number", "0.1", "SGD's default rate: the constant family's", 0.1),
    _p("range_min", float, _positive, "a positive number", "1e-6", "the rate the test starts at", 1e-6),
    _p("range_max", float, _positive, "a positive number", "10",
       "the rate it would reach at its last batch; it stops earlier once the loss climbs", 10.0),
    # the custom notebook's: your code, imported by path (lrlab.user_code)
    _p("schedule", str, lambda v: isinstance(v, str) and IMPORT_PATH.match(v) is not None,
       "an import path 'package.module:function'", "examples.my_code:warmup_then_cosine",
       "your schedule: a function returning a LearningRateSchedule or a Keras callback, trained with SGD (None: "
       "a constant rate)"),
    _p("schedule_kwargs", dict, _keyword_arguments, "a mapping of names to values", "{warmup_epochs: 2}",
       "your own keyword arguments for the schedule function", {}),
    _p("optimizer", str, lambda v: isinstance(v, str) and IMPORT_PATH.match(v) is not None,
       "an import path 'package.module:function'", "examples.my_code:adam_with_clipping",
       "your optimizer: a function returning a keras.optimizers.Optimizer (None: SGD)"),
    _p("optimizer_kwargs", dict, _keyword_arguments, "a mapping of names to values", "{clipnorm: 1.0}",
       "your own keyword arguments for the optimizer function", {}),
    # compare.ipynb's
    _p("failed_notebooks", list, lambda v: isinstance(v, list) and all(isinstance(f, str) for f in v),
       "a list of notebook names", '["step_decay"]', "family notebooks that failed in this build (set by "
       "build_report.py)", []),
    _p("confidence", float, _fraction, "a number in (0, 1)", "0.95", "level of every confidence interval and band",
       0.95),
    _p("across_profiles", list, lambda v: _unique_list(v) and all(p in PROFILES for p in v),
       f"a list of distinct profile names from {', '.join(PROFILES)}", '["paper"]',
       "profiles of other tasks whose stored runs (in the same output folder) this report compares with: does the "
       "ranking hold across tasks?", []),
    _p("target_fraction", float, lambda v: _is_number(v) and 0 < v <= 1, "a number in (0, 1]", "0.95",
       "time to target: this fraction of the best mean validation accuracy (a loss: this much above the lowest)",
       0.95),
]
_BETA = {"rho": "decay of the squared-gradient average", "beta_1": "decay of the first moment",
         "beta_2": "decay of the second moment", "momentum": "momentum",
         "beta_3": "decay of the step-size estimate's sums"}
# the other settings of the schedule-free and learning-rate-free methods (switches are 1 or 0)
_SETTING_DOCS = {
    "warmup_steps": "steps of linear warm-up, inside the optimizer",
    "r": "power of the step count in the average's weights",
    "weight_lr_power": "power of the rate in the average's weights",
    "decouple": "1: weight decay decoupled (AdamW's), 0: added to the gradient",
    "use_bias_correction": "1: Adam's bias correction in the step size (the authors' default: 0)",
    "safeguard_warmup": "1: the rate left out of the step-size denominator early on",
    "d0": "first estimate of the step size", "d_coef": "multiplier of the estimated step size",
    "reps_rel": "first step's distance, relative to 1 + the initial weights' norm"}
for _opt, _defaults in ADAPTIVE_DEFAULTS.items():
    _name = DISPLAY_NAMES[_opt]
    for _key, _value in _defaults.items():
        if _key == "lr":
            _TABLE.append(_p(f"{_opt}_lr", float, _positive, "a positive number", str(_value),
                             f"{_name} learning rate", _value))
        elif _key == "epsilon":
            _TABLE.append(_p(f"{_opt}_epsilon", float, _positive, "a positive number", "1e-8", f"{_name} epsilon",
                             _value))
        elif _key == "weight_decay":
            _TABLE.append(_p(f"{_opt}_weight_decay", float, lambda v: _is_number(v) and v >= 0,
                             "a non-negative number", "0.01", f"{_name} weight decay", _value))
        elif _key in _BETA:
            _TABLE.append(_p(f"{_opt}_{_key}", float, lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)",
                             str(_value), f"{_name} {_BETA[_key]}", _value))
        else:  # a method's own setting (and a plugin's): any finite number
            _TABLE.append(_p(f"{_opt}_{_key}", float, _is_number, "a finite number", str(_value),
                             f"{_name} {_SETTING_DOCS.get(_key, _key)}", _value))
PARAMETERS = {p.name: p for p in _TABLE}
SETTINGS = [p.name for p in _TABLE if p.setting]

# What each notebook takes, in its cell's order: a name, or (name, default, doc) where the notebook's own
# default or doc differs from the table's (the 2017 momentum of each schedule family, for one).
_RUN_SETTINGS = ["profile", "task", "seeds", "epochs", "batch_size", "data_path", "output_dir",
                 "steps_per_execution", "force", "protocol", "data_seed", "model", "precision"]
_SAME_MOMENTUM = "SGD momentum: the constant family's"
NOTEBOOKS = {
    "constant": _RUN_SETTINGS + ["lr", "momentum"],
    "time_based_decay": _RUN_SETTINGS + ["lr0", "decay", ("momentum", 0.8, "SGD momentum")],
    "step_decay": _RUN_SETTINGS + ["lr0", "drop", "epochs_drop", ("momentum", 0.5, "SGD momentum")],
    "exponential_decay": _RUN_SETTINGS + ["lr0", "k", ("momentum", 0.8, "SGD momentum")],
    "modern_schedules": _RUN_SETTINGS + [
        "schedules", ("lr0", 0.1, "the peak SGD learning rate every schedule is built around"),
        ("momentum", 0.0, "SGD momentum, as in the constant family, so the two compare"), "final_fraction",
        "warmup_fraction", "one_cycle_peak_fraction", "cycles", "cooldown_fraction", "plateau_factor",
        "plateau_patience"],
    "adaptive": _RUN_SETTINGS + ["optimizers"] + [f"{o}_{k}" for o, d in ADAPTIVE_DEFAULTS.items() for k in d],
    "lr_sensitivity": _RUN_SETTINGS + [
        ("optimizers", None, "adaptive methods to sweep besides SGD (None: the profile's)"), "swept_schedules",
        "lr_grid_points",
        "lr_grid_span", "sgd_lr", ("momentum", 0.0, _SAME_MOMENTUM)],
    "lr_range_test": _RUN_SETTINGS + [
        ("optimizers", None, "adaptive methods to test besides SGD (None: the profile's)"), "range_test_steps",
        "range_min", "range_max", ("momentum", 0.0, _SAME_MOMENTUM)],
    "budget": _RUN_SETTINGS + ["budgets", "budget_schedules"],
    "custom": _RUN_SETTINGS + [
        "schedule", "schedule_kwargs", "optimizer", "optimizer_kwargs",
        ("lr0", 0.1, "the base rate your functions get as lr0: the constant family's, so the baselines compare"),
        ("momentum", 0.0, "SGD momentum under your schedule: the constant family's")],
    "compare": [("profile", "paper", f"{' | '.join(PROFILES)}: which profile's runs to compare"),
                ("output_dir", None, "where the runs are (None: the project's outputs/)"), "families",
                "failed_notebooks", "confidence", "target_fraction", "across_profiles"],
}


def notebook_parameters(notebook) -> dict:
    """{name: (Parameter, default, doc)} for `notebook`, in its cell's order."""
    found = {}
    for entry in NOTEBOOKS[notebook]:
        name, *own = (entry,) if isinstance(entry, str) else entry
        parameter = PARAMETERS[name]
        default, doc = own if own else (parameter.default, parameter.doc)
        found[name] = (parameter, default, doc)
    return found


def parameters_cell(notebook) -> str:
    """The notebook's `parameters` cell, as committed: one typed, documented line per parameter."""
    return "\n".join(f"{name}: {parameter.type.__name__} = {_literal(default)}  # {doc}"
                     for name, (parameter, default, doc) in notebook_parameters(notebook).items())


def _literal(value) -> str:
    return json.dumps(value) if isinstance(value, (str, list, dict)) else repr(value)


def check_parameter(name, value):
    """Raise ParameterError (one line: what is wrong, how to fix it) unless `value` suits parameter `name`."""
    if name not in PARAMETERS:
        raise ParameterError(f"unknown parameter {name!r}")
    parameter = PARAMETERS[name]
    if value is None and (parameter.setting and name not in ("profile", "force") or parameter.default is None):
        return value  # None: the profile's value, or the notebook's documented meaning of None
    if not parameter.test(value):
        raise ParameterError(f"parameter {name}={value!r} is invalid: expected {parameter.accepts}, "
                             f"e.g. {name}={parameter.example}")
    return value


def check_parameters(params: dict) -> dict:
    return {name: check_parameter(name, value) for name, value in params.items()}


@dataclass(frozen=True)
class Settings:
    """What every run of a build shares: the profile's values with the user's overrides, checked."""
    profile: str
    output_dir: str
    steps_per_execution: int
    force: bool
    task: str
    seeds: list
    epochs: int
    batch_size: int
    data_path: str | None
    protocol: str
    data_seed: int
    validation_fraction: float
    model: str
    precision: str
    optimizers: list
    lr_grid_points: int
    swept_schedules: list
    range_test_steps: int
    families: list

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)

    @property
    def classes(self) -> list:
        """The CIFAR-10 classes the task keeps ([] for a task whose data decide: a text's alphabet)."""
        return TASKS[self.task].classes


def resolve_settings(profile, output_dir=None, steps_per_execution=None, force=False, **given) -> Settings:
    """The settings a build or a notebook runs with: the profile's values, overridden by those given (None: the
    profile's). `given` takes any setting, e.g. seeds=[0, 1], epochs=10, protocol="seed", optimizers=["adam"]."""
    check_parameters(dict(profile=profile, output_dir=output_dir, steps_per_execution=steps_per_execution,
                          force=force))
    check_parameters({k: v for k, v in given.items() if k not in PROFILES[profile] or k in PARAMETERS})
    known = [*PROFILES[profile], "model"]  # the network is the task's unless given
    unknown = sorted(set(given) - set(known))
    if unknown:  # a notebook parameter, but not one every run shares
        raise ParameterError(f"unknown setting {unknown[0]!r}: a profile sets {', '.join(known)}")
    values = PROFILES[profile] | {k: v for k, v in given.items() if v is not None}
    task = TASKS[values["task"]]
    values.setdefault("model", task.model)
    if values["model"] not in task.networks:
        raise ParameterError(f"model {values['model']!r} does not take {task.name}'s examples: choose one of "
                             f"{', '.join(task.networks)}")
    if values["protocol"] == "seed" and not task.classes:
        raise ParameterError(f"task {task.name} validates on held-out text, not on its test set: use protocol "
                             f"holdout (or a profile other than {profile})")
    values = {k: list(v) if isinstance(v, list) else v for k, v in values.items()}  # never the profile's own lists
    return Settings(profile=profile, output_dir=str(Path(output_dir).expanduser().resolve() if output_dir
                                                    else default_output_dir()),
                    steps_per_execution=steps_per_execution or DEFAULT_STEPS_PER_EXECUTION, force=force, **values)


def notebook_settings(notebook, namespace) -> tuple[Settings, dict]:
    """A notebook's parameters, read from its namespace (the values its `parameters` cell and papermill set),
    checked: the run settings as `Settings`, and the family's own parameters as a dict."""
    # a registered method's settings (lrlab.plugins) have no line in the committed parameters cell: their defaults
    values = check_parameters({name: namespace[name] if name in namespace else default
                               for name, (_, default, _) in notebook_parameters(notebook).items()})
    run = {k: values.pop(k) for k in list(values) if k in SETTINGS}
    settings = resolve_settings(run.pop("profile"), run.pop("output_dir", None), run.pop("steps_per_execution", None),
                                run.pop("force", False), **run)
    return settings, values


if __name__ == "__main__":  # python -m lrlab.parameters: print each notebook's parameters cell
    for _notebook in NOTEBOOKS:
        print(f"# {_notebook}.ipynb\n{parameters_cell(_notebook)}\n")
