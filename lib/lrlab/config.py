"""Profiles, notebook parameters and run configurations, all as plain data.

A profile fills in the parameters a notebook leaves at None; `check_parameter` is the one place a parameter's
type and range are checked, by the notebooks and by build_report.py alike, so a bad value gets the same one-line
error either way.
"""

import json
import math
from pathlib import Path

from . import schedules
from .optimizers import ADAPTIVE_DEFAULTS, CLASSIC_ADAPTIVE, DISPLAY_NAMES

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CAT, DOG = 3, 5

# Every family notebook, and the 2017 experiment's five.
FAMILIES = ["constant", "time_based_decay", "step_decay", "exponential_decay", "modern_schedules", "adaptive",
            "lr_sensitivity", "lr_range_test"]
CLASSIC_FAMILIES = ["constant", "time_based_decay", "step_decay", "exponential_decay", "adaptive"]

PROFILES = {
    # a generated CIFAR-format dataset: every notebook and feature at tiny sizes, in minutes on 2 cores; what tests
    # and CI run
    "smoke": {"classes": [CAT, DOG], "seeds": [0], "epochs": 2, "batch_size": 64, "data_path": "synthetic",
              "protocol": "holdout", "data_seed": 0, "validation_fraction": 0.2, "model": "seed_cnn",
              "precision": "float32", "optimizers": list(ADAPTIVE_DEFAULTS), "lr_grid_points": 3, "range_test_steps": 20,
              "families": FAMILIES},
    # the 2017 experiment as it was: cat vs dog, validated on the test set, the 2017 families and methods only
    "paper": {"classes": [CAT, DOG], "seeds": [0, 1, 2], "epochs": 100, "batch_size": 64, "data_path": None,
              "protocol": "seed", "data_seed": 0, "validation_fraction": 0.2, "model": "seed_cnn",
              "precision": "float32", "optimizers": CLASSIC_ADAPTIVE, "lr_grid_points": 5, "range_test_steps": 300,
              "families": CLASSIC_FAMILIES},
    # the careful comparison on the same task: held-out validation, 5 seeds, every schedule and optimizer, each
    # optimizer's learning rate on a grid; short runs, so that it finishes on 2 cores in about an hour
    "study": {"classes": [CAT, DOG], "seeds": [0, 1, 2, 3, 4], "epochs": 15, "batch_size": 64, "data_path": None,
              "protocol": "holdout", "data_seed": 0, "validation_fraction": 0.2, "model": "seed_cnn",
              "precision": "float32", "optimizers": list(ADAPTIVE_DEFAULTS), "lr_grid_points": 5, "range_test_steps": 1000,
              "families": FAMILIES},
    # all ten classes, 40,000 / 10,000 / 10,000 images, a VGG-style network with batch normalization: for a GPU
    "full": {"classes": list(range(10)), "seeds": [0, 1, 2], "epochs": 100, "batch_size": 64, "data_path": None,
             "protocol": "holdout", "data_seed": 0, "validation_fraction": 0.2, "model": "vgg_bn",
             "precision": "float32", "optimizers": list(ADAPTIVE_DEFAULTS), "lr_grid_points": 5, "range_test_steps": 1000,
             "families": FAMILIES},
}
PROTOCOLS = ["holdout", "seed"]
MODEL_NAMES = ["seed_cnn", "vgg_bn"]
# Keras dtype policies: float32, or mixed precision (weights in float32, computation in 16 bits)
PRECISIONS = ["float32", "mixed_bfloat16", "mixed_float16"]

FAMILY_TITLES = {
    "constant": "Constant learning rate",
    "time_based_decay": "Time-based decay",
    "step_decay": "Step decay",
    "exponential_decay": "Exponential decay",
    "modern_schedules": "Modern schedules",
    "adaptive": "Adaptive methods",
    "lr_sensitivity": "Learning-rate sensitivity",
    "lr_range_test": "Learning-rate range test",
}
SCHEDULE_FAMILIES = ["constant", "time_based_decay", "step_decay", "exponential_decay", "modern_schedules"]
# the families whose runs are compared with each other in the report's curves and tables
COMPARED_FAMILIES = SCHEDULE_FAMILIES + ["adaptive"]
DEFAULT_STEPS_PER_EXECUTION = 16


class ParameterError(ValueError):
    """A notebook parameter with a wrong type or value: the message names it and says what it accepts."""


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v):
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


def _positive_int(v):
    return _is_int(v) and v > 0


def _unique_list(v):
    """A list without repeats: a repeated seed would pass one run off as two."""
    return isinstance(v, list) and all(isinstance(x, (str, int)) for x in v) and len(set(v)) == len(v)


def _positive(v):
    return _is_number(v) and v > 0


