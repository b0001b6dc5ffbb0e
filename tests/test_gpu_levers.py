"""What makes a GPU build fast, checked where no GPU is: workers sized to the GPUs' memory, compiled programs kept
on disk for the next process. (Trained together, a sweep's rates give the numbers they give alone:
test_store_and_results.py; the timings themselves are benchmarks, docs/performance.md.)"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lrlab.machine import default_jobs, gpus, workers_and_threads

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("model, cores, gpu_memory, jobs", [
    ("seed_cnn", 2, [], 2),  # a CPU machine: one worker per core
    ("seed_cnn", 16, [79.6], 8),  # one H100: memory for 19 workers, two cores each for 8
    ("vgg_bn", 16, [15.9], 1),  # a 16 GB card holds one VGG worker (8 GiB each, 15.9 // 8)
    ("vgg_bn", 64, [79.6, 79.6], 18),  # two cards: 9 workers each
    ("seed_cnn", 1, [79.6], 1),  # never none
])
def test_a_gpu_build_runs_as_many_workers_as_the_gpus_hold(model, cores, gpu_memory, jobs):
    assert default_jobs(model, cores, gpu_memory) == jobs


@pytest.mark.parametrize("jobs, groups, cores, threads, expected", [
    (2, 1, 2, None, (1, 2)),  # one seed group (--only constant) on 2 cores: one worker with both
    (2, 5, 2, None, (2, 1)),  # more groups than jobs: every job busy, a core each
    (16, 3, 16, None, (3, 5)),  # three groups on 16 cores: three workers, 16 // 3 threads each
    (8, 0, 16, None, (1, 16)),  # nothing to train: never no worker
    (4, 9, 2, None, (4, 1)),  # --jobs above the cores: one thread each at least
    (2, 1, 2, "1", (1, 1)),  # LRLAB_THREADS wins (one thread: bit-for-bit repeatable)
    (8, 3, 16, "4", (3, 4)),
])
def test_a_build_runs_no_more_workers_than_groups_and_divides_the_cores_between_them(jobs, groups, cores, threads,
                                                                                      expected):
    assert workers_and_threads(jobs, groups, cores, threads) == expected


def _fake_nvidia_smi(folder, output):
    """nvidia-smi's answer on a machine with GPUs (none here), as the build reads it."""
    script = folder / "nvidia-smi"
    script.write_text(f"#!/bin/sh\nprintf '{output}'\n")
    script.chmod(0o755)
    return str(folder) + os.pathsep + os.environ["PATH"]


def test_the_gpus_memory_is_read_from_nvidia_smi(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", _fake_nvidia_smi(tmp_path, "81559\\n81559\\n"))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert gpus() == pytest.approx([79.65, 79.65], abs=0.01)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert gpus() == pytest.approx([79.65], abs=0.01)
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert gpus() == []


def test_jobs_default_to_the_machine_and_the_command_line_wins(tmp_path, monkeypatch):
    from lrlab import build as lrlab_build

    monkeypatch.setenv("PATH", _fake_nvidia_smi(tmp_path, "81559\\n"))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    request = lrlab_build.check_request(lrlab_build.parse_args(["--profile", "smoke", "-p", f"output_dir={tmp_path}"]))
    assert request.jobs == 8  # one 80 GB card holds 19 seed_cnn workers; 16 cores, two each, feed 8
    request = lrlab_build.check_request(lrlab_build.parse_args(["--profile", "smoke", "--jobs", "3",
                                                                "-p", f"output_dir={tmp_path}"]))
    assert request.jobs == 3


JAX_RUN = textwrap.dedent("""
    import sys
    sys.path.insert(0, {lib!r})
    from lrlab.machine import configure_process
    configure_process(1)
    from lrlab import families, train
    from lrlab.data import load_dataset
    from lrlab.parameters import resolve_settings
    settings = resolve_settings("smoke", epochs=1, data_path={data!r}, output_dir={out!r})
    dataset = load_dataset(settings)
    config = families.sgd_configs("constant", {{"name": "constant", "lr0": 0.1}}, 0.0, settings, dataset)[0]
    train.train_runs([config], dataset, log=lambda m: None)
""")


@pytest.mark.slow
def test_a_jax_worker_keeps_its_compiled_programs_for_the_next(tmp_path, synthetic_archive):
    cache = tmp_path / "cache"
    script = JAX_RUN.format(lib=str(ROOT / "lib"), data=str(synthetic_archive), out=str(tmp_path))
    env = os.environ | {"KERAS_BACKEND": "jax", "LRLAB_CACHE": str(cache)}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert any((cache / "jax").iterdir())  # the train step's program, at least
