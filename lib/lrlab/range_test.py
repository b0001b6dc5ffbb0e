"""Smith's learning-rate range test (the lr_range_test family): one run that raises the rate batch by batch and
records the loss, for the finder (lrlab.summary.range_test_suggestion) to read."""

import keras
import numpy as np
import pandas as pd

from . import tasks
from .config import run_label
from .models import build_model
from .optimizers import build_optimizer
from .train import process_state_kept, set_seed


class RangeTestRecorder(keras.callbacks.Callback):
    """Each batch's own loss and rate during a range test; stops after `steps` batches, or once the smoothed loss
    has grown to `stop_factor` times its minimum (the rate has become too high to learn)."""

    def __init__(self, steps, smoothing=0.98, stop_factor=4.0):
        super().__init__()
        self.steps, self.smoothing, self.stop_factor = steps, smoothing, stop_factor
        self.rates, self.losses, self.smoothed = [], [], []
        self._average = 0.0

    def on_train_batch_begin(self, batch, logs=None):
        # Keras reports a running mean over the epoch; reset it so the batch's log is that batch's loss alone
        self.model.reset_metrics()
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))

    def on_train_batch_end(self, batch, logs=None):
        loss = float(logs["loss"])
        self.losses.append(loss)
        # exponential moving average, bias-corrected as in Smith's and fastai's range test
        self._average = self.smoothing * self._average + (1 - self.smoothing) * loss
        self.smoothed.append(self._average / (1 - self.smoothing ** len(self.losses)))
        if (len(self.losses) >= self.steps or not np.isfinite(loss)
                or self.smoothed[-1] > self.stop_factor * min(self.smoothed)):
            self.model.stop_training = True


@process_state_kept()
def range_test(config, dataset, log=print) -> pd.DataFrame:
    """Smith's learning-rate range test: the rate grows exponentially from range min to max over range steps
    batches (Keras's ExponentialDecay with a rate above 1); returns step, lr, loss and smoothed loss per batch.
    The batches come in an order drawn from the run's seed alone (a new permutation each pass over the data), so a
    test gives the same curve whatever the process ran before it."""
    keras.config.set_dtype_policy(config["precision"])
    set_seed(config["seed"])
    r = config["range"]
    model = build_model(config["model"], input_shape=dataset["x_train"].shape[1:],
                        n_classes=tasks.n_classes(config["data"]))
    rising = keras.optimizers.schedules.ExponentialDecay(r["min"], decay_steps=r["steps"],
                                                         decay_rate=r["max"] / r["min"])
    model.compile(optimizer=build_optimizer(config["optimizer"], rising), loss="sparse_categorical_crossentropy",
                  steps_per_execution=1)
    recorder = RangeTestRecorder(r["steps"])
    order = np.random.default_rng(config["seed"])
    x, y = dataset["x_train"], dataset["y_train"]
    while not model.stop_training:  # one pass over the data per call; the recorder stops the test
        shuffled = order.permutation(len(y))
        model.fit(x[shuffled], y[shuffled], batch_size=config["batch_size"], shuffle=False, verbose=0, epochs=1,
                  callbacks=[recorder])
    n = len(recorder.losses)
    log(f"range test {run_label(config)} seed {config['seed']}: {n} batches, "
        f"lr {recorder.rates[0]:.2g} to {recorder.rates[n - 1]:.2g}")
    return pd.DataFrame({"step": np.arange(n), "lr": recorder.rates[:n], "loss": recorder.losses,
                         "smoothed_loss": recorder.smoothed})
