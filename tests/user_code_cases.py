"""Schedules and optimizers of a user's own for the custom family's tests (tests/test_custom.py): a correct one
of each kind, ones whose budget does not match the run, and broken ones."""

import keras

S = keras.optimizers.schedules


def cosine(total_steps, lr0, alpha=0.01):
    """Correct: cosine decay over exactly the run."""
    return S.CosineDecay(lr0, decay_steps=total_steps, alpha=alpha)


def halving(epochs, lr0):
    """Correct, a callback: the rate halves once, half-way."""
    return keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr0 if epoch < epochs // 2 else lr0 / 2)


def sgd_nesterov(lr0, momentum=0.9):
    return keras.optimizers.SGD(learning_rate=lr0, momentum=momentum, nesterov=True)


# ---- budget mismatches, each to be warned about ----

def decay_longer_than_training(total_steps, lr0):
    return S.CosineDecay(lr0, decay_steps=4 * total_steps)


def decay_shorter_than_training(total_steps, lr0):
    return S.CosineDecay(lr0, decay_steps=total_steps // 4, alpha=0.01)


def warmup_longer_than_training(total_steps, lr0):
    return S.CosineDecay(lr0 / 10, decay_steps=total_steps, warmup_target=lr0, warmup_steps=2 * total_steps)


def ends_above_its_start(total_steps, lr0):
    return S.PolynomialDecay(lr0, decay_steps=total_steps, end_learning_rate=2 * lr0)


def goes_negative(total_steps, lr0):
    return S.PolynomialDecay(lr0, decay_steps=total_steps, end_learning_rate=-lr0)


class IgnoresItsStep(S.LearningRateSchedule):
    def __call__(self, step):
        return 0.05


def ignores_its_step():
    return IgnoresItsStep()


def written_per_epoch(lr0):
    """Meant as ×0.5 per epoch, but Keras calls a schedule with the batch count."""
    return S.ExponentialDecay(lr0, decay_steps=1, decay_rate=0.5)


def cycle_cut_short(total_steps, lr0):
    """Restarts every 45% of the run: the run ends just after the third starts, near the top."""
    return S.CosineDecayRestarts(lr0, first_decay_steps=int(0.45 * total_steps), t_mul=1.0, alpha=0.01)


# ---- broken ----

def raises(lr0):
    raise ValueError("warmup_epochs must be below epochs")


def returns_a_number(lr0):
    return lr0


def returns_a_schedule_as_optimizer(lr0):
    return S.CosineDecay(lr0, decay_steps=10)


class GoesNaN(S.LearningRateSchedule):
    def __call__(self, step):
        return keras.ops.sqrt(0.01 - keras.ops.cast(step, "float32") * 1e-4)  # a negative number's root past step 100


def nan_rates():
    return GoesNaN()


NOT_A_FUNCTION = 3
