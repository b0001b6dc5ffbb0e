"""The report's figures, drawn with seaborn from the history tables. Every figure has a title and labelled axes;
bands are the t-interval of the mean across seeds (`results.t_interval`)."""

import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from .config import FAMILY_TITLES
from .results import grid_centre, t_interval

sns.set_theme(style="whitegrid", context="notebook")


def _curves(histories, y, ax, title, ylabel, confidence, logy=False):
    # a learning rate holds for a whole epoch: draw it as steps, not as slopes between epochs
    steps = {"drawstyle": "steps-post"} if y == "lr" else {}
    sns.lineplot(data=histories, x="epoch", y=y, hue="label", errorbar=t_interval(confidence), ax=ax, legend=True,
                 **steps)
    ax.set(title=title, xlabel="epoch", ylabel=ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if logy:
        ax.set_yscale("log")
    return ax


def family_figure(histories, title, confidence=0.95):
    """One family: learning rate, training and validation accuracy, training and validation loss, per epoch."""
    long = histories.melt(id_vars=["epoch", "label", "seed"], value_vars=["accuracy", "val_accuracy", "loss",
                                                                          "val_loss"])
    long["split"] = long["variable"].map(lambda v: "validation" if v.startswith("val_") else "training")
    long["metric"] = long["variable"].str.replace("val_", "")
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.6))
    _curves(histories, "lr", axes[0], "Learning rate applied in each epoch", "learning rate (log scale)",
            confidence, logy=True)
    for ax, metric in zip(axes[1:], ["accuracy", "loss"]):
        sns.lineplot(data=long[long["metric"] == metric], x="epoch", y="value", hue="label", style="split",
                     errorbar=t_interval(confidence), ax=ax)
        ax.set(title=f"Training and validation {metric}", xlabel="epoch", ylabel=metric)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes:
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def comparison_figure(histories, title, confidence=0.95):
    """Several configurations side by side: validation accuracy and validation loss per epoch."""
    fig, axes = plt.subplots(1, 2, figsize=(16, 6))
    _curves(histories, "val_accuracy", axes[0], "Validation accuracy", "validation accuracy", confidence)
    _curves(histories, "val_loss", axes[1], "Validation loss", "validation loss", confidence)
    _shared_legend(fig, axes)
    fig.suptitle(title)
    return fig


def _shared_legend(fig, axes):
    """One legend under the panels: configuration labels are long and would hide the curves."""
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes:
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    fig.tight_layout(rect=(0, 0.02 + 0.035 * ((len(labels) + 1) // 2), 1, 0.95))
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)


def learning_rate_figure(histories, title, confidence=0.95):
    """The learning rate each configuration applied, on a log axis so decays of different shape compare."""
    fig, ax = plt.subplots(figsize=(10, 5.5))
    _curves(histories, "lr", ax, title, "learning rate (log scale)", confidence, logy=True)
    _shared_legend(fig, [ax])
    return fig


def final_accuracy_figure(runs, title):
    """Every seed's final validation accuracy per configuration: a box for the spread, a dot per seed, best mean
    first, so the reader sees the seeds behind each mean and how far apart they lie."""
    data = runs[runs["final_val_accuracy"].notna()]  # diverged seeds have no accuracy to draw
    if data.empty:
        return _nothing_to_draw(title, "no seed finished without diverging")
    order = data.groupby("label")["final_val_accuracy"].mean().sort_values(ascending=False).index
    fig, ax = plt.subplots(figsize=(11, 0.42 * len(order) + 1.6))
    data = data.assign(accuracy=100 * data["final_val_accuracy"])
    sns.boxplot(data=data, y="label", x="accuracy", order=order, color="0.9", showfliers=False, ax=ax, width=0.6)
    sns.stripplot(data=data.assign(family=data["family"].map(FAMILY_TITLES)), y="label", x="accuracy", order=order,
                  hue="family", ax=ax, size=5, jitter=0.15)
    ax.set(title=title, xlabel="final validation accuracy (%)", ylabel="")
    ax.tick_params(axis="y", labelsize=8)
    ax.legend(title="family", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def accuracy_time_figure(histories, title):
    """Mean validation accuracy against wall-clock seconds: what a reader with a time budget needs."""
    mean = histories.groupby(["label", "epoch"], sort=False)[["val_accuracy", "elapsed_s"]].mean().reset_index()
    fig, ax = plt.subplots(figsize=(10, 6))
    sns.lineplot(data=mean, x="elapsed_s", y="val_accuracy", hue="label", ax=ax, estimator=None, sort=False)
    ax.set(title=title, xlabel="seconds of training (mean over seeds)", ylabel="validation accuracy")
    _shared_legend(fig, [ax])
    return fig


def sensitivity_figure(runs, title, confidence=0.95):
    """Final validation accuracy against initial learning rate, one panel per method, with a band over seeds and
    the default rate dashed."""
    from .optimizers import DISPLAY_NAMES

    if runs["final_val_accuracy"].notna().sum() == 0:
        return _nothing_to_draw(title, "every run diverged")
    data = runs.assign(method=runs["optimizer"].map(DISPLAY_NAMES), accuracy=runs["final_val_accuracy"])
    grid = sns.relplot(data=data, x="lr0", y="accuracy", col="method", col_wrap=3, kind="line", marker="o",
                       errorbar=t_interval(confidence), height=2.8, aspect=1.4, facet_kws={"sharex": False})
    for method, ax in grid.axes_dict.items():
        ax.axvline(grid_centre(data.loc[data["method"] == method, "lr0"].unique()), ls="--", c="0.5")
        ax.set_xscale("log")
    grid.set_axis_labels("initial learning rate (log scale)", "final validation accuracy")
    grid.set_titles("{col_name}")
    grid.figure.suptitle(title)
    grid.figure.tight_layout()
    return grid.figure


def range_test_figure(curves, suggestions, title):
    """Smoothed training loss against learning rate, one panel per method; the suggested rate dotted. The first
    tenth of each test, where the moving average is mostly noise, is left out, as the suggestion leaves it out."""
    by_method = curves.groupby("method", sort=False)
    curves = curves[by_method.cumcount() >= (by_method["lr"].transform("size") // 10).clip(lower=1)]
    grid = sns.relplot(data=curves, x="lr", y="smoothed_loss", col="method", col_wrap=4, kind="line", height=2.6,
                       aspect=1.3, facet_kws={"sharex": False, "sharey": False})
    suggested = dict(zip(suggestions["method"], suggestions["suggested_lr"]))
    for method, ax in grid.axes_dict.items():
        ax.set_xscale("log")
        if suggested[method] == suggested[method]:  # NaN: no clear dip, nothing to mark
            ax.axvline(suggested[method], ls=":", c="tab:red")
        loss = curves.loc[curves["method"] == method, "smoothed_loss"]
        low, start = loss.min(), loss.iloc[0]
        # from the lowest loss to a little above the starting one: the final blow-up would flatten the dip
        ax.set_ylim(low - 0.1 * (start - low) - 0.005, start + 0.5 * (start - low) + 0.01)
    grid.set_axis_labels("learning rate (log scale)", "training loss (smoothed)")
    grid.set_titles("{col_name}")
    grid.figure.suptitle(title)
    grid.figure.tight_layout()
    return grid.figure


def _nothing_to_draw(title, why):
    fig, ax = plt.subplots(figsize=(8, 1.5))
    ax.axis("off")
    ax.text(0.5, 0.5, f"Nothing to draw: {why}.", ha="center", va="center")
    ax.set_title(title)
    return fig
