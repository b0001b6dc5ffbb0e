"""The private Keras API lrlab relies on (lrlab.keras_internals), checked on the pinned Keras: a Keras upgrade that
moves or changes one fails here first, by name. Also: what a run changes in the process through them (and
TensorFlow's logger) is put back when it ends."""

import inspect
import logging
import random

import keras
import numpy as np
import pytest

from lrlab import keras_internals

UPGRADE = (f"on Keras {keras.__version__}: lrlab.keras_internals relies on this private Keras API; see that "
           f"module's comment on it and adapt it to this version")

# (method, the parameters lrlab passes or receives, after self) for every optimizer method it overrides or calls
OPTIMIZER_METHODS = {
    "update_step": ["gradient", "variable", "learning_rate"],
    "_apply_weight_decay": ["variables"],
    "_use_weight_decay": ["variable"],
    "_get_variable_index": ["variable"],
    "_track_variable": ["variable"],
    "_backend_update_step": ["grads", "trainable_variables", "learning_rate"],
}


def test_the_list_of_optimizer_internals_is_the_one_checked_here():
    assert set(keras_internals.OPTIMIZER_OVERRIDES + keras_internals.OPTIMIZER_CALLS) == set(OPTIMIZER_METHODS)


@pytest.mark.parametrize("optimizer", ["SGD", "Adam", "AdamW", "Lion"])
@pytest.mark.parametrize("method", sorted(OPTIMIZER_METHODS))
def test_every_optimizer_method_relied_on_exists_with_its_parameters(method, optimizer):
    found = getattr(getattr(keras.optimizers, optimizer), method, None)
    assert callable(found), f"keras.optimizers.{optimizer}.{method} is gone {UPGRADE}"
    parameters = list(inspect.signature(found).parameters)[1:]
    assert parameters == OPTIMIZER_METHODS[method], \
        f"keras.optimizers.{optimizer}.{method} now takes {parameters}, not {OPTIMIZER_METHODS[method]}, {UPGRADE}"


@pytest.fixture
def seed_source_kept():
    kept = keras_internals.default_seed_source()
    yield
    keras_internals.set_default_seed_source(kept)


def _unseeded_weights():
    return keras.ops.convert_to_numpy(keras.initializers.GlorotUniform()((4, 3)))


def test_keras_draws_its_default_seeds_from_the_source_lrlab_sets(seed_source_kept):
    module, name = keras_internals.SEED_SOURCE_MODULE, keras_internals.SEED_SOURCE_NAME
    assert hasattr(module, name), f"{module.__name__}.{name} is gone {UPGRADE}"
    assert keras_internals.default_seed_source() is getattr(module, name)
    keras_internals.set_default_seed_source(random.Random(3))
    assert getattr(module, name).randint(1, 10) == random.Random(3).randint(1, 10), "set_default_seed_source"
    # an initializer built without a seed takes it from there: the same source, the same weights
    keras_internals.set_default_seed_source(random.Random(3))
    first = _unseeded_weights()
    keras_internals.set_default_seed_source(random.Random(3))
    again = _unseeded_weights()
    keras_internals.set_default_seed_source(random.Random(4))
    other = _unseeded_weights()
    assert np.array_equal(first, again) and not np.array_equal(first, other), \
        f"an unseeded initializer no longer draws its seed from {module.__name__}.{name} {UPGRADE}"
    # ... and nothing else: the global `random` does not move it
    keras_internals.set_default_seed_source(random.Random(3))
    random.random()
    assert np.array_equal(_unseeded_weights(), first), f"unseeded initializers draw from elsewhere {UPGRADE}"


def test_the_learning_rate_an_optimizer_was_made_with_is_found():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert keras_internals.learning_rate_of(keras.optimizers.SGD(learning_rate=schedule)) is schedule, \
        f"Optimizer._learning_rate no longer holds the schedule it was given {UPGRADE}"
    rate = keras_internals.learning_rate_of(keras.optimizers.Adam(learning_rate=0.25))
    assert isinstance(rate, keras.Variable) and float(keras.ops.convert_to_numpy(rate)) == 0.25, UPGRADE


