#!/usr/bin/env python
"""Seconds per epoch of the seed CNN on the paper task (cat vs dog, 10,000 training and 2,000 validation images),
for the settings that decide how long `make report` takes: steps_per_execution and threads per process.

    LRLAB_CIFAR10=/path/to/cifar-10-python.tar.gz .venv/bin/python benchmarks/epoch_time.py [--epochs 4] [--json out.json]

Each setting runs in a fresh process (thread counts are fixed at start-up), one warm-up epoch first, then the mean
over --epochs timed epochs of `model.fit` with validation, as a run of the report trains. "2 processes × 1 thread"
runs two such processes at once, as `build_report.py --jobs 2` does on a 2-core machine, and reports the combined
throughput. Not a test: it prints figures, it asserts nothing.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[4])
import lrlab
from lrlab.config import resolve_settings, sgd_configs
from lrlab.data import load_dataset
from lrlab.train import EVAL_BATCH_SIZE, compile_model

spe, epochs = int(sys.argv[1]), int(sys.argv[2])
settings = resolve_settings("paper", epochs=epochs, output_dir=sys.argv[3])
data = load_dataset(settings)
config = sgd_configs("constant", {"name": "constant", "lr0": 0.1}, 0.0, settings, data)[0]
model = compile_model(config, 2, data["x_train"].shape[1:], spe)
fit = dict(x=data["x_train"], y=data["y_train"], batch_size=64, shuffle=True, verbose=0,
           validation_data=(data["x_val"], data["y_val"]), validation_batch_size=EVAL_BATCH_SIZE)
model.fit(epochs=1, **fit)
start = time.perf_counter()
model.fit(epochs=epochs, **fit)
print(json.dumps({"seconds_per_epoch": (time.perf_counter() - start) / epochs}))
"""


def measure(spe, threads, processes, epochs, output_dir):
    env = os.environ | {"LRLAB_THREADS": str(threads), "TF_CPP_MIN_LOG_LEVEL": "3"}
    cmd = [sys.executable, "-c", CHILD, str(spe), str(epochs), output_dir, str(ROOT / "lib")]
    children = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                for _ in range(processes)]
    per_process = [json.loads(c.communicate()[0].strip().splitlines()[-1])["seconds_per_epoch"] for c in children]
    mean = sum(per_process) / len(per_process)
    return {"steps_per_execution": spe, "threads": threads, "processes": processes,
            "seconds_per_epoch_per_process": round(mean, 3),
            "epochs_per_second_total": round(processes / mean, 3),
            "images_per_second_total": round(processes * 10_000 / mean)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if not os.environ.get("LRLAB_CIFAR10"):
        sys.exit("benchmarks/epoch_time.py: error: set LRLAB_CIFAR10=/path/to/cifar-10-python.tar.gz")
    cores = os.cpu_count() or 1
    settings = [(1, cores, 1), (16, cores, 1), (16, 1, cores), (64, 1, cores)]
    results = []
    print(f"{'steps/exec':>10} {'threads':>8} {'processes':>9} {'s/epoch/process':>16} {'images/s total':>15}")
    for spe, threads, processes in settings:
        r = measure(spe, threads, processes, args.epochs, str(ROOT / "outputs"))
        results.append(r)
        print(f"{spe:>10} {threads:>8} {processes:>9} {r['seconds_per_epoch_per_process']:>16.3f} "
              f"{r['images_per_second_total']:>15}", flush=True)
    report = {"machine": f"{cores} cores", "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "results": results}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
