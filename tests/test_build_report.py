"""build_report.py end to end on the smoke profile, its reuse of runs, its failures and its bad-input errors."""

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import build_report  # noqa: E402


def build(*args, env=None):
    return subprocess.run([sys.executable, str(ROOT / "build_report.py"), *args], capture_output=True, text=True,
                          cwd=ROOT, env=env or os.environ.copy(), timeout=900)


def run_stamps(out):
    return {p.parent.name: p.stat().st_mtime_ns for p in (out / "smoke" / "runs").glob("*/summary.json")}


@pytest.fixture(scope="module")
def first_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("outputs")
    return out, build("--profile", "smoke", "--jobs", "2", "-p", f"output_dir={out}")


@pytest.mark.smoke
def test_smoke_build_produces_the_report(first_build):
    out, result = first_build
    assert result.returncode == 0, result.stderr[-3000:]
    html = (out / "smoke" / "report.html").read_text()
    # every figure, embedded: schedule shapes, four groups' curves, all together, every seed, time, sensitivity,
    # range test
    assert html.count('src="data:image/png;base64,') == 10
    for text in ("Learning-rate schedules and adaptive optimizers: cat vs dog (2 CIFAR-10 classes, chance 50%)",
                 "In short", "Best configuration:", "final val. accuracy %",
                 "Highest final validation accuracy", "SGD, step decay lr0=0.1", "Adam (lr=0.001)", "Report rendered ",
                 "profile <code>smoke</code>", "Protocol: held-out validation", "mean rank within a seed",
                 "difference to the baseline, points", "not reached", "best lr on the grid", "range-test suggestion",
                 "SGD, cosine decay lr0=0.1", "Lion (lr=0.0001)"):
        assert text in html, text
    assert "import lrlab" not in html and "resolve_settings" not in html  # code hidden
    assert not re.search(r'<script[^>]+src="https?://', html)  # nothing fetched: readable offline
    executed = {p.stem for p in (out / "smoke" / "notebooks").glob("*.ipynb")}
    assert executed == {"constant", "time_based_decay", "step_decay", "exponential_decay", "modern_schedules",
                        "adaptive", "lr_sensitivity", "lr_range_test", "compare"}
    # 4 + 7 schedules, 10 methods, 9 methods × 3 rates less the 9 shared defaults, 11 range tests
    assert len(list((out / "smoke" / "runs").iterdir())) == 4 + 7 + 10 + 18 + 11
    # notebooks and their helpers (workers with no notebook left) trained every run once, and only once
    trained = re.findall(r"\[[\w ]+\] (\S+): trained in", result.stdout)
    assert sorted(trained) == sorted(p.name for p in (out / "smoke" / "runs").iterdir())
    assert "absl" not in html and "oneDNN" not in html  # the kernels' stderr stays out of the report
    assert "[adaptive]" in result.stdout and "trained in" in result.stdout  # progress while it runs


@pytest.mark.smoke
def test_the_report_can_be_navigated_read_and_downloaded(first_build):
    """What a reader relies on: contents that lead somewhere, figures described in words, tables without pandas'
    row numbers, the numbers downloadable from the page itself, a tab titled for the report."""
    out, result = first_build
    assert result.returncode == 0, result.stderr[-3000:]
    html = (out / "smoke" / "report.html").read_text()
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    contents = re.search(r'<nav class="lrlab-toc" id="contents">(.*?)</nav>', html, flags=re.S).group(1)
    links = re.findall(r'href="#([^"]+)"', contents)
    assert len(links) >= 10 and set(links) <= ids
    assert {"Conclusions", "Summary-table", "Learning-rate-sensitivity", "Learning-rate-range-test"} <= set(links)
    alts = re.findall(r'<img [^>]*alt="([^"]*)"', html)
    assert len(alts) == html.count("<img ") == 10
    assert all(len(alt) > 30 and "No description" not in alt for alt in alts)
    numbers = [int(n) for n in re.findall(r'id="figure-(\d+)"', html)]
    assert numbers == list(range(1, 11))
    assert "row_heading" not in html and 'class="blank' not in html  # no index column in any table
    for name in ("runs.csv", "summary.csv"):
        data = re.search(rf'<a download="{name}" href="data:text/csv;base64,([^"]+)"', html).group(1)
        assert base64.b64decode(data).decode() == (out / "smoke" / name).read_text()
    runs = pd.read_csv(out / "smoke" / "runs.csv")
    # 21 compared configurations and the sweep's 18 other runs (its 9 default-rate runs are among the 21), 2 epochs
    assert len(runs) == (21 + 18) * 2 and {"family", "label", "optimizer", "seed", "status", "epoch", "val_accuracy",
                                     "schedule_lr0", "optimizer_momentum", "test_accuracy"} <= set(runs.columns)
    assert runs.groupby("run_id")["epoch"].nunique().eq(2).all()
    assert re.search(r"<title>Learning-rate schedules and adaptive optimizers: cat vs dog .*— lrlab</title>", html)
    assert "Not part of this report" not in html and "No description has been provided" not in html


