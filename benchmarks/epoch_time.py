#!/usr/bin/env python
"""Seconds per epoch of the seed CNN on the paper task (cat vs dog, 10,000 training and 2,000 validation images),
for the settings that decide how long `make report` takes: the validation batch size, steps_per_execution, threads
per process, processes side by side, seeds trained together as one model, and 16-bit (bfloat16) arithmetic.

    LRLAB_CIFAR10=/path/to/cifar-10-python.tar.gz .venv/bin/python benchmarks/epoch_time.py \
        [--epochs 4] [--json out.json]

Each setting runs in fresh processes (thread counts are fixed at start-up) and trains as a report run does
(`train.train_runs`, validation every epoch) for --epochs + 1 epochs; the first is a warm-up and is left out.
"2 processes × 1 thread" runs two such processes at once, as `build_report.py --jobs 2` does on a 2-core machine,
and reports the combined throughput; "seeds together 3" trains three seeds of one configuration as one model and
counts each as a run. The first row is the naive baseline: one process with every core, one batch per call,
validation in batches of 64 (Keras's default: the training batch size), one run at a time. Not a test: it prints
figures, it asserts nothing.
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
import json, sys
sys.path.insert(0, sys.argv[5])
from lrlab.families import sgd_configs
from lrlab.parameters import resolve_settings
from lrlab.data import load_dataset
from lrlab.machine import configure_process
import os
configure_process(os.environ.get("LRLAB_THREADS"))  # before the backend loads, as the build's workers do
from lrlab import train

spe, epochs, together, precision = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[6]
train.EVAL_BATCH_SIZE = int(sys.argv[7])
settings = resolve_settings("paper", epochs=epochs + 1, output_dir=sys.argv[4], seeds=list(range(together)),
                            precision=precision)
data = load_dataset(settings)
configs = sgd_configs("constant", {"name": "constant", "lr0": 0.1}, 0.0, settings, data)
history = train.train_runs(configs, data, spe, log=lambda message: None)[0][0]
print(json.dumps({"seconds_per_run_epoch": float(history["epoch_time_s"].iloc[1:].mean())}))
"""


def measure(eval_batch, spe, threads, processes, together, precision, epochs, output_dir):
    env = os.environ | {"LRLAB_THREADS": str(threads), "TF_CPP_MIN_LOG_LEVEL": "3"}
    cmd = [sys.executable, "-c", CHILD, str(spe), str(epochs), str(together), output_dir, str(ROOT / "lib"), precision,
           str(eval_batch)]
    children = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                for _ in range(processes)]
    per_run = [json.loads(c.communicate()[0].strip().splitlines()[-1])["seconds_per_run_epoch"] for c in children]
    run_epochs_per_second = sum(1 / s for s in per_run)
    return {"validation_batch_size": eval_batch, "steps_per_execution": spe, "threads": threads,
            "processes": processes, "seeds_together": together,
            "precision": precision,
            "seconds_per_run_epoch": round(sum(per_run) / len(per_run), 3),
            "run_epochs_per_second_total": round(run_epochs_per_second, 3),
            "images_per_second_total": round(run_epochs_per_second * 10_000)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if not os.environ.get("LRLAB_CIFAR10"):
        sys.exit("benchmarks/epoch_time.py: error: set LRLAB_CIFAR10=/path/to/cifar-10-python.tar.gz")
    cores = os.cpu_count() or 1
    settings = [(64, 1, cores, 1, 1, "float32"), (1000, 1, cores, 1, 1, "float32"), (1000, 16, cores, 1, 1, "float32"),
                (1000, 16, 1, cores, 1, "float32"), (1000, 16, cores, 1, 3, "float32"),
                (1000, 16, 1, cores, 3, "float32"), (1000, 16, 1, cores, 3, "mixed_bfloat16")]
    results = []
    print(f"{'val batch':>9} {'steps/exec':>10} {'threads':>8} {'processes':>9} {'seeds together':>14} "
          f"{'precision':>14} {'s/epoch per run':>16} {'images/s total':>15} {'vs first':>9}")
    for eval_batch, spe, threads, processes, together, precision in settings:
        r = measure(eval_batch, spe, threads, processes, together, precision, args.epochs, str(ROOT / "outputs"))
        r["speedup_vs_first"] = round(r["run_epochs_per_second_total"] / (
            results[0] if results else r)["run_epochs_per_second_total"], 2)
        results.append(r)
        print(f"{eval_batch:>9} {spe:>10} {threads:>8} {processes:>9} {together:>14} {precision:>14} "
              f"{r['seconds_per_run_epoch']:>16.3f} {r['images_per_second_total']:>15} {r['speedup_vs_first']:>8.2f}×",
              flush=True)
    report = {"machine": f"{cores} cores", "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "results": results}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
