"""Your own schedule or optimizer: imported from the path you name, called, checked, and drawn before training.

A schedule or optimizer is a function named by an import path, "package.module:function". It is called with the
keyword arguments `epochs`, `steps_per_epoch`, `total_steps` and `lr0` (those it accepts) and your own, and
returns a `keras.optimizers.schedules.LearningRateSchedule` or a Keras callback (a schedule), or a
`keras.optimizers.Optimizer` (an optimizer). Importing a module runs its code: the project imports only the
modules you name, and only when you name one.

A run's configuration records the path, your arguments and a hash of the module's source (`spec`), so changed
code makes new runs and unchanged code is reused. `preview` draws the rate a schedule applies at every step of the
planned run and says in words what looks wrong (lengths that do not match the run, a warm-up longer than
training, a rate that rises, reaches zero, or ignores the step).
"""

import hashlib
import importlib
import inspect
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .parameters import IMPORT_PATH, ParameterError

PASSED = ("epochs", "steps_per_epoch", "total_steps", "lr0")
KINDS = {"schedule": "a keras.optimizers.schedules.LearningRateSchedule or a keras.callbacks.Callback",
         "optimizer": "a keras.optimizers.Optimizer"}


class UserCodeError(ParameterError):
    """Your function could not be imported or called, or returned something unusable: one line naming the
    parameter and what was expected."""


_imported = {}  # module name -> the hash of its file when this process imported it


def _file_digest(module):
    path = getattr(module, "__file__", None)
    try:
        return hashlib.sha256(open(path, "rb").read()).hexdigest() if path else None
    except OSError:
        return None


def load(parameter, path):
    """The function `path` ("package.module:function") names."""
    if not isinstance(path, str) or not IMPORT_PATH.match(path):
        raise UserCodeError(f"parameter {parameter}={path!r} is invalid: expected an import path "
                            f"'package.module:function', e.g. {parameter}=examples.my_code:warmup_then_cosine")
    module_name, attribute = path.split(":")
    try:
        found = importlib.import_module(module_name)
        # a module edited since this process imported it (a notebook kernel lives long) is imported again, so
        # the code that trains is the code whose source the run records
        digest = _file_digest(found)
        if _imported.setdefault(module_name, digest) != digest:
            found = importlib.reload(found)
            _imported[module_name] = digest
    except Exception as exc:  # its own code may raise anything while it is imported
        raise UserCodeError(f"parameter {parameter}={path!r} does not import: {type(exc).__name__}: {exc} (the "
                            f"module must be importable from the folder you run in, or from PYTHONPATH)") from None
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise UserCodeError(f"parameter {parameter}={path!r} does not import: module {module_name!r} has no "
                                f"{attribute!r}")
        found = getattr(found, part)
    if not callable(found):
        raise UserCodeError(f"parameter {parameter}={path!r} names a {type(found).__name__}, not a function: it "
                            f"must return {KINDS[parameter]}")
    return found


def import_path(function):
    """"package.module:function" for a function (or None, or a path as it is): how runs name your code."""
    if function is None or isinstance(function, str):
        return function
    return f"{function.__module__}:{function.__qualname__}"


def source_digest(function) -> str:
    """A hash of the source of the module that defines `function` (a helper it calls changes it too), or of the
    function alone where the module has no file (a notebook's cell)."""
    module = inspect.getmodule(function)
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError):
        try:
            source = inspect.getsource(function)
        except (OSError, TypeError):
            raise UserCodeError(f"cannot read the source of {function!r}, so changes to it could not be told "
                                f"apart: define it in a .py file") from None
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def call(parameter, function, path, kwargs, passed):
    """`function` called with what it accepts of `passed` (epochs, steps_per_epoch, total_steps, lr0) and the
    user's `kwargs`; UserCodeError when it raises."""
    clash = sorted(set(kwargs) & set(PASSED))
    if clash:
        raise UserCodeError(f"parameter {parameter}_kwargs sets {clash[0]!r}, which the project passes itself: "
                            f"remove it (your function gets {', '.join(PASSED)} from the run)")
    try:
        accepted = inspect.signature(function).parameters
        takes_all = any(p.kind == p.VAR_KEYWORD for p in accepted.values())
    except (TypeError, ValueError):  # a builtin without a signature: give it everything
        accepted, takes_all = {}, True
    given = {k: v for k, v in passed.items() if takes_all or k in accepted} | kwargs
    try:
        return function(**given)
    except Exception as exc:
        arguments = ", ".join(f"{k}={v!r}" for k, v in given.items())
        raise UserCodeError(f"parameter {parameter}: {path}({arguments}) raised {type(exc).__name__}: "
                            f"{str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}") from None


