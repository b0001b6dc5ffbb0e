"""lrlab's schedule-free and learning-rate-free optimizers against their authors' code.

tests/fixtures/optimizer_references.json holds, for each case, the parameters after every step of the authors'
PyTorch optimizer (schedulefree, prodigyopt, dadaptation, dog-optimizer; float64) on a noisy quadratic, and for
schedule-free methods the evaluation point after every step; tests/fixtures/make_optimizer_references.py wrote it.
Here the same gradients go through lrlab's Keras optimizers, also in float64, and every number must agree to 1e-10.
"""

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from lrlab import optimizer_algorithms

REFERENCES = json.loads((Path(__file__).parent / "fixtures" / "optimizer_references.json").read_text())
TOLERANCE = 1e-10


def _keras_optimizer(method, kwargs):
    """The lrlab optimizer a case names, with the authors' keyword arguments in Keras's spelling."""
    kwargs = dict(kwargs)
    renamed = {"lr": "learning_rate", "eps": "epsilon", "momentum": "beta_1", "beta3": "beta_3"}
    if "betas" in kwargs:
        kwargs["beta_1"], kwargs["beta_2"] = kwargs.pop("betas")
    kwargs = {renamed.get(k, k): v for k, v in kwargs.items()}
    if method == "schedule_free_adamw":
        return optimizer_algorithms.ScheduleFree(**{"learning_rate": 0.0025, **kwargs})
    if method == "schedule_free_sgd":
        return optimizer_algorithms.ScheduleFree(**{"learning_rate": 1.0, "beta_1": 0.9, **kwargs}, adaptive=False)
    return {"prodigy": optimizer_algorithms.Prodigy, "dadapt_adam": optimizer_algorithms.DAdaptAdam,
            "dog": optimizer_algorithms.DoG}[method](**kwargs)


@pytest.fixture
def float64():
    kept, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx("float64")  # the optimizer's own rate variable too
    keras.config.set_dtype_policy("float64")  # and layers' weights, whatever policy a run left set
    yield
    keras.config.set_floatx(kept)
    keras.config.set_dtype_policy(policy)


@pytest.mark.parametrize("case", REFERENCES["cases"], ids=[c["name"] for c in REFERENCES["cases"]])
def test_every_step_equals_the_authors_code(case, float64):
    problem = REFERENCES["problem"]
    variables = [keras.Variable(np.array(p), dtype="float64") for p in problem["initial"]]
    curvature = [np.array(a) for a in problem["curvature"]]
    centre = [np.array(a) for a in problem["centre"]]
    optimizer = _keras_optimizer(case["method"], case["kwargs"])
    for step, noise in enumerate(problem["noise"]):
        values = [keras.ops.convert_to_numpy(v) for v in variables]
        grads = [h * (p - c) + np.array(n) for p, h, c, n in zip(values, curvature, centre, noise)]
        optimizer.apply([keras.ops.convert_to_tensor(g, dtype="float64") for g in grads], variables)
        for v, expected in zip(variables, case["parameters"][step]):
            np.testing.assert_allclose(keras.ops.convert_to_numpy(v), np.array(expected), rtol=0, atol=TOLERANCE,
                                       err_msg=f"{case['name']}, step {step + 1}")
        if case["evaluation_points"]:
            for x, expected in zip(optimizer.evaluation_points(variables), case["evaluation_points"][step]):
                np.testing.assert_allclose(keras.ops.convert_to_numpy(x), np.array(expected), rtol=0,
                                           atol=TOLERANCE, err_msg=f"{case['name']}, x after step {step + 1}")


def test_the_references_cover_every_method_with_warm_up_and_weight_decay():
    cases = {c["name"]: c for c in REFERENCES["cases"]}
    for method in ["schedule_free_adamw", "schedule_free_sgd", "prodigy", "dadapt_adam", "dog"]:
        kwargs = [c["kwargs"] for c in cases.values() if c["method"] == method]
        assert any(k.get("weight_decay") for k in kwargs), method
    for method in ["schedule_free_adamw", "schedule_free_sgd"]:
        assert any(c["kwargs"].get("warmup_steps") for c in cases.values() if c["method"] == method), method
    assert cases["prodigy_bias_correction"]["kwargs"]["use_bias_correction"]
    # the problem moves every method: a reference that stood still would check nothing
    start = np.concatenate([np.ravel(a) for a in REFERENCES["problem"]["initial"]])
    for case in cases.values():
        end = np.concatenate([np.ravel(a) for a in case["parameters"][-1]])
        assert np.abs(end - start).max() > 1e-3, case["name"]


