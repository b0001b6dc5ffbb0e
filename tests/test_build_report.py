"""build_report.py end to end on the smoke profile, its reuse of runs, its failures and its bad-input errors.

The smoke build itself is conftest's `smoke_build`, run once per session. The unchanged rebuild runs on it, as a
user would, and must leave it as it was; tests that build again with other inputs work on a copy of its output
folder (`built_copy`), so the build the other tests look at stays as it was."""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, SMOKE_FIGURES, build
from lrlab import build as lrlab_build, execution
from lrlab import schedules
from lrlab.config import PROFILES


def run_stamps(out):
    return {p.parent.name: p.stat().st_mtime_ns for p in (out / "smoke" / "runs").glob("*/summary.json")}


@pytest.fixture
def built_copy(smoke_build, tmp_path):
    """A copy of the smoke build's output folder, to build again on top of."""
    import shutil

    out, _ = smoke_build
    shutil.copytree(out / "smoke", tmp_path / "smoke", symlinks=True, ignore=shutil.ignore_patterns("*.lock"))
    return tmp_path


@pytest.mark.smoke
def test_smoke_build_produces_the_report(smoke_build):
    out, result = smoke_build
    assert result.returncode == 0, result.stderr[-3000:]
    html = (out / "smoke" / "report.html").read_text()
    # every figure, embedded: schedule shapes, four groups' curves, all together, every seed, time, sensitivity,
    # tuning effort, range test, the finder against the sweep
    assert html.count('src="data:image/png;base64,') == SMOKE_FIGURES  # and the custom schedule against the baselines
    for text in ("Learning-rate schedules and adaptive optimizers: cat vs dog (2 CIFAR-10 classes, chance 50%)",
                 "In short", "Best configuration:", "final val. accuracy %",
                 "Highest final validation accuracy", "SGD, step decay lr0=0.1", "Adam (lr=0.001)", "Report rendered ",
                 "profile <code>smoke</code>", "Protocol: held-out validation", "mean rank within a seed",
                 "difference, points [95% simultaneous CI", "not reached", "best lr on the grid",
                 "range-test suggestion",
                 "SGD, cosine decay lr0=0.1", "AdamW (lr=0.001)", "Tuning effort", "1 rate tried",
                 "Can you trust the learning-rate finder?", "decades from it", "verdict (corrected",
                 "Learning-rate finder:", "With the whole grid", "With no tuning", "Forest plot of", "Terms:",
                 "seeds ahead"):
        assert text in html, text
    assert "import lrlab" not in html and "resolve_settings" not in html  # code hidden
    assert not re.search(r'<script[^>]+src="https?://', html)  # nothing fetched: readable offline
    executed = {p.stem for p in (out / "smoke" / "notebooks").glob("*.ipynb")}
    assert executed == {"constant", "time_based_decay", "step_decay", "exponential_decay", "modern_schedules",
                        "adaptive", "lr_sensitivity", "lr_range_test", "custom", "compare"}
    # 4 + M modern schedules, N methods; the sweep: SGD and the N methods × 3 rates less their N + 1 shared default
    # runs, cosine × 3 peak rates less the modern family's run; N + 1 range tests, and the custom schedule (its
    # baselines are the families' runs)
    m, n = len(schedules.MODERN), len(PROFILES["smoke"]["optimizers"])
    first = 4 + m + n + 2 * (n + 1) + 2 + (n + 1) + 1
    # then fastai's workflow, declared once the range tests are stored: one run per test with a valley, of the
    # methods that need a rate and a schedule (not schedule-free AdamW, not Prodigy), each a group of its own
    workflow = len(list((out / "smoke" / "runs").glob("finder_workflow-*")))
    assert 1 <= workflow <= n + 1 - 2
    stored = first + workflow
    assert len(list((out / "smoke" / "runs").iterdir())) == stored
    # every run trained once, and only once, though the sweep's default-rate runs belong to two families
    trained = re.findall(r"\[\w+\] (\S+): trained in", result.stdout)
    assert sorted(trained) == sorted(p.name for p in (out / "smoke" / "runs").iterdir())
    # n + 2 sweeps of 3 rates as one model each (the families' default-rate runs among them); alone: the three
    # other 2017 schedules, the other modern ones, the range tests and the custom run
    alone = 3 + (m - 1) + (n + 1) + 1
    assert f"Training {first} of {first} runs (0 stored) in {n + 2 + alone} seed groups" in result.stdout
    assert f"Training {workflow} of {stored} runs ({first} stored) in {workflow} seed groups" in result.stdout
    # one progress bar over each pass
    assert re.search(rf"runs {first}/{first} \|█+\| \d\d:\d\d elapsed", result.stderr)
    assert re.search(rf"runs {workflow}/{workflow} \|█+\| \d\d:\d\d elapsed", result.stderr)
    # the notebooks found their runs stored: they rendered, and trained nothing themselves
    for name in ("constant", "adaptive", "lr_sensitivity"):
        notebook = (out / "smoke" / "notebooks" / f"{name}.ipynb").read_text()
        assert "reused" in notebook and "trained in" not in notebook
    assert "absl" not in html and "oneDNN" not in html  # the kernels' stderr stays out of the report
    assert "[adaptive] done" in result.stdout


