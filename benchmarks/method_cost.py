#!/usr/bin/env python
"""Seconds per epoch of each optimizer on the study task (cat vs dog, 8,000 training images, the seed CNN), its
seeds trained side by side as the study trains them, one thread: what a method adds to a build. The schedule-free
methods validate twice per epoch (at the average and at the training point) and Prodigy, D-Adaptation and DoG sum
over every weight each step, so they cost more than Adam; this says how much.

    LRLAB_CIFAR10=/path/to/cifar-10-python.tar.gz .venv/bin/python benchmarks/method_cost.py \
        [--methods sgd,adam,prodigy] [--seeds 5] [--epochs 2]

Each method trains --epochs + 1 epochs in a fresh process (the first, which compiles, is left out). Not a test: it
prints figures, it asserts nothing.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_METHODS = "sgd,adam,schedule_free_adamw,schedule_free_sgd,prodigy,dadapt_adam,dog"

CHILD = r"""
import sys
sys.path.insert(0, sys.argv[1])
from lrlab.machine import configure_process
configure_process(1)
import numpy as np
from lrlab import families, train
from lrlab.data import load_dataset
from lrlab.parameters import resolve_settings
name, seeds, epochs = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
settings = resolve_settings("study", seeds=list(range(seeds)), epochs=epochs + 1, output_dir="/tmp/method_cost")
dataset = load_dataset(settings)
if name == "sgd":
    configs = families.sgd_configs("constant", {"name": "constant", "lr0": 0.1}, 0.0, settings, dataset)
else:
    configs = families.adaptive_configs([name], settings, dataset, **families.default_hyperparameters([name]))
results = train.train_runs(configs, dataset, steps_per_execution=16, log=lambda m: None)
seconds = np.asarray(results[0][0]["epoch_time_s"]) * len(configs)  # the model's epoch, not a run's share
print("RESULT", float(np.median(seconds[1:])), flush=True)
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=DEFAULT_METHODS)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    print(f"{'method':<22} {'s per epoch, ' + str(args.seeds) + ' seeds together':>30} {'× SGD':>7}")
    base = None
    for name in args.methods.split(","):
        done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / "lib"), name, str(args.seeds),
                               str(args.epochs)], capture_output=True, text=True, env=os.environ)
        if done.returncode != 0:
            print(f"{name:<22} failed: {done.stderr.strip().splitlines()[-1]}")
            continue
        seconds = float(done.stdout.split("RESULT ")[-1])
        base = base or seconds
        print(f"{name:<22} {seconds:>30.2f} {seconds / base:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