def kind_of(value) -> str | None:
    """"schedule", "callback" or "optimizer" for what a function returned; None for anything else."""
    import keras

    if isinstance(value, keras.optimizers.schedules.LearningRateSchedule):
        return "schedule"
    if isinstance(value, keras.callbacks.Callback):
        return "callback"
    if isinstance(value, keras.optimizers.Optimizer):
        return "optimizer"
    return None


def spec(parameter, path, kwargs, passed) -> dict:
    """The run configuration's entry for the user's schedule or optimizer: path, arguments, the source's hash and
    what it returns, checked by calling it once (and, for a schedule, by drawing every step's rate)."""
    kwargs = dict(kwargs or {})
    function = load(parameter, path)
    made = call(parameter, function, path, kwargs, passed)
    returns = kind_of(made)
    wanted = ("schedule", "callback") if parameter == "schedule" else ("optimizer",)
    if returns not in wanted:
        raise UserCodeError(f"parameter {parameter}: {path} returned {_kind_text(made)}, expected "
                            f"{KINDS[parameter]}")
    if parameter == "schedule":
        rates(made, passed["epochs"], passed["steps_per_epoch"], passed["lr0"], name=path)  # NaN: an error now
    return {"name": "custom", "function": path, "kwargs": kwargs, "source_sha256": source_digest(function),
            "returns": returns, **passed}


def _kind_text(value) -> str:
    kind = kind_of(value)
    return f"a {kind}" if kind else "None" if value is None else f"a {type(value).__module__}.{type(value).__name__}"


def build(entry: dict):
    """What a stored configuration's entry (`spec`) makes: the function called again, as at configuration time."""
    parameter = "optimizer" if entry["returns"] == "optimizer" else "schedule"
    function = load(parameter, entry["function"])
    if source_digest(function) != entry["source_sha256"]:
        raise UserCodeError(f"{entry['function']} changed since its runs were configured: configure them again "
                            f"(rerun the notebook or the build)")
    return call(parameter, function, entry["function"], dict(entry["kwargs"]),
                {k: entry[k] for k in PASSED})


def keras_learning_rate(schedule: dict):
    """What the optimizer's rate is under the user's schedule entry: their LearningRateSchedule, or lr0 for a
    callback of theirs to change (keras_callbacks)."""
    return build(schedule) if schedule["returns"] == "schedule" else float(schedule["lr0"])


def keras_callbacks(schedule: dict) -> list:
    return [build(schedule)] if schedule["returns"] == "callback" else []


def build_optimizer(entry: dict, learning_rate):
    """The user's optimizer; a schedule (theirs or the project's) given with it replaces the rate it chose."""
    optimizer = build(entry)
    if not isinstance(learning_rate, float):
        optimizer.learning_rate = learning_rate
    return optimizer


# ---- seeing a schedule before training ----

def _schedule_rates(schedule, total_steps) -> np.ndarray:
    """A LearningRateSchedule at steps 0 .. total_steps-1: all at once where it takes an array of steps (Keras's
    own do), checked against single steps; else step by step."""
    from keras import ops

    def one(step):
        return float(ops.convert_to_numpy(schedule(step)))

    try:
        drawn = np.asarray(ops.convert_to_numpy(schedule(np.arange(total_steps, dtype="float32"))), dtype=float)
        probe = sorted({0, 1, total_steps // 3, total_steps // 2, total_steps - 1} & set(range(total_steps)))
        if drawn.shape == (total_steps,) and np.allclose([one(s) for s in probe], drawn[probe], rtol=1e-5,
                                                          equal_nan=True):
            return drawn
    except Exception:  # written for one step at a time (Python `if` on the step, say)
        pass
    return np.array([one(step) for step in range(total_steps)])


def _callback_rates(callback, epochs, steps_per_epoch, lr0) -> np.ndarray:
    """The rate a callback sets at each step, replayed on a one-weight model with SGD at lr0 and no training:
    a callback that reacts to the loss sees no loss here, so it shows only what it does without one."""
    import keras

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr0), loss="mse")
    callback.set_model(model)
    rates = []
    callback.on_train_begin({})
    for epoch in range(epochs):
        callback.on_epoch_begin(epoch, {})
        for batch in range(steps_per_epoch):
            callback.on_train_batch_begin(batch, {})
            rates.append(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))
            callback.on_train_batch_end(batch, {})
        callback.on_epoch_end(epoch, {})
    return np.array(rates)


