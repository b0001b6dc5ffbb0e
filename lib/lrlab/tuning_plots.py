"""The figures of tuning: each method's final validation value of the task's metric (accuracy, or loss) across its
learning-rate grid, the range tests, the expected best after k rates tried, and where the finder's rules land
against the sweep's best rate. Drawn by the rules of lrlab.plots (its theme, colours and panels)."""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from .health import HEALTHY
from .config import tuned_display
from .optimizers import DISPLAY_NAMES, OPTIMIZERS
from .plots import BASELINE_COLOUR, _nothing_to_draw, _panels, _themed, _titled, tuned_colour
from .sweep import grid_centre
from .tasks import metric_of


def _axis_label(text, metric) -> str:
    """An axis's name for the metric: "final validation accuracy (%)", "final validation loss"."""
    return f"{text} {metric.name}" + (f" ({metric.unit})" if metric.unit else "")


@_themed
def sensitivity_figure(runs, title):
    """Final validation value of the task's metric (accuracy, or loss) against initial learning rate, one panel
    per method: every seed a dot (a cross where it failed), the line the mean over healthy seeds, the default rate
    dashed."""
    metric = metric_of(runs)
    column, scale = metric.final, metric.scale
    if runs[column].notna().sum() == 0:
        return _nothing_to_draw(title, "every run diverged")
    methods = list(dict.fromkeys(runs["tuned"]))
    fig, axes = _panels(len(methods), 3, 4.4, 3.3, sharey=True)
    for ax, method in zip(axes, methods):
        data = runs[runs["tuned"] == method]
        colour = tuned_colour(method) or BASELINE_COLOUR
        ok = data["status"] == HEALTHY
        ax.scatter(data.loc[ok, "lr0"], scale * data.loc[ok, column], s=14, color=colour, alpha=0.6)
        # where a diverged seed is drawn: at chance (the runs table's, 1/classes or the guessing loss), or at two
        # classes' in a table without one
        chance = scale * (data["chance"].iloc[0] if "chance" in data else metric.chance(2))
        ax.scatter(data.loc[~ok, "lr0"], (scale * data.loc[~ok, column]).fillna(chance), s=30, marker="x",
                   color="#b00020")
        # the line joins rates where every seed learned: a mean over the one seed that did would read as a
        # gentle decline where the rate in fact fails
        clean = data.groupby("lr0")["status"].agg(lambda v: (v == HEALTHY).all())
        mean = data[ok].groupby("lr0")[column].mean().reindex(clean.index).where(clean)
        ax.plot(mean.index, scale * mean.values, color=colour, lw=2, marker="o", ms=4)
        for lr, group in data[~ok].groupby("lr0"):
            ax.annotate(f"{len(group)} of {(data['lr0'] == lr).sum()} failed", (lr, chance), textcoords="offset points",
                        xytext=(0, 7), ha="center", fontsize=10, color="#b00020")
        ax.axvline(grid_centre(data["lr0"].unique()), ls="--", c="0.5")
        ax.set_xscale("log")
        ax.set_title(tuned_display(method))
        ax.set_xlabel("initial (peak) learning rate (log scale)", fontsize=10)
        ax.set_ylabel(_axis_label("final validation", metric), fontsize=10)
        ax.yaxis.set_tick_params(labelleft=True)
    return _titled(fig, title)


