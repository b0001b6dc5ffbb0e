"""Each family notebook's runs, and the unit of work that trains them.

A family turns its notebook's parameters into run configurations (`configs`); the seeds of one configuration train
together as one seed group (config.seed_groups), and `train_group` trains a group's missing runs under their
claims and stores each. The build calls both for every family before it executes a notebook (lrlab.build), so the
notebooks find their runs stored; a notebook run on its own trains what it lacks through the same function (`run`).
"""

import contextlib
import time

import pandas as pd

from . import finder_workflow, schedules, user_code
from .config import (EPOCH_ORDER, NUMERICS_VERSION, data_config, learning_rate_grid, run_config, seed_groups,
                     steps_per_epoch)
from .data import DataError
from .tasks import load_dataset, n_classes, network_revision
from .optimizers import ADAPTIVE_DEFAULTS, CLASSIC_ADAPTIVE, with_revision
from .health import FAILURE_TEXT
from .parameters import SETTINGS, ParameterError, notebook_parameters, resolve_settings
from .store import claim, migrate, read_summary, remove_abandoned, runs_dir, run_id, write_manifest, write_run
from .summary import summarize_history, summarize_range_test


def sgd_configs(family, schedule: dict, momentum, settings, dataset) -> list:
    """A schedule family's runs: SGD with `schedule`, one run per seed."""
    optimizer = {"name": "sgd", "momentum": float(momentum)}
    # numbers as floats, so `epochs_drop=10` and `epochs_drop=10.0` are the same configuration (and the same run)
    schedule = {k: v if k == "name" else float(v) for k, v in schedule.items()}
    return [run_config(family, optimizer, schedule, settings, dataset, seed) for seed in settings.seeds]


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
        configs += [run_config("adaptive", opt, schedule, settings, dataset, seed) for seed in settings.seeds]
    return configs


def sensitivity_configs(optimizers, sgd_lr, momentum, lr_grid_points, lr_grid_span, settings, dataset) -> list:
    """SGD (constant rate, the constant family's momentum) and each of `optimizers` (SGD+momentum and
    SGD+Nesterov included) at its default settings, on a grid of learning rates around its default. Their run
    configurations are those of the constant and adaptive families, so the runs at the default rates are shared
    with those notebooks."""
    configs = []
    for lr in learning_rate_grid(sgd_lr, lr_grid_points, lr_grid_span):
        configs += sgd_configs("constant", {"name": "constant", "lr0": lr}, momentum, settings, dataset)
    # SGD+momentum and SGD+Nesterov too: "tuned SGD against adaptive methods" needs every one tuned alike
    for name in optimizers:
        default = ADAPTIVE_DEFAULTS[name]["lr"]
        for lr in learning_rate_grid(default, lr_grid_points, lr_grid_span):
            hyper = default_hyperparameters([name]) | {f"{name}_lr": lr}
            configs += adaptive_configs([name], settings, dataset, **hyper)
    return configs


def schedule_sweep_configs(names, momentum, lr_grid_points, lr_grid_span, settings, dataset) -> list:
    """Each schedule of `names` with SGD at `momentum` (the constant family's, so schedules compare with the
    baseline and with each other at one momentum), its peak rate on the sweep's grid around its notebook's rate,
    its other settings as its family notebook sets them. Configurations are the families' own: the modern family's
    runs at its rate are shared; the 2017 schedules at the baseline's momentum are new runs beside the 2017 ones."""
    found = []
    for name in names:
        family = name if name in schedules.CLASSIC_SCHEDULES else "modern_schedules"
        defaults = notebook_defaults(family) | ({"schedules": [name]} if family == "modern_schedules" else {})
        for lr in learning_rate_grid(defaults["lr0"], lr_grid_points, lr_grid_span):
            found += configs(family, settings, dataset, defaults | {"lr0": lr, "momentum": momentum})
    return found


