"""The report's figures, drawn with matplotlib and seaborn from the history tables.

Rules every figure follows, so a reader can compare them: one fixed colour per configuration (`colours`: SGD
schedules in cool colours, adaptive methods in warm ones, constant-rate SGD always dark grey), at most eight lines
per panel (small multiples beyond that, constant-rate SGD drawn in each as the reference), each seed as a thin
line under its configuration's mean over the healthy seeds (a failed seed dotted, never averaged in), accuracy in
percent, and y-axes fitted to the healthy runs. Figures of one number per run (final values, differences, budgets)
show the task's metric (lrlab.tasks.metric_of): accuracy, or a loss, best first either way.
"""

import functools
import math

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter

from .health import HEALTHY
from . import schedules
from .optimizers import CLASSIC_ADAPTIVE, OPTIMIZERS
from .results import short_names  # noqa: F401 (the notebooks name lines with it)
from .tasks import metric_of

# Fixed colours, by schedule (SGD families) or by optimizer (adaptive family), so that a configuration keeps its
# colour in every figure and every report: each schedule's and method's own, declared with it (lrlab.schedules,
# lrlab.optimizers). Yours (the custom family) is drawn beside constant SGD (grey), cosine decay (blue) and Adam
# (pink).
BASELINE_COLOUR = OPTIMIZERS["sgd"].colour


def schedule_colour(name):
    return schedules.CUSTOM_COLOUR if name == "custom" else getattr(schedules.SCHEDULES.get(name), "colour", None)


def optimizer_colour(name):
    return schedules.CUSTOM_COLOUR if name == "custom" else getattr(OPTIMIZERS.get(name), "colour", None)


def tuned_colour(key):
    """A tuned method's colour (config.tuned_method): the optimizer's, or under a schedule the schedule's."""
    optimizer, _, schedule = key.partition("+")
    return schedule_colour(schedule) if schedule else optimizer_colour(optimizer)

MAX_LINES = 8
# how a family notebook's figure draws training and validation (lrlab.notebook_text says it in words from this)
TRAINING_STYLE, VALIDATION_STYLE = "dashed", "solid"


def _themed(draw):
    """Draw under the report's seaborn style without changing the caller's matplotlib settings."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=1.0), \
                plt.rc_context({"legend.fontsize": 10, "axes.titlesize": 12, "figure.dpi": 100}):
            figure = draw(*args, **kwargs)
            # a backend loaded by this first figure (Jupyter's inline one turns interactive mode on) keeps its
            # setting: rc_context would restore it to off, and a notebook's next figures would not be shown
            interactive = matplotlib.is_interactive()
        matplotlib.interactive(interactive)
        return figure
    return wrapper


def _key(row):
    return ("schedule", row["schedule"]) if row["optimizer"] == "sgd" else ("optimizer", row["optimizer"])


def colours(runs: pd.DataFrame) -> dict:
    """label -> colour. Configurations that would share a colour (a grid of rates, the same schedule twice) get
    seaborn's husl hues instead, so two lines of one panel never look alike."""
    configs = runs.drop_duplicates("label")
    wanted = {}
    for _, row in configs.iterrows():
        kind, name = _key(row)
        wanted[row["label"]] = (schedule_colour if kind == "schedule" else optimizer_colour)(name)
    clashes = [label for label, c in wanted.items() if c is None or list(wanted.values()).count(c) > 1]
    spare = iter(sns.color_palette("husl", len(clashes)).as_hex())
    return {label: next(spare) if label in clashes else c for label, c in wanted.items()}


def panel_groups(runs: pd.DataFrame, baseline=None) -> list:
    """[(title, labels)]: the compared configurations in panels of at most MAX_LINES lines, the constant-rate
    baseline first in each; the 2017 schedules, the modern ones, the 2017 adaptive methods, the later ones."""
    configs = runs.drop_duplicates("label")
    classic = CLASSIC_ADAPTIVE
    groups = [("The 2017 schedules (SGD)", configs["family"].isin(["constant", "time_based_decay", "step_decay",
                                                                   "exponential_decay"])),
              ("Modern schedules (SGD)", configs["family"] == "modern_schedules"),
              ("The 2017 adaptive methods", (configs["family"] == "adaptive") & configs["optimizer"].isin(classic)),
              ("Later methods and SGD with momentum",
               (configs["family"] == "adaptive") & ~configs["optimizer"].isin(classic)),
              ("Your schedule or optimizer", configs["family"] == "custom")]
    panels = []
    for title, chosen in groups:
        labels = [label for label in configs.loc[chosen, "label"] if label != baseline]
        if not labels:
            continue
        size = MAX_LINES - (baseline is not None)
        chunks = [labels[i:i + size] for i in range(0, len(labels), size)]
        for i, chunk in enumerate(chunks):
            name = title if len(chunks) == 1 else f"{title} ({i + 1} of {len(chunks)})"
            panels.append((name, ([baseline] if baseline is not None else []) + chunk))
    return panels


