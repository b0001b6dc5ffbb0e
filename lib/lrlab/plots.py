"""The report's figures, drawn with seaborn from the history tables. Every figure has a title and labelled axes;
bands are the t-interval of the mean across seeds (`results.t_interval`)."""

import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from .results import t_interval

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
