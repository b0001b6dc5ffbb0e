"""The run store: one run (a configuration and a seed) per folder, `outputs/<profile>/runs/<run_id>/`.

A folder holds `config.json`, `history.csv` and `summary.json`. It is written under a temporary name and renamed
into place when complete, so a run killed half-way never appears under its real name; a run whose configuration
is already stored complete is reused, not retrained.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from .config import seed_groups
from .health import run_status

HISTORY_COLUMNS = ["epoch", "lr", "loss", "accuracy", "val_loss", "val_accuracy", "epoch_time_s"]


def profile_dir(settings) -> Path:
    return Path(settings["output_dir"]) / settings["profile"]


def runs_dir(settings) -> Path:
    return profile_dir(settings) / "runs"


def run_id(config: dict) -> str:
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    return f"{config['family']}-{config['optimizer']['name']}-seed{config['seed']}-{digest}"


def atomic_write_text(path: Path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# A finished run is one to reuse and report: it trained to the end (and learned, or stayed at chance), or its loss
# became NaN and it stopped early (lrlab.health).
FINISHED = ("completed", "stuck", "diverged")


def read_summary(run_path: Path):
    """The run's summary if the run finished, else None."""
    try:
        summary = json.loads((Path(run_path) / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    if summary.get("status") not in FINISHED or not (Path(run_path) / "history.csv").is_file():
        return None
    return summary


def _versions() -> dict:
    from .machine import run_record

    return run_record()


def summarize_history(history: pd.DataFrame, seconds: float, test=None, n_classes=2, n_validation=2000) -> dict:
    """Final and best validation metrics, and the test metrics measured after training. A run whose loss became
    NaN is "diverged": its metrics are None, never a number that would read as a (bad) result; one that never
    rose clearly above chance is "stuck" (lrlab.health): its numbers are kept, and the report counts it as
    failed."""
    status = run_status(history, n_classes, n_validation)
    diverged = status == "diverged"
    last = history.iloc[-1]
    best = None if diverged else history["val_accuracy"].idxmax()
    return {
        "status": status,
        "epochs_completed": int(len(history)),
        "final": {k: None if diverged else float(last[k]) for k in ("loss", "accuracy", "val_loss", "val_accuracy")},
        "best_val_accuracy": None if diverged else float(history.loc[best, "val_accuracy"]),
        "best_epoch": None if diverged else int(history.loc[best, "epoch"]),
        "test": None if diverged else test,
        "train_seconds": round(seconds, 3),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    } | _versions()


def range_test_suggestion(history: pd.DataFrame, skip_fraction=0.1, min_dip=0.01):
    """(suggested rate, rate at the lowest smoothed loss) from a range test's history.

    The suggestion is a tenth of the rate where the smoothed loss was lowest, a step back from where it starts to
    climb (the usual reading of Smith's test). The first `skip_fraction` of the batches is left out: the moving
    average is still mostly noise there. When the lowest loss is not at least `min_dip` below the loss at the
    start of the search, the loss never clearly fell and there is no suggestion (None)."""
    curve = history.iloc[max(1, int(skip_fraction * len(history))):]
    curve = curve[np.isfinite(curve["smoothed_loss"])]
    if curve.empty:
        return None, None
    lowest = curve.loc[curve["smoothed_loss"].idxmin()]
    if lowest["smoothed_loss"] > (1 - min_dip) * curve["smoothed_loss"].iloc[0]:
        return None, float(lowest["lr"])
    return float(lowest["lr"]) / 10, float(lowest["lr"])


def summarize_range_test(history: pd.DataFrame, seconds: float) -> dict:
    suggested, lowest = range_test_suggestion(history)
    return {
        "status": "completed",
        "steps_completed": int(len(history)),
        "min_loss_lr": lowest,
        "suggested_lr": suggested,
        "train_seconds": round(seconds, 3),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    } | _versions()


class RunBusy(Exception):
    """Another process holds the run's claim (raised by `claim` when told not to wait)."""


@contextlib.contextmanager
def claim(settings, rid, log=print, wait=True):
    """Hold the run `rid` exclusively while it trains: another process that wants the same run (a second
    notebook sharing it, a helper, a Dask worker elsewhere) waits, then finds it stored; with wait=False it gets
    RunBusy at once instead. The lock is flock's, so it goes with its holder, even one killed by kill -9, and
    Linux honours it across hosts on NFS."""
    locks = profile_dir(settings) / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{rid}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise RunBusy(rid) from None
            log(f"{rid}: another process is training it; waiting")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def train_or_reuse(config: dict, dataset: dict, settings: dict, log=print) -> dict:
    """Return {"run_id", "path", "reused"} for `config`, training it only if no complete copy is stored."""
    return train_or_reuse_seeds([config], dataset, settings, log)[0]


def train_or_reuse_seeds(configs: list, dataset: dict, settings: dict, log=print, wait=True):
    """train_or_reuse for seeds of one configuration (config.seed_groups): those not stored yet train together,
    as one model, while this process holds each one's claim. With wait=False, None (nothing trained) when
    another process holds any of those claims."""
    rids = [run_id(c) for c in configs]
    finals = [runs_dir(settings) / rid for rid in rids]

    def stored(i):
        return not settings.get("force") and read_summary(finals[i]) is not None

    todo = [i for i in range(len(configs)) if not stored(i)]
    with contextlib.ExitStack() as claims:
        try:
            for i in sorted(todo, key=lambda i: rids[i]):  # one order for every process: no two wait on each other
                claims.enter_context(claim(settings, rids[i], log, wait))
        except RunBusy:
            return None
        todo = [i for i in todo if not stored(i)]  # some may have been trained by the process we waited for
        if todo:
            _train([configs[i] for i in todo], dataset, settings, [rids[i] for i in todo], log)
    for i in range(len(configs)):
        if i not in todo:
            log(f"{rids[i]}: reused")
    return [{"run_id": rid, "path": str(final), "reused": i not in todo}
            for i, (rid, final) in enumerate(zip(rids, finals))]


def _train(configs, dataset, settings, rids, log):
    start = time.perf_counter()
    from . import train  # loads the Keras backend: only when there is something to train

    if configs[0].get("kind") == "lr_range_test":
        history = train.range_test(configs[0], dataset, log=log)
        summaries = [summarize_range_test(history, time.perf_counter() - start)]
        histories = [history]
    else:
        name = rids[0] if len(rids) == 1 else f"{rids[0]} and {len(rids) - 1} more seeds"
        trained = train.train_runs(configs, dataset, settings["steps_per_execution"], name=name, log=log)
        share = (time.perf_counter() - start) / len(configs)  # runs trained together share the time equally
        histories = [history for history, _ in trained]
        data = configs[0]["data"]
        summaries = [summarize_history(history, share, test, len(data["classes"]), data["n_validation"])
                     | {"trained_together": len(configs)} for history, test in trained]
    for config, rid, history, summary in zip(configs, rids, histories, summaries):
        _store(config, rid, history, summary, settings)
        note = {"diverged": " (diverged: the loss became NaN)", "stuck": " (stuck: never clearly above chance)"}
        log(f"{rid}: trained in {summary['train_seconds']:.1f} s" + note.get(summary["status"], ""))


def _store(config, rid, history, summary, settings):
    """Write the run's folder under a temporary name, then rename it into place: complete, or not there."""
    root = runs_dir(settings)
    final = root / rid
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{rid}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        (tmp / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
        history.to_csv(tmp / "history.csv", index=False)
        (tmp / "summary.json").write_text(json.dumps(summary | {"run_id": rid}, indent=2))
        if final.exists():  # --force, or a stale incomplete folder: set the old one aside, then swap
            old = root / f".old-{rid}-{uuid.uuid4().hex[:8]}"
            os.rename(final, old)
            shutil.rmtree(old, ignore_errors=True)
        os.rename(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def manifest_path(settings, family) -> Path:
    return profile_dir(settings) / "families" / f"{family}.json"


def write_manifest(settings, family, runs, parameters):
    """Which runs a family notebook's latest execution produced: what compare.ipynb reads."""
    manifest = {"family": family, "run_ids": [r["run_id"] for r in runs], "parameters": parameters,
                "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    atomic_write_text(manifest_path(settings, family), json.dumps(manifest, indent=2))


def forget_family(settings, family):
    """Drop a family's manifest before its notebook runs again, so that a failure this time cannot leave the
    last build's runs standing in for its own (and a killed build's plan, so no helper trains from it). Best
    effort: compare.ipynb also skips families that failed."""
    for path in (manifest_path(settings, family), plan_path(settings, family)):
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass


def read_manifest(settings, family):
    try:
        return json.loads(manifest_path(settings, family).read_text())
    except (OSError, ValueError):
        return None


def remove_abandoned(root: Path):
    """Delete the temporary folders of runs whose process died (killed, crashed) on this host."""
    host = socket.gethostname()
    for tmp in root.glob(".tmp-*"):
        match = re.search(rf"-{re.escape(host)}-(\d+)-[0-9a-f]{{8}}$", tmp.name)
        if match and not _alive(int(match.group(1))):
            shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def plan_path(settings, family) -> Path:
    return profile_dir(settings) / "families" / f"{family}.plan.json"


def run_family(family, configs, dataset, settings, parameters, log=print) -> list:
    """Train or reuse every run of a family notebook, then record them in the family's manifest.

    While it trains, the family's plan (its settings and configurations) is on disk, so that an idle worker of the
    build can help (help_family): it trains groups from the end of the list while this process goes from the
    start. A group another process holds is passed over and taken up again at the end, when it is most likely
    stored, so no process waits while there is a run left to train."""
    if runs_dir(settings).is_dir():
        remove_abandoned(runs_dir(settings))
    atomic_write_text(plan_path(settings, family), json.dumps({"settings": settings, "configs": configs}))
    runs = [None] * len(configs)
    try:
        passed_over = []
        for group in seed_groups(configs):
            group_runs = train_or_reuse_seeds([configs[i] for i in group], dataset, settings, log=log, wait=False)
            if group_runs is None:
                passed_over.append(group)
            for i, run in zip(group, group_runs or []):
                runs[i] = run
        for group in passed_over:
            for i, run in zip(group, train_or_reuse_seeds([configs[i] for i in group], dataset, settings, log=log)):
                runs[i] = run
    finally:
        plan_path(settings, family).unlink(missing_ok=True)
    write_manifest(settings, family, runs, parameters)
    return runs


def read_plan(settings, family):
    """The settings and configurations a running family notebook is training, or None when it is not."""
    try:
        return json.loads(plan_path(settings, family).read_text())
    except (OSError, ValueError):
        return None


def is_stored(settings, config) -> bool:
    return read_summary(runs_dir(settings) / run_id(config)) is not None


def pending_groups(plan) -> list:
    """The plan's seed groups with a run not stored yet (those being trained included)."""
    settings, configs = plan["settings"], plan["configs"]
    return [group for group in seed_groups(configs) if not all(is_stored(settings, configs[i]) for i in group)]


def held(settings, rid) -> bool:
    """Whether a process holds the run's claim now: a look, not a wait (a shared lock taken and let go at once)."""
    try:
        with open(profile_dir(settings) / "locks" / f"{rid}.lock") as handle:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except FileNotFoundError:
        return False
    return False


def free_groups(plan) -> list:
    """The plan's pending groups that no process is training now: what a helper could take."""
    settings, configs = plan["settings"], plan["configs"]
    return [group for group in pending_groups(plan) if not any(held(settings, run_id(configs[i])) for i in group)]


def help_family(settings, family, log=print) -> int:
    """Train runs of a family notebook that is training now, from the end of its plan, passing over those another
    process holds, until the notebook has finished; return how many runs this call trained. Its notebook finds
    them stored and reuses them: the runs and their numbers are the same whoever trains them. Nothing to help
    with --force (the notebook would train every run again)."""
    plan = read_plan(settings, family)
    if plan is None or plan["settings"].get("force"):
        return 0
    groups = pending_groups(plan)
    if not groups:
        return 0
    from .data import load_dataset

    settings, configs = plan["settings"], plan["configs"]
    dataset = load_dataset(settings)
    trained = 0
    for group in reversed(groups):
        if not plan_path(settings, family).exists():
            break  # the notebook has finished, or failed: what is left is not this plan's any more
        if all(is_stored(settings, configs[i]) for i in group):
            continue  # stored since: the notebook, or another helper, got there first
        runs = train_or_reuse_seeds([configs[i] for i in group], dataset, settings, log=log, wait=False)
        trained += sum(not r["reused"] for r in runs or [])
    return trained
