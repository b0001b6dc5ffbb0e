"""Run identity: a run's id names what determines its numbers, and only that.

- Golden run ids: a few configurations' ids are pinned, so a change to what a configuration holds (or to how it is
  hashed) fails here instead of silently orphaning, or worse reusing, stored runs.
- Display text is not identity: rewording a method's name or a configuration's label keeps every id.
- Golden history: a fixed three-seed group (exponential decay at momentum 0.8, the towers whose numbers once moved
  without their ids changing) trained here must give the numbers committed in tests/fixtures/golden_history.json.
  When a change moves them on purpose, bump lrlab.config.NUMERICS_VERSION and rewrite the fixture:
  `.venv/bin/python tests/test_run_identity.py --write`.
- Migration: runs stored under the old rule (a label in the configuration, no numerics version) are renamed in
  place, keep their numbers, and are never taken for a run the current code would train.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from lrlab import config as config_module  # noqa: E402
from lrlab import families, optimizers  # noqa: E402
from lrlab.config import NUMERICS_VERSION, run_label  # noqa: E402
from lrlab.parameters import resolve_settings  # noqa: E402
from lrlab.store import migrate, read_summary, run_id  # noqa: E402

GOLDEN = ROOT / "tests" / "fixtures" / "golden_history.json"
# a dataset as a configuration sees it: only its fingerprint and sizes enter the run's id
DATASET = {"fingerprint": "f" * 64, "y_train": [0] * 8000, "y_val": [0] * 2000}

# Pinned at NUMERICS_VERSION 2. A new id here means every stored run of that kind is trained again: make that
# change on purpose (with the numerics version when numbers move), then update these.
PINNED_IDS = {
    "constant": "constant-sgd-seed0-",
    "exponential_decay": "exponential_decay-sgd-seed2-",
    "adaptive": "adaptive-adam-seed1-",
    "lr_range_test": "lr_range_test-sgd-seed0-",
}


def _study_configs():
    settings = resolve_settings("study", output_dir="/nonexistent")
    picks = {}
    for family in PINNED_IDS:
        configs = families.configs(family, settings, DATASET, families.notebook_defaults(family))
        seed = int(PINNED_IDS[family].split("seed")[1].rstrip("-"))
        picks[family] = next(c for c in configs if c["seed"] == seed and c["optimizer"]["name"] in PINNED_IDS[family])
    return picks


def test_run_ids_are_pinned():
    ids = {family: run_id(config) for family, config in _study_configs().items()}
    expected = json.loads((ROOT / "tests" / "fixtures" / "golden_run_ids.json").read_text())
    assert ids == expected


def test_configurations_hold_no_display_text_and_carry_the_numerics_version():
    for config in _study_configs().values():
        assert "label" not in config
        assert config["numerics"] == NUMERICS_VERSION
        text = json.dumps(config)
        assert run_label(config) not in text  # the label is derived, never stored


def test_rewording_a_name_keeps_every_run_id(monkeypatch):
    before = {family: run_id(config) for family, config in _study_configs().items()}
    labels = {family: run_label(config) for family, config in _study_configs().items()}
    monkeypatch.setitem(optimizers.DISPLAY_NAMES, "adam", "ADAM (reworded)")
    monkeypatch.setitem(optimizers.DISPLAY_NAMES, "sgd", "Plain SGD")
    monkeypatch.setattr(config_module, "label", lambda optimizer, schedule: "anything else")
    after = {family: run_id(config) for family, config in _study_configs().items()}
    assert after == before
    assert {family: run_label(config) for family, config in _study_configs().items()} != labels


def test_a_new_numerics_version_is_a_new_run(monkeypatch):
    config = _study_configs()["constant"]
    assert run_id(config | {"numerics": NUMERICS_VERSION + 1}) != run_id(config)


def _old_store(tmp_path):
    """A run folder as the code before the numerics version wrote it: a label in the configuration."""
    config = {k: v for k, v in _study_configs()["exponential_decay"].items() if k != "numerics"}
    config["label"] = "SGD, exponential decay lr0=0.1, k=0.1, momentum=0.8"
    old_id = run_id(config)
    root = tmp_path / "study" / "runs"
    folder = root / old_id
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
    (folder / "history.csv").write_text("epoch,lr,loss,accuracy,val_loss,val_accuracy,epoch_time_s\n"
                                        "1,0.1,0.694979,0.5,0.6931,0.501,1.5\n")
    (folder / "summary.json").write_text(json.dumps({"status": "stuck", "run_id": old_id}))
    families_dir = tmp_path / "study" / "families"
    families_dir.mkdir()
    (families_dir / "exponential_decay.json").write_text(json.dumps({"family": "exponential_decay",
                                                                      "run_ids": [old_id, "other-run"]}))
    return root, old_id, config


def test_migration_renames_old_runs_in_place_and_keeps_their_numbers(tmp_path):
    root, old_id, config = _old_store(tmp_path)
    history = (root / old_id / "history.csv").read_text()
    assert migrate(root, log=lambda m: None) == 1
    assert not (root / old_id).exists()
    (folder,) = [p for p in root.iterdir()]
    migrated = json.loads((folder / "config.json").read_text())
    assert "label" not in migrated and migrated["numerics"] == 1
    assert folder.name == run_id(migrated)
    assert (folder / "history.csv").read_text() == history
    assert read_summary(folder)["run_id"] == folder.name
    manifest = json.loads((tmp_path / "study" / "families" / "exponential_decay.json").read_text())
    assert manifest["run_ids"] == [folder.name, "other-run"]
    # the old numbers are kept but never stand in for a run of the current code
    current = {k: v for k, v in config.items() if k != "label"} | {"numerics": NUMERICS_VERSION}
    assert run_id(current) != folder.name
    assert migrate(root, log=lambda m: None) == 0  # a second pass finds nothing to do


def test_migration_finishes_a_rename_a_killed_process_left_half_done(tmp_path):
    root, old_id, config = _old_store(tmp_path)
    migrated = {k: v for k, v in config.items() if k != "label"} | {"numerics": 1}
    (root / old_id).rename(root / run_id(migrated))  # killed after the rename, before the rewrite
    assert migrate(root, log=lambda m: None) == 1
    (folder,) = list(root.iterdir())
    assert folder.name == run_id(migrated)
    assert json.loads((folder / "config.json").read_text()) == migrated


# --- the golden history ---------------------------------------------------------------------------------------

COLUMNS = ["lr", "loss", "accuracy", "val_loss", "val_accuracy"]
# Bit-equality is what the tower tests check (tests/test_store_and_results.py); here the numbers must survive
# another CPU, whose kernels may round differently: a rate changed by 3e-7 of itself moves these 3-epoch losses
# by at most 2.2e-7 of themselves (measured), the code change that moved the paper's exponential-decay towers
# moved the first epoch's loss by 2.7e-4. The tolerance sits between the two.
RTOL = 1e-5


def golden_histories(data_path, output_dir):
    from lrlab import train

    settings = resolve_settings("smoke", epochs=3, seeds=[0, 1, 2], data_path=str(data_path),
                                output_dir=str(output_dir), steps_per_execution=2)
    dataset = families.load_dataset(settings)
    schedule = {"name": "exponential_decay", "lr0": 0.03, "k": 0.1}  # 0.1 blows up on the generated data
    configs = families.sgd_configs("exponential_decay", schedule, 0.8, settings, dataset)
    trained = train.train_runs(configs, dataset, steps_per_execution=2, log=lambda m: None)
    return {f"seed{c['seed']}": {column: [float(v) for v in history[column]] for column in COLUMNS}
            | {"test_accuracy": test["accuracy"]} for c, (history, test) in zip(configs, trained)}


def test_a_fixed_group_gives_the_committed_numbers(tmp_path, synthetic_archive):
    """Every tower of a three-seed group, every epoch: if this fails, the training numerics moved. Either undo
    the change, or bump NUMERICS_VERSION (stored runs are then retrained) and rewrite the fixture."""
    golden = json.loads(GOLDEN.read_text())
    assert golden["numerics"] == NUMERICS_VERSION, "NUMERICS_VERSION changed: rewrite the golden history"
    got = golden_histories(synthetic_archive, tmp_path)
    assert sorted(got) == sorted(golden["towers"])
    for tower, numbers in golden["towers"].items():
        for column in COLUMNS:
            np.testing.assert_allclose(got[tower][column], numbers[column], rtol=RTOL, atol=0,
                                       err_msg=f"{tower} {column}")
        assert got[tower]["test_accuracy"] == pytest.approx(numbers["test_accuracy"], abs=1e-9)


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    import tempfile

    from lrlab.data import write_synthetic_cifar10

    with tempfile.TemporaryDirectory() as tmp:
        archive = write_synthetic_cifar10(Path(tmp) / "data" / "cifar-10-python.tar.gz")
        towers = golden_histories(archive, Path(tmp) / "outputs")
    GOLDEN.write_text(json.dumps({"numerics": NUMERICS_VERSION, "towers": towers}, indent=1) + "\n")
    ids = {family: run_id(config) for family, config in _study_configs().items()}
    (ROOT / "tests" / "fixtures" / "golden_run_ids.json").write_text(json.dumps(ids, indent=1) + "\n")
    print(f"wrote {GOLDEN} and the pinned run ids")


def test_two_copies_of_one_configuration_are_both_kept(tmp_path):
    """Two old runs that differed only in their label are one configuration now: the first takes the new id, the
    second keeps its old name (marked as numerics 1, so never reused), and neither is deleted."""
    root, old_id, config = _old_store(tmp_path)
    twin = dict(config, label="the same run, reworded")
    twin_id = run_id(twin)
    (root / twin_id).mkdir()
    for name in ("history.csv", "summary.json"):
        (root / twin_id / name).write_text((root / old_id / name).read_text())
    (root / twin_id / "config.json").write_text(json.dumps(twin))
    migrate(root, log=lambda m: None)
    folders = sorted(p.name for p in root.iterdir())
    assert len(folders) == 2
    assert all(json.loads((root / f / "config.json").read_text())["numerics"] == 1 for f in folders)
