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
    from lrlab.config import MODEL_NAMES
    from lrlab.models import MODELS

    assert sorted(MODEL_NAMES) == sorted(MODELS)  # every task's networks are built, every network is some task's
    settings, dataset = text_settings
    assert settings.model == "char_transformer" and settings.classes == []
    assert resolve_settings("smoke").model == "seed_cnn" and resolve_settings("full").model == "vgg_bn"
    assert resolve_settings("smoke", task="shakespeare_char", model="char_transformer_small").model == \
        "char_transformer_small"
    with pytest.raises(ParameterError, match="model 'seed_cnn' does not take shakespeare_char's examples"):
        resolve_settings("smoke", task="shakespeare_char", model="seed_cnn")
    with pytest.raises(ParameterError, match="use protocol holdout"):
        resolve_settings("paper", task="shakespeare_char")
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


def trained_side_by_side_equal_alone(configs, dataset):
    """Train `configs` side by side, then each alone: every number (histories, test metrics, what a text run
    wrote) must be the same to the last bit. Returns the side-by-side results."""
    from lrlab import train

    together = train.train_runs(configs, dataset, steps_per_execution=4, log=quiet)
    for config, (history, test) in zip(configs, together):
        (alone, alone_test), = train.train_runs([config], dataset, steps_per_execution=4, log=quiet)
        columns = ["loss", "accuracy", "val_loss", "val_accuracy"]
        assert np.array_equal(history[columns].to_numpy(), alone[columns].to_numpy())
        assert test == alone_test
    return together


# the study's network in the fast tier; nanoGPT's, four times the work, in the slow one
@pytest.mark.parametrize("model", ["char_transformer_small", pytest.param("char_transformer", marks=pytest.mark.slow)])
def test_a_seed_of_the_transformer_side_by_side_gets_the_numbers_it_gets_alone(text_settings, model):
    settings, dataset = text_settings
    configs = family_configs("adaptive", settings.replace(optimizers=["adamw"], model=model), dataset,
                             notebook_defaults("adaptive"))
    assert [c["seed"] for c in configs] == [0, 1]
    together = trained_side_by_side_equal_alone(configs, dataset)
    # it learns: after two epochs on the generated text it is well below guessing
    assert together[0][0]["val_loss"].iloc[-1] < math.log(65) - 1


def test_a_family_on_the_text_task_is_stored_and_read_back(text_settings):
    settings, dataset = text_settings
    settings = settings.replace(seeds=[0], model="char_transformer_small")
    run("constant", settings, notebook_defaults("constant"), dataset, log=quiet)
    histories, runs = load_runs(settings, ["constant"])
    row = runs.iloc[0]
    assert (row["task"], row["n_classes"], row["model"]) == ("shakespeare_char", 65, "char_transformer_small")
    assert row["status"] == "completed" and 0 < row["final_val_accuracy"] < 1
    assert isinstance(histories, pd.DataFrame) and len(histories) == 2
    # what the run wrote after training: 300 characters of its alphabet
    assert len(row["sample"]) == 300 and set(row["sample"]) <= set(shakespeare.ALPHABET)


def test_the_report_shows_what_the_best_and_worst_configurations_wrote():
    from lrlab import report

    table = pd.DataFrame({"configuration": ["Adam (lr=0.001)", "SGD, constant", "Prodigy"],
                          "final_mean": [0.5, 0.3, float("nan")]})
    runs = pd.DataFrame({"label": ["Adam (lr=0.001)", "Adam (lr=0.001)", "SGD, constant", "Prodigy"],
                         "seed": [1, 0, 0, 0], "sample": ["adam one", "adam zero", "sgd", "prodigy"]})
    text = report.text_samples(table, runs)
    assert text.startswith("**Best: Adam (lr=0.001)** (mean final validation accuracy 50.0%; seed 0):")
    assert "```text\nadam zero\n```" in text
    assert "**Worst: Prodigy** (every seed failed; seed 0):\n\n```text\nprodigy\n```" in text
    assert report.text_samples(table, runs.assign(sample=None)) == ""  # an image task's runs wrote nothing


# --- does the ranking hold across tasks (lrlab.across_tasks) ---


def _task_runs(scores: dict, curves: dict, failed=()):
    """Runs of one task: three seeds per method, final validation accuracy `scores[method]` (+ seed / 1000),
    a mean validation curve `curves[method]` over the epochs; methods in `failed` lose seed 2."""
    runs, histories = [], []
    for method, score in scores.items():
        for seed in range(3):
            rid = f"{method}-{seed}"
            status = "did_not_learn" if method in failed and seed == 2 else "completed"
            family = "adaptive" if "sgd" not in method else "constant" if method == "sgd" else "step_decay"
            runs.append({"run_id": rid, "family": family, "tuned": method, "status": status,
                         "final_val_accuracy": score + seed / 1000})
            histories += [{"run_id": rid, "tuned": method, "status": status, "epoch": e + 1, "val_accuracy": v}
                          for e, v in enumerate(curves[method])]
    return pd.DataFrame(runs), pd.DataFrame(histories)


