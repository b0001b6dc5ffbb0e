"""The report as one HTML page: numbered figures and tables with captions (Document), its first screen, the
numbers behind it as downloads inside the page, and the table of contents the exported page gets."""

import base64
import gzip
import html
import json
import re

import pandas as pd

from .health import FAILURE_TEXT
from .report import budget_line, title
from .tasks import metric_of


FOLD_ROWS = 24  # tables longer than this are folded away (the full sweep, every seed's rows)
PHONE_SCREEN = 600  # px: narrower screens get each figure's phone layout (the template's phone rules start there)


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


class Document:
    """Numbers the report's figures and tables in the order they appear and gives each an anchor, a caption and
    (figures) an alt text; what it returns displays as HTML in the notebook and in the exported report."""

    def __init__(self):
        self.figures = 0
        self.tables = 0

    def figure(self, fig, caption: str, alt: str):
        """The figure, with its phone layout (lrlab.images.phone_layout) shown instead on screens narrower than
        PHONE_SCREEN: there the desktop image would shrink its text to a few pixels."""
        from IPython.display import HTML

        from .images import pngs

        self.figures += 1
        wide, width, narrow = pngs(fig)
        image = f'<img src="{_data_url(wide)}" alt="{html.escape(alt)}" style="width:{width}px">'
        if narrow is not None:  # drawn at twice its pixels, as the desktop image
            image = (f'<picture><source media="(max-width: {PHONE_SCREEN}px)" srcset="{_data_url(narrow)} 2x">'
                     f'{image}</picture>')
        return HTML(f'<figure class="lrlab-figure" id="figure-{self.figures}">{image}'
                    f'<figcaption><a href="#figure-{self.figures}">Figure {self.figures}.</a> '
                    f'{_inline(caption)}</figcaption></figure>')

    def table(self, frame: pd.DataFrame, caption: str, colour_of=None, bold=()):
        """`frame` as an HTML table without its index: names wrap, the table scrolls sideways inside its box on
        narrow screens; a configuration's colour marks its row, `bold` cells ((row, column)) stand out, and
        verdicts and failures are highlighted wherever they appear."""
        from IPython.display import HTML

        self.tables += 1
        styler = frame.style.hide(axis="index").format(escape="html", na_rep="n/a")
        if colour_of and "configuration" in frame:
            styler = styler.map(lambda v: f"border-left: 6px solid {colour_of.get(v, 'transparent')}",
                                subset=["configuration"])
        styler = styler.map(_verdict_style)
        bold = set(bold)
        if bold:
            styler = styler.apply(lambda _: pd.DataFrame(
                [["font-weight: 700" if (i, c) in bold else "" for c in frame.columns] for i in range(len(frame))],
                index=frame.index, columns=frame.columns), axis=None)
        body = '<div class="lrlab-scroll">' + styler.to_html(table_attributes='class="lrlab-table"') + "</div>"
        if len(frame) > FOLD_ROWS:  # a long table is there to look things up in: folded, one click away
            body = f'<details class="lrlab-fold"><summary>Show its {len(frame)} rows</summary>{body}</details>'
        return HTML(f'<figure class="lrlab-table-box" id="table-{self.tables}"><figcaption>'
                    f'<a href="#table-{self.tables}">Table {self.tables}.</a> {_inline(caption)}</figcaption>'
                    f'{body}</figure>')


def _verdict_style(value) -> str:
    text = str(value)
    if text.startswith("clearly better"):
        return "background-color: #dff3e4; font-weight: 700"
    if text.startswith("clearly worse"):
        return "background-color: #fbe3e4; font-weight: 700"
    if any(failed in text for failed in FAILURE_TEXT.values()) or text == "every seed failed":
        return "color: #b00020"
    return ""


