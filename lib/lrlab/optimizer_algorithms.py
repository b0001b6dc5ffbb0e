"""Schedule-free and learning-rate-free optimizers, as Keras optimizers that follow their authors' code.

- ScheduleFree (AdamW and SGD): Defazio et al., "The Road Less Scheduled" (NeurIPS 2024), as
  facebookresearch/schedule_free's AdamWScheduleFree and SGDScheduleFree (package `schedulefree` 1.4.1) compute
  it: warm-up inside the optimizer, the average weighted by the rate squared (lr_max ** weight_lr_power), weight
  decay taken at the training point y. Keras's own ScheduleFreeAdamW averages with 1/t under warm-up and applies
  weight decay to another sequence, and nothing in Keras evaluates at the averaged point: here `evaluation_point`
  does, for the report's validation and test numbers.
- Prodigy (Mishchenko & Defazio 2024, `prodigyopt` 1.1.2), D-Adaptation's Adam (Defazio & Mishchenko 2023,
  `dadaptation` 3.2) and DoG (Ivgi et al. 2023, `dog-optimizer` 1.0.3): their step size comes from sums over all
  parameters. Those sums are taken per tower (`use_towers`), so seeds trained side by side in one model each get
  the step size they would get alone; and the authors' defaults (bias correction off) are every setting's default.

Every one is checked against its authors' package at 1e-10 in float64 (tests/test_optimizer_algorithms.py, with
fixtures written by tests/fixtures/make_optimizer_references.py).
"""

import contextlib
import math

import keras
from keras import ops

from .keras_internals import WholeStepOptimizer


def _scalar(optimizer, value, name, dtype):
    # The value is the variable's initializer, not an assignment after it: on TensorFlow, Keras builds an optimizer
    # while tracing the first training step, where an assignment would be part of the traced graph and never run
    # eagerly (the variable would keep zeros). A callable, not Keras's Constant, which rounds through float32.
    return optimizer.add_variable(shape=(), initializer=lambda shape, dtype: _constant(value, dtype), dtype=dtype,
                                  name=name)


def _constant(value, dtype):
    """A Python number as a tensor of `dtype` (a cast would round it through float32 first on TensorFlow)."""
    return ops.convert_to_tensor(value, dtype=dtype)


def _copy_of(optimizer, variable, name):
    """A slot holding `variable`'s value now (its initial value: optimizers are built before the first step), as
    the slot's initializer (see _scalar); a buffer of its own: JAX would otherwise hand one buffer in twice per
    step."""
    return optimizer.add_variable_from_reference(variable, name,
                                                 initializer=lambda shape, dtype: ops.copy(ops.cast(variable, dtype)))


