"""What the report says about itself and its runs: when and where it was built, with what, on which data."""

import html
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata

from .config import FAMILY_TITLES, PROJECT_ROOT, learning_rate_grid
from .optimizers import ADAPTIVE_DEFAULTS, DISPLAY_NAMES
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
    try:
        gpus = keras.distribution.list_devices("gpu")
    except Exception:  # a backend without the device listing, or none found
        gpus = []
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
            f"{value('epochs')} epochs, batch size {value('batch_size')}, {value('precision')} arithmetic. "
            f"Data: {source}.")


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


def optimizer_settings(optimizers, hyper) -> str:
    """Each method's settings as run, one line per method: what the report states as its defaults."""
    lines = []
    for name in optimizers:
        values = ", ".join(f"{key}={hyper[f'{name}_{key}']:g}" for key in ADAPTIVE_DEFAULTS[name])
        lines.append(f"- **{DISPLAY_NAMES[name]}**: {values}")
    return "\n".join(lines)


def grid_markdown(optimizers, sgd_lr, points, span) -> str:
    """The learning-rate grid of each method in the sensitivity sweep."""
    defaults = {"sgd": sgd_lr} | {n: ADAPTIVE_DEFAULTS[n]["lr"] for n in optimizers if not n.startswith("sgd_")}
    return "\n".join(f"- **{DISPLAY_NAMES[n]}** (default {lr:g}): "
                     f"{', '.join(f'{x:.3g}' for x in learning_rate_grid(lr, points, span))}"
                     for n, lr in defaults.items())


def range_test_caption(suggestions) -> str:
    seed = ", ".join(str(s) for s in sorted(set(suggestions["seed"]))) if len(suggestions) else "-"
    return (f"*Figure — training loss (bias-corrected moving average) against a learning rate that grows "
            f"exponentially every batch, one short run per method on seed {seed}, its first tenth left out; the dotted "
            f"red line is the suggested rate, a tenth of the rate at the lowest smoothed loss, shown only where that "
            f"loss lies at least 1% below the loss at the start (otherwise: \"no clear dip\"). Data: the training "
            f"split.*")


def describe_protocol(runs) -> str:
    """Which validation protocol produced the numbers, in words a reader without the code can follow."""
    if runs.empty:
        return ""
    protocols = set(runs["protocol"])
    if protocols == {"holdout"}:
        return ("**Protocol: held-out validation.** Curves, the choice of best epoch and of best learning rate, and "
                "every ranking use a validation split carved from the training set (stratified by class, fixed by "
                "its data seed); the test set was used once per run, after its last epoch, and is reported apart.")
    if protocols == {"seed"}:
        return ("**Protocol: the 2017 one.** The test set doubles as the validation set, as in the original "
                "experiment: curves, best epochs and rankings are all chosen on it, so they are optimistic and "
                "there is no untouched test figure.")
    return "**Mixed protocols**: some runs validate on a held-out split, others on the test set; compare with care."


def settings_from_runs(runs) -> str:
    """Each configuration's optimizer settings as stored with its runs."""
    if runs.empty:
        return ""
    rows = runs.drop_duplicates("label")
    return "\n".join(f"- **{html.escape(r['label'])}**: {r['optimizer_settings']}" for _, r in rows.iterrows())


def time_caption(target, target_fraction) -> str:
    if target != target:  # NaN: no accuracy recorded
        return "*No validation accuracy recorded.*"
    return (f"*Epochs and seconds until a configuration's mean validation accuracy first reaches "
            f"{100 * target:.1f}% ({round(100 * target_fraction)}% of the best mean accuracy any configuration "
            f"reached), fastest first; \"not reached\" where it never does. Seconds are each run's share of the "
            f"model it trained in: the seeds of a configuration train together, except under ReduceLROnPlateau, "
            f"whose seeds train one at a time and so take more seconds per epoch.*")


def sensitivity_conclusions(table) -> str:
    """What the learning-rate sweep says, from its table: gains from tuning, and best rates on the grid's edge."""
    if table is None or table.empty:
        return ""
    lines = []
    gains = table.assign(gain=100 * (table["at_best"] - table["at_default"])).sort_values("gain", ascending=False)
    top = gains.iloc[0]
    if top["gain"] == top["gain"]:
        lines.append(f"- **Tuning the learning rate:** the largest gain from the best rate on the grid over the "
                     f"default is {top['method']}'s, {top['gain']:.1f} points ({top['default_lr']:g} → "
                     f"{top['best_lr']:.3g}); at its best rate the strongest method is "
                     f"{table.loc[table['at_best'].idxmax(), 'method']} "
                     f"({100 * table['at_best'].max():.1f}%).")
    edge = table[table["on_edge"]]
    if not edge.empty:
        lines.append(f"- **Best rate on the grid's edge** (a better one may lie beyond): "
                     f"{', '.join(f'{r.method} ({r.best_lr:.3g})' for r in edge.itertuples())}.")
    return "\n".join(lines)


def seeds_caption(runs, confidence=0.95) -> str:
    """The caption of the every-seed figure: boxes and dots, not means and bands."""
    seeds = sorted(runs["seed"].unique()) if not runs.empty else []
    diverged = int((runs["status"] == "diverged").sum()) if not runs.empty else 0
    validation = "the test set (2017 protocol)" if (not runs.empty and runs.iloc[0]["protocol"] == "seed") \
        else "a held-out validation split"
    return (f"*Figure — final validation accuracy of every seed (one dot each; {len(seeds)} seeds per configuration)"
            f" over a box from the lower to the upper quartile with the median; best mean first."
            + (f" {diverged} diverged runs have no accuracy and are not drawn." if diverged else "")
            + f" Validation set: {validation}.*")
