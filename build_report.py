#!/usr/bin/env python
"""Build the report: execute the family notebooks with papermill (several at once), then compare.ipynb, then
turn the executed compare notebook into one self-contained HTML file, outputs/<profile>/report.html.

    python build_report.py [--profile smoke|paper|study|full] [--only NAME,...] [--jobs N] [-p NAME=VALUE ...]
                           [--force] [--executor local|dask [--scheduler tcp://HOST:8786]]

Runs already stored with the same configuration are reused, so an unchanged rebuild trains nothing. A worker with
no notebook left to start helps the notebook with the most runs left, so one long notebook does not keep the
other workers idle. Exit status:
0 when every notebook ran, 1 when one failed (the others and their runs are kept, the report says what is
missing), 2 for bad input (nothing is run).
"""

import argparse
import collections
import contextlib
import functools
import json
import logging
import multiprocessing
import os
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent
NOTEBOOKS = ROOT / "notebooks"
sys.path.insert(0, str(ROOT / "lib"))  # lets the script run from a checkout even before `pip install -e .`

from lrlab.config import FAMILIES, PROFILES, ParameterError, check_parameter, resolve_settings  # noqa: E402
from lrlab import resources  # noqa: E402
from lrlab.data import DataError, load_cifar10  # noqa: E402
from lrlab.store import forget_family, free_groups, read_plan  # noqa: E402

# Longest first, so parallel jobs finish close together. The sensitivity sweep shares its default-rate runs with
# the constant and adaptive notebooks and trains those last, by when the others have usually stored them.
ORDER = ["lr_sensitivity", "adaptive", "modern_schedules", "constant", "time_based_decay", "step_decay",
         "exponential_decay", "lr_range_test"]


class InputError(Exception):
    """Bad command-line input: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise InputError(f"{message} (see --help)")


def parse_args(argv):
    parser = _Parser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="paper", help=f"one of {', '.join(PROFILES)} (default: paper)")
    parser.add_argument("--only", default="", help=f"comma-separated family notebooks to execute "
                        f"({', '.join(FAMILIES)}; default: the profile's); the report still shows every family of "
                        f"the profile with stored runs")
    parser.add_argument("--jobs", default=str(os.cpu_count() or 1),
                        help="notebooks executed at once; the cores are divided between them (default: all cores)")
    parser.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                        help="override a notebook parameter for every notebook that has it (YAML value: "
                             "-p epochs=10 -p seeds=[0,1] -p data_path=/data/cifar-10-python.tar.gz)")
    parser.add_argument("--force", action="store_true", help="retrain runs even when a completed copy is stored")
    parser.add_argument("--executor", default="local", help="local: notebooks in processes on this machine "
                        "(default); dask: notebooks as tasks on a Dask cluster, whose workers must see this "
                        "checkout and the output folder at the same paths")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS", help="with --executor dask: the "
                        "scheduler to use, e.g. tcp://HOST:8786 (default: a LocalCluster of --jobs workers)")
    return parser.parse_args(argv)


@functools.cache
def notebook_parameters(name) -> dict:
    import papermill

    return papermill.inspect_notebook(str(NOTEBOOKS / f"{name}.ipynb"))


def _parse_value(text):
    """A -p value as YAML (10 → int, [0,1] → list), with None spelled as in Python, and numbers such as 1e-8
    that YAML 1.1 leaves as strings read as floats."""
    if text.strip() in ("None", "null", ""):
        return None
    try:
        value = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError):  # ValueError: YAML reads 2001-02-30 as an impossible date
        return text
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    return value


def parse_overrides(pairs) -> dict:
    known = {}
    for name in FAMILIES + ["compare"]:
        for param in notebook_parameters(name):
            known.setdefault(param, []).append(name)
    overrides = {}
    for pair in pairs:
        if "=" not in pair:
            raise InputError(f"-p {pair!r} is not NAME=VALUE: write e.g. -p epochs=10")
        name, text = pair.split("=", 1)
        name = name.strip()
        if name == "profile":
            raise InputError("choose the profile with --profile, not -p profile=...")
        if name not in known:
            raise InputError(f"unknown parameter {name!r}: the notebooks take {', '.join(sorted(known))}")
        value = _parse_value(text)
        try:
            overrides[name] = check_parameter(name, value)
        except ParameterError as exc:
            raise InputError(str(exc)) from None
    return overrides


class _Prefixed:
    """Where papermill copies the cells' printed output (training progress): this terminal, one line each,
    prefixed with the notebook's name so parallel notebooks stay readable."""

    def __init__(self, name):
        self.name = name

    def write(self, text):
        for line in text.splitlines():
            if line.strip():
                print(f"[{self.name}] {line}", flush=True)

    def flush(self):
        pass


