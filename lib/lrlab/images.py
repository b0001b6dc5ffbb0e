"""A figure as the report's images: a PNG drawn at twice the pixels it is shown at, and, for a wide figure, the
same figure laid out again for a phone (`phone_layout`), which the page shows on narrow screens. Works on any
figure lrlab.plots draws: it moves the figure's own panels, legends and labels, so a new figure needs nothing."""

import math
import textwrap

import matplotlib.pyplot as plt

DPI = 200  # twice the 100 px per inch the report lays figures out at: sharp on high-density screens


def _png(fig) -> tuple[bytes, int]:
    """(PNG bytes at DPI, the width in CSS pixels to show it at): drawn at twice the pixels it is shown at."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    # a figure has few colours: a 256-colour palette image looks the same at a third of the bytes
    image = Image.open(buffer).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                                                       dither=Image.Dither.NONE)
    small = io.BytesIO()
    image.save(small, format="PNG", optimize=True)
    return small.getvalue(), round(image.width * 100 / DPI)


PHONE_WIDTH = 4.0  # inches, at the report's 100 px per inch: a phone's 360-420 px show it at its own size


def _wrap(text: str, width: int) -> str:
    return textwrap.fill(text, width, break_on_hyphens=False)  # "constant-rate" stays whole


def _take_legends(fig, panels) -> list:
    """Remove the legends drawn beside or below a panel, and the figure's own (it goes under the last panel):
    (the panel to draw it under, handles, labels wrapped to the phone's width, title) for each panel, a panel's
    legends merged into one. The handles are the plotted artists where a panel has them (an error bar keeps its
    markers), else the legend's own."""
    plotted = {}
    for ax in panels:
        plotted.update({label: handle for handle, label in zip(*ax.get_legend_handles_labels())})
    taken = {}
    for ax, legend in [(ax, ax.get_legend()) for ax in panels] + [(panels[-1], legend) for legend in fig.legends]:
        if legend is None or (legend.axes is not None and legend.get_bbox_to_anchor() is ax.bbox):
            continue  # none, or inside its panel: it stays
        texts = [t.get_text() for t in legend.get_texts()]
        _, handles, labels, title = taken.setdefault(id(ax), (ax, [], [], legend.get_title().get_text() or None))
        handles += [plotted.get(text, own) for text, own in zip(texts, legend.legend_handles)]
        labels += [_wrap(text, 40) for text in texts]
        legend.remove()
    return list(taken.values())


def phone_layout(fig) -> bool:
    """Lay `fig` out again for a phone, PHONE_WIDTH inches wide with its labels, so that its text keeps its size on
    a narrow screen, where the desktop layout would be shrunk to a third: its panels in one column (small ones,
    as the schedules' shapes, in two), titles wrapped, legends in one column below. False, and nothing changed,
    when the figure is narrow already."""
    width, height = fig.get_size_inches()
    if width <= 1.25 * PHONE_WIDTH:
        return False
    for ax in [ax for ax in fig.axes if not ax.get_visible()]:  # a grid's spare panels
        fig.delaxes(ax)
    panels = [ax for ax in fig.axes if ax.get_subplotspec() is not None]
    if not panels or len(panels) < len(fig.axes):  # axes placed by hand (or none): not a grid to re-lay
        return False
    if len({ax.get_subplotspec().get_geometry() for ax in panels}) < len(panels):  # a twin axis shares a cell
        return False
    rows, cols = panels[0].get_subplotspec().get_gridspec().get_geometry()
    small = width / cols <= 3.5 and len(panels) > 3
    columns = 2 if small else 1
    scale = PHONE_WIDTH / columns / (width / cols)
    panel_height = height if len(panels) == 1 else max(1.9 if small else 2.6, min(scale * height / rows,
                                                                                    0.75 * PHONE_WIDTH))
    grid = fig.add_gridspec(math.ceil(len(panels) / columns), columns)
    below = _take_legends(fig, panels)
    for i, ax in enumerate(panels):
        ax.set_subplotspec(grid[i // columns, i % columns])
        ax.tick_params(labelbottom=True, labelleft=True)  # shared axes showed them on the outer panels only
        ax.yaxis.label.set_text(_wrap(ax.get_ylabel(), round(panel_height / 0.085)))  # along its height
    if len(panels) == 1 and not fig.get_suptitle():
        # a lone panel's title centred on the figure: centred on a panel with long tick labels it would squeeze it
        fig.suptitle(panels[0].get_title(), fontsize=14)
        panels[0].set_title("")
    for ax in panels:  # notes beside a panel's points (seeds ahead, a method's name) in a narrow column
        for note in ax.texts:
            note.set_text(_wrap(note.get_text(), 18))
    texts = {ax: (ax.get_title(), ax.get_xlabel()) for ax in panels}
    for ax, (title_text, xlabel) in texts.items():  # wrapped to the column's width, then below to the panel's own
        ax.title.set_text(_wrap(title_text, 36 // columns))
        ax.xaxis.label.set_text(_wrap(xlabel, 44 // columns))
    title = _wrap(fig.get_suptitle(), 34)  # about 34 characters of the title's 14 points
    legends_height = sum(0.7 + 0.19 * sum(label.count("\n") + 1 for label in labels) for _, _, labels, _ in below)
    title_height = 0.25 * (title.count("\n") + 1) + 0.1 if title else 0
    fig.set_size_inches(PHONE_WIDTH, panel_height * grid.nrows + legends_height + title_height + 0.2)
    if title:  # a twentieth of an inch from the top (matplotlib's 2% of the height is half an inch here)
        fig.suptitle(title, fontsize=14, y=1 - 0.05 / fig.get_figheight())
    lay_out = fig.tight_layout  # (it leaves room for the title)
    lay_out()
    # a panel left narrow by long tick labels beside it gets its title and axis label wrapped to its own width
    # (about 0.09 inch a character of 12 points, 0.075 of 10), so that centred on it they stay inside the figure
    for ax, (title_text, xlabel) in texts.items():
        inches = ax.get_position().width * fig.get_figwidth()
        ax.title.set_text(_wrap(title_text, max(12, int(inches / 0.09))))
        ax.xaxis.label.set_text(_wrap(xlabel, max(16, int(inches / 0.075))))
    lay_out()
    for _ in range(2):  # placed under the panel as laid out, then laid out again with the legend in place
        for ax, handles, labels, legend_title in below:
            # centred on the figure (a panel with long tick labels sits off centre), just under the panel's tick
            # labels and axis label
            if ax.get_legend() is not None:
                ax.get_legend().remove()
            inches = ax.get_tightbbox(fig.canvas.get_renderer()).transformed(fig.dpi_scale_trans.inverted())
            top = (inches.y0 - 0.05) / fig.get_figheight()
            ax.legend(handles, labels, title=legend_title, loc="upper center", bbox_to_anchor=(0.5, top),
                      bbox_transform=fig.transFigure, ncol=1, fontsize=10, frameon=False)
        lay_out()
    return True


def pngs(fig) -> tuple[bytes, int, bytes | None]:
    """The figure as the report shows it, then closed: (PNG bytes, its width in CSS pixels, the PNG bytes of its
    phone layout, or None where the figure is narrow enough as it is)."""
    wide, width = _png(fig)
    try:
        narrow = _png(fig)[0] if phone_layout(fig) else None
    except Exception as exc:  # a figure the layout cannot handle keeps its desktop image on a phone too
        import warnings

        warnings.warn(f"no phone layout for this figure: {type(exc).__name__}: {exc}", stacklevel=2)
        narrow = None
    plt.close(fig)
    return wide, width, narrow