def _scale(y):
    return 100.0 if "accuracy" in y else 1.0


def _draw(ax, history, x, y, colour, name, baseline=False):
    """One configuration: each seed thin (a failed one dotted), the mean over its healthy seeds bold."""
    scale = _scale(y)
    for _, seed in history.groupby("seed"):
        failed = seed["status"].iloc[0] != HEALTHY
        ax.plot(seed[x], scale * seed[y], color=colour, lw=0.9 if failed else 0.6, alpha=0.8 if failed else 0.3,
                ls=":" if failed else "-")
    healthy = history[history["status"] == HEALTHY]
    if healthy.empty:
        ax.plot([], [], color=colour, ls=":", lw=1.5, label=f"{name} (every seed failed)")
        return
    mean = healthy.groupby("epoch")[[x, y]].mean()
    failed = history.loc[history["status"] != HEALTHY, "seed"].nunique()
    suffix = f" ({failed} of {history['seed'].nunique()} seeds failed)" if failed else ""
    ax.plot(mean[x], scale * mean[y], color=colour, lw=1.6 if baseline else 2.0, ls="--" if baseline else "-",
            label=name + suffix, zorder=3)


def _fit_y(ax, history, y):
    """The y-axis spans the healthy runs (a failed or exploding seed must not squeeze the others into a strip)."""
    values = _scale(y) * history.loc[history["status"] == HEALTHY, y].dropna()
    if values.empty:
        return
    low, high = (values.min(), values.max()) if "accuracy" in y else np.quantile(values, [0.0, 0.98])
    pad = 0.05 * (high - low) or 0.5
    ax.set_ylim(low - pad, high + pad)


LABELS = {"accuracy": "training accuracy (%)", "val_accuracy": "validation accuracy (%)",
          "loss": "training loss", "val_loss": "validation loss", "epoch": "epoch",
          "elapsed_s": "seconds of training (compiling left out)"}


def _panel(ax, histories, labels, x, y, colour_of, name_of, baseline, title):
    for label in labels:
        _draw(ax, histories[histories["label"] == label], x, y, colour_of[label], name_of[label], label == baseline)
    _fit_y(ax, histories[histories["label"].isin(labels)], y)
    ax.set(title=title, xlabel=LABELS[x], ylabel=LABELS[y])
    if x == "epoch":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


@_themed
def curves_figure(histories, labels, colour_of, name_of, baseline, title):
    """Training and validation accuracy (top) and loss (bottom) per epoch for up to MAX_LINES configurations, as
    the 2017 article shows them."""
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.4), sharex=True)
    for ax, y in zip(axes.flat, ["accuracy", "val_accuracy", "loss", "val_loss"]):
        _panel(ax, histories, labels, "epoch", y, colour_of, name_of, baseline, LABELS[y].split(" (")[0].capitalize())
    _legend_below(fig, axes.flat[0], title)
    return fig


@_themed
def overview_figure(histories, groups, colour_of, name_of, baseline, title, x="epoch", y=None):
    """One panel per group of configurations, with a shared y-axis: every configuration at once, eight lines a
    panel at most; y the task's validation metric unless named. With x="elapsed_s", against seconds instead of
    epochs."""
    y = y or metric_of(histories).history
    n = len(groups)
    cols = min(2, n)
    rows = math.ceil(n / cols)
    most = max(len(labels) for _, labels in groups)
    legend_height = 0.2 * math.ceil(most / 2) + 0.4  # inches below each panel for its legend
    fig, axes = plt.subplots(rows, cols, figsize=(6.4 * cols, (4.2 + legend_height) * rows), sharey=True,
                             squeeze=False)
    for ax, (group_title, labels) in zip(axes.flat, groups):
        _panel(ax, histories, labels, x, y, colour_of, name_of, baseline, group_title)
        # under the panel, never over the curves
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=10, frameon=False)
        ax.yaxis.set_tick_params(labelleft=True)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    in_groups = histories[histories["label"].isin([label for _, labels in groups for label in labels])]
    _fit_y(axes.flat[0], in_groups, y)
    return _titled(fig, title)


