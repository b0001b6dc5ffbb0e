#!/usr/bin/env python
"""The `paper` report's training against the naive baseline, side by side in one run: the 2017 code path (one
process, plain `model.fit(batch_size=64)`, one batch per call, Keras's default validation batch, the 24 runs one
after another) against `build_report.py --profile paper` from an empty output folder.

    LRLAB_CIFAR10=/path/to/cifar-10-python.tar.gz .venv/bin/python benchmarks/report_time.py \
        [--epochs 3] [--json out.json]

Both train the same 24 configurations for --epochs epochs. Prints wall time, images per second, the network's
FLOPs per image and the fraction of the CPU's floating-point peak the training reaches, and the largest process's
memory; then the same build again (nothing changed: every run should be reused) and once more with one notebook's
parameter changed (`drop`, a parameter of step_decay.ipynb only: only its runs should train), with the runs each
trained. Not a test: it prints figures, it asserts nothing.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

NAIVE = r"""
import json, sys, time
sys.path.insert(0, sys.argv[3])
import keras
import lrlab
from lrlab import families
from lrlab.models import build_model
from lrlab.optimizers import build_optimizer
from lrlab import schedules
settings = lrlab.resolve_settings("paper", sys.argv[2], epochs=int(sys.argv[1]))
data = lrlab.load_dataset(settings)
configs = []
for family, schedule, momentum in [
        ("constant", {"name": "constant", "lr0": 0.1}, 0.0),
        ("time_based_decay", {"name": "time_based_decay", "lr0": 0.1, "decay": 0.1 / settings.epochs}, 0.8),
        ("step_decay", {"name": "step_decay", "lr0": 0.1, "drop": 0.5, "epochs_drop": 10}, 0.5),
        ("exponential_decay", {"name": "exponential_decay", "lr0": 0.1, "k": 0.1}, 0.8)]:
    configs += families.sgd_configs(family, schedule, momentum, settings, data)
configs += families.adaptive_configs(settings.optimizers, settings, data,
                                     **families.default_hyperparameters(settings.optimizers))
start = time.perf_counter()
for c in configs:
    keras.utils.set_random_seed(c["seed"])
    model = build_model(c["model"], data["x_train"].shape[1:], 2)
    model.compile(optimizer=build_optimizer(c["optimizer"], schedules.keras_learning_rate(c["schedule"])),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(data["x_train"], data["y_train"], batch_size=64, epochs=c["epochs"], verbose=0,
              validation_data=(data["x_val"], data["y_val"]), callbacks=schedules.keras_callbacks(c["schedule"]))
print(json.dumps({"seconds": time.perf_counter() - start, "runs": len(configs)}))
"""


def flops_per_image(model) -> int:
    """Forward multiply-adds × 2 of the convolutions and dense layers; training costs about three times that
    (forward, and backward for activations and for weights)."""
    total = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            h, w, filters = layer.output.shape[1:]
            kh, kw = layer.kernel_size
            total += 2 * h * w * filters * kh * kw * layer.input.shape[-1]
        elif kind == "Dense":
            total += 2 * layer.input.shape[-1] * layer.units
    return total


def cpu_peak_flops(flops_per_cycle) -> float:
    mhz = [float(line.split(":")[1]) for line in open("/proc/cpuinfo") if line.startswith("cpu MHz")]
    return (os.cpu_count() or 1) * (max(mhz) if mhz else 2000.0) * 1e6 * flops_per_cycle


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--flops-per-cycle", type=int, default=32,
                        help="float32 FLOPs per core per cycle: 32 for two 256-bit FMA units (AVX2, or AVX-512 on "
                             "Zen 4's 256-bit datapaths), 64 for two 512-bit units")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if not os.environ.get("LRLAB_CIFAR10"):
        sys.exit("benchmarks/report_time.py: error: set LRLAB_CIFAR10=/path/to/cifar-10-python.tar.gz")
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        naive = subprocess.run([sys.executable, "-c", NAIVE, str(args.epochs), tmp, str(ROOT / "lib")], env=env,
                               capture_output=True, text=True, check=True)
        naive_wall = time.perf_counter() - start
        naive_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        build = [sys.executable, str(ROOT / "build_report.py"), "--profile", "paper", "-p", f"epochs={args.epochs}",
                 "-p", f"output_dir={tmp}/lrlab"]
        runs = Path(tmp) / "lrlab" / "paper" / "runs"

        def timed_build(*extra):
            before = {p.name for p in runs.glob("*")} if runs.is_dir() else set()
            start = time.perf_counter()
            subprocess.run(build + list(extra), env=env, check=True, capture_output=True, text=True)
            return time.perf_counter() - start, sorted({p.name for p in runs.glob("*")} - before)

        lrlab_wall, _ = timed_build()
        lrlab_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        rebuild_wall, rebuild_trained = timed_build()
        # `drop` is a parameter of step_decay.ipynb only: its three runs, and nothing else, should train again
        change_wall, change_trained = timed_build("-p", "drop=0.6")
    configs = json.loads(naive.stdout.strip().splitlines()[-1])["runs"]
    images = configs * args.epochs * 10_000  # training images seen; validation adds 2,000 per epoch and run

    from lrlab.models import build_model

    flops = flops_per_image(build_model("seed_cnn", (32, 32, 3), 2))
    peak = cpu_peak_flops(args.flops_per_cycle)
    sides = {"naive": naive_wall, "lrlab": lrlab_wall}
    result = {
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cores": os.cpu_count(),
        "epochs": args.epochs, "runs": configs, "forward_flops_per_image": flops,
        "cpu_peak_gflops": round(peak / 1e9, 1),
        "sides": {name: {"wall_seconds": round(s, 1), "training_images_per_second": round(images / s),
                         "fraction_of_peak": round(3 * flops * images / s / peak, 4)} for name, s in sides.items()},
        "largest_process_rss_mb": {"naive": round(naive_rss / 1024),
                                   "lrlab (any process so far)": round(lrlab_rss / 1024)},
        "speedup": round(naive_wall / lrlab_wall, 2),
        "unchanged_rebuild": {"wall_seconds": round(rebuild_wall, 1), "runs_trained": len(rebuild_trained)},
        "one_parameter_changed": {"parameter": "drop=0.6 (step_decay.ipynb)", "wall_seconds": round(change_wall, 1),
                                  "runs_trained": change_trained},
    }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
