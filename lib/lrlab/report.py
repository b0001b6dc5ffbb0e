"""What the report says about itself and its runs: when and where it was built, with what, on which data."""

import html
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from . import machine
from .config import FAMILY_TITLES, PROJECT_ROOT, learning_rate_grid
from .data import is_official
from .health import evidence_accuracy, failure_counts, guessing_loss, learned_loss
from .optimizers import ADAPTIVE_DEFAULTS, DISPLAY_NAMES, is_sgd
from .tasks import TASKS, metric_of


def _git(*args):
    try:
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def build_info() -> dict:
    """Where and from what this report was rendered (the runs may have trained elsewhere: `trained_on`)."""
    import os

    commit = _git("rev-parse", "--short=12", "HEAD") or "unknown"
    # the published report is itself tracked: rebuilding it must not count as a change to the code
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!outputs"))
    return {
        "built_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "cpu": f"{machine.cpu_model()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "versions": machine.versions(),
    }


def trained_on(runs) -> str:
    """The devices and backends the runs trained on, from their summaries, with how many runs each."""
    if runs.empty:
        return "no runs"
    keys = ["device", "backend", "backend_version", "cuda", "keras_version"]
    runs = runs.assign(**{c: runs[c].fillna("").astype(str) if c in runs else "" for c in keys})
    groups = runs.groupby(keys, sort=False).size()
    parts = []
    for (device, backend, version, cuda, keras), n in groups.items():
        count = f"{n} run{'s' if n != 1 else ''}"
        backend = f"{backend} {version}".strip() + (f", CUDA {cuda}" if cuda else "")
        parts.append(f"{device} with Keras {keras} on {backend} ({count})" if device != "not recorded" else
                     f"Keras {keras} on {backend}, device not recorded ({count} stored before lrlab recorded it)")
    return "; ".join(parts)


def header_markdown(info: dict, profile: str, runs=None) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    trained = f" Runs trained on: {trained_on(runs)}." if runs is not None else ""
    return (f"*Report rendered {info['built_at']} from commit `{info['commit']}`, profile `{profile}`, on "
            f"{info['cpu']}; Python {info['python']}; {versions}.{trained}*")


def task_name(runs) -> str:
    """The task's own name (lrlab.tasks): "cat vs dog (2 CIFAR-10 classes, chance 50%)"."""
    if runs.empty:
        return "CIFAR-10"
    return TASKS[runs.iloc[0]["task"]].display_name


def title(runs) -> str:
    return f"Learning-rate schedules and adaptive optimizers: {task_name(runs)}"


def budget_line(runs) -> str:
    """Budget, seeds and protocol in one line."""
    if runs.empty:
        return ""
    first = runs.iloc[0]
    protocol = ("validation on the test set (the 2017 protocol)" if first["protocol"] == "seed" else
                "held-out validation, test set used once")
    return (f"{runs['label'].nunique()} configurations × {runs['seed'].nunique()} seeds, {int(first['epochs'])} "
            f"epochs each, model `{first['model']}`, {protocol}.")


def describe_runs(runs) -> str:
    """What was trained, from the stored configurations themselves."""
    if runs.empty:
        return "No completed runs."
    first = runs.iloc[0]
    seeds = sorted(runs["seed"].unique())
    task = TASKS[first["task"]]
    validation = ("the official test set, as in 2017 (so best-epoch figures are optimistic)"
                  if first["protocol"] == "seed" else "a held-out part of the training set" if task.classes else
                  "the first half of nanoGPT's held-out last tenth of the text (the second half is the test set)")

    def value(column, fmt="{}"):
        """One value when every run agrees; otherwise each family's, so a mixed report says it is mixed."""
        per_family = runs.groupby("family", sort=False)[column].agg(
            lambda v: ", ".join(sorted({fmt.format(x) for x in v})))
        if per_family.nunique() == 1:
            return per_family.iloc[0]
        return "; ".join(f"{v} ({FAMILY_TITLES[f]})" for f, v in per_family.items())

    fingerprints = sorted(runs["fingerprint"].unique())
    if not task.classes:
        source = f"{task.data_name} (SHA-256 of the text {', '.join(f[:16] for f in fingerprints)}…)"
    elif len(fingerprints) > 1:
        source = f"{len(fingerprints)} different copies of the data (SHA-256 {', '.join(f[:12] for f in fingerprints)})"
    elif is_official(fingerprints[0]):
        source = "the official CIFAR-10 archive (SHA-256 verified)"
    elif fingerprints[0] == "keras-download":
        source = "CIFAR-10 as downloaded and checked by Keras"
    else:
        source = f"a CIFAR-10 copy other than the official archive (SHA-256 {fingerprints[0][:16]}…)"
    return (f"{len(runs)} runs: {runs['label'].nunique()} configurations × seeds {', '.join(map(str, seeds))}. "
            f"Task: {task.display_name}; {value('n_train', '{:,}')} training {task.examples}; validation on "
            f"{value('n_validation', '{:,}')} {task.examples} of {validation}. Model `{value('model')}`, "
            f"{value('epochs')} epochs, batch size {value('batch_size')}, {value('precision')} arithmetic. "
            f"Data: {source}." + _task_terms(task))


def _task_terms(task) -> str:
    """What "accuracy" means on the task, where it is not an image's class, what ranks the configurations where it
    is not the accuracy, and the task's published reference."""
    terms = (f" Here *accuracy* is the {task.metric_display} (every position of a window, each predicting the "
             f"character after it) and the loss its cross-entropy." if task.metric_display != "accuracy" else "")
    if not task.metric.higher_is_better:
        terms += (f" **Configurations are ranked by validation {task.metric.name}** (nats per character, lower is "
                  f"better; guessing scores ln of the alphabet's size): every mean, difference, verdict and "
                  f"ranking below is in it, the accuracy shown beside it in the figures of curves.")
    return terms + (f" Reference for the task: {task.reference}." if task.reference else "")


def describe_missing(missing) -> str:
    if not missing:
        return ""
    items = "; ".join(f"**{FAMILY_TITLES[f]}** — {why}" for f, why in missing)
    return f"**Incomplete report.** Missing from every figure and table below: {items}."


def caption(what: str, runs) -> str:
    """A curves figure's caption: what is shown, over how many seeds, what the lines are, the validation set."""
    seeds = sorted(runs["seed"].unique()) if not runs.empty else []
    return (f"{what} Thin lines: each of the {len(seeds)} seed{'s' if len(seeds) != 1 else ''}; bold: their mean "
            f"over the healthy seeds; dotted: a failed seed (did not learn, fell back to chance or diverged), left "
            f"out of the mean. "
            f"Validation set: {_validation(runs)}.")


def forest_caption(diffs, confidence) -> str:
    level = round(100 * confidence)
    size = int(diffs["family_size"].max()) if len(diffs) else 0
    same = diffs[diffs["identical"].astype(bool)]["configuration"].tolist()
    metric = metric_of(diffs)
    direction = "" if metric.higher_is_better else " (lower is better: a better configuration lies left of zero)"
    return (f"Each configuration's mean final validation {metric.name} minus constant-rate SGD's{direction}, paired "
            f"by seed, over the healthy seeds, with its {level}% simultaneous interval over the {size} comparisons "
            f"(Bonferroni): the "
            f"interval every verdict of the report is read from. Filled: clearly better or worse (the interval "
            f"excludes zero); open: no clear difference. Right: on how many seeds the configuration was ahead, and "
            f"its failed seeds (left out)."
            + (f" Left out: {', '.join(same)}, run for run identical to constant-rate SGD." if same else ""))


def forest_alt(diffs, name_of) -> str:
    """The forest plot's alt text states its finding."""
    shown = diffs[~diffs["identical"].astype(bool) & diffs["difference"].notna()]
    def named(verdict):
        return ", ".join(name_of.get(c, c) for c in shown.loc[shown["verdict_adj"] == verdict, "configuration"])

    untested = shown[shown["ci_low_adj"].isna()]
    return (f"Forest plot of {len(shown)} differences to constant-rate SGD. Clearly better: "
            f"{named('clearly better') or 'none'}. Clearly worse: {named('clearly worse') or 'none'}. No clear "
            f"difference: {named('no clear difference') or 'none'}."
            + (f" Without an interval (fewer than two healthy seeds): "
               f"{', '.join(name_of.get(c, c) for c in untested['configuration'])}." if len(untested) else ""))


def _validation(runs) -> str:
    return ("the test set (2017 protocol)" if (not runs.empty and runs.iloc[0]["protocol"] == "seed")
            else "a held-out validation split")


def failure_rule(runs) -> str:
    """The rule that named runs as failed, with this report's numbers."""
    if runs.empty:
        return ""
    first = runs.iloc[0]
    n_classes, n_train = int(first["n_classes"]), int(first["n_train"])
    examples = TASKS[first["task"]].examples
    return (f"**Failed runs.** A run *did not learn* when no epoch of its training showed learning: training "
            f"accuracy at least {100 * evidence_accuracy(n_classes, n_train):.1f}% (chance, "
            f"{100 / n_classes:.0f}%, plus three standard errors of guessing on {n_train:,} training {examples}) "
            f"with a "
            f"training loss below {learned_loss(n_classes, n_train):.5f} (what a calibrated classifier of that "
            f"accuracy scores; guessing scores ln {n_classes} = {guessing_loss(n_classes):.5f}). It *fell back to "
            f"chance* when it learned but its last epoch's training accuracy was back below that line, and *diverged* "
            f"when its training loss became NaN. Judged on training, not on one lucky validation epoch. Failed runs "
            f"are counted beside every mean and never averaged in: means, intervals, rankings and differences use the "
            f"healthy seeds.")


def optimizer_settings(optimizers, hyper) -> str:
    """Each method's settings as run, one line per method: what the report states as its defaults."""
    lines = []
    for name in optimizers:
        values = ", ".join(f"{key}={hyper[f'{name}_{key}']:g}" for key in ADAPTIVE_DEFAULTS[name])
        lines.append(f"- **{DISPLAY_NAMES[name]}**: {values}")
    return "\n".join(lines)


def grid_markdown(optimizers, sgd_lr, points, span) -> str:
    """The learning-rate grid of each method in the sensitivity sweep."""
    defaults = {"sgd": sgd_lr} | {n: ADAPTIVE_DEFAULTS[n]["lr"] for n in optimizers}
    return "\n".join(f"- **{DISPLAY_NAMES[n]}** (default {lr:g}): "
                     f"{', '.join(f'{x:.3g}' for x in learning_rate_grid(lr, points, span))}"
                     for n, lr in defaults.items())


def range_test_caption(tests) -> str:
    seeds = sorted(set(tests["seed"])) if len(tests) else []
    which = f"on seed {seeds[0]}" if len(seeds) == 1 else f"one line per seed ({', '.join(map(str, seeds))})"
    return (f"Training loss (bias-corrected moving average) against a learning rate that grows exponentially every "
            f"batch, one short run per method {which}, its first tenth left out; the dotted red line is the "
            f"suggested rate, a tenth of the rate at the lowest smoothed loss (the median over the seeds' tests), "
            f"shown only where that loss lies at least 1% below the loss at the start (otherwise: \"no clear "
            f"dip\"). Data: the training split.")


def describe_protocol(runs) -> str:
    """Which validation protocol produced the numbers, in words a reader without the code can follow."""
    if runs.empty:
        return ""
    protocols = set(runs["protocol"])
    split = ("a validation split carved from the training set (stratified by class, fixed by its data seed)"
             if TASKS[runs.iloc[0]["task"]].classes else
             "held-out text the training never sees (the first half of the text's last tenth)")
    if protocols == {"holdout"}:
        return ("**Protocol: held-out validation.** Curves, the choice of best epoch and of best learning rate, and "
                f"every ranking use {split}; the test set was used once per run, after its last epoch, and is "
                "reported apart.")
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
    lines = [f"- **{html.escape(r['label'])}**: {r['optimizer_settings']}" for _, r in rows.iterrows()]
    if rows["optimizer"].map(lambda o: is_sgd(o) and o != "sgd").any():
        lines.append("\nSGD with momentum and with Nesterov momentum run beside the adaptive methods as references; "
                     "they are SGD, not adaptive methods, and are left out of \"the best adaptive method\".")
    return "\n".join(lines)


def schedule_caption(runs, mismatch) -> str:
    plateau = (runs["schedule"] == "reduce_on_plateau").any()
    return ("The learning rate of each SGD schedule over the whole run (log scale), from its closed form in "
            "`lrlab.schedules`, per batch where it changes per batch; black dots: the rate the optimizer reported at "
            f"each epoch's first batch (the largest relative difference between the two is {mismatch:.1e})."
            + (" Reduce-on-plateau has no closed form: its logged per-epoch rates, one line per seed." if plateau
               else ""))


def time_caption(target, target_fraction, runs=None) -> str:
    metric = metric_of(runs)
    if target != target:  # NaN: no value recorded
        return f"No validation {metric.name} recorded."
    plateau = runs is not None and "schedule" in runs and (runs["schedule"] == "reduce_on_plateau").any()
    return (f"Epochs until a configuration's mean validation {metric.name} over its healthy seeds first reaches "
            f"{metric.text(target)} ({metric.target_text(target_fraction)} reached by a "
            f"configuration whose every seed learned), fastest first; \"not reached\" where it never does."
            + (" ReduceLROnPlateau's seeds trained one at a time, the others' together." if plateau else ""))


def sensitivity_conclusions(table) -> str:
    """What the learning-rate sweep says, from its table: gains from tuning, rates that failed, best rates on the
    grid's edge."""
    if table is None or table.empty:
        return ""
    lines = []
    metric = metric_of(table)
    # the gain from tuning, positive where the best rate is better (higher accuracy, lower loss)
    gains = table.assign(gain=metric.ahead(table["at_best"], table["at_default"])).sort_values("gain",
                                                                                                ascending=False)
    top = gains.iloc[0]
    if top["gain"] == top["gain"]:
        strongest = table.loc[metric.best_index(table["at_best"])]
        lines.append(f"- **Tuning the learning rate:** the largest gain from the best rate on the grid over the "
                     f"default is {top['method']}'s, {metric.points(top['gain']):.{metric.decimals}f} "
                     f"{metric.difference_unit} ({top['default_lr']:g} → "
                     f"{top['best_lr']:.3g}). The {metric.best_word} validation {metric.name} at any method's best "
                     f"rate is {strongest['method']}'s {metric.text(strongest['at_best'])} at "
                     f"{strongest['best_lr']:.3g}; that rate was picked on the validation set among "
                     f"{int(strongest['points'])}, so it flatters the method (test {metric.name} there: "
                     f"{metric.text(strongest['test_at_best'])}, against {metric.text(strongest['test_at_default'])} "
                     f"at its default).")
    failed = table[table["failed_rates"] != ""]
    if not failed.empty:
        lines.append("- **Rates where a seed failed** (never chosen as best):")
        lines += [f"  - {r.method}: {r.failed_rates}" for r in failed.itertuples()]
    edge = table[table["on_edge"]]
    if not edge.empty:
        lines.append("- **Best rate on the grid's edge** (a better one may lie beyond):")
        lines += [f"  - {r.method}: {r.best_lr:.3g}" for r in edge.itertuples()]
    return "\n".join(lines)


def seeds_caption(runs) -> str:
    """The caption of the every-seed figure: boxes and dots, not means and bands."""
    seeds = sorted(runs["seed"].unique()) if not runs.empty else []
    counts = failure_counts(runs["status"] if not runs.empty else [])
    stuck, diverged = counts["did_not_learn"] + counts["collapsed"], counts["diverged"]
    metric = metric_of(runs)
    return (f"Final validation {metric.name} of every seed ({len(seeds)} per configuration): a dot per healthy seed "
            f"over a box from the lower to the upper quartile of the healthy seeds with their median; best mean first."
            + (f" Red crosses: {stuck} seed{'s' if stuck != 1 else ''} that did not learn or fell back to chance."
               if stuck else "")
            + (f" {diverged} diverged seed{'s have' if diverged != 1 else ' has'} no {metric.name} and "
               f"{'are' if diverged != 1 else 'is'} not drawn." if diverged else "")
            + f" Validation set: {_validation(runs)}.")


SECTIONS = Path(__file__).parent / "templates" / "sections"


def text_samples(table: pd.DataFrame, runs: pd.DataFrame) -> str:
    """A text task's best and worst configurations in their own words: what the first seed of each wrote after
    training (lrlab.train.text_samples, one stream of random numbers for every run), best and worst by the summary
    table's order (a configuration with a failed seed ranks last)."""
    written = runs[runs["sample"].notna()] if "sample" in runs else runs.iloc[0:0]
    ranked = [c for c in table["configuration"] if c in set(written["label"])] if not table.empty else []
    if len(ranked) < 2:
        return ""
    parts = []
    for which, label in [("Best", ranked[0]), ("Worst", ranked[-1])]:
        run = written[written["label"] == label].sort_values("seed").iloc[0]
        mean = table.loc[table["configuration"] == label, "final_mean"].iloc[0]
        metric = metric_of(table)
        score = f"mean final validation {metric.name} {metric.text(mean)}" if mean == mean else "every seed failed"
        parts.append(f"**{which}: {html.escape(label)}** ({score}; seed {run['seed']}):\n\n```text\n"
                     f"{run['sample'].strip()}\n```")
    return "\n\n".join(parts)


def section(name: str) -> str:
    """The opening prose of one of the report's optional sections (templates/sections/<name>.md): compare.ipynb
    shows it when the section's runs are there, and keeps no prose inside its Python."""
    return (SECTIONS / f"{name}.md").read_text().strip()
