"""Training of one run: a configuration and a dataset in, a per-epoch history out.

Importing this module loads the Keras backend. Thread counts and GPU memory sharing are read by the backend when it
loads, from the environment: a process that wants them set calls lrlab.machine.configure_process first (the
build's workers do). Whatever a run changes in Keras's process-wide state (dtype policy, random seeds) it puts
back when it ends.
"""

import contextlib
import json
import logging
import random
import time

import keras
import numpy as np
import pandas as pd

from . import keras_internals, optimizer_algorithms, schedules, tasks, user_code
from .config import EPOCH_ORDER, seed_groups
from .models import build_model
from .optimizers import build_optimizer
from .store import HISTORY_COLUMNS

# Evaluation computes no gradients, so a large batch only cuts per-batch overhead; the metrics do not depend on it.
EVAL_BATCH_SIZE = 1000
# training batches a schedule-free run's batch-normalization statistics are re-estimated on at its average
CALIBRATION_BATCHES = 20
# characters a text task's run writes after training, for the report to show
SAMPLE_CHARACTERS = 300


class LearningRateLog(keras.callbacks.Callback):
    """Records, before each epoch's first batch, the rate the optimizer is about to apply: its own, or with
    `tower_rates` (per_tower_rates) each run's.

    Placed after any LearningRateScheduler, so it sees the value that scheduler has just set; for a per-batch
    schedule the optimizer evaluates it at its current iteration.
    """

    def __init__(self, tower_rates=None):
        super().__init__()
        self.tower_rates = tower_rates
        self.rates = []  # per epoch: the rate, or with towers the list of each run's

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if self.tower_rates is None:
            self.rates.append(float(keras.ops.convert_to_numpy(optimizer.learning_rate)))
            return
        self.rates.append([float(keras.ops.convert_to_numpy(keras_internals.rate_at(rate, optimizer.iterations)))
                           for rate in self.tower_rates])


class TowerRateScheduler(keras.callbacks.Callback):
    """Keras's LearningRateScheduler for towers: before each epoch, each run's rate variable is set to its own
    per-epoch schedule's value (the float Keras's callback would assign to a run alone)."""

    def __init__(self, variables, formulas):
        super().__init__()
        self.variables, self.formulas = variables, formulas

    def on_epoch_begin(self, epoch, logs=None):
        for variable, formula in zip(self.variables, self.formulas):
            variable.assign(float(formula(epoch)))


class EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds per epoch, training and validation together."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


class ProgressLine(keras.callbacks.Callback):
    """A short line every `every` epochs, so a long build shows where it is: the mean training loss and each
    run's validation accuracy."""

    def __init__(self, name, epochs, log, loss_keys, accuracy_keys, every):
        super().__init__()
        self.name, self.epochs, self.log, self.every = name, epochs, log, every
        self.loss_keys, self.accuracy_keys = loss_keys, accuracy_keys

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0 or epoch + 1 == self.epochs:
            loss = np.mean([logs[k] for k in self.loss_keys])
            accuracy = " ".join(f"{logs[k]:.4f}" for k in self.accuracy_keys)
            self.log(f"{self.name}: epoch {epoch + 1}/{self.epochs} loss {loss:.4f} val_accuracy {accuracy}")


# Every run draws its epoch shuffles from this one stream, and its seed permutes the training set it is fed (and
# sets its initial weights and dropout masks): seeds still see different batches, and a run's result does not
# depend on whether it trained alone or beside other seeds of its configuration (train_runs).
SHUFFLE_SEED = 0


def seed_permutation(seed, n):
    return np.random.default_rng(seed).permutation(n)


class EvaluationPoints(keras.callbacks.Callback):
    """For a schedule-free optimizer: every validation at its evaluation point x (the averaged weights: the
    method's answer; batch-normalization statistics re-estimated there from `calibration`, training inputs as the
    model takes them, batch by batch), and after each epoch a second validation at the training point y, recorded
    here (which point wins is itself a finding: the average early on lags behind)."""

    def __init__(self, validation, calibration=()):
        super().__init__()
        self.validation, self.calibration = validation, calibration  # (inputs, targets) as fit is fed
        self.at_training_point = []  # per epoch, model.evaluate's logs

    def on_test_begin(self, logs=None):
        self._at_average = optimizer_algorithms.evaluation_point(self.model, self.calibration)
        self._at_average.__enter__()

    def on_test_end(self, logs=None):
        self._at_average.__exit__(None, None, None)

    def on_epoch_end(self, epoch, logs=None):
        measured = self.model.evaluate(*self.validation, batch_size=EVAL_BATCH_SIZE, verbose=0, return_dict=True)
        self.at_training_point.append(measured)


