"""The custom family: a user's schedule or optimizer, imported by path, drawn before training, checked with one-line
errors, stored by its source's hash, and measured against constant-rate SGD, cosine decay and Adam."""

import json
import math
import re
import sys
import uuid

import nbformat
import numpy as np
import pandas as pd
import pytest

import lrlab
from lrlab import custom_verdict, families
from lrlab.config import run_label, seed_groups
from lrlab.parameters import ParameterError, resolve_settings
from lrlab.store import run_id

from conftest import build

CASES = "user_code_cases"  # tests/user_code_cases.py, on the path while tests run
DATASET = {"fingerprint": "f" * 64, "y_train": np.zeros(640), "y_val": np.zeros(160)}  # 10 steps of 64 per epoch


def _settings(**given):
    return resolve_settings("smoke", "/tmp/unused", **{"epochs": 10, "seeds": [0, 1, 2]} | given)


def _params(**given):
    return families.notebook_defaults("custom") | given


def test_a_correct_schedule_is_drawn_at_every_step_and_warned_about_nothing():
    preview = lrlab.preview(f"{CASES}:cosine", epochs=10, steps_per_epoch=50, lr0=0.1)
    lr = preview.rates["lr"].to_numpy()
    assert len(lr) == 500 and preview.rates["epoch"].iloc[50] == 1.0
    expected = [0.1 * ((1 - 0.01) * 0.5 * (1 + math.cos(math.pi * t / 500)) + 0.01) for t in range(500)]
    assert lr == pytest.approx(expected, rel=1e-5)
    assert preview.warnings == []
    assert "Nothing looks wrong" in preview._repr_markdown_()


def test_a_callback_and_an_optimizer_are_drawn_too():
    halving = lrlab.preview(f"{CASES}:halving", epochs=10, steps_per_epoch=20, lr0=0.2).rates["lr"]
    assert list(halving[:100].unique()) == pytest.approx([0.2]) and list(halving[100:].unique()) == pytest.approx([0.1])
    optimizer = lrlab.preview(f"{CASES}:sgd_nesterov", epochs=3, steps_per_epoch=5, lr0=0.03, parameter="optimizer")
    assert optimizer.rates["lr"].to_numpy() == pytest.approx([0.03] * 15) and optimizer.warnings == []


@pytest.mark.parametrize("function, warning", [
    ("decay_longer_than_training", r"decay_steps=2000 is longer than the run \(500 steps"),
    ("decay_shorter_than_training", r"stops changing at step 125 \(epoch 3\), 25% into the run"),
    ("warmup_longer_than_training", r"still rising at the last step: the warm-up is longer than training"),
    ("ends_above_its_start", r"the last rate \(0\.2\) is above the first \(0\.1\)"),
    ("goes_negative", r"zero or negative at 250 of 500 steps, first at step 250 \(epoch 6\)"),
    ("ignores_its_step", r"same at every step: the schedule ignores its step argument"),
    ("written_per_epoch", r"falls below 1% of its first value within the first epoch: the step counts batches"),
    ("cycle_cut_short", r"ends part-way through a cycle"),
])
def test_a_budget_mismatch_is_warned_about_in_plain_words(function, warning):
    preview = lrlab.preview(f"{CASES}:{function}", epochs=10, steps_per_epoch=50, lr0=0.1)
    assert any(re.search(warning, w) for w in preview.warnings), preview.warnings
    assert re.search(warning, preview._repr_markdown_())


