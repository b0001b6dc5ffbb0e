"""Training of one run: a configuration and a dataset in, a per-epoch history out."""

import os
import time

import keras
import numpy as np
import pandas as pd

from . import schedules
from .models import build_model
from .optimizers import build_optimizer
from .store import HISTORY_COLUMNS


def _limit_threads():
    """Honour LRLAB_THREADS (set by build_report.py when it runs notebooks side by side) before the backend starts
    its thread pools: several one-thread processes outrun one process with several threads here."""
    threads = os.environ.get("LRLAB_THREADS")
    if not threads:
        return
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, threads)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(int(threads))
            tf.config.threading.set_inter_op_parallelism_threads(int(threads))
        except RuntimeError:
            pass  # the runtime was already initialised by the caller; its own settings stand


_limit_threads()
if keras.backend.backend() == "tensorflow":
    import tensorflow as tf

    # every run compiles a fresh model, which TensorFlow reports as "retracing": expected here, not a problem
    tf.get_logger().setLevel("ERROR")

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


def train_run(config, dataset, steps_per_execution=1, name="run", log=print) -> pd.DataFrame:
    """Train `config` on `dataset` from its seed; return its history as HISTORY_COLUMNS."""
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
    return history[HISTORY_COLUMNS]