def _start_worker(parent_pid, log_path):
    _log_stderr(log_path)
    _die_with_parent(parent_pid)


def _log_stderr(log_path):
    """Each worker's stderr, and so its kernels', goes to a log file: TensorFlow's start-up notices from every
    kernel would otherwise bury the progress lines. Cell errors still reach the build through papermill."""
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 2)


def _die_with_parent(parent_pid):
    """Workers end when the build process ends, even by kill -9, so that no orphan goes on training into a store
    that the next build owns. (Their kernels follow: ipykernel exits when its parent does.)"""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the build died before the line above took effect
        os._exit(1)


def execute_notebook(name, parameters, output_path, threads):
    """Run one notebook in this worker process; return (name, error or None, seconds)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    os.environ["LRLAB_THREADS"] = str(threads)  # the kernel inherits it and sizes its thread pools
    logging.getLogger("papermill").setLevel(logging.WARNING)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(output_path), parameters=parameters,
                                   kernel_name="python3", cwd=str(ROOT), progress_bar=False,
                                   stdout_file=_Prefixed(name))
    except PapermillExecutionError as exc:
        message = exc.evalue.strip().splitlines()[-1] if exc.evalue.strip() else ""
        return name, f"cell {exc.cell_index} (In [{exc.exec_count}]): {exc.ename}: {message}", \
            time.perf_counter() - start
    except Exception as exc:  # the kernel died or could not start
        return name, f"{type(exc).__name__}: {exc}", time.perf_counter() - start
    return name, None, time.perf_counter() - start


# A helper trains in a process of its own, below the worker: a crash or an out-of-memory kill there costs the helper
# only (never the worker, the pool and the notebooks in it), and Keras's process-wide state (seeds, dtype policy)
# is its own, as a kernel's is.
HELPER = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import build_report
build_report._die_with_parent(int(sys.argv[2]))
from lrlab.store import help_family
trained = help_family(json.loads(sys.argv[3]), sys.argv[4], log=lambda message: print(message, flush=True))
print(json.dumps({"trained": trained}), flush=True)
"""


def help_notebook(name, settings, threads):
    """Train runs of the family notebook `name` while it runs elsewhere (store.help_family), in a child process of
    this worker; return (name, error or None, seconds, runs trained)."""
    env = os.environ | {"LRLAB_THREADS": str(threads)}  # read when lrlab.train loads the backend, as in a kernel
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", HELPER, str(ROOT), str(os.getpid()), json.dumps(settings), name],
                             env=env, stdout=subprocess.PIPE, text=True)
    trained = None
    for line in child.stdout:
        if line.startswith('{"trained"'):
            trained = json.loads(line)["trained"]
        elif line.strip():
            print(f"[{name} helper] {line.rstrip()}", flush=True)
    status = child.wait()
    if status != 0 or trained is None:  # the notebook trains whatever its helper did not
        return name, f"exit status {status} (its messages are in the kernels' log)", time.perf_counter() - start, 0
    return name, None, time.perf_counter() - start, trained


def notebook_to_help(settings, running, helpers):
    """The running family notebook with the most seed groups that no process is training and that its helpers
    (one group each) have not taken; None when there is none."""
    left = {}
    for name in running:
        plan = read_plan(settings, name)
        if plan is not None and not plan["settings"].get("force"):
            left[name] = len(free_groups(plan)) - helpers.get(name, 0)
    name = max(left, key=left.get, default=None)
    return name if name is not None and left[name] > 0 else None


# How often, while every worker is busy with notebooks, the build looks for a free worker to help one.
HELP_POLL_S = 5