@pytest.mark.parametrize("given, message", [
    ({"schedule": "no_such_module_here:make"},
     r"^parameter schedule='no_such_module_here:make' does not import: ModuleNotFoundError: No module named "),
    ({"schedule": f"{CASES}:no_such_function"},
     rf"^parameter schedule='{CASES}:no_such_function' does not import: module '{CASES}' has no 'no_such_function'"),
    ({"schedule": f"{CASES}:NOT_A_FUNCTION"}, r"names a int, not a function"),
    ({"schedule": f"{CASES}:raises"},
     rf"^parameter schedule: {CASES}:raises\(lr0=0\.1\) raised ValueError: warmup_epochs must be below epochs$"),
    ({"schedule": f"{CASES}:returns_a_number"},
     rf"^parameter schedule: {CASES}:returns_a_number returned a builtins\.float, expected a keras\.optimizers"
     r"\.schedules\.LearningRateSchedule or a keras\.callbacks\.Callback$"),
    ({"optimizer": f"{CASES}:returns_a_schedule_as_optimizer"},
     r"^parameter optimizer: .* returned a schedule, expected a keras\.optimizers\.Optimizer$"),
    ({"schedule": f"{CASES}:nan_rates"}, rf"^{CASES}:nan_rates gives a rate of nan at step 101 \(epoch 11\) of 1000: "
                                        r"every rate must be a finite number$"),
    ({"schedule": f"{CASES}:cosine", "schedule_kwargs": {"lr0": 1.0}},
     r"^parameter schedule_kwargs sets 'lr0', which the project passes itself"),
    ({}, r"^the custom notebook needs your code: give schedule='package\.module:function'"),
])
def test_broken_user_code_is_one_line_naming_the_parameter(given, message):
    with pytest.raises(ParameterError) as caught:
        families.configs("custom", _settings(epochs=100), DATASET, _params(**given))
    assert re.search(message, str(caught.value)), str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_configuration_records_path_arguments_and_source_and_changed_code_is_a_new_run(tmp_path):
    name = f"user_module_{uuid.uuid4().hex[:8]}"
    source = tmp_path / f"{name}.py"
    source.write_text("import keras\n\ndef make(total_steps, lr0, alpha=0.0):\n"
                      "    return keras.optimizers.schedules.CosineDecay(lr0, decay_steps=total_steps, alpha=alpha)\n")
    sys.path.insert(0, str(tmp_path))
    try:
        params = _params(schedule=f"{name}:make", schedule_kwargs={"alpha": 0.1})
        first = families.configs("custom", _settings(), DATASET, params)
        again = families.configs("custom", _settings(), DATASET, params)
        source.write_text(source.read_text() + "# a comment: the source changed\n")
        changed = families.configs("custom", _settings(), DATASET, params)
        other_arguments = families.configs("custom", _settings(), DATASET, params | {"schedule_kwargs": {"alpha": 0.2}})
    finally:
        sys.path.remove(str(tmp_path))
    yours = first[0]["schedule"]
    assert yours | {"source_sha256": "x"} == {"name": "custom", "function": f"{name}:make", "kwargs": {"alpha": 0.1},
                                              "source_sha256": "x", "returns": "schedule", "epochs": 10,
                                              "steps_per_epoch": 10, "total_steps": 100, "lr0": 0.1}
    assert first[0]["optimizer"] == {"name": "sgd", "momentum": 0.0} and first[0]["family"] == "custom"
    assert [run_id(c) for c in first] == [run_id(c) for c in again]
    assert run_id(changed[0]) != run_id(first[0]) and run_id(other_arguments[0]) != run_id(first[0])
    assert [run_id(c) for c in changed[3:]] == [run_id(c) for c in first[3:]]  # the baselines stay the same runs


def test_the_baselines_are_the_families_own_runs_on_the_same_seeds():
    settings = _settings()
    custom = families.configs("custom", settings, DATASET, _params(schedule=f"{CASES}:cosine"))
    assert [c["seed"] for c in custom] == [0, 1, 2] * 4
    baselines = {run_id(c) for c in custom[3:]}
    constant = families.configs("constant", settings, DATASET, families.notebook_defaults("constant"))
    modern = families.configs("modern_schedules", settings, DATASET, families.notebook_defaults("modern_schedules"))
    adaptive = families.configs("adaptive", settings, DATASET, families.notebook_defaults("adaptive"))
    cosine = [c for c in modern if c["schedule"]["name"] == "cosine_decay"]
    adam = [c for c in adaptive if c["optimizer"]["name"] == "adam"]
    assert baselines == {run_id(c) for c in constant + cosine + adam}


def test_seeds_of_a_schedule_train_together_but_a_callback_s_seeds_alone():
    settings = _settings()
    schedule = families.configs("custom", settings, DATASET, _params(schedule=f"{CASES}:cosine"))[:3]
    callback = families.configs("custom", settings, DATASET, _params(schedule=f"{CASES}:halving"))[:3]
    optimizer = families.configs("custom", settings, DATASET, _params(optimizer=f"{CASES}:sgd_nesterov"))[:3]
    assert seed_groups(schedule) == [[0, 1, 2]] and seed_groups(optimizer) == [[0, 1, 2]]
    assert seed_groups(callback) == [[0], [1], [2]]  # it may set the rate from one run's own logs
    assert callback[0]["schedule"]["returns"] == "callback" and optimizer[0]["optimizer"]["returns"] == "optimizer"


def test_a_custom_schedule_trains_as_the_rate_it_previews(tmp_path):
    """Trained for real: the rate the optimizer applied at each epoch's first batch is the previewed one, and the
    optimizer is the user's, with their schedule on top."""
    from lrlab import train

    settings = resolve_settings("smoke", str(tmp_path), epochs=3, seeds=[0])
    dataset = lrlab.load_dataset(settings)
    params = _params(schedule=f"{CASES}:cosine", optimizer=f"{CASES}:sgd_nesterov")
    config = families.configs("custom", settings, dataset, params)[0]
    [(history, _)] = train.train_runs([config], dataset, name="custom", log=lambda m: None)
    preview = families.custom_preview(settings, dataset, params)
    per_epoch = config["schedule"]["steps_per_epoch"]
    assert history["lr"].to_numpy() == pytest.approx(preview.rates["lr"].to_numpy()[::per_epoch], rel=1e-5)
    assert "your optimizer" in run_label(config) and "your schedule" in run_label(config)