def _legend_below(fig, ax, title):
    handles, labels = ax.get_legend_handles_labels()
    fig.suptitle(title, fontsize=14)
    rows = math.ceil(len(labels) / 2)
    fig.tight_layout(rect=(0, 0.035 * rows + 0.02, 1, 0.97))
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=10, frameon=False)


def _panels(n, max_cols, width, height, extra=0.5, **kwargs):
    """A figure of n panels in rows of at most `max_cols`, each `width` × `height` inches (and `extra` for the
    title): (fig, the n axes), the grid's spare panels hidden."""
    cols = min(max_cols, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows + extra), squeeze=False, **kwargs)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat)[:n]


def _titled(fig, title):
    fig.suptitle(title, fontsize=14)
    fig.tight_layout()
    return fig


def schedule_rates(schedule: dict, epochs: int, steps_per_epoch: int, samples_per_epoch=64):
    """(epoch positions, rates): the rate a closed-form schedule gives, sampled within every epoch (per-batch
    schedules change within one); None for ReduceLROnPlateau, which has no closed form."""
    if not schedules.has_formula(schedule["name"]):
        return None
    formula, per_batch = schedules.SCHEDULES[schedule["name"]].formula, schedules.SCHEDULES[schedule["name"]].per_batch
    params = {k: v for k, v in schedule.items() if k != "name"}
    if not per_batch:
        x = np.arange(epochs + 1)
        return x, np.array([formula(min(e, epochs - 1), **params) for e in x])
    total = epochs * steps_per_epoch
    t = np.unique(np.linspace(0, total, epochs * samples_per_epoch + 1).round().astype(int))
    return t / steps_per_epoch, np.array([formula(int(step), **params) for step in t])


@_themed
def schedule_shapes_figure(runs, histories, colour_of, name_of, title):
    """One small panel per SGD schedule: the rate it applies within the whole run, drawn from its closed form
    (per batch where it changes per batch), with the rates the optimizer reported at each epoch's first batch as
    dots on top. ReduceLROnPlateau has no closed form: its logged per-epoch rates, one line per seed."""
    import json

    configs = runs.drop_duplicates("label")
    configs = configs[configs["optimizer"] == "sgd"]
    if configs.empty:
        return _nothing_to_draw(title, "no SGD schedule in this report")
    fig, axes = _panels(len(configs), 4, 3.4, 2.7)
    for ax, (_, row) in zip(axes, configs.iterrows()):
        colour = colour_of[row["label"]]
        logged = histories[histories["label"] == row["label"]]
        drawn = schedule_rates(json.loads(row["schedule_params"]), int(row["epochs"]),
                               math.ceil(row["n_train"] / row["batch_size"]))
        if drawn is None:
            for _, seed in logged.groupby("seed"):
                ax.step(np.r_[seed["epoch"] - 1, seed["epoch"].max()], np.r_[seed["lr"], seed["lr"].iloc[-1]],
                        where="post", color=colour, lw=1.2, alpha=0.7)
        else:
            ax.plot(*drawn, color=colour, lw=1.6, drawstyle="steps-post" if len(drawn[0]) == row["epochs"] + 1
                    else "default")
            first = logged[logged["seed"] == logged["seed"].min()]
            ax.plot(first["epoch"] - 1, first["lr"], "o", ms=2.5, color="black", alpha=0.6)
        ax.set_yscale("log")
        rates = np.asarray(logged["lr"] if drawn is None else np.r_[drawn[1], logged["lr"]], dtype=float)
        rates = rates[rates > 0]  # a decay to exactly zero (linear to zero, a cooldown) has no place on a log axis
        low, high = float(np.min(rates)), float(np.max(rates))
        if high / low < 4:  # a flat or nearly flat schedule: a decade around it, not a zoom into rounding
            low, high = min(low, high / 4), max(high, low * 4)
        ax.set_ylim(low / 1.5, high * 1.5)
        ax.yaxis.set_major_locator(LogLocator(numticks=4))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_title(name_of[row["label"]], fontsize=11)
        ax.set_xlabel("epoch", fontsize=10)
        ax.set_ylabel("learning rate", fontsize=10)
        ax.tick_params(labelsize=10)
    return _titled(fig, title)


