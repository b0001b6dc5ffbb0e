"""lrlab: learning-rate schedules and adaptive optimizers compared on CIFAR-10 and Tiny Shakespeare.

The notebooks hold parameters and narrative; this package holds the logic they call. Importing it loads no
Keras backend and changes nothing in the process: only training loads a backend (lrlab.train), so the build
and the notebooks that only render stay light.
"""

import importlib

_EXPORTS = {
    "FAMILIES": "config", "FAMILY_TITLES": "config", "PROFILES": "config", "steps_per_epoch": "config",
    "ParameterError": "parameters", "Settings": "parameters", "check_parameters": "parameters",
    "notebook_settings": "parameters", "resolve_settings": "parameters", "DataError": "data",
    "load_dataset": "tasks", "TASKS": "tasks", "preview": "user_code", "against_baselines": "families",
}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'lrlab' has no attribute {name!r}")