# --- in training: towers, evaluation points ---


@pytest.fixture(scope="module")
def two_seed_settings(synthetic_archive, tmp_path_factory):
    from lrlab.data import load_dataset
    from lrlab.parameters import resolve_settings

    settings = resolve_settings("smoke", epochs=2, seeds=[0, 1], data_path=str(synthetic_archive),
                                output_dir=str(tmp_path_factory.mktemp("out")), steps_per_execution=2)
    return settings, load_dataset(settings)


@pytest.mark.parametrize("method", [
    "dog", "schedule_free_adamw",
    pytest.param("prodigy", marks=pytest.mark.thorough), pytest.param("dadapt_adam", marks=pytest.mark.thorough),
    pytest.param("schedule_free_sgd", marks=pytest.mark.thorough)])
def test_seeds_side_by_side_get_the_numbers_they_get_alone(method, two_seed_settings):
    """The step sizes of Prodigy, D-Adaptation and DoG sum over all parameters, the schedule-free average weighs
    by the rate: each is per tower, so two seeds in one model are each exactly the run alone."""
    from lrlab import families, train

    settings, dataset = two_seed_settings
    configs = families.adaptive_configs([method], settings, dataset, **families.default_hyperparameters([method]))
    together = train.train_runs(configs, dataset, steps_per_execution=2, log=lambda m: None)
    for config, (history, test) in zip(configs, together):
        (alone, alone_test), = train.train_runs([config], dataset, steps_per_execution=2, log=lambda m: None)
        columns = [c for c in history.columns if c != "epoch_time_s"]
        np.testing.assert_array_equal(history[columns].to_numpy(), alone[columns].to_numpy())
        assert test == alone_test
    assert together[0][0]["loss"].iloc[0] != together[1][0]["loss"].iloc[0]  # two runs, not one twice


def test_a_schedule_free_model_is_evaluated_at_its_average_and_trains_on_at_its_training_point(float64):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=optimizer_algorithms.ScheduleFree(learning_rate=0.1, beta_1=0.8), loss="mse")
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(32, 3)), rng.normal(size=(32, 2)), batch_size=8, epochs=2, verbose=0)
    y = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    z = [keras.ops.convert_to_numpy(model.optimizer._z[model.optimizer._get_variable_index(v)])
         for v in model.trainable_variables]
    with optimizer_algorithms.evaluation_point(model):
        inside = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    after = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    for y_, z_, x_, back in zip(y, z, inside, after):
        np.testing.assert_allclose(x_, (y_ - (1 - 0.8) * z_) / 0.8, rtol=1e-12)  # x = (y − (1 − β1) z) / β1
        assert not np.allclose(x_, y_)
        np.testing.assert_array_equal(back, y_)  # exactly the training point again


def test_a_schedule_free_run_records_both_evaluation_points(two_seed_settings):
    from lrlab import families, train

    settings, dataset = two_seed_settings
    name = "schedule_free_sgd"
    config = families.adaptive_configs([name], settings, dataset, **families.default_hyperparameters([name]))[0]
    (history, test), = train.train_runs([config], dataset, steps_per_execution=2, log=lambda m: None)
    assert {"val_accuracy_at_training_point", "val_loss_at_training_point"} <= set(history.columns)
    assert set(test) == {"loss", "accuracy", "loss_at_training_point", "accuracy_at_training_point"}
    # the two points are different weights, so their losses differ
    assert (history["val_loss"] != history["val_loss_at_training_point"]).all()
    assert test["loss"] != test["loss_at_training_point"]


