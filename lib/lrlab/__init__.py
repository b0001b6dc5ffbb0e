"""lrlab: learning-rate schedules and adaptive optimizers compared on CIFAR-10.

The notebooks hold parameters and narrative; this package holds the logic they call. Importing it loads no
Keras backend: only training does (lrlab.train), so build_report.py and its workers stay light.
"""

import importlib

_EXPORTS = {
    "FAMILIES": "config", "FAMILY_TITLES": "config", "PROFILES": "config", "ParameterError": "config",
    "adaptive_configs": "config", "check_parameters": "config", "resolve_settings": "config",
    "sgd_configs": "config", "steps_per_epoch": "config", "DataError": "data", "load_dataset": "data", "run_family": "store",
}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'lrlab' has no attribute {name!r}")
