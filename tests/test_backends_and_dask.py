"""The same notebooks on another Keras backend and on a Dask cluster, and the run lock that keeps two processes
from training one run twice."""

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lrlab import schedules

ROOT = Path(__file__).resolve().parents[1]


def build(*args, env=None):
    return subprocess.run([sys.executable, str(ROOT / "build_report.py"), *args], capture_output=True, text=True,
                          cwd=ROOT, env=env or os.environ.copy(), timeout=900)


def _finals(out):
    """Each run's results, without its timings."""
    keep = ("final", "test", "best_val_accuracy", "suggested_lr", "min_loss_lr")
    return {p.parent.name: {k: v for k, v in json.loads(p.read_text()).items() if k in keep}
            for p in (out / "smoke" / "runs").glob("*/summary.json")}


RACE = textwrap.dedent("""
    import sys
    sys.path.insert(0, {lib!r})
    from lrlab.data import load_dataset
    from lrlab.families import sgd_configs, train_group
    from lrlab.parameters import resolve_settings
    settings = resolve_settings("smoke", epochs=3, data_path={data!r}, output_dir={out!r})
    dataset = load_dataset(settings)
    config = sgd_configs("constant", {{"name": "constant", "lr0": 0.05}}, 0.0, settings, dataset)[0]
    log = lambda message: print(message, file=sys.stderr, flush=True)
    print("RESULT", train_group([config], settings, dataset, log=log)[0]["reused"], flush=True)
""")


def test_two_processes_racing_for_one_run_train_it_once(tmp_path, synthetic_archive):
    """The test holds the run's lock (lrlab.store.claim's flock) until both processes wait for it, then lets go:
    one of them trains the run, the other waits for it and reuses it."""
    import fcntl
    import time

    from lrlab.data import load_dataset
    from lrlab.families import sgd_configs
    from lrlab.parameters import resolve_settings
    from lrlab.store import profile_dir, run_id

    settings = resolve_settings("smoke", epochs=3, data_path=str(synthetic_archive), output_dir=str(tmp_path))
    config = sgd_configs("constant", {"name": "constant", "lr0": 0.05}, 0.0, settings, load_dataset(settings))[0]
    lock = profile_dir(settings) / "locks" / f"{run_id(config)}.lock"
    lock.parent.mkdir(parents=True)
    script = RACE.format(lib=str(ROOT / "lib"), data=str(synthetic_archive), out=str(tmp_path))
    logs = [tmp_path / f"process{i}.log" for i in range(2)]
    with open(lock, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        procs = []
        for log in logs:
            with log.open("w") as stderr:
                procs.append(subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=stderr,
                                              text=True))
        try:
            deadline = time.monotonic() + 300
            while not all("another process is training it; waiting" in log.read_text() for log in logs):
                assert all(p.poll() is None for p in procs), [log.read_text()[-2000:] for log in logs]
                assert time.monotonic() < deadline, "the processes never waited for the run's lock"
                time.sleep(0.2)
        except BaseException:
            for p in procs:
                p.kill()
            raise
    results = sorted(p.communicate(timeout=300)[0].split("RESULT ")[-1].strip() for p in procs)
    assert results == ["False", "True"]  # one trained, the other waited and reused its run
    assert len(list((tmp_path / "smoke" / "runs").iterdir())) == 1


@pytest.mark.slow
def test_a_dask_build_equals_a_local_one(tmp_path):
    """--executor dask on a LocalCluster: the same notebooks, the same runs, the same numbers."""
    env = os.environ | {"LRLAB_THREADS": "1"}  # one thread: bit-for-bit repeatable training
    args = ["--profile", "smoke", "--jobs", "2", "--only", "constant,step_decay,lr_range_test",
            "-p", "optimizers=[adam]"]
    local = build(*args, "-p", f"output_dir={tmp_path / 'local'}", env=env)
    dask = build(*args, "--executor", "dask", "-p", f"output_dir={tmp_path / 'dask'}", env=env)
    assert local.returncode == 0, local.stderr[-2000:]
    assert dask.returncode == 0, dask.stderr[-2000:]
    assert "Dask scheduler tcp://" in dask.stdout and (tmp_path / "dask" / "smoke" / "report.html").exists()
    # SGD's and Adam's constant and step runs and range tests, and fastai's workflow from each test with a valley
    workflow = len(list((tmp_path / "dask" / "smoke" / "runs").glob("finder_workflow-*/summary.json")))
    assert 1 <= workflow <= 2
    assert _finals(tmp_path / "dask") == _finals(tmp_path / "local") and len(_finals(tmp_path / "dask")) == 4 + workflow


@pytest.mark.parametrize("args,message", [
    (["--executor", "spark"], "--executor 'spark' is invalid"),
    (["--scheduler", "tcp://127.0.0.1:8786"], "--scheduler needs --executor dask"),
])
def test_bad_executor_input_is_one_line_and_exit_2(args, message, tmp_path):
    result = build("--profile", "smoke", "-p", f"output_dir={tmp_path}", *args)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and message in result.stderr


@pytest.mark.slow
def test_the_report_builds_on_the_jax_backend(tmp_path):
    """KERAS_BACKEND=jax runs the same notebooks: schedules (Keras's and lrlab's own), a callback schedule,
    adaptive methods and the range test."""
    env = os.environ | {"KERAS_BACKEND": "jax"}
    result = build("--profile", "smoke", "--only", "constant,modern_schedules,adaptive,lr_range_test",
                   "-p", "optimizers=[adam,lion]", "-p", f"output_dir={tmp_path}", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    summaries = [json.loads(p.read_text()) for p in (tmp_path / "smoke" / "runs").glob("*/summary.json")]
    # constant SGD, every modern schedule, two methods, their range tests with SGD's, and fastai's workflow from
    # each test with a valley
    workflow = len(list((tmp_path / "smoke" / "runs").glob("finder_workflow-*/summary.json")))
    assert 1 <= workflow <= 3
    assert len(summaries) == 1 + len(schedules.MODERN) + 2 + 3 + workflow
    assert {s["backend"] for s in summaries} == {"jax"}
    assert re.search(r"with Keras [\d.]+ on jax [\d.]+ \(\d+ runs\)", (tmp_path / "smoke" / "report.html").read_text())
