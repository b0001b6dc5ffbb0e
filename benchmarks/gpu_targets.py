#!/usr/bin/env python
"""The three GPU targets, measured in one call on a lent GPU machine (or as many as fit, the rest extrapolated):

1. the `paper` report end to end (target ≤ 60 s);
2. bfloat16 against float32 on the `paper` task: seconds per epoch, and final accuracies paired by seed (does
   mixed precision keep the results within the seeds' spread?);
3. the `study` profile at 100 epochs (target ≤ 15 min): built at --probe-epochs, extrapolated to 100 from the
   runs' own steady epoch times;
4. the `full` profile (10 classes, vgg_bn; target ≤ 30 min): the same, on a generated CIFAR-10-sized set (its
   accuracies mean nothing, its timings are real);
5. He et al.'s ResNet-20 recipe on CIFAR-10 (`benchmarks/resnet20_reference.py`, the `cifar10_resnet20` task's
   reference: ≥ 90.7% test accuracy): `--resnet20-iterations` of its 64,000 (default 1,000: milliseconds per
   iteration, extrapolated to the whole recipe; 64000 in a call of its own reproduces it), on `--cifar10`.

On the GPU machine, from the project's root, after `bash ../shared/device/prepare.sh` here:

    bash .device/run.sh python3 benchmarks/gpu_targets.py --data .device/data/cifar-catdog.tar.gz --out $OUT

Each step runs `build_report.py` as a user does, in a fresh output folder, and is skipped (and said so) when the
time left (--budget) is too short. Writes gpu_targets.json (every figure with the device, backend and versions)
and the paper report. On a CPU, `--quick` runs every step on the smoke profile to check the script itself.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from lrlab import machine  # noqa: E402
from lrlab.config import run_label  # noqa: E402

TARGET_EPOCHS = 100
TARGETS_S = {"paper": 60, "study": 15 * 60, "full": 30 * 60}


def build(args, out, timeout):
    """build_report.py with `args` into `out`: (seconds, exit status, last lines of its output)."""
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, str(ROOT / "build_report.py"), *args, "-p", f"output_dir={out}"],
                              capture_output=True, text=True, cwd=ROOT, timeout=timeout)
        status, tail = done.returncode, (done.stdout + done.stderr)[-1500:]
    except subprocess.TimeoutExpired:
        status, tail = "timed out", f"stopped after {timeout:.0f} s"
    return round(time.perf_counter() - start, 1), status, tail


def runs(out, profile):
    """Every stored run of a build: its configuration, history and summary."""
    found = []
    for folder in sorted((Path(out) / profile / "runs").glob("*/summary.json")):
        run = folder.parent
        import pandas as pd

        found.append((json.loads((run / "config.json").read_text()), pd.read_csv(run / "history.csv"),
                      json.loads(folder.read_text())))
    return found


def extrapolated(seconds, out, profile, epochs, jobs):
    """A build's seconds at TARGET_EPOCHS from its seconds at `epochs`: each run's steady epoch (its share of its
    model's, the median after the first) times the epochs still to go, spread over the workers, which assumes they
    stay busy. Range tests do not grow with the epochs."""
    per_epoch = sum(float(np.median(h["epoch_time_s"].iloc[1:])) for c, h, _ in runs(out, profile)
                    if c.get("kind") != "lr_range_test" and len(h) > 1)
    return round(seconds + (TARGET_EPOCHS - epochs) * per_epoch / jobs, 1), round(per_epoch, 2)


def precision_pair(out32, out16, profile):
    """Final validation accuracy in float32 and bfloat16, paired by configuration and seed, and the seconds per
    epoch of each."""
    def finals(out):
        return {(run_label(c), c["seed"]): (s["final"]["val_accuracy"], float(np.median(h["epoch_time_s"].iloc[1:])))
                for c, h, s in runs(out, profile) if c.get("kind") != "lr_range_test" and len(h) > 1}

    a, b = finals(out32), finals(out16)
    shared = sorted(set(a) & set(b))
    diffs = [100 * (b[k][0] - a[k][0]) for k in shared if a[k][0] is not None and b[k][0] is not None]
    seeds = {}
    for (label, _), (accuracy, _) in a.items():
        seeds.setdefault(label, []).append(100 * accuracy if accuracy is not None else np.nan)
    spread = float(np.nanmedian([np.nanstd(v, ddof=1) for v in seeds.values() if len(v) > 1])) if seeds else None
    return {"runs_paired": len(diffs), "mean_difference_points": round(float(np.mean(diffs)), 2) if diffs else None,
            "largest_difference_points": round(float(np.max(np.abs(diffs))), 2) if diffs else None,
            "seeds_spread_points (median std over configurations, float32)": round(spread, 2)
            if spread is not None and spread == spread else None,
            "float32_s_per_run_epoch": round(float(np.mean([v[1] for v in a.values()])), 3) if a else None,
            "bfloat16_s_per_run_epoch": round(float(np.mean([v[1] for v in b.values()])), 3) if b else None}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="cifar-10-python.tar.gz (or the cat/dog subset) for the paper and study")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ROOT / "benchmarks" / "results")))
    parser.add_argument("--budget", type=float, default=470, help="seconds for every step together")
    parser.add_argument("--probe-epochs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="every step on the smoke profile: checks the script")
    parser.add_argument("--cifar10", help="the whole cifar-10-python.tar.gz, for the ResNet-20 reference")
    parser.add_argument("--resnet20-iterations", type=int, default=1000)
    args = parser.parse_args(argv)
    deadline = time.perf_counter() + args.budget
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="lrlab-gpu-"))
    data = ["-p", "data_path=synthetic"] if args.quick else ["-p", f"data_path={Path(args.data).resolve()}"]
    paper = ["--profile", "smoke"] if args.quick else ["--profile", "paper"]
    result = {"device": device_name(), "gpus_gib": machine.gpus(),
              "backend": os.environ.get("KERAS_BACKEND", "tensorflow"), "versions": machine.versions(),
              "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                       cwd=ROOT).stdout.strip() or "unknown", "steps": {}}

    def left():
        return deadline - time.perf_counter()

    def step(name, args_, needs):
        if left() < needs:
            result["steps"][name] = {"skipped": f"{left():.0f} s left of the budget, {needs} s needed at least"}
            return None
        seconds, status, tail = build(args_, work / name, left())
        result["steps"][name] = {"seconds": seconds, "exit_status": status, "command": " ".join(args_)}
        if status != 0:
            result["steps"][name]["output"] = tail
        (args.out / "gpu_targets.json").write_text(json.dumps(result, indent=1) + "\n")  # kept if later ones die
        return seconds if status == 0 else None

    seconds = step("paper", paper + data, 30)
    if seconds is not None:
        result["steps"]["paper"]["target_s"] = TARGETS_S["paper"]
        report = work / "paper" / paper[1] / "report.html"
        if report.is_file():
            (args.out / "paper_report.html").write_bytes(report.read_bytes())
    if step("paper_bfloat16", paper + data + ["--only", "constant,adaptive", "-p", "precision=mixed_bfloat16"], 60):
        result["steps"]["paper_bfloat16"] |= precision_pair(work / "paper", work / "paper_bfloat16", paper[1])
    probe = ["-p", f"epochs={args.probe_epochs}"]
    for name, profile_args in (("study", ["--profile", "smoke" if args.quick else "study"] + data),
                               ("full", ["--profile", "smoke" if args.quick else "full", "-p",
                                         f"data_path={synthetic_cifar10(work)}" if not args.quick else
                                         "data_path=synthetic"])):
        seconds = step(name, profile_args + probe, 60)
        if seconds is not None:
            jobs = machine.default_jobs("vgg_bn" if name == "full" and not args.quick else "seed_cnn")
            at_target, per_epoch = extrapolated(seconds, work / name, profile_args[1], args.probe_epochs, jobs)
            result["steps"][name] |= {"probe_epochs": args.probe_epochs, "jobs": jobs,
                                      "extrapolated_s_at_100_epochs": at_target,
                                      "run_seconds_per_epoch_all_runs": per_epoch,
                                      "target_s": TARGETS_S[name], "note": "extrapolated from the probe's steady "
                                      "epochs, assuming every worker stays busy"}
    resnet20(args, result, work, left)
    (args.out / "gpu_targets.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


def resnet20(args, result, work, left):
    """Step 5: the ResNet-20 reference, `--resnet20-iterations` of it, in the time left."""
    data = "synthetic" if args.quick or not args.cifar10 else str(Path(args.cifar10).resolve())
    iterations = 20 if args.quick else args.resnet20_iterations
    if left() < 60:
        result["steps"]["resnet20"] = {"skipped": f"{left():.0f} s left of the budget, 60 s needed at least"}
        return
    figures = work / "resnet20.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "resnet20_reference.py"), "--data", data, "--iterations",
               str(iterations), "--json", str(figures), "--output-dir", str(work)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=left())
        status, tail = done.returncode, (done.stdout + done.stderr)[-1500:]
    except subprocess.TimeoutExpired:
        status, tail = "timed out", f"stopped after {left():.0f} s"
    step = {"command": " ".join(command[1:]), "exit_status": status, "data": "synthetic (timings only)"
            if data == "synthetic" else data}
    if figures.is_file():
        measured = json.loads(figures.read_text())
        step |= measured | {"extrapolated_s_at_64000_iterations": round(measured["ms_per_iteration"] * 64, 1)}
    else:
        step["output"] = tail
    result["steps"]["resnet20"] = step


def device_name() -> str:
    names = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                           text=True).stdout.strip().splitlines() if machine.gpus() else []
    return f"{len(names)} × {names[0]}" if len(names) > 1 else names[0] if names else \
        f"CPU ({machine.cpu_model()}, {os.cpu_count()} cores)"


def synthetic_cifar10(work):
    """A CIFAR-10-sized archive in the real format (50,000 + 10,000 images of 10 classes): timings only."""
    from lrlab.data import write_synthetic_cifar10

    return write_synthetic_cifar10(work / "cifar-10-synthetic", images_per_class=5000,
                                   test_images_per_class=1000, compression=None)


if __name__ == "__main__":
    main()
