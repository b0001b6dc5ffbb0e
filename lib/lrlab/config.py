"""Profiles, notebook parameters and run configurations, all as plain data.

A profile fills in the parameters a notebook leaves at None; `check_parameter` is the one place a parameter's
type and range are checked, by the notebooks and by build_report.py alike, so a bad value gets the same one-line
error either way.
"""

import math
from pathlib import Path

from . import schedules
from .optimizers import ADAPTIVE_DEFAULTS, DISPLAY_NAMES

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CAT, DOG = 3, 5

PROFILES = {
    # a generated CIFAR-format dataset: the whole build in minutes on 2 cores; what tests and CI run
    "smoke": {"classes": [CAT, DOG], "seeds": [0], "epochs": 2, "batch_size": 64, "data_path": "synthetic",
              "protocol": "seed", "model": "seed_cnn"},
    # the 2017 experiment: cat vs dog, validated on the test set
    "paper": {"classes": [CAT, DOG], "seeds": [0, 1, 2], "epochs": 100, "batch_size": 64, "data_path": None,
              "protocol": "seed", "model": "seed_cnn"},
    # all ten classes, 50,000 / 10,000 images: meant for a GPU
    "full": {"classes": list(range(10)), "seeds": [0, 1, 2], "epochs": 100, "batch_size": 64, "data_path": None,
             "protocol": "seed", "model": "seed_cnn"},
}

FAMILIES = ["constant", "time_based_decay", "step_decay", "exponential_decay", "adaptive"]
FAMILY_TITLES = {
    "constant": "Constant learning rate",
    "time_based_decay": "Time-based decay",
    "step_decay": "Step decay",
    "exponential_decay": "Exponential decay",
    "adaptive": "Adaptive methods",
}
SCHEDULE_FAMILIES = FAMILIES[:4]
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
}
for _opt, _settings in ADAPTIVE_DEFAULTS.items():
    _RULES[f"{_opt}_lr"] = (_positive, "a positive number", str(_settings["lr"]))
    _RULES[f"{_opt}_epsilon"] = (_positive, "a positive number", "1e-8")
    for _beta in ("rho", "beta_1", "beta_2"):
        if _beta in _settings:
            _RULES[f"{_opt}_{_beta}"] = (lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)",
                                         str(_settings[_beta]))
NULLABLE = {"seeds", "epochs", "batch_size", "steps_per_execution", "data_path", "output_dir", "decay"}


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


def resolve_settings(profile, seeds=None, epochs=None, batch_size=None, data_path=None, output_dir=None,
                     steps_per_execution=None, force=False) -> dict:
    """The settings every notebook shares: the profile's values, overridden by the ones given."""
    check_parameters(dict(profile=profile, seeds=seeds, epochs=epochs, batch_size=batch_size, data_path=data_path,
                          output_dir=output_dir, steps_per_execution=steps_per_execution, force=force))
    base = PROFILES[profile]
    given = dict(seeds=seeds, epochs=epochs, batch_size=batch_size, data_path=data_path)
    settings = dict(base) | {k: v for k, v in given.items() if v is not None}
    settings["profile"] = profile
    settings["output_dir"] = str(Path(output_dir).expanduser().resolve() if output_dir else default_output_dir())
    settings["steps_per_execution"] = steps_per_execution or DEFAULT_STEPS_PER_EXECUTION
    settings["force"] = force
    return settings


def default_output_dir() -> Path:
    """The project's outputs/ when running from a checkout (the usual editable install), else ./outputs."""
    return PROJECT_ROOT / "outputs" if (PROJECT_ROOT / "notebooks").is_dir() else Path.cwd() / "outputs"


def run_config(family, optimizer: dict, schedule: dict, settings: dict, dataset: dict, seed: int) -> dict:
    """One run: everything that determines its result. Two runs with equal configurations are the same run."""
    return {
        "family": family,
        "label": label(optimizer, schedule),
        "model": settings["model"],
        "optimizer": optimizer,
        "schedule": schedule,
        "data": {"fingerprint": dataset["fingerprint"], "classes": settings["classes"],
                 "protocol": settings["protocol"], "n_train": len(dataset["y_train"]),
                 "n_validation": len(dataset["y_val"])},
        "epochs": settings["epochs"],
        "batch_size": settings["batch_size"],
        "seed": seed,
    }


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