class StopWhenAllDiverged(keras.callbacks.Callback):
    """Keras's TerminateOnNaN for several runs in one model: stop once every run's loss is NaN or infinite (one
    diverged run's NaN cannot reach the others' weights: each tower's gradient comes from its own loss)."""

    def __init__(self, loss_keys):
        super().__init__()
        self.loss_keys = loss_keys

    def on_train_batch_end(self, batch, logs=None):
        if logs and all(not np.isfinite(float(logs[k])) for k in self.loss_keys):
            self.model.stop_training = True


def set_seed(seed):
    """keras.utils.set_random_seed, with the seeds Keras draws for every initializer and dropout layer built
    without one taken from a generator of this run's own. Keras draws them from Python's global `random`, which
    other threads of the process use too (a Dask worker's do), so a run's weights would depend on their timing.
    The private generator is seeded alike: the same draws a quiet process makes, the same runs as before."""
    keras.utils.set_random_seed(seed)
    keras_internals.set_default_seed_source(random.Random(seed))


@contextlib.contextmanager
def process_state_kept():
    """Put back what a run sets for the whole process: Keras's dtype policy and the Python and NumPy random
    generators (keras.utils.set_random_seed seeds them all), Keras's source of default seeds (set_seed), and the
    level of TensorFlow's logger."""
    policy, keras_random = keras.config.dtype_policy(), keras_internals.default_seed_source()
    python_state, numpy_state = random.getstate(), np.random.get_state()
    tf_logger = logging.getLogger("tensorflow")
    tf_level = tf_logger.level
    # every run compiles a fresh model, which TensorFlow reports as "retracing": expected here, not a problem
    tf_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(policy)
        keras_internals.set_default_seed_source(keras_random)
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        tf_logger.setLevel(tf_level)


def _rates_of(schedule):
    """Where a schedule's Keras objects come from: the project's schedules, or the user's code (lrlab.user_code)."""
    return user_code if schedule["name"] == "custom" else schedules


def rate_callbacks(configs, optimizer) -> list:
    """The callbacks that set the rate during `fit` (per-epoch schedules, ReduceLROnPlateau, the user's): the
    run's own, or with towers at their own rates one that sets each tower's (TowerRateScheduler)."""
    schedule = configs[0]["schedule"]
    own = _rates_of(schedule).keras_callbacks(schedule)
    if tower_schedules(configs) is None or not own:
        return own
    p = [{k: v for k, v in c["schedule"].items() if k != "name"} for c in configs]
    formula = schedules.SCHEDULES[schedule["name"]].formula
    return [TowerRateScheduler(optimizer.tower_rates, [lambda epoch, q=q: formula(epoch, **q) for q in p])]


def runs_optimizer(configs, towers):
    """The optimizer of a model of `configs`: the run's own (the project's or the user's, at its schedule's rate),
    or, where the runs differ in their peak rate, one that gives each tower its own schedule (per_tower_rates)."""
    schedule, spec = configs[0]["schedule"], configs[0]["optimizer"]
    own_schedules = tower_schedules(configs)
    if own_schedules is not None:
        optimizer = per_tower_rates(build_optimizer(spec, 1.0), towers, own_schedules)
    else:
        learning_rate = _rates_of(schedule).keras_learning_rate(schedule)
        optimizer = (user_code.build_optimizer if spec["name"] == "custom" else build_optimizer)(spec, learning_rate)
    if isinstance(optimizer, optimizer_algorithms.PerTowerSums):  # each tower's step size from its own sums
        optimizer.use_towers(towers)
    return optimizer


def per_tower_rates(optimizer, towers, tower_schedule):
    """`optimizer` applying each tower's own schedule to that tower's weights (its update step and, for AdamW,
    its weight decay). A constant rate (and a per-epoch schedule, which TowerRateScheduler sets before each epoch)
    is a variable made as Keras makes an optimizer's one, a per-batch schedule the very Keras schedule a run alone
    is given: so every tower's update is the computation it would be alone (a product such as 1.0 × rate,
    rearranged by the graph optimizer, would round differently). A Keras optimizer takes one rate; this is the one
    place a model's towers get several. The optimizer's own rate (1.0) is unused; `tower_rates` holds each tower's
    rate, for the rate log and the per-epoch scheduler."""
    keys = [json.dumps(schedule, sort_keys=True) for schedule in tower_schedule]
    sources = {}  # one rate per distinct schedule
    for key, schedule in zip(keys, tower_schedule):
        if key not in sources:
            rate = schedules.keras_learning_rate(schedule)
            sources[key] = rate if not isinstance(rate, float) else keras.Variable(
                rate, name=f"learning_rate_{len(sources)}", dtype=keras.config.floatx(), trainable=False,
                aggregation="only_first_replica")
    rates = [sources[key] for key in keys]
    rate_of = {id(v): rate for tower, rate in zip(towers, rates) for v in tower.trainable_variables}
    optimizer = keras_internals.rate_per_variable(type(optimizer), lambda variables: [
        rate_of[id(v)] for v in variables]).from_config(optimizer.get_config())
    optimizer.tower_rates = rates
    return optimizer


