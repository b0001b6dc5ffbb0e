#!/usr/bin/env python
"""WSD at several budgets as the budget comparison trains it (one trunk per seed, a cooldown branched from it per
budget and shape: lrlab.branches.train_branched) against training each budget's WSD from scratch, on the real data,
in this one process.

    LRLAB_CIFAR10=/path/to/cifar-catdog.tar.gz .venv/bin/python benchmarks/branched_cooldowns.py \\
        [--profile study] [--budgets 15 30 45] [--seeds 0] [--shapes wsd wsd_linear wsd_cosine] [--json out.json]

Prints the epochs and seconds each way, and checks that every branch gave the numbers of its schedule trained
from scratch. Not a test: it prints figures.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

import lrlab  # noqa: E402
from lrlab import families, machine  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="study")
    parser.add_argument("--budgets", type=int, nargs="+", default=[15, 30, 45])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--shapes", nargs="+", default=["wsd", "wsd_linear", "wsd_cosine"])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    settings = lrlab.resolve_settings(args.profile, "/tmp/lrlab-branched-cooldowns", seeds=args.seeds)
    dataset = lrlab.load_dataset(settings)
    from lrlab import branches, train

    configs = families.branched_configs(args.shapes, args.budgets, settings, dataset)
    quiet = lambda message: None  # noqa: E731
    start = time.perf_counter()
    branched = branches.train_branched(configs, dataset, settings.steps_per_execution, log=quiet)
    branched_s = time.perf_counter() - start
    trunk, cooldowns = branches.branch_groups(configs)
    start = time.perf_counter()
    worst = 0.0
    for group in cooldowns:  # the same schedules from scratch, seeds side by side as the build trains them
        alone = train.train_runs([{k: v for k, v in c.items() if k != "branch"} for c in group], dataset,
                                 settings.steps_per_execution, log=quiet)
        for config, (history, _) in zip(group, alone):
            mine = branched[configs.index(config)][0]
            columns = ["loss", "accuracy", "val_loss", "val_accuracy"]
            worst = max(worst, float(np.max(np.abs(mine[columns].to_numpy() - history[columns].to_numpy()))))
    scratch_s = time.perf_counter() - start
    seeds = len(args.seeds)
    branched_epochs = trunk[0]["epochs"] + sum(g[0]["epochs"] - g[0]["branch"]["epoch"] for g in cooldowns)
    scratch_epochs = sum(g[0]["epochs"] for g in cooldowns)
    machine.benchmark_result({
        "profile": args.profile, "budgets": args.budgets, "shapes": args.shapes, "seeds": seeds,
        "branched_epochs_per_seed": branched_epochs, "from_scratch_epochs_per_seed": scratch_epochs,
        "branched_s": round(branched_s, 1), "from_scratch_s": round(scratch_s, 1),
        "saved": f"{1 - branched_s / scratch_s:.0%}",
        "the_trunk_without_cooldown_included": f"{trunk[0]['epochs']} epochs, a run of its own",
        "largest_difference_in_numbers": worst}, args.json)


if __name__ == "__main__":
    main()