def _runs(yours, constant, cosine, adam, epochs_to=(2, 3, 2, 1)):
    """A runs table and histories for four configurations over three seeds, final accuracies as given."""
    rows, histories = [], []
    configs = [("custom", "sgd", "custom", "SGD, your schedule m:f(), momentum=0", yours),
               ("constant", "sgd", "constant", "SGD, constant lr=0.1, momentum=0", constant),
               ("modern_schedules", "sgd", "cosine_decay", "SGD, cosine decay lr0=0.1 to 0.001, momentum=0", cosine),
               ("adaptive", "adam", "constant", "Adam (lr=0.001)", adam)]
    for (family, optimizer, schedule, label, finals), reach in zip(configs, epochs_to):
        for seed, final in enumerate(finals):
            rows.append({"family": family, "label": label, "seed": seed, "status": "completed", "optimizer": optimizer,
                         "schedule": schedule, "final_val_accuracy": final, "best_val_accuracy": final,
                         "test_accuracy": math.nan, "protocol": "holdout", "epochs": 3, "best_epoch": 3})
            for epoch in (1, 2, 3):
                histories.append({"label": label, "seed": seed, "epoch": epoch, "status": "completed",
                                  "val_accuracy": 0.9 if epoch >= reach else 0.5, "elapsed_s": 10.0 * epoch})
    return pd.DataFrame(rows), pd.DataFrame(histories)


@pytest.mark.parametrize("yours, sentence", [
    ([0.80, 0.81, 0.82], r"\*\*yes, it is clearly better than every baseline\*\*: constant-rate SGD, cosine decay "
                         r"and Adam"),
    ([0.60, 0.605, 0.61], r"\*\*no, it is not clearly better than any baseline\*\*: clearly worse than "
                          r"constant-rate SGD, cosine decay and Adam"),
    ([0.70, 0.71, 0.72], r"\*\*it is clearly better than constant-rate SGD\*\*, but not than cosine decay \(no "
                         r"clear difference\) or Adam \(clearly worse\)"),
])
def test_the_verdict_answers_in_one_sentence_from_paired_differences(yours, sentence):
    runs, histories = _runs(yours, [0.65, 0.655, 0.66], [0.70, 0.715, 0.71], [0.75, 0.76, 0.77])
    verdict = custom_verdict.custom_verdict(runs, histories)
    assert re.search(sentence, verdict.sentence), verdict.sentence
    assert "each verdict read from its simultaneous interval over the 3 comparisons" in verdict.sentence
    assert "It first reached the target" in verdict.sentence
    diffs = verdict.differences.set_index("baseline")
    assert diffs.loc["constant-rate SGD", "difference"] == pytest.approx(100 * (np.mean(yours) - 0.655))
    assert diffs.loc["constant-rate SGD", "method"] == "paired"
    assert list(verdict.table["epochs to the target: it / yours"]) == ["3 / 2", "2 / 2", "1 / 2"]


def test_one_seed_gives_no_verdict_and_says_so():
    runs, histories = _runs([0.8], [0.6], [0.7], [0.75])
    sentence = custom_verdict.custom_verdict(runs, histories).sentence
    assert "no interval, so no verdict: run more seeds" in sentence and "yes" not in sentence


@pytest.mark.smoke
def test_the_smoke_build_answers_for_a_custom_schedule(smoke_build):
    out, result = smoke_build
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((out / "smoke" / "families" / "custom.json").read_text())
    assert len(manifest["run_ids"]) == 4  # yours and three baselines, one seed each
    yours = json.loads((out / "smoke" / "runs" / manifest["run_ids"][0] / "config.json").read_text())
    assert yours["schedule"]["function"] == "examples.my_code:warmup_then_cosine"
    html = (out / "smoke" / "report.html").read_text()
    for text in ("<strong>Your schedule</strong> (SGD, your schedule",
                 "Your schedule or optimizer against the baselines", "verdict (corrected)",
                 "epochs to the target: it / yours", "examples.my_code:warmup_then_cosine"):
        assert text in html, text
    executed = nbformat.read(out / "smoke" / "notebooks" / "custom.ipynb", as_version=4)
    shown = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(shown) == 2  # the preview, then the curves: a notebook's second figure is shown too
    notebook = (out / "smoke" / "notebooks" / "custom.ipynb").read_text()
    # drawn before training: 2 epochs of 3 steps, where a one-epoch warm-up and its decay end above the first rate
    assert "over 2 epochs of 3 steps: from 0.01 (peak 0.1) to 0.025" in notebook and "rises over the run" in notebook


def test_a_broken_schedule_stops_the_build_before_anything_trains(tmp_path):
    result = build("--profile", "smoke", "--only", "custom", "-p", "schedule=tests.user_code_cases:raises",
                   "-p", f"output_dir={tmp_path}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("build_report.py: error: parameter schedule: ")
    assert not list((tmp_path / "smoke").glob("runs/*"))
    asked_nothing = build("--profile", "smoke", "--only", "custom", "-p", f"output_dir={tmp_path}")
    assert asked_nothing.returncode == 2 and "the custom notebook needs your code" in asked_nothing.stderr