def tower_schedules(configs) -> list | None:
    """Each run's schedule when the runs of one model differ in their peak rate (train.per_tower_rates), else
    None."""
    if len({c["schedule"].get("lr0") for c in configs}) < 2:
        return None
    return [c["schedule"] for c in configs]


def build_runs_model(configs, input_shape, n_classes, steps_per_execution, input_dtype="float32"):
    """One model holding one tower per configuration, each built from its own seed exactly as it would be alone
    and fed by its seed's input (towers of one seed see the same batches); the loss is the towers' losses summed,
    so each tower's gradient is its own run's, and towers that differ in their constant rate each get theirs
    (per_tower_rates). One configuration: its network as it is."""
    keras.config.set_dtype_policy(configs[0]["precision"])
    seeds = list(dict.fromkeys(c["seed"] for c in configs))
    inputs = [keras.Input(shape=input_shape, dtype=input_dtype, name=f"seed_{seed}_inputs") for seed in seeds]
    towers = []
    for i, config in enumerate(configs):
        set_seed(config["seed"])
        tower = build_model(config["model"], input_shape=input_shape, n_classes=n_classes)
        if len(configs) > 1:
            tower.name = f"run_{i}"
        towers.append(tower)
    model = towers[0] if len(configs) == 1 else keras.Model(
        inputs, {t.name: t(inputs[seeds.index(c["seed"])]) for t, c in zip(towers, configs)})
    optimizer = runs_optimizer(configs, towers)

    def metrics():
        # Keras averages a multi-output model's per-output losses over batches, not images (the last batch is
        # smaller); the cross-entropy as a metric averages over images, as a single model's loss does
        return ["accuracy", keras.metrics.SparseCategoricalCrossentropy(name="cross_entropy")]

    if keras.backend.backend() == "torch":  # Keras runs one batch per call there; the setting is speed only
        steps_per_execution = 1
    fused = len(configs) > 1
    model.compile(optimizer=optimizer,
                  loss={t.name: "sparse_categorical_crossentropy" for t in towers} if fused
                  else "sparse_categorical_crossentropy",
                  metrics={t.name: metrics() for t in towers} if fused else metrics(),
                  steps_per_execution=steps_per_execution)
    return model


def on_device(arrays):
    """The arrays a run is fed, copied to the accelerator once where the backend can keep them there (JAX: Keras
    then gathers each batch on the device, in the order it would from NumPy), else as they are."""
    if keras.backend.backend() != "jax":
        return arrays
    import jax

    return jax.device_put(arrays)


def _calibration_batches(x, orders, batch_size, several):
    """The first CALIBRATION_BATCHES training batches of each seed's order, as the model takes them (a list per
    seed when the model has several inputs): where a schedule-free run re-estimates batch normalization at its
    average. Every tower of a seed gets the same, so a run alone gets the same."""
    batches = []
    for start in range(0, min(len(orders[0]), CALIBRATION_BATCHES * batch_size), batch_size):
        inputs = [x[order[start:start + batch_size]] for order in orders]
        batches.append(inputs if several else inputs[0])
    return batches


def epoch_permutation(epoch, n):
    """The order of a run's (seed-permuted) training set in `epoch` (0-based), for runs whose data order is
    EPOCH_ORDER: a function of the epoch alone, so a run resumed at any epoch sees the batches it would have seen
    trained from the start (a cooldown branched from a trunk: lrlab.branches)."""
    return np.random.default_rng([SHUFFLE_SEED, epoch]).permutation(n)


def _feed(xs, ys):
    """What fit and evaluate take: the model's inputs (one per seed) and targets (one per run), on the device where
    it can."""
    return on_device((xs[0], ys[0]) if len(ys) == 1 else (list(xs), {f"run_{i}": t for i, t in enumerate(ys)}))


