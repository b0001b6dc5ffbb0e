"""CIFAR-10: find it, decode it once, cache it, cut the class subset a profile asks for.

Sources, first match wins: the `data_path` parameter, the `LRLAB_CIFAR10` environment variable, Keras's own
download (needs internet). A local copy is the official `cifar-10-python.tar.gz` (any tar compression) or its
extracted `cifar-10-batches-py/` folder. `data_path="synthetic"` builds a small archive in the same format
(used by the smoke profile and the tests) and reads it through the same loader.
"""

import bz2
import gzip
import hashlib
import io
import lzma
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np

from .machine import cache_root

CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCH = "test_batch"
ENV_VAR = "LRLAB_CIFAR10"
SYNTHETIC = "synthetic"
# The official cifar-10-python.tar.gz (www.cs.toronto.edu/~kriz), as Keras's own downloader checks it.
OFFICIAL_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
OFFICIAL_SIZE = 170_498_071
HASH_ENV_VAR = "LRLAB_CIFAR10_SHA256"


class DataError(ValueError):
    """The dataset is missing, unreadable or not CIFAR-10: the message says how to fix it."""


# CIFAR-10's batches are pickles; unpickling runs whatever globals the stream names. Admit only what the format
# needs to rebuild numpy arrays (the same set Keras's own dataset loader admits); dicts, lists, bytes and ints
# need no globals at all.
_ALLOWED_PICKLE_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
    }
)


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED_PICKLE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not part of the CIFAR-10 format")


def _decode_batch(raw: bytes, name: str, source: str):
    try:
        batch = _RestrictedUnpickler(io.BytesIO(raw), encoding="bytes").load()
        batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
        data = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        labels = np.asarray(batch["labels"], dtype=np.int64)
    except Exception as exc:
        raise DataError(
            f"{source}: batch {name} is not valid CIFAR-10 ({type(exc).__name__}: {exc}); "
            f"replace the copy with a good one"
        ) from None
    if len(labels) != len(data) or labels.min(initial=0) < 0 or labels.max(initial=0) > 9:
        raise DataError(f"{source}: batch {name} has {len(data)} images but {len(labels)} labels in range")
    return data, labels


def _read_members(path: Path) -> dict:
    """Raw bytes of each batch, from a tar archive (any compression) or an extracted folder."""
    wanted = TRAIN_BATCHES + [TEST_BATCH]
    if path.is_dir():
        folder = path / "cifar-10-batches-py" if (path / "cifar-10-batches-py").is_dir() else path
        missing = [n for n in wanted if not (folder / n).is_file()]
        if missing:
            raise DataError(
                f"{folder} lacks {', '.join(missing)}: point {ENV_VAR} or data_path at cifar-10-python.tar.gz "
                f"or at the extracted cifar-10-batches-py/ folder"
            )
        try:
            return {n: (folder / n).read_bytes() for n in wanted}
        except OSError as exc:
            raise DataError(f"cannot read {folder} ({exc.strerror or exc}): check its permissions") from None
    try:
        with tarfile.open(path, "r:*") as tar:
            members = {}
            for member in tar.getmembers():
                name = member.name.rsplit("/", 1)[-1]
                if member.isfile() and name in wanted:
                    members[name] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        # tarfile lists every compression it tried, one per line: the last line says what the bytes were
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        reason = lines[-1].lstrip("- ")
        if len(lines) > 1 and reason.endswith("))"):  # the list's own closing parenthesis
            reason = reason[:-1]
        raise DataError(
            f"{path} is not a readable tar archive ({reason}); download cifar-10-python.tar.gz again "
            f"or point {ENV_VAR} at another copy"
        ) from None
    missing = [n for n in wanted if n not in members]
    if missing:
        raise DataError(f"{path} lacks {', '.join(missing)}: it is not the CIFAR-10 python archive")
    return members


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fingerprint(path: Path) -> str:
    """A content hash of a local copy: runs record it, so a different copy never reuses their results."""
    if path.is_dir():
        members = _read_members(path)
        digest = hashlib.sha256()
        for name in sorted(members):
            digest.update(name.encode() + hashlib.sha256(members[name]).digest())
        return digest.hexdigest()
    return file_sha256(path)