def _inline(text: str) -> str:
    """Caption text as HTML: escaped, with `code` and *emphasis* kept."""
    text = html.escape(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*([^*]+)\*", r"<em>\1</em>", text)


def summary_bold(table: pd.DataFrame, formatted: pd.DataFrame) -> list:
    """The summary table's best cells: the best final, best-epoch and test value of the task's metric (highest
    accuracy, lowest loss) among the configurations without a failed seed, fewest seconds per epoch."""
    cells = []
    if table.empty:
        return cells
    ok = table[table["failed"] == 0]
    columns = list(formatted.columns)
    metric = metric_of(table)
    for key, prefix in (("final_mean", "final val."), ("best_mean", "best val."), ("test_mean", f"test {metric.name}")):
        column = next((c for c in columns if c.startswith(prefix)), None)
        if column and not ok.empty and ok[key].notna().any():
            cells.append((int(metric.best_index(ok[key])), column))
    column = next((c for c in columns if c.startswith("seconds per epoch")), None)
    if column and table["seconds_per_epoch"].notna().any():
        cells.append((int(table["seconds_per_epoch"].idxmin()), column))
    return cells


GZIP_ABOVE_BYTES = 2_000_000  # a table larger than this travels in the page gzip-compressed (a study's runs.csv)


def downloads(settings, histories: pd.DataFrame, runs: pd.DataFrame, table: pd.DataFrame, extra=(),
              range_tests=None, answer="") -> str:
    """Write runs.csv and summary.csv (one row per configuration) beside the report, and return HTML links that
    carry both inside the page (it works offline, as one file). runs.csv holds every run the report draws on: one
    row per run and epoch with its configuration's columns, for the compared runs and each of `extra`'s
    (histories, runs) pairs (the learning-rate sweep, the budget comparison; a run shared with the compared ones
    once), and one row per batch of every range test (`step`, `smoothed_loss`; family lr_range_test). `answer`, the
    first screen's text, goes with them as answer.md (what the README quotes: lrlab.publish)."""
    from .store import atomic_write_text, profile_dir

    for more_histories, more_runs in extra:
        if more_runs is None or more_runs.empty:
            continue
        histories = pd.concat([histories, more_histories[~more_histories["run_id"].isin(runs["run_id"])]],
                              ignore_index=True)
        runs = pd.concat([runs, more_runs[~more_runs["run_id"].isin(runs["run_id"])]], ignore_index=True)
    if runs.empty:
        return "<p>No finished runs: nothing to download.</p>"
    folder = profile_dir(settings)
    # the configuration's columns beside every epoch; the rest of a run's record is summary.csv's and the report's
    per_run = runs[["run_id", "schedule", "lr0", "schedule_params", "optimizer_params", "precision", "model",
                    "batch_size", "protocol", "test_accuracy", "test_loss"]]
    settings = pd.DataFrame([{f"schedule_{k}": v for k, v in json.loads(p).items() if k != "name"}
                             | {f"optimizer_{k}": v for k, v in json.loads(o).items() if k != "name"}
                             for p, o in zip(runs["schedule_params"], runs["optimizer_params"])], index=runs.index)
    per_run = pd.concat([per_run.drop(columns=["schedule_params", "optimizer_params"]), settings], axis=1)
    epochs = histories.merge(per_run, on="run_id")
    first = ["run_id", "family", "label", "optimizer", "schedule", "seed", "status", "epoch"]
    if range_tests is not None and len(range_tests):
        tests = range_tests.rename(columns={"method": "label"}).assign(family="lr_range_test", schedule="range test",
                                                                        status="completed")
        epochs = pd.concat([epochs, tests], ignore_index=True)
        first = first + ["step"]
    epochs = epochs[first + [c for c in epochs.columns if c not in first]]
    files = {"runs.csv": epochs.to_csv(index=False, float_format="%.6g"),
             "summary.csv": table.to_csv(index=False, float_format="%.6g")}
    if answer:
        files["answer.md"] = answer.strip() + "\n"
    links = []
    for name, text in files.items():
        atomic_write_text(folder / name, text)
        payload, kind = text.encode(), "text/markdown" if name.endswith(".md") else "text/csv"
        if len(payload) > GZIP_ABOVE_BYTES:  # pandas reads runs.csv.gz as it is; the page stays light to open
            payload, name, kind = gzip.compress(payload, mtime=0), name + ".gz", "application/gzip"
        data = base64.b64encode(payload).decode()
        links.append(f'<a download="{name}" href="data:{kind};base64,{data}">{name}</a> '
                     f'({len(payload) / 1024:,.0f} KB)')
    return ('<p class="lrlab-downloads">Download the numbers behind this report: ' + " · ".join(links) +
            f" (also written beside the report, in <code>outputs/{html.escape(folder.name)}/</code> of the "
            f"build).</p>")


def first_screen(runs, answer_markdown: str, lead=(), terms: str = "") -> list:
    """The top of the report, as objects to display: the title naming the task, the answer, budget and protocol in
    one line, the lead figure(s), the terms a reader may not know, and the place export_html fills with the table
    of contents."""
    from IPython.display import HTML, Markdown

    return [HTML(f'<h1 id="top">{html.escape(title(runs))}</h1>'),
            Markdown(f"## In short\n\n{answer_markdown}\n\n*{budget_line(runs)}*"), *lead,
            *([Markdown(terms)] if terms else []), HTML('<nav class="lrlab-toc" id="contents"></nav>')]


def finish_html(page: str) -> str:
    """The exported page made navigable: a table of contents of its sections (and of its numbered figures and
    tables) in the place `first_screen` left for it, and the report's own title on the browser tab."""
    def text(fragment):
        return html.unescape(re.sub(r"<[^>]+>", "", fragment)).replace("¶", "").strip()

    sections = [(anchor, text(inner)) for anchor, inner in
                re.findall(r'<h2[^>]*\bid="([^"]+)"[^>]*>(.*?)</h2>', page, flags=re.S) if anchor.lower() != "in-short"]
    figures = len(re.findall(r'<figure class="lrlab-figure"', page))
    tables = len(re.findall(r'<figure class="lrlab-table-box"', page))
    items = "".join(f'<li><a href="#{anchor}">{html.escape(name)}</a></li>' for anchor, name in sections)
    toc = (f'<nav class="lrlab-toc" id="contents"><p class="lrlab-toc-title">Contents</p><ol>{items}</ol>'
           f'<p class="lrlab-toc-counts">{figures} figures, {tables} tables; each has a link of its own (click its '
           f'number).</p></nav>')
    page = page.replace('<nav class="lrlab-toc" id="contents"></nav>', toc, 1)
    heading = re.search(r'<h1[^>]*>(.*?)</h1>', page, flags=re.S)
    if heading:
        page = re.sub(r"<title>.*?</title>", f"<title>{html.escape(text(heading.group(1)))} — lrlab</title>", page,
                      count=1, flags=re.S)
    return page
