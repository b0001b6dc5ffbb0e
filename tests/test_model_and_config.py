"""The seed model's size, and the parameter checks every notebook and build_report.py share."""

import pytest

from lrlab.config import PROFILES, run_label
from lrlab.families import adaptive_configs, sgd_configs
from lrlab.parameters import ParameterError, check_parameter, resolve_settings
from lrlab.models import build_model
from lrlab.optimizers import build_optimizer


@pytest.mark.parametrize("n_classes,expected", [(2, 25_546), (10, 25_682)])
def test_seed_cnn_parameter_count(n_classes, expected):
    assert build_model("seed_cnn", (32, 32, 3), n_classes).count_params() == expected


def test_unknown_model_is_refused():
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        build_model("resnet", (32, 32, 3), 2)


@pytest.mark.parametrize("name,value", [
    ("epochs", "ten"), ("epochs", 0), ("epochs", -3), ("epochs", 2.5), ("epochs", True), ("batch_size", 0),
    ("lr", 0), ("lr", -0.1), ("lr", "fast"), ("lr", float("nan")), ("lr0", 0.0), ("adam_lr", -1e-3),
    ("momentum", 1.0), ("drop", 0), ("seeds", []), ("seeds", [0, "a"]), ("seeds", 3), ("profile", "huge"),
    ("optimizers", ["adam", "sgdx"]), ("optimizers", "adam"), ("force", "yes"),
])
def test_bad_values_get_one_line_errors(name, value):
    with pytest.raises(ParameterError) as err:
        check_parameter(name, value)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"parameter {name}=") and "e.g." in message


def test_unknown_parameter_is_named():
    with pytest.raises(ParameterError, match="unknown parameter 'learning_rate'"):
        check_parameter("learning_rate", 0.1)


@pytest.mark.parametrize("name,value", [("epochs", 1), ("lr", 1), ("lr", 0.05), ("seeds", [0, 7]),
                                        ("decay", None), ("momentum", 0), ("optimizers", ["adam"])])
def test_good_values_pass(name, value):
    assert check_parameter(name, value) == value


def test_profile_fills_what_is_left_at_none(tmp_path):
    s = resolve_settings("paper", epochs=7, output_dir=str(tmp_path))
    assert s.epochs == 7 and s.seeds == [0, 1, 2] and s.batch_size == 64 and s.classes == [3, 5]
    assert resolve_settings("smoke").data_path == "synthetic"
    assert resolve_settings("full").classes == list(range(10))
    assert set(PROFILES) == {"smoke", "paper", "study", "full", "shakespeare"}
    study = resolve_settings("study")
    assert len(study.seeds) >= 5 and study.protocol == "holdout" and "modern_schedules" in study.families
    # the 2017 experiment stays reproducible: its protocol, its methods, its families
    paper = resolve_settings("paper")
    assert paper.protocol == "seed" and paper.optimizers == ["adagrad", "adadelta", "rmsprop", "adam"]
    assert paper.families == ["constant", "time_based_decay", "step_decay", "exponential_decay", "adaptive"]
    assert resolve_settings("full").model == "vgg_bn" and resolve_settings("paper", model="vgg_bn").model == "vgg_bn"


def test_unknown_setting_is_refused():
    with pytest.raises(ParameterError, match="unknown parameter 'colour'"):
        resolve_settings("paper", colour="red")


def _dataset():
    return {"fingerprint": "f", "y_train": [0] * 10, "y_val": [0] * 4}


def test_configurations_differ_by_seed_and_carry_every_setting():
    s = resolve_settings("paper")
    configs = sgd_configs("step_decay", {"name": "step_decay", "lr0": 0.1, "drop": 0.5, "epochs_drop": 10}, 0.5, s,
                          _dataset())
    assert [c["seed"] for c in configs] == [0, 1, 2]
    assert configs[0]["optimizer"] == {"name": "sgd", "momentum": 0.5}
    assert configs[0]["epochs"] == 100 and configs[0]["batch_size"] == 64 and configs[0]["data"]["n_train"] == 10


def test_adaptive_settings_reach_keras():
    s = resolve_settings("paper", seeds=[0])
    hyper = {"adam_lr": 0.002, "adam_beta_1": 0.8, "adam_beta_2": 0.99, "adam_epsilon": 1e-7,
             "adadelta_lr": 1.0, "adadelta_rho": 0.9, "adadelta_epsilon": 1e-6}
    adam, adadelta = adaptive_configs(["adam", "adadelta"], s, _dataset(), **hyper)
    assert adam["schedule"] == {"name": "constant", "lr0": 0.002} and run_label(adam) == "Adam (lr=0.002)"
    opt = build_optimizer(adam["optimizer"], 0.002)
    assert (opt.beta_1, opt.beta_2, opt.epsilon) == (0.8, 0.99, 1e-7)
    opt = build_optimizer(adadelta["optimizer"], 1.0)
    assert (opt.rho, opt.epsilon) == (0.9, 1e-6)
