"""Hägele et al.'s cooldowns branched from one trunk (the budget comparison's WSD: families.branched_configs): the
trunk trains once, its state kept at each branch point, and each cooldown continues from there. Its runs are fed
in an order drawn from each epoch's number (config.EPOCH_ORDER), so a branch has the numbers of its schedule
trained from scratch."""

import json

import keras

from . import train


def _state(model) -> tuple:
    """A copy of everything training changes: the model's variables (its random generators' states included) and
    its optimizer's (the step count, moments, averages)."""
    return ([keras.ops.convert_to_numpy(v) for v in model.variables],
            [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables])


def _restore(model, state):
    """Put `state` (_state of a model built alike, its rate a schedule object too) into `model`."""
    model.optimizer.build(model.trainable_variables)
    for variables, values in zip((model.variables, model.optimizer.variables), state):
        if len(variables) != len(values):
            raise ValueError("a branch's model or optimizer differs from its trunk's: it cannot continue its state")
        for variable, value in zip(variables, values):
            variable.assign(value)


def branch_groups(configs) -> tuple[list, list]:
    """A branched job's trunk runs (the seeds of one warm-up + constant run) and its branches, one list per
    cooldown (its budget and shape), each list in the trunk's order of seeds, earliest branch point first."""
    trunk = [c for c in configs if "branch" not in c]
    cooldowns = {}
    for c in configs:
        if "branch" in c:
            cooldowns.setdefault(json.dumps([c["branch"]["epoch"], c["epochs"], c["schedule"]]), {})[c["seed"]] = c
    if not trunk or any(set(by_seed) != {c["seed"] for c in trunk} for by_seed in cooldowns.values()):
        raise ValueError("train_branched: every cooldown needs the trunk's seeds, and the trunk its runs")
    ordered = sorted(cooldowns.values(), key=lambda by_seed: next(iter(by_seed.values()))["branch"]["epoch"])
    return trunk, [[by_seed[c["seed"]] for c in trunk] for by_seed in ordered]


@train.process_state_kept()
def train_branched(configs, dataset, steps_per_execution=1, name="trunk", log=print) -> list:
    """Hägele et al.'s cooldowns branched from one trunk: the trunk (warm-up, then a constant rate) trains once, its
    state kept at each branch point, and each cooldown continues from there in a model of its own, fed the batches
    the run would have had from the start (EPOCH_ORDER): a branch's numbers are those of its schedule trained from
    scratch (tested), for the trunk's epochs plus its cooldown's. Returns train_runs's results, in the order of
    `configs`."""
    trunk, cooldowns = branch_groups(configs)
    train.check_together(trunk)
    points = {group[0]["branch"]["epoch"] for group in cooldowns}
    if any(point > trunk[0]["epochs"] for point in points):
        raise ValueError("train_branched: a branch point lies beyond the trunk's last epoch")
    model = train.runs_model(trunk, dataset, steps_per_execution)
    states = {}

    def keep_state(epoch):
        if epoch in points:
            states[epoch] = _state(model)

    done, recorded = train.train_model(model, trunk, dataset, name, log, after_epoch=keep_state)
    results = {id(c): result for c, result in zip(trunk, done)}
    for group in cooldowns:
        at = group[0]["branch"]["epoch"]
        train.check_together(group)
        if at not in states:  # every run of the trunk diverged before the branch point: so has the branch
            results.update({id(c): (result[0], None) for c, result in zip(group, done)})
            continue
        branch = train.runs_model(group, dataset, steps_per_execution)
        _restore(branch, states[at])
        branched, _ = train.train_model(branch, group, dataset, f"{name} → {group[0]['epochs']} epochs", log,
                                        start=(at, recorded.up_to(at)))
        results.update({id(c): result for c, result in zip(group, branched)})
    return [results[id(c)] for c in configs]
