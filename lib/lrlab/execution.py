"""The notebooks run as a user would run them: each executed by papermill (on its own kernel), the digest of
what an executed notebook was executed from (so an unchanged one is not executed again), and the executed
compare.ipynb exported by nbconvert as one self-contained HTML file."""

import hashlib
import json
import logging
import os
import time
from pathlib import Path

from .config import PROJECT_ROOT

NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"


# a kernel that dies before it replies to its first message never ran a cell: most often the TCP port
# jupyter_client chose for it was taken by a kernel starting beside it ("Address already in use"), so it is started
# again, at most this many times more
KERNEL_START_RETRIES = 2
KERNEL_START_FAILURE = "Kernel died before replying to kernel_info"


def execute_notebook(name, parameters, output_path):
    """Run one notebook; return (name, error or None, seconds)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    logging.getLogger("papermill").setLevel(logging.WARNING)
    start = time.perf_counter()
    try:
        for attempt in range(KERNEL_START_RETRIES + 1):
            try:
                papermill.execute_notebook(str(NOTEBOOK_DIR / f"{name}.ipynb"), str(output_path),
                                           parameters=parameters, kernel_name="python3", cwd=str(PROJECT_ROOT),
                                           progress_bar=False)
                break
            except RuntimeError as exc:
                if KERNEL_START_FAILURE not in str(exc) or attempt == KERNEL_START_RETRIES:
                    raise
    except PapermillExecutionError as exc:
        message = exc.evalue.strip().splitlines()[-1] if exc.evalue.strip() else ""
        return name, f"cell {exc.cell_index} (In [{exc.exec_count}]): {exc.ename}: {message}", \
            time.perf_counter() - start
    except Exception as exc:  # the kernel died or could not start
        return name, f"{type(exc).__name__}: {exc}", time.perf_counter() - start
    return name, None, time.perf_counter() - start


def _library_digest() -> bytes:
    library = Path(__file__).parent
    return b"".join(hashlib.sha256(path.read_bytes()).digest() for path in sorted(library.rglob("*"))
                    if path.is_file() and path.suffix in (".py", ".j2", ".json", ".md"))


def inputs_digest(name, parameters, inputs) -> str:
    """What an executed notebook shows depends on: the notebook, its parameters, the library, and `inputs` (the
    summaries of the runs it reads, or the manifests compare.ipynb reads; a retrained run has a new summary)."""
    digest = hashlib.sha256((NOTEBOOK_DIR / f"{name}.ipynb").read_bytes())
    digest.update(json.dumps(parameters, sort_keys=True).encode() + _library_digest())
    for path in inputs:
        digest.update(path.read_bytes() if path.is_file() else b"missing")
    return digest.hexdigest()


def up_to_date(folder, name, digest) -> bool:
    """Whether the executed notebook in `folder` was executed from these very inputs (and succeeded)."""
    stamp = folder / f".{name}.inputs"
    return (folder / f"{name}.ipynb").is_file() and stamp.is_file() and stamp.read_text() == digest


def export_html(executed: Path, html_path: Path):
    """The executed compare notebook as one HTML file: code hidden, figures embedded as data."""
    import nbformat
    from nbconvert import HTMLExporter

    from .page import finish_html

    notebook = nbformat.read(executed, as_version=4)
    # the kernel's own stderr (backend start-up notices) is not for readers, nor are cells for notebook users only
    notebook.cells = [cell for cell in notebook.cells if "notebook-only" not in cell.metadata.get("tags", [])]
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
    exporter = HTMLExporter(extra_template_basedirs=[str(Path(__file__).parent / "templates")],
                            template_name="offline", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": "lrlab report"}})
    tmp = html_path.with_name(f".{html_path.name}.{os.getpid()}.tmp")
    tmp.write_text(finish_html(body), encoding="utf-8")
    os.replace(tmp, html_path)