def range_test_configs(optimizers, momentum, range_min, range_max, range_test_steps, settings, dataset) -> list:
    """A learning-rate range test per method (SGD and each of `optimizers`, at their default settings) and seed of
    the profile: one test is one draw of a noisy curve, and the spread of the suggestions over seeds says how far
    one test can be trusted."""
    if not range_min < range_max:
        raise ParameterError(f"parameter range_min={range_min!r} is invalid: the test raises the rate, so it must be "
                             f"below range_max={range_max!r}, e.g. range_min=1e-6")
    optimizer_specs = [{"name": "sgd", "momentum": float(momentum)}]
    for name in optimizers:
        optimizer_specs.append({"name": name} | {k: float(v) for k, v in ADAPTIVE_DEFAULTS[name].items() if k != "lr"})
    return [{
        "kind": "lr_range_test", "family": "lr_range_test", "numerics": NUMERICS_VERSION,
        "model": settings.model, **network_revision(settings.model), "precision": settings.precision,
        "optimizer": with_revision(spec),
        "range": {"min": float(range_min), "max": float(range_max), "steps": range_test_steps},
        "data": data_config(settings, dataset), "batch_size": settings.batch_size, "seed": seed,
        "batch_order": "seed permutation per pass",  # since 2026-11-27; before, Keras's shuffle drew the order
    } for spec in optimizer_specs for seed in settings.seeds]


def stored_histories(configs, settings) -> list:
    """(configuration, history) of each of `configs` that is stored complete: what a family whose runs depend on
    other runs' results reads (fastai's workflow peaks at a stored range test's valley)."""
    found = []
    for config in configs:
        path = runs_dir(settings) / run_id(config)
        if read_summary(path) is not None:
            found.append((config, pd.read_csv(path / "history.csv")))
    return found


def one_cycle_shape() -> dict:
    """One-cycle's shape as the modern family's notebook sets it (modern_schedules' settings after the run's length),
    so a one-cycle run elsewhere has the shape the schedule sweep tuned."""
    p = notebook_defaults("modern_schedules")
    return {name: p[name] for name in ("final_fraction", "warmup_fraction", "one_cycle_peak_fraction", "cycles",
                                       "plateau_factor", "plateau_patience", "cooldown_fraction")}


def notebook_defaults(family) -> dict:
    """A family notebook's own parameters (not the run settings) at their defaults."""
    return {name: default for name, (_, default, _) in notebook_parameters(family).items() if name not in SETTINGS}


def budget_configs(budgets, budget_schedules, settings, dataset) -> list:
    """The budget comparison: the 2017 experiment's eight (SGD at a constant rate and under time-based, step and
    exponential decay; Adagrad, Adadelta, RMSprop and Adam) and `budget_schedules`, each at its notebook's
    defaults, trained for each number of epochs in `budgets`. Their configurations are the families' own, so at
    the profile's epochs they are the families' runs, trained once."""
    found = []
    for epochs in budgets or []:
        at = settings.replace(epochs=int(epochs))
        for family in ("constant", "time_based_decay", "step_decay", "exponential_decay"):
            found += configs(family, at, dataset, notebook_defaults(family))
        from_scratch = [name for name in budget_schedules if name not in schedules.WSD_SCHEDULES]
        if from_scratch:
            found += configs("modern_schedules", at, dataset,
                             notebook_defaults("modern_schedules") | {"schedules": from_scratch})
        found += adaptive_configs(CLASSIC_ADAPTIVE, at, dataset, **default_hyperparameters(CLASSIC_ADAPTIVE))
    return found + branched_configs([name for name in budget_schedules if name in schedules.WSD_SCHEDULES],
                                    budgets or [], settings, dataset)


def branched_configs(names, budgets, settings, dataset) -> list:
    """WSD at every budget the way Hägele et al. train it: one trunk per seed (warm-up, then the modern family's
    rate, for the longest budget) and, per budget and cooldown shape of `names`, a cooldown over the budget's last
    cooldown_fraction (whole epochs) branched from the trunk; each branch a run of its own, identified by its trunk
    and branch point. Every run here is fed in the order of train.epoch_permutation, so a branch is the run its
    schedule gives trained from scratch (at a fraction of the cost: docs/performance.md)."""
    if not names or not budgets:
        return []
    p = notebook_defaults("modern_schedules")
    per_epoch = steps_per_epoch(settings, dataset)
    points = {epochs: epochs - max(1, round(p["cooldown_fraction"] * epochs)) for epochs in budgets}
    if min(points.values()) < 1:
        raise ParameterError(f"parameter budgets={budgets!r} is invalid for {', '.join(names)}: a cooldown branches "
                             f"from a trunk after at least one epoch, so every budget must be at least 2 epochs, "
                             f"e.g. budgets=[15,45]")
    # the warm-up of the shortest budget's WSD, the same in the trunk and every branch
    warmup = float(max(1, round(p["warmup_fraction"] * min(budgets) * per_epoch)))
    lr0, optimizer = float(p["lr0"]), {"name": "sgd", "momentum": float(p["momentum"])}

    def config(schedule, epochs, seed):
        return run_config("budget", optimizer, schedule, settings.replace(epochs=int(epochs)), dataset, seed) | {
            "data_order": EPOCH_ORDER}

    start = {"lr0": lr0, "initial": 0.0, "warmup_steps": warmup}
    trunk = {seed: config({"name": "warmup_constant"} | start, max(budgets), seed) for seed in settings.seeds}
    found = list(trunk.values())
    for epochs, at in points.items():
        for name in names:
            schedule = {"name": name} | start | {"decay_start": float(at * per_epoch),
                                                 "total_steps": float(epochs * per_epoch), "final": 0.0}
            found += [config(schedule, epochs, seed) | {"branch": {"trunk": run_id(trunk[seed]), "epoch": at}}
                      for seed in settings.seeds]
    return found


