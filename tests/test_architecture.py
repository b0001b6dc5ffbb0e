"""The library's shape: imports without a cycle, modules that change nothing in the process when imported, a thin
command line and short functions on the build's path."""

import ast
import json
import subprocess
import sys

import pytest
from conftest import ROOT

LIB = ROOT / "lib" / "lrlab"
MODULES = sorted(p.stem for p in LIB.glob("*.py") if p.stem != "__init__")


def lrlab_imports(module) -> set:
    """The lrlab modules `module` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse((LIB / f"{module}.py").read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:  # from . import a, b
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lrlab"):
            parts = node.module.split(".")
            found.update([parts[1]] if len(parts) > 1 else [alias.name for alias in node.names])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("lrlab."))
    return found & set(MODULES)


def find_cycle(graph):
    """A chain of imports that comes back to where it started, or None."""
    done, path = set(), []

    def visit(module):
        if module in path:
            return path[path.index(module):] + [module]
        if module in done:
            return None
        path.append(module)
        for imported in sorted(graph[module]):
            cycle = visit(imported)
            if cycle:
                return cycle
        path.pop()
        done.add(module)
        return None

    return next((cycle for cycle in map(visit, sorted(graph)) if cycle), None)


def test_the_import_graph_has_no_cycle():
    graph = {module: lrlab_imports(module) for module in MODULES}
    assert find_cycle(graph) is None, " → ".join(find_cycle(graph))
    assert graph["store"] == set(), "the store is persistence and locking only"
    assert not any("build" in imported for imported in graph.values()), "nothing in the library uses the build"
    # the finder itself: a cycle through a function-level import is one too
    assert find_cycle({"store": {"train"}, "train": {"config", "store"}, "config": set()}) == \
        ["store", "train", "store"]


PROCESS_STATE = """
import json, os, random, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import keras, matplotlib
before = {"environ": dict(os.environ), "rc": {k: str(v) for k, v in matplotlib.rcParams.items()},
          "policy": keras.config.dtype_policy().name, "random": random.random(), "numpy": float(np.random.random())}
random.seed(0); np.random.seed(0); random.random(); np.random.random()
state = random.getstate(), np.random.get_state()
import importlib
for module in json.loads(sys.argv[2]):
    importlib.import_module(f"lrlab.{module}")
random.setstate(state[0]); np.random.set_state(state[1])
after = {"environ": dict(os.environ), "rc": {k: str(v) for k, v in matplotlib.rcParams.items()},
         "policy": keras.config.dtype_policy().name, "random": before["random"], "numpy": before["numpy"]}
changed = {k: sorted(set(before[k].items()) ^ set(after[k].items())) if isinstance(before[k], dict) else
           [before[k], after[k]] for k in before if before[k] != after[k]}
print(json.dumps(changed))
"""


def test_importing_the_library_changes_nothing_in_the_process():
    """Environment variables, matplotlib's style and Keras's dtype policy are as they were after every lrlab
    module is imported (training included): what a process sets up is its own choice
    (lrlab.machine.configure_process), not a side effect of an import."""
    result = subprocess.run([sys.executable, "-c", PROCESS_STATE, str(ROOT / "lib"), json.dumps(MODULES)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {}


def test_a_run_puts_back_the_process_state_it_changes(synthetic_archive, tmp_path):
    import random

    import keras
    import numpy as np

    from lrlab import train
    from lrlab.data import load_dataset
    from lrlab.families import sgd_configs
    from lrlab.parameters import resolve_settings

    settings = resolve_settings("smoke", epochs=1, data_path=str(synthetic_archive), output_dir=str(tmp_path),
                                precision="mixed_bfloat16")
    dataset = load_dataset(settings)
    config = sgd_configs("constant", {"name": "constant", "lr0": 0.1}, 0.0, settings, dataset)[0]
    random.seed(123)
    np.random.seed(123)
    expected = random.random(), float(np.random.random())
    random.seed(123)
    np.random.seed(123)
    train.train_runs([config], dataset, log=lambda message: None)
    assert keras.config.dtype_policy().name == "float32"  # not left in bfloat16 for the next run
    assert (random.random(), float(np.random.random())) == expected  # the seeding it did is undone


@pytest.mark.slow
def test_a_run_s_weights_do_not_depend_on_other_threads_drawing_random_numbers(synthetic_archive, tmp_path):
    """A Dask worker's own threads draw from Python's global `random` while a task trains; Keras takes every
    layer's default seed from there unless the run gives it a generator of its own (train.set_seed)."""
    import random
    import threading

    from lrlab import range_test, train
    from lrlab.data import load_dataset
    from lrlab.families import range_test_configs, sgd_configs
    from lrlab.parameters import resolve_settings

    settings = resolve_settings("smoke", epochs=1, data_path=str(synthetic_archive), output_dir=str(tmp_path))
    dataset = load_dataset(settings)
    config = sgd_configs("constant", {"name": "constant", "lr0": 0.1}, 0.0, settings, dataset)[0]
    test = range_test_configs(["adam"], 0.0, 1e-5, 1.0, 10, settings, dataset)[1]

    def results():
        return train.train_runs([config], dataset, log=lambda m: None)[0][0]["loss"].tolist(), \
            range_test.range_test(test, dataset, log=lambda m: None)["loss"].tolist()

    quiet = results()
    stop = threading.Event()

    def draw():
        while not stop.is_set():
            random.random()

    busy = threading.Thread(target=draw)
    busy.start()
    try:
        noisy = results()
    finally:
        stop.set()
        busy.join()
    assert noisy == quiet


def _long_functions(path, limit):
    tree = ast.parse(path.read_text())
    return [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= limit]


def test_the_command_line_is_thin_and_the_build_s_functions_short():
    assert len((ROOT / "build_report.py").read_text().splitlines()) <= 100
    for module in ("build", "families", "store", "parameters"):
        assert _long_functions(LIB / f"{module}.py", 60) == [], module
