"""Training of one run: a configuration and a dataset in, a per-epoch history out."""

import logging
import os
import time


def _configure_backend():
    """Settings every backend reads from the environment when it starts, so no backend is imported here: honour
    LRLAB_THREADS (set by build_report.py when it runs notebooks side by side; several one-thread processes outrun
    one process with several threads here), and let parallel runs share one GPU instead of the first one taking
    all its memory."""
    threads = os.environ.get("LRLAB_THREADS")
    if threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                    "TF_NUM_INTEROP_THREADS"):
            os.environ.setdefault(var, threads)
        if threads == "1":  # JAX's CPU client: one thread for Eigen's contractions
            flags = os.environ.get("XLA_FLAGS", "")
            if "xla_cpu_multi_thread_eigen" not in flags:
                os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false".strip()
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")  # TensorFlow: take GPU memory as needed
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # JAX: the same


_configure_backend()

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from . import schedules  # noqa: E402
from .models import build_model  # noqa: E402
from .optimizers import build_optimizer  # noqa: E402
from .store import HISTORY_COLUMNS  # noqa: E402

# every run compiles a fresh model, which TensorFlow reports as "retracing": expected here, not a problem
logging.getLogger("tensorflow").setLevel(logging.ERROR)

# Evaluation computes no gradients, so a large batch only cuts per-batch overhead; the metrics do not depend on it.
EVAL_BATCH_SIZE = 1000


class LearningRateLog(keras.callbacks.Callback):
    """Records, before each epoch's first batch, the rate the optimizer is about to apply.

    Placed after any LearningRateScheduler, so it sees the value that scheduler has just set; for a per-batch
    schedule the optimizer evaluates it at its current iteration.
    """

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_epoch_begin(self, epoch, logs=None):
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


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
    """A short line every `every` epochs, so a long build shows where it is."""

    def __init__(self, name, epochs, log, every):
        super().__init__()
        self.name, self.epochs, self.log, self.every = name, epochs, log, every

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0 or epoch + 1 == self.epochs:
            self.log(f"{self.name}: epoch {epoch + 1}/{self.epochs} loss {logs['loss']:.4f} "
                     f"val_accuracy {logs['val_accuracy']:.4f}")


def compile_model(config, n_classes, input_shape, steps_per_execution):
    keras.utils.set_random_seed(config["seed"])
    model = build_model(config["model"], input_shape=input_shape, n_classes=n_classes)
    optimizer = build_optimizer(config["optimizer"], schedules.keras_learning_rate(config["schedule"]))
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  steps_per_execution=steps_per_execution)
    return model


def train_run(config, dataset, steps_per_execution=1, name="run", log=print):
    """Train `config` on `dataset` from its seed. Return its history (HISTORY_COLUMNS) and its test metrics
    ({"loss", "accuracy"}, measured once, after the last epoch; None when the run diverged)."""
    n_classes = len(config["data"]["classes"])
    model = compile_model(config, n_classes, dataset["x_train"].shape[1:], steps_per_execution)
    lr_log, timer = LearningRateLog(), EpochTimer()
    epochs = config["epochs"]
    # a diverged run stops at the first NaN loss instead of training on garbage; its history ends there
    callbacks = schedules.keras_callbacks(config["schedule"]) + [
        lr_log, timer, ProgressLine(name, epochs, log, every=max(1, epochs // 5)), keras.callbacks.TerminateOnNaN()]
    fit = model.fit(
        dataset["x_train"], dataset["y_train"],
        batch_size=config["batch_size"], epochs=epochs, shuffle=True,
        validation_data=(dataset["x_val"], dataset["y_val"]), validation_batch_size=EVAL_BATCH_SIZE,
        callbacks=callbacks, verbose=0,
    )
    n = len(fit.history["loss"])
    history = pd.DataFrame({"epoch": np.arange(1, n + 1), "lr": lr_log.rates[:n]})
    for column in ("loss", "accuracy", "val_loss", "val_accuracy"):
        history[column] = np.asarray(fit.history[column], dtype=float)
    history["epoch_time_s"] = timer.seconds[:n]
    test = None
    if np.isfinite(history["loss"]).all():
        test = model.evaluate(dataset["x_test"], dataset["y_test"], batch_size=EVAL_BATCH_SIZE, verbose=0,
                              return_dict=True)
        test = {"loss": float(test["loss"]), "accuracy": float(test["accuracy"])}
    return history[HISTORY_COLUMNS], test


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


def range_test(config, dataset, log=print) -> pd.DataFrame:
    """Smith's learning-rate range test: the rate grows exponentially from range min to max over range steps
    batches (Keras's ExponentialDecay with a rate above 1); returns step, lr, loss and smoothed loss per batch."""
    keras.utils.set_random_seed(config["seed"])
    r = config["range"]
    n_classes = len(config["data"]["classes"])
    model = build_model(config["model"], input_shape=dataset["x_train"].shape[1:], n_classes=n_classes)
    rising = keras.optimizers.schedules.ExponentialDecay(r["min"], decay_steps=r["steps"],
                                                         decay_rate=r["max"] / r["min"])
    model.compile(optimizer=build_optimizer(config["optimizer"], rising), loss="sparse_categorical_crossentropy",
                  steps_per_execution=1)
    recorder = RangeTestRecorder(r["steps"])
    steps_per_epoch = -(-len(dataset["y_train"]) // config["batch_size"])
    model.fit(dataset["x_train"], dataset["y_train"], batch_size=config["batch_size"], shuffle=True, verbose=0,
              epochs=-(-r["steps"] // steps_per_epoch), callbacks=[recorder])
    n = len(recorder.losses)
    log(f"range test {config['label']}: {n} batches, lr {recorder.rates[0]:.2g} to {recorder.rates[n - 1]:.2g}")
    return pd.DataFrame({"step": np.arange(n), "lr": recorder.rates[:n], "loss": recorder.losses,
                         "smoothed_loss": recorder.smoothed})