# name -> (test, what it accepts, an example). None is accepted where the notebook documents it.
_RULES = {
    "profile": (lambda v: isinstance(v, str) and v in PROFILES, f"one of {', '.join(PROFILES)}", "paper"),
    "protocol": (lambda v: isinstance(v, str) and v in PROTOCOLS, "holdout (validate on a split of the training "
                 "set) or seed (validate on the test set, as in 2017)", "holdout"),
    "data_seed": (lambda v: _is_int(v) and v >= 0, "a non-negative integer", "0"),
    "model": (lambda v: isinstance(v, str) and v in MODEL_NAMES, f"one of {', '.join(MODEL_NAMES)}", "vgg_bn"),
    "precision": (lambda v: isinstance(v, str) and v in PRECISIONS, f"one of {', '.join(PRECISIONS)}",
                  "mixed_bfloat16"),
    "schedules": (lambda v: _unique_list(v) and len(v) > 0 and all(n in schedules.MODERN for n in v),
                  f"a non-empty list of distinct names from {', '.join(schedules.MODERN)}", '["cosine_decay"]'),
    "final_fraction": (lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)", "0.01"),
    "warmup_fraction": (lambda v: _is_number(v) and 0 < v < 1, "a number in (0, 1)", "0.05"),
    "one_cycle_peak_fraction": (lambda v: _is_number(v) and 0 < v < 1, "a number in (0, 1)", "0.3"),
    "cycles": (_positive_int, "a positive integer", "3"),
    "plateau_factor": (lambda v: _is_number(v) and 0 < v < 1, "a number in (0, 1)", "0.5"),
    "plateau_patience": (_positive_int, "a positive integer", "3"),
    # odd, so the default rate is on the grid and its runs are shared with the family notebooks
    "lr_grid_points": (lambda v: _is_int(v) and v >= 3 and v % 2 == 1, "an odd integer ≥ 3", "5"),
    "lr_grid_span": (lambda v: _is_number(v) and v > 1, "a number > 1 (the grid runs from lr/span to lr·span)",
                     "10"),
    "range_test_steps": (lambda v: _is_int(v) and v >= 10, "an integer ≥ 10", "300"),
    "range_min": (_positive, "a positive number", "1e-6"),
    "range_max": (_positive, "a positive number", "10"),
    "sgd_lr": (_positive, "a positive number", "0.1"),
    "seeds": (lambda v: _unique_list(v) and len(v) > 0 and all(_is_int(s) and s >= 0 for s in v),
              "a non-empty list of distinct non-negative integers", "[0,1,2]"),
    "epochs": (_positive_int, "a positive integer", "100"),
    "batch_size": (_positive_int, "a positive integer", "64"),
    "steps_per_execution": (_positive_int, "a positive integer", "16"),
    "data_path": (lambda v: isinstance(v, str) and v != "", "a path to cifar-10-python.tar.gz or its folder, "
                  "or 'synthetic'", "/data/cifar-10-python.tar.gz"),
    "output_dir": (lambda v: isinstance(v, str) and v != "", "a directory path", "outputs"),
    "force": (lambda v: isinstance(v, bool), "True or False", "True"),
    "lr": (_positive, "a positive number", "0.1"),
    "lr0": (_positive, "a positive number", "0.1"),
    "momentum": (lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)", "0.9"),
    "decay": (lambda v: _is_number(v) and v >= 0, "a non-negative number (per batch)", "0.001"),
    "drop": (lambda v: _is_number(v) and 0 < v <= 1, "a number in (0, 1]", "0.5"),
    "epochs_drop": (lambda v: _is_number(v) and v >= 1, "a number of epochs ≥ 1", "10"),
    "k": (lambda v: _is_number(v) and v >= 0, "a non-negative number", "0.1"),
    "optimizers": (lambda v: _unique_list(v) and len(v) > 0 and all(o in ADAPTIVE_DEFAULTS for o in v),
                   f"a non-empty list of distinct names from {', '.join(ADAPTIVE_DEFAULTS)}", '["adam","rmsprop"]'),
    "families": (lambda v: _unique_list(v) and len(v) > 0 and all(f in FAMILIES for f in v),
                 f"a non-empty list of distinct names from {', '.join(FAMILIES)}", '["constant","adaptive"]'),
    "failed_notebooks": (lambda v: isinstance(v, list) and all(isinstance(f, str) for f in v),
                         "a list of notebook names", '["step_decay"]'),
    "confidence": (lambda v: _is_number(v) and 0 < v < 1, "a number in (0, 1)", "0.95"),
    "target_fraction": (lambda v: _is_number(v) and 0 < v <= 1, "a number in (0, 1]", "0.95"),
}
for _opt, _settings in ADAPTIVE_DEFAULTS.items():
    _RULES[f"{_opt}_lr"] = (_positive, "a positive number", str(_settings["lr"]))
    _RULES[f"{_opt}_epsilon"] = (_positive, "a positive number", "1e-8")
    for _beta in ("rho", "beta_1", "beta_2", "momentum"):
        if _beta in _settings:
            _RULES[f"{_opt}_{_beta}"] = (lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)",
                                         str(_settings[_beta]))
    if "weight_decay" in _settings:
        _RULES[f"{_opt}_weight_decay"] = (lambda v: _is_number(v) and v >= 0, "a non-negative number", "0.01")
