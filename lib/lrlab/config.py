"""Profiles and run configurations, as plain data.

A profile fills in the settings a notebook leaves at None (lrlab.parameters); a run configuration is everything
that determines one run's result, and its hash is the run's id in the store (lrlab.store).
"""

import json
import math
from pathlib import Path

from . import plugins, schedules
from .tasks import TASKS, network_revision
from .optimizers import ADAPTIVE_DEFAULTS, BUILT_IN, CLASSIC_ADAPTIVE, DISPLAY_NAMES, with_revision

plugins.load()  # methods and schedules of the user's own register before the profiles list them

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Every family notebook, and the 2017 experiment's five.
STUDY_FAMILIES = ["constant", "time_based_decay", "step_decay", "exponential_decay", "modern_schedules", "adaptive",
                  "lr_sensitivity", "lr_range_test"]
# the budget comparison trains the 2017 eight again at longer budgets, and the custom family trains your schedule or
# optimizer: a build runs them only when asked (-p budgets, -p schedule or -p optimizer)
FAMILIES = STUDY_FAMILIES + ["budget", "custom"]
CLASSIC_FAMILIES = ["constant", "time_based_decay", "step_decay", "exponential_decay", "adaptive"]

PROFILES = {
    # a generated CIFAR-format dataset: every notebook and feature at tiny sizes, in minutes on 2 cores; what tests
    # and CI run. One method of each kind the code treats apart (the 2017 four, SGD with momentum, decoupled weight
    # decay, a schedule-free average, a step size summed over the weights), and every plugin's: the project's other
    # methods are tested on their own
    "smoke": {"task": "cifar_catdog", "seeds": [0], "epochs": 2, "batch_size": 64, "data_path": "synthetic",
              "protocol": "holdout", "data_seed": 0, "validation_fraction": 0.2,
              "precision": "float32", "lr_grid_points": 3,
              "optimizers": CLASSIC_ADAPTIVE + ["sgd_momentum", "adamw", "schedule_free_adamw", "prodigy"]
              + [name for name in ADAPTIVE_DEFAULTS if name not in BUILT_IN],
              "swept_schedules": ["cosine_decay"], "range_test_steps": 20,
              "families": STUDY_FAMILIES},
    # the 2017 experiment as it was: cat vs dog, validated on the test set, the 2017 families and methods only
    "paper": {"task": "cifar_catdog", "seeds": [0, 1, 2], "epochs": 100, "batch_size": 64, "data_path": None,
              "protocol": "seed", "data_seed": 0, "validation_fraction": 0.2,
              "precision": "float32", "optimizers": CLASSIC_ADAPTIVE, "lr_grid_points": 5, "swept_schedules": [],
              "range_test_steps": 300,
              "families": CLASSIC_FAMILIES},
    # the careful comparison on the same task: held-out validation, 5 seeds, every schedule and optimizer, each
    # optimizer's learning rate and each schedule's peak rate on a grid; short runs, for 2 cores
    "study": {"task": "cifar_catdog", "seeds": [0, 1, 2, 3, 4], "epochs": 15, "batch_size": 64, "data_path": None,
              "protocol": "holdout", "data_seed": 0, "validation_fraction": 0.2,
              "precision": "float32", "optimizers": list(ADAPTIVE_DEFAULTS), "lr_grid_points": 5,
              "swept_schedules": schedules.sweepable(),
              "range_test_steps": 1000,
              "families": STUDY_FAMILIES},
    # a second task: nanoGPT's character transformer on Tiny Shakespeare, at a size a 2-core CPU trains for each
    # schedule and method over 3 seeds (2 layers, 64 dimensions; 4 epochs of batch 32: 1,960 iterations, nanoGPT's
    # 2,000), every method at its default rate (no sweep, no range test: measured, too slow here)
    "shakespeare": {"task": "shakespeare_char", "seeds": [0, 1, 2], "epochs": 4, "batch_size": 32, "data_path": None,
                    "protocol": "holdout", "data_seed": 0, "validation_fraction": 0.2,
                    "model": "char_transformer_small", "precision": "float32",
                    "optimizers": CLASSIC_ADAPTIVE + ["adamw", "schedule_free_adamw", "prodigy"],
                    "lr_grid_points": 3, "swept_schedules": [], "range_test_steps": 300,
                    "families": CLASSIC_FAMILIES[:4] + ["modern_schedules", "adaptive"]},
    # all ten classes, 40,000 / 10,000 / 10,000 images, a VGG-style network with batch normalization: for a GPU
    "full": {"task": "cifar10", "seeds": [0, 1, 2], "epochs": 100, "batch_size": 64, "data_path": None,
             "protocol": "holdout", "data_seed": 0, "validation_fraction": 0.2,
             "precision": "float32", "optimizers": list(ADAPTIVE_DEFAULTS), "lr_grid_points": 5,
             "swept_schedules": schedules.sweepable(), "range_test_steps": 1000,
             "families": STUDY_FAMILIES},
}
PROTOCOLS = ["holdout", "seed"]
MODEL_NAMES = list(dict.fromkeys(network for task in TASKS.values() for network in task.networks))
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
    "budget": "Training budget",
    "custom": "Your schedule or optimizer",
}
SCHEDULE_FAMILIES = ["constant", "time_based_decay", "step_decay", "exponential_decay", "modern_schedules"]
# the families whose runs are compared with each other in the report's curves and tables
COMPARED_FAMILIES = SCHEDULE_FAMILIES + ["adaptive", "custom"]
DEFAULT_STEPS_PER_EXECUTION = 16

