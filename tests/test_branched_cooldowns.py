"""WSD's cooldowns branched from one constant-rate trunk (Hägele et al. 2024): a branch is the run its schedule
gives trained from scratch, at the cost of its cooldown alone."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def branched(synthetic_archive, tmp_path_factory):
    from lrlab import branches, families
    from lrlab.data import load_dataset
    from lrlab.parameters import resolve_settings

    settings = resolve_settings("smoke", seeds=[0, 1], data_path=str(synthetic_archive),
                                output_dir=str(tmp_path_factory.mktemp("branched")))
    dataset = load_dataset(settings)
    configs = families.branched_configs(["wsd", "wsd_cosine"], [2, 3], settings, dataset)
    return settings, dataset, configs, branches.train_branched(configs, dataset, log=lambda message: None)


def test_one_trunk_per_seed_and_a_branch_per_budget_shape_and_seed(branched):
    from lrlab.config import EPOCH_ORDER, seed_groups
    from lrlab.store import run_id

    _, _, configs, _ = branched
    trunks = [c for c in configs if "branch" not in c]
    assert [(c["schedule"]["name"], c["epochs"], c["seed"]) for c in trunks] == [("warmup_constant", 3, 0),
                                                                                  ("warmup_constant", 3, 1)]
    branches = [c for c in configs if "branch" in c]
    assert sorted((c["epochs"], c["branch"]["epoch"], c["schedule"]["name"], c["seed"]) for c in branches) == sorted(
        (epochs, epochs - 1, name, seed) for epochs in (2, 3) for name in ("wsd", "wsd_cosine") for seed in (0, 1))
    assert all(c["branch"]["trunk"] == run_id(trunks[c["seed"]]) for c in branches)
    assert all(c["data_order"] == EPOCH_ORDER for c in configs)
    assert seed_groups(configs) == [list(range(len(configs)))]  # one job: the trunk with its branches


def test_a_branch_is_its_schedule_trained_from_scratch(branched):
    """The 3-epoch WSD branch (trunk to epoch 2, then its cooldown) against the same schedule trained from the
    start in a model of its own: every logged number and the test metrics equal, to the last bit."""
    from lrlab import train

    _, dataset, configs, results = branched
    index = [i for i, c in enumerate(configs) if "branch" in c and c["epochs"] == 3 and c["schedule"]["name"] == "wsd"]
    alone = [{k: v for k, v in configs[i].items() if k != "branch"} for i in index]
    scratch = train.train_runs(alone, dataset, log=lambda message: None)
    for i, (history, test) in zip(index, scratch):
        branch_history, branch_test = results[i]
        for column in ("lr", "loss", "accuracy", "val_loss", "val_accuracy"):
            assert np.array_equal(branch_history[column].to_numpy(), history[column].to_numpy()), column
        assert branch_test == test


def test_a_branch_shares_its_trunk_s_epochs_then_cools_down(branched):
    _, _, configs, results = branched
    trunk = results[0][0]
    for config, (history, test) in zip(configs, results):
        if "branch" not in config or config["seed"] != 0:
            continue
        at = config["branch"]["epoch"]
        assert len(history) == config["epochs"] and test is not None
        assert history.iloc[:at].drop(columns="epoch_time_s").equals(trunk.iloc[:at].drop(columns="epoch_time_s"))
        # the cooldown's first epoch starts at the peak rate, then the rate falls: the runs part
        assert history["lr"].iloc[at] == pytest.approx(config["schedule"]["lr0"])
        assert history["loss"].iloc[at:].tolist() != trunk["loss"].iloc[at:config["epochs"]].tolist()
    assert trunk["lr"].iloc[1:].tolist() == pytest.approx([configs[0]["schedule"]["lr0"]] * 2)  # after warm-up


def test_budgets_too_short_to_branch_are_refused_in_one_line(synthetic_archive, tmp_path):
    from lrlab import families
    from lrlab.data import load_dataset
    from lrlab.parameters import ParameterError, resolve_settings

    settings = resolve_settings("smoke", data_path=str(synthetic_archive), output_dir=str(tmp_path))
    with pytest.raises(ParameterError, match=r"budgets=\[1, 3\] is invalid for wsd: .* at least 2 epochs"):
        families.branched_configs(["wsd"], [1, 3], settings, load_dataset(settings))


def test_what_the_cooldown_adds_over_its_trunk_is_paired_by_seed_and_worded_from_its_interval():
    import pandas as pd

    from lrlab import budget_comparison
    from lrlab.health import HEALTHY

    rows = [{"schedule": "warmup_constant", "epochs": 45, "seed": s, "final_val_accuracy": a, "status": HEALTHY,
             "branch_epoch": float("nan")} for s, a in enumerate([0.70, 0.71, 0.72])]
    rows += [{"schedule": "wsd", "epochs": e, "seed": s, "final_val_accuracy": a, "status": HEALTHY,
              "branch_epoch": e - e // 5} for e, accuracies in ((15, [0.6, 0.6, 0.6]), (45, [0.75, 0.77, 0.76]))
             for s, a in enumerate(accuracies)]
    gains = budget_comparison.cooldown_gains(pd.DataFrame(rows))
    assert len(gains) == 1 and gains.iloc[0]["cooldown_epochs"] == 9
    # differences 0.05, 0.06, 0.04: mean 5.0 points, t(0.975, 2) = 4.303 × 0.577 = ±2.48
    assert gains.iloc[0]["ci_low_adj"] == pytest.approx(0.0252, abs=1e-4)
    text = budget_comparison.cooldown_text(gains)
    assert text.startswith("- **Cooling down:** at 45 epochs, a cooldown over the last 9 epochs against the same "
                           "trunk held at its peak rate, paired by seed: WSD (1−sqrt cooldown) +5.0 points (95% "
                           "simultaneous CI +2.5 to +7.5: clearly better)")
    # the trunk has no other budget: it is left out of the budget table, which compares every budget
    assert set(budget_comparison.budget_table(pd.DataFrame(rows).assign(optimizer="sgd"))["key"]) == {"wsd"}


def test_on_a_loss_a_cooldown_that_lowers_it_is_clearly_better_in_nats():
    import pandas as pd

    from lrlab import budget_comparison
    from lrlab.health import HEALTHY

    rows = [{"schedule": "warmup_constant", "epochs": 45, "seed": s, "final_val_loss": v, "status": HEALTHY,
             "branch_epoch": float("nan"), "task": "shakespeare_char"} for s, v in enumerate([1.70, 1.71, 1.72])]
    rows += [{"schedule": "wsd", "epochs": 45, "seed": s, "final_val_loss": v, "status": HEALTHY, "branch_epoch": 36,
              "task": "shakespeare_char"} for s, v in enumerate([1.65, 1.65, 1.68])]
    gains = budget_comparison.cooldown_gains(pd.DataFrame(rows))
    # differences −0.05, −0.06, −0.04: mean −0.050 nats, t(0.975, 2) = 4.303 × 0.00577 = ±0.0248
    assert gains.iloc[0]["difference"] == pytest.approx(-0.05) and gains.iloc[0]["wins"] == 3
    assert gains.iloc[0]["verdict_adj"] == "clearly better"
    assert budget_comparison.cooldown_text(gains).startswith(
        "- **Cooling down:** at 45 epochs, a cooldown over the last 9 epochs against the same trunk held at its peak "
        "rate, paired by seed: WSD (1−sqrt cooldown) −0.050 nats (95% simultaneous CI −0.075 to −0.025: clearly "
        "better)")
