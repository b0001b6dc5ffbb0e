"""What a run trained on and what the report was built with: the accelerator by name, the Keras backend and the
versions that decide the numbers (the backend's own, its compiler's, CUDA's where there is one)."""

import os
import platform
import subprocess
import sys
from pathlib import Path
from importlib import metadata

# Packages whose versions a reader needs to repeat a run; those not installed are left out.
PACKAGES = ["lrlab", "keras", "tensorflow", "jax", "jaxlib", "jax-cuda12-plugin", "jax-cuda13-plugin", "torch",
            "numpy", "pandas", "scipy", "statsmodels", "seaborn", "matplotlib", "papermill", "nbconvert"]


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def accelerator() -> dict:
    """{"device": the GPU's name (e.g. "NVIDIA H100 80GB HBM3") or "CPU", "cuda": CUDA version or None}, asked of
    the Keras backend in use, which is loaded by then (this is called after training)."""
    import keras

    backend = keras.backend.backend()
    names, cuda = [], None
    try:
        if backend == "jax":
            import jax

            names = [d.device_kind for d in jax.devices() if d.platform == "gpu"]
            cuda = _jax_cuda_version() if names else None
        elif backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
            cuda = tf.sysconfig.get_build_info().get("cuda_version") if gpus else None
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
                cuda = torch.version.cuda
    except Exception:  # a backend that cannot describe its devices: say CPU rather than fail a finished run
        names = []
    if not names:
        return {"device": f"CPU ({cpu_model()}, {os.cpu_count()} cores)", "cuda": None}
    first = names[0]
    return {"device": first if len(names) == 1 else f"{len(names)} × {first}", "cuda": cuda}


def _jax_cuda_version():
    for plugin in ("jax-cuda13-plugin", "jax-cuda12-plugin"):
        try:
            metadata.version(plugin)
            return plugin.split("-")[1].replace("cuda", "")  # the major version the plugin is built for
        except metadata.PackageNotFoundError:
            continue
    return None


def run_record() -> dict:
    """What a run's summary.json keeps about where it trained."""
    import keras

    return {"keras_version": keras.__version__, "backend": keras.backend.backend(), **accelerator(),
            "versions": {k: v for k, v in versions().items() if k in ("tensorflow", "jax", "jaxlib", "torch")}}


def cache_root() -> Path:
    """Where the project keeps what it can make again: decoded datasets, compiled programs ($LRLAB_CACHE)."""
    return Path(os.environ.get("LRLAB_CACHE", Path.home() / ".cache" / "lrlab"))


def gpus() -> list:
    """The memory of each NVIDIA GPU this machine shows, in GiB, asked of nvidia-smi (no backend loaded: the build
    sizes its workers before any starts); [] without one."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    try:
        found = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if found.returncode != 0:
        return []
    memory = [int(line) / 1024 for line in found.stdout.split() if line.strip().isdigit()]
    if visible is not None:  # the GPUs this process may use
        memory = [m for i, m in enumerate(memory) if str(i) in visible.split(",")]
    return memory


# GPU memory a training worker may take, in GiB, per network (the compiled step, the training set kept on the
# device for up to 25 runs of a sweep's model, and the backend's own context): generous, not measured yet
WORKER_GPU_GIB = {"seed_cnn": 4, "vgg_bn": 8, "resnet20": 8, "char_transformer": 8, "char_transformer_small": 4}


def default_jobs(model, cores=None, gpu_memory=None) -> int:
    """Worker processes a build runs at once: one per core on a CPU; on GPUs as many as their memory holds
    (WORKER_GPU_GIB), two cores each at least (one feeds its GPU, the other runs the rest), so that several
    models' small steps keep a GPU busy where one alone leaves it mostly idle."""
    cores = cores or os.cpu_count() or 1
    gpu_memory = gpus() if gpu_memory is None else gpu_memory
    if not gpu_memory:
        return cores
    return max(1, min(cores // 2, sum(int(m // WORKER_GPU_GIB[model]) for m in gpu_memory)))


def workers_and_threads(jobs, groups, cores=None, threads=None) -> tuple[int, int]:
    """(worker processes, threads each) for `groups` tasks to run with at most `jobs` at once: never more workers
    than tasks (one at least), and the cores divided between those workers, so a build with fewer seed groups than
    cores gives each group several threads instead of leaving cores idle. `threads` (LRLAB_THREADS), when given,
    wins."""
    workers = max(1, min(jobs, groups))
    return workers, int(threads) if threads else max(1, (cores or os.cpu_count() or 1) // workers)


def configure_process(threads=None):
    """Set, before a Keras backend loads in this process, what the backends read from the environment when they
    start: `threads` for every thread pool (several one-thread processes outrun one process with several
    threads on a few cores, and one thread makes training bit-for-bit repeatable), and GPU memory taken as needed,
    so that several processes can share one GPU instead of the first one taking all of it. Called by the build's
    workers; a notebook run on its own leaves the environment as its user set it."""
    if threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                    "TF_NUM_INTEROP_THREADS"):
            os.environ.setdefault(var, str(threads))  # a value the user set wins
        if int(threads) == 1:  # JAX's CPU client: one thread for Eigen's contractions
            flags = os.environ.get("XLA_FLAGS", "")
            if "xla_cpu_multi_thread_eigen" not in flags:
                os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false".strip()
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")  # TensorFlow: take GPU memory as needed
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up notices: errors only
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # JAX: the same
    # JAX: compiled programs kept on disk, so the next worker, and the next build, load them instead of compiling
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(cache_root() / "jax"))



def importable(folder):
    """Modules in `folder` importable here and in every process started from here (training workers, notebook
    kernels): the custom notebook imports the user's code by name, from the folder they run the build in."""
    folder = str(folder)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if folder not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([folder] + paths)


def benchmark_result(result: dict, json_path=None) -> dict:
    """A benchmark's figures with where they were measured (backend, device), printed as JSON, and written to
    `json_path` when one is given: every benchmark reports the same way."""
    import json

    import keras

    result = result | {"backend": keras.backend.backend(), "device": accelerator()["device"]}
    text = json.dumps(result, indent=1)
    print(text)
    if json_path:
        Path(json_path).write_text(text + "\n")
    return result