class ScheduleFree(keras.optimizers.Optimizer):
    """Schedule-free AdamW (`adaptive=True`) or SGD: the model's weights are the training point y; z is the base
    sequence and the evaluation point is x = (y − (1 − β1) z) / β1. Every variable carries its own copy of the
    running maximum rate and weight sum (one number each), so rates given per variable (towers) stay apart.

    `learning_rate` is the rate after warm-up (the authors' `lr`); `beta_1` is the interpolation (the SGD
    version's momentum)."""

    def __init__(self, learning_rate=0.0025, beta_1=0.9, beta_2=0.999, epsilon=1e-8, weight_decay=0.0,
                 warmup_steps=0, r=0.0, weight_lr_power=2.0, adaptive=True, name="schedule_free", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.decay, self.warmup_steps, self.r = weight_decay, warmup_steps, r
        self.weight_lr_power, self.adaptive = weight_lr_power, adaptive

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._z = [_copy_of(self, v, "z") for v in variables]
        self._second_moments = [self.add_variable_from_reference(v, "second_moment") for v in variables] \
            if self.adaptive else []
        self._lr_max = [_scalar(self, -1.0, "lr_max", v.dtype) for v in variables]
        self._weight_sum = [_scalar(self, 0.0, "weight_sum", v.dtype) for v in variables]

    def update_step(self, gradient, variable, learning_rate):
        i = self._get_variable_index(variable)
        dtype = variable.dtype
        k = ops.cast(self.iterations, dtype)
        lr = ops.cast(learning_rate, dtype)
        if self.warmup_steps > 0:
            lr = lr * ops.where(k < self.warmup_steps, (k + 1) / self.warmup_steps, _constant(1.0, dtype))
        lr_max = ops.maximum(lr, self._lr_max[i])
        weight = (k + 1) ** self.r * lr_max ** self.weight_lr_power
        weight_sum = self._weight_sum[i] + weight
        ckp1 = ops.where(weight_sum > 0, weight / ops.where(weight_sum > 0, weight_sum, 1.0), 0.0)
        self.assign(self._lr_max[i], lr_max)
        self.assign(self._weight_sum[i], weight_sum)

        gradient = ops.cast(gradient, dtype)
        if self.adaptive:
            second_moment = self._second_moments[i]
            self.assign(second_moment, second_moment * self.beta_2 + gradient * gradient * (1 - self.beta_2))
            bias_correction2 = 1 - ops.power(_constant(self.beta_2, dtype), k + 1)
            gradient = gradient / (ops.sqrt(second_moment / bias_correction2) + self.epsilon)
        if self.decay:
            gradient = gradient + variable * self.decay  # at y, as the authors' code
        z = self._z[i]
        y = variable + (z - variable) * ckp1
        self.assign(variable, y + gradient * (lr * (self.beta_1 * (1 - ckp1) - 1)))
        self.assign(z, z - gradient * lr)

    def evaluation_points(self, variables):
        """x for each of `variables` (built ones): the averaged point a schedule-free model is evaluated at."""
        return [v + (self._z[self._get_variable_index(v)] - v) * (1 - 1 / self.beta_1) for v in variables]

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "weight_decay": self.decay, "warmup_steps": self.warmup_steps, "r": self.r,
                "weight_lr_power": self.weight_lr_power, "adaptive": self.adaptive}


@contextlib.contextmanager
def evaluation_point(model, calibration=()):
    """Inside: the model's weights at a schedule-free optimizer's evaluation point x; after: exactly the training
    point y again, batch-normalization statistics included (kept, not recomputed, so evaluating never moves
    training). A model with batch normalization gets its statistics re-estimated at x from `calibration` (inputs
    as the model takes them, batch by batch): the statistics gathered along y do not describe x's activations.
    Any other optimizer: the model as it is."""
    optimizer = getattr(model, "optimizer", None)
    if not isinstance(optimizer, ScheduleFree) or not optimizer.built:
        yield
        return
    variables = model.trainable_variables
    statistics = [v for layer in _batch_normalizations(model) for v in (layer.moving_mean, layer.moving_variance)]
    kept = [ops.convert_to_numpy(v) for v in variables + statistics]
    for v, x in zip(variables, optimizer.evaluation_points(variables)):
        v.assign(x)
    if statistics:
        _reestimate_batch_statistics(model, calibration)
    try:
        yield
    finally:
        for v, value in zip(variables + statistics, kept):
            v.assign(value)


def _batch_normalizations(model):
    """Every BatchNormalization layer of `model`, in the models nested in it too (the towers of one model)."""
    found = []
    for layer in getattr(model, "layers", []):
        found += [layer] if isinstance(layer, keras.layers.BatchNormalization) else _batch_normalizations(layer)
    return found