NULLABLE = {"seeds", "epochs", "batch_size", "steps_per_execution", "data_path", "output_dir", "decay", "protocol",
            "data_seed", "model", "precision", "optimizers", "lr_grid_points", "range_test_steps", "families"}


def check_parameter(name, value):
    """Raise ParameterError (one line: what is wrong, how to fix it) unless `value` suits parameter `name`."""
    if name not in _RULES:
        raise ParameterError(f"unknown parameter {name!r}")
    test, accepts, example = _RULES[name]
    if value is None and name in NULLABLE:
        return value
    if not test(value):
        raise ParameterError(f"parameter {name}={value!r} is invalid: expected {accepts}, e.g. {name}={example}")
    return value


def check_parameters(params: dict) -> dict:
    return {name: check_parameter(name, value) for name, value in params.items()}


def resolve_settings(profile, output_dir=None, steps_per_execution=None, force=False, **given) -> dict:
    """The settings a notebook runs with: the profile's values, overridden by those given (None: the profile's).
    `given` takes any of the profile's keys, e.g. seeds=[0, 1], epochs=10, protocol="seed", optimizers=["adam"]."""
    check_parameters(dict(profile=profile, output_dir=output_dir, steps_per_execution=steps_per_execution,
                          force=force) | given)
    base = PROFILES[profile]
    unknown = set(given) - set(base)
    if unknown:
        raise ParameterError(f"unknown setting {sorted(unknown)[0]!r}: a profile sets {', '.join(base)}")
    settings = dict(base) | {k: v for k, v in given.items() if v is not None}
    settings["profile"] = profile
    settings["output_dir"] = str(Path(output_dir).expanduser().resolve() if output_dir else default_output_dir())
    settings["steps_per_execution"] = steps_per_execution or DEFAULT_STEPS_PER_EXECUTION
    settings["force"] = force
    return settings


def steps_per_epoch(settings, dataset) -> int:
    return math.ceil(len(dataset["y_train"]) / settings["batch_size"])


def default_output_dir() -> Path:
    """The project's outputs/ when running from a checkout (the usual editable install), else ./outputs."""
    return PROJECT_ROOT / "outputs" if (PROJECT_ROOT / "notebooks").is_dir() else Path.cwd() / "outputs"


def run_config(family, optimizer: dict, schedule: dict, settings: dict, dataset: dict, seed: int) -> dict:
    """One run: everything that determines its result. Two runs with equal configurations are the same run."""
    return {
        "family": family,
        "label": label(optimizer, schedule),
        "model": settings["model"],
        "precision": settings["precision"],
        "optimizer": optimizer,
        "schedule": schedule,
        "data": data_config(settings, dataset),
        "epochs": settings["epochs"],
        "batch_size": settings["batch_size"],
        # the seed permutes the training set a run is fed; the epoch shuffles on top are the same for every run
        "data_order": "permuted by seed",
        "seed": seed,
    }


def fusable(config) -> bool:
    """Whether seeds of this configuration can train side by side as one model: ReduceLROnPlateau sets the rate
    from a run's own validation loss, and the towers of one model share one optimizer and so one rate."""
    return config.get("kind") != "lr_range_test" and config["schedule"]["name"] != "reduce_on_plateau"


def seed_groups(configs) -> list:
    """Indices of `configs` grouped into runs that train together: the seeds of one configuration (equal but for
    the seed), in order of first appearance; a configuration that cannot share a model is a group of one."""
    groups = {}
    for i, config in enumerate(configs):
        key = json.dumps({k: v for k, v in config.items() if k != "seed"}, sort_keys=True) if fusable(config) else i
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def data_config(settings, dataset) -> dict:
    data = {"fingerprint": dataset["fingerprint"], "classes": settings["classes"], "protocol": settings["protocol"],
            "n_train": len(dataset["y_train"]), "n_validation": len(dataset["y_val"])}
    if settings["protocol"] == "holdout":  # the split depends on it; the 2017 protocol has no split
        data["data_seed"] = settings["data_seed"]
    return data