def baseline_configs(settings, dataset) -> list:
    """The fixed baselines a custom schedule or optimizer is measured against, at their notebooks' defaults:
    constant-rate SGD, SGD under cosine decay at the same rate, and Adam. They are those families' runs."""
    modern = notebook_defaults("modern_schedules") | {"schedules": ["cosine_decay"]}
    return (configs("constant", settings, dataset, notebook_defaults("constant"))
            + configs("modern_schedules", settings, dataset, modern)
            + adaptive_configs(["adam"], settings, dataset, **default_hyperparameters(["adam"])))


def custom_configs(schedule, schedule_kwargs, optimizer, optimizer_kwargs, lr0, momentum, settings, dataset) -> list:
    """The user's schedule (with SGD at `momentum`) and/or optimizer, one run per seed, then the baselines. Each
    function is imported and called here, so an error surfaces before anything trains (lrlab.user_code)."""
    if schedule is None and optimizer is None:
        raise ParameterError("the custom notebook needs your code: give schedule='package.module:function' and/or "
                             "optimizer='package.module:function', e.g. "
                             "-p schedule=examples.my_code:warmup_then_cosine")
    per_epoch = steps_per_epoch(settings, dataset)
    passed = {"epochs": settings.epochs, "steps_per_epoch": per_epoch, "total_steps": settings.epochs * per_epoch,
              "lr0": float(lr0)}
    spec = {"name": "constant", "lr0": float(lr0)} if schedule is None else \
        user_code.spec("schedule", schedule, schedule_kwargs, passed)
    opt = {"name": "sgd", "momentum": float(momentum)} if optimizer is None else \
        user_code.spec("optimizer", optimizer, optimizer_kwargs, passed)
    return [run_config("custom", opt, spec, settings, dataset, seed) for seed in settings.seeds] + \
        baseline_configs(settings, dataset)


def custom_preview(settings, dataset, params):
    """What the custom notebook's schedule (or, without one, its optimizer) will do in this run, step by step, with
    the warnings about it (lrlab.user_code.preview)."""
    kind = "schedule" if params["schedule"] is not None else "optimizer"
    return user_code.preview(params[kind], settings.epochs, steps_per_epoch(settings, dataset), params["lr0"], kind,
                             **params[f"{kind}_kwargs"])