def _after_one_step(optimizer_class, rates, gradient, **options):
    """Two weights of 1.0, one step of `gradient` each, at rate_per_variable's per-variable `rates` (the
    optimizer's own rate is 1.0): (the weights after the step, the optimizer)."""
    weights = [keras.Variable(np.ones(2, dtype="float32"), name=f"w{i}") for i in range(2)]
    made = [keras.Variable(rate, dtype="float32", trainable=False) for rate in rates]
    optimizer = keras_internals.rate_per_variable(optimizer_class, lambda variables: made)(learning_rate=1.0,
                                                                                           **options)
    optimizer.apply([keras.ops.full((2,), gradient) for _ in weights], weights)
    return [keras.ops.convert_to_numpy(w) for w in weights], optimizer, made


def test_each_variable_gets_its_own_rate_in_the_update_step():
    (first, second), optimizer, made = _after_one_step(keras.optimizers.SGD, [0.1, 0.01], 1.0)
    np.testing.assert_allclose(first, 1 - 0.1, rtol=1e-6, err_msg=f"update_step's rate is not applied {UPGRADE}")
    np.testing.assert_allclose(second, 1 - 0.01, rtol=1e-6, err_msg=f"update_step's rate is not applied {UPGRADE}")
    ids = {id(v) for v in optimizer.variables}
    assert all(id(rate) in ids for rate in made), f"the rates are not the optimizer's variables {UPGRADE}"


def test_each_variable_decays_at_its_own_rate_and_excluded_ones_do_not():
    # no gradient: AdamW's step moves nothing, so what changes is the weight decay alone, w × (1 - wd × rate)
    (first, second), _, _ = _after_one_step(keras.optimizers.AdamW, [0.1, 0.01], 0.0, weight_decay=0.5)
    np.testing.assert_allclose(first, 1 - 0.5 * 0.1, rtol=1e-6, err_msg=f"_apply_weight_decay is not used {UPGRADE}")
    np.testing.assert_allclose(second, 1 - 0.5 * 0.01, rtol=1e-6,
                               err_msg=f"_apply_weight_decay is not used {UPGRADE}")
    weights = [keras.Variable(np.ones(2, dtype="float32"), name=name) for name in ("kernel", "bias")]
    made = [keras.Variable(0.1, dtype="float32", trainable=False)] * 2
    optimizer = keras_internals.rate_per_variable(keras.optimizers.AdamW, lambda variables: made)(
        learning_rate=1.0, weight_decay=0.5)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    optimizer.apply([keras.ops.zeros((2,)) for _ in weights], weights)
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in weights)
    np.testing.assert_allclose(kernel, 0.95, rtol=1e-6)
    np.testing.assert_array_equal(bias, 1.0, err_msg=f"_use_weight_decay no longer excludes by name {UPGRADE}")


def test_a_run_puts_back_keras_s_seed_source_and_tensorflow_s_log_level(seed_source_kept):
    """train.process_state_kept, even when the run fails: the logger is quiet during the run only."""
    from lrlab import train

    logger = logging.getLogger("tensorflow")
    level, source = logger.level, random.Random(0)
    logger.setLevel(logging.INFO)
    keras_internals.set_default_seed_source(source)
    try:
        with train.process_state_kept():
            assert logger.level == logging.ERROR
            train.set_seed(1)
        assert logger.level == logging.INFO and keras_internals.default_seed_source() is source
        with pytest.raises(RuntimeError), train.process_state_kept():
            train.set_seed(2)
            raise RuntimeError("the run failed")
        assert logger.level == logging.INFO and keras_internals.default_seed_source() is source
    finally:
        logger.setLevel(level)