def rates(made, epochs, steps_per_epoch, lr0, name="the schedule") -> np.ndarray:
    """The rate `made` (a LearningRateSchedule, a callback, or an optimizer) applies at every step of a run;
    UserCodeError when one is not a finite number."""
    import warnings

    total = epochs * steps_per_epoch
    kind = kind_of(made)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a callback that looks for a loss warns that there is none
        try:
            if kind == "schedule":
                drawn = _schedule_rates(made, total)
            elif kind == "callback":
                drawn = _callback_rates(made, epochs, steps_per_epoch, lr0)
            elif kind == "optimizer":
                inner = _schedule_of(made)
                drawn = _schedule_rates(inner, total) if kind_of(inner) == "schedule" else \
                    np.full(total, float(np.asarray(made.learning_rate)))
            else:
                raise UserCodeError(f"{name} is {_kind_text(made)}: preview takes {KINDS['schedule']}, or "
                                    f"{KINDS['optimizer']}")
        except UserCodeError:
            raise
        except Exception as exc:
            raise UserCodeError(f"{name} raised {type(exc).__name__} while its rates were drawn: {exc}") from None
    bad = np.flatnonzero(~np.isfinite(drawn))
    if len(bad):
        step = int(bad[0])
        raise UserCodeError(f"{name} gives a rate of {drawn[step]} at step {step} (epoch {step // steps_per_epoch + 1}"
                            f") of {total}: every rate must be a finite number")
    return drawn


def _schedule_of(optimizer):
    """The schedule (or rate variable) an optimizer was made with: Keras keeps it only privately."""
    from .keras_internals import learning_rate_of

    return learning_rate_of(optimizer)


def _length_settings(made) -> dict:
    """The lengths in steps a Keras schedule states in its config (decay_steps, warmup_steps, ...)."""
    schedule = _schedule_of(made) if kind_of(made) == "optimizer" else made
    try:
        config = schedule.get_config()
    except Exception:  # a LearningRateSchedule need not implement get_config
        return {}
    return {k: v for k, v in config.items() if k.endswith("steps") and isinstance(v, (int, float))
            and not isinstance(v, bool) and v > 0}