def schedule_mismatch(runs, histories) -> float:
    """The largest relative difference between a closed-form schedule at each epoch's first batch and the rate the
    optimizer reported there, over every SGD run with a closed form: how far the figure's lines are from what
    trained (float32 rounding is about 1e-7)."""
    import json

    worst = 0.0
    for _, row in runs[runs["optimizer"] == "sgd"].drop_duplicates("label").iterrows():
        schedule = json.loads(row["schedule_params"])
        if not schedules.has_formula(schedule["name"]):
            continue
        steps = math.ceil(row["n_train"] / row["batch_size"])
        logged = histories[(histories["label"] == row["label"])]
        for epoch, lr in zip(logged["epoch"], logged["lr"]):
            expected = schedules.lr_at(schedule, int(epoch) - 1, steps)
            # relative where the rate is not zero (a warm-up from zero, a decay to zero: absolute there)
            worst = max(worst, abs(lr - expected) / expected if expected else abs(lr))
    return worst


@_themed
def preview_figure(preview):
    """The rate a schedule will apply at every step of the planned run (lrlab.user_code.preview), against epochs,
    with the run's end marked."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    rates = preview.rates
    ax.plot(rates["epoch"], rates["lr"], color=schedules.CUSTOM_COLOUR, lw=1.8)
    ax.axhline(0, color="black", lw=0.6)
    ax.axvline(preview.epochs, color="grey", ls=":", lw=1)
    ax.set(xlabel=f"epoch ({preview.steps_per_epoch} steps each; the dotted line is the end of training)",
           ylabel="learning rate", xlim=(0, preview.epochs * 1.02))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _titled(fig, f"The rate {preview.name} applies at every step")


@_themed
def family_figure(histories, title):
    """One family notebook's runs: learning rate, accuracy and loss per epoch, each configuration its own colour:
    validation as in the report (each seed thin, a failed one dotted, the healthy seeds' mean bold), training as
    the healthy seeds' mean, dashed."""
    palette = dict(zip(histories["label"].unique(), sns.color_palette("deep", histories["label"].nunique())))
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    for label, history in histories.groupby("label", sort=False):
        first = history[history["seed"] == history["seed"].min()]
        axes[0].step(first["epoch"], first["lr"], where="post", color=palette[label], label=label)
        for ax, metric in zip(axes[1:], ["accuracy", "loss"]):
            _draw(ax, history, "epoch", f"val_{metric}", palette[label], label)
            healthy = history[history["status"] == HEALTHY]
            mean = (healthy if not healthy.empty else history).groupby("epoch")[metric].mean()
            ax.plot(mean.index, _scale(metric) * mean, color=palette[label], ls=TRAINING_STYLE, lw=1.2)
    axes[0].set(title="Learning rate at each epoch's first batch", xlabel="epoch", ylabel="learning rate",
                yscale="log")
    axes[1].set(title=f"Accuracy ({TRAINING_STYLE}: training)", xlabel="epoch", ylabel="accuracy (%)")
    axes[2].set(title=f"Loss ({TRAINING_STYLE}: training)", xlabel="epoch", ylabel="loss")
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _legend_below(fig, axes[0], title)
    return fig


@_themed
def final_values_figure(runs, title, colour_of=None, name_of=None):
    """Every seed's final validation value of the task's metric per configuration: a box over the healthy seeds, a
    dot per healthy seed, a cross per failed one; best mean first. Diverged seeds have no value and are counted in
    the caption."""
    metric = metric_of(runs)
    data = runs[runs[metric.final].notna()]
    if data.empty:
        return _nothing_to_draw(title, "no seed finished without diverging")
    colour_of = colour_of or colours(runs)
    name_of = name_of or {label: label for label in runs["label"].unique()}
    data = data.assign(value=metric.scale * data[metric.final], name=data["label"].map(name_of))
    healthy, failed = data[data["status"] == HEALTHY], data[data["status"] != HEALTHY]
    order_means = healthy.groupby("label")[metric.final].mean().reindex(data["label"].unique())
    order = order_means.sort_values(ascending=not metric.higher_is_better, na_position="last").index
    names = [name_of[label] for label in order]
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(order) + 1.8))
    sns.boxplot(data=healthy, y="name", x="value", order=names, color="0.92", showfliers=False, ax=ax, width=0.6)
    edge = None
    if not healthy.empty and not failed.empty:
        # the axis spans the healthy seeds; a failed seed sits at the worse edge (left for accuracy, right for a
        # loss), its value in the legend
        low, high = healthy["value"].min(), healthy["value"].max()
        pad = 0.08 * (high - low) or (0.5 if metric.higher_is_better else 0.01)  # points, or nats
        if metric.higher_is_better:
            ax.set_xlim(low - 3 * pad, high + pad)
            edge = low - 2.5 * pad
        else:
            ax.set_xlim(low - pad, high + 3 * pad)
            edge = high + 2.5 * pad
    for i, label in enumerate(order):
        rows = data[data["label"] == label]
        jitter = np.linspace(-0.15, 0.15, len(rows)) if len(rows) > 1 else np.zeros(1)
        ok = (rows["status"] == HEALTHY).to_numpy()
        ax.scatter(rows["value"][ok], i + jitter[ok], s=28, color=colour_of[label], zorder=3,
                   edgecolor="white", linewidth=0.5)
        ax.scatter(rows["value"][~ok] if edge is None else np.full((~ok).sum(), edge), i + jitter[~ok], s=40,
                   marker="x", color="#b00020", zorder=3, label="failed" if (~ok).any() else None, clip_on=False)
    if not failed.empty:
        text = ("a failed seed (did not learn)" if edge is None else
                f"a failed seed (did not learn: {metric.number(failed[metric.final].min())}–"
                f"{metric.text(failed[metric.final].max())}), "
                f"drawn at the {'left' if metric.higher_is_better else 'right'} edge")
        ax.legend(ax.get_legend_handles_labels()[0][:1], [text], loc="upper center",
                  bbox_to_anchor=(0.5, -0.08 - 0.6 / len(order)), fontsize=10, frameon=False)
    ax.set(title=title, xlabel=f"final validation {metric.axis}", ylabel="")
    fig.tight_layout()
    return fig


