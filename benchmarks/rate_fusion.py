#!/usr/bin/env python
"""A learning-rate sweep trained as one model against one model per rate: the `lr_sensitivity` grid of one
method (the profile's rates × seeds), for a few epochs on the real data, both ways, in this one process.

    LRLAB_CIFAR10=/path/to/cifar-10-python.tar.gz .venv/bin/python benchmarks/rate_fusion.py \\
        [--profile study] [--optimizer sgd] [--epochs 2] [--json out.json]

Prints the seconds each way and per run-epoch, and checks that both gave the same numbers. With KERAS_BACKEND=jax
the arrays are also kept on the device (lrlab.train.on_device). Not a test: it prints figures.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

import lrlab  # noqa: E402
from lrlab import families, machine  # noqa: E402
from lrlab.config import seed_groups  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="study")
    parser.add_argument("--optimizer", default="sgd", help="sgd (the constant family's SGD) or a method's name")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    settings = lrlab.resolve_settings(args.profile, "/tmp/lrlab-rate-fusion", epochs=args.epochs)
    dataset = lrlab.load_dataset(settings)
    from lrlab import train

    sweep = families.configs("lr_sensitivity", settings, dataset, families.notebook_defaults("lr_sensitivity"))
    configs = [c for c in sweep if c["optimizer"]["name"] == args.optimizer]
    rates = sorted({c["schedule"]["lr0"] for c in configs})
    assert seed_groups(configs) == [list(range(len(configs)))]
    quiet = lambda message: None  # noqa: E731
    start = time.perf_counter()
    together = train.train_runs(configs, dataset, settings.steps_per_execution, log=quiet)
    fused = time.perf_counter() - start
    start = time.perf_counter()
    apart = []
    for rate in rates:
        group = [c for c in configs if c["schedule"]["lr0"] == rate]
        apart += train.train_runs(group, dataset, settings.steps_per_execution, log=quiet)
    separate = time.perf_counter() - start
    by_run = {json.dumps(c, sort_keys=True): h for c, (h, _) in zip(configs, together)}
    order = [c for rate in rates for c in configs if c["schedule"]["lr0"] == rate]
    columns = ["loss", "accuracy", "val_loss", "val_accuracy"]
    worst = max(float(np.max(np.abs(by_run[json.dumps(c, sort_keys=True)][columns].to_numpy()
                                    - h[columns].to_numpy()))) for c, (h, _) in zip(order, apart))
    run_epochs = len(configs) * args.epochs
    machine.benchmark_result({
        "profile": args.profile, "optimizer": args.optimizer, "rates": len(rates), "seeds": len(settings.seeds),
        "epochs": args.epochs, "one_model_s": round(fused, 1),
        "one_model_per_rate_s": round(separate, 1), "speed-up": round(separate / fused, 2),
        "one_model_s_per_run_epoch": round(fused / run_epochs, 3),
        "one_model_per_rate_s_per_run_epoch": round(separate / run_epochs, 3),
        "largest_difference_in_numbers": worst}, args.json)


if __name__ == "__main__":
    main()
