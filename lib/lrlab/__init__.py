"""lrlab: learning-rate schedules and adaptive optimizers compared on CIFAR-10.

The notebooks hold parameters and narrative; this package holds the logic they call.
"""

import os


def _limit_threads():
    """Honour LRLAB_THREADS (set by build_report.py when it runs notebooks side by side) before any backend
    starts its thread pools: several one-thread processes outrun one process with several threads here."""
    threads = os.environ.get("LRLAB_THREADS")
    if not threads:
        return
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, threads)
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(int(threads))
            tf.config.threading.set_inter_op_parallelism_threads(int(threads))
        except RuntimeError:
            pass  # the runtime was already initialised by the caller; its own settings stand


_limit_threads()

from .config import (  # noqa: E402
    FAMILIES, FAMILY_TITLES, PROFILES, ParameterError, adaptive_configs, check_parameters, resolve_settings,
    sgd_configs,
)
from .data import DataError, load_dataset  # noqa: E402
from .store import run_family  # noqa: E402

__all__ = [
    "FAMILIES", "FAMILY_TITLES", "PROFILES", "DataError", "ParameterError", "adaptive_configs", "check_parameters",
    "load_dataset", "resolve_settings", "run_family", "sgd_configs",
]