def _fit(model, configs, dataset, orders, validation, callbacks, epochs, first_epoch=0, after_epoch=None) -> dict:
    """fit's history over epochs first_epoch+1 .. epochs. Keras draws each epoch's shuffle from one stream
    (SHUFFLE_SEED) in one call; under EPOCH_ORDER each epoch is one call fed in the order epoch_permutation gives,
    with `after_epoch(epochs done)` called after each."""
    x, y = dataset["x_train"], dataset["y_train"]
    seeds = list(dict.fromkeys(c["seed"] for c in configs))

    common = {"batch_size": configs[0]["batch_size"], "validation_data": validation,
              "validation_batch_size": EVAL_BATCH_SIZE, "callbacks": callbacks, "verbose": 0}
    set_seed(SHUFFLE_SEED)
    if configs[0]["data_order"] != EPOCH_ORDER:
        return model.fit(*_feed([x[orders[seed]] for seed in seeds], [y[orders[c["seed"]]] for c in configs]),
                         epochs=epochs, shuffle=True, **common).history
    history = {}
    for epoch in range(first_epoch, epochs):
        shuffle = epoch_permutation(epoch, len(y))
        fitted = model.fit(*_feed([x[orders[seed][shuffle]] for seed in seeds],
                                 [y[orders[c["seed"]][shuffle]] for c in configs]),
                           initial_epoch=epoch, epochs=epoch + 1, shuffle=False, **common)
        for key, values in fitted.history.items():
            history.setdefault(key, []).extend(values)
        if model.stop_training:  # every run diverged (StopWhenAllDiverged)
            break
        if after_epoch is not None:
            after_epoch(epoch + 1)
    return history


class _Epochs:
    """What a training records per epoch, from its first: fit's logs, the rate, the seconds, and for a
    schedule-free optimizer the logs at its training point."""

    def __init__(self, history=None, rates=(), seconds=(), at_training_point=()):
        self.history = {key: list(values) for key, values in (history or {}).items()}
        self.rates, self.seconds, self.at_training_point = list(rates), list(seconds), list(at_training_point)

    def up_to(self, epoch):
        return _Epochs({key: values[:epoch] for key, values in self.history.items()}, self.rates[:epoch],
                       self.seconds[:epoch], self.at_training_point[:epoch])

    def then(self, history, lr_log, timer, points):
        return _Epochs({key: self.history.get(key, []) + values for key, values in history.items()},
                       self.rates + lr_log.rates, self.seconds + timer.seconds,
                       self.at_training_point + (points.at_training_point if points else []))


