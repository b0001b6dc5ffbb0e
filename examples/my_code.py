"""Examples of your own schedule and optimizer for the custom notebook (notebooks/custom.ipynb).

Each is a function the project calls with `epochs`, `steps_per_epoch`, `total_steps` and `lr0` (the ones it
accepts) and your own keyword arguments (`-p schedule_kwargs=...`). A schedule returns a Keras
LearningRateSchedule (called with the number of batches seen) or a Keras callback; an optimizer returns a Keras
optimizer. Try them:

    python build_report.py --profile study --only custom -p schedule=examples.my_code:warmup_then_cosine
    python build_report.py --profile study --only custom -p optimizer=examples.my_code:adam_with_clipping
"""

import keras


def warmup_then_cosine(total_steps, steps_per_epoch, lr0, warmup_epochs=1):
    """A linear warm-up from lr0/10 over `warmup_epochs`, then cosine decay to zero by the end of the run."""
    warmup = warmup_epochs * steps_per_epoch
    return keras.optimizers.schedules.CosineDecay(lr0 / 10, decay_steps=total_steps - warmup, alpha=0.0,
                                                  warmup_target=lr0, warmup_steps=warmup)


def halve_every(epochs, lr0, every=5):
    """A callback: the rate halves every `every` epochs (Keras's LearningRateScheduler, per epoch)."""
    return keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr0 * 0.5 ** (epoch // every))


def adam_with_clipping(clipnorm=1.0):
    """Adam at its usual rate with each gradient's norm clipped, every argument set explicitly. It ignores lr0:
    an optimizer chooses its own rate unless you also give a schedule."""
    return keras.optimizers.Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                                 clipnorm=clipnorm)