@pytest.mark.smoke
def test_a_run_stuck_at_chance_is_reported_as_failed(first_build):
    out, _ = first_build
    # a rate so small that nothing is learned in 2 epochs: the network stays at its first guess
    result = build("--profile", "smoke", "--only", "constant", "-p", "lr=1e-9", "-p", f"output_dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "(stuck: never clearly above chance)" in result.stdout
    tiny = [p.parent for p in (out / "smoke" / "runs").glob("constant-*/config.json")
            if json.loads(p.read_text())["schedule"]["lr0"] == 1e-9]
    assert [json.loads((run / "summary.json").read_text())["status"] for run in tiny] == ["stuck"]
    html = (out / "smoke" / "report.html").read_text()
    assert "1 of 1 seeds stuck at chance" in html and re.search(r"<strong>Failed runs:</strong> \d+ of 21", html)
    summary = pd.read_csv(out / "smoke" / "summary.csv").set_index("configuration")
    assert summary.loc["SGD, constant lr=1e-09, momentum=0", "stuck"] == 1


@pytest.mark.smoke
def test_an_identical_build_trains_nothing(first_build):
    out, _ = first_build
    before = run_stamps(out)
    again = build("--profile", "smoke", "--jobs", "2", "-p", f"output_dir={out}")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "trained in" not in again.stdout and again.stdout.count(": reused") == 4 + 7 + 10 + 27 + 11
    assert run_stamps(out) == before
    assert (out / "smoke" / "report.html").exists()


@pytest.mark.smoke
def test_a_changed_parameter_retrains_only_that_family(first_build):
    out, _ = first_build
    result = build("--profile", "smoke", "--only", "step_decay,constant", "-p", "drop=0.25",
                   "-p", f"output_dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    trained = re.findall(r"\[(\w+)\] (\S+): trained in", result.stdout)
    assert [family for family, _ in trained] == ["step_decay"]
    assert "[constant] constant-sgd-seed0" in result.stdout and "[adaptive]" not in result.stdout
    assert "×0.25 every 10 epochs" in (out / "smoke" / "report.html").read_text()


@pytest.mark.smoke
def test_a_diverging_run_is_reported_as_diverged(first_build):
    out, _ = first_build
    result = build("--profile", "smoke", "--only", "constant", "-p", "lr=1e12", "-p", f"output_dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "(diverged: the loss became NaN)" in result.stdout
    html = (out / "smoke" / "report.html").read_text()
    assert "1 of 1 seeds diverged" in html and "<strong>Failed runs</strong>" in html
    assert "Adam (lr=0.001)" in html  # the rest of the report stands


@pytest.mark.smoke
def test_a_failing_notebook_leaves_the_others_and_names_the_cell(first_build):
    out, _ = first_build
    manifest = out / "smoke" / "families" / "exponential_decay.json"
    manifest.unlink()
    manifest.mkdir()  # the notebook can no longer record its runs: a real failure half-way through
    try:
        result = build("--profile", "smoke", "-p", f"output_dir={out}")
    finally:
        manifest.rmdir()
    assert result.returncode == 1
    assert re.search(r"exponential_decay\.ipynb failed at cell \d+ \(In \[\d+\]\): \w+", result.stderr)
    assert "[adaptive] done" in result.stdout and "[step_decay] done" in result.stdout
    html = (out / "smoke" / "report.html").read_text()
    assert "Incomplete report" in html and "Exponential decay" in html
    assert len(list((out / "smoke" / "runs").glob("exponential_decay-*"))) == 1  # its finished run is kept


BAD_INPUT = [
    (["--profile", "huge"], "unknown profile 'huge'"),
    (["--only", "cosine"], "unknown notebook cosine"),
    (["-p", "learning_rate=0.1"], "unknown parameter 'learning_rate'"),
    (["-p", "epochs=ten"], "parameter epochs='ten' is invalid: expected a positive integer"),
    (["-p", "epochs=0"], "parameter epochs=0 is invalid"),
    (["-p", "batch_size=-64"], "parameter batch_size=-64 is invalid"),
    (["-p", "lr=0"], "parameter lr=0 is invalid: expected a positive number"),
    (["-p", "adam_lr=-0.001"], "parameter adam_lr=-0.001 is invalid"),
    (["-p", "seeds=[0, x]"], "parameter seeds="),
    (["-p", "epochs"], "is not NAME=VALUE"),
    (["--jobs", "0"], "--jobs '0' is invalid"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["-p", "seeds=[0,0]"], "distinct"),
    (["-p", "optimizers=[adam,adam]"], "distinct"),
    (["-p", "data_path=/nowhere/cifar-10-python.tar.gz"], "CIFAR-10 not found at /nowhere/cifar-10-python.tar.gz"),
]


@pytest.mark.parametrize("args,message", BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_is_one_line_and_exit_2(args, message, capsys, tmp_path):
    code = build_report.main(["--profile", "smoke", "-p", f"output_dir={tmp_path}", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("build_report.py: error: ") and message in err, err
    assert not (tmp_path / "smoke" / "runs").exists() and not (tmp_path / "smoke" / "report.html").exists()


def test_values_are_read_as_yaml_and_numbers():
    assert build_report.parse_overrides(["adam_epsilon=1e-8", "seeds=[0, 1]", "decay=None", "momentum=0.9",
                                         "data_path=/d/c.tar.gz"]) == {
        "adam_epsilon": 1e-8, "seeds": [0, 1], "decay": None, "momentum": 0.9, "data_path": "/d/c.tar.gz"}


def test_no_dataset_offline_exits_2_from_the_command_line(tmp_path):
    env = os.environ.copy()
    env.pop("LRLAB_CIFAR10", None)
    env.pop("no_proxy", None), env.pop("NO_PROXY", None)
    # a closed port as proxy: the download fails at once, online or not
    env |= {v: "http://127.0.0.1:9" for v in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")}
    env["KERAS_HOME"] = str(tmp_path)
    result = build("--profile", "paper", "-p", f"output_dir={tmp_path}", env=env)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("build_report.py: error: no CIFAR-10 available offline") and "LRLAB_CIFAR10" in last
    assert not (tmp_path / "paper" / "report.html").exists()


def test_a_second_build_on_the_same_folder_refuses(tmp_path, capsys):
    import fcntl

    folder = tmp_path / "smoke"
    folder.mkdir()
    with open(folder / ".build.lock", "w") as held:
        held.write("pid 4242")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a build in progress
        code = build_report.main(["--profile", "smoke", "-p", f"output_dir={tmp_path}"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert f"another build is running on {folder} (pid 4242)" in err
    assert not (folder / "runs").exists()


def _descendants(pid):
    """Every live process below `pid`, from /proc."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has stopped; it only waits to be reaped


def _summaries(out):
    import json

    return {p.parent.name: json.loads(p.read_text())["final"] for p in (out / "smoke" / "runs").glob("*/summary.json")}


@pytest.mark.smoke
def test_kill_9_mid_run_then_rerun_equals_a_clean_build(tmp_path):
    """kill -9 of the build while a run trains: finished runs are reused, the interrupted one retrains from
    scratch, and the result equals an uninterrupted build's, run for run."""
    import signal
    import time

    import threading

    killed, clean = tmp_path / "killed", tmp_path / "clean"
    env = os.environ | {"LRLAB_THREADS": "1"}  # one thread per kernel: training is bit-for-bit repeatable
    # the 2017 families only, as in the paper profile: 8 runs
    args = ["--profile", "smoke", "--jobs", "2", "-p", "epochs=25", "--only",
            "constant,time_based_decay,step_decay,exponential_decay,adaptive", "-p", "optimizers=[adagrad,adadelta,rmsprop,adam]"]
    proc = subprocess.Popen([sys.executable, str(ROOT / "build_report.py"), *args, "-p", f"output_dir={killed}"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=env)
    watchdog = threading.Timer(600, proc.kill)
    watchdog.start()
    seen = []
    for line in proc.stdout:  # wait until one run has finished and another is part-way through
        seen.append(line)
        if any("trained in" in s for s in seen) and "epoch 5/25" in line:
            break
    else:
        pytest.fail("the build ended before a run was part-way through:\n" + "".join(seen[-20:]))
    watchdog.cancel()
    family = _descendants(proc.pid)
    assert len(family) >= 2  # its workers and their kernels
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 30
    while time.time() < deadline and any(_alive(p) for p in family):
        time.sleep(0.5)
    assert not [p for p in family if _alive(p)], "workers or kernels outlived the build"
    runs = killed / "smoke" / "runs"
    finished = {p.parent.name for p in runs.glob("*/summary.json")}
    assert finished and len(finished) < 8

    resumed = build(*args, "-p", f"output_dir={killed}", env=env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert resumed.stdout.count(": reused") == len(finished)
    assert resumed.stdout.count("trained in") == 8 - len(finished)
    assert not [p for p in runs.iterdir() if p.name.startswith(".")]  # the interrupted run's folder is gone

    fresh = build(*args, "-p", f"output_dir={clean}", env=env)
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert _summaries(killed) == _summaries(clean)


def test_a_free_worker_helps_the_notebook_with_the_most_runs_left(tmp_path):
    import contextlib
    import json

    from lrlab.config import resolve_settings, sgd_configs
    from lrlab.store import atomic_write_text, claim, plan_path, run_id

    settings = resolve_settings("smoke", output_dir=str(tmp_path), seeds=[0, 1])
    dataset = {"fingerprint": "f", "y_train": [0] * 10, "y_val": [0] * 2}
    training = contextlib.ExitStack()  # the claims of the groups the notebooks are training now

    def plan(family, rates, **extra):
        configs = [c for lr in rates for c in sgd_configs(family, {"name": "constant", "lr0": lr}, 0.0, settings,
                                                          dataset)]
        atomic_write_text(plan_path(settings, family), json.dumps({"settings": settings | extra, "configs": configs}))
        for config in configs[:2]:  # each notebook is training its first group
            training.enter_context(claim(settings, run_id(config)))

    with training:
        plan("lr_sensitivity", [0.01, 0.1, 1.0, 10.0])  # 4 seed groups: 3 free
        plan("constant", [0.1, 1.0])  # 1 free
        plan("step_decay", [0.1, 1.0, 10.0], force=True)  # --force: every run trains again in the notebook itself
        plan("time_based_decay", [0.1])  # nothing free: its notebook is training its one group
        running = ["lr_sensitivity", "constant", "step_decay", "time_based_decay", "adaptive"]  # adaptive: no plan
        assert build_report.notebook_to_help(settings, running, {}) == "lr_sensitivity"
        assert build_report.notebook_to_help(settings, running, {"lr_sensitivity": 3}) == "constant"
        assert build_report.notebook_to_help(settings, running, {"lr_sensitivity": 3, "constant": 1}) is None
        assert build_report.notebook_to_help(settings, ["step_decay", "time_based_decay"], {}) is None
    # the notebooks between two groups: every pending group is free
    assert build_report.notebook_to_help(settings, ["time_based_decay"], {}) == "time_based_decay"


def test_a_notebook_and_two_helper_processes_train_every_run_once(tmp_path, synthetic_archive, capfd):
    """Real helpers (build_report.help_notebook: a child process each) beside the notebook's own run_family."""
    import json
    import threading

    from lrlab.config import resolve_settings, sgd_configs
    from lrlab.data import load_dataset
    from lrlab.store import atomic_write_text, plan_path, read_summary, run_family, run_id

    settings = resolve_settings("smoke", epochs=2, seeds=[0, 1], data_path=str(synthetic_archive),
                                output_dir=str(tmp_path))
    dataset = load_dataset(settings)
    configs = [c for lr in (0.01, 0.03, 0.1, 0.3, 1.0)
               for c in sgd_configs("constant", {"name": "constant", "lr0": lr}, 0.0, settings, dataset)]
    atomic_write_text(plan_path(settings, "constant"), json.dumps({"settings": settings, "configs": configs}))
    results = []
    helpers = [threading.Thread(target=lambda: results.append(build_report.help_notebook("constant", settings, 1)))
               for _ in range(2)]
    for helper in helpers:
        helper.start()
    messages = []
    runs = run_family("constant", configs, dataset, settings, {}, log=messages.append)
    for helper in helpers:
        helper.join(timeout=600)
    assert [error for _, error, _, _ in results] == [None, None]
    by_helpers = re.findall(r"\[constant helper\] (\S+): trained in", capfd.readouterr().out)
    by_notebook = [m.split(":")[0] for m in messages if "trained in" in m]
    assert sorted(by_helpers + by_notebook) == sorted(run_id(c) for c in configs)  # each run once, by someone
    assert sum(trained for *_, trained in results) == len(by_helpers)
    assert all(read_summary(r["path"])["status"] in ("completed", "stuck") for r in runs)  # finished, none diverged


def test_a_failing_helper_is_reported_not_raised(tmp_path):
    import json

    from lrlab.config import resolve_settings, sgd_configs
    from lrlab.store import atomic_write_text, plan_path

    settings = resolve_settings("smoke", output_dir=str(tmp_path), seeds=[0, 1])
    dataset = {"fingerprint": "f", "y_train": [0] * 10, "y_val": [0] * 2}
    configs = sgd_configs("constant", {"name": "constant", "lr0": 0.1}, 0.0, settings, dataset)
    broken = settings | {"data_path": str(tmp_path / "gone" / "cifar-10-python.tar.gz")}  # its data went away
    atomic_write_text(plan_path(settings, "constant"), json.dumps({"settings": broken, "configs": configs}))
    name, error, _, trained = build_report.help_notebook("constant", settings, 1)
    assert (name, trained) == ("constant", 0) and error.startswith("exit status 1")
