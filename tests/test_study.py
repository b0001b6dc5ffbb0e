"""The careful-comparison features: held-out protocol, intervals on differences, ranks, time to accuracy, the
learning-rate sweep and the range test."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lrlab import config, families
from lrlab.parameters import ParameterError, check_parameter, resolve_settings
from lrlab.data import holdout_split, load_dataset
from lrlab.optimizers import ADAPTIVE_DEFAULTS, build_optimizer
from lrlab.statistics import paired_difference
from lrlab.differences import baseline_differences
from lrlab.results import rank_table, summary_table, time_to_target
from lrlab.sweep import format_sensitivity, sensitivity_table
from lrlab.families import train_group
from lrlab.store import HISTORY_COLUMNS, read_summary, run_id


def quiet(message):
    pass


def test_holdout_split_is_stratified_disjoint_and_fixed_by_its_seed():
    y = np.array([0] * 60 + [1] * 40)
    val = holdout_split(y, 0.25, seed=3)
    assert np.bincount(y[val]).tolist() == [15, 10]  # a quarter of each class
    assert np.array_equal(val, holdout_split(y, 0.25, seed=3)) and not np.array_equal(val, holdout_split(y, 0.25, 4))
    assert len(np.unique(val)) == len(val)


@pytest.fixture
def holdout(tmp_path, synthetic_archive):
    settings = resolve_settings("smoke", epochs=2, data_path=str(synthetic_archive), output_dir=str(tmp_path))
    return settings, load_dataset(settings)


def test_holdout_validation_comes_from_the_training_set(holdout):
    settings, data = holdout
    paper = load_dataset(settings.replace(protocol="seed"))
    # 100 synthetic training images per class: 20 of each class held out, the test set untouched
    assert len(data["y_val"]) == 40 and len(data["y_train"]) == 160 and len(data["y_test"]) == len(paper["y_test"])
    train_rows = {x.tobytes() for x in paper["x_train"]}
    assert all(x.tobytes() in train_rows for x in data["x_val"])
    assert not {x.tobytes() for x in data["x_val"]} & {x.tobytes() for x in data["x_train"]}
    assert np.array_equal(paper["x_val"], paper["x_test"])  # the 2017 protocol: test set as validation


def test_a_holdout_run_records_its_test_accuracy_once(holdout, monkeypatch):
    """The stored test metrics are the trained model's on the test set, measured once, after the last epoch: what
    evaluating the model the run ended with gives (its weights are not stored, so the test keeps hold of it), and
    never a column of the per-epoch history."""
    from lrlab import train

    settings, data = holdout
    cfg = families.sgd_configs("constant", {"name": "constant", "lr0": 0.05}, 0.0, settings, data)[0]
    assert cfg["data"]["protocol"] == "holdout" and cfg["data"]["data_seed"] == 0
    models, on_test = [], []

    def kept(*args, **kwargs):  # the run's model, and each time it is evaluated on the test images
        model = build_runs_model(*args, **kwargs)
        evaluate = model.evaluate

        def counted(x=None, y=None, **options):  # fit validates through evaluate too, on the validation set
            on_test.append(isinstance(x, np.ndarray) and np.array_equal(x, data["x_test"]))
            return evaluate(x, y, **options)

        model.evaluate = counted
        models.append(model)
        return model

    build_runs_model = train.build_runs_model
    monkeypatch.setattr(train, "build_runs_model", kept)
    path = train_group([cfg], settings, data, log=quiet)[0]["path"]
    summary = read_summary(path)
    assert len(models) == 1 and on_test.count(True) == 1 and on_test[-1]  # the test set, once, at the end
    again = models[0].evaluate(data["x_test"], data["y_test"], batch_size=train.EVAL_BATCH_SIZE, verbose=0,
                               return_dict=True)  # the loss stored is the cross-entropy averaged over images
    assert summary["test"] == {"loss": pytest.approx(again["cross_entropy"], rel=1e-6),
                               "accuracy": pytest.approx(again["accuracy"], abs=1e-9)}
    assert list(pd.read_csv(f"{path}/history.csv").columns) == HISTORY_COLUMNS  # no per-epoch test numbers
    other_split = families.sgd_configs("constant", {"name": "constant", "lr0": 0.05}, 0.0,
                                     settings.replace(data_seed=1), data)[0]
    assert run_id(other_split) != run_id(cfg)  # another split is another run


def test_paired_difference_is_the_t_interval_of_per_seed_differences():
    a = pd.Series([0.80, 0.81, 0.85], index=[0, 1, 2])
    b = pd.Series([0.70, 0.72, 0.71], index=[0, 1, 2])
    r = paired_difference(a, b)
    mean, low, high, method = r["difference"], r["ci_low"], r["ci_high"], r["method"]
    d = a - b
    half = stats.t.ppf(0.975, 2) * d.std(ddof=1) / math.sqrt(3)
    assert method == "paired" and mean == pytest.approx(d.mean()) and (low, high) == (
        pytest.approx(d.mean() - half), pytest.approx(d.mean() + half))


def test_under_the_2017_protocol_there_is_no_test_figure(holdout):
    """Runs are read back with their test accuracy only where the test set was held out: under the 2017 protocol it
    is the validation set, so no table, download or sweep shows a copy of validation's as a test figure."""
    from lrlab.run_tables import load_runs
    from lrlab.store import write_manifest, write_run
    from lrlab.summary import summarize_history

    settings, data = holdout
    history = pd.DataFrame({"epoch": [1, 2], "lr": 0.05, "loss": [0.6, 0.4], "accuracy": [0.7, 0.8],
                            "val_loss": [0.6, 0.5], "val_accuracy": [0.7, 0.75], "epoch_time_s": [2.0, 1.0]})
    stored = []
    for protocol, seed in (("holdout", 0), ("seed", 1)):
        config = families.sgd_configs("constant", {"name": "constant", "lr0": 0.05}, 0.0, settings, data)[0]
        config = config | {"seed": seed, "data": config["data"] | {"protocol": protocol}}
        write_run(config, run_id(config), history, summarize_history(history, 3.0, {"accuracy": 0.74}), settings)
        stored.append({"run_id": run_id(config)})
    write_manifest(settings, "constant", stored, {})
    _, runs = load_runs(settings, ["constant"])
    assert runs.set_index("protocol")["test_accuracy"].to_dict() == {"holdout": 0.74, "seed": pytest.approx(math.nan,
                                                                                                           nan_ok=True)}
    assert summary_table(runs.iloc[[1]])[["test_mean", "test_ci_low", "test_ci_high"]].isna().all().all()
    assert summary_table(runs.iloc[[0]])["test_mean"].iloc[0] == 0.74