@_themed
def budget_figure(table, title, metric=None):
    """How the ranking moves with the budget: mean final validation value of the metric (with its interval) and
    rank against the number of epochs, one line per method in its fixed colour."""
    metric = metric or metric_of(table)
    budgets = sorted(table["epochs"].unique())
    if len(budgets) < 1 or table["mean"].notna().sum() == 0:
        return _nothing_to_draw(title, "no budget run completed")
    fig, (acc, rank) = plt.subplots(1, 2, figsize=(11, 4.6))
    position = {b: i for i, b in enumerate(budgets)}
    for (kind, key), group in table.groupby(["kind", "key"], sort=False):
        group = group.sort_values("epochs")
        x = group["epochs"].map(position)
        colour = (optimizer_colour if kind == "optimizer" else schedule_colour)(key) or BASELINE_COLOUR
        style = "--" if kind == "schedule" and key == "constant" else "-"
        scale = metric.scale
        acc.errorbar(x, scale * group["mean"], yerr=[scale * (group["mean"] - group["low"]).fillna(0),
                                                     scale * (group["high"] - group["mean"]).fillna(0)],
                     color=colour, ls=style, marker="o", ms=4, capsize=3, lw=1.6, label=group["method"].iloc[0])
        rank.plot(x, group["rank"], color=colour, ls=style, marker="o", ms=5, lw=1.6)
        rank.annotate(group["method"].iloc[-1], (x.iloc[-1], group["rank"].iloc[-1]), xytext=(6, 0),
                      textcoords="offset points", va="center", fontsize=10, color=colour)
    for ax in (acc, rank):
        ax.set_xticks(range(len(budgets)), [f"{b} epochs" for b in budgets])
        ax.set_xlim(-0.3, len(budgets) - 0.3 + (0.9 if ax is rank else 0))
        ax.set_xlabel("training budget")
    acc.set_ylabel(f"final validation {metric.axis}")
    acc.set_title(f"{metric.name.capitalize()} (mean, 95% interval)")
    rank.set_ylabel("rank (1 = best)")
    rank.invert_yaxis()
    rank.yaxis.set_major_locator(MaxNLocator(integer=True))
    rank.set_title("Rank")
    handles, labels = acc.get_legend_handles_labels()
    rows = math.ceil(len(labels) / 4)
    fig.suptitle(title, fontsize=14)
    fig.tight_layout(rect=(0, (0.3 * rows + 0.3) / fig.get_figheight(), 1, 0.97))  # room below for the legend
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=10, frameon=False)
    return fig


