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


# The modern family, at lengths that put cycle ends, warm-up ends and restarts inside the probe's 30 batches.
MODERN_CASES = {
    "cosine_decay": {"name": "cosine_decay", "lr0": 0.1, "decay_steps": 24.0, "alpha": 0.01},
    "warmup_cosine": {"name": "warmup_cosine", "lr0": 0.1, "initial": 0.01, "warmup_steps": 5.0,
                      "decay_steps": 20.0, "alpha": 0.0},
    "cosine_restarts": {"name": "cosine_restarts", "lr0": 0.1, "first_decay_steps": 4.0, "t_mul": 2.0,
                        "m_mul": 0.8, "alpha": 0.01},
    "one_cycle": {"name": "one_cycle", "lr0": 0.1, "initial": 0.004, "final": 4e-7, "warmup_steps": 9.0,
                  "total_steps": 30.0},
    "triangular_cyclical": {"name": "triangular_cyclical", "lr0": 0.1, "base": 0.01, "step_size": 4.0},
    "polynomial_decay": {"name": "polynomial_decay", "lr0": 0.1, "decay_steps": 20.0, "end": 0.001, "power": 1.0},
    **{name: {"name": name, "lr0": 0.1, "initial": 0.0, "warmup_steps": 4.0, "decay_start": 18.0, "total_steps": 26.0,
              "final": 0.0} for name in ("wsd", "wsd_linear", "wsd_cosine")},
    "linear_to_zero": {"name": "linear_to_zero", "lr0": 0.1, "initial": 0.0, "warmup_steps": 4.0, "decay_start": 4.0,
                       "total_steps": 26.0, "final": 0.0},
}
CASES |= MODERN_CASES


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
    formula, per_batch = schedules.SCHEDULES[schedule["name"]].formula, schedules.SCHEDULES[schedule["name"]].per_batch
    params = {k: v for k, v in schedule.items() if k != "name"}
    return formula(t if per_batch else t // steps_per_epoch, **params)


def _assert_logged_first_batch_rates(logged, schedule, epochs, steps_per_epoch):
    """What history.csv logs: the rate of each epoch's first batch, not the next epoch's."""
    expected = [_closed_form(schedule, e * steps_per_epoch, steps_per_epoch) for e in range(epochs)]
    np.testing.assert_allclose(logged, expected, rtol=1e-5, atol=1e-9)  # float32 in Keras


@pytest.mark.parametrize("name", CASES)
def test_applied_rate_per_batch_equals_formula(name):
    schedule, epochs, steps = CASES[name], 5, 6
    weights, _, logged = _fit_probe(schedule, epochs, steps, steps_per_execution=1)
    applied = -np.diff(np.concatenate([[0.0], weights]))
    # atol: the rate is read as a difference of float32 weights near 1, good to a few 1e-7
    np.testing.assert_allclose(applied, [_closed_form(schedule, t, steps) for t in range(epochs * steps)],
                               rtol=1e-5, atol=3e-7)
    _assert_logged_first_batch_rates(logged, schedule, epochs, steps)


@pytest.mark.parametrize("name", CASES)
def test_applied_rate_with_steps_per_execution(name):
    """Several batches per compiled call must not change the schedule: each epoch moves w by the sum of its rates."""
    schedule, epochs, steps = CASES[name], 4, 6
    _, epoch_ends, logged = _fit_probe(schedule, epochs, steps, steps_per_execution=3)
    moved = -np.diff(np.concatenate([[0.0], epoch_ends]))
    expected = [sum(_closed_form(schedule, t, steps) for t in range(e * steps, (e + 1) * steps)) for e in range(epochs)]
    np.testing.assert_allclose(moved, expected, rtol=1e-5, atol=1e-6)
    _assert_logged_first_batch_rates(logged, schedule, epochs, steps)




@pytest.mark.parametrize("t,expected", [(0, 0.1), (12, 0.1 * (0.99 * 0.5 + 0.01)), (24, 0.001), (40, 0.001)])
def test_cosine_decay_closed_form(t, expected):
    assert schedules.cosine_decay(t, **{k: v for k, v in MODERN_CASES["cosine_decay"].items() if k != "name"}) \
        == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("t,expected", [(0, 0.01), (1, 0.028), (5, 0.1), (15, 0.05), (25, 0.0), (99, 0.0)])
def test_warmup_cosine_closed_form(t, expected):
    assert schedules.warmup_cosine(t, 0.1, initial=0.01, warmup_steps=5, decay_steps=20, alpha=0.0) == \
        pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("t,expected", [(0, 0.1), (2, 0.05), (4, 0.08), (8, 0.04), (12, 0.064), (28, 0.0512)])
def test_cosine_restarts_closed_form(t, expected):
    # cycles of 4, 8, 16 batches, each restarting 0.8 times lower
    assert schedules.cosine_restarts(t, 0.1, first_decay_steps=4, t_mul=2.0, m_mul=0.8, alpha=0.0) == \
        pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("t,expected", [(0, 0.004), (9, 0.1), (4.5, 0.052), (30, 4e-7), (50, 4e-7)])
def test_one_cycle_closed_form(t, expected):
    assert schedules.one_cycle(t, 0.1, initial=0.004, final=4e-7, warmup_steps=9, total_steps=30) == \
        pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("t,expected", [(0, 0.01), (2, 0.055), (4, 0.1), (6, 0.055), (8, 0.01), (12, 0.1)])
def test_triangular_cyclical_closed_form(t, expected):
    assert schedules.triangular_cyclical(t, 0.1, base=0.01, step_size=4) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("t,expected", [(0, 0.1), (10, 0.0505), (20, 0.001), (30, 0.001)])
def test_polynomial_decay_closed_form(t, expected):
    assert schedules.polynomial_decay(t, 0.1, decay_steps=20, end=0.001, power=1.0) == pytest.approx(expected)


def _timm_wsd(t, base_lr, t_initial, decay_t, lr_min, decay_fn, warmup_t, warmup_lr_init):
    """timm's WSDLRScheduler._get_lr (timm/scheduler/wsd_lr.py, constant stable phase), written out: the warm-up
    is a prefix of `t_initial`, the decay its last `decay_t` steps."""
    if t < warmup_t:
        return warmup_lr_init + t * (base_lr - warmup_lr_init) / warmup_t
    t_decay = t - warmup_t - (t_initial - decay_t)
    if t_decay <= 0:
        return base_lr
    frac = min(t_decay / decay_t, 1.0)
    decay = {"linear": 1.0 - frac, "1-sqrt": 1.0 - math.sqrt(frac), "cosine": 0.5 * (1.0 + math.cos(math.pi * frac))}
    return lr_min + (base_lr - lr_min) * decay[decay_fn]


@pytest.mark.parametrize("name, cooldown", [("wsd", "1-sqrt"), ("wsd_linear", "linear"), ("wsd_cosine", "cosine"),
                                            ("linear_to_zero", "linear")])
def test_wsd_equals_timm_s_formula(name, cooldown):
    params = {k: v for k, v in MODERN_CASES[name].items() if k != "name"}
    formula = schedules.SCHEDULES[name].formula
    warmup, start, total = params["warmup_steps"], params["decay_start"], params["total_steps"]
    for t in range(0, 40):
        expected = _timm_wsd(t, 0.1, t_initial=total - warmup, decay_t=total - start, lr_min=0.0, decay_fn=cooldown,
                             warmup_t=warmup, warmup_lr_init=0.0)
        assert formula(t, **params) == pytest.approx(expected, abs=1e-15), t
    # the shapes Hägele et al. compare: halfway through the cooldown, 1−sqrt is lowest, cosine highest
    half = start + (total - start) / 2
    assert formula(half, **params) == pytest.approx(0.1 * COOLDOWN_AT_HALF[cooldown])


COOLDOWN_AT_HALF = {"1-sqrt": 1 - math.sqrt(0.5), "linear": 0.5, "cosine": 0.5}


def test_modern_schedules_fill_the_run():
    names = schedules.MODERN
    specs = schedules.modern_schedules(names, lr0=0.1, epochs=10, steps_per_epoch=50, final_fraction=0.01,
                                       warmup_fraction=0.1, one_cycle_peak_fraction=0.3, cycles=3, plateau_factor=0.5,
                                       plateau_patience=2)
    by_name = {s["name"]: s for s in specs}
    assert [s["name"] for s in specs] == names and all(s["lr0"] == 0.1 for s in specs)
    total = 500
    # restarts: cycles of 1, 2 and 4 units end exactly at the run's last batch
    assert by_name["cosine_restarts"]["first_decay_steps"] * 7 == pytest.approx(total)
    assert by_name["warmup_cosine"]["warmup_steps"] + by_name["warmup_cosine"]["decay_steps"] == total
    assert by_name["triangular_cyclical"]["step_size"] == pytest.approx(total / 6)
    assert by_name["wsd"]["decay_start"] == total - 100 and by_name["linear_to_zero"]["decay_start"] == 50
    for name in ("cosine_decay", "polynomial_decay", "one_cycle", "warmup_cosine", "wsd", "wsd_cosine",
                 "linear_to_zero"):
        params = {k: v for k, v in by_name[name].items() if k != "name"}
        end = schedules.SCHEDULES[name].formula(total, **params)
        assert end <= 0.001 + 1e-12  # every decay ends at or below final_fraction · lr0


def test_plateau_rule_closed_form():
    losses = [1.0, 0.9, 0.95, 0.92, 0.91, 0.95, 0.96, 0.97, 0.8]
    # best 0.9 at epoch 2; three epochs without improvement → cut at the end of epoch 5; again at epoch 8
    assert schedules.plateau_rates(losses, lr0=0.1, factor=0.5, patience=3, min_lr=0.02) == pytest.approx(
        [0.1, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025])
    assert schedules.plateau_rates([1.0] * 12, lr0=0.1, factor=0.5, patience=2, min_lr=0.02)[-1] == 0.02


def test_reduce_on_plateau_logged_rates_follow_the_rule():
    """ReduceLROnPlateau has no closed form: the logged rates must be the rule replayed on the run's own
    validation losses, and the optimizer must apply them (read off the probe weight)."""
    schedule = {"name": "reduce_on_plateau", "lr0": 0.1, "factor": 0.5, "patience": 1, "min_lr": 0.001}
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(optimizer=build_optimizer({"name": "sgd", "momentum": 0.0}, schedules.keras_learning_rate(schedule)),
                  loss=lambda y_true, y_pred: keras.ops.mean(y_pred))
    lr_log = LearningRateLog()
    x = np.ones((24, 1), dtype="float32")
    # the validation loss is w itself, which only falls: a loss that falls by less than min_delta is a plateau
    fit = model.fit(x, np.zeros(24), batch_size=4, epochs=6, shuffle=False, verbose=0,
                    validation_data=(x, np.zeros(24)), callbacks=schedules.keras_callbacks(schedule) + [lr_log])
    expected = schedules.plateau_rates(fit.history["val_loss"], 0.1, 0.5, 1, 0.001)
    np.testing.assert_allclose(lr_log.rates, expected, rtol=1e-6)
    w = float(model.get_weights()[0][0, 0])
    assert w == pytest.approx(-6 * sum(expected), rel=1e-5)
