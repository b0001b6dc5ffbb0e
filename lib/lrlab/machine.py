"""What a run trained on and what the report was built with: the accelerator by name, the Keras backend and the
versions that decide the numbers (the backend's own, its compiler's, CUDA's where there is one)."""

import os
import platform
from importlib import metadata

# Packages whose versions a reader needs to repeat a run; those not installed are left out.
PACKAGES = ["lrlab", "keras", "tensorflow", "jax", "jaxlib", "jax-cuda12-plugin", "jax-cuda13-plugin", "torch",
            "numpy", "pandas", "scipy", "seaborn", "matplotlib", "papermill", "nbconvert"]


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
