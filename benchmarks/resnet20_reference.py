#!/usr/bin/env python
"""He et al.'s ResNet-20 result on CIFAR-10, reproduced with this project's `resnet20` (the `cifar10_resnet20`
task's network): the check that the task is the one the literature trains before any method is compared on it.
For a GPU; on a CPU, `--iterations 20` checks the script itself.

    LRLAB_CIFAR10=/path/to/cifar-10-python.tar.gz python benchmarks/resnet20_reference.py [--json out.json]

The recipe (He, Zhang, Ren, Sun 2016, section 4.2): all 50,000 training images, batch 128, SGD with momentum 0.9,
the rate 0.1 divided by 10 at iterations 32,000 and 48,000, 64,000 iterations in all (164 epochs), weight decay
1e-4 (in the network, as an L2 penalty: lrlab.models.resnet20), 4-pixel padding, random crops and flips. They
report 91.25% test accuracy; the acceptance here is ≥ 90.7% (about half a point for this repository's CIFAR-10,
rebuilt from JPEG files). Prints the test accuracy, the wall time and milliseconds per iteration. Not a test: it
prints figures, it asserts nothing.
"""

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from lrlab.machine import configure_process  # noqa: E402

configure_process(os.environ.get("LRLAB_THREADS"))  # before the backend loads

import keras  # noqa: E402
import numpy as np  # noqa: E402

from lrlab.data import load_cifar10, select_classes  # noqa: E402
from lrlab.models import resnet20  # noqa: E402

BATCH, ITERATIONS, DROPS = 128, 64_000, (32_000, 48_000)
TARGET = 0.907


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help="CIFAR-10 (default $LRLAB_CIFAR10; 'synthetic' to check the "
                                                     "script)")
    parser.add_argument("--iterations", type=int, default=ITERATIONS, help="the schedule's drops scale with it")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the figures here")
    parser.add_argument("--output-dir", default="outputs", help="where a synthetic archive is written")
    args = parser.parse_args(argv)

    data = select_classes(load_cifar10(args.data, args.output_dir, "resnet20"), range(10))
    x, y = data["x_train"], data["y_train"]
    steps = math.ceil(len(y) / BATCH)
    epochs = math.ceil(args.iterations / steps)  # 164 epochs of 391 iterations: 64,124
    scale = args.iterations / ITERATIONS
    keras.utils.set_random_seed(args.seed)
    model = resnet20((32, 32, 3), 10)
    rate = keras.optimizers.schedules.PiecewiseConstantDecay([round(d * scale) for d in DROPS], [0.1, 0.01, 0.001])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=rate, momentum=0.9, nesterov=False),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"], steps_per_execution=16)
    print(f"{len(y):,} training images, {epochs} epochs of {steps} iterations "
          f"({args.iterations:,} wanted), backend {keras.backend.backend()}", flush=True)
    start = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=True, verbose=2)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(data["x_test"], data["y_test"], batch_size=1000, verbose=0)
    iterations = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    print(f"test accuracy {100 * accuracy:.2f}% after {iterations:,} iterations (He et al.: 91.25%; target "
          f"{100 * TARGET:.1f}%): {'reached' if accuracy >= TARGET else 'not reached'}; training {seconds:.0f} s "
          f"({1000 * seconds / iterations:.1f} ms per iteration)")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "iterations": iterations, "seed": args.seed, "test_accuracy": accuracy, "target": TARGET,
            "reached": bool(accuracy >= TARGET), "train_seconds": seconds,
            "ms_per_iteration": 1000 * seconds / iterations, "backend": keras.backend.backend(),
            "trainable_parameters": int(sum(np.prod(w.shape) for w in model.trainable_weights))}, indent=1))


if __name__ == "__main__":
    main()