def test_one_healthy_seed_is_compared_on_that_seed_without_an_interval():
    a = pd.Series([0.682], index=[0])  # the other seeds failed
    b = pd.Series([0.6865, 0.69, 0.70], index=[0, 1, 2])
    r = paired_difference(a, b)
    assert r["difference"] == pytest.approx(0.682 - 0.6865)  # not 0.682 minus b's mean over three seeds
    assert (r["wins"], r["pairs"], r["method"]) == (0, 1, "none") and r["ci_low"] != r["ci_low"]
    r = paired_difference(a.set_axis([7]), b)  # no seed in common: between the means
    assert r["difference"] == pytest.approx(0.682 - b.mean()) and r["pairs"] == 0


def test_unpaired_difference_uses_welch():
    a = pd.Series([0.80, 0.82, 0.84], index=[0, 1, 2])
    b = pd.Series([0.70, 0.71, 0.72, 0.75], index=[5, 6, 7, 8])
    r = paired_difference(a, b)
    low, high, method = r["ci_low"], r["ci_high"], r["method"]
    assert r["p"] == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    welch = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert method == "Welch" and (low, high) == (pytest.approx(welch.low), pytest.approx(welch.high))


def _runs(rows):
    return pd.DataFrame([{"family": f, "label": label, "seed": s, "status": "completed", "final_val_accuracy": acc,
                          "best_val_accuracy": acc, "best_epoch": 5, "train_seconds": 1.0, "protocol": "holdout",
                          "test_accuracy": acc - 0.01, "optimizer": opt, "tuned": opt, "lr0": lr}
                         for f, label, s, acc, opt, lr in rows])


def test_ranks_within_seeds_and_verdicts_against_the_baseline():
    runs = _runs([("constant", "const", s, a, "sgd", 0.1) for s, a in enumerate([0.70, 0.71, 0.72, 0.70, 0.71])] +
                 [("step_decay", "step", s, a, "sgd", 0.1) for s, a in enumerate([0.75, 0.76, 0.77, 0.74, 0.76])] +
                 [("adaptive", "adam", s, a, "adam", 0.001)
                  for s, a in enumerate([0.72, 0.69, 0.73, 0.69, 0.73])])
    ranks = rank_table(runs)
    assert ranks["configuration"].tolist() == ["step", "adam", "const"]
    # step is first in every seed; adam beats const in seeds 0, 2 and 4 only
    assert ranks["mean rank within a seed"].tolist() == ["1.0", "2.4", "2.6"]
    assert "" not in ranks.columns and ranks["rank"].tolist() == ["1", "2", "3"]  # ranks, no index column
    diffs = baseline_differences(runs, "const").set_index("configuration")
    assert diffs.loc["step", "verdict"] == "clearly better" and diffs.loc["step", "difference"] == pytest.approx(4.8)
    assert diffs.loc["adam", "verdict"] == "no clear difference" and diffs.loc["adam", "method"] == "paired"
    table = summary_table(runs)
    assert table.loc[0, "test_mean"] == pytest.approx(0.756 - 0.01)