def test_ranks_agreement_and_performance_profile_across_two_tasks():
    from lrlab import across_tasks

    curves = {"adam": [0.5, 0.9, 0.9, 0.9], "sgd": [0.2, 0.3, 0.6, 0.8], "sgd+step_decay": [0.3, 0.5, 0.7, 0.86],
              "rmsprop": [0.4, 0.88, 0.9, 0.9]}
    one = _task_runs({"adam": 0.90, "rmsprop": 0.89, "sgd+step_decay": 0.86, "sgd": 0.80}, curves)
    # the second task reverses the order of SGD's two schedules and fails one seed of RMSprop
    two = _task_runs({"adam": 0.60, "rmsprop": 0.65, "sgd+step_decay": 0.30, "sgd": 0.40, "adagrad": 0.5},
                     curves | {"adagrad": [0.1, 0.2, 0.3, 0.4]}, failed={"rmsprop"})
    first = across_tasks.method_scores(*one, target_fraction=0.95)
    assert first["method"].tolist() == ["adam", "rmsprop", "sgd+step_decay", "sgd"]
    # target 0.95 × 0.9 = 0.855: Adam and RMSprop at epoch 2, step decay at 4, constant SGD never
    assert first.set_index("method")["epochs_to_target"].to_dict() == {"adam": 2, "rmsprop": 2, "sgd+step_decay": 4,
                                                                        "sgd": math.inf}
    second = across_tasks.method_scores(*two)
    assert second["method"].tolist() == ["adam", "adagrad", "sgd", "sgd+step_decay", "rmsprop"]  # failed last
    assert second.set_index("method").loc["rmsprop", "failed"] == "1 of 3 seeds did not learn"
    result = across_tasks.across_tasks({"cifar_catdog": first, "cifar10": second})
    ranks = result["ranks"]
    assert ranks["method"].tolist() == ["adam", "rmsprop", "sgd+step_decay", "sgd"]  # adagrad: one task only
    assert ranks["cifar10 rank"].tolist() == [1, 4, 3, 2]
    (agreement,) = result["agreement"]
    # pairs of the 4 shared methods: 6; concordant: adam with each of the other three; discordant: the rest
    assert agreement["methods"] == 4 and agreement["tau"] == pytest.approx((3 - 3) / 6)
    assert result["failures"] == [{"task": "cifar10", "method": "RMSprop", "failed": "1 of 3 seeds did not "
                                   "learn"}]
    profile = across_tasks.performance_profile(result["ratios"], [1, 2, 4])
    # Adam and RMSprop reach the target first on both tasks, step decay in twice their epochs, SGD never
    assert profile["Adam"].tolist() == profile["RMSprop"].tolist() == [1.0, 1.0, 1.0]
    assert profile["SGD + step decay"].tolist() == [0.0, 1.0, 1.0] and profile["SGD"].tolist() == [0.0, 0.0, 0.0]
    names = {"cifar_catdog": "cat vs dog", "cifar10": "Shakespeare"}
    text = across_tasks.conclusions(result, names)
    assert "Kendall's τ = +0.00" in text and "no clear agreement" in text
    assert "On Shakespeare, RMSprop: 1 of 3 seeds did not learn." in text
    ratios = across_tasks.ratios_frame(result, names)
    assert ratios.iloc[:, 1:].to_numpy().tolist() == [["1", "1"], ["1", "1"], ["2", "2"],
                                                      ["not reached", "not reached"]]
    table = across_tasks.ranks_frame(result, names)
    assert table.iloc[0].tolist() == ["Adam", "1 (90.1)", "1 (60.1)"]


def test_a_lower_is_better_task_ranks_and_times_by_its_loss():
    """The text task ranks by validation loss: the lowest mean final loss first, its target 5% above the lowest
    mean curve's value, its table printed in nats with three decimals."""
    from lrlab import across_tasks

    runs, histories = [], []
    losses = {"adam": 1.70, "rmsprop": 1.75, "sgd": 2.40}
    curves = {"adam": [2.5, 1.9, 1.70], "rmsprop": [2.2, 1.78, 1.75], "sgd": [3.0, 2.7, 2.4]}
    for method, loss in losses.items():
        for seed in range(3):
            rid = f"{method}-{seed}"
            family = "constant" if method == "sgd" else "adaptive"
            runs.append({"run_id": rid, "family": family, "tuned": method, "status": "completed",
                         "task": "shakespeare_char", "final_val_loss": loss + seed / 1000,
                         "final_val_accuracy": 0.9 - loss / 10})  # accuracy disagrees: must not be read
            histories += [{"run_id": rid, "tuned": method, "status": "completed", "epoch": e + 1, "val_loss": v,
                           "task": "shakespeare_char"} for e, v in enumerate(curves[method])]
    scores = across_tasks.method_scores(pd.DataFrame(runs), pd.DataFrame(histories), target_fraction=0.95)
    assert scores["method"].tolist() == ["adam", "rmsprop", "sgd"]
    # target 1.05 × 1.70 = 1.785: RMSprop gets there at epoch 2 (1.78), Adam at 3, SGD never
    assert scores.set_index("method")["epochs_to_target"].to_dict() == {"adam": 3, "rmsprop": 2, "sgd": math.inf}
    result = across_tasks.across_tasks({"shakespeare_char": scores})
    table = across_tasks.ranks_frame(result, {"shakespeare_char": "Shakespeare"})
    assert table.columns[1] == "Shakespeare: rank (loss)"
    assert table.iloc[0].tolist() == ["Adam", "1 (1.701)"]


