"""Tasks (lrlab.tasks): the character-level Shakespeare task's data and network, and a task chosen by parameter
flowing through settings, run configurations, training and the run tables."""

import math

import numpy as np
import pandas as pd
import pytest

from lrlab import shakespeare, tasks
from lrlab.config import run_config
from lrlab.data import DataError
from lrlab.families import configs as family_configs, notebook_defaults, run
from lrlab.parameters import ParameterError, resolve_settings
from lrlab.run_tables import load_runs


def quiet(_):
    pass


@pytest.fixture(scope="module")
def text_settings(tmp_path_factory):
    out = tmp_path_factory.mktemp("text")
    settings = resolve_settings("smoke", task="shakespeare_char", output_dir=str(out), epochs=2, seeds=[0, 1],
                                batch_size=32)
    return settings, tasks.load_dataset(settings)


def test_a_task_brings_its_own_network_and_data(text_settings):
    settings, dataset = text_settings
    assert settings.model == "char_transformer" and settings.classes == []
    assert resolve_settings("smoke").model == "seed_cnn" and resolve_settings("full").model == "vgg_bn"
    assert resolve_settings("smoke", task="shakespeare_char", model="seed_cnn").model == "seed_cnn"
    with pytest.raises(ParameterError, match="task='mnist' is invalid: expected one of cifar_catdog"):
        resolve_settings("smoke", task="mnist")
    # the generated text has the real one's alphabet; windows predict the character one further on
    assert dataset["alphabet"] == shakespeare.ALPHABET and len(dataset["alphabet"]) == 65
    x, y = dataset["x_train"], dataset["y_train"]
    assert x.shape[1:] == (shakespeare.CONTEXT,) and x.dtype == np.int32
    assert np.array_equal(x[:, 1:], y[:, :-1]) and np.array_equal(x[1:, 0], y[:-1, -1])
    n = 60_000
    assert len(x) == (int(0.9 * n) - 1) // 64 and len(dataset["x_val"]) + len(dataset["x_test"]) == 2 * 46
    config = run_config("constant", {"name": "sgd", "momentum": 0.0}, {"name": "constant", "lr0": 0.1}, settings,
                        dataset, 0)
    assert config["data"] | {"fingerprint": "-"} == {
        "fingerprint": "-", "task": "shakespeare_char", "vocabulary": 65, "context": 64, "protocol": "holdout",
        "n_train": len(x), "n_validation": len(dataset["x_val"])}
    assert tasks.n_classes(config["data"]) == 65 and tasks.of_run(config["data"]).name == "shakespeare_char"


def test_the_text_split_is_nanogpt_s_with_its_validation_part_halved():
    ids = np.arange(1000)
    parts = shakespeare.splits(ids)
    assert list(parts["train"]) == list(range(900)) and list(parts["held_out"]) == list(range(900, 1000))
    assert list(parts["validation"]) + list(parts["test"]) == list(range(900, 1000))
    assert len(parts["validation"]) == 50


def test_missing_text_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.delenv(shakespeare.ENV_VAR, raising=False)
    with pytest.raises(DataError, match="set LRLAB_SHAKESPEARE=/path/to/tinyshakespeare.txt"):
        shakespeare.load_text()
    with pytest.raises(DataError, match="not found at"):
        shakespeare.load_text(str(tmp_path / "missing.txt"))
    short = tmp_path / "short.txt"
    short.write_text("to be")
    with pytest.raises(DataError, match="too short"):
        shakespeare.load_text(str(short))


def test_the_transformer_guesses_uniformly_at_initialisation(text_settings):
    """nanoGPT's initialisation (normal 0.02, the output tied to the embedding) predicts nearly uniform
    probabilities: the loss before training is ln 65 within 0.1. Its size is nanoGPT's CPU model's."""
    from lrlab.models import build_model

    _, dataset = text_settings
    model = build_model("char_transformer", (64,), 65)
    assert model.count_params() == 804_096  # 4 layers, 128 dimensions: nanoGPT reports 0.80 M
    model.compile(loss="sparse_categorical_crossentropy")
    loss = model.evaluate(dataset["x_val"], dataset["y_val"], verbose=0)
    assert abs(loss - math.log(65)) < 0.1


def test_a_seed_of_the_transformer_side_by_side_gets_the_numbers_it_gets_alone(text_settings):
    from lrlab import train

    settings, dataset = text_settings
    configs = family_configs("adaptive", settings.replace(optimizers=["adamw"]), dataset,
                             notebook_defaults("adaptive"))
    assert [c["seed"] for c in configs] == [0, 1]
    together = train.train_runs(configs, dataset, steps_per_execution=4, log=quiet)
    for config, (history, test) in zip(configs, together):
        (alone, alone_test), = train.train_runs([config], dataset, steps_per_execution=4, log=quiet)
        columns = ["loss", "accuracy", "val_loss", "val_accuracy"]
        assert np.array_equal(history[columns].to_numpy(), alone[columns].to_numpy())
        assert test == alone_test
    # it learns: after two epochs on the generated text it is well below guessing
    assert together[0][0]["val_loss"].iloc[-1] < math.log(65) - 1


def test_a_family_on_the_text_task_is_stored_and_read_back(text_settings):
    settings, dataset = text_settings
    run("constant", settings.replace(seeds=[0]), notebook_defaults("constant"), dataset, log=quiet)
    histories, runs = load_runs(settings.replace(seeds=[0]), ["constant"])
    row = runs.iloc[0]
    assert (row["task"], row["n_classes"], row["model"]) == ("shakespeare_char", 65, "char_transformer")
    assert row["status"] == "completed" and 0 < row["final_val_accuracy"] < 1
    assert isinstance(histories, pd.DataFrame) and len(histories) == 2