def test_time_to_target_reads_the_mean_curves():
    histories = pd.DataFrame({
        "label": ["fast"] * 3 + ["slow"] * 3 + ["never"] * 3,
        "epoch": [1, 2, 3] * 3,
        "val_accuracy": [0.70, 0.80, 0.80, 0.50, 0.70, 0.78, 0.5, 0.5, 0.5],
        "elapsed_s": [1.0, 2.0, 3.0, 0.5, 1.0, 1.5, 1, 2, 3],
    })
    table, target = time_to_target(histories, 0.95)
    assert target == pytest.approx(0.76)
    # epochs, fastest first; not seconds (a build's wall clock measures its machine's load)
    assert table.to_dict("records") == [{"configuration": "fast", "epochs": 2},
                                        {"configuration": "slow", "epochs": 3},
                                        {"configuration": "never", "epochs": "not reached"}]


def test_learning_rate_grid_is_log_spaced_around_the_default():
    assert config.learning_rate_grid(0.001, 5, 10.0) == pytest.approx([1e-4, 10 ** -3.5, 1e-3, 10 ** -2.5, 1e-2])
    assert config.learning_rate_grid(0.1, 3, 10.0)[1] == 0.1  # exactly: the default's runs are shared


def test_sensitivity_shares_the_default_runs_and_flags_edges(holdout):
    settings, data = holdout
    configs = families.sensitivity_configs(["adam", "sgd_momentum"], 0.1, 0.0, 3, 10.0, settings, data)
    assert len(configs) == 3 * 3  # SGD, Adam and SGD+momentum: "tuned SGD against Adam" needs both swept
    constant = families.sgd_configs("constant", {"name": "constant", "lr0": 0.1}, 0.0, settings, data)[0]
    adam = families.adaptive_configs(["adam"], settings, data, **families.default_hyperparameters(["adam"]))[0]
    ids = [run_id(c) for c in configs]
    assert run_id(constant) in ids and run_id(adam) in ids  # the same runs as the families': trained once
    runs = _runs([("lr_sensitivity", "x", s, a, "adam", lr) for s in range(2)
                  for lr, a in [(1e-4, 0.6), (1e-3, 0.7), (1e-2, 0.8)]] +
                 [("lr_sensitivity", "y", s, a, "sgd", lr) for s in range(2)
                  for lr, a in [(0.01, 0.6), (0.1, 0.75), (1.0, 0.5)]])
    table = sensitivity_table(runs).set_index("method")
    assert table.loc["Adam", "best_lr"] == 0.01 and table.loc["Adam", "on_edge"]
    assert table.loc["Adam", "default_lr"] == pytest.approx(1e-3) and table.loc["Adam", "at_default"] == 0.7
    assert table.loc["SGD", "best_lr"] == 0.1 and not table.loc["SGD", "on_edge"]


def test_range_test_raises_the_rate_exponentially_and_suggests_a_tenth_of_the_minimum(holdout):
    settings, data = holdout
    cfg = families.range_test_configs(["adam"], 0.0, 1e-5, 1.0, 30, settings, data)[1]
    run = train_group([cfg], settings, data, log=quiet)[0]
    history = pd.read_csv(run["path"] + "/history.csv")
    summary = read_summary(run["path"])
    np.testing.assert_allclose(history["lr"], 1e-5 * (1e5) ** (history["step"] / 30), rtol=1e-5)
    searched = history.iloc[3:]  # the first tenth is left out: the moving average is still mostly noise there
    lowest = searched.loc[searched["smoothed_loss"].idxmin()]
    assert summary["min_loss_lr"] == pytest.approx(lowest["lr"])
    dipped = lowest["smoothed_loss"] <= 0.99 * searched["smoothed_loss"].iloc[0]
    assert summary["suggested_lr"] == (pytest.approx(lowest["lr"] / 10) if dipped else None)
    # each batch's own loss, not Keras's running mean over the epoch: the smoothed curve is their bias-corrected EMA
    ema, expected = 0.0, []
    for i, loss in enumerate(history["loss"], start=1):
        ema = 0.98 * ema + 0.02 * loss
        expected.append(ema / (1 - 0.98 ** i))
    np.testing.assert_allclose(history["smoothed_loss"], expected, rtol=1e-6)