def verify(path: Path, sha256: str):
    """Refuse a copy that claims to be the official archive (its exact size) but is not byte for byte, and a copy
    whose hash differs from the one pinned in LRLAB_CIFAR10_SHA256. Another copy (a rebuilt or re-compressed
    archive, an extracted folder) is read as it is; its hash is recorded in every run."""
    pinned = _pinned_hash()
    if pinned and sha256 != pinned:
        raise DataError(f"{path} has SHA-256 {sha256}, not the {pinned} that {HASH_ENV_VAR} pins: use the pinned "
                        f"copy, or set {HASH_ENV_VAR}={sha256} to accept this one")
    if not pinned and path.is_file() and path.stat().st_size == OFFICIAL_SIZE and sha256 != OFFICIAL_SHA256:
        raise DataError(f"{path} has the official CIFAR-10 archive's size but SHA-256 {sha256}, not the official "
                        f"{OFFICIAL_SHA256}: it is damaged or altered; download it again, or set "
                        f"{HASH_ENV_VAR}={sha256} to use this copy anyway")


def _pinned_hash() -> str:
    return os.environ.get(HASH_ENV_VAR, "").strip().lower()


def is_official(fingerprint: str) -> bool:
    return fingerprint == OFFICIAL_SHA256


def resolve_source(data_path=None, output_dir="outputs", profile="paper") -> str:
    """Where the data will come from, checked without decoding: a path, 'keras' (download) or an error."""
    if data_path == SYNTHETIC:
        return str(synthetic_archive_path(output_dir, profile))
    chosen = data_path or os.environ.get(ENV_VAR)
    if chosen:
        path = Path(chosen).expanduser()
        if not path.exists():
            origin = "data_path" if data_path else ENV_VAR
            raise DataError(f"CIFAR-10 not found at {path} (from {origin}): fix the path or unset it")
        return str(path.resolve())
    return "keras"


def synthetic_archive_path(output_dir, profile) -> Path:
    return Path(output_dir) / profile / "data" / "cifar-10-synthetic.tar.gz"


def load_cifar10(data_path=None, output_dir="outputs", profile="paper", cache_dir=None):
    """All of CIFAR-10 as uint8 NHWC arrays plus a fingerprint of the copy they came from."""
    source = resolve_source(data_path, output_dir, profile)
    if data_path == SYNTHETIC and not Path(source).exists():
        write_synthetic_cifar10(source)
    if source == "keras":
        pinned = _pinned_hash()
        if pinned and pinned != OFFICIAL_SHA256:
            raise DataError(f"{HASH_ENV_VAR} pins {pinned}, but the only copy available is Keras's download of "
                            f"the official archive: point {ENV_VAR} or data_path at the pinned copy")
        return _load_keras_download()
    path = Path(source)
    try:
        fingerprint = _fingerprint(path)
    except OSError as exc:
        raise DataError(f"cannot read {path} ({exc.strerror or exc}): check its permissions or copy it elsewhere") \
            from None
    if data_path != SYNTHETIC:
        verify(path, fingerprint)
    cache = Path(cache_dir or cache_root())
    cached = cache / f"cifar10-{fingerprint[:16]}.npz"
    if cached.exists():
        try:
            with np.load(cached, allow_pickle=False) as z:
                return {k: z[k] for k in ("x_train", "y_train", "x_test", "y_test")} | {"fingerprint": fingerprint}
        except Exception:
            pass  # a damaged cache is rebuilt from the source below
    members = _read_members(path)
    train = [_decode_batch(members[n], n, str(path)) for n in TRAIN_BATCHES]
    x_test, y_test = _decode_batch(members[TEST_BATCH], TEST_BATCH, str(path))
    arrays = {
        "x_train": np.concatenate([x for x, _ in train]),
        "y_train": np.concatenate([y for _, y in train]),
        "x_test": x_test,
        "y_test": y_test,
    }
    try:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, cached)  # atomic: a concurrent reader sees the whole file or none
    except OSError:
        pass  # an unwritable cache only costs a second decode
    return arrays | {"fingerprint": fingerprint}


def _load_keras_download():
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    except Exception as exc:
        raise DataError(
            f"no CIFAR-10 available offline (download failed: {type(exc).__name__}); set {ENV_VAR}="
            f"/path/to/cifar-10-python.tar.gz or pass -p data_path=PATH"
        ) from None
    return {
        "x_train": x_train,
        "y_train": y_train.reshape(-1).astype(np.int64),
        "x_test": x_test,
        "y_test": y_test.reshape(-1).astype(np.int64),
        "fingerprint": "keras-download",
    }


def select_classes(arrays: dict, classes) -> dict:
    """Keep only `classes` (CIFAR-10 label ids), relabel them 0..n-1 in the given order, scale pixels to [0, 1]."""
    classes = list(classes)
    remap = np.full(10, -1, dtype=np.int64)
    remap[classes] = np.arange(len(classes))
    out = {}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        keep = np.isin(y, classes)
        out[f"x_{split}"] = (x[keep].astype(np.float32) / 255.0)
        out[f"y_{split}"] = remap[y[keep]]
    out["class_names"] = [CLASS_NAMES[c] for c in classes]
    out["fingerprint"] = arrays["fingerprint"]
    return out