@_themed
def forest_figure(diffs, colour_of, name_of, title):
    """Every configuration minus constant-rate SGD: the difference (points, nats) with its simultaneous interval
    (the one its verdict is read from), clear ones filled, the seeds ahead and any failed seeds written beside it;
    best first (at the top). Identical runs are left out (the caption says so)."""
    metric = metric_of(diffs)
    shown = diffs[~diffs["identical"].astype(bool) & diffs["difference"].notna()].sort_values(
        "difference", ascending=metric.higher_is_better)
    if shown.empty:
        return _nothing_to_draw(title, "no configuration to compare with constant-rate SGD")
    fig, ax = plt.subplots(figsize=(10, 0.5 * len(shown) + 1.6))
    for i, (_, r) in enumerate(shown.iterrows()):
        colour = colour_of.get(r["configuration"], "0.3")
        clear = str(r.get("verdict_adj", "")).startswith("clearly")
        if r["ci_low_adj"] == r["ci_low_adj"]:
            ax.plot([r["ci_low_adj"], r["ci_high_adj"]], [i, i], color=colour, linewidth=3, solid_capstyle="butt")
        ax.scatter([r["difference"]], [i], s=70, zorder=3, color=colour if clear else "white", edgecolor=colour,
                   linewidth=2)
        note = f"{int(r['wins'])}/{int(r['pairs'])} seeds ahead" if r["pairs"] else "no pairs"
        if r["failed"]:
            note += f"; {r['failed']}"
        ax.annotate(note, (1.01, i), xycoords=("axes fraction", "data"), va="center", fontsize=10,
                    color="#b00020" if r["failed"] else "0.25", annotation_clip=False)
    ax.axvline(0, color=BASELINE_COLOUR, linewidth=1.2, linestyle="--")
    ax.set_yticks(range(len(shown)), [name_of.get(c, c) for c in shown["configuration"]])
    ax.set(title=title, xlabel=f"difference to constant-rate SGD, {metric.difference_unit} of final validation "
                               f"{metric.name}" + ("" if metric.higher_is_better else " (left: lower, better)"),
           ylabel="")
    ax.tick_params(labelsize=11)
    fig.tight_layout()
    return fig


@_themed
def performance_profile_figure(profile, tuned_of, title):
    """AlgoPerf's performance profile: for each method, the share of tasks on which it reached the task's target
    within τ times the fastest method's epochs, against τ; a step line per method in its fixed colour."""
    if profile.empty or not profile.to_numpy().any():
        return _nothing_to_draw(title, "no method reached a task's target")
    fig, ax = plt.subplots(figsize=(9, 4.6))
    for i, name in enumerate(profile.columns):
        # a point or so apart, so that equal profiles stay visible, and never more than 2 points off their value
        offset = min(1.5, 4 / max(1, len(profile.columns) - 1)) * (i - (len(profile.columns) - 1) / 2)
        ax.step(profile.index, 100 * profile[name] + offset, where="post", lw=2, label=name,
                color=tuned_colour(tuned_of[name]), ls="--" if tuned_of[name] == "sgd" else "-")
    ax.set(title=title, xlabel="τ: epochs to target over the fastest method's on that task",
           ylabel="tasks where the target was reached within τ (%)", ylim=(-5, 105))
    ax.set_xscale("log", base=2)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=10, frameon=False)
    fig.tight_layout()
    return fig


def _nothing_to_draw(title, why):
    fig, ax = plt.subplots(figsize=(8, 1.5))
    ax.axis("off")
    ax.text(0.5, 0.5, f"Nothing to draw: {why}.", ha="center", va="center")
    ax.set_title(title)
    return fig
