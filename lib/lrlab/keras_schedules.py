"""The schedules Keras lacks, as LearningRateSchedule subclasses written with keras.ops so they run on every
backend. Their formulas are `schedules.one_cycle`, `schedules.triangular_cyclical` and
`schedules.warmup_stable_decay`."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="lrlab")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, lr0, initial, final, warmup_steps, total_steps):
        self.lr0, self.initial, self.final = lr0, initial, final
        self.warmup_steps, self.total_steps = warmup_steps, total_steps

    def __call__(self, step):
        t = ops.cast(step, "float32")
        up = self.initial + (self.lr0 - self.initial) * t / self.warmup_steps
        fraction = ops.minimum(t - self.warmup_steps, self.total_steps - self.warmup_steps) / (
            self.total_steps - self.warmup_steps)
        down = self.final + (self.lr0 - self.final) * 0.5 * (1 + ops.cos(math.pi * fraction))
        return ops.where(t < self.warmup_steps, up, down)

    def get_config(self):
        return {"lr0": self.lr0, "initial": self.initial, "final": self.final, "warmup_steps": self.warmup_steps,
                "total_steps": self.total_steps}


@keras.saving.register_keras_serializable(package="lrlab")
class TriangularCyclical(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, lr0, base, step_size):
        self.lr0, self.base, self.step_size = lr0, base, step_size

    def __call__(self, step):
        t = ops.cast(step, "float32")
        cycle = ops.floor(1 + t / (2 * self.step_size))
        x = ops.abs(t / self.step_size - 2 * cycle + 1)
        return self.base + (self.lr0 - self.base) * ops.maximum(0.0, 1 - x)

    def get_config(self):
        return {"lr0": self.lr0, "base": self.base, "step_size": self.step_size}


@keras.saving.register_keras_serializable(package="lrlab")
class WarmupStableDecay(keras.optimizers.schedules.LearningRateSchedule):
    COOLDOWNS = {"linear": lambda f: 1 - f, "1-sqrt": lambda f: 1 - ops.sqrt(f),
                 "cosine": lambda f: 0.5 * (1 + ops.cos(math.pi * f))}

    def __init__(self, lr0, initial, warmup_steps, decay_start, total_steps, final, cooldown):
        self.lr0, self.initial, self.final, self.cooldown = lr0, initial, final, cooldown
        self.warmup_steps, self.decay_start, self.total_steps = warmup_steps, decay_start, total_steps

    def __call__(self, step):
        t = ops.cast(step, "float32")
        up = self.initial + (self.lr0 - self.initial) * t / self.warmup_steps
        fraction = ops.clip((t - self.decay_start) / (self.total_steps - self.decay_start), 0.0, 1.0)
        down = self.final + (self.lr0 - self.final) * self.COOLDOWNS[self.cooldown](fraction)
        return ops.where(t < self.warmup_steps, up, ops.where(t <= self.decay_start, self.lr0, down))

    def get_config(self):
        return {"lr0": self.lr0, "initial": self.initial, "warmup_steps": self.warmup_steps,
                "decay_start": self.decay_start, "total_steps": self.total_steps, "final": self.final,
                "cooldown": self.cooldown}