def label(optimizer: dict, schedule: dict) -> str:
    name = DISPLAY_NAMES[optimizer["name"]]
    if optimizer["name"] == "sgd":
        return f"SGD, {schedules.describe(schedule)}, momentum={optimizer['momentum']:g}"
    return f"{name} (lr={schedule['lr0']:g})"


def sgd_configs(family, schedule: dict, momentum, settings, dataset) -> list:
    """A schedule family's runs: SGD with `schedule`, one run per seed."""
    optimizer = {"name": "sgd", "momentum": float(momentum)}
    # numbers as floats, so `epochs_drop=10` and `epochs_drop=10.0` are the same configuration (and the same run)
    schedule = {k: v if k == "name" else float(v) for k, v in schedule.items()}
    return [run_config(family, optimizer, schedule, settings, dataset, seed) for seed in settings["seeds"]]


def default_hyperparameters(optimizers) -> dict:
    """`adaptive_configs`'s keyword arguments for `optimizers` at their defaults: {"adam_lr": 0.001, ...}."""
    return {f"{name}_{key}": value for name in optimizers for key, value in ADAPTIVE_DEFAULTS[name].items()}


def adaptive_configs(optimizers, settings, dataset, **hyper) -> list:
    """The adaptive family's runs: for each optimizer in `optimizers`, its settings taken from `hyper`
    (`adam_lr=...`, `adam_beta_1=...`, ...), one run per seed."""
    configs = []
    for name in optimizers:
        opt = {"name": name}
        for key in ADAPTIVE_DEFAULTS[name]:
            if key != "lr":
                opt[key] = float(hyper[f"{name}_{key}"])
        schedule = {"name": "constant", "lr0": float(hyper[f"{name}_lr"])}
        configs += [run_config("adaptive", opt, schedule, settings, dataset, seed) for seed in settings["seeds"]]
    return configs


def learning_rate_grid(lr, points, span) -> list:
    """`points` rates spaced evenly on a log scale from lr/span to lr·span; lr itself is on the grid when
    `points` is odd, so the default's runs are reused."""
    return [float(lr * span ** (2 * i / (points - 1) - 1)) for i in range(points)]


def sensitivity_configs(optimizers, sgd_lr, momentum, lr_grid_points, lr_grid_span, settings, dataset) -> list:
    """SGD (constant rate, the constant family's momentum) and each of `optimizers` at its default settings, on a
    grid of learning rates around its default. Their run configurations are those of the constant and adaptive
    families, so the runs at the default rates are shared with those notebooks."""
    configs = []  # the default rates' runs last: by then the constant and adaptive notebooks have usually stored them
    for lr in learning_rate_grid(sgd_lr, lr_grid_points, lr_grid_span):
        configs += sgd_configs("constant", {"name": "constant", "lr0": lr}, momentum, settings, dataset)
    # SGD+momentum and SGD+Nesterov are references, not adaptive methods: plain SGD stands for SGD in the sweep
    for name in [o for o in optimizers if not o.startswith("sgd_")]:
        default = ADAPTIVE_DEFAULTS[name]["lr"]
        for lr in learning_rate_grid(default, lr_grid_points, lr_grid_span):
            hyper = default_hyperparameters([name]) | {f"{name}_lr": lr}
            configs += adaptive_configs([name], settings, dataset, **hyper)
    at_default = {(c["optimizer"]["name"], c["schedule"]["lr0"]) for c in configs} & (
        {("sgd", float(sgd_lr))} | {(n, float(s["lr"])) for n, s in ADAPTIVE_DEFAULTS.items()})
    return sorted(configs, key=lambda c: (c["optimizer"]["name"], c["schedule"]["lr0"]) in at_default)


def range_test_configs(optimizers, momentum, range_min, range_max, range_test_steps, settings, dataset) -> list:
    """One learning-rate range test per method (SGD and each of `optimizers`, at their default settings), on the
    profile's first seed."""
    if not range_min < range_max:
        raise ParameterError(f"parameter range_min={range_min!r} is invalid: the test raises the rate, so it must be "
                             f"below range_max={range_max!r}, e.g. range_min=1e-6")
    optimizer_specs = [{"name": "sgd", "momentum": float(momentum)}]
    for name in optimizers:
        optimizer_specs.append({"name": name} | {k: float(v) for k, v in ADAPTIVE_DEFAULTS[name].items() if k != "lr"})
    return [{
        "kind": "lr_range_test", "family": "lr_range_test", "label": DISPLAY_NAMES[spec["name"]],
        "model": settings["model"], "precision": settings["precision"], "optimizer": spec,
        "range": {"min": float(range_min), "max": float(range_max), "steps": range_test_steps},
        "data": data_config(settings, dataset), "batch_size": settings["batch_size"], "seed": settings["seeds"][0],
    } for spec in optimizer_specs]
