"""The build behind build_report.py: settings resolved once, every family's missing seed groups trained as tasks
(longest first, on local worker processes or a Dask cluster), then the notebooks executed with papermill, which
find their runs stored and render, and compare.ipynb turned into one self-contained HTML file.

Runs already stored with the same configuration are reused, so an unchanged rebuild trains nothing. A run shared
by two families (the sensitivity grid's default rates are the constant and adaptive families' runs) is one task.
Exit status: 0 when every family ran, 1 when one failed (the others and every finished run are kept, and the
report says what is missing), 2 for bad input (nothing is run).
"""

import argparse
import contextlib
import functools
import logging
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import resources
from .config import FAMILIES, PROFILES, seed_groups
from .data import DataError
from .execution import execute_notebook, export_html, inputs_digest, up_to_date
from .families import configs as family_configs, cost, custom_preview, notebook_defaults, train_group
from .machine import configure_process, default_jobs, importable, workers_and_threads
from .parameters import NOTEBOOKS, SETTINGS, ParameterError, Settings, check_parameter, notebook_parameters, \
    resolve_settings
from .tasks import load_dataset
from .store import forget_family, manifest_path, profile_dir, migrate, read_summary, remove_abandoned, run_id, runs_dir

class InputError(Exception):
    """Bad command-line input: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise InputError(f"{message} (see --help)")


def parse_args(argv):
    parser = _Parser(prog="build_report.py", description="Train every family's missing runs, execute the notebooks "
                     "with papermill and write outputs/<profile>/report.html.",
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="paper", help=f"one of {', '.join(PROFILES)} (default: paper)")
    parser.add_argument("--only", default="", help=f"comma-separated family notebooks to execute "
                        f"({', '.join(FAMILIES)}; default: the profile's); the report still shows every family of "
                        f"the profile with stored runs")
    parser.add_argument("--jobs", default="auto",
                        help="seed groups trained at once, at most (never more than there are to train); the "
                             "cores are divided between them (default: one per core; on a GPU machine, as many as "
                             "its memory holds, two cores each)")
    parser.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                        help="override a notebook parameter for every notebook that has it (YAML value: "
                             "-p epochs=10 -p seeds=[0,1] -p data_path=/data/cifar-10-python.tar.gz)")
    parser.add_argument("--force", action="store_true", help="retrain runs even when a completed copy is stored")
    parser.add_argument("--executor", default="local", help="local: training on worker processes of this machine "
                        "(default); dask: training tasks on a Dask cluster, whose workers must see this checkout "
                        "and the output folder at the same paths")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS", help="with --executor dask: the "
                        "scheduler to use, e.g. tcp://HOST:8786 (default: a LocalCluster of --jobs workers)")
    return parser.parse_args(argv)


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
    """`-p NAME=VALUE` pairs as {name: checked value}; InputError (one line) for anything no notebook takes."""
    known = sorted({name for notebook in NOTEBOOKS for name in notebook_parameters(notebook)})
    overrides = {}
    for pair in pairs:
        if "=" not in pair:
            raise InputError(f"-p {pair!r} is not NAME=VALUE: write e.g. -p epochs=10")
        name, text = (part.strip() for part in pair.split("=", 1))
        if name == "profile":
            raise InputError("choose the profile with --profile, not -p profile=...")
        if name not in known:
            raise InputError(f"unknown parameter {name!r}: the notebooks take {', '.join(known)}")
        try:
            overrides[name] = check_parameter(name, _parse_value(text))
        except ParameterError as exc:
            raise InputError(str(exc)) from None
    return overrides


@dataclass(frozen=True)
class Request:
    """What a build will do, checked: nothing has run when this exists."""
    families: list
    jobs: int
    executor: str
    scheduler: str | None
    settings: Settings
    overrides: dict  # the -p values, with output_dir and data_path made absolute


def check_request(args) -> Request:
    if args.profile not in PROFILES:
        raise InputError(f"unknown profile {args.profile!r}: use --profile with one of {', '.join(PROFILES)}")
    only = [n.strip() for n in args.only.split(",") if n.strip()] or PROFILES[args.profile]["families"]
    unknown = [n for n in only if n not in FAMILIES]
    if unknown:
        raise InputError(f"unknown notebook {', '.join(unknown)} in --only: choose from {', '.join(FAMILIES)}")
    if args.jobs.strip() != "auto" and not (args.jobs.strip().isdigit() and int(args.jobs) > 0):
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
    families_given = "families" in overrides
    given = {k: v for k, v in overrides.items()
             if k in SETTINGS and k not in ("output_dir", "steps_per_execution", "force")}
    force = args.force or bool(overrides.pop("force", False))  # the build retrains; its notebooks then reuse
    try:
        settings = resolve_settings(args.profile, overrides.get("output_dir"), overrides.get("steps_per_execution"),
                                    force, **given)
    except ParameterError as exc:
        raise InputError(str(exc)) from None
    overrides["output_dir"] = settings.output_dir  # absolute, so every process writes to the same place
    if overrides.get("data_path") not in (None, "synthetic"):
        overrides["data_path"] = str(Path(overrides["data_path"]).expanduser().resolve())
    asked = {"budget": bool(overrides.get("budgets")),
             "custom": bool(overrides.get("schedule") or overrides.get("optimizer"))}
    if "custom" in only and not asked["custom"]:
        raise InputError("the custom notebook needs your code: add -p schedule=package.module:function and/or "
                         "-p optimizer=package.module:function, e.g. -p schedule=examples.my_code:warmup_then_cosine")
    for family in [f for f, wanted in asked.items() if wanted]:  # asked for: it joins the build, and the report
        only = list(only) + [family] if not args.only.strip() else only
        if family in only and family not in settings.families:
            settings = settings.replace(families=settings.families + [family])
            overrides["families"] = settings.families
    families = [n for n in FAMILIES if n in only]
    if args.only.strip() and not families_given:
        # the report shows what this build runs and what earlier builds stored, not families neither has
        overrides["families"] = [f for f in settings.families
                                 if f in families or manifest_path(settings, f).is_file()]
    if overrides.get("data_path") is not None:
        settings = settings.replace(data_path=overrides["data_path"])
    jobs = default_jobs(settings.model) if args.jobs.strip() == "auto" else int(args.jobs)
    return Request(families, jobs, args.executor, args.scheduler, settings, overrides)


def notebook_values(request, notebook) -> dict:
    """The parameters papermill gives `notebook`: the profile and every -p value it takes."""
    taken = notebook_parameters(notebook)
    return {"profile": request.settings.profile} | {k: v for k, v in request.overrides.items() if k in taken}


def family_values(request, family) -> dict:
    """The family's own parameters as its notebook will see them: its defaults, with the -p values it takes."""
    return {name: request.overrides.get(name, default) for name, default in notebook_defaults(family).items()}


