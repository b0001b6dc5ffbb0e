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
    kept = keras.config.floatx()
    keras.config.set_floatx("float64")  # the optimizer's own rate variable too
    yield
    keras.config.set_floatx(kept)


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
