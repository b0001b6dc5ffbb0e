"""What a build needs in memory and disk, checked before anything trains, so a profile too big for the machine
fails at once with the figures instead of hours later with an out-of-memory kill."""

import os
import shutil
from pathlib import Path

from . import schedules

IMAGES_PER_CLASS = 6_000  # CIFAR-10: 5,000 training + 1,000 test images per class
PIXELS = 32 * 32 * 3
# What one training process holds besides its dataset: Python, TensorFlow and the model, measured at about
# 1.1 GiB of resident memory per process during the paper build (top), with a margin.
PROCESS_BYTES = 1.2 * 2**30
DISK_PER_RUN_EPOCH = 200  # bytes: one row of history.csv
DISK_FIXED = 400 * 2**20  # decoded-data cache, executed notebooks and the report


class ResourceError(RuntimeError):
    """The build would not fit this machine: the message says what it needs and what there is."""


def needs(settings, processes) -> dict:
    """Memory and disk for `processes` worker processes training `settings`."""
    if settings.data_path == "synthetic" or not settings.classes:
        data_bytes = 0  # a few hundred generated images; a text of a few MB
    else:
        # the uint8 copy of all CIFAR-10 and float32 copies of the profile's classes
        data_bytes = 10 * IMAGES_PER_CLASS * PIXELS + IMAGES_PER_CLASS * len(settings.classes) * PIXELS * 4
    per_process = PROCESS_BYTES + data_bytes
    # the 2017 families' four schedules and the profile's methods, the modern schedules, and the sweep's grid for
    # SGD and every method (counted from the registries, so a registered method is counted too)
    methods = len(settings.optimizers)
    configurations = 4 + methods + (len(schedules.MODERN) if "modern_schedules" in settings.families else 0) + (
        (1 + methods + len(settings.swept_schedules)) * settings.lr_grid_points
        if "lr_sensitivity" in settings.families else 0)
    runs = configurations * len(settings.seeds)
    return {"memory": processes * per_process,
            "disk": DISK_FIXED + runs * (settings.epochs * DISK_PER_RUN_EPOCH + 4096)}


def available(path, meminfo="/proc/meminfo", cgroup="/sys/fs/cgroup") -> dict:
    """Memory free for new processes (the machine's, or its container's when that is lower) and disk free where
    `path` is, or would be once created: {"memory": bytes, "disk": bytes}. `meminfo` and `cgroup` are where Linux
    says them (other files in tests)."""
    memory = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    try:
        with open(meminfo) as f:  # MemAvailable counts reclaimable cache too
            for line in f:
                if line.startswith("MemAvailable:"):
                    memory = int(line.split()[1]) * 1024
    except OSError:
        pass
    try:  # a container's own limit, when it is lower than the machine's
        limit = (Path(cgroup) / "memory.max").read_text().strip()
        used = int((Path(cgroup) / "memory.current").read_text())
        if limit != "max":
            memory = min(memory, int(limit) - used)
    except (OSError, ValueError):
        pass
    path = Path(path)
    while not path.exists():
        path = path.parent
    return {"memory": memory, "disk": shutil.disk_usage(path).free}


def check(settings, processes, have=None):
    """Raise ResourceError when the build needs more memory or disk than `have` (default: this machine's)."""
    need = needs(settings, processes)
    have = have or available(settings.output_dir)
    gib = 2**30
    if need["memory"] > have["memory"]:
        raise ResourceError(
            f"the {settings.profile} profile needs about {need['memory'] / gib:.1f} GiB of memory for "
            f"{processes} training process(es) at once, but {have['memory'] / gib:.1f} GiB is available: use --jobs 1 "
            f"or a machine with more memory")
    if need["disk"] > have["disk"]:
        raise ResourceError(
            f"the {settings.profile} profile needs about {need['disk'] / 2**20:.0f} MiB of disk in "
            f"{settings.output_dir}, but {have['disk'] / 2**20:.0f} MiB is free: free some space or use "
            f"-p output_dir=DIR on a larger disk")