def missing_groups(request, dataset) -> tuple[list, dict]:
    """Every family's seed groups with a run to train (every group with --force), each once (a group inside a
    larger one trains with it), longest first, as (families, configs); and each family's run ids."""
    groups, runs_of = {}, {}
    for family in request.families:
        try:
            configs = family_configs(family, request.settings, dataset, family_values(request, family))
        except ParameterError as exc:
            raise InputError(str(exc)) from None
        for group in seed_groups(configs):
            rids = tuple(run_id(configs[i]) for i in group)
            runs_of.setdefault(family, []).extend(rids)
            groups.setdefault(rids, ([], [configs[i] for i in group]))[0].append(family)
    for rids in sorted(groups, key=len):  # a group inside a larger one (a family's default rate inside the sweep's
        larger = [other for other in groups if len(other) > len(rids) and set(rids) <= set(other)]  # grid) joins it
        if larger:
            groups[larger[0]][0].extend(f for f in groups.pop(rids)[0] if f not in groups[larger[0]][0])
    todo = [(families, configs) for rids, (families, configs) in groups.items()
            if request.settings.force or any(read_summary(runs_dir(request.settings) / r) is None for r in rids)]
    return sorted(todo, key=lambda task: -cost(task[1])), runs_of


def _train_task(configs, settings, family):
    """One seed group, in a worker: its runs trained (or found stored), each message prefixed by its family."""
    return train_group(configs, settings, log=lambda message: print(f"[{family}] {message}", flush=True))


def train_missing(training_pool, tasks, settings, total_runs) -> dict:
    """Train every task on the pool `training_pool()` opens, with one progress bar over all of them; return
    {family: error} for the families whose training failed (every other run is stored, whatever failed). When a
    local worker dies (killed, out of memory), the pool breaks: the groups it had not finished start once more on
    a fresh pool, and fail only if that one breaks too."""
    from tqdm import tqdm

    runs = sum(len(configs) for _, configs in tasks)
    print(f"Training {runs} of {total_runs} runs ({total_runs - runs} stored) in {len(tasks)} seed groups",
          flush=True)
    failures, done, pending = {}, 0, list(tasks)
    with tqdm(total=sum(cost(configs) for _, configs in tasks), unit="epoch", desc=f"runs 0/{runs}",
              file=sys.stderr, bar_format="{desc} |{bar}| {elapsed} elapsed, {remaining} left", disable=not tasks,
              mininterval=1) as bar:
        for last_try in (False, True):
            if not pending:
                break
            if last_try:
                bar.write(f"A worker died (killed, or out of memory?): {len(pending)} seed groups start again on "
                          f"fresh workers; runs already stored are kept")
            with training_pool() as pool:
                futures = {pool.submit(_train_task, configs, settings, families[0]): (families, configs)
                           for families, configs in pending}
                pending = []
                for future in as_completed(futures):
                    families, configs = futures[future]
                    try:
                        future.result()
                    except BrokenProcessPool:
                        if not last_try:
                            pending.append((families, configs))
                            continue
                        _fail(failures, families, configs, "its worker died twice (killed, or out of memory?)")
                    except Exception as exc:  # a run that raised, or a Dask worker lost for good
                        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
                        _fail(failures, families, configs, f"{type(exc).__name__}: {message}")
                    done += len(configs)
                    bar.set_description_str(f"runs {done}/{runs}", refresh=False)
                    bar.update(cost(configs))
    return failures