def configs(family, settings, dataset, params) -> list:
    """The run configurations of `family` for its notebook's parameters `params` (lrlab.parameters)."""
    p = params
    if family == "constant":
        return sgd_configs(family, {"name": "constant", "lr0": p["lr"]}, p["momentum"], settings, dataset)
    if family == "time_based_decay":
        decay = p["lr0"] / settings.epochs if p["decay"] is None else p["decay"]  # the 2017 default: lr0 / epochs
        return sgd_configs(family, {"name": family, "lr0": p["lr0"], "decay": decay}, p["momentum"], settings,
                           dataset)
    if family == "step_decay":
        schedule = {"name": family, "lr0": p["lr0"], "drop": p["drop"], "epochs_drop": p["epochs_drop"]}
        return sgd_configs(family, schedule, p["momentum"], settings, dataset)
    if family == "exponential_decay":
        return sgd_configs(family, {"name": family, "lr0": p["lr0"], "k": p["k"]}, p["momentum"], settings, dataset)
    if family == "modern_schedules":
        specs = schedules.modern_schedules(
            p["schedules"], p["lr0"], settings.epochs, steps_per_epoch(settings, dataset), p["final_fraction"],
            p["warmup_fraction"], p["one_cycle_peak_fraction"], p["cycles"], p["plateau_factor"],
            p["plateau_patience"], p["cooldown_fraction"])
        return [c for spec in specs for c in sgd_configs(family, spec, p["momentum"], settings, dataset)]
    if family == "adaptive":
        return adaptive_configs(settings.optimizers, settings, dataset, **p)
    if family == "lr_sensitivity":
        return sensitivity_configs(settings.optimizers, p["sgd_lr"], p["momentum"], settings.lr_grid_points,
                                   p["lr_grid_span"], settings, dataset) + \
            schedule_sweep_configs(settings.swept_schedules, p["momentum"], settings.lr_grid_points,
                                   p["lr_grid_span"], settings, dataset)
    if family == "lr_range_test":
        tests = range_test_configs(settings.optimizers, p["momentum"], p["range_min"], p["range_max"],
                                   settings.range_test_steps, settings, dataset)
        return tests + finder_workflow.configs(stored_histories(tests, settings), settings, dataset, one_cycle_shape())
    if family == "budget":
        return budget_configs(p["budgets"], p["budget_schedules"], settings, dataset)
    if family == "custom":
        return custom_configs(p["schedule"], p["schedule_kwargs"], p["optimizer"], p["optimizer_kwargs"], p["lr0"],
                              p["momentum"], settings, dataset)
    raise ValueError(f"unknown family {family!r}")


def cost(configs) -> float:
    """A seed group's work in epochs of one run, to start the longest groups first."""
    config = configs[0]
    if config.get("kind") == "lr_range_test":
        return config["range"]["steps"] * config["batch_size"] / config["data"]["n_train"]  # a test is one group
    # a branch trains its cooldown only, from its trunk's state
    return sum(c["epochs"] - c["branch"]["epoch"] if "branch" in c else c["epochs"] for c in configs)


_datasets = {}


def _dataset(settings):
    """The dataset for `settings`, loaded once per process: a worker trains many groups of one build."""
    key = (settings.task, settings.data_path, settings.output_dir, settings.profile, settings.protocol,
           settings.data_seed, settings.validation_fraction)
    if key not in _datasets:
        _datasets.clear()
        _datasets[key] = load_dataset(settings)
    return _datasets[key]


def train_group(configs, settings, dataset=None, log=print) -> list:
    """Train the runs of one seed group that are not stored yet (all of them with settings.force), together as
    one model, while this process holds each one's claim; return {"run_id", "path", "reused", "status"} per run."""
    rids = [run_id(c) for c in configs]
    finals = [runs_dir(settings) / rid for rid in rids]

    def stored(i):
        return not settings.force and read_summary(finals[i]) is not None

    todo = [i for i in range(len(configs)) if not stored(i)]
    with contextlib.ExitStack() as claims:
        for i in sorted(todo, key=lambda i: rids[i]):  # one order for every process: no two wait on each other
            claims.enter_context(claim(settings, rids[i], log))
        todo = [i for i in todo if not stored(i)]  # some may have been trained by the process we waited for
        if todo:
            dataset = dataset or _dataset(settings)
            if dataset["fingerprint"] != configs[0]["data"]["fingerprint"]:
                raise DataError(f"this process reads other data than {rids[0]} was configured with (fingerprint "
                                f"{dataset['fingerprint'][:12]}, not {configs[0]['data']['fingerprint'][:12]}): "
                                f"point every worker at the same data (-p data_path=PATH, LRLAB_CIFAR10 or "
                                f"LRLAB_SHAKESPEARE)")
            if any("branch" in c for c in configs):  # the trunk trains again for a branch of it that is missing
                _train_branched(configs, dataset, settings, rids, todo, log)
            else:
                _train([configs[i] for i in todo], dataset, settings, [rids[i] for i in todo], log)
    for i in range(len(configs)):
        if i not in todo:
            log(f"{rids[i]}: reused")
    return [{"run_id": rid, "path": str(final), "reused": i not in todo, "status": read_summary(final)["status"]}
            for i, (rid, final) in enumerate(zip(rids, finals))]


