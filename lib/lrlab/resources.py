"""What a build needs in memory and disk, checked before anything trains, so a profile too big for the machine
fails at once with the figures instead of hours later with an out-of-memory kill."""

import os
import shutil
from pathlib import Path

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
    if settings.data_path == "synthetic":
        data_bytes = 0  # a few hundred generated images
    else:
        # the uint8 copy of all CIFAR-10 and float32 copies of the profile's classes
        data_bytes = 10 * IMAGES_PER_CLASS * PIXELS + IMAGES_PER_CLASS * len(settings.classes) * PIXELS * 4
    per_process = PROCESS_BYTES + data_bytes
    # eight configurations in the 2017 families; the others add 7 schedules, 6 methods and a rate grid for 9
    configurations = 8 + (13 + 9 * settings.lr_grid_points if "lr_sensitivity" in settings.families else 0)
    runs = configurations * len(settings.seeds)
    return {"memory": processes * per_process,
            "disk": DISK_FIXED + runs * (settings.epochs * DISK_PER_RUN_EPOCH + 4096)}


def available(path) -> dict:
    memory = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    try:
        with open("/proc/meminfo") as f:  # MemAvailable counts reclaimable cache too
            for line in f:
                if line.startswith("MemAvailable:"):
                    memory = int(line.split()[1]) * 1024
    except OSError:
        pass
    try:  # a container's own limit, when it is lower than the machine's
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
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
            f"{processes} training process(es) at once, but {have['memory'] / gib:.1f} GiB is available: use --jobs 1 or a "
            f"machine with more memory")
    if need["disk"] > have["disk"]:
        raise ResourceError(
            f"the {settings.profile} profile needs about {need['disk'] / 2**20:.0f} MiB of disk in "
            f"{settings.output_dir}, but {have['disk'] / 2**20:.0f} MiB is free: free some space or use "
            f"-p output_dir=DIR on a larger disk")