def train_in_passes(pool, request, tasks, runs_of) -> tuple[dict, dict]:
    """Train `tasks` (missing_groups'), then the runs whose configurations read other runs' results (fastai's
    workflow peaks at each stored range test's valley), declared only once those are stored: one more pass. Returns
    train_missing's failures and every family's run ids."""
    failures = train_missing(pool, tasks, request.settings, len(set().union(*runs_of.values())))
    first_pass = {run_id(config) for _, configs in tasks for config in configs}
    tasks, runs_of = missing_groups(request, load_dataset(request.settings))
    tasks = [task for task in tasks if not first_pass & {run_id(config) for config in task[1]}]
    if tasks:
        failures |= train_missing(pool, tasks, request.settings, len(set().union(*runs_of.values())))
    return failures, runs_of


def _fail(failures, families, configs, reason):
    for family in families:
        failures.setdefault(family, f"training {run_id(configs[0])}: {reason}")


def execute_notebooks(pool, request, failures, folder, runs_of) -> tuple[dict, str | None]:
    """Execute the family notebooks whose training did not fail, then compare.ipynb, each unless its executed
    copy is up to date (an unchanged rebuild re-executes nothing); return the families' errors (those of training
    included) and compare's error or None."""
    settings, failures, futures, digests = request.settings, dict(failures), {}, {}
    for name in (n for n in request.families if n not in failures):
        values = notebook_values(request, name)
        digests[name] = inputs_digest(name, values, [runs_dir(settings) / r / "summary.json" for r in runs_of[name]])
        if up_to_date(folder, name, digests[name]) and manifest_path(settings, name).is_file():
            print(f"[{name}] up to date", flush=True)
            continue
        forget_family(settings, name)  # a failure now must not leave the last build's runs standing in for its own
        (folder / f".{name}.inputs").unlink(missing_ok=True)
        futures[pool.submit(execute_notebook, name, values, folder / f"{name}.ipynb")] = name
    for future in as_completed(futures):
        try:
            name, error, seconds = future.result()
        except Exception as exc:  # the worker process itself died
            name, error, seconds = futures[future], f"{type(exc).__name__}: {exc}", 0.0
        print(f"[{name}] " + (f"FAILED at {error}" if error else "done") + f" ({seconds:.0f} s)", flush=True)
        if error:
            failures[name] = error
        else:
            (folder / f".{name}.inputs").write_text(digests[name])
    for name in failures:
        forget_family(settings, name)
    compare = notebook_values(request, "compare") | {"failed_notebooks": sorted(failures)}
    from .report import build_info  # plotting libraries: only once the notebooks have run

    rendered_from = {k: v for k, v in build_info().items() if k != "built_at"}  # the report's header says them
    # its own families' manifests, and those of the other tasks' profiles it compares with
    manifests = [manifest_path(settings, f) for f in settings.families] + [
        manifest_path(settings.replace(profile=p), f) for p in compare.get("across_profiles") or []
        for f in PROFILES[p]["families"]]
    digest = inputs_digest("compare", compare | {"rendered from": rendered_from}, manifests)
    if up_to_date(folder, "compare", digest):
        return failures, None
    (folder / ".compare.inputs").unlink(missing_ok=True)
    try:
        _, error, _ = pool.submit(execute_notebook, "compare", compare, folder / "compare.ipynb").result()
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    if not error:
        (folder / ".compare.inputs").write_text(digest)
    return failures, error


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


def _set_up_worker(log_path, threads):
    """A training or notebook worker's set-up: its stderr (and its kernels') to a log file, since TensorFlow's
    start-up notices from every process would bury the progress lines, and its thread count set before any
    backend loads."""
    os.dup2(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644), 2)
    configure_process(threads)


def _start_local_worker(parent_pid, log_path, threads):
    """A local worker also ends with the build, even by kill -9, so that no orphan goes on training into a store
    the next build owns. (Dask's workers are their nannies' to stop: the signal would follow the nanny's thread.)"""
    _set_up_worker(log_path, threads)
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the build died before the line above took effect
        os._exit(1)