@pytest.mark.smoke
def test_the_report_can_be_navigated_read_and_downloaded(smoke_build):
    """What a reader relies on: contents that lead somewhere, figures described in words, tables without pandas'
    row numbers, the numbers downloadable from the page itself, a tab titled for the report."""
    out, result = smoke_build
    assert result.returncode == 0, result.stderr[-3000:]
    html = (out / "smoke" / "report.html").read_text()
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    contents = re.search(r'<nav class="lrlab-toc" id="contents">(.*?)</nav>', html, flags=re.S).group(1)
    links = re.findall(r'href="#([^"]+)"', contents)
    assert len(links) >= 10 and set(links) <= ids
    assert {"Conclusions", "Summary-table", "Learning-rate-sensitivity", "Tuning-effort",
            "Learning-rate-range-test"} <= set(links)
    alts = re.findall(r'<img [^>]*alt="([^"]*)"', html)
    assert len(alts) == html.count("<img ") == SMOKE_FIGURES
    assert all(len(alt) > 30 and "No description" not in alt for alt in alts)
    numbers = [int(n) for n in re.findall(r'id="figure-(\d+)"', html)]
    assert numbers == list(range(1, SMOKE_FIGURES + 1))
    assert "row_heading" not in html and 'class="blank' not in html  # no index column in any table
    for name, kind in (("runs.csv", "text/csv"), ("summary.csv", "text/csv"), ("answer.md", "text/markdown")):
        data = re.search(rf'<a download="{name}" href="data:{kind};base64,([^"]+)"', html).group(1)
        assert base64.b64decode(data).decode() == (out / "smoke" / name).read_text()
    assert "**With no tuning**" in (out / "smoke" / "answer.md").read_text()  # the first screen's answer
    every = pd.read_csv(out / "smoke" / "runs.csv")
    runs = every[~every["family"].isin(["lr_range_test", "finder_workflow"])]
    tests, workflow = every[every["family"] == "lr_range_test"], every[every["family"] == "finder_workflow"]
    # 4 + M + N compared configurations and the custom one, and the sweep's other runs (its default-rate runs are
    # among the compared), 2 epochs
    m, n = len(schedules.MODERN), len(PROFILES["smoke"]["optimizers"])
    assert len(runs) == (4 + m + n + 1 + 2 * (n + 1) + 2) * 2
    assert {"family", "label", "optimizer", "seed", "status", "epoch", "val_accuracy", "schedule_lr0",
            "optimizer_momentum", "test_accuracy"} <= set(runs.columns)
    assert runs.groupby("run_id")["epoch"].nunique().eq(2).all()
    # and every range test the report draws (SGD and the N methods, one seed), batch by batch, as stored
    stored = sorted(p.parent.name for p in (out / "smoke" / "runs").glob("lr_range_test-*/history.csv"))
    assert sorted(tests["run_id"].unique()) == stored and len(stored) == n + 1
    first = tests[tests["run_id"] == stored[0]]
    history = pd.read_csv(out / "smoke" / "runs" / stored[0] / "history.csv")
    np.testing.assert_allclose(first["smoothed_loss"], history["smoothed_loss"], rtol=1e-5)
    # fastai's workflow trained from them in the build's second pass: one-cycle at a test's valley, for each method
    # that needs a rate and a schedule (not schedule-free AdamW, not Prodigy)
    trained = sorted(p.parent.name for p in (out / "smoke" / "runs").glob("finder_workflow-*/summary.json"))
    assert sorted(workflow["run_id"].unique()) == trained and 1 <= len(trained) <= n + 1 - 2
    assert set(workflow["schedule"]) == {"one_cycle"} and "fastai's workflow, trained" in html
    assert re.search(r"<title>Learning-rate schedules and adaptive optimizers: cat vs dog .*— lrlab</title>", html)
    assert "Not part of this report" not in html and "No description has been provided" not in html