def export_html(executed: Path, html_path: Path):
    """The executed compare notebook as one HTML file: code hidden, figures embedded as data."""
    import nbformat
    from nbconvert import HTMLExporter

    import lrlab
    from lrlab.report import finish_html

    templates = Path(lrlab.__file__).parent / "templates"
    notebook = nbformat.read(executed, as_version=4)
    # the kernel's own stderr (backend start-up notices) is not for readers, nor are cells for notebook users only
    notebook.cells = [cell for cell in notebook.cells if "notebook-only" not in cell.metadata.get("tags", [])]
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
    exporter = HTMLExporter(extra_template_basedirs=[str(templates)], template_name="offline", exclude_input=True,
                            exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": "lrlab report"}})
    body = finish_html(body)
    tmp = html_path.with_name(f".{html_path.name}.{os.getpid()}.tmp")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, html_path)


def _lock_build(out: Path):
    """One build at a time per output folder: a second one refuses at once instead of racing the first for the
    same runs and report. The lock is the kernel's, so it disappears with the process, even after kill -9."""
    import fcntl

    handle = open(out / ".build.lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        raise InputError(f"another build is running on {out} ({holder}): wait for it to finish, "
                         f"or build into another folder with -p output_dir=DIR") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    return handle


@contextlib.contextmanager
def _executor(args, jobs, kernel_log):
    """Where notebooks run, and how many tasks at once: worker processes of this build, or a Dask cluster (Dask's
    own concurrent.futures executor, so the rest of the build is the same either way; as many tasks as the
    cluster has worker threads)."""
    if args.executor == "local":
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_start_worker, initargs=(os.getpid(), str(kernel_log))) as pool:
            yield pool, jobs
        return
    from dask.distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        if args.scheduler:
            client = stack.enter_context(Client(args.scheduler, timeout="30s"))
        else:
            cluster = stack.enter_context(LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                                       dashboard_address=None, silence_logs=logging.ERROR))
            client = stack.enter_context(Client(cluster))
            client.run(_log_stderr, str(kernel_log))
        workers = client.scheduler_info()["workers"].values()
        print(f"Dask scheduler {client.scheduler.address}: {len(workers)} workers", flush=True)
        yield client.get_executor(pure=False), sum(w["nthreads"] for w in workers)