def warnings_for(lr, steps_per_epoch, lengths=None, kind="schedule") -> list:
    """Plain-word warnings about a planned run's per-step rates `lr`: what can be told before training."""
    total, found = len(lr), []
    where = lambda step: f"step {step} (epoch {step // steps_per_epoch + 1})"  # noqa: E731
    for key, value in (lengths or {}).items():
        if value > total:
            found.append(f"{key}={value:g} is longer than the run ({total} steps = epochs × steps_per_epoch): the "
                         f"schedule is cut off {100 * total / value:.0f}% of the way through.")
    if np.all(lr == lr[0]):
        found += {"schedule": ["the rate is the same at every step: the schedule ignores its step argument (Keras "
                               "calls it with the number of batches seen)."],
                  "callback": ["the rate never changes before training: a callback that reacts to the loss shows "
                               "its rates only after training."], "optimizer": []}[kind]
        return found + _nonpositive(lr, where)
    if lr[-1] > lr[0]:
        found.append(f"the last rate ({lr[-1]:.3g}) is above the first ({lr[0]:.3g}): the rate rises over the run.")
    if lr[-1] >= lr.max() and lr[-1] > lr[-max(2, total // 20)]:
        found.append(f"the rate is still rising at the last step: the warm-up is longer than training "
                     f"({total} steps).")
    first_epoch = lr[:steps_per_epoch + 1]
    if lr[0] > 0 and first_epoch.min() < 0.01 * lr[0] and steps_per_epoch > 1:
        found.append(f"the rate falls below 1% of its first value within the first epoch: the step counts batches "
                     f"({steps_per_epoch} per epoch), not epochs, so a decay written per epoch runs "
                     f"{steps_per_epoch} times too fast.")
    changed = np.flatnonzero(np.diff(lr) != 0)
    last_change = int(changed[-1]) + 1
    if last_change < 0.75 * total and lr[-1] < lr.max():
        found.append(f"the rate stops changing at {where(last_change)}, {100 * last_change / total:.0f}% into the "
                     f"run, and stays at {lr[-1]:.3g} to the end: if its decay was meant to span the run, it is "
                     f"shorter than the run's {total} steps.")
    low, high = lr.min(), lr.max()
    rises = np.flatnonzero(np.diff(lr) > 0)
    falls = np.flatnonzero(np.diff(lr) < 0)
    if len(falls) and len(rises) and rises[-1] > falls[0] and lr[-1] > low + 0.5 * (high - low):
        found.append(f"the run ends part-way through a cycle, at {lr[-1]:.3g} (the cycles go from {low:.3g} to "
                     f"{high:.3g}): choose a cycle length that divides the run's {total} steps.")
    return found + _nonpositive(lr, where)


def _nonpositive(lr, where) -> list:
    bad = np.flatnonzero(lr <= 0)
    if not len(bad):
        return []
    return [f"the rate is zero or negative at {len(bad)} of {len(lr)} steps, first at {where(int(bad[0]))}, where "
            f"it is {lr[bad[0]]:.3g}: nothing is learned there, or the weights move uphill."]


@dataclass
class Preview:
    """What a schedule will do in a planned run: the rate at every step and the warnings about it."""
    name: str
    rates: pd.DataFrame  # step, epoch (fractional, 0-based), lr
    warnings: list
    epochs: int
    steps_per_epoch: int

    def figure(self):
        from .plots import preview_figure

        return preview_figure(self)

    def _repr_markdown_(self):
        return warnings_markdown(self)


def warnings_markdown(preview: Preview) -> str:
    lr = preview.rates["lr"]
    head = (f"**{preview.name}** over {preview.epochs} epochs of {preview.steps_per_epoch} steps: from "
            f"{lr.iloc[0]:.3g} (peak {lr.max():.3g}) to {lr.iloc[-1]:.3g}.")
    if not preview.warnings:
        return head + " Nothing looks wrong with it for this run."
    return head + "\n\n" + "\n".join(f"- ⚠ {w}" for w in preview.warnings)


def preview(schedule, epochs, steps_per_epoch, lr0=0.1, parameter="schedule", **kwargs) -> Preview:
    """The rate `schedule` applies at every step of a run of `epochs` × `steps_per_epoch` steps, with warnings.

    `schedule` is a LearningRateSchedule, a Keras callback or an optimizer, or a function that makes one (or its
    import path "package.module:function"), called like the custom notebook calls it: with `epochs`,
    `steps_per_epoch`, `total_steps`, `lr0` and `kwargs`."""
    passed = {"epochs": int(epochs), "steps_per_epoch": int(steps_per_epoch),
              "total_steps": int(epochs) * int(steps_per_epoch), "lr0": float(lr0)}
    name = schedule if isinstance(schedule, str) else getattr(schedule, "__qualname__", type(schedule).__name__)
    made = schedule
    if isinstance(schedule, str):
        made = call(parameter, load(parameter, schedule), schedule, kwargs, passed)
    elif kind_of(schedule) is None and callable(schedule):
        made = call(parameter, schedule, name, kwargs, passed)
    lr = rates(made, passed["epochs"], passed["steps_per_epoch"], lr0, name=name)
    steps = np.arange(len(lr))
    table = pd.DataFrame({"step": steps, "epoch": steps / steps_per_epoch, "lr": lr})
    kind = kind_of(made) if kind_of(made) != "optimizer" or kind_of(_schedule_of(made)) != "schedule" else "schedule"
    return Preview(name, table, warnings_for(lr, passed["steps_per_epoch"], _length_settings(made), kind),
                   passed["epochs"], passed["steps_per_epoch"])
