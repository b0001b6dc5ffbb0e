#!/usr/bin/env python
"""What a report's runs cost to train, read from its run store: per kind of run, how many, their epochs (a range
test's batches in epochs of data) and the training seconds they took (each run's share of its seed group's time,
as summary.json records it). For a published report the store is committed beside it, so this needs no training.

    .venv/bin/python benchmarks/run_store_cost.py outputs/study/runs [--json out.json]

The seconds are those of the machine and the load the runs were trained under (summary.json's `device`); with two
workers side by side the build's wall clock is about half their sum. Not a test: it prints figures.
"""

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))


def kind_of(config: dict) -> str:
    """The row a run is counted in: the range tests, fastai's workflow, WSD's trunk and its branched cooldowns,
    else the run's family at its number of epochs."""
    if config.get("kind") == "lr_range_test":
        return "range tests"
    if "branch" in config:
        return "WSD cooldowns branched from a trunk"
    if config["schedule"]["name"] == "warmup_constant":
        return "WSD trunks (warm-up, then constant)"
    return f"{config['family']}, {config['epochs']} epochs"


def epochs_of(config: dict) -> float:
    if config.get("kind") == "lr_range_test":  # a test's batches, in passes over the training set
        return config["range"]["steps"] * config["batch_size"] / config["data"]["n_train"]
    return config["epochs"] - config.get("branch", {}).get("epoch", 0)  # a branch trains its cooldown only


def seconds_of(config: dict, summary: dict, path: Path) -> float:
    """A run's training seconds; a branch's summary counts the trunk's epochs it shares too, so only its
    cooldown's epochs are counted here (the trunk's are the trunk run's)."""
    if "branch" not in config:
        return summary["train_seconds"]
    import pandas as pd

    history = pd.read_csv(path / "history.csv")
    return float(history.loc[history["epoch"] > config["branch"]["epoch"], "epoch_time_s"].sum())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path, help="a run store: outputs/<profile>/runs")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    rows = defaultdict(lambda: {"runs": 0, "epochs": 0.0, "seconds": 0.0})
    devices = set()
    for summary_path in sorted(args.store.glob("*/summary.json")):
        summary = json.loads(summary_path.read_text())
        config = json.loads((summary_path.parent / "config.json").read_text())
        row = rows[kind_of(config)]
        row["runs"] += 1
        row["epochs"] += epochs_of(config)
        row["seconds"] += seconds_of(config, summary, summary_path.parent)
        devices.add(summary.get("device", "not recorded"))
    total = {"runs": sum(r["runs"] for r in rows.values()), "epochs": sum(r["epochs"] for r in rows.values()),
             "seconds": sum(r["seconds"] for r in rows.values())}
    print(f"{'kind of run':48} {'runs':>5} {'epochs':>8} {'hours':>7} {'s/epoch':>8}")
    for name, row in sorted(rows.items(), key=lambda item: -item[1]["seconds"]) + [("all", total)]:
        print(f"{name:48} {row['runs']:5d} {row['epochs']:8.0f} {row['seconds'] / 3600:7.2f} "
              f"{row['seconds'] / max(row['epochs'], 1e-9):8.2f}")
    print(f"trained on: {', '.join(sorted(devices))}")
    if args.json:
        Path(args.json).write_text(json.dumps({"store": str(args.store), "kinds": rows, "all": total,
                                               "devices": sorted(devices)}, indent=1) + "\n")


if __name__ == "__main__":
    main()
