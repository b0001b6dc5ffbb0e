"""Faults and hostile input: random parameter values, resource limits, injection into the report."""

import inspect
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from lrlab import build as lrlab_build, execution
from lrlab import resources
from lrlab.families import adaptive_configs, sgd_configs
from lrlab.config import DEFAULT_STEPS_PER_EXECUTION, PROFILES, default_output_dir
from lrlab.parameters import NOTEBOOKS, PARAMETERS, SETTINGS, ParameterError, check_parameter, notebook_parameters, \
    notebook_settings, resolve_settings

VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**12, max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.lists(st.one_of(st.integers(-5, 5), st.text(max_size=5)), max_size=4),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(sorted(PARAMETERS)), value=VALUES)
# directories that check_parameter accepts but no notebook can resolve (a NUL byte; the home of an unknown user)
@example(name="output_dir", value="a\x00b")
@example(name="output_dir", value="~no-such-user-lrlab/out")
@example(name="model", value=None)  # the task's network: the profiles but one name none
def test_every_parameter_accepts_or_refuses_in_one_line(name, value):
    """Any value for any parameter: either accepted, and then usable by the code that consumes it, or refused with
    a one-line ParameterError naming the parameter; never another exception."""
    try:
        accepted = check_parameter(name, value)
    except ParameterError as exc:
        assert "\n" not in str(exc) and name in str(exc)
        return
    _reaches_the_notebook(name, accepted)
    from lrlab import schedules

    defaults = {"lr0": 0.1, "decay": 0.001, "drop": 0.5, "epochs_drop": 10, "k": 0.1}
    for formula in ("constant", "time_based_decay", "step_decay", "exponential_decay"):
        wanted = list(inspect.signature(schedules.SCHEDULES[formula].formula).parameters)[1:]
        schedule = {"name": formula} | {p: defaults[p] for p in wanted if p in defaults}
        if name in wanted and accepted is not None:
            schedule[name] = accepted
        if name == "lr" and "lr0" in wanted:
            schedule["lr0"] = accepted
        for epoch in (0, 1, 99):
            rate = schedules.lr_at(schedule, epoch, 157)  # every accepted value gives a usable rate
            assert math.isfinite(rate) and rate >= 0


def _reaches_the_notebook(name, value):
    """A notebook that takes `name`, given `value` (its other parameters at their defaults), reads it as given:
    notebook_settings, what every notebook's settings cell calls, puts it in the run settings or the family's own
    parameters unchanged (None: the profile's value)."""
    notebook = next(n for n in NOTEBOOKS if name in notebook_parameters(n))
    namespace = {n: default for n, (_, default, _) in notebook_parameters(notebook).items()}
    namespace |= {"profile": "smoke", "output_dir": "/tmp/lrlab-fuzz"} | {name: value}
    run, own = notebook_settings(notebook, namespace)
    if name not in SETTINGS:
        assert own[name] == value
    elif name == "output_dir":
        assert run.output_dir == str(Path(value).expanduser().resolve() if value else default_output_dir())
    elif name == "steps_per_execution":
        assert run.steps_per_execution == (value or DEFAULT_STEPS_PER_EXECUTION)
    elif name == "model" and value is None:  # a profile's network is its task's unless the profile names one
        from lrlab.tasks import TASKS

        assert run.model == PROFILES[run.profile].get("model", TASKS[run.task].model)
    else:
        assert getattr(run, name) == (PROFILES[run.profile][name] if value is None else value)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(PARAMETERS) + ["bogus", "Epochs", ""]),
       text=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=30))
def test_any_command_line_value_is_parsed_or_refused_in_one_line(name, text):
    """`-p NAME=TEXT` through build_report's parser: a checked value, or an InputError of one line."""
    try:
        overrides = lrlab_build.parse_overrides([f"{name}={text}"])
    except lrlab_build.InputError as exc:
        assert "\n" not in str(exc)
        return
    assert set(overrides) == {name}
    check_parameter(name, overrides[name])  # what was accepted passes the notebooks' own check too