@_themed
def range_test_figure(curves, tests, title):
    """Smoothed training loss against learning rate, one panel per method, one line per seed's test; the median
    suggestion over the seeds dotted. The first tenth of each test, where the moving average is mostly noise, is
    left out, as the suggestion leaves it out."""
    from .sweep import range_tests_by_method

    by_test = curves.groupby(["method", "seed"], sort=False)
    curves = curves[by_test.cumcount() >= (by_test["lr"].transform("size") // 10).clip(lower=1)]
    methods = list(dict.fromkeys(curves["method"]))
    fig, axes = _panels(len(methods), 4, 3.6, 2.9)
    suggested = dict(zip(*range_tests_by_method(tests)[["method", "suggested_lr"]].to_numpy().T))
    colour_by_name = {m.display: m.colour for m in OPTIMIZERS.values()}
    for ax, method in zip(axes, methods):
        curve = curves[curves["method"] == method]
        for _, one in curve.groupby("seed"):
            ax.plot(one["lr"], one["smoothed_loss"], color=colour_by_name.get(method, BASELINE_COLOUR), lw=1.1,
                    alpha=0.75)
        ax.set_xscale("log")
        if suggested[method] == suggested[method]:  # NaN: no clear dip, nothing to mark
            ax.axvline(suggested[method], ls=":", c="#b00020", lw=1.5)
        first = curve.groupby("seed")["smoothed_loss"].first()
        low, start = curve["smoothed_loss"].min(), first.max()
        # from the lowest loss to a little above the starting one: the final blow-up would flatten the dip
        ax.set_ylim(low - 0.1 * (start - low) - 0.005, start + 0.5 * (start - low) + 0.01)
        ax.set_title(method, fontsize=11)
        ax.set_xlabel("learning rate (log scale)", fontsize=10)
        ax.set_ylabel("training loss (smoothed)", fontsize=10)
    return _titled(fig, title)


@_themed
def tuning_effort_figure(curves, title):
    """The expected best final validation value of the task's metric (accuracy, or loss) after k trials from the
    sweep's grid, one panel per method: its mean over seeds with the seeds' bootstrap band, the other methods'
    means faint grey behind it (one y-axis for all), so where a method stands against the others reads off every
    panel."""
    if curves.empty:
        return _nothing_to_draw(title, "no learning-rate sweep")
    metric = metric_of(curves)
    scale = metric.scale
    methods = list(dict.fromkeys(curves["tuned"]))
    fig, axes = _panels(len(methods), 4, 3.4, 2.8, extra=0.6, sharey=True)
    for ax, method in zip(axes, methods):
        for other, curve in curves.groupby("tuned", sort=False):
            if other != method:
                ax.plot(curve["k"], scale * curve["expected_best"], color="0.8", lw=1)
        curve = curves[curves["tuned"] == method]
        colour = tuned_colour(method) or BASELINE_COLOUR
        ax.fill_between(curve["k"], scale * curve["low"], scale * curve["high"], color=colour, alpha=0.2, lw=0)
        ax.plot(curve["k"], scale * curve["expected_best"], color=colour, lw=2.2, marker="o", ms=4)
        ax.set_title(tuned_display(method))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("learning rates tried (k)", fontsize=10)
        ax.set_ylabel(_axis_label("expected best val.", metric), fontsize=10)
        ax.yaxis.set_tick_params(labelleft=True)
    return _titled(fig, title)


RULE_MARKERS = {"lowest ÷ 10": ("o", "#b00020"), "steepest": ("s", "#1f77b4"), "valley": ("D", "#2ca02c")}


@_themed
def finder_figure(tests, truth, title):
    """Where each suggestion rule's rate lands against the sweep's best rate: one row per method, one marker per
    seed's test and rule, in decades from the best rate (0: the rule found it; the grey band: the grid the sweep
    tried). `truth` is tuning.best_rates's table."""
    truth = truth.set_index("tuned")  # a test of an optimizer is scored against its sweep at a constant rate
    methods = [m for m in dict.fromkeys(tests["optimizer"]) if m in truth.index]
    if not methods:
        return _nothing_to_draw(title, "no method has both a range test and a learning-rate sweep")
    fig, ax = plt.subplots(figsize=(8.5, 0.55 * len(methods) + 1.8))
    for row, method in enumerate(methods):
        best = truth.loc[method, "best_lr"]
        grid = np.log10(truth.loc[method, "curve"].index.to_numpy(dtype=float) / best)
        ax.plot([grid.min(), grid.max()], [row, row], color="0.85", lw=9, solid_capstyle="butt", zorder=1)
        for offset, (rule, (marker, colour)) in zip((-0.22, 0.0, 0.22), RULE_MARKERS.items()):
            rates = tests.loc[tests["optimizer"] == method, rule].dropna().astype(float)
            ax.scatter(np.log10(rates / best), np.full(len(rates), row + offset), marker=marker, s=26, color=colour,
                       alpha=0.8, zorder=3, label=rule if row == 0 else None)
    ax.axvline(0, color=BASELINE_COLOUR, lw=1.2)
    ax.set_yticks(range(len(methods)), [DISPLAY_NAMES.get(m, m) for m in methods])
    ax.invert_yaxis()
    ax.set_xlabel("suggested rate ÷ the sweep's best rate (decades, log10; left: too low)")
    ax.set_title(title)
    handles, labels = ax.get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0.9 / fig.get_figheight(), 1, 1))  # room below for the legend: 0.9 inch
    fig.legend(handles, labels, title="rule", loc="lower center", ncol=3, frameon=False)
    return fig