# The version of the training numerics, part of every run's id: bump it in the same commit as any change that can
# move a stored run's numbers (the model, the data feed, an optimizer's construction, how towers share a model),
# so that runs trained by other code are retrained, never reused. tests/test_run_identity.py fails when the numbers
# of a fixed group move or a run id changes, as a reminder.
#   1: every run stored before the version existed (their ids also hashed the display label). They were trained
#      by several versions of the code, which a stored run does not record, and some no longer reproduce (the
#      paper profile's Adagrad, Adadelta and RMSprop runs), so none is reused.
#   2: 2026-12-02 onwards.
NUMERICS_VERSION = 2
# The data order of runs that can resume from any epoch (a trunk and the cooldowns branched from it): each epoch's
# shuffle drawn from (train.SHUFFLE_SEED, epoch) alone (train.epoch_permutation). Every other run keeps Keras's one
# stream of shuffles, as it was trained and stored.
EPOCH_ORDER = "permuted by seed, then shuffled by epoch number"


def steps_per_epoch(settings, dataset) -> int:
    return math.ceil(len(dataset["y_train"]) / settings.batch_size)


def default_output_dir() -> Path:
    """The project's outputs/ when running from a checkout (the usual editable install), else ./outputs."""
    return PROJECT_ROOT / "outputs" if (PROJECT_ROOT / "notebooks").is_dir() else Path.cwd() / "outputs"


def run_config(family, optimizer: dict, schedule: dict, settings, dataset: dict, seed: int) -> dict:
    """One run: everything that determines its result and nothing else (no display text: lrlab.config.run_label
    names it). Two runs with equal configurations are the same run."""
    return {
        "family": family,
        "numerics": NUMERICS_VERSION,
        "model": settings.model, **network_revision(settings.model),
        "precision": settings.precision,
        "optimizer": with_revision(optimizer),
        "schedule": schedule,
        "data": data_config(settings, dataset),
        "epochs": settings.epochs,
        "batch_size": settings.batch_size,
        # the seed permutes the training set a run is fed; the epoch shuffles on top are the same for every run
        "data_order": "permuted by seed",
        "seed": seed,
    }


def fusable(config) -> bool:
    """Whether seeds of this configuration can train side by side as one model: ReduceLROnPlateau sets the rate
    from a run's own validation loss, and the towers of one model share one optimizer and so one rate; a callback
    of the user's may do the same."""
    return config.get("kind") != "lr_range_test" and config["schedule"]["name"] != "reduce_on_plateau" \
        and config["schedule"].get("returns") != "callback"


