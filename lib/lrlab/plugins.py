"""Methods and schedules of your own, declared like the project's: a module that calls
`lrlab.optimizers.register(Method(...))` or `lrlab.schedules.register(Schedule(...))`, named in the environment
variable LRLAB_PLUGINS (comma-separated module names, importable from PYTHONPATH). Every process of a build (its
workers, the notebooks' kernels) inherits the variable and loads them before it reads any list of methods, so a
registered method is trained, stored, plotted and reported like the project's own:

    LRLAB_PLUGINS=my_methods PYTHONPATH=. python build_report.py --profile smoke -p 'optimizers=["adam","mine"]'

(For one schedule or optimizer against fixed baselines, without registering it, the custom notebook takes a
function by import path: `-p schedule=package.module:function`.)
"""

import importlib
import os


class PluginError(ImportError):
    """A module named in LRLAB_PLUGINS could not be imported."""


def load():
    for name in (part.strip() for part in (os.environ.get("LRLAB_PLUGINS") or "").split(",")):
        if not name:
            continue
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise PluginError(f"LRLAB_PLUGINS names {name!r}, which cannot be imported ({exc}): put its folder on "
                              f"PYTHONPATH") from None