def train_model(model, configs, dataset, name, log, start=None, after_epoch=None) -> tuple:
    """Fit `model` (runs_model of `configs`), from the beginning or, its state already that of the epoch, from
    `start` = (epoch, the _Epochs recorded before it: lrlab.branches), then test it: return (train_runs's results,
    the _Epochs recorded)."""
    k = len(configs)
    seeds = list(dict.fromkeys(c["seed"] for c in configs))
    orders = {seed: seed_permutation(seed, len(dataset["y_train"])) for seed in seeds}
    prefixes = [""] if k == 1 else [f"run_{i}_" for i in range(k)]

    first_epoch, before = (0, _Epochs()) if start is None else start
    lr_log, timer = LearningRateLog(getattr(model.optimizer, "tower_rates", None)), EpochTimer()
    epochs = configs[0]["epochs"]
    validation = _feed([dataset["x_val"]] * len(seeds), [dataset["y_val"]] * k)
    schedule_free = isinstance(model.optimizer, optimizer_algorithms.ScheduleFree)
    calibration = _calibration_batches(dataset["x_train"], [orders[seed] for seed in seeds],
                                       configs[0]["batch_size"], k > 1) if schedule_free else ()
    points = EvaluationPoints(validation, calibration) if schedule_free else None
    callbacks = rate_callbacks(configs, model.optimizer) + [
        lr_log, timer, ProgressLine(name, epochs, log, [f"{p}cross_entropy" for p in prefixes],
                                    [f"val_{p}accuracy" for p in prefixes], every=max(1, epochs // 5)),
        StopWhenAllDiverged([f"{p}cross_entropy" for p in prefixes])] + ([points] if points else [])
    history = _fit(model, configs, dataset, orders, validation, callbacks, epochs, first_epoch, after_epoch)
    recorded = before.then(history, lr_log, timer, points)
    test_data = _feed([dataset["x_test"]] * len(seeds), [dataset["y_test"]] * k)
    with optimizer_algorithms.evaluation_point(model, calibration):  # a schedule-free model's averaged weights
        test = model.evaluate(*test_data, batch_size=EVAL_BATCH_SIZE, verbose=0, return_dict=True)
        samples = text_samples([model] if k == 1 else [model.get_layer(f"run_{i}") for i in range(k)],
                               dataset["alphabet"]) if "alphabet" in dataset else None
    test_at_training_point = model.evaluate(*test_data, batch_size=EVAL_BATCH_SIZE, verbose=0,
                                            return_dict=True) if points else None
    results = []
    for i, p in enumerate(prefixes):
        logged = {"loss": f"{p}cross_entropy", "accuracy": f"{p}accuracy", "val_loss": f"val_{p}cross_entropy",
                  "val_accuracy": f"val_{p}accuracy"}
        finite = np.isfinite(np.asarray(recorded.history[logged["loss"]], dtype=float))
        n = len(finite) if finite.all() else int(np.argmin(finite)) + 1  # where it would have stopped alone
        history = pd.DataFrame({"epoch": np.arange(1, n + 1),
                                "lr": [r[i] if isinstance(r, list) else r for r in recorded.rates[:n]]})
        for column, key in logged.items():
            history[column] = np.asarray(recorded.history[key][:n], dtype=float)
        history["epoch_time_s"] = np.asarray(recorded.seconds[:n]) / k
        history = history[HISTORY_COLUMNS].copy()
        tested = {"loss": float(test[f"{p}cross_entropy"]), "accuracy": float(test[f"{p}accuracy"])}
        if samples:
            tested["sample"] = samples[i]
        if points:  # both evaluation points of a schedule-free run, per epoch and on the test set
            for column, key in [("loss", "cross_entropy"), ("accuracy", "accuracy")]:
                history[f"val_{column}_at_training_point"] = [float(e[f"{p}{key}"])
                                                              for e in recorded.at_training_point[:n]]
                tested[f"{column}_at_training_point"] = float(test_at_training_point[f"{p}{key}"])
        results.append((history, tested if finite.all() else None))
    return results, recorded


def check_together(configs):
    if len(configs) > 1 and seed_groups(configs) != [list(range(len(configs)))]:
        raise ValueError("train_runs: only runs that can share a model train together (config.seed_groups)")


def runs_model(configs, dataset, steps_per_execution):
    x = dataset["x_train"]
    return build_runs_model(configs, x.shape[1:], tasks.n_classes(configs[0]["data"]), steps_per_execution,
                            input_dtype=str(x.dtype))


@process_state_kept()
def train_runs(configs, dataset, steps_per_execution=1, name="run", log=print):
    """Train configurations that differ only in their seed (and, at a constant learning rate, in the rate), side by
    side as one model (independent weights, one graph: fewer, larger steps than one run at a time). Return, per
    configuration, its history (HISTORY_COLUMNS) and its test metrics ({"loss", "accuracy"}, measured once, after
    the last epoch; None when the run diverged). A run's numbers are those it would have alone; `epoch_time_s` is
    its share of the time (the model's epoch time over the number of runs)."""
    check_together(configs)
    if any("branch" in c for c in configs):
        raise ValueError("train_runs: a branch continues its trunk: train it with branches.train_branched")
    if len(configs) > 1 and keras.backend.backend() == "torch":
        # Keras's PyTorch data path shuffles from torch's global generator, and trained together the seeds did
        # not reproduce their numbers alone there (they do on TensorFlow and JAX): one at a time on PyTorch
        return [train_runs([config], dataset, steps_per_execution, name, log)[0] for config in configs]
    return train_model(runs_model(configs, dataset, steps_per_execution), configs, dataset, name, log)[0]


def text_samples(networks, alphabet, length=SAMPLE_CHARACTERS, seed=0) -> list:
    """The text each character model writes after a newline: each next character drawn from its probabilities
    with one stream of random numbers shared by every network (inverse-CDF sampling), so two runs' texts differ by
    their networks alone."""
    context = networks[0].inputs[0].shape[1]
    uniforms = np.random.default_rng(seed).random(length)
    texts = [[alphabet.index("\n")] for _ in networks]
    for u in uniforms:
        for network, ids in zip(networks, texts):
            window = ids[-context:]
            x = np.zeros((1, context), dtype=np.int32)
            x[0, :len(window)] = window
            p = np.asarray(keras.ops.convert_to_numpy(network(x, training=False)), dtype=float)[0, len(window) - 1]
            ids.append(min(int(np.searchsorted(np.cumsum(p), u * p.sum())), len(alphabet) - 1))
    return ["".join(alphabet[i] for i in ids[1:]) for ids in texts]