def test_accepted_extremes_still_make_configurations():
    s = resolve_settings("paper", seeds=[0])
    dataset = {"fingerprint": "f", "y_train": [0], "y_val": [0]}
    schedule = {"name": "step_decay", "lr0": check_parameter("lr0", 1e-300),
                "drop": check_parameter("drop", 1), "epochs_drop": check_parameter("epochs_drop", 1e300)}
    assert sgd_configs("step_decay", schedule, check_parameter("momentum", 0.999999), s, dataset)
    hyper = {f"adam_{k}": v for k, v in {"lr": 1e300, "beta_1": 0.0, "beta_2": 0.0, "epsilon": 5e-324}.items()}
    assert adaptive_configs(["adam"], s, dataset, **hyper)[0]["optimizer"]["epsilon"] == 5e-324
    with pytest.raises(ParameterError):
        check_parameter("epochs_drop", 5e-324)  # would overflow floor() in the step-decay formula


def test_a_profile_too_big_for_the_machine_fails_before_training(tmp_path):
    s = resolve_settings("full", output_dir=str(tmp_path))
    need = resources.needs(s, processes=2)
    with pytest.raises(resources.ResourceError,
                       match=r"needs about \d+\.\d GiB of memory for 2 training process\(es\).*"
                                                      r"use --jobs 1"):
        resources.check(s, 2, have={"memory": need["memory"] - 1, "disk": 10**12})
    with pytest.raises(resources.ResourceError, match=r"MiB of disk .* is free"):
        resources.check(s, 2, have={"memory": 10**12, "disk": need["disk"] - 1})
    resources.check(s, 2, have=need)  # exactly enough is enough
    assert resources.needs(s, 2)["memory"] > resources.needs(resolve_settings("paper"), 2)["memory"]


def test_what_the_machine_has_is_read_from_linux_and_the_container_s_limit(tmp_path, monkeypatch):
    from types import SimpleNamespace

    meminfo, cgroup = tmp_path / "meminfo", tmp_path / "cgroup"
    meminfo.write_text("MemTotal:       8000000 kB\nMemFree:          100000 kB\nMemAvailable:   2000000 kB\n")
    cgroup.mkdir()
    asked = []
    monkeypatch.setattr(resources.shutil, "disk_usage", lambda path: asked.append(path) or SimpleNamespace(free=42))
    # no cgroup files: the machine's available memory (kB → bytes, not MemFree); the disk of a folder the build
    # will create is that of its nearest existing parent
    have = resources.available(tmp_path / "not" / "yet", meminfo, cgroup)
    assert have == {"memory": 2_000_000 * 1024, "disk": 42} and asked == [tmp_path]
    (cgroup / "memory.current").write_text(f"{2**28}\n")
    (cgroup / "memory.max").write_text("max\n")  # a container without a limit
    assert resources.available(tmp_path, meminfo, cgroup)["memory"] == 2_000_000 * 1024
    (cgroup / "memory.max").write_text(f"{2**30}\n")  # a container's limit below the machine's: what it has left
    assert resources.available(tmp_path, meminfo, cgroup)["memory"] == 2**30 - 2**28
    (cgroup / "memory.max").write_text(f"{2**40}\n")  # above it: the machine's
    assert resources.available(tmp_path, meminfo, cgroup)["memory"] == 2_000_000 * 1024


def test_this_machine_reports_memory_it_has(tmp_path):
    have = resources.available(tmp_path / "not" / "yet")
    total = int(next(line for line in open("/proc/meminfo") if line.startswith("MemTotal:")).split()[1]) * 1024
    assert 0 < have["memory"] <= total and have["disk"] > 0


