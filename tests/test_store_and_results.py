"""The run store (reuse, atomic writes) and the statistics the report prints."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lrlab import schedules
from lrlab import families
from lrlab.data import load_dataset
from lrlab.families import sgd_configs, train_group
from lrlab.parameters import resolve_settings
from lrlab.results import conclusions, format_summary, summary_table
from lrlab.statistics import mean_ci
from lrlab.store import read_summary, run_id

ROOT = Path(__file__).resolve().parents[1]

STEP_DECAY = {"lr0": 0.1, "drop": 0.5, "epochs_drop": 1, "momentum": 0.5}  # the two_seeds fixture's runs


@pytest.fixture
def two_seeds(tmp_path, synthetic_archive):
    settings = resolve_settings("smoke", epochs=3, seeds=[0, 1], data_path=str(synthetic_archive),
                                output_dir=str(tmp_path), steps_per_execution=2)
    dataset = load_dataset(settings)
    schedule = {"name": "step_decay", "lr0": 0.1, "drop": 0.5, "epochs_drop": 1}
    return settings, dataset, sgd_configs("step_decay", schedule, 0.5, settings, dataset)


@pytest.fixture
def tiny(two_seeds):
    settings, dataset, configs = two_seeds
    return settings, dataset, configs[0]


def quiet(message):
    pass


def test_a_run_is_stored_complete_with_its_history(tiny):
    settings, dataset, config = tiny
    run = train_group([config], settings, dataset, log=quiet)[0]
    folder = settings.output_dir + "/smoke/runs/" + run["run_id"]
    assert run["path"] == folder and not run["reused"]
    history = pd.read_csv(f"{folder}/history.csv")
    assert list(history.columns) == ["epoch", "lr", "loss", "accuracy", "val_loss", "val_accuracy", "epoch_time_s"]
    assert history["epoch"].tolist() == [1, 2, 3]
    # the logged rate is the one applied to each epoch's first batch, not the next epoch's
    steps = -(-len(dataset["y_train"]) // config["batch_size"])
    np.testing.assert_allclose(history["lr"], [schedules.lr_at(config["schedule"], e, steps) for e in range(3)],
                               rtol=1e-6)
    assert json.loads(open(f"{folder}/config.json").read()) == config
    summary = read_summary(folder)
    assert summary["status"] == "completed" and summary["epochs_completed"] == 3
    assert summary["final"]["val_accuracy"] == pytest.approx(history["val_accuracy"].iloc[-1])
    assert summary["best_val_accuracy"] == pytest.approx(history["val_accuracy"].max())


def test_a_completed_run_is_reused_and_force_retrains(tiny):
    settings, dataset, config = tiny
    import os

    first = train_group([config], settings, dataset, log=quiet)[0]
    stamp = first["path"] + "/summary.json"
    before = os.stat(stamp).st_mtime_ns
    again = train_group([config], settings, dataset, log=quiet)[0]
    assert again["reused"] and os.stat(stamp).st_mtime_ns == before
    forced = train_group([config], settings.replace(force=True), dataset, log=quiet)[0]
    assert not forced["reused"] and os.stat(stamp).st_mtime_ns != before


def test_a_half_written_run_is_never_read_as_complete(tiny):
    settings, dataset, config = tiny
    folder = settings.output_dir + "/smoke/runs/" + run_id(config)
    import os

    os.makedirs(folder)
    open(f"{folder}/config.json", "w").write(json.dumps(config))
    open(f"{folder}/history.csv", "w").write("epoch,lr\n1,0.1\n")  # killed before summary.json
    assert read_summary(folder) is None
    run = train_group([config], settings, dataset, log=quiet)[0]
    assert not run["reused"] and read_summary(folder)["status"] == "completed"
    assert len(pd.read_csv(f"{folder}/history.csv")) == 3
    leftovers = [p for p in os.listdir(settings.output_dir + "/smoke/runs") if p.startswith(".")]
    assert leftovers == []


def test_a_run_that_crashes_leaves_nothing_behind(tiny, monkeypatch):
    import os

    from lrlab import train

    settings, dataset, config = tiny

    def crash(*args, **kwargs):
        raise RuntimeError("killed half-way")

    monkeypatch.setattr(train, "train_runs", crash)
    with pytest.raises(RuntimeError):
        train_group([config], settings, dataset, log=quiet)[0]
    runs = settings.output_dir + "/smoke/runs"
    assert not os.path.exists(runs) or os.listdir(runs) == []


def test_any_change_to_the_configuration_is_a_new_run(tiny):
    _, _, config = tiny
    assert run_id(config) == run_id(json.loads(json.dumps(config)))
    assert run_id(config) != run_id(config | {"seed": 1})
    assert run_id(config) != run_id(config | {"schedule": config["schedule"] | {"drop": 0.25}})


def test_manifest_names_the_family_runs(tiny):
    settings, dataset, config = tiny
    runs = families.run("step_decay", settings, STEP_DECAY, dataset, log=quiet)
    manifest = json.loads(open(settings.output_dir + "/smoke/families/step_decay.json").read())
    assert manifest["run_ids"] == [r["run_id"] for r in runs] == [run_id(config), run_id(config | {"seed": 1})]
    assert manifest["parameters"] == STEP_DECAY


def test_mean_ci_matches_the_t_interval():
    mean, std, low, high = mean_ci([0.7, 0.8, 0.9], 0.95)
    assert mean == pytest.approx(0.8) and std == pytest.approx(0.1)
    half = 4.302652729911275 * 0.1 / np.sqrt(3)  # t(0.975, 2 degrees of freedom)
    assert (low, high) == (pytest.approx(0.8 - half), pytest.approx(0.8 + half))
    assert all(np.isnan(v) for v in mean_ci([0.5])[1:])


def _runs(rows):
    return pd.DataFrame([
        {"family": f, "label": label, "seed": s, "status": "completed", "final_val_accuracy": acc,
         "best_val_accuracy": best, "best_epoch": epoch, "train_seconds": 10.0, "protocol": "seed",
         "test_accuracy": float("nan")}
        for f, label, s, acc, best, epoch in rows])


def test_summary_table_and_conclusions_follow_the_numbers():
    runs = _runs([
        ("constant", "SGD const", 0, 0.70, 0.72, 50), ("constant", "SGD const", 1, 0.72, 0.74, 60),
        ("constant", "SGD const", 2, 0.71, 0.73, 70),
        ("adaptive", "Adam", 0, 0.80, 0.81, 20), ("adaptive", "Adam", 1, 0.81, 0.82, 30),
        ("adaptive", "Adam", 2, 0.82, 0.83, 40),
    ])
    table = summary_table(runs)
    assert table["configuration"].tolist() == ["Adam", "SGD const"]
    assert table.loc[0, "final_mean"] == pytest.approx(0.81) and table.loc[0, "best_epoch_mean"] == 30
    text = conclusions(table, runs)
    # paired by seed: differences 0.10, 0.09, 0.11 → mean 10 points, t-interval ± 2.48 points
    assert "Adam with 81.0% (95% CI 78.5 to 83.5, 3 seeds)" in text
    assert ("**Clearly better than constant-rate SGD** (SGD const) after the correction for 1 comparison, 1 of 1:"
            "\n  - Adam: +10.0 points (95% simultaneous CI +7.5 to +12.5, Bonferroni over 1 comparison; ahead on 3 "
            "of 3 seeds), **clearly better**") in text
    shown = format_summary(table)
    final = shown.loc[0, "final val. accuracy % (mean ± std [95% CI], healthy seeds)"]
    assert final.startswith("81.0 ± 1.0 [78.5, 83.5]")
    assert shown.loc[0, "failed seeds"] == "none"


def test_overlapping_intervals_are_called_unclear():
    runs = _runs([("constant", "SGD", s, a, a, 10) for s, a in enumerate([0.70, 0.80, 0.75])] +
                 [("adaptive", "Adam", s, a, a, 10) for s, a in enumerate([0.72, 0.81, 0.76])])
    text = conclusions(summary_table(runs), runs)
    assert "No clear difference from constant-rate SGD** after the correction, 1 of 1:\n  - Adam: +1.3" in text
    assert "clearly" not in text.lower().replace("no clear", "")


def test_folders_of_dead_runs_are_cleaned_and_live_ones_kept(tmp_path):
    import os
    import socket
    import subprocess

    from lrlab.store import remove_abandoned

    dead = subprocess.Popen(["true"])
    dead.wait()  # a finished process: its pid names no live process
    host = socket.gethostname()
    gone = tmp_path / f".tmp-constant-sgd-seed0-abc-{host}-{dead.pid}-0123abcd"
    alive = tmp_path / f".tmp-constant-sgd-seed1-abc-{host}-{os.getpid()}-0123abcd"
    other_host = tmp_path / f".tmp-constant-sgd-seed2-abc-elsewhere-{dead.pid}-0123abcd"
    for folder in (gone, alive, other_host):
        folder.mkdir()
    remove_abandoned(tmp_path)
    assert not gone.exists() and alive.exists() and other_host.exists()


def test_a_diverging_run_stops_and_is_stored_as_diverged(tiny):
    settings, dataset, config = tiny
    config = config | {"schedule": {"name": "constant", "lr0": 1e12}, "epochs": 3}
    run = train_group([config], settings, dataset, log=quiet)[0]
    summary = read_summary(run["path"])
    history = pd.read_csv(run["path"] + "/history.csv")
    assert summary["status"] == "diverged" and summary["final"]["val_accuracy"] is None
    assert summary["best_val_accuracy"] is None and not np.isfinite(history["loss"]).all()
    assert train_group([config], settings, dataset, log=quiet)[0]["reused"]  # a finished result, not retrained


def test_diverged_configurations_are_named_not_ranked():
    runs = _runs([("constant", "SGD", s, a, a, 10) for s, a in enumerate([0.70, 0.72, 0.71])] +
                 [("adaptive", "Adam", s, float("nan"), float("nan"), float("nan")) for s in range(3)])
    runs["status"] = ["completed"] * 3 + ["diverged"] * 3
    table = summary_table(runs)
    assert table["configuration"].tolist() == ["SGD", "Adam"] and table.loc[1, "diverged"] == 3
    shown = format_summary(table)
    assert shown.loc[1, "failed seeds"] == "3 of 3 seeds diverged"
    assert shown.iloc[1, 4] == "every seed failed"
    text = conclusions(table, runs)
    assert "**Failed runs**" in text and "  - Adam: 3 of 3 seeds diverged\n" in text
    assert "Highest final validation accuracy:** SGD" in text and "every seed learned:** SGD" in text


def test_a_partly_diverged_configuration_is_not_ranked_on_its_survivors():
    runs = _runs([("constant", "SGD", s, a, a, 10) for s, a in enumerate([0.70, 0.72, 0.71])] +
                 [("adaptive", "Adam", s, a, a, 10) for s, a in enumerate([0.95, float("nan"), float("nan")])])
    runs.loc[4:, "status"] = "diverged"
    table = summary_table(runs)
    assert table["configuration"].tolist() == ["SGD", "Adam"]  # a configuration with a failed seed comes last
    shown = format_summary(table)
    assert shown.loc[1, "failed seeds"] == "2 of 3 seeds diverged" and shown.iloc[1, 4] == "95.0"  # one healthy seed
    text = conclusions(table, runs)
    assert "  - Adam: 2 of 3 seeds diverged; on the healthy seed: 95.0% (1 seed)" in text
    assert "Highest final validation accuracy:** SGD" in text


def test_labels_are_escaped_in_the_conclusions():
    runs = _runs([("constant", "<script>alert(1)</script>", s, a, a, 10) for s, a in enumerate([0.7, 0.8])])
    text = conclusions(summary_table(runs), runs)
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text


# --- seeds of one configuration trained together as one model ---


def test_seeds_trained_together_give_the_numbers_they_give_alone(two_seeds):
    from lrlab import train

    settings, dataset, configs = two_seeds
    together = train.train_runs(configs, dataset, steps_per_execution=2, log=quiet)
    for config, (history, test) in zip(configs, together):
        alone_history, alone_test = train.train_runs([config], dataset, steps_per_execution=2, log=quiet)[0]
        pd.testing.assert_frame_equal(history.drop(columns="epoch_time_s"), alone_history.drop(columns="epoch_time_s"),
                                      rtol=1e-6)
        assert test == pytest.approx(alone_test, rel=1e-6)
    # and the seeds are different runs: other initial weights and other batches
    assert together[0][0]["loss"].iloc[0] != together[1][0]["loss"].iloc[0]


FUSED_RATES = textwrap.dedent("""
    import sys
    sys.path.insert(0, {lib!r})
    import numpy as np
    from lrlab import families, train
    from lrlab.config import seed_groups
    from lrlab.data import load_dataset
    from lrlab.parameters import resolve_settings
    settings = resolve_settings("smoke", epochs=3, seeds=[0, 1], data_path={data!r}, output_dir={out!r})
    dataset = load_dataset(settings)
    sweep = families.configs("lr_sensitivity", settings, dataset, families.notebook_defaults("lr_sensitivity"))
    configs = [c for c in sweep if c["optimizer"]["name"] == {optimizer!r}]
    assert seed_groups(configs) == [list(range(6))]  # 3 rates x 2 seeds: one model
    together = train.train_runs(configs, dataset, steps_per_execution=2, log=lambda m: None)
    worst = 0.0
    for config, (history, test) in zip(configs, together):
        (alone, alone_test), = train.train_runs([config], dataset, steps_per_execution=2, log=lambda m: None)
        assert list(history["lr"]) == list(alone["lr"])
        columns = ["loss", "accuracy", "val_loss", "val_accuracy"]
        worst = max(worst, float(np.max(np.abs(history[columns].to_numpy() - alone[columns].to_numpy()))))
        worst = max(worst, abs(test["accuracy"] - alone_test["accuracy"]))
    rates = sorted({{c["schedule"]["lr0"] for c in configs}})
    print("RESULT", worst, len(rates), flush=True)