def test_the_shakespeare_profile_is_the_text_task_at_a_size_this_machine_trains():
    settings = resolve_settings("shakespeare")
    assert (settings.task, settings.model, settings.epochs, settings.batch_size) == (
        "shakespeare_char", "char_transformer_small", 4, 32)
    assert "lr_sensitivity" not in settings.families and len(settings.seeds) == 3


# --- CIFAR-10 with ResNet-20 (for a GPU; here at smoke size) ---


def test_resnet20_is_he_et_al_s_size_and_augments_only_in_training():
    from lrlab.models import build_model

    from lrlab.models import PadCropFlip

    model = build_model("resnet20", (32, 32, 3), 10)
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 269_722  # He et al.: 0.27 M
    images = np.random.default_rng(0).random((16, 32, 32, 3)).astype("float32")
    augment = PadCropFlip(4)
    assert np.array_equal(np.asarray(augment(images, training=False)), images)  # evaluated: the images themselves
    padded = np.pad(images, [(0, 0), (4, 4), (4, 4), (0, 0)])
    crops = []
    for image, out in zip(padded, np.asarray(augment(images, training=True))):
        # each image its own 32 × 32 crop of its padded copy, flipped or not
        (found,) = [(r, c, f) for r in range(9) for c in range(9) for f in (False, True)
                    if np.array_equal(image[r:r + 32, c:c + 32][:, ::-1] if f else image[r:r + 32, c:c + 32], out)]
        crops.append(found)
    assert len(set(crops)) > 8 and {f for _, _, f in crops} == {False, True}
    evaluated = [np.asarray(model(images, training=False)) for _ in range(2)]
    assert np.array_equal(*evaluated)
    assert resolve_settings("smoke", task="cifar10_resnet20").model == "resnet20"


@pytest.mark.slow
def test_resnet20_seeds_side_by_side_get_the_numbers_they_get_alone(tmp_path, synthetic_archive):
    """Each tower's crops and flips come from its own seed, so a seed trained beside another is the seed alone."""
    settings = resolve_settings("smoke", task="cifar10_resnet20", data_path=str(synthetic_archive),
                                output_dir=str(tmp_path), epochs=1, seeds=[0, 1])
    dataset = tasks.load_dataset(settings)
    configs = family_configs("adaptive", settings.replace(optimizers=["adam"]), dataset,
                             notebook_defaults("adaptive"))
    assert configs[0]["data"]["task"] == "cifar10_resnet20" and tasks.n_classes(configs[0]["data"]) == 10
    trained_side_by_side_equal_alone(configs, dataset)


def test_every_weight_of_the_transformer_starts_from_a_draw_of_its_own():
    """One unseeded Keras initializer draws the same values each time it is called: shared between layers, it
    gave every block's MLP the same initial weights. Each weight now has its own, at nanoGPT's scales."""
    import itertools

    import keras

    from lrlab.models import char_transformer

    keras.utils.set_random_seed(0)
    model = char_transformer()
    weights = {w.path: np.asarray(w).ravel() for w in model.weights if w.path.endswith(("kernel", "embeddings"))}
    for (a, x), (b, y) in itertools.combinations(weights.items(), 2):
        n = min(x.size, y.size)
        assert not np.allclose(x[:n], y[:n]), f"{a} and {b} start equal"
    projections = [x.std() for path, x in weights.items() if "dense" in path][1::2]  # the MLPs' output layers
    assert projections == pytest.approx([0.02 / math.sqrt(8)] * 4, rel=0.05)


def test_a_revised_network_s_runs_carry_its_revision_and_no_other_run_id_moves(text_settings):
    settings, dataset = text_settings
    config = family_configs("constant", settings.replace(seeds=[0]), dataset, notebook_defaults("constant"))[0]
    assert config["model_revision"] == tasks.NETWORK_REVISIONS[config["model"]] >= 1
    assert tasks.network_revision("seed_cnn") == {}  # the image networks' runs keep their ids