@pytest.mark.parametrize("backend", ["tensorflow", pytest.param("jax", marks=pytest.mark.thorough)])
def test_validating_at_the_average_never_moves_training(backend, tmp_path):
    """Evaluating at x and at y each epoch (train.EvaluationPoints) leaves training exactly where it would be
    without any validation: the weights after three epochs are the same to the last bit (on JAX too, whose trainer
    writes its state back into the model around each evaluation)."""
    import os
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1] / "lib")!r})
        import keras, numpy as np
        from lrlab import optimizer_algorithms, train

        def trained(validate):
            keras.utils.set_random_seed(0)
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                                      keras.layers.Dense(2, activation="softmax")])
            model.compile(optimizer=optimizer_algorithms.ScheduleFree(learning_rate=0.05, warmup_steps=3),
                          loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            rng = np.random.default_rng(1)
            x, y = rng.normal(size=(64, 4)).astype("float32"), rng.integers(0, 2, 64)
            extra = dict(validation_data=(x[:16], y[:16]),
                         callbacks=[train.EvaluationPoints((x[:16], y[:16]))]) if validate else {{}}
            model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0, **extra)
            return [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]

        same = all(np.array_equal(a, b) for a, b in zip(trained(True), trained(False)))
        print("RESULT", same)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                          env=os.environ | {"KERAS_BACKEND": backend})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("RESULT ")[-1].strip() == "True"


def test_batch_normalization_is_re_estimated_at_the_average_and_put_back_after(float64):
    """At x a model's batch-normalization statistics are the plain mean over the calibration batches of the
    batch statistics at x (not the moving average gathered along y); after, every statistic is y's again."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.BatchNormalization(momentum=0.9),
                              keras.layers.Dense(2)])
    model.compile(optimizer=optimizer_algorithms.ScheduleFree(learning_rate=0.1), loss="mse")
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(32, 3)), rng.normal(size=(32, 2)), batch_size=8, epochs=2, verbose=0)
    norm = model.layers[1]
    kept = [keras.ops.convert_to_numpy(v) for v in (norm.moving_mean, norm.moving_variance)]
    batches = [rng.normal(size=(8, 3)) for _ in range(3)]
    with optimizer_algorithms.evaluation_point(model, batches):
        dense = model.layers[0]
        activations = [keras.ops.convert_to_numpy(dense(b)) for b in batches]  # at x
        np.testing.assert_allclose(keras.ops.convert_to_numpy(norm.moving_mean),
                                   np.mean([a.mean(axis=0) for a in activations], axis=0), rtol=1e-9)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(norm.moving_variance),
                                   np.mean([a.var(axis=0) for a in activations], axis=0), rtol=1e-9)
    assert norm.momentum == 0.9  # the layer's own momentum again
    for v, value in zip((norm.moving_mean, norm.moving_variance), kept):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(v), value)


@pytest.mark.parametrize("method", ["schedule_free_adamw", "schedule_free_sgd", "prodigy", "dadapt_adam", "dog"])
def test_fit_takes_the_steps_the_method_takes_eagerly(method):
    """On TensorFlow, Keras builds the optimizer while tracing fit's first step: the state's initial values (d0,
    the initial weights, lr_max) must be there all the same. They once were assignments traced into the graph and
    lost: Prodigy and D-Adaptation never moved under fit, and the schedule-free average started at zero, while
    every eager test passed."""
    import tensorflow as tf

    from lrlab.optimizers import ADAPTIVE_DEFAULTS, build_optimizer

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the eager side uses TensorFlow's GradientTape")
    spec = {"name": method} | {k: v for k, v in ADAPTIVE_DEFAULTS[method].items() if k != "lr"}
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 4)).astype("float32"), rng.normal(size=(32, 1)).astype("float32")

    def network():
        keras.utils.set_random_seed(0)
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="tanh"), keras.layers.Dense(1)])

    fitted = network()
    initial = [w.copy() for w in fitted.get_weights()]
    fitted.compile(optimizer=build_optimizer(spec, ADAPTIVE_DEFAULTS[method]["lr"]), loss="mse")
    fitted.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    eager = network()
    optimizer = build_optimizer(spec, ADAPTIVE_DEFAULTS[method]["lr"])
    for _ in range(2):
        for start in range(0, 32, 8):
            with tf.GradientTape() as tape:
                loss = keras.losses.MeanSquaredError()(y[start:start + 8], eager(x[start:start + 8]))
            optimizer.apply(tape.gradient(loss, eager.trainable_variables), eager.trainable_variables)
    for got, expected, before in zip(fitted.get_weights(), eager.get_weights(), initial):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
        assert np.abs(got - before).max() > 1e-6  # and it moved