def test_a_range_test_logs_single_batch_losses(holdout):
    """The loss at a batch must be that batch's loss: with the rate still tiny (1e-9) the weights barely move,
    so every logged loss must be close to the loss of the untrained network on its batch, not a running mean
    that would drift smoothly."""
    settings, data = holdout
    cfg = families.range_test_configs([], 0.0, 1e-9, 1.1e-9, 10, settings, data)[0]
    history = pd.read_csv(train_group([cfg], settings, data, log=quiet)[0]["path"] + "/history.csv")
    losses = history["loss"].to_numpy()
    running = np.cumsum(losses) / np.arange(1, len(losses) + 1)
    # per-batch losses vary around their mean more than a running mean does
    assert np.std(np.diff(losses)) > 2 * np.std(np.diff(running))


@pytest.mark.parametrize("name", list(ADAPTIVE_DEFAULTS))
def test_every_optimizer_gets_its_settings(name):
    spec = {"name": name} | {k: v for k, v in ADAPTIVE_DEFAULTS[name].items() if k != "lr"}
    opt = build_optimizer(spec, 0.01)
    config = opt.get_config()  # the schedule-free and learning-rate-free methods keep Keras's weight_decay unset
    # and take their own; schedule-free SGD's momentum is the interpolation β1 of its AdamW sibling
    aliases = {"momentum": "beta_1"} if name == "schedule_free_sgd" else {}
    for key, value in spec.items():
        if key != "name":
            found = config[aliases.get(key, key)] if aliases.get(key, key) in config else getattr(opt, key)
            assert float(found) == pytest.approx(value), key
    assert getattr(opt, "nesterov", False) == (name == "sgd_nesterov")


def test_a_configuration_with_a_diverged_seed_is_neither_ranked_nor_compared():
    runs = _runs([("constant", "const", s, a, "sgd", 0.1) for s, a in enumerate([0.70, 0.71, 0.72])] +
                 [("adaptive", "lion", s, a, "lion", 1e-4) for s, a in enumerate([0.99, math.nan, math.nan])])
    runs.loc[runs["final_val_accuracy"].isna(), "status"] = "diverged"
    ranks = rank_table(runs)
    assert ranks["configuration"].tolist() == ["const", "lion"] and ranks["rank"].tolist() == ["1", "–"]
    assert ranks.loc[1, "final val. accuracy % (mean ± std [95% CI])"] == "2 of 3 seeds diverged; healthy: 99.0"
    # a failed seed ranks last within its seed: const is second in seed 0 only; lion itself is not ranked
    assert ranks["mean rank within a seed"].tolist() == [f"{(2 + 1 + 1) / 3:.1f}", "–"]
    diffs = baseline_differences(runs, "const")
    # over the one healthy seed (seed 0, against const's seed 0): a difference, but no interval, and the failures
    # named beside it
    assert diffs.loc[0, "verdict"] == "no interval: fewer than two healthy seeds"
    assert diffs.loc[0, "difference"] == pytest.approx(99 - 70) and diffs.loc[0, "failed"] == "2 of 3 seeds diverged"


def test_a_rate_where_a_seed_diverged_is_never_the_best():
    runs = _runs([("lr_sensitivity", "x", s, a, "adam", lr) for s in range(2)
                  for lr, a in [(1e-4, 0.6), (1e-3, 0.7)]] +
                 [("lr_sensitivity", "x", 0, 0.95, "adam", 1e-2), ("lr_sensitivity", "x", 1, math.nan, "adam", 1e-2)])
    runs.loc[runs["final_val_accuracy"].isna(), "status"] = "diverged"
    row = sensitivity_table(runs).iloc[0]
    assert row["best_lr"] == 1e-3 and row["failed_rates"] == "0.01 (1 of 2 seeds diverged)"
    assert row["test_at_best"] == pytest.approx(0.69)
    # a method that failed on some seed at every rate keeps its row, with no best rate, rather than vanish
    runs.loc[(runs["lr0"] == 1e-3) & (runs["seed"] == 1), "status"] = "did_not_learn"
    runs.loc[(runs["lr0"] == 1e-4) & (runs["seed"] == 0), "status"] = "did_not_learn"
    row = sensitivity_table(runs).iloc[0]
    assert row["best_lr"] != row["best_lr"] and row["at_default"] == pytest.approx(0.7)
    assert format_sensitivity(sensitivity_table(runs))["best lr on the grid"].iloc[0] == \
        "none: a seed failed at every rate"