""")


@pytest.mark.parametrize("backend, optimizer", [
    # RMSprop and Adagrad divide by a running average: with a rate computed as 1.0 × rate, TensorFlow's graph
    # optimizer rearranged their update and the last bits differed; AdamW's weight decay takes the rate too
    ("tensorflow", "rmsprop"),
    pytest.param("tensorflow", "adamw", marks=pytest.mark.slow),
    pytest.param("jax", "adagrad", marks=pytest.mark.slow),  # and the arrays the model is fed, kept on the device
    # a step size from sums over each tower's parameters at each tower's rate; a rate-weighted average per tower
    pytest.param("tensorflow", "prodigy", marks=pytest.mark.thorough),
    pytest.param("tensorflow", "schedule_free_adamw", marks=pytest.mark.thorough),
])
def test_rates_of_a_sweep_trained_together_give_the_numbers_they_give_alone(tmp_path, synthetic_archive, backend,
                                                                           optimizer):
    """A sweep's rates train as one model, each tower at its own rate (train.per_tower_rates): the same numbers
    as each rate alone, to the last bit, and the same logged rates."""
    script = FUSED_RATES.format(lib=str(ROOT / "lib"), data=str(synthetic_archive), out=str(tmp_path),
                                optimizer=optimizer)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                          env=os.environ | {"KERAS_BACKEND": backend})
    assert done.returncode == 0, done.stderr[-2000:]
    worst, rates = done.stdout.split("RESULT ")[-1].split()
    assert float(worst) == 0.0 and int(rates) == 3


FUSED_SCHEDULES = textwrap.dedent("""
    import sys
    sys.path.insert(0, {lib!r})
    import numpy as np
    from lrlab import families, schedules, train
    from lrlab.config import seed_groups
    from lrlab.data import load_dataset
    from lrlab.parameters import resolve_settings
    settings = resolve_settings("smoke", epochs=3, seeds=[0, 1], data_path={data!r}, output_dir={out!r})
    dataset = load_dataset(settings)
    steps = families.steps_per_epoch(settings, dataset)
    worst = 0.0
    for name in {names!r}:
        configs = []
        for lr in (0.03, 0.1, 0.3):
            if name in schedules.MODERN:
                spec, = schedules.modern_schedules([name], lr, 3, steps, 0.01, 0.2, 0.3, 2, 0.5, 2)
                configs += families.sgd_configs("modern_schedules", spec, 0.0, settings, dataset)
            else:
                spec = {{"name": "step_decay", "lr0": lr, "drop": 0.5, "epochs_drop": 1.0}}
                configs += families.sgd_configs("step_decay", spec, 0.0, settings, dataset)
        assert seed_groups(configs) == [list(range(6))], name  # 3 peak rates x 2 seeds: one model
        together = train.train_runs(configs, dataset, steps_per_execution=2, log=lambda m: None)
        for config, (history, test) in zip(configs, together):
            (alone, alone_test), = train.train_runs([config], dataset, steps_per_execution=2, log=lambda m: None)
            assert list(history["lr"]) == list(alone["lr"]), name
            columns = ["loss", "accuracy", "val_loss", "val_accuracy"]
            worst = max(worst, float(np.max(np.abs(history[columns].to_numpy() - alone[columns].to_numpy()))))
            worst = max(worst, abs(test["accuracy"] - alone_test["accuracy"]))
        assert len(set(tuple(h["lr"]) for h, _ in together)) == 3  # each tower at its own rates
    print("RESULT", worst, flush=True)