def _train(configs, dataset, settings, rids, log):
    start = time.perf_counter()
    from . import train  # loads the Keras backend: only when there is something to train

    if configs[0].get("kind") == "lr_range_test":
        from .range_test import range_test

        history = range_test(configs[0], dataset, log=log)
        summaries = [summarize_range_test(history, time.perf_counter() - start)]
        histories = [history]
    else:
        name = rids[0] if len(rids) == 1 else f"{rids[0]} and {len(rids) - 1} more seeds"
        trained = train.train_runs(configs, dataset, settings.steps_per_execution, name=name, log=log)
        share = (time.perf_counter() - start) / len(configs)  # runs trained together share the time equally
        histories = [history for history, _ in trained]
        data = configs[0]["data"]
        summaries = [summarize_history(history, share, test, n_classes(data), data["n_train"])
                     | {"trained_together": len(configs)} for history, test in trained]
    for config, rid, history, summary in zip(configs, rids, histories, summaries):
        write_run(config, rid, history, summary, settings)
        failed = FAILURE_TEXT.get(summary["status"])
        log(f"{rid}: trained in {summary['train_seconds']:.1f} s" + (f" ({failed})" if failed else ""))


def _train_branched(configs, dataset, settings, rids, todo, log):
    """A trunk and its cooldowns (branches.train_branched), the cooldowns no run of which is missing left out; each
    missing run stored, its time the seconds its epochs took (its share of the trunk's, then of its cooldown's)."""
    from . import branches

    missing = {rids[i] for i in todo}
    trunk, cooldowns = branches.branch_groups(configs)
    wanted = trunk + [c for group in cooldowns if any(run_id(b) in missing for b in group) for c in group]
    trained = branches.train_branched(wanted, dataset, settings.steps_per_execution,
                                   name=f"{run_id(trunk[0])} (trunk of {len(wanted) - len(trunk)} cooldown runs)",
                                   log=log)
    for config, (history, test) in zip(wanted, trained):
        rid = run_id(config)
        if rid not in missing:
            continue
        data = config["data"]
        summary = summarize_history(history, float(history["epoch_time_s"].sum()), test, n_classes(data),
                                    data["n_train"]) | {"trained_together": len(trunk)}
        write_run(config, rid, history, summary, settings)
        failed = FAILURE_TEXT.get(summary["status"])
        log(f"{rid}: trained in {summary['train_seconds']:.1f} s" + (f" ({failed})" if failed else ""))


def run(family, settings, params, dataset=None, log=print) -> list:
    """What a family notebook does: train or reuse every run of `family`, one seed group at a time, then record
    them in the family's manifest (what compare.ipynb reads). Returns the runs, as train_group does."""
    dataset = dataset or _dataset(settings)
    if runs_dir(settings).is_dir():
        remove_abandoned(runs_dir(settings))
        migrate(runs_dir(settings), log)
    runs = {}
    while True:  # once more when training declared runs that depend on it (fastai's workflow on the range tests)
        family_configs = configs(family, settings, dataset, params)
        todo = [i for i, config in enumerate(family_configs) if run_id(config) not in runs]
        if not todo:
            break
        for group in seed_groups([family_configs[i] for i in todo]):
            trained = train_group([family_configs[todo[i]] for i in group], settings, dataset, log)
            runs.update({stored["run_id"]: stored for stored in trained})
    runs = [runs[run_id(config)] for config in family_configs]
    write_manifest(settings, family, runs, params)
    return runs


def against_baselines(schedule=None, optimizer=None, schedule_kwargs=None, optimizer_kwargs=None, lr0=0.1,
                      momentum=0.0, profile="study", output_dir=None, confidence=0.95, target_fraction=0.95,
                      log=print, **settings):
    """Your schedule and/or optimizer ("package.module:function", or the function itself) against constant-rate
    SGD, cosine decay and Adam: what the custom notebook does, from Python. Trains what is not stored (any setting
    of the profile can be overridden: seeds=[0, 1, 2], epochs=10, data_path=...), then returns the verdict
    (lrlab.custom_verdict.Verdict: `.sentence`, `.table`)."""
    from .custom_verdict import custom_verdict  # reading runs back: only once they are trained
    from .run_tables import load_runs

    settings = resolve_settings(profile, output_dir, **settings)
    params = notebook_defaults("custom") | {
        "schedule": user_code.import_path(schedule), "optimizer": user_code.import_path(optimizer),
        "schedule_kwargs": dict(schedule_kwargs or {}), "optimizer_kwargs": dict(optimizer_kwargs or {}),
        "lr0": lr0, "momentum": momentum}
    run("custom", settings, params, log=log)
    histories, runs = load_runs(settings, ["custom"])
    return custom_verdict(runs, histories, confidence, target_fraction)