def _reestimate_batch_statistics(model, batches):
    """Each batch normalization's moving statistics set to the average of its batch statistics over `batches`, at
    the weights the model has now: the i-th batch enters with momentum (i − 1) / i, so the moving average is the
    plain mean (PyTorch's torch.optim.swa_utils.update_bn does the same for averaged weights)."""
    layers = _batch_normalizations(model)
    momenta = [layer.momentum for layer in layers]
    try:
        for i, inputs in enumerate(batches, start=1):
            for layer in layers:
                layer.momentum = (i - 1) / i
            model(inputs, training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum


class PerTowerSums(WholeStepOptimizer):
    """A method whose step size comes from sums over all of a run's parameters. `use_towers(towers)` (before the
    first step) says which variables are whose: each tower's sums and step-size state are its own. Without it,
    every variable is one run's."""

    def use_towers(self, towers):
        self._towers = [[id(v) for v in tower.trainable_variables] for tower in towers]

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        # each tower's variables in the tower's own order, so that its sums add up as they would alone
        slot = {id(v): i for i, v in enumerate(variables)}
        towers = getattr(self, "_towers", None) or [[id(v) for v in variables]]
        self._groups = [[slot[key] for key in keys if key in slot] for keys in towers]
        if sum(map(len, self._groups)) != len(variables):
            raise ValueError(f"{self.name}: use_towers was given towers that do not hold every variable it trains")
        self.build_state(variables)

    def tower_scalars(self, variables, value, name):
        return [_scalar(self, value, f"{name}_{t}", variables[members[0]].dtype)
                for t, members in enumerate(self._groups)]

    def update_all(self, grads, variables, learning_rate):
        index = {id(v): self._get_variable_index(v) for v in variables}
        by_slot = {index[id(v)]: (g, v) for g, v in zip(grads, variables)}
        for t, members in enumerate(self._groups):
            present = [i for i in members if i in by_slot]
            if present:
                first = by_slot[present[0]][1]
                rate = ops.cast(self.variable_rate(first, learning_rate), first.dtype)
                self.update_tower(t, [(i, *by_slot[i]) for i in present], rate)

    def build_state(self, variables):
        raise NotImplementedError

    def update_tower(self, t, members, learning_rate):
        """One tower's step: `members` is [(slot index, gradient, variable)], `learning_rate` its rate."""
        raise NotImplementedError


def _adam_bias_correction(optimizer, dtype):
    """Prodigy's and D-Adaptation's bias correction of the step, √(1 − β2^(k+1)) / (1 − β1^(k+1)), k the step."""
    k = ops.cast(optimizer.iterations, dtype)
    return (ops.sqrt(1 - ops.power(_constant(optimizer.beta_2, dtype), k + 1))
            / (1 - ops.power(_constant(optimizer.beta_1, dtype), k + 1)))


def _sum_all(values):
    """The sum of per-variable sums, as one reduction: a chain of additions is regrouped by TensorFlow's graph
    optimizer, and a tower beside others then rounded otherwise than alone."""
    return ops.sum(ops.stack(values))


class Prodigy(PerTowerSums):
    """Prodigy (prodigyopt.Prodigy): Adam whose step size d grows from d0 to an estimate of the distance to the
    solution, d_coef × (Σ over steps of d·dlr·⟨g, x0 − x⟩, decayed by β3) / ‖s‖₁."""

    def __init__(self, learning_rate=1.0, beta_1=0.9, beta_2=0.999, beta_3=None, epsilon=1e-8, weight_decay=0.0,
                 decouple=True, use_bias_correction=False, safeguard_warmup=False, d0=1e-6, d_coef=1.0,
                 growth_rate=math.inf, name="prodigy", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.beta_3, self.epsilon = beta_1, beta_2, beta_3, epsilon
        self.decay, self.decouple, self.use_bias_correction = weight_decay, decouple, use_bias_correction
        self.safeguard_warmup, self.d0, self.d_coef, self.growth_rate = safeguard_warmup, d0, d_coef, growth_rate

    def build_state(self, variables):
        self._p0 = [_copy_of(self, v, "p0") for v in variables]
        self._s = [self.add_variable_from_reference(v, "s") for v in variables]
        self._m = [self.add_variable_from_reference(v, "m") for v in variables]
        self._v = [self.add_variable_from_reference(v, "v") for v in variables]
        self._d = self.tower_scalars(variables, self.d0, "d")
        self._d_max = self.tower_scalars(variables, self.d0, "d_max")
        self._d_numerator = self.tower_scalars(variables, 0.0, "d_numerator")

    def update_tower(self, t, members, lr):
        dtype = members[0][2].dtype
        beta1, beta2 = self.beta_1, self.beta_2
        beta3 = math.sqrt(beta2) if self.beta_3 is None else self.beta_3
        bias_correction = _adam_bias_correction(self, dtype) if self.use_bias_correction else 1.0
        d, d_max = self._d[t], self._d_max[t]
        dlr = d * lr * bias_correction
        numerator_terms, denominator_terms = [], []
        for i, g, p in members:
            g = ops.cast(g, dtype)
            if self.decay and not self.decouple:
                g = g + p * self.decay
            numerator_terms.append((d / self.d0) * dlr * ops.sum(g * (self._p0[i] - p)))
            self.assign(self._m[i], self._m[i] * beta1 + g * (d * (1 - beta1)))
            self.assign(self._v[i], self._v[i] * beta2 + g * g * (d * d * (1 - beta2)))
            step_weight = (d / self.d0) * (d if self.safeguard_warmup else dlr)
            s = self._s[i] * beta3 + g * step_weight
            self.assign(self._s[i], s)
            denominator_terms.append(ops.sum(ops.abs(s)))
        d_numerator = self._d_numerator[t] * beta3 + _sum_all(numerator_terms)
        d_denominator = _sum_all(denominator_terms)
        # the authors skip the whole step while every s is zero (no gradient yet); d stays, and so do the weights
        moving = d_denominator > 0
        d_hat = self.d_coef * d_numerator / ops.where(moving, d_denominator, 1.0)
        new_d = ops.where(ops.equal(d, _constant(self.d0, dtype)), ops.maximum(d, d_hat), d)
        new_d_max = ops.maximum(d_max, d_hat)
        new_d = ops.minimum(new_d_max, new_d * self.growth_rate)
        self.assign(self._d_numerator[t], ops.where(moving, d_numerator, self._d_numerator[t]))
        self.assign(d_max, ops.where(moving, new_d_max, d_max))
        for (i, g, p) in members:
            step = self._m[i] / (ops.sqrt(self._v[i]) + new_d * self.epsilon)
            updated = p - p * (self.decay * dlr) if self.decay and self.decouple else p
            self.assign(p, ops.where(moving, updated - step * dlr, p))
        self.assign(d, ops.where(moving, new_d, d))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "beta_3": self.beta_3,
                "epsilon": self.epsilon, "weight_decay": self.decay, "decouple": self.decouple,
                "use_bias_correction": self.use_bias_correction, "safeguard_warmup": self.safeguard_warmup,
                "d0": self.d0, "d_coef": self.d_coef, "growth_rate": self.growth_rate}


class DAdaptAdam(PerTowerSums):
    """D-Adaptation's Adam (dadaptation.DAdaptAdam): the step size d is a lower bound on the distance to the
    solution, (weighted Σ dlr·⟨g, s/√v⟩) / ((1 − √β2) ‖s‖₁), never decreasing."""

    def __init__(self, learning_rate=1.0, beta_1=0.9, beta_2=0.999, epsilon=1e-8, weight_decay=0.0,
                 decouple=False, use_bias_correction=False, d0=1e-6, growth_rate=math.inf, name="dadapt_adam",
                 **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.decay, self.decouple, self.use_bias_correction = weight_decay, decouple, use_bias_correction
        self.d0, self.growth_rate = d0, growth_rate

    def build_state(self, variables):
        self._s = [self.add_variable_from_reference(v, "s") for v in variables]
        self._m = [self.add_variable_from_reference(v, "m") for v in variables]
        self._v = [self.add_variable_from_reference(v, "v") for v in variables]
        self._d = self.tower_scalars(variables, self.d0, "d")
        self._numerator = self.tower_scalars(variables, 0.0, "numerator_weighted")

    def update_tower(self, t, members, lr):
        dtype = members[0][2].dtype
        beta1, beta2 = self.beta_1, self.beta_2
        sqrt_beta2 = beta2 ** 0.5
        bias_correction = _adam_bias_correction(self, dtype) if self.use_bias_correction else 1.0
        d = self._d[t]
        dlr = d * lr * bias_correction
        numerator_terms, s_norms = [], []
        for i, g, p in members:
            g = ops.cast(g, dtype)
            if self.decay and not self.decouple:
                g = g + p * self.decay
            denominator = ops.sqrt(self._v[i]) + self.epsilon
            numerator_terms.append(dlr * ops.sum(g * (self._s[i] / denominator)))
            self.assign(self._m[i], self._m[i] * beta1 + g * (dlr * (1 - beta1)))
            self.assign(self._v[i], self._v[i] * beta2 + g * g * (1 - beta2))
            s = self._s[i] * sqrt_beta2 + g * (dlr * (1 - sqrt_beta2))
            self.assign(self._s[i], s)
            s_norms.append(ops.sum(ops.abs(s)))
        numerator = self._numerator[t] * sqrt_beta2 + _sum_all(numerator_terms) * (1 - sqrt_beta2)
        s_norm = _sum_all(s_norms)
        moving = s_norm > 0  # as Prodigy: the authors skip the step while s is zero
        d_hat = numerator / ((1 - sqrt_beta2) * ops.where(moving, s_norm, 1.0))
        new_d = ops.maximum(d, ops.minimum(d_hat, d * self.growth_rate))
        self.assign(self._numerator[t], ops.where(moving, numerator, self._numerator[t]))
        for (i, g, p) in members:
            step = self._m[i] / (ops.sqrt(self._v[i]) + self.epsilon)
            updated = p - p * (self.decay * dlr) if self.decay and self.decouple else p
            self.assign(p, ops.where(moving, updated - step, p))
        self.assign(d, ops.where(moving, new_d, d))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "weight_decay": self.decay, "decouple": self.decouple,
                "use_bias_correction": self.use_bias_correction, "d0": self.d0, "growth_rate": self.growth_rate}


class DoG(PerTowerSums):
    """DoG, "distance over gradients" (dog.DoG): SGD with step size lr × r̄ / √G, r̄ the largest distance travelled
    from the start (first reps_rel × (1 + ‖x0‖)) and G the sum of squared gradient norms."""

    def __init__(self, learning_rate=1.0, reps_rel=1e-6, weight_decay=0.0, epsilon=1e-8, init_eta=None,
                 name="dog", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.reps_rel, self.decay, self.epsilon, self.init_eta = reps_rel, weight_decay, epsilon, init_eta

    def build_state(self, variables):
        self._x0 = [_copy_of(self, v, "x0") for v in variables]
        self._rbar = self.tower_scalars(variables, 0.0, "rbar")
        self._g_sum = self.tower_scalars(variables, 0.0, "g_sum")

    def update_tower(self, t, members, lr):
        dtype = members[0][2].dtype
        first = ops.equal(self.iterations, 0)
        gradients = [ops.cast(g, dtype) + p * self.decay if self.decay else ops.cast(g, dtype)
                     for _, g, p in members]
        # the norm of the per-tensor norms, as the authors stack them
        start_norm = ops.sqrt(_sum_all([ops.sum(self._x0[i] * self._x0[i]) for i, _, _ in members]))
        distance = ops.sqrt(_sum_all([ops.sum(ops.square(p - self._x0[i])) for i, _, p in members]))
        reps_rel = 0.0 if self.init_eta is not None else self.reps_rel
        rbar = ops.where(first, reps_rel * (1 + start_norm), ops.maximum(self._rbar[t], distance))
        squared = _sum_all([ops.sum(g * g) for g in gradients])
        g_sum = ops.where(first, squared + self.epsilon, self._g_sum[t] + squared)
        eta = lr * rbar / ops.sqrt(g_sum)
        if self.init_eta is not None:
            eta = ops.where(first, _constant(self.init_eta, dtype), eta)
        self.assign(self._rbar[t], rbar)
        self.assign(self._g_sum[t], g_sum)
        for (i, _, p), g in zip(members, gradients):
            self.assign(p, p - g * eta)

    def get_config(self):
        return {**super().get_config(), "reps_rel": self.reps_rel, "weight_decay": self.decay,
                "epsilon": self.epsilon, "init_eta": self.init_eta}