def build(args) -> int:
    if args.profile not in PROFILES:
        raise InputError(f"unknown profile {args.profile!r}: use --profile with one of {', '.join(PROFILES)}")
    only = [n.strip() for n in args.only.split(",") if n.strip()] or PROFILES[args.profile]["families"]
    unknown = [n for n in only if n not in FAMILIES]
    if unknown:
        raise InputError(f"unknown notebook {', '.join(unknown)} in --only: choose from {', '.join(FAMILIES)}")
    try:
        jobs = int(args.jobs)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise InputError(f"--jobs {args.jobs!r} is invalid: give a positive integer, e.g. --jobs 2")
    if args.executor not in ("local", "dask"):
        raise InputError(f"--executor {args.executor!r} is invalid: use local or dask")
    if args.scheduler and args.executor != "dask":
        raise InputError("--scheduler needs --executor dask")
    if args.executor == "dask":
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise InputError("--executor dask needs Dask: pip install 'dask[distributed]'") from None
    overrides = parse_overrides(args.parameter)
    if args.force:
        overrides["force"] = True
    # every override of a profile setting, so that the memory and disk check sees what will run
    common = {k: v for k, v in overrides.items() if k in PROFILES[args.profile]}
    try:
        settings = resolve_settings(args.profile, overrides.get("output_dir"), **common)
    except ParameterError as exc:
        raise InputError(str(exc)) from None
    overrides["output_dir"] = settings["output_dir"]  # absolute, so every kernel writes to the same place
    if overrides.get("data_path") and overrides["data_path"] != "synthetic":
        overrides["data_path"] = str(Path(overrides["data_path"]).expanduser().resolve())

    families = [n for n in ORDER if n in only]
    jobs = min(jobs, len(families))
    # LRLAB_THREADS, when set, pins the threads per notebook (one thread makes training bit-for-bit repeatable)
    threads = int(os.environ.get("LRLAB_THREADS") or max(1, (os.cpu_count() or 1) // jobs))
    try:
        resources.check(settings, jobs)
    except resources.ResourceError as exc:
        raise InputError(str(exc)) from None

    out = Path(settings["output_dir"]) / args.profile
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    build_lock = _lock_build(out)  # noqa: F841 (held open until this process exits)

    # Fail before any notebook starts when there is no dataset, and decode it once for all of them.
    try:
        load_cifar10(settings["data_path"], settings["output_dir"], args.profile)
    except DataError as exc:
        raise InputError(str(exc)) from None
    report = out / "report.html"
    report.unlink(missing_ok=True)  # only a finished build leaves a report behind

    print(f"Building the {args.profile} report in {out}: {len(families)} notebooks, {jobs} at a time, "
          f"{threads} thread(s) each", flush=True)
    failures = {}
    start = time.perf_counter()
    kernel_log = out / "notebooks" / "kernels.log"
    kernel_log.unlink(missing_ok=True)
    with _executor(args, jobs, kernel_log) as (pool, slots):
        running = {}  # future -> ("notebook" | "helper", name)
        helped_out = set()  # notebooks whose helper found nothing to do, or failed: not helped again
        for name in families:
            params = {k: v for k, v in overrides.items() if k in notebook_parameters(name)}
            params["profile"] = args.profile
            forget_family(settings, name)
            running[pool.submit(execute_notebook, name, params, out / "notebooks" / f"{name}.ipynb", threads)] = \
                ("notebook", name)
        while running:
            done, _ = wait(running, timeout=HELP_POLL_S, return_when=FIRST_COMPLETED)
            for future in done:
                kind, name = running.pop(future)
                if kind == "helper":
                    try:
                        _, error, seconds, trained = future.result()
                    except Exception as exc:  # the worker died; the notebook trains what is left
                        error, seconds, trained = f"{type(exc).__name__}: {exc}", 0.0, 0
                    print(f"[{name} helper] " + (f"stopped at {error}" if error else f"trained {trained} runs")
                          + f" ({seconds:.0f} s)", flush=True)
                    if error or not trained:
                        helped_out.add(name)
                    continue
                try:
                    name, error, seconds = future.result()
                except Exception as exc:  # the worker process itself died (killed, out of memory)
                    error, seconds = f"{type(exc).__name__}: {exc}", 0.0
                status = f"FAILED at {error}" if error else "done"
                print(f"[{name}] {status} ({seconds:.0f} s)", flush=True)
                if error:
                    failures[name] = error
            # every notebook started (the pool runs `jobs` tasks at a time, queued ones included here): help one
            while len(running) < slots:
                helpers = collections.Counter(n for kind, n in running.values() if kind == "helper")
                name = notebook_to_help(settings, [n for kind, n in running.values()
                                                   if kind == "notebook" and n not in helped_out], helpers)
                if name is None:
                    break
                try:
                    running[pool.submit(help_notebook, name, settings, threads)] = ("helper", name)
                except Exception:  # the pool broke (a worker died): the notebooks' own failures say so
                    break

        compare_params = {k: v for k, v in overrides.items() if k in notebook_parameters("compare")}
        compare_params |= {"profile": args.profile, "failed_notebooks": sorted(failures)}
        try:
            name, error, seconds = pool.submit(execute_notebook, "compare", compare_params,
                                               out / "notebooks" / "compare.ipynb", os.cpu_count() or 1).result()
        except Exception as exc:
            error, seconds = f"{type(exc).__name__}: {exc}", 0.0
    if error:
        print(f"[compare] FAILED at {error} ({seconds:.0f} s); no report written; kernel messages in {kernel_log}",
              file=sys.stderr)
        return 1
    export_html(out / "notebooks" / "compare.ipynb", report)
    print(f"Report: {report} ({time.perf_counter() - start:.0f} s)", flush=True)
    for name, error in failures.items():
        print(f"error: {name}.ipynb failed at {error}; see {out / 'notebooks' / (name + '.ipynb')} and {kernel_log}",
              file=sys.stderr)
    return 1 if failures else 0


def main(argv=None) -> int:
    try:
        return build(parse_args(argv))
    except InputError as exc:
        print(f"build_report.py: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
