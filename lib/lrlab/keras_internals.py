"""The one place lrlab touches Keras's private API (keras.src, attributes and methods with a leading underscore).

Everything else in the library goes through the names below; each says what it relies on and why. They hold on
the pinned Keras (pyproject.toml), and tests/test_keras_internals.py checks each one there, so that a Keras upgrade
that moves one fails in that file first, with its name, not somewhere deep in a training run.
"""

import keras
from keras.src.random import seed_generator as _seed_generator

# ---- default seeds ----
# keras.src.random.seed_generator.python_random: the module-level generator (Python's `random` module, unless
# replaced) that make_default_seed() draws every seed from for initializers and dropout layers built without one.
# lrlab gives each run a generator of its own there, so other threads' use of `random` cannot change its weights.
SEED_SOURCE_MODULE, SEED_SOURCE_NAME = _seed_generator, "python_random"


def default_seed_source():
    """Where Keras draws its default seeds from now (to put back later: set_default_seed_source)."""
    return getattr(SEED_SOURCE_MODULE, SEED_SOURCE_NAME)


def set_default_seed_source(rng):
    """Make Keras draw its default seeds from `rng` (anything with randint, e.g. a random.Random)."""
    setattr(SEED_SOURCE_MODULE, SEED_SOURCE_NAME, rng)


# ---- optimizers ----
# Optimizer._learning_rate: the rate an optimizer was given as it was given (a LearningRateSchedule or a rate
# variable); the public `learning_rate` is its value at the current step, so the schedule itself is only here.
def learning_rate_of(optimizer):
    """The LearningRateSchedule (or rate variable) `optimizer` was made with, not its current value."""
    return optimizer._learning_rate


# What rate_per_variable overrides or calls, on keras.optimizers.Optimizer (its backend's subclass included):
#   update_step(gradient, variable, learning_rate): one variable's update, given the rate to apply; called once
#       per variable per step with the optimizer's own rate (every built-in optimizer's arithmetic lives here).
#   _apply_weight_decay(variables): decoupled weight decay (AdamW, Lion, ...), variable -= variable × wd × rate at
#       the optimizer's own rate; rewritten with each variable's rate, in Keras's formula.
#   _use_weight_decay(variable): whether exclude_from_weight_decay leaves `variable` out of the decay.
#   _get_variable_index(variable): the variable's position among those the optimizer was built with.
#   _track_variable(variable): makes a variable the optimizer's own (in .variables, saved with it), as Keras does
#       with its own learning_rate variable.
#   _backend_update_step(grads, trainable_variables, learning_rate): the step of every variable at once, after
#       gradient clipping and Keras's weight decay, before the iteration count moves; by default it calls
#       update_step per variable (TensorFlow's through tf.distribute). WholeStepOptimizer overrides it.
OPTIMIZER_OVERRIDES = ("update_step", "_apply_weight_decay", "_backend_update_step")
OPTIMIZER_CALLS = ("_use_weight_decay", "_get_variable_index", "_track_variable")


class WholeStepOptimizer(keras.optimizers.Optimizer):
    """A Keras optimizer whose step sees every variable at once, for methods whose update depends on sums over all
    parameters (D-Adaptation, Prodigy, DoG): subclasses implement `update_all(grads, variables, learning_rate)`
    instead of update_step. Keras's own path calls update_step one variable at a time, which cannot hold such a
    sum. Only without tf.distribute (the TensorFlow backend's version of the overridden method merges across
    replicas; lrlab trains on one device per process)."""

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        self.update_all(list(grads), list(trainable_variables), learning_rate)

    def update_all(self, grads, variables, learning_rate):
        raise NotImplementedError

    def update_step(self, gradient, variable, learning_rate):
        raise NotImplementedError(f"{type(self).__name__} updates all its variables at once (update_all)")

    def variable_rate(self, variable, learning_rate):
        """The rate to apply to `variable`: the optimizer's own, unless rate_per_variable gives each its own."""
        return learning_rate


def rate_at(rate, iterations):
    """A rate's value: a rate variable's, or a Keras LearningRateSchedule's at `iterations` (as Keras evaluates an
    optimizer's own schedule)."""
    return rate(iterations) if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule) else rate


def rate_per_variable(optimizer_class, rates_for):
    """A subclass of `optimizer_class` that applies to each variable its own rate: `rates_for(variables)`, called
    once when the optimizer is built (after Keras's own build), returns one rate per trainable variable, a rate
    variable or a Keras LearningRateSchedule (evaluated at the optimizer's iteration count, as Keras evaluates the
    optimizer's own), used in place of the optimizer's rate in its update step and its weight decay. The
    optimizer's own rate is then unused."""

    class RatePerVariable(optimizer_class):
        def build(self, variables):
            super().build(variables)
            rates = list(rates_for(variables))
            for rate in {id(rate): rate for rate in rates}.values():
                if isinstance(rate, keras.Variable):
                    self._track_variable(rate)
            self._lrlab_rates = rates

        def variable_rate(self, variable, learning_rate):  # WholeStepOptimizer's update_all asks for it here
            return rate_at(self._lrlab_rates[self._get_variable_index(variable)], self.iterations)

        def update_step(self, gradient, variable, learning_rate):
            return super().update_step(gradient, variable, self.variable_rate(variable, learning_rate))

        def _apply_weight_decay(self, variables):
            if self.weight_decay is None:
                return
            for variable in variables:
                if self._use_weight_decay(variable):
                    lr = keras.ops.cast(self.variable_rate(variable, None), variable.dtype)
                    wd = keras.ops.cast(self.weight_decay, variable.dtype)
                    variable.assign(variable - variable * wd * lr)

    RatePerVariable.__name__ = RatePerVariable.__qualname__ = f"{optimizer_class.__name__}RatePerVariable"
    return RatePerVariable
