"""The text the family notebooks share, written once: their `Settings and data`, `Training`, per-epoch figure and
`Summary` sections say the same thing in every notebook, and say it from the code (how the figure draws training
and validation comes from lrlab.plots). `tests/test_packaging.py` checks every notebook's copy against this;
`python -m lrlab.notebook_text` writes them.
"""

from pathlib import Path

from .config import PROJECT_ROOT
from .plots import TRAINING_STYLE, VALIDATION_STYLE

# the notebooks of one schedule family or of the adaptive methods: the same sections, the same figure (the sweep,
# range-test, budget and custom notebooks have sections of their own)
FAMILY_NOTEBOOKS = ["constant", "time_based_decay", "step_decay", "exponential_decay", "modern_schedules", "adaptive"]

SHARED = {
    "## Settings and data": (
        "## Settings and data\n\nThe profile fills in whatever was left at `None`; every value is checked before "
        "anything is loaded or trained. The data are the task's (`lrlab.tasks`): CIFAR-10 images of its classes (cat "
        "and dog in `cifar_catdog`, all ten in `cifar10`), pixels scaled to [0, 1], or Tiny Shakespeare cut into "
        "windows of 64 characters, each predicting the next character (`shakespeare_char`). Under the `holdout` "
        "protocol a stratified fifth of the training images is set aside for validation (for the text, nanoGPT's "
        "last tenth is halved into validation and test) and the test set is used once, after training; under "
        "`seed` (the 2017 protocol) the test set is the validation set."),
    "## Training": (
        "## Training\n\nOne run per seed; the seeds of a configuration train side by side as one model (a network "
        "per seed, each fed its own batches, the numbers each would give alone, in fewer and larger steps). Each run "
        "is stored under `outputs/<profile>/runs/<run_id>/` (`config.json`, `history.csv`, `summary.json`); a run "
        "whose configuration is already stored complete is reused rather than retrained."),
    "## Learning rate, accuracy and loss per epoch": (
        "## Learning rate, accuracy and loss per epoch\n\nThe left panel is the rate the optimizer applied to each "
        "epoch's first batch, read back from the optimizer during training. "
        f"{VALIDATION_STYLE.capitalize()} lines are validation metrics (each seed thin, the mean of the healthy "
        f"seeds bold, a failed seed dotted), {TRAINING_STYLE} lines the training metrics' mean."),
    "## Summary": (
        "## Summary\n\nFinal and best validation value of the task's metric across seeds (accuracy in percent, or "
        "for the text its loss, lower is better; mean ± standard deviation, and the 95% t-interval of the mean), the "
        "epoch where the best was reached, the test set's (held-out protocol only) and the training time per run."),
}


def _heading(source: str):
    return next((h for h in SHARED if source.startswith(h + "\n") or source == h), None)


def check(path: Path) -> list:
    """The shared cells of one notebook that differ from SHARED: [(heading, what the notebook says)]."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return [(h, c.source) for c in nb.cells if c.cell_type == "markdown" and (h := _heading(c.source))
            and c.source != SHARED[h]]


def write(path: Path) -> int:
    """Rewrite one notebook's shared cells from SHARED; returns how many changed."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    changed = 0
    for cell in nb.cells:
        heading = _heading(cell.source) if cell.cell_type == "markdown" else None
        if heading and cell.source != SHARED[heading]:
            cell.source, changed = SHARED[heading], changed + 1
    if changed:
        nbformat.write(nb, path)
    return changed


if __name__ == "__main__":
    for name in FAMILY_NOTEBOOKS:
        n = write(PROJECT_ROOT / "notebooks" / f"{name}.ipynb")
        print(f"{name}.ipynb: {n} shared cell(s) rewritten")