def _group_key(config) -> str:
    """What runs that train side by side share: everything but the seed, and for a schedule of the project's with
    the project's optimizers, the peak rate too (each tower gets its own schedule: train.per_tower_rates). Not in
    float16, whose loss scaling skips every tower's step when one tower's gradients overflow. A trunk and its
    branches (EPOCH_ORDER) form one group, trained by branches.train_branched."""
    if config.get("data_order") == EPOCH_ORDER:  # a trunk and the cooldowns branched from it: one job
        shared = {k: v for k, v in config.items() if k not in ("seed", "epochs", "schedule", "branch")}
        warmup = {k: config["schedule"][k] for k in ("lr0", "initial", "warmup_steps")}
        return json.dumps({"trunk": shared | {"warm-up": warmup}}, sort_keys=True)
    key = {k: v for k, v in config.items() if k != "seed"}
    shape = schedules.shape(config["schedule"])
    if shape is not None and config["optimizer"]["name"] != "custom" and config.get("precision") != "mixed_float16":
        key["schedule"] = shape
    return json.dumps(key, sort_keys=True)


def seed_groups(configs) -> list:
    """Indices of `configs` grouped into runs that train together as one model: the seeds of one configuration, and
    its other peak rates too (a sweep's grid trains as one model), in order of first
    appearance; a configuration that cannot share a model is a group of one."""
    groups = {}
    for i, config in enumerate(configs):
        groups.setdefault(_group_key(config) if fusable(config) else i, []).append(i)
    return list(groups.values())


def data_config(settings, dataset) -> dict:
    # what the task says the data are: CIFAR-10's classes, or a text's alphabet and context (lrlab.tasks)
    data = {"fingerprint": dataset["fingerprint"], **TASKS[settings.task].identity(settings, dataset),
            "protocol": settings.protocol,
            "n_train": len(dataset["y_train"]), "n_validation": len(dataset["y_val"])}
    # CIFAR's held-out split depends on it (a text's is fixed; the 2017 protocol has no split)
    if settings.protocol == "holdout" and settings.classes:
        data["data_seed"] = settings.data_seed
    return data


def run_label(config: dict) -> str:
    """The name a reader sees for a run's configuration, derived from it (never stored in it)."""
    if config.get("kind") == "lr_range_test":
        return DISPLAY_NAMES[config["optimizer"]["name"]]
    return label(config["optimizer"], config["schedule"])


def label(optimizer: dict, schedule: dict) -> str:
    name = DISPLAY_NAMES[optimizer["name"]]
    if optimizer["name"] == "custom":
        with_schedule = f", {schedules.describe(schedule)}" if schedule["name"] == "custom" else ""
        return f"{name} {schedules.describe(optimizer)}{with_schedule}"
    if optimizer["name"] == "sgd":
        return f"SGD, {schedules.describe(schedule)}, momentum={optimizer['momentum']:g}"
    return f"{name} (lr={schedule['lr0']:g})"


def tuned_method(optimizer: str, schedule: str) -> str:
    """What a rate sweep tunes, as a key: an optimizer at a constant rate ("adam", "sgd"), or SGD under a schedule
    whose peak rate is swept ("sgd+cosine_decay")."""
    return optimizer if schedule == "constant" else f"{optimizer}+{schedule}"


def tuned_display(key: str) -> str:
    """"Adam", "SGD", "SGD + cosine decay"."""
    optimizer, _, schedule = key.partition("+")
    return DISPLAY_NAMES[optimizer] + (f" + {schedules.display_name(schedule)}" if schedule else "")


def learning_rate_grid(lr, points, span) -> list:
    """`points` rates spaced evenly on a log scale from lr/span to lr·span; lr itself is on the grid when
    `points` is odd, so the default's runs are reused."""
    return [float(lr * span ** (2 * i / (points - 1) - 1)) for i in range(points)]