def test_figures_of_runs_that_all_diverged_say_so():
    from lrlab import plots, tuning_plots

    runs = _runs([("adaptive", "lion", s, math.nan, "lion", 1e-4) for s in range(2)]).assign(status="diverged")
    for figure in (plots.final_values_figure(runs, "t"), tuning_plots.sensitivity_figure(runs, "t")):
        assert "Nothing to draw" in figure.axes[0].texts[0].get_text()


@pytest.mark.parametrize("name,value", [("lr_grid_points", 4), ("lr_grid_points", 1), ("range_test_steps", 5)])
def test_sweep_settings_are_checked(name, value):
    with pytest.raises(ParameterError, match=f"parameter {name}={value}"):
        check_parameter(name, value)


def test_a_range_test_that_would_fall_is_refused(holdout):
    settings, data = holdout
    with pytest.raises(ParameterError, match="must be below range_max"):
        families.range_test_configs([], 0.0, 10.0, 1e-6, 30, settings, data)


def test_a_range_test_suggests_only_where_the_loss_clearly_dipped():
    from lrlab.summary import range_test_suggestion

    lr = np.logspace(-6, 1, 100)
    dip = 0.7 - 0.2 * np.exp(-((np.log10(lr) + 2) ** 2))  # lowest at lr = 1e-2
    suggested, lowest = range_test_suggestion(pd.DataFrame({"lr": lr, "smoothed_loss": dip}))
    assert lowest == pytest.approx(lr[np.argmin(dip)]) and suggested == pytest.approx(lowest / 10)
    noisy_start = np.r_[0.6, np.full(99, 0.69)]  # a low first value, then flat: the first tenth is skipped
    flat = range_test_suggestion(pd.DataFrame({"lr": lr, "smoothed_loss": noisy_start - 1e-5 * np.arange(100)}))
    assert flat[0] is None  # 0.1% below the start is no dip


def test_range_test_figure_draws_every_seed_s_test_and_leaves_out_its_noisy_start():
    from lrlab import tuning_plots

    lr = np.logspace(-6, 1, 50)
    curves = pd.concat([pd.DataFrame({"method": m, "seed": seed, "step": np.arange(50), "lr": lr,
                                      "smoothed_loss": 0.7 - 0.1 * np.exp(-((np.log10(lr) + k) ** 2))})
                        for m, k, seed in (("SGD", 1, 0), ("SGD", 1.2, 1), ("Adam", 3, 0))])
    tests = pd.DataFrame({"method": ["SGD", "SGD", "Adam"], "optimizer": ["sgd", "sgd", "adam"], "seed": [0, 1, 0],
                          "suggested_lr": [0.01, 0.04, math.nan], "min_loss_lr": [0.1, 0.4, math.nan],
                          "steps": 50, "still_falling": False, "settings": ""})
    figure = tuning_plots.range_test_figure(curves, tests, "t")
    sgd, adam = figure.axes
    assert sgd.lines[0].get_xdata()[0] == pytest.approx(lr[5])  # the first tenth is not drawn
    assert len(sgd.lines) == 3 and len(adam.lines) == 1  # a line per seed; the suggestion only where there is one
    assert sgd.lines[2].get_xdata()[0] == pytest.approx(0.02)  # the median of 0.01 and 0.04 on the log scale


def test_range_tests_run_on_every_seed_and_are_stored_and_reused_like_runs(holdout):
    settings, data = holdout
    settings = settings.replace(seeds=[0, 1])
    tests = families.range_test_configs(["adam"], 0.0, 1e-5, 1.0, 10, settings, data)
    assert [(config.run_label(c), c["seed"]) for c in tests] == [("SGD", 0), ("SGD", 1), ("Adam", 0), ("Adam", 1)]
    assert len({run_id(c) for c in tests}) == 4
    first = [train_group([c], settings, data, log=quiet)[0] for c in tests[2:]]
    again = [train_group([c], settings, data, log=quiet)[0] for c in tests[2:]]
    assert [r["reused"] for r in first + again] == [False, False, True, True]
    curves = [pd.read_csv(r["path"] + "/history.csv")["loss"].tolist() for r in first]
    assert curves[0] != curves[1]  # each seed its own weights and batch order
