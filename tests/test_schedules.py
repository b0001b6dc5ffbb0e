"""Each schedule's formula against its closed form, and the rate Keras actually applies during fit."""

import math

import keras
import numpy as np
import pytest

from lrlab import schedules
from lrlab.optimizers import build_optimizer
from lrlab.train import LearningRateLog

CASES = {
    "constant": {"name": "constant", "lr0": 0.1},
    "time_based_decay": {"name": "time_based_decay", "lr0": 0.1, "decay": 0.01},
    "step_decay": {"name": "step_decay", "lr0": 0.1, "drop": 0.5, "epochs_drop": 2},
    "exponential_decay": {"name": "exponential_decay", "lr0": 0.1, "k": 0.3},
}


def test_constant_is_flat():
    assert schedules.constant(0, lr0=0.1) == schedules.constant(57, lr0=0.1) == 0.1


@pytest.mark.parametrize("t,expected", [(0, 0.1), (1, 0.1 / 1.001), (1000, 0.05), (15700, 0.1 / 16.7)])
def test_time_based_decay_closed_form(t, expected):
    assert schedules.time_based_decay(t, lr0=0.1, decay=0.001) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("epoch,expected", [(0, 0.1), (8, 0.1), (9, 0.05), (18, 0.05), (19, 0.025), (99, 0.1 / 1024)])
def test_step_decay_closed_form(epoch, expected):
    # the 2017 formula: the first drop already applies to 0-based epoch 9 (floor((1 + 9) / 10) = 1)
    assert schedules.step_decay(epoch, lr0=0.1, drop=0.5, epochs_drop=10) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("epoch", [0, 1, 10, 99])
def test_exponential_decay_closed_form(epoch):
    assert schedules.exponential_decay(epoch, lr0=0.1, k=0.1) == pytest.approx(0.1 * math.exp(-0.1 * epoch))


def test_lr_at_uses_batches_for_time_based_decay():
    schedule = CASES["time_based_decay"]
    assert schedules.lr_at(schedule, epoch=3, steps_per_epoch=10) == pytest.approx(0.1 / (1 + 0.01 * 30))
    assert schedules.lr_at(CASES["step_decay"], epoch=3, steps_per_epoch=10) == pytest.approx(0.1 * 0.5 ** 2)


def _fit_probe(schedule, epochs, steps_per_epoch, steps_per_execution):
    """Fit w (one weight, x = 1, loss = w·x) with plain SGD: each batch moves w by exactly -lr, so the rates
    the optimizer applied can be read off the weight itself."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    optimizer = build_optimizer({"name": "sgd", "momentum": 0.0}, schedules.keras_learning_rate(schedule))
    model.compile(optimizer=optimizer, loss=lambda y_true, y_pred: keras.ops.mean(y_pred),
                  steps_per_execution=steps_per_execution)
    weights = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            weights.append(float(self.model.get_weights()[0][0, 0]))

        def on_epoch_end(self, epoch, logs=None):
            epoch_ends.append(float(self.model.get_weights()[0][0, 0]))

    epoch_ends = []
    lr_log = LearningRateLog()
    x = np.ones((steps_per_epoch * 4, 1), dtype="float32")
    model.fit(x, np.zeros(len(x)), batch_size=4, epochs=epochs, shuffle=False, verbose=0,
              callbacks=schedules.keras_callbacks(schedule) + [lr_log, Record()])
    return np.array(weights), np.array(epoch_ends), lr_log.rates


def _closed_form(schedule, t, steps_per_epoch):
    """The formula's rate for batch t, counted from 0 over the whole run."""
    formula, per_batch = schedules.FORMULAS[schedule["name"]]
    params = {k: v for k, v in schedule.items() if k != "name"}
    return formula(t if per_batch else t // steps_per_epoch, **params)


def _assert_logged_first_batch_rates(logged, schedule, epochs, steps_per_epoch):
    """What history.csv logs: the rate of each epoch's first batch, not the next epoch's."""
    expected = [_closed_form(schedule, e * steps_per_epoch, steps_per_epoch) for e in range(epochs)]
    np.testing.assert_allclose(logged, expected, rtol=1e-6)


@pytest.mark.parametrize("name", CASES)
def test_applied_rate_per_batch_equals_formula(name):
    schedule, epochs, steps = CASES[name], 5, 6
    weights, _, logged = _fit_probe(schedule, epochs, steps, steps_per_execution=1)
    applied = -np.diff(np.concatenate([[0.0], weights]))
    np.testing.assert_allclose(applied, [_closed_form(schedule, t, steps) for t in range(epochs * steps)], rtol=1e-5)
    _assert_logged_first_batch_rates(logged, schedule, epochs, steps)


@pytest.mark.parametrize("name", CASES)
def test_applied_rate_with_steps_per_execution(name):
    """Several batches per compiled call must not change the schedule: each epoch moves w by the sum of its rates."""
    schedule, epochs, steps = CASES[name], 4, 6
    _, epoch_ends, logged = _fit_probe(schedule, epochs, steps, steps_per_execution=3)
    moved = -np.diff(np.concatenate([[0.0], epoch_ends]))
    expected = [sum(_closed_form(schedule, t, steps) for t in range(e * steps, (e + 1) * steps)) for e in range(epochs)]
    np.testing.assert_allclose(moved, expected, rtol=1e-5)
    _assert_logged_first_batch_rates(logged, schedule, epochs, steps)