@pytest.mark.smoke
def test_a_label_with_script_renders_as_text(tmp_path):
    """The report shows labels and values as text: a label carrying <script> cannot run in a reader's browser."""
    import papermill

    from lrlab.store import atomic_write_text

    out = tmp_path / "smoke"
    run = out / "runs" / "constant-sgd-seed0-evil"
    run.mkdir(parents=True)
    # a label is derived from the configuration: the user's schedule's arguments are shown in it
    schedule = {"name": "custom", "function": "m:f", "kwargs": {"note": '<script>alert("x")</script>'},
                "source_sha256": "0", "returns": "schedule", "lr0": 0.1, "epochs": 2, "steps_per_epoch": 1,
                "total_steps": 2}
    config = {"family": "constant", "numerics": 2, "model": "seed_cnn", "optimizer": {"name": "sgd", "momentum": 0.0},
              "schedule": schedule, "epochs": 2, "batch_size": 64, "seed": 0,
              "data": {"fingerprint": "f", "classes": [3, 5], "protocol": "seed", "n_train": 10, "n_validation": 4}}
    (run / "config.json").write_text(json.dumps(config))
    (run / "history.csv").write_text("epoch,lr,loss,accuracy,val_loss,val_accuracy,epoch_time_s\n"
                                     "1,0.1,0.7,0.5,0.7,0.5,1.0\n2,0.1,0.6,0.6,0.6,0.6,1.0\n")
    (run / "summary.json").write_text(json.dumps({
        "status": "completed", "epochs_completed": 2, "best_val_accuracy": 0.6, "best_epoch": 2, "train_seconds": 2,
        "final": {"loss": 0.6, "accuracy": 0.6, "val_loss": 0.6, "val_accuracy": 0.6}}))
    atomic_write_text(out / "families" / "constant.json", json.dumps({"family": "constant",
                                                                      "run_ids": [run.name]}))
    executed = tmp_path / "compare.ipynb"
    papermill.execute_notebook(str(ROOT / "notebooks" / "compare.ipynb"), str(executed), kernel_name="python3",
                               parameters={"profile": "smoke", "output_dir": str(tmp_path)}, progress_bar=False,
                               cwd=str(ROOT))
    html_path = tmp_path / "report.html"
    execution.export_html(executed, html_path)
    html = html_path.read_text()
    assert "alert" in html  # the label is shown ...
    assert '<script>alert("x")' not in html  # ... but never as markup


SMALL_OR_WRONG = {
    # valid values kept small so that every generated build finishes in seconds; the rest are wrong on purpose
    "epochs": st.one_of(st.integers(1, 2), st.integers(-3, 0), st.text(max_size=4), st.floats(0.5, 2.5)),
    "batch_size": st.one_of(st.integers(16, 256), st.integers(-64, 0), st.just("big")),
    "lr": st.one_of(st.floats(1e-6, 1e13), st.floats(-1, 0), st.just(float("nan")), st.text(max_size=3)),
    "momentum": st.one_of(st.floats(0, 0.99), st.floats(1, 5), st.floats(-5, -0.01)),
    "seeds": st.one_of(st.lists(st.integers(0, 3), min_size=1, max_size=2, unique=True),
                       st.lists(st.integers(-2, 2), max_size=3), st.integers(0, 3)),
}


@pytest.mark.slow
# derandomized and without shrinking: the same eight notebook executions every time, a bounded cost in CI
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
          phases=[Phase.explicit, Phase.generate])
@given(values=st.fixed_dictionaries({}, optional=SMALL_OR_WRONG))
def test_random_parameters_through_papermill_run_or_fail_in_one_line(values, tmp_path_factory):
    """Random values and types for constant.ipynb's parameters, executed for real: the notebook either runs or
    stops at its settings cell with the one-line ParameterError; the run store holds only finished runs."""
    import papermill

    from lrlab.store import read_summary

    out = tmp_path_factory.mktemp("random")
    try:
        papermill.execute_notebook(str(ROOT / "notebooks" / "constant.ipynb"), str(out / "run.ipynb"),
                                   kernel_name="python3", progress_bar=False, cwd=str(ROOT),
                                   parameters={"profile": "smoke", "output_dir": str(out), **values},
                                   execution_timeout=300)
    except papermill.PapermillExecutionError as exc:
        assert exc.ename == "ParameterError", f"{exc.ename}: {exc.evalue}"
        assert "\n" not in exc.evalue and exc.evalue.startswith("parameter ")
        assert not (out / "smoke" / "runs").exists()
        return
    runs = list((out / "smoke" / "runs").iterdir())
    assert runs and all(read_summary(r) for r in runs)