def local_pool(jobs, threads, log_path):
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_local_worker, initargs=(os.getpid(), str(log_path), threads))


@contextlib.contextmanager
def training_pool(request, workers, log_path, threads):
    """Where seed groups train: `workers` processes of this build, or a Dask cluster (a LocalCluster of `workers`,
    or the scheduler's) through Dask's own concurrent.futures executor, so the rest of the build is the same
    either way."""
    if request.executor == "local":
        with local_pool(workers, threads, log_path) as pool:
            yield pool
        return
    from dask.distributed import Client, LocalCluster, WorkerPlugin

    class WorkerSetUp(WorkerPlugin):
        """_set_up_worker on every worker, a worker its nanny restarts included."""

        def setup(self, worker):
            _set_up_worker(str(log_path), threads)

    with contextlib.ExitStack() as stack:
        if request.scheduler:
            client = stack.enter_context(Client(request.scheduler, timeout="30s"))
        else:
            cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                       dashboard_address=None, silence_logs=logging.ERROR))
            client = stack.enter_context(Client(cluster))
        if not request.scheduler:  # a cluster of the build's own; another's workers are set up by their owner
            client.register_plugin(WorkerSetUp())
        dashboard = f", dashboard {client.dashboard_link}" if request.scheduler else ""  # a LocalCluster has none
        print(f"Dask scheduler {client.scheduler.address}: {len(client.scheduler_info()['workers'])} workers"
              f"{dashboard}", flush=True)
        yield client.get_executor(pure=False)


def build(args) -> int:
    request = check_request(args)
    settings = request.settings
    given_threads = os.environ.get("LRLAB_THREADS") or None  # wins over the build's own division of the cores
    if given_threads is not None and (not given_threads.isdigit() or int(given_threads) < 1):
        raise InputError(f"LRLAB_THREADS={given_threads!r} is invalid: give a positive integer, e.g. "
                         f"LRLAB_THREADS=1")
    try:
        resources.check(settings, request.jobs)
    except resources.ResourceError as exc:
        raise InputError(str(exc)) from None
    out = profile_dir(settings)
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    build_lock = _lock_build(out)  # noqa: F841 (held open until this process exits)
    try:  # fails before anything trains when there is no dataset, and decodes it once for every process
        dataset = load_dataset(settings)
    except DataError as exc:
        raise InputError(str(exc)) from None
    if "custom" in request.families:  # the user's modules, from where they run the build, in every process
        importable(os.getcwd())
        configure_process()  # their code loads a backend here: GPU memory taken as needed, not all of it
    tasks, runs_of = missing_groups(request, dataset)
    if "custom" in request.families:
        preview = custom_preview(settings, dataset, family_values(request, "custom"))
        for warning in preview.warnings:
            print(f"warning: {preview.name}: {warning}", flush=True)
    del dataset
    report = out / "report.html"
    report.unlink(missing_ok=True)  # only a finished build leaves a report behind
    if runs_dir(settings).is_dir():
        remove_abandoned(runs_dir(settings))
        migrate(runs_dir(settings))
    start, log = time.perf_counter(), out / "notebooks" / "kernels.log"
    log.unlink(missing_ok=True)
    # no more workers than there is work for, and the cores divided between those (machine.workers_and_threads)
    workers, threads = workers_and_threads(request.jobs, len(tasks), os.cpu_count(), given_threads)
    print(f"Building the {settings.profile} report in {out}: {len(request.families)} notebooks, {workers} "
          f"process(es), {threads} thread(s) each", flush=True)
    failures, runs_of = train_in_passes(functools.partial(training_pool, request, workers, log, threads), request,
                                        tasks, runs_of)
    notebook_workers, notebook_threads = workers_and_threads(request.jobs, len(request.families), os.cpu_count(),
                                                             given_threads)  # the notebooks: the same rule
    with local_pool(notebook_workers, notebook_threads, log) as pool:
        failures, error = execute_notebooks(pool, request, failures, out / "notebooks", runs_of)
    if error:
        print(f"error: compare.ipynb failed at {error}; no report written; kernel messages in {log}",
              file=sys.stderr)
        return 1
    export_html(out / "notebooks" / "compare.ipynb", report)
    print(f"Report: {report} ({time.perf_counter() - start:.0f} s)", flush=True)
    for name, error in failures.items():
        where = log if error.startswith("training ") else f"{out / 'notebooks' / (name + '.ipynb')} and {log}"
        print(f"error: {name}.ipynb failed at {error}; see {where}", file=sys.stderr)
    return 1 if failures else 0


def main(argv=None) -> int:
    try:
        return build(parse_args(argv))
    except InputError as exc:
        print(f"build_report.py: error: {exc}", file=sys.stderr)
        return 2
