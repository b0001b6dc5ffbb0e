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
import uuid
from datetime import datetime, timezone
from pathlib import Path


HISTORY_COLUMNS = ["epoch", "lr", "loss", "accuracy", "val_loss", "val_accuracy", "epoch_time_s"]


def profile_dir(settings) -> Path:
    return Path(settings.output_dir) / settings.profile


def runs_dir(settings) -> Path:
    return profile_dir(settings) / "runs"


def run_id(config: dict) -> str:
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    return f"{config['family']}-{config['optimizer']['name']}-seed{config['seed']}-{digest}"


def migrate(root: Path, log=print) -> int:
    """Give runs stored before the numerics version existed their ids under today's rule, in place: their
    configuration loses its display label (no longer part of a run's identity) and gains `"numerics": 1`, the
    version of the code that trained them (lrlab.config.NUMERICS_VERSION), so they stay readable and are never
    reused in place of a run the current code would train. The family manifests are rewritten to the new ids
    first, then each run is renamed whole (a rename is atomic) and its files rewritten, so a process killed at any
    point leaves a store the next pass completes. A run whose new id is already taken (two copies of one
    configuration that differed only in their label) keeps its old name, marked, and is never deleted. Another
    process migrating the same store at the same time is tolerated. Returns the number of runs renamed."""
    root = Path(root)
    pending = []
    for path in sorted(root.glob("*/config.json")) if root.is_dir() else []:
        try:
            config = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if "numerics" in config or path.parent.name.startswith("."):
            continue
        config = {"numerics": 1} | {k: v for k, v in config.items() if k != "label"}
        pending.append((path.parent, config, run_id(config)))
    renamed, taken = {}, set()
    for folder, _, new in pending:  # each new id goes to one run: the first, or the one already under it
        if new not in taken and (folder.name == new or not (root / new).exists()):
            renamed[folder.name] = new
            taken.add(new)
    for path in root.parent.glob("families/*.json") if renamed else []:
        manifest = json.loads(path.read_text())
        manifest["run_ids"] = [renamed.get(rid, rid) for rid in manifest["run_ids"]]
        atomic_write_text(path, json.dumps(manifest, indent=2))
    for folder, config, new in pending:
        target = root / new if folder.name in renamed else folder  # a taken id: stays, marked, under its old name
        try:
            if target != folder:
                os.rename(folder, target)
            atomic_write_text(target / "config.json", json.dumps(config, indent=2, sort_keys=True))
            summary_path = target / "summary.json"
            if summary_path.is_file():
                summary = json.loads(summary_path.read_text()) | {"run_id": target.name}
                atomic_write_text(summary_path, json.dumps(summary, indent=2))
        except OSError:  # another process migrated it first
            continue
    if renamed:
        log(f"{root}: {len(renamed)} stored run(s) renamed to their ids without display text (numerics version 1)")
    return len(renamed)


def atomic_write_text(path: Path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# A finished run is one to reuse and report: it trained to the end (and learned or not), or its loss became NaN and
# it stopped early (lrlab.health; "stuck" is what runs stored before its rule say, judged again when read).
FINISHED = ("completed", "did_not_learn", "collapsed", "diverged", "stuck")


def read_summary(run_path: Path):
    """The run's summary if the run finished, else None."""
    try:
        summary = json.loads((Path(run_path) / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    if summary.get("status") not in FINISHED or not (Path(run_path) / "history.csv").is_file():
        return None
    return summary


@contextlib.contextmanager
def claim(settings, rid, log=print):
    """Hold the run `rid` exclusively while it trains: another process that wants the same run (a notebook run by
    hand beside a build, a second Dask worker) waits, then finds it stored. The lock is flock's, so it goes with
    its holder, even one killed by kill -9, and Linux honours it across hosts on NFS."""
    locks = profile_dir(settings) / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{rid}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"{rid}: another process is training it; waiting")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def write_run(config, rid, history, summary, settings):
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
    last build's runs standing in for its own. Best effort: compare.ipynb also skips families that failed."""
    try:
        manifest_path(settings, family).unlink(missing_ok=True)
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