@pytest.mark.slow
def test_a_run_that_did_not_learn_is_reported_as_failed(built_copy):
    out = built_copy
    # a rate so small that nothing is learned in 2 epochs: the network stays at its first guess
    result = build("--profile", "smoke", "--only", "constant", "-p", "lr=1e-9", "-p", f"output_dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "(did not learn)" in result.stdout
    tiny = [p.parent for p in (out / "smoke" / "runs").glob("constant-*/config.json")
            if json.loads(p.read_text())["schedule"]["lr0"] == 1e-9]
    assert [json.loads((run / "summary.json").read_text())["status"] for run in tiny] == ["did_not_learn"]
    html = (out / "smoke" / "report.html").read_text()
    compared = 4 + len(schedules.MODERN) + len(PROFILES["smoke"]["optimizers"])  # the 2017 four, modern, methods
    assert "1 of 1 seed did not learn" in html and re.search(rf"<strong>Failed runs:</strong> \d+ of {compared}", html)
    summary = pd.read_csv(out / "smoke" / "summary.csv").set_index("configuration")
    assert summary.loc["SGD, constant lr=1e-09, momentum=0", "did_not_learn"] == 1


@pytest.mark.smoke
def test_an_identical_build_trains_nothing(smoke_build):
    """The same command again: no run trains and no notebook executes (each executed notebook records what it was
    executed from); the report is written again from the executed compare notebook."""
    out, _ = smoke_build
    before = run_stamps(out)
    executed = {p.name: p.stat().st_mtime_ns for p in (out / "smoke" / "notebooks").glob("*.ipynb")}
    again = build("--profile", "smoke", "--jobs", "2", "-p", f"output_dir={out}",
                  "-p", "schedule=examples.my_code:warmup_then_cosine")
    assert again.returncode == 0, again.stderr[-3000:]
    stored = len(list((out / "smoke" / "runs").iterdir()))
    assert "trained in" not in again.stdout and \
        f"Training 0 of {stored} runs ({stored} stored) in 0 seed groups" in again.stdout
    assert again.stdout.count("] up to date") == 9 and "done (" not in again.stdout
    assert run_stamps(out) == before
    assert {p.name: p.stat().st_mtime_ns for p in (out / "smoke" / "notebooks").glob("*.ipynb")} == executed
    assert (out / "smoke" / "report.html").exists()


@pytest.mark.slow
def test_a_changed_parameter_retrains_only_that_family(built_copy):
    out = built_copy
    result = build("--profile", "smoke", "--only", "step_decay,constant", "-p", "drop=0.25",
                   "-p", f"output_dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    trained = re.findall(r"\[(\w+)\] (\S+): trained in", result.stdout)
    assert [family for family, _ in trained] == ["step_decay"]
    assert "Training 1 of 2 runs (1 stored) in 1 seed groups" in result.stdout
    assert "[constant] done" in result.stdout and "[adaptive]" not in result.stdout
    assert "×0.25 every 10 epochs" in (out / "smoke" / "report.html").read_text()


@pytest.mark.slow
def test_a_budget_comparison_runs_only_when_asked_and_shares_the_profile_budget_s_runs(built_copy):
    out = built_copy
    assert not (out / "smoke" / "families" / "budget.json").exists()  # the default build leaves it out
    result = build("--profile", "smoke", "-p", "budgets=[2,3]", "-p", f"output_dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    trained = re.findall(r"\[(\w+)\] (\S+): trained in", result.stdout)
    # the eight and three modern schedules at 3 epochs (at the profile's 2 they are the families' stored runs); WSD
    # at both budgets, as cooldowns branched from one 3-epoch trunk
    assert len(trained) == 14 and {family for family, _ in trained} == {"budget"}
    configs = {rid: json.loads((out / "smoke" / "runs" / rid / "config.json").read_text()) for _, rid in trained}
    assert sorted(c["epochs"] for c in configs.values()) == [2] + [3] * 13
    branches = {rid: c for rid, c in configs.items() if "branch" in c}
    trunk = [rid for rid, c in configs.items() if c["schedule"]["name"] == "warmup_constant"]
    assert len(branches) == 2 and all(c["branch"]["trunk"] == trunk[0] for c in branches.values())
    assert "[budget] done" in result.stdout and "Training 14 of" in result.stdout
    manifest = json.loads((out / "smoke" / "families" / "budget.json").read_text())
    assert len(manifest["run_ids"]) == 25
    report = (out / "smoke" / "report.html").read_text()
    assert "Cooling down:" in report and "WSD (1−sqrt cooldown)" in report
    # a missing branch is trained again alone: its trunk retrains in memory, nothing else is stored anew
    lost = next(rid for rid, c in branches.items() if c["epochs"] == 3)
    shutil.rmtree(out / "smoke" / "runs" / lost)
    again = build("--profile", "smoke", "--only", "budget", "-p", "budgets=[2,3]", "-p", f"output_dir={out}")
    assert again.returncode == 0, again.stderr[-3000:]
    assert re.findall(r"\[budget\] (\S+): trained in", again.stdout) == [lost]
    assert "Training budget" in report and "Kendall" in report and "rank at 3" in report


@pytest.mark.slow
def test_a_diverging_run_is_reported_as_diverged(built_copy):
    out = built_copy
    result = build("--profile", "smoke", "--only", "constant", "-p", "lr=1e12", "-p", f"output_dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "(diverged)" in result.stdout
    html = (out / "smoke" / "report.html").read_text()
    assert "1 of 1 seed diverged" in html and "<strong>Failed runs</strong>" in html
    assert "Adam (lr=0.001)" in html  # the rest of the report stands


@pytest.mark.slow
def test_a_failing_notebook_leaves_the_others_and_names_the_cell(built_copy):
    out = built_copy
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


def test_the_build_trains_each_missing_seed_group_once_longest_first(tmp_path):
    """The sweep's default-rate runs are the constant and adaptive families' runs: one task each, shared; stored
    groups are left out; the longest groups go first."""
    from lrlab.store import run_id, runs_dir

    args = lrlab_build.parse_args(["--profile", "smoke", "--only", "constant,adaptive,lr_sensitivity,lr_range_test",
                                   "-p", "seeds=[0,1]", "-p", "optimizers=[adam,lion]", "-p", "swept_schedules=[]",
                                   "-p", f"output_dir={tmp_path}"])
    request = lrlab_build.check_request(args)
    dataset = {"fingerprint": "f", "y_train": [0] * 2000, "y_val": [0] * 400}
    tasks, runs_of = lrlab_build.missing_groups(request, dataset)
    # the sweep's 3 rates × 2 seeds of each of 3 methods, one model each (the constant and adaptive families' runs
    # at the default rates are among them), + 3 range tests per seed (a test is a task of its own)
    assert len(tasks) == 3 + 6 and len(set().union(*runs_of.values())) == 2 * (1 + 2 + 6) + 6
    assert {family: len(rids) for family, rids in runs_of.items()} == {
        "constant": 2, "adaptive": 4, "lr_sensitivity": 18, "lr_range_test": 6}
    assert sorted(sorted(families) for families, _ in tasks[:3]) == [["adaptive", "lr_sensitivity"]] * 2 + [
        ["constant", "lr_sensitivity"]]
    assert [len(configs) for _, configs in tasks[:3]] == [6] * 3  # groups of 6 runs first: 2 epochs each
    assert all(configs[0]["kind"] == "lr_range_test" for _, configs in tasks[3:])  # 20 batches: under an epoch
    stored = runs_dir(request.settings) / run_id(tasks[0][1][0])
    stored.mkdir(parents=True)
    (stored / "history.csv").write_text("epoch\n1\n")
    (stored / "summary.json").write_text('{"status": "completed"}')
    assert len(lrlab_build.missing_groups(request, dataset)[0]) == len(tasks)  # one run of six: the group trains
    for config in tasks[0][1][1:]:
        other = runs_dir(request.settings) / run_id(config)
        other.mkdir()
        (other / "history.csv").write_text("epoch\n1\n")
        (other / "summary.json").write_text('{"status": "completed"}')
    assert len(lrlab_build.missing_groups(request, dataset)[0]) == len(tasks) - 1  # both stored: not a task


def test_an_executed_notebook_is_reused_only_while_its_inputs_are_unchanged(tmp_path):
    summary = tmp_path / "summary.json"
    summary.write_text('{"status": "completed"}')
    digest = execution.inputs_digest("constant", {"lr": 0.1}, [summary])
    assert digest == execution.inputs_digest("constant", {"lr": 0.1}, [summary])
    assert digest != execution.inputs_digest("constant", {"lr": 0.2}, [summary])  # a parameter
    assert digest != execution.inputs_digest("step_decay", {"lr": 0.1}, [summary])  # another notebook
    assert digest != execution.inputs_digest("constant", {"lr": 0.1}, [tmp_path / "gone.json"])  # a missing run
    summary.write_text('{"status": "completed", "finished_at": "later"}')  # the run trained again (--force)
    assert digest != execution.inputs_digest("constant", {"lr": 0.1}, [summary])
    folder = tmp_path / "notebooks"
    folder.mkdir()
    assert not execution.up_to_date(folder, "constant", digest)  # never executed
    (folder / "constant.ipynb").write_text("{}")
    (folder / ".constant.inputs").write_text(digest)
    assert execution.up_to_date(folder, "constant", digest)
    assert not execution.up_to_date(folder, "constant", "another digest")


def test_the_resource_check_sees_every_setting_override(tmp_path):
    """Settings are resolved once, from every -p value that is a setting: the memory and disk check sizes the
    build that will run, e.g. a finer learning-rate grid, more seeds or more epochs."""
    from lrlab import resources

    def request(*params):
        args = ["--profile", "study", "-p", f"output_dir={tmp_path}"] + [a for p in params for a in ("-p", p)]
        return lrlab_build.check_request(lrlab_build.parse_args(args)).settings

    plain = resources.needs(request(), 2)["disk"]
    for override in ("lr_grid_points=9", "seeds=[0,1,2,3,4,5,6]", "epochs=30"):
        assert resources.needs(request(override), 2)["disk"] > plain, override
    settings = request("lr_grid_points=9", "precision=mixed_bfloat16", "optimizers=[adam]", "data_path=synthetic")
    assert (settings.lr_grid_points, settings.precision, settings.optimizers, settings.data_path) == \
        (9, "mixed_bfloat16", ["adam"], "synthetic")


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
    code = lrlab_build.main(["--profile", "smoke", "-p", f"output_dir={tmp_path}", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("build_report.py: error: ") and message in err, err
    assert not (tmp_path / "smoke" / "runs").exists() and not (tmp_path / "smoke" / "report.html").exists()


def test_values_are_read_as_yaml_and_numbers():
    assert lrlab_build.parse_overrides(["adam_epsilon=1e-8", "seeds=[0, 1]", "decay=None", "momentum=0.9",
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
        code = lrlab_build.main(["--profile", "smoke", "-p", f"output_dir={tmp_path}"])
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


@pytest.mark.slow
def test_kill_9_mid_run_then_rerun_equals_a_clean_build(tmp_path):
    """kill -9 of the build while a run trains: finished runs are reused, the interrupted one retrains from
    scratch, and the result equals an uninterrupted build's, run for run."""
    import signal
    import time

    import threading

    killed, clean = tmp_path / "killed", tmp_path / "clean"
    env = os.environ | {"LRLAB_THREADS": "1"}  # one thread per worker: training is bit-for-bit repeatable
    # the 2017 families only, as in the paper profile: 8 runs
    args = ["--profile", "smoke", "--jobs", "2", "-p", "epochs=25", "--only",
            "constant,time_based_decay,step_decay,exponential_decay,adaptive",
            "-p", "optimizers=[adagrad,adadelta,rmsprop,adam]"]
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
    assert len(family) >= 2  # its training workers
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 30
    while time.time() < deadline and any(_alive(p) for p in family):
        time.sleep(0.5)
    assert not [p for p in family if _alive(p)], "workers outlived the build"
    runs = killed / "smoke" / "runs"
    finished = {p.parent.name for p in runs.glob("*/summary.json")}
    assert finished and len(finished) < 8

    resumed = build(*args, "-p", f"output_dir={killed}", env=env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"Training {8 - len(finished)} of 8 runs ({len(finished)} stored)" in resumed.stdout
    assert resumed.stdout.count("trained in") == 8 - len(finished)
    assert not [p for p in runs.iterdir() if p.name.startswith(".")]  # the interrupted run's folder is gone

    fresh = build(*args, "-p", f"output_dir={clean}", env=env)
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert _summaries(killed) == _summaries(clean)


@pytest.mark.slow
def test_a_worker_killed_mid_run_costs_a_retry_not_the_build(tmp_path):
    """One training worker killed (as the out-of-memory killer would) while it trains: the groups the broken pool
    had not finished start again on fresh workers, and the build still ends with every run and the report."""
    import signal
    import threading

    args = ["--profile", "smoke", "--jobs", "2", "-p", "epochs=25", "--only",
            "constant,time_based_decay,step_decay,exponential_decay", "-p", f"output_dir={tmp_path}"]
    proc = subprocess.Popen([sys.executable, str(ROOT / "build_report.py"), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    watchdog = threading.Timer(600, proc.kill)
    watchdog.start()
    for line in proc.stdout:
        if "epoch 5/25" in line:
            break
    workers = [pid for pid in _descendants(proc.pid)
               if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")]
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    out, err = proc.communicate()
    watchdog.cancel()
    assert proc.returncode == 0, err[-3000:]
    assert "A worker died (killed, or out of memory?)" in out and "start again on fresh workers" in out
    summaries = list((tmp_path / "smoke" / "runs").glob("*/summary.json"))
    assert len(summaries) == 4 and (tmp_path / "smoke" / "report.html").exists()