def write_synthetic_cifar10(path, images_per_class=100, test_images_per_class=20, seed=0, compression="gz"):
    """Write a small CIFAR-10 look-alike: the official layout and pickle format, learnable but not trivial.

    Each class has its own colour tint and stripe frequency under heavy noise, so a small CNN learns it in a few
    epochs. `images_per_class` counts training images over all five batches. `compression` is "gz", "xz", "bz2",
    or None for an extracted `cifar-10-batches-py/` folder at `path`.
    """
    path = Path(path)
    rng = np.random.default_rng(seed)
    tint = rng.uniform(60, 200, size=(10, 3))
    yy, xx = np.mgrid[0:32, 0:32]

    def images(n_per_class):
        labels = np.repeat(np.arange(10), n_per_class)
        rng.shuffle(labels)
        pixels = np.empty((len(labels), 32, 32, 3), dtype=np.float64)
        for i, label in enumerate(labels):
            stripes = 40 * np.sin((xx + yy * (label % 3)) * (1 + label) * np.pi / 16)
            pixels[i] = tint[label] + stripes[..., None] + rng.normal(0, 45, size=(32, 32, 3))
        rows = np.clip(pixels, 0, 255).astype(np.uint8).transpose(0, 3, 1, 2).reshape(len(labels), 3072)
        return rows, labels.tolist()

    train_rows, train_labels = images(images_per_class)
    test_rows, test_labels = images(test_images_per_class)
    batches = {}
    for i, (rows, labels) in enumerate(zip(np.array_split(train_rows, 5), np.array_split(np.array(train_labels), 5))):
        batches[f"data_batch_{i + 1}"] = {b"batch_label": f"training batch {i + 1} of 5".encode(),
                                          b"labels": labels.tolist(), b"data": rows}
    batches[TEST_BATCH] = {b"batch_label": b"testing batch 1 of 1", b"labels": test_labels, b"data": test_rows}
    batches["batches.meta"] = {b"label_names": [n.encode() for n in CLASS_NAMES], b"num_vis": 3072,
                               b"num_cases_per_batch": len(train_labels) // 5}
    # protocol 3 stores bytes natively and numpy arrays through _reconstruct, like the official files
    blobs = {name: pickle.dumps(content, protocol=3) for name, content in batches.items()}

    path.parent.mkdir(parents=True, exist_ok=True)
    if compression is None:
        folder = path / "cifar-10-batches-py"
        folder.mkdir(parents=True, exist_ok=True)
        for name, blob in blobs.items():
            (folder / name).write_bytes(blob)
        return path
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, blob in blobs.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    # compressed without timestamps, so the same arguments give the same bytes (and the same runs) every time
    compress = {"gz": lambda b: gzip.compress(b, mtime=0), "xz": lzma.compress, "bz2": bz2.compress}[compression]
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(compress(raw.getvalue()))
    os.replace(tmp, path)
    return path


def holdout_split(y, fraction, seed) -> np.ndarray:
    """Indices of a stratified validation split: `fraction` of each class, drawn with `seed`, in order."""
    rng = np.random.default_rng(seed)
    chosen = [rng.permutation(np.flatnonzero(y == c))[:round(fraction * np.sum(y == c))] for c in np.unique(y)]
    return np.sort(np.concatenate(chosen))


def load_dataset(settings) -> dict:
    """The arrays a profile trains, validates and tests on.

    Protocol "holdout": the validation set is a stratified split of the training set, fixed by `data_seed`; the
    test set is touched once, after training. Protocol "seed" is the 2017 one: the test set serves as validation.
    """
    arrays = load_cifar10(settings.data_path, settings.output_dir, settings.profile)
    data = select_classes(arrays, settings.classes)
    if settings.protocol == "seed":
        data["x_val"], data["y_val"] = data["x_test"], data["y_test"]
        return data
    if settings.protocol != "holdout":
        raise ValueError(f"unknown protocol {settings.protocol!r}: use holdout or seed")
    val = holdout_split(data["y_train"], settings.validation_fraction, settings.data_seed)
    train = np.setdiff1d(np.arange(len(data["y_train"])), val)
    data["x_val"], data["y_val"] = data["x_train"][val], data["y_train"][val]
    data["x_train"], data["y_train"] = data["x_train"][train], data["y_train"][train]
    return data