""")


@pytest.mark.parametrize("names", [
    ["step_decay"],  # a per-epoch schedule, set for each tower by TowerRateScheduler
    # per-batch Keras schedules, and rates set in proportion to the peak
    pytest.param(["cosine_decay", "one_cycle", "wsd"], marks=pytest.mark.thorough)])
def test_peak_rates_of_a_schedule_trained_together_give_the_numbers_they_give_alone(tmp_path, synthetic_archive,
                                                                                   names):
    """A schedule's peak-rate sweep trains as one model, each tower under its own schedule: the numbers and the
    logged rates of each peak rate alone, to the last bit."""
    script = FUSED_SCHEDULES.format(lib=str(ROOT / "lib"), data=str(synthetic_archive), out=str(tmp_path),
                                    names=names)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout.split("RESULT ")[-1]) == 0.0


def test_a_family_trains_its_seeds_together_and_stores_each_run(two_seeds):
    settings, dataset, configs = two_seeds
    runs = families.run("step_decay", settings, STEP_DECAY, dataset, log=quiet)
    assert [r["run_id"] for r in runs] == [run_id(c) for c in configs]
    summaries = [read_summary(r["path"]) for r in runs]
    assert [s["trained_together"] for s in summaries] == [2, 2]
    assert summaries[0]["train_seconds"] == summaries[1]["train_seconds"] > 0  # the model's time, shared
    # one seed deleted: only it trains again, alone
    import shutil

    shutil.rmtree(runs[1]["path"])
    again = families.run("step_decay", settings, STEP_DECAY, dataset, log=quiet)
    assert [r["reused"] for r in again] == [True, False]
    assert read_summary(again[1]["path"])["trained_together"] == 1


def test_seeds_that_all_diverge_stop_and_are_stored_as_diverged(two_seeds):
    from lrlab import train

    settings, dataset, configs = two_seeds
    blowing_up = [c | {"schedule": {"name": "constant", "lr0": 1e12}} for c in configs]
    for history, test in train.train_runs(blowing_up, dataset, steps_per_execution=1, log=quiet):
        assert test is None
        assert len(history) == 1 and not np.isfinite(history["loss"].iloc[-1])  # stopped in its first epoch


def test_seed_groups_join_seeds_of_one_configuration_only(two_seeds):
    from lrlab.config import seed_groups

    settings, dataset, configs = two_seeds
    other = sgd_configs("constant", {"name": "constant", "lr0": 0.1}, 0.0, settings, dataset)
    plateau = sgd_configs("modern_schedules", {"name": "reduce_on_plateau", "lr0": 0.1, "factor": 0.5,
                                               "patience": 2, "min_lr": 0.001}, 0.0, settings, dataset)
    assert seed_groups(other[:1] + configs + other[1:] + plateau) == [[0, 3], [1, 2], [4], [5]]
    # the rates of a sweep join too (each tower gets its own), but not in float16, whose loss scaling would skip
    # every tower's step when one overflows
    faster = sgd_configs("constant", {"name": "constant", "lr0": 0.3}, 0.0, settings, dataset)
    assert seed_groups(other + faster) == [[0, 1, 2, 3]]
    half = settings.replace(precision="mixed_float16")
    rates = [sgd_configs("constant", {"name": "constant", "lr0": lr}, 0.0, half, dataset) for lr in (0.1, 0.3)]
    assert seed_groups(rates[0] + rates[1]) == [[0, 1], [2, 3]]
    # a schedule's peak rates join as well (each tower gets its own schedule), not two shapes of schedule
    higher = sgd_configs("step_decay", {"name": "step_decay", "lr0": 0.3, "drop": 0.5, "epochs_drop": 1}, 0.5,
                         settings, dataset)
    steeper = sgd_configs("step_decay", {"name": "step_decay", "lr0": 0.3, "drop": 0.25, "epochs_drop": 1}, 0.5,
                          settings, dataset)
    assert seed_groups(configs + higher + steeper) == [[0, 1, 2, 3], [4, 5]]
    # rates set in proportion to the peak (one-cycle's start and end) are part of the shape, not of the rate
    cycles = [sgd_configs("modern_schedules", {"name": "one_cycle", "lr0": lr, "initial": lr / 25,
                                               "final": lr / 25 / 1e4, "warmup_steps": 3.0, "total_steps": 9.0},
                          0.0, settings, dataset) for lr in (0.1, 0.1 * 10 ** 0.5)]
    assert seed_groups(cycles[0] + cycles[1] + plateau) == [[0, 1, 2, 3], [4], [5]]


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_is_a_parameter_and_makes_new_runs(tmp_path, synthetic_archive, precision):
    import keras

    from lrlab import train

    settings = resolve_settings("smoke", epochs=2, data_path=str(synthetic_archive), output_dir=str(tmp_path),
                                precision=precision)
    dataset = load_dataset(settings)
    schedule = {"name": "step_decay", "lr0": 0.1, "drop": 0.5, "epochs_drop": 1}
    config = sgd_configs("step_decay", schedule, 0.5, settings, dataset)[0]
    full = sgd_configs("step_decay", schedule, 0.5, settings.replace(precision="float32"), dataset)[0]
    assert config["precision"] == precision and run_id(config) != run_id(full)
    try:
        model = train.build_runs_model([config], (32, 32, 3), 2, 1)
        assert model.layers[0].compute_dtype == precision.removeprefix("mixed_")
        assert model.layers[0].kernel.dtype == "float32"  # weights stay in float32
    finally:
        keras.config.set_dtype_policy("float32")
    history, test = train.train_runs([config], dataset, log=quiet)[0]
    assert np.isfinite(history["loss"]).all() and test is not None
    steps = -(-len(dataset["y_train"]) // config["batch_size"])  # the schedule still drives the rate
    np.testing.assert_allclose(history["lr"], [schedules.lr_at(schedule, e, steps) for e in range(2)], rtol=1e-6)
    # the run put the process's policy back: the next run in this process is not trained in 16 bits by accident
    assert keras.config.dtype_policy().name == "float32"


def test_a_diverging_seed_leaves_the_seed_trained_beside_it_untouched(two_seeds):
    from lrlab import train

    settings, dataset, configs = two_seeds
    configs = [c | {"schedule": {"name": "constant", "lr0": 1500.0}} for c in configs]
    alone = [train.train_runs([c], dataset, steps_per_execution=2, log=quiet)[0] for c in configs]
    assert [test is None for _, test in alone] == [True, False], "at this rate seed 0 should diverge, seed 1 not"
    (diverged, no_test), (healthy, test) = train.train_runs(configs, dataset, steps_per_execution=2, log=quiet)
    assert no_test is None and len(diverged) == len(alone[0][0]) and not np.isfinite(diverged["loss"].iloc[-1])
    assert len(healthy) == 3 and np.isfinite(healthy["loss"]).all()  # kept training after its neighbour's NaN
    pd.testing.assert_frame_equal(healthy.drop(columns="epoch_time_s"), alone[1][0].drop(columns="epoch_time_s"),
                                  rtol=1e-6)
    assert test == pytest.approx(alone[1][1], rel=1e-6)
