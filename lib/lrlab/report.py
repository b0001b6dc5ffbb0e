"""What the report says about itself and its runs: when and where it was built, with what, on which data."""

import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata

from .config import FAMILY_TITLES, PROJECT_ROOT
from .data import is_official

PACKAGES = ["lrlab", "keras", "tensorflow", "numpy", "pandas", "scipy", "seaborn", "matplotlib", "papermill",
            "nbconvert"]


def _cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args):
    try:
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def build_info() -> dict:
    import os

    import keras

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    gpus = []
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    commit = _git("rev-parse", "--short=12", "HEAD") or "unknown"
    # the published report is itself tracked: rebuilding it must not count as a change to the code
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!outputs"))
    return {
        "built_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "cpu": f"{_cpu_model()}, {os.cpu_count()} cores",
        "gpu": ", ".join(gpus) or "none",
        "python": platform.python_version(),
        "backend": keras.backend.backend(),
        "versions": versions,
    }


def header_markdown(info: dict, profile: str) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    return (f"*Built {info['built_at']} from commit `{info['commit']}`, profile `{profile}`, on {info['cpu']} "
            f"(GPU: {info['gpu']}); Python {info['python']}, Keras backend {info['backend']}; {versions}.*")


def describe_runs(runs) -> str:
    """What was trained, from the stored configurations themselves."""
    if runs.empty:
        return "No completed runs."
    first = runs.iloc[0]
    seeds = sorted(runs["seed"].unique())
    classes = ", ".join(first["class_names"])
    validation = ("the official test set, as in 2017 (so best-epoch figures are optimistic)"
                  if first["protocol"] == "seed" else "a held-out part of the training set")

    def value(column, fmt="{}"):
        """One value when every run agrees; otherwise each family's, so a mixed report says it is mixed."""
        per_family = runs.groupby("family", sort=False)[column].agg(lambda v: ", ".join(sorted({fmt.format(x) for x in v})))
        if per_family.nunique() == 1:
            return per_family.iloc[0]
        return "; ".join(f"{v} ({FAMILY_TITLES[f]})" for f, v in per_family.items())

    fingerprints = sorted(runs["fingerprint"].unique())
    if len(fingerprints) > 1:
        source = f"{len(fingerprints)} different copies of the data (SHA-256 {', '.join(f[:12] for f in fingerprints)})"
    elif is_official(fingerprints[0]):
        source = "the official CIFAR-10 archive (SHA-256 verified)"
    elif fingerprints[0] == "keras-download":
        source = "CIFAR-10 as downloaded and checked by Keras"
    else:
        source = f"a CIFAR-10 copy other than the official archive (SHA-256 {fingerprints[0][:16]}…)"
    return (f"{len(runs)} runs: {runs['label'].nunique()} configurations × seeds {', '.join(map(str, seeds))}. "
            f"Task: CIFAR-10 classes {classes}; {value('n_train', '{:,}')} training images; validation on "
            f"{value('n_validation', '{:,}')} images of {validation}. Model `{value('model')}`, "
            f"{value('epochs')} epochs, batch size {value('batch_size')}. Data: {source}.")


def describe_missing(missing) -> str:
    if not missing:
        return ""
    items = "; ".join(f"**{FAMILY_TITLES[f]}** — {why}" for f, why in missing)
    return f"**Incomplete report.** Missing from every figure and table below: {items}."


def caption(what: str, runs, confidence=0.95) -> str:
    """A figure caption that says what is shown, over how many seeds, and what the validation set is."""
    seeds = sorted(runs["seed"].unique()) if not runs.empty else []
    band = (f"bands: {round(100 * confidence)}% t-interval of the mean across seeds" if len(seeds) > 1
            else "no band: a single seed")
    validation = "the test set (2017 protocol)" if (not runs.empty and runs.iloc[0]["protocol"] == "seed") \
        else "a held-out validation split"
    return (f"*Figure — {what} Lines: mean over {len(seeds)} seed{'s' if len(seeds) != 1 else ''} per "
            f"configuration; {band}. Validation set: {validation}.*")
